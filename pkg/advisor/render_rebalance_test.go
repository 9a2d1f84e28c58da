package advisor

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestCapacityRebalanceHasDrainPath: a kops or self-managed eksctl group
// with capacityRebalance says how its rebalance terminations get drained
// (a termination lifecycle hook and the mode that drains under it); with
// --capacity-rebalance=false there is neither the field nor the note.
func TestCapacityRebalanceHasDrainPath(t *testing.T) {
	for _, tt := range []struct {
		name, format string
		target       Target
		rebalance    bool
	}{
		{"kops", FormatKops, goldenTarget, true},
		{"eksctl self-managed", FormatEksctl, Target{Name: "spot-nodes", Cluster: "c", MaxSize: 10, EksctlNodeGroup: EksctlSelfManaged}, true},
		{"kops without rebalance", FormatKops, Target{Name: "spot-nodes", Cluster: "c", MaxSize: 10, NoCapacityRebalance: true}, false},
		{"eksctl self-managed without rebalance", FormatEksctl, Target{Name: "spot-nodes", Cluster: "c", MaxSize: 10, EksctlNodeGroup: EksctlSelfManaged, NoCapacityRebalance: true}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, goldenResult(t, false), tt.format, tt.target); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			hasField := strings.Contains(out, "capacityRebalance: true")
			hasNote := strings.Contains(out, "autoscaling:EC2_INSTANCE_TERMINATING") && strings.Contains(out, "spot-handler controller") && strings.Contains(out, "agent")
			if hasField != tt.rebalance || hasNote != tt.rebalance {
				t.Errorf("capacityRebalance: true %v, drain-path note %v; want both %v:\n%s", hasField, hasNote, tt.rebalance, out)
			}
		})
	}
}

// TestEksctlManagedNodeGroup: the default eksctl output is an EKS managed
// node group (spot: true, instanceTypes) that says EKS drains its rebalance
// recommendations itself; --eksctl-nodegroup self gives the self-managed one.
func TestEksctlManagedNodeGroup(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderEksctl(&buf, goldenResult(t, false), Target{Name: "spot-nodes", Cluster: "c", MinSize: 1, MaxSize: 10, Zones: []string{"us-test-1a"}}); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		NodeGroups        []map[string]any `yaml:"nodeGroups"`
		ManagedNodeGroups []struct {
			Name              string            `yaml:"name"`
			Spot              bool              `yaml:"spot"`
			InstanceTypes     []string          `yaml:"instanceTypes"`
			MinSize           int               `yaml:"minSize"`
			MaxSize           int               `yaml:"maxSize"`
			AvailabilityZones []string          `yaml:"availabilityZones"`
			Labels            map[string]string `yaml:"labels"`
		} `yaml:"managedNodeGroups"`
	}
	if err := yaml.Unmarshal(buf.Bytes(), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.NodeGroups) != 0 || len(cfg.ManagedNodeGroups) != 1 {
		t.Fatalf("want one managed node group and no self-managed one:\n%s", buf.String())
	}
	ng := cfg.ManagedNodeGroups[0]
	want := goldenResult(t, false).Types()
	if !ng.Spot || !slices.Equal(ng.InstanceTypes, want) || ng.Name != "spot-nodes" || ng.MinSize != 1 || ng.MaxSize != 10 ||
		!slices.Equal(ng.AvailabilityZones, []string{"us-test-1a"}) || ng.Labels["spot"] != "true" {
		t.Errorf("managed node group %+v, want spot with %v", ng, want)
	}
	if !strings.Contains(buf.String(), "EKS drains") || strings.Contains(buf.String(), "capacityRebalance") {
		t.Errorf("the managed group's note on rebalance is missing or names capacityRebalance:\n%s", buf.String())
	}
}
