package schemacheck

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/spot-handler/spot-handler/internal/testenv"
	. "github.com/spot-handler/spot-handler/pkg/advisor"
)

// Module versions whose published schemas the outputs are checked against.
// Karpenter v1.13.0 is the newest whose go.mod accepts this toolchain.
const (
	karpenterModule = "sigs.k8s.io/karpenter@v1.13.0"
	eksctlModule    = "github.com/weaveworks/eksctl@v0.215.0"
)

// moduleDir downloads a Go module (through the module proxy, into the module
// cache) and returns its folder; nothing is copied into this repository.
func moduleDir(t *testing.T, modVersion string) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", modVersion)
	cmd.Dir = t.TempDir() // outside this module: go.mod and go.sum stay as they are
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		msg := "downloading " + modVersion + " for its schema failed: " + info.Error
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (%v)", msg, err)
		}
		t.Skipf("%s (%v)", msg, err)
	}
	return info.Dir
}

// renderObject renders r in format and decodes the YAML into an object.
func renderObject(t *testing.T, r *Result, format string, tgt Target) *unstructured.Unstructured {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, r, format, tgt); err != nil {
		t.Fatal(err)
	}
	return yamlObject(t, buf.Bytes())
}

func yamlObject(t *testing.T, y []byte) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var goldenTarget = Target{Name: "spot-nodes", Cluster: "test.example.com", NodeClass: "default", MaxSize: 10}

// sharedFile returns a file of the real data folder ($SPOT_HANDLER_SHARED_DATA
// or ../../../../shared/data); the test skips only when the folder is absent.
func sharedFile(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("SPOT_HANDLER_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real data folder %s is absent (set SPOT_HANDLER_SHARED_DATA): %v", dir, err)
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("real data file missing: %v", err)
	}
	return p
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// advise runs the advisor on a feed file for a region and requirements.
func advise(t *testing.T, feedPath, region string, vcpus string, count int) *Result {
	t.Helper()
	vr, err := ParseRange(vcpus)
	if err != nil {
		t.Fatal(err)
	}
	return adviseReq(t, feedPath, Requirements{Region: region, OS: Linux, Arch: AMD64, VCPUs: vr, MaxBucket: -1, Count: count})
}

// adviseReq runs the advisor on a feed file for req.
func adviseReq(t *testing.T, feedPath string, req Requirements) *Result {
	t.Helper()
	f, err := LoadFeedFile(feedPath)
	if err != nil {
		t.Fatal(err)
	}
	region := req.Region
	m, err := Match(f, SpecsFromFeed(f), req)
	if err != nil {
		t.Fatal(err)
	}
	ev := Evidence{ListPrices: BuiltinListPrices(region), Prices: Prices{"m5.xlarge": {"us-test-1a": 0.07}}, Observed: Observed{"m5.xlarge": {Interruptions: 1, NodeHours: 2000}}}
	res, err := Recommend(f, m, req, ev, DataInfo{Specs: SpecsFromFeedRule}, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// smallResult is the advice on the advisor's own fixture feed.
func smallResult(t *testing.T) *Result {
	return advise(t, filepath.Join("..", "testdata", "feed-small.json"), "us-test-1", "4", 5)
}

// realResult is the real feed's advice for us-east-1, 2-8 vCPU, count n.
func realResult(t *testing.T, n int) *Result {
	return advise(t, sharedFile(t, "spot-advisor-data.json"), "us-east-1", "2-8", n)
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// applyCRD creates a CRD from its YAML and waits until it is established.
func applyCRD(t *testing.T, dyn dynamic.Interface, path string) {
	t.Helper()
	crd := yamlObject(t, mustRead(t, path))
	// kops.k8s.io is a protected group: the apiserver wants an approval
	// annotation, which "unapproved, ..." satisfies for a local test.
	if group, _, _ := unstructured.NestedString(crd.Object, "spec", "group"); strings.HasSuffix(group, ".k8s.io") {
		ann := crd.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		if ann["api-approved.kubernetes.io"] == "" {
			ann["api-approved.kubernetes.io"] = "unapproved, applied by a spot-handler test"
			crd.SetAnnotations(ann)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := dyn.Resource(crdGVR).Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: "advisor-test", Force: true}); err != nil {
		t.Fatalf("applying CRD %s: %v", crd.GetName(), err)
	}
	for {
		got, err := dyn.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("CRD %s not established: %v", crd.GetName(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dryRunApply server-side applies obj with DryRun All: the apiserver checks
// it against the CRD's OpenAPI schema and CEL rules and stores nothing.
func dryRunApply(dyn dynamic.Interface, gvr schema.GroupVersionResource, ns string, obj *unstructured.Unstructured) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ri dynamic.ResourceInterface = dyn.Resource(gvr)
	if ns != "" {
		ri = dyn.Resource(gvr).Namespace(ns)
	}
	_, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "spot-handler-advise", Force: true, DryRun: []string{metav1.DryRunAll}})
	return err
}

// TestOutputsValidOnControlPlane applies the kops InstanceGroup CRD (kops's
// own, from the shared data) and Karpenter's NodePool CRD (from the
// sigs.k8s.io/karpenter module) to the local kube-apiserver, then
// server-side-applies (dry run) what the advisor writes; broken objects must
// be refused, to show the schemas are really checked.
func TestOutputsValidOnControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local control plane")
	}
	kopsCRD := sharedFile(t, "kops.k8s.io_instancegroups.crd.yaml")
	nodePoolCRD := filepath.Join(moduleDir(t, karpenterModule), "pkg", "apis", "crds", "karpenter.sh_nodepools.yaml")
	p := testenv.Start(t)
	dyn, err := dynamic.NewForConfig(p.Config)
	if err != nil {
		t.Fatal(err)
	}
	applyCRD(t, dyn, kopsCRD)
	applyCRD(t, dyn, nodePoolCRD)
	igGVR := schema.GroupVersionResource{Group: "kops.k8s.io", Version: "v1alpha2", Resource: "instancegroups"}
	npGVR := schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}
	zoned := Target{Name: "spot-nodes", Cluster: "test.example.com", NodeClass: "default", MaxSize: 10, Zones: []string{"us-east-1a", "us-east-1b"}}

	pinned := Target{Name: "spot-nodes", NodeClass: "default", PinTypes: true}
	realFeed := sharedFile(t, "spot-advisor-data.json")
	results := map[string]*Result{"small": smallResult(t), "us-east-1 x15": realResult(t, 15), "us-east-1 x40": realResult(t, MaxCount),
		// the cases: no size and any arch; 4-16 vCPUs with 8-64 GiB
		// (instance-memory Gt and Lt on one key); bare metal and im asked for
		"us-east-1 any size":          adviseReq(t, realFeed, Requirements{Region: "us-east-1", OS: Linux, MaxBucket: -1, Count: MinTypesKarpenter}),
		"us-east-1 4-16 vCPU 8-64GiB": adviseReq(t, realFeed, Requirements{Region: "us-east-1", OS: Linux, Arch: AMD64, VCPUs: Range{Min: 4, Max: 16, Set: true}, MemoryGiB: Range{Min: 8, Max: 64, Set: true}, MaxBucket: -1, Count: MinTypesKarpenter}),
		"us-east-1 metal, im":         adviseReq(t, realFeed, Requirements{Region: "us-east-1", OS: Linux, Metal: true, Categories: []string{"c", "im"}, MaxBucket: -1, Count: MinTypesKarpenter}),
	}
	for name, res := range results {
		for tname, tgt := range map[string]Target{"": goldenTarget, " zoned": zoned, " pinned": pinned} {
			t.Run("kops "+name+tname, func(t *testing.T) {
				if err := dryRunApply(dyn, igGVR, "default", renderObject(t, res, FormatKops, tgt)); err != nil {
					t.Errorf("kops InstanceGroup refused: %v", err)
				}
			})
			t.Run("karpenter "+name+tname, func(t *testing.T) {
				if err := dryRunApply(dyn, npGVR, "", renderObject(t, res, FormatKarpenter, tgt)); err != nil {
					t.Errorf("Karpenter NodePool refused: %v", err)
				}
			})
		}
	}

	t.Run("broken objects are refused", func(t *testing.T) {
		ig := renderObject(t, results["small"], FormatKops, goldenTarget)
		unstructured.SetNestedField(ig.Object, "lots", "spec", "mixedInstancesPolicy", "onDemandBase")
		if err := dryRunApply(dyn, igGVR, "default", ig); err == nil || !strings.Contains(err.Error(), "onDemandBase") {
			t.Errorf("kops with a string onDemandBase: %v", err)
		}
		np := renderObject(t, results["small"], FormatKarpenter, goldenTarget)
		reqs, _, _ := unstructured.NestedSlice(np.Object, "spec", "template", "spec", "requirements")
		reqs[3].(map[string]any)["minValues"] = int64(99) // more than the values listed
		unstructured.SetNestedSlice(np.Object, reqs, "spec", "template", "spec", "requirements")
		if err := dryRunApply(dyn, npGVR, "", np); err == nil || !strings.Contains(err.Error(), "minValues") {
			t.Errorf("NodePool with minValues 99: %v", err)
		}
	})
}

// TestEksctlOutputMatchesSchema checks the eksctl output against the JSON
// schema eksctl publishes for ClusterConfig (generated from its Go types, in
// the github.com/weaveworks/eksctl module), and against the rules of eksctl's
// validateInstancesDistribution that the schema does not carry, restated
// here. eksctl's Go packages are not imported: they would pull hundreds of
// modules into this one.
func TestEksctlOutputMatchesSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads the eksctl module")
	}
	schemaPath := filepath.Join(moduleDir(t, eksctlModule), "pkg", "apis", "eksctl.io", "v1alpha5", "assets", "schema.json")
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustRead(t, schemaPath)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("eksctl.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("eksctl.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(obj *unstructured.Unstructured) error {
		j, _ := obj.MarshalJSON()
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			return err
		}
		return sch.Validate(v)
	}
	zoned := Target{Name: "spot-nodes", Cluster: "test", MaxSize: 10, Zones: []string{"us-east-1a"}}
	self := Target{Name: "spot-nodes", Cluster: "test", MaxSize: 10, EksctlNodeGroup: EksctlSelfManaged}
	selfZoned := Target{Name: "spot-nodes", Cluster: "test", MaxSize: 10, Zones: []string{"us-east-1a"}, EksctlNodeGroup: EksctlSelfManaged, NoCapacityRebalance: true}
	for name, res := range map[string]*Result{"small": smallResult(t), "us-east-1": realResult(t, 20)} {
		for _, tgt := range []Target{goldenTarget, zoned, self, selfZoned} {
			if err := validate(renderObject(t, res, FormatEksctl, tgt)); err != nil {
				t.Errorf("%s: eksctl ClusterConfig does not match eksctl's schema: %v", name, err)
			}
		}
	}
	// eksctl's Go validation of an instances distribution (v0.215.0
	// validation.go), which the schema leaves out.
	strategies := map[string]bool{"lowest-price": true, "diversified": true, "capacity-optimized": true, "capacity-optimized-prioritized": true, "price-capacity-optimized": true}
	for _, res := range []*Result{smallResult(t), realResult(t, 20)} {
		obj := renderObject(t, res, FormatEksctl, self)
		ngs, _, _ := unstructured.NestedSlice(obj.Object, "nodeGroups")
		dist := ngs[0].(map[string]any)["instancesDistribution"].(map[string]any)
		types, _ := dist["instanceTypes"].([]any)
		unique := map[any]bool{}
		for _, typ := range types {
			unique[typ] = true
		}
		if len(unique) < 1 || len(unique) > 20 || len(unique) != len(types) {
			t.Errorf("instanceTypes %v: eksctl wants 1–20 different types", types)
		}
		if p, _ := dist["onDemandPercentageAboveBaseCapacity"].(int64); p < 0 || p > 100 {
			t.Errorf("onDemandPercentageAboveBaseCapacity %v outside 0–100", p)
		}
		if s, _ := dist["spotAllocationStrategy"].(string); !strategies[s] {
			t.Errorf("spotAllocationStrategy %q is not one eksctl accepts", s)
		}
	}

	bad := renderObject(t, smallResult(t), FormatEksctl, self)
	ngs, _, _ := unstructured.NestedSlice(bad.Object, "nodeGroups")
	ngs[0].(map[string]any)["instancesDistribution"].(map[string]any)["spotAllocationStrategyy"] = "typo"
	unstructured.SetNestedSlice(bad.Object, ngs, "nodeGroups")
	if err := validate(bad); err == nil {
		t.Error("a misspelt field passed eksctl's schema: the check checks nothing")
	}
	badManaged := renderObject(t, smallResult(t), FormatEksctl, goldenTarget)
	mngs, _, _ := unstructured.NestedSlice(badManaged.Object, "managedNodeGroups")
	mngs[0].(map[string]any)["spot"] = "yes"
	unstructured.SetNestedSlice(badManaged.Object, mngs, "managedNodeGroups")
	if err := validate(badManaged); err == nil {
		t.Error("a managed node group with spot: \"yes\" passed eksctl's schema")
	}
}
