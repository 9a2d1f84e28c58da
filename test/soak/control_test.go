package soak

import (
	"testing"
	"time"
)

// TestSoakControlNoFaults: a wave with no fault of any kind (workloads,
// signals and modes drawn as usual) must pass on its own; a soak whose
// plain waves fail measures the harness, not the handlers.
func TestSoakControlNoFaults(t *testing.T) {
	if plane == nil {
		t.Skip("-short: the soak needs the local control plane and moto")
	}
	opt := options{seed: ciSeed + 1, waves: 1, nodes: 4, margin: 15 * time.Second, name: "ctl-nofault"}
	sum := soak(t, opt)
	if sum.Failed > 0 || len(sum.WaveProblem) > 0 || sum.Scenarios != opt.nodes {
		t.Errorf("the no-fault wave: %s; want every scenario passed", sum)
	}
}

// TestSoakControlCordonOnly: with drains disabled (--cordon-only) the soak
// must report pods left: a soak that cannot fail proves nothing.
func TestSoakControlCordonOnly(t *testing.T) {
	if plane == nil {
		t.Skip("-short: the soak needs the local control plane and moto")
	}
	opt := options{seed: ciSeed + 2, waves: 1, nodes: 3, margin: 15 * time.Second, name: "ctl-cordon",
		extra: []string{"--cordon-only"}}
	sum := soak(t, opt)
	if sum.Left == 0 || sum.Failed == 0 {
		t.Errorf("with --cordon-only the soak reported %s; want pods left and failed scenarios", sum)
	}
}
