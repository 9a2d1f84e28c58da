package main

import (
	"strings"
	"testing"
)

// TestAdviseKarpenterPinTypes: the NodePool constrains by category,
// generation and size and lets Karpenter choose; --karpenter-pin-types adds
// the ranked set as an instance-type requirement.
func TestAdviseKarpenterPinTypes(t *testing.T) {
	base := []string{"--data", smallFeed, "--region", "us-test-1", "--vcpus", "4", "--output", "karpenter", "--count", "5"}
	for _, tt := range []struct {
		name   string
		args   []string
		pinned bool
	}{
		{"constraints only", base, false},
		{"pinned", append(base, "--karpenter-pin-types"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runAdviseTest(t, adviseDeps{}, nil, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, want := range []string{"key: karpenter.k8s.aws/instance-category", "key: karpenter.k8s.aws/instance-generation\n          operator: Gt", "key: karpenter.k8s.aws/instance-size"} {
				if !strings.Contains(out, want) {
					t.Errorf("NodePool lacks %q:\n%s", want, out)
				}
			}
			if got := strings.Contains(out, "key: node.kubernetes.io/instance-type"); got != tt.pinned {
				t.Errorf("instance types pinned: %v, want %v:\n%s", got, tt.pinned, out)
			}
		})
	}
}
