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

// writeKwokOptions writes a KwokConfiguration with the plays' parallelism
// into dir and returns its path (kwok takes it as a second --config). kwok
// does not default the fields of a configuration it reads (only of the one
// it makes when it reads none): the rest are kwok's defaults, set here, but
// for the pods' CIDR, a /16 rather than a /24 so that thousands of pods get
// addresses of their own (with none, kwok plays a pod's create stage again
// and again).
func writeKwokOptions(dir string) (string, error) {
	path := filepath.Join(dir, "kwok-options.yaml")
	body := fmt.Sprintf(`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: %d
  nodePlayStageParallelism: %d
  nodeLeaseParallelism: %d
  cidr: 10.0.0.0/16
  manageAllNodes: false
  enableDebuggingHandlers: true
  enableContentionProfiling: false
  enableProfilingHandler: true
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
`, kwokPodPlays, kwokNodePlays, kwokLeasePlays)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return "", fmt.Errorf("writing kwok's options: %w", err)
	}
	return path, nil
}
