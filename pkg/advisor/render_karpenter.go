package advisor

import (
	"io"
	"sort"
	"strings"
)

// karpenterNodePool is the part of karpenter.sh/v1 NodePool the advisor
// writes.
type karpenterNodePool struct {
	APIVersion string        `yaml:"apiVersion"`
	Kind       string        `yaml:"kind"`
	Metadata   karpenterMeta `yaml:"metadata"`
	Spec       karpenterSpec `yaml:"spec"`
}

type karpenterMeta struct {
	Name string `yaml:"name"`
}

type karpenterSpec struct {
	Template karpenterTemplate `yaml:"template"`
}

type karpenterTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		NodeClassRef karpenterNodeClassRef  `yaml:"nodeClassRef"`
		Requirements []karpenterRequirement `yaml:"requirements"`
	} `yaml:"spec"`
}

type karpenterNodeClassRef struct {
	Group string `yaml:"group"`
	Kind  string `yaml:"kind"`
	Name  string `yaml:"name"`
}

type karpenterRequirement struct {
	Key       string   `yaml:"key"`
	Operator  string   `yaml:"operator"`
	Values    []string `yaml:"values"`
	MinValues int      `yaml:"minValues,omitempty"`
}

// typeMinValues is how many of n instance types Karpenter must be able to
// choose from for a launch: half the set, at least MinTypesAWS (or n when
// smaller), so losing a few types to capacity errors does not block launches.
func typeMinValues(n int) int {
	m := (n + 1) / 2
	if m < MinTypesAWS {
		m = MinTypesAWS
	}
	if m > n {
		m = n
	}
	return m
}

// familyMinValues is how many families must stay choosable: up to 3.
func familyMinValues(n int) int {
	if n > 3 {
		return 3
	}
	return n
}

// RenderKarpenter writes a Karpenter NodePool limited to Spot capacity, the
// set's instance types and families (each with minValues, so Karpenter keeps
// the flexibility the set was chosen for), the architecture, the OS and the
// zones when given; its nodes carry the spot node label.
func RenderKarpenter(w io.Writer, r *Result, t Target) error {
	np := karpenterNodePool{APIVersion: "karpenter.sh/v1", Kind: "NodePool", Metadata: karpenterMeta{Name: t.Name}}
	tpl := &np.Spec.Template
	tpl.Metadata.Labels = copyLabels(SpotNodeLabel)
	tpl.Spec.NodeClassRef = karpenterNodeClassRef{Group: "karpenter.k8s.aws", Kind: "EC2NodeClass", Name: t.NodeClass}
	req := []karpenterRequirement{
		{Key: "karpenter.sh/capacity-type", Operator: "In", Values: []string{"spot"}},
		{Key: "kubernetes.io/os", Operator: "In", Values: []string{strings.ToLower(r.Requirements.OS)}},
	}
	if arch := setArchs(r); len(arch) > 0 {
		req = append(req, karpenterRequirement{Key: "kubernetes.io/arch", Operator: "In", Values: arch})
	}
	types := r.Types()
	req = append(req, karpenterRequirement{Key: "node.kubernetes.io/instance-type", Operator: "In", Values: types, MinValues: typeMinValues(len(types))})
	fams := r.Families()
	famReq := karpenterRequirement{Key: "karpenter.k8s.aws/instance-family", Operator: "In", Values: fams}
	if len(fams) > 1 {
		famReq.MinValues = familyMinValues(len(fams))
	}
	req = append(req, famReq)
	if len(t.Zones) > 0 {
		req = append(req, karpenterRequirement{Key: "topology.kubernetes.io/zone", Operator: "In", Values: t.Zones})
	}
	tpl.Spec.Requirements = req
	return writeYAML(w, r, np)
}

// setArchs returns the set's known architectures, sorted.
func setArchs(r *Result) []string {
	seen := map[string]bool{}
	for _, c := range r.Set {
		if c.Arch != ArchUnknown {
			seen[string(c.Arch)] = true
		}
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
