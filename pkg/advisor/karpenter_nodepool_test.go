package advisor

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// npRequirement is one NodePool requirement as the test reads it back.
type npRequirement struct {
	Key       string   `yaml:"key"`
	Operator  string   `yaml:"operator"`
	Values    []string `yaml:"values"`
	MinValues int      `yaml:"minValues"`
}

// karpenterLabels returns type → the labels Karpenter puts on its nodes,
// from Karpenter's generated instance-type table in the shared data (label
// names as that table documents them); every type is offered as Linux Spot.
func karpenterLabels(tb testing.TB) map[string]map[string]string {
	tb.Helper()
	var kt map[string]struct {
		Arch, Category, Family, Generation, Size string
		VCPU                                     int `json:"vcpu"`
		MemoryMiB                                int `json:"memory_mib"`
		GPUCount                                 int `json:"gpu_count"`
	}
	if err := json.Unmarshal(mustRead(tb, sharedFile(tb, "karpenter-instance-types.json")), &kt); err != nil {
		tb.Fatal(err)
	}
	out := map[string]map[string]string{}
	for typ, k := range kt {
		out[typ] = map[string]string{
			"node.kubernetes.io/instance-type":      typ,
			"kubernetes.io/arch":                    k.Arch,
			"kubernetes.io/os":                      "linux",
			"karpenter.sh/capacity-type":            "spot",
			"karpenter.k8s.aws/instance-category":   k.Category,
			"karpenter.k8s.aws/instance-family":     k.Family,
			"karpenter.k8s.aws/instance-generation": k.Generation,
			"karpenter.k8s.aws/instance-size":       k.Size,
			"karpenter.k8s.aws/instance-cpu":        strconv.Itoa(k.VCPU),
			"karpenter.k8s.aws/instance-memory":     strconv.Itoa(k.MemoryMiB),
			"gpus":                                  strconv.Itoa(k.GPUCount),
		}
	}
	return out
}

// admits reports whether a node with labels meets the requirement, as
// Karpenter reads its operators.
func (r npRequirement) admits(labels map[string]string) bool {
	v, ok := labels[r.Key]
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	switch r.Operator {
	case "In":
		return ok && slices.Contains(r.Values, v)
	case "NotIn":
		return !ok || !slices.Contains(r.Values, v)
	case "Exists":
		return ok
	case "DoesNotExist":
		return !ok
	case "Gt":
		return ok && num(v) > num(r.Values[0])
	case "Lt":
		return ok && num(v) < num(r.Values[0])
	}
	return false
}

// TestKarpenterNodePoolIssueCases renders the NodePool for the issue's
// planning tasks on the real feed (us-east-1) and checks what Karpenter would
// do with it, using Karpenter's own instance-type table for the labels:
// the types it admits (and the region's feed offers), that it constrains by
// category, generation, size and architecture, that no metal or lone
// extreme size and no storage-optimized or accelerated type gets in unless
// asked, and that every minValues can be met even by a pod that fits only
// the largest size the pool admits.
func TestKarpenterNodePoolIssueCases(t *testing.T) {
	f := realFeed(t)
	offered, err := f.Region("us-east-1", Linux)
	if err != nil {
		t.Fatal(err)
	}
	labels := karpenterLabels(t)
	storage := []string{"d", "h", "i", "im", "is"}
	accelerated := []string{"g", "gr", "p", "inf", "trn", "dl", "f", "vt"}
	tests := []struct {
		name       string
		vcpus      string
		memory     string
		families   string
		arch       Arch
		categories []string
		pin        bool
		forbid     []string // types that must not be admitted nor pinned
		mustAdmit  []string
		storageOK  bool
	}{
		{name: "no size given, any arch, pinned", arch: ArchUnknown, pin: true, forbid: []string{"c8gd.medium"}},
		{name: "no size given, amd64", arch: AMD64, forbid: []string{"c5.metal", "m5.medium"}},
		{name: "--vcpus 4-16, pinned", vcpus: "4-16", arch: AMD64, pin: true},
		{name: "--vcpus 4-16", vcpus: "4-16", arch: AMD64},
		{name: "--vcpus 16 any arch: no im4gn", vcpus: "16", arch: ArchUnknown, forbid: []string{"im4gn.4xlarge", "i4i.4xlarge", "is4gen.4xlarge", "d3.4xlarge"}},
		{name: "--vcpus 4-16 --memory 8-64", vcpus: "4-16", memory: "8-64", arch: AMD64},
		{name: "--families ^[cmr]7", families: "^[cmr]7", arch: AMD64, pin: true},
		{name: "--vcpus 16 --category c,m,r,im asks for im4gn", vcpus: "16", arch: ArchUnknown, categories: []string{"c", "m", "r", "im"}, mustAdmit: []string{"im4gn.4xlarge"}, storageOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := Requirements{Region: "us-east-1", OS: Linux, Arch: tt.arch, MaxBucket: -1, Count: MinTypesKarpenter, Categories: tt.categories}
			if tt.vcpus != "" {
				if req.VCPUs, err = ParseRange(tt.vcpus); err != nil {
					t.Fatal(err)
				}
			}
			if tt.memory != "" {
				if req.MemoryGiB, err = ParseRange(tt.memory); err != nil {
					t.Fatal(err)
				}
			}
			if tt.families != "" {
				req.Families = regexp.MustCompile(tt.families)
			}
			m, err := Match(f, SpecsFromFeed(f), req)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Recommend(f, m, req, Evidence{ListPrices: BuiltinListPrices(req.Region)}, DataInfo{Specs: SpecsFromFeedRule}, Options{Now: testNow, MinTypes: MinTypesKarpenter})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := RenderKarpenter(&buf, res, Target{Name: "spot", NodeClass: "default", PinTypes: tt.pin}); err != nil {
				t.Fatal(err)
			}
			var np struct {
				Spec struct {
					Template struct {
						Spec struct {
							Requirements []npRequirement `yaml:"requirements"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			}
			if err := yaml.Unmarshal(buf.Bytes(), &np); err != nil {
				t.Fatal(err)
			}
			reqs := np.Spec.Template.Spec.Requirements
			keys := map[string]npRequirement{}
			for _, r := range reqs {
				keys[r.Key] = r
			}
			for _, k := range []string{"karpenter.k8s.aws/instance-category", "karpenter.k8s.aws/instance-generation", "kubernetes.io/arch"} {
				if _, ok := keys[k]; !ok {
					t.Errorf("no requirement on %s", k)
				}
			}
			if g := keys["karpenter.k8s.aws/instance-generation"]; g.Operator != "Gt" {
				t.Errorf("generation requirement %+v, want Gt", g)
			}
			_, bySize := keys["karpenter.k8s.aws/instance-size"]
			_, byCPU := keys["karpenter.k8s.aws/instance-cpu"]
			if !bySize && !byCPU {
				t.Error("no requirement on instance-size or instance-cpu")
			}
			pinned, isPinned := keys["node.kubernetes.io/instance-type"]
			if isPinned != tt.pin {
				t.Errorf("instance types pinned: %v, want %v", isPinned, tt.pin)
			}
			var admitted []map[string]string
			for typ, l := range labels {
				if _, ok := offered[typ]; !ok {
					continue
				}
				ok := true
				for _, r := range reqs {
					ok = ok && r.admits(l)
				}
				if ok {
					admitted = append(admitted, l)
				}
			}
			if len(admitted) == 0 {
				t.Fatalf("the NodePool admits no type:\n%s", buf.String())
			}
			largest := 0
			for _, l := range admitted {
				largest = max(largest, atoiOr0(l["karpenter.k8s.aws/instance-cpu"]))
			}
			for _, l := range admitted {
				typ, cat := l["node.kubernetes.io/instance-type"], l["karpenter.k8s.aws/instance-category"]
				if strings.HasPrefix(l["karpenter.k8s.aws/instance-size"], "metal") {
					t.Errorf("admits bare metal %s", typ)
				}
				if slices.Contains(tt.forbid, typ) {
					t.Errorf("admits %s", typ)
				}
				if req.Families != nil && !req.Families.MatchString(l["karpenter.k8s.aws/instance-family"]) {
					t.Errorf("admits %s outside --families %s", typ, tt.families)
				}
				if mib := atoiOr0(l["karpenter.k8s.aws/instance-memory"]); req.MemoryGiB.Set && !req.MemoryGiB.Contains(float64(mib)/1024) {
					t.Errorf("admits %s with %d MiB outside --memory %s", typ, mib, tt.memory)
				}
				if (slices.Contains(storage, cat) && !tt.storageOK) || slices.Contains(accelerated, cat) || l["gpus"] != "0" {
					t.Errorf("admits %s (category %s) nobody asked for", typ, cat)
				}
			}
			for _, typ := range pinned.Values {
				if strings.Contains(typ, "metal") || slices.Contains(tt.forbid, typ) {
					t.Errorf("pins %s", typ)
				}
			}
			for _, want := range tt.mustAdmit {
				found := false
				for _, l := range admitted {
					found = found || l["node.kubernetes.io/instance-type"] == want
				}
				if !found {
					t.Errorf("does not admit %s, which was asked for", want)
				}
			}
			// A pod that fits only the largest admitted size must still find
			// minValues distinct values among the types of that size.
			for _, r := range reqs {
				if r.MinValues == 0 {
					continue
				}
				distinct := map[string]bool{}
				for _, l := range admitted {
					if atoiOr0(l["karpenter.k8s.aws/instance-cpu"]) == largest {
						distinct[l[r.Key]] = true
					}
				}
				if len(distinct) < r.MinValues {
					t.Errorf("%s minValues %d, but a pod that fits only the %d-vCPU size has %d to choose from: %v", r.Key, r.MinValues, largest, len(distinct), distinct)
				}
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("NodePool:\n%s", buf.String())
			}
		})
	}
}

func atoiOr0(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
