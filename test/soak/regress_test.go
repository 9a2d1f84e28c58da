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
