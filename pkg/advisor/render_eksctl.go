package advisor

import (
	"fmt"
	"io"
)

// eksctlConfig is the part of eksctl.io/v1alpha5 ClusterConfig the advisor
// writes: one self-managed node group with an instances distribution. A
// self-managed group lets the spot-handler agent handle interruptions; EKS
// managed node groups drain on their own.
type eksctlConfig struct {
	APIVersion string          `yaml:"apiVersion"`
	Kind       string          `yaml:"kind"`
	Metadata   eksctlMeta      `yaml:"metadata"`
	NodeGroups []eksctlNodeGrp `yaml:"nodeGroups"`
}

type eksctlMeta struct {
	Name   string `yaml:"name"`
	Region string `yaml:"region"`
}

type eksctlNodeGrp struct {
	Name                  string            `yaml:"name"`
	AMIFamily             string            `yaml:"amiFamily"`
	MinSize               int               `yaml:"minSize"`
	MaxSize               int               `yaml:"maxSize"`
	AvailabilityZones     []string          `yaml:"availabilityZones,omitempty"`
	Labels                map[string]string `yaml:"labels"`
	InstancesDistribution eksctlDist        `yaml:"instancesDistribution"`
}

type eksctlDist struct {
	InstanceTypes                       []string `yaml:"instanceTypes"`
	OnDemandBaseCapacity                int      `yaml:"onDemandBaseCapacity"`
	OnDemandPercentageAboveBaseCapacity int      `yaml:"onDemandPercentageAboveBaseCapacity"`
	SpotAllocationStrategy              string   `yaml:"spotAllocationStrategy"`
	CapacityRebalance                   bool     `yaml:"capacityRebalance"`
}

// EksctlMaxTypes is the most instance types eksctl accepts in a mixed node
// group (its validateInstancesDistribution).
const EksctlMaxTypes = 20

// RenderEksctl writes an eksctl ClusterConfig with one all-Spot node group
// over the set (price-capacity-optimized, capacity rebalance on, the spot
// node label). Merge its nodeGroups into the cluster's own config. A set of
// more than EksctlMaxTypes is an error.
func RenderEksctl(w io.Writer, r *Result, t Target) error {
	if n := len(r.Set); n > EksctlMaxTypes {
		return fmt.Errorf("eksctl takes at most %d instance types in a mixed node group; the set has %d: pass --count %d or less", EksctlMaxTypes, n, EksctlMaxTypes)
	}
	ami := "AmazonLinux2023"
	if r.Requirements.OS == Windows {
		ami = "WindowsServer2022CoreContainer"
	}
	cfg := eksctlConfig{
		APIVersion: "eksctl.io/v1alpha5",
		Kind:       "ClusterConfig",
		Metadata:   eksctlMeta{Name: t.Cluster, Region: r.Requirements.Region},
		NodeGroups: []eksctlNodeGrp{{
			Name:              t.Name,
			AMIFamily:         ami,
			MinSize:           t.MinSize,
			MaxSize:           t.MaxSize,
			AvailabilityZones: t.Zones,
			Labels:            copyLabels(SpotNodeLabel),
			InstancesDistribution: eksctlDist{
				InstanceTypes:          r.Types(),
				SpotAllocationStrategy: "price-capacity-optimized",
				CapacityRebalance:      true,
			},
		}},
	}
	return writeYAML(w, r, cfg)
}
