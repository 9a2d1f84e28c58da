package testenv

import (
	"fmt"
	"os"
	"path/filepath"
)

// kwok plays every pod's and node's stages (ready, deleted, heartbeats) for
// all its nodes from one process, by default four at a time (kwok v0.8.0's
// KwokConfiguration defaults, pkg/apis/config/v1alpha1). A real cluster's
// kubelets each act on their own node at once: with four, a storm's 5000
// deleted pods queue behind each other in kwok for longer than their
// drains' deadlines (about 60 s at the API server's storm latency),
// which measures kwok, not the drain. These widen the plays to what a
// storm of several hundred nodes needs.
const (
	kwokPodPlays   = 64
	kwokNodePlays  = 16
	kwokLeasePlays = 16
)

// kwokPodCIDR is where kwok takes its pods' IPs: kwok's own default,
// written out because a KwokConfiguration given in a file replaces the
// defaults, and with no CIDR kwok never sets a pod's IP, so its
// pod-create stage matches the pod again and again (each pod patched
// about 60 times, pods Running minutes after they were bound).
const kwokPodCIDR = "10.0.0.1/24"

// writeKwokOptions writes a KwokConfiguration with the plays' parallelism
// into dir and returns its path (kwok takes it as a second --config).
func writeKwokOptions(dir string) (string, error) {
	path := filepath.Join(dir, "kwok-options.yaml")
	body := fmt.Sprintf(`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  cidr: %s
  podPlayStageParallelism: %d
  nodePlayStageParallelism: %d
  nodeLeaseParallelism: %d
`, kwokPodCIDR, kwokPodPlays, kwokNodePlays, kwokLeasePlays)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return "", fmt.Errorf("writing kwok's options: %w", err)
	}
	return path, nil
}
