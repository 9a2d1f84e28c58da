package advisor

import (
	"fmt"
	"io"
)

// eksctlConfig is the part of eksctl.io/v1alpha5 ClusterConfig the advisor
// writes: one EKS managed node group (spot: true over the set), or one
// self-managed node group with an instances distribution.
type eksctlConfig struct {
	APIVersion        string          `yaml:"apiVersion"`
	Kind              string          `yaml:"kind"`
	Metadata          eksctlMeta      `yaml:"metadata"`
	ManagedNodeGroups []eksctlManaged `yaml:"managedNodeGroups,omitempty"`
	NodeGroups        []eksctlNodeGrp `yaml:"nodeGroups,omitempty"`
}

type eksctlMeta struct {
	Name   string `yaml:"name"`
	Region string `yaml:"region"`
}

// eksctlGroup holds the fields managed and self-managed node groups share
// (names from eksctl's v1alpha5 schema).
type eksctlGroup struct {
	Name              string            `yaml:"name"`
	AMIFamily         string            `yaml:"amiFamily"`
	MinSize           int               `yaml:"minSize"`
	MaxSize           int               `yaml:"maxSize"`
	AvailabilityZones []string          `yaml:"availabilityZones,omitempty"`
	Labels            map[string]string `yaml:"labels"`
}

// eksctlManaged is a managedNodeGroups entry: EKS runs the group and picks
// among instanceTypes for Spot.
type eksctlManaged struct {
	eksctlGroup   `yaml:",inline"`
	Spot          bool     `yaml:"spot"`
	InstanceTypes []string `yaml:"instanceTypes"`
}

// eksctlNodeGrp is a self-managed nodeGroups entry.
type eksctlNodeGrp struct {
	eksctlGroup           `yaml:",inline"`
	InstancesDistribution eksctlDist `yaml:"instancesDistribution"`
}

type eksctlDist struct {
	InstanceTypes                       []string `yaml:"instanceTypes"`
	OnDemandBaseCapacity                int      `yaml:"onDemandBaseCapacity"`
	OnDemandPercentageAboveBaseCapacity int      `yaml:"onDemandPercentageAboveBaseCapacity"`
	SpotAllocationStrategy              string   `yaml:"spotAllocationStrategy"`
	CapacityRebalance                   bool     `yaml:"capacityRebalance,omitempty"`
}

// EksctlMaxTypes is the most instance types eksctl accepts in a mixed node
// group (its validateInstancesDistribution); the managed group is held to
// the same.
const EksctlMaxTypes = 20

// RenderEksctl writes an eksctl ClusterConfig with one all-Spot node group
// over the set, with the spot node label: an EKS managed node group (spot:
// true, instanceTypes) by default, or with t.EksctlNodeGroup
// EksctlSelfManaged a self-managed one (price-capacity-optimized, capacity
// rebalance on unless t.NoCapacityRebalance, with the note on its drain).
// Merge it into the cluster's own config. A set of more than EksctlMaxTypes
// is an error.
func RenderEksctl(w io.Writer, r *Result, t Target) error {
	if n := len(r.Set); n > EksctlMaxTypes {
		return fmt.Errorf("eksctl takes at most %d instance types in a mixed node group; the set has %d: pass --count %d or less", EksctlMaxTypes, n, EksctlMaxTypes)
	}
	ami := "AmazonLinux2023"
	if r.Requirements.OS == Windows {
		ami = "WindowsServer2022CoreContainer"
	}
	cfg := eksctlConfig{APIVersion: "eksctl.io/v1alpha5", Kind: "ClusterConfig", Metadata: eksctlMeta{Name: t.Cluster, Region: r.Requirements.Region}}
	group := eksctlGroup{Name: t.Name, AMIFamily: ami, MinSize: t.MinSize, MaxSize: t.MaxSize, AvailabilityZones: t.Zones, Labels: copyLabels(SpotNodeLabel)}
	if t.EksctlNodeGroup != EksctlSelfManaged {
		cfg.ManagedNodeGroups = []eksctlManaged{{eksctlGroup: group, Spot: true, InstanceTypes: r.Types()}}
		return writeYAML(w, r, cfg, managedRebalanceNote()...)
	}
	cfg.NodeGroups = []eksctlNodeGrp{{
		eksctlGroup: group,
		InstancesDistribution: eksctlDist{
			InstanceTypes:          r.Types(),
			SpotAllocationStrategy: "price-capacity-optimized",
			CapacityRebalance:      !t.NoCapacityRebalance,
		},
	}}
	var notes []string
	if !t.NoCapacityRebalance {
		notes = rebalanceDrainNote()
	}
	return writeYAML(w, r, cfg, notes...)
}
