package advisor

import "io"

// kopsInstanceGroup is the part of kops.k8s.io/v1alpha2 InstanceGroup the
// advisor writes.
type kopsInstanceGroup struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   kopsMeta `yaml:"metadata"`
	Spec       kopsSpec `yaml:"spec"`
}

type kopsMeta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type kopsSpec struct {
	Role                 string            `yaml:"role"`
	MachineType          string            `yaml:"machineType"`
	MinSize              int               `yaml:"minSize"`
	MaxSize              int               `yaml:"maxSize"`
	Subnets              []string          `yaml:"subnets,omitempty"`
	NodeLabels           map[string]string `yaml:"nodeLabels"`
	CapacityRebalance    bool              `yaml:"capacityRebalance,omitempty"`
	MixedInstancesPolicy kopsMixed         `yaml:"mixedInstancesPolicy"`
}

type kopsMixed struct {
	Instances              []string `yaml:"instances"`
	OnDemandBase           int      `yaml:"onDemandBase"`
	OnDemandAboveBase      int      `yaml:"onDemandAboveBase"`
	SpotAllocationStrategy string   `yaml:"spotAllocationStrategy"`
}

// RenderKops writes a kops InstanceGroup whose mixedInstancesPolicy runs all
// Spot (onDemandBase 0, onDemandAboveBase 0) over the set with
// price-capacity-optimized, with the spot node label and, unless
// t.NoCapacityRebalance, capacityRebalance on with a note on the termination
// lifecycle hook that gives it a drain (rebalanceDrainNote).
func RenderKops(w io.Writer, r *Result, t Target) error {
	ig := kopsInstanceGroup{
		APIVersion: "kops.k8s.io/v1alpha2",
		Kind:       "InstanceGroup",
		Metadata:   kopsMeta{Name: t.Name, Labels: map[string]string{"kops.k8s.io/cluster": t.Cluster}},
		Spec: kopsSpec{
			Role:              "Node",
			MinSize:           t.MinSize,
			MaxSize:           t.MaxSize,
			Subnets:           t.Zones,
			NodeLabels:        copyLabels(SpotNodeLabel),
			CapacityRebalance: !t.NoCapacityRebalance,
			MixedInstancesPolicy: kopsMixed{
				Instances:              r.Types(),
				SpotAllocationStrategy: "price-capacity-optimized",
			},
		},
	}
	if len(r.Set) > 0 {
		ig.Spec.MachineType = r.Set[0].Type
	}
	var notes []string
	if !t.NoCapacityRebalance {
		notes = rebalanceDrainNote()
	}
	return writeYAML(w, r, ig, notes...)
}
