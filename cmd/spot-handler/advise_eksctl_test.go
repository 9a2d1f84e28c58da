package main

import "testing"

// TestAdviseEksctlNodeGroup: --eksctl-nodegroup picks a managed (default)
// or self-managed group, --capacity-rebalance=false turns capacityRebalance
// and its drain note off, and a bad kind is a usage error naming the flag.
func TestAdviseEksctlNodeGroup(t *testing.T) {
	base := []string{"--data", smallFeed, "--region", "us-test-1", "--vcpus", "4", "--output", "eksctl", "--count", "5"}
	for _, tt := range []struct {
		name    string
		args    []string
		code    int
		want    []string
		notWant []string
	}{
		{"managed by default", base, 0, []string{"managedNodeGroups:", "spot: true", "EKS drains a node on a rebalance recommendation"}, []string{"nodeGroups:\n", "capacityRebalance"}},
		{"self-managed", append(base, "--eksctl-nodegroup", "self"), 0, []string{"\nnodeGroups:", "capacityRebalance: true", "autoscaling:EC2_INSTANCE_TERMINATING"}, []string{"managedNodeGroups"}},
		{"self-managed without rebalance", append(base, "--eksctl-nodegroup", "self", "--capacity-rebalance=false"), 0, []string{"\nnodeGroups:"}, []string{"capacityRebalance", "EC2_INSTANCE_TERMINATING"}},
		{"kops", append(base[:len(base)-4:len(base)-4], "--output", "kops"), 0, []string{"capacityRebalance: true", "autoscaling:EC2_INSTANCE_TERMINATING", "spot-handler controller"}, nil},
		{"bad kind", append(base, "--eksctl-nodegroup", "unmanaged"), 2, []string{`--eksctl-nodegroup "unmanaged": want managed or self`}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) { checkAdvise(t, tt.args, tt.code, tt.want, tt.notWant) })
	}
}
