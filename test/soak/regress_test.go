package soak

import (
	"fmt"
	"testing"
	"time"
)

// regression is a scenario the soak once failed on, replayed on every
// `make test` now that it passes: what it found and what fixed it.
type regression struct {
	seed       uint64
	wave, node int
	found      string
}

// regressions are the soak's failures turned into fixed tests.
var regressions = []regression{
	{101715929, 0, 3, "evictions answered 429 for 7.5 s were retried by client-go with their first grace and accepted 4 s " +
		"late: 14 pods of 600 s ended 2 s past deadline − margin (afterAccepted cuts any accepted deletion that ends " +
		"too late; TestDrainShortensAnEvictionAcceptedLate)"},
	{101715929, 3, 5, "maintenance, evictions answered 429 for 16 s: a 600 s pod accepted late with a stale grace ran past " +
		"deadline − margin (the same fix as 0:3)"},
	{101715929, 5, 7, "a shutting-down instance whose pod LISTs answered 503 six times: the drain gave up after its ~4 s late " +
		"window reporting 0 pods, 33 left (d2a1f01: an instance already going is drained for 60 s)"},
	{101715929, 12, 4, "a pod bound to a shutting-down instance's node after the drain's first empty moment was never removed " +
		"(the deadline had passed: the watch ended at once; d2a1f01)"},
	{101715929, 19, 2, "rebalance then Spot, evictions 429 for 14 s and the agent SIGKILLed mid-drain: a 90 s pod ran past " +
		"deadline − margin (stale grace after client-go's own 429 retries; 0d62321)"},
	{489578176, 2, 1, "ASG Terminated, a 600 s pod under a maxUnavailable=1 PDB whose last refused eviction was answered " +
		"past its cut-off: the fallback deletion waited another backoff step and the pod went 0.5 s past deadline − " +
		"margin (the deletion now follows at once; TestDrainDeletesAtOnceWhenARefusalIsAnsweredPastTheCutOff)"},
}

// TestSoakRegressions replays each scenario the soak once failed on
// (its wave's controller faults too) and checks every promise again.
func TestSoakRegressions(t *testing.T) {
	if plane == nil {
		t.Skip("-short: the soak needs the local control plane and moto")
	}
	for _, r := range regressions {
		t.Run(fmt.Sprintf("seed%d_%d:%d", r.seed, r.wave, r.node), func(t *testing.T) {
			opt := options{seed: r.seed, only: &[2]int{r.wave, r.node}, waves: r.wave + 1, nodes: r.node + 1,
				limits: Limits{Faults: true}, margin: 15 * time.Second, name: fmt.Sprintf("rg%d-%d-%d", r.seed%1000, r.wave, r.node)}
			sum := soak(t, opt)
			if sum.Failed > 0 || len(sum.WaveProblem) > 0 || sum.Scenarios != 1 {
				t.Errorf("%s: %s (once found: %s)", opt.replay(), sum, r.found)
			}
		})
	}
}
