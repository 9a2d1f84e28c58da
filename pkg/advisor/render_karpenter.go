package advisor

import (
	"fmt"
	"io"
	"strconv"
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
	Values    []string `yaml:"values,omitempty"`
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

// RenderKarpenter writes a Karpenter v1 NodePool for Spot capacity that
// constrains by instance category, generation, size (instance-size), memory (with --memory) and architecture,
// and lets Karpenter choose among what they admit, with minValues on the
// instance family that the constraints can meet (planNodePool). With
// t.PinTypes the ranked set is also pinned as an instance-type requirement.
// Zones, when given, become a zone requirement; the nodes carry the spot
// node label.
func RenderKarpenter(w io.Writer, r *Result, t Target) error {
	p := planNodePool(r, t.PinTypes)
	np := karpenterNodePool{APIVersion: "karpenter.sh/v1", Kind: "NodePool", Metadata: karpenterMeta{Name: t.Name}}
	tpl := &np.Spec.Template
	tpl.Metadata.Labels = copyLabels(SpotNodeLabel)
	tpl.Spec.NodeClassRef = karpenterNodeClassRef{Group: "karpenter.k8s.aws", Kind: "EC2NodeClass", Name: t.NodeClass}
	in := func(key string, values []string) karpenterRequirement {
		return karpenterRequirement{Key: key, Operator: "In", Values: values}
	}
	req := []karpenterRequirement{
		in(labelCapacityType, []string{"spot"}),
		in(labelOS, []string{strings.ToLower(r.Requirements.OS)}),
	}
	if len(p.archs) > 0 {
		req = append(req, in(labelArch, p.archs))
	}
	if len(p.categories) > 0 {
		req = append(req, in(labelCategory, p.categories))
	}
	if p.minGeneration > 0 {
		req = append(req, karpenterRequirement{Key: labelGeneration, Operator: "Gt", Values: []string{strconv.Itoa(p.minGeneration - 1)}})
	}
	if len(p.sizes) > 0 {
		req = append(req, in(labelSize, p.sizes))
	}
	if p.memLo > 0 {
		req = append(req, karpenterRequirement{Key: labelMemory, Operator: "Gt", Values: []string{strconv.Itoa(p.memLo - 1)}})
	}
	if p.memHi > 0 {
		req = append(req, karpenterRequirement{Key: labelMemory, Operator: "Lt", Values: []string{strconv.Itoa(p.memHi + 1)}})
	}
	fam := karpenterRequirement{Key: labelFamily, Operator: "Exists", MinValues: p.familyMin}
	if len(p.families) > 0 {
		fam = karpenterRequirement{Key: labelFamily, Operator: "In", Values: p.families, MinValues: p.familyMin}
	}
	if fam.MinValues > 0 || fam.Operator == "In" {
		req = append(req, fam)
	}
	if len(p.pinned) > 0 {
		req = append(req, karpenterRequirement{Key: labelType, Operator: "In", Values: p.pinned, MinValues: p.typeMin})
	}
	if len(t.Zones) > 0 {
		req = append(req, in(labelZone, t.Zones))
	}
	tpl.Spec.Requirements = req
	return writeYAML(w, r, np, p.note(t.PinTypes))
}

// note is the comment that says what the NodePool lets Karpenter choose
// from and why its minValues are what they are.
func (p nodePoolPlan) note(pinned bool) string {
	top := largestSize(p.admitted)
	s := fmt.Sprintf("NodePool: Karpenter chooses within the requirements; of the ranked types they admit %d, with %s at the largest size (%s). No minValues asks for more than that size offers, so a pod that fits only it is never left pending.",
		len(p.admitted), plural(distinct(top, func(c Candidate) string { return c.Family }), "family"), sizeOf(top))
	if !pinned {
		s += " Pass --karpenter-pin-types to also pin the ranked set."
	}
	return s
}

// sizeOf names the size of the largest candidates ("16 vCPU").
func sizeOf(top []Candidate) string {
	if len(top) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d vCPU", top[0].VCPUs)
}
