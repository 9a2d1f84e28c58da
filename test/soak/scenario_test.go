package soak

import (
	"reflect"
	"strconv"
	"testing"
	"time"
)

// TestDrawIsReproducible: a scenario depends only on (seed, wave, node),
// so a replay of one scenario draws exactly what the whole soak drew.
func TestDrawIsReproducible(t *testing.T) {
	for wave := range 5 {
		for node := range 10 {
			a, b := Draw(7, wave, node, Limits{Faults: true}), Draw(7, wave, node, Limits{Faults: true})
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("Draw(7, %d, %d) differs between calls:\n%s\n%s", wave, node, a, b)
			}
		}
		if w1, w2 := DrawWave(7, wave, Limits{Faults: true}), DrawWave(7, wave, Limits{Faults: true}); w1 != w2 {
			t.Fatalf("DrawWave(7, %d) differs between calls", wave)
		}
	}
	if reflect.DeepEqual(Draw(7, 0, 0, Limits{Faults: true}), Draw(8, 0, 0, Limits{Faults: true})) {
		t.Error("seeds 7 and 8 drew the same scenario")
	}
}

// TestDrawCoversEveryDimension: over a few hundred draws every mode,
// signal, PDB, grace, API, IMDS and process fault and controller fault
// comes up, and each stays within its stated range.
func TestDrawCoversEveryDimension(t *testing.T) {
	seen := map[string]bool{}
	for wave := range 40 {
		for node := range 10 {
			s := Draw(1, wave, node, Limits{Faults: true})
			seen["mode "+string(s.Mode)] = true
			seen["signal "+string(s.Signal)] = true
			for _, d := range s.Workload.Deployments {
				seen["pdb "+string(d.PDB)] = true
				seen["grace "+itoa(d.Grace)] = true
				if d.Replicas < 1 || d.Replicas > maxReplicas {
					t.Fatalf("%s: %d replicas, want 1-%d", s, d.Replicas, maxReplicas)
				}
			}
			for _, f := range s.API {
				seen["api "+f.Kind] = true
			}
			for _, f := range s.IMDS {
				seen["imds "+f.Kind] = true
				if f.For < 5*time.Second || f.For > 20*time.Second {
					t.Fatalf("%s: IMDS fault for %v, want 5-20 s", s, f.For)
				}
			}
			for _, f := range s.Proc {
				seen["proc "+f.Kind] = true
				if f.Kind == "kill" && (f.At < 2*time.Second || f.At > 30*time.Second || f.Restart < time.Second || f.Restart > 3*time.Second) {
					t.Fatalf("%s: kill at %v restart %v, want 2-30 s and 1-3 s", s, f.At, f.Restart)
				}
			}
			if s.Mode == Controller && (len(s.IMDS) > 0 || len(s.Proc) > 0) {
				t.Fatalf("%s: a controller-only scenario has agent faults", s)
			}
		}
		seen["wave "+DrawWave(1, wave, Limits{Faults: true}).Controller] = true
	}
	for _, want := range []string{"mode agent", "mode controller", "mode both",
		"signal spot", "signal rebalance-then-spot", "signal maintenance", "signal maintenance-canceled", "signal asg-terminated",
		"signal spot-warning", "signal state-change", "signal asg-terminate-hook", "signal health-scheduled", "signal spot-imds-and-queue",
		"pdb none", "pdb maxUnavailable=0", "pdb maxUnavailable=1", "pdb minAvailable=replicas", "pdb two-overlapping",
		"grace 0", "grace 5", "grace 30", "grace 90", "grace 600",
		"api list-503", "api evict-500", "api evict-429", "api patch-hang", "api burst-503", "api watch-cut",
		"imds 503", "imds 500", "imds 429", "imds 401", "imds hang", "imds reset", "proc kill", "proc stop",
		"wave none", "wave leader-kill", "wave lease-hang", "wave burst-503", "wave sqs-pause"} {
		if !seen[want] {
			t.Errorf("400 draws never gave %s", want)
		}
	}
}

// TestNoFaultsDrawsNone: the no-fault control's draws carry no fault.
func TestNoFaultsDrawsNone(t *testing.T) {
	for node := range 50 {
		s := Draw(3, 0, node, Limits{})
		if len(s.API)+len(s.IMDS)+len(s.Proc) > 0 {
			t.Fatalf("Limits{} drew faults: %s", s)
		}
	}
	if w := DrawWave(3, 0, Limits{}); w.Controller != "none" || w.Foreign {
		t.Fatalf("Limits{} drew wave faults: %s", w)
	}
}

// TestGoneBy: deadline − margin for a notice, the stated budget for a
// state change whose deadline has passed.
func TestGoneBy(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		sig  Signal
		want time.Duration
	}{{Spot, 105 * time.Second}, {SpotWarning, 105 * time.Second}, {ASGHook, 105 * time.Second},
		{StateChange, 60 * time.Second}, {HealthChange, 105 * time.Second}} {
		if got := (Scenario{Signal: c.sig}).GoneBy(at, 15*time.Second).Sub(at); got != c.want {
			t.Errorf("%s: gone by notice+%v, want +%v", c.sig, got, c.want)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestVisibleAndLastAction: an ASG state is visible once an IMDS fault in
// force at the notice ends; a scenario is played until its last drawn
// action.
func TestVisibleAndLastAction(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s := Scenario{IMDS: []IMDSFault{{Kind: "503", At: -5 * time.Second, For: 14 * time.Second}}}
	if got := s.Visible(at).Sub(at); got != 9*time.Second {
		t.Errorf("fault −5 s for 14 s: visible at +%v, want +9s", got)
	}
	s = Scenario{IMDS: []IMDSFault{{Kind: "503", At: 3 * time.Second, For: 10 * time.Second}}}
	if got := s.Visible(at); !got.Equal(at) {
		t.Errorf("a fault after the notice: visible at %v, want the notice", got)
	}
	s = Scenario{Proc: []ProcFault{{Kind: "kill", At: 25 * time.Second, Restart: 2 * time.Second}},
		API: []APIFault{{Kind: "evict-500", At: 5 * time.Second, For: 20 * time.Second}}}
	if got := s.LastAction(); got != 32*time.Second {
		t.Errorf("kill at 25 s, restart 2 s later: played %v, want 32s", got)
	}
}

// TestCISliceCoverage: the slice `make test` runs draws every mode, the
// controller faults that kill or depose the leader and pause SQS, and
// another cluster's action (a seed that drew none of them would let CI
// pass without ever trying them).
func TestCISliceCoverage(t *testing.T) {
	modes, faults, foreign := map[Mode]bool{}, map[string]bool{}, false
	for w := range ciWaves {
		wf := DrawWave(ciSeed, w, Limits{Faults: true})
		faults[wf.Controller], foreign = true, foreign || wf.Foreign
		for n := range ciNodes {
			modes[Draw(ciSeed, w, n, Limits{Faults: true}).Mode] = true
		}
	}
	if len(modes) != 3 || !faults["leader-kill"] || !faults["lease-hang"] || !faults["sqs-pause"] || !foreign {
		t.Errorf("the CI slice (seed %d) draws modes %v, controller faults %v, foreign %v", ciSeed, modes, faults, foreign)
	}
}
