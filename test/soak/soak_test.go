package soak

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The CI slice: a fixed seed, a few waves (make test runs it).
const (
	ciSeed  = 20261479 // its 3 waves draw every mode, leader-kill, lease-hang, sqs-pause and a foreign action (TestCISliceCoverage)
	ciWaves = 3
	ciNodes = 6
)

// results gathers the soak's outcomes as waves end.
type results struct {
	outcomes   []Outcome
	problems   []string
	footprints []Footprint
}

func newResults() *results { return &results{} }

// optionsFromEnv reads SOAK_SEED, SOAK_WAVES, SOAK_MINUTES, SOAK_NODES and
// SOAK_ONLY (make soak's SEED, WAVES, MINUTES, NODES, ONLY). With none of
// them set it is the CI slice.
func optionsFromEnv(t *testing.T) options {
	t.Helper()
	opt := options{seed: ciSeed, waves: ciWaves, nodes: ciNodes, limits: Limits{Faults: true}, margin: 15 * time.Second}
	num := func(name string) (int64, bool) {
		v := os.Getenv(name)
		if v == "" {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want a whole number ≥ 0", name, v)
		}
		return n, true
	}
	if v, ok := num("SOAK_SEED"); ok {
		opt.seed = uint64(v)
	} else if os.Getenv("SOAK_RANDOM") != "" {
		opt.seed = uint64(time.Now().UnixNano() % 1_000_000_000)
	}
	if v, ok := num("SOAK_NODES"); ok && v > 0 {
		opt.nodes = int(v)
	}
	if v, ok := num("SOAK_MINUTES"); ok && v > 0 {
		opt.minutes, opt.waves = time.Duration(v)*time.Minute, 0
	}
	if v, ok := num("SOAK_WAVES"); ok && v > 0 {
		opt.waves, opt.minutes = int(v), 0
	}
	if v := os.Getenv("SOAK_ONLY"); v != "" && os.Getenv("SOAK_SEED") == "" {
		t.Fatalf("SOAK_ONLY=%s needs the seed it was drawn from: make soak SEED=… ONLY=%s", v, v)
	}
	if v := os.Getenv("SOAK_ONLY"); v != "" {
		var wave, node int
		if _, err := fmt.Sscanf(v, "%d:%d", &wave, &node); err != nil || wave < 0 || node < 0 {
			t.Fatalf("SOAK_ONLY=%q: want wave:node, as a failure's replay line prints it", v)
		}
		opt.only = &[2]int{wave, node}
		opt.waves, opt.minutes = wave+1, 0
		opt.nodes = max(opt.nodes, node+1)
	}
	opt.name = fmt.Sprintf("s%d", opt.seed%100000)
	return opt
}

// TestSoak runs waves of random interruptions and fails on any broken
// promise, printing each failing scenario with its replay line.
func TestSoak(t *testing.T) {
	if plane == nil {
		t.Skip("-short: the soak needs the local control plane and moto")
	}
	opt := optionsFromEnv(t)
	t.Logf("soak seed %d (replay with make soak SEED=%d)", opt.seed, opt.seed)
	sum := soak(t, opt)
	if sum.Failed > 0 || len(sum.WaveProblem) > 0 {
		t.Errorf("the soak broke a promise (%d scenarios, %d wave problems): see above", sum.Failed, len(sum.WaveProblem))
	}
}

// soak runs the waves opt asks for and reports what they found.
func soak(t *testing.T, opt options) Summary {
	began := time.Now()
	w := newWorld(t, opt)
	waves := 0
	for wave := 0; ; wave++ {
		if opt.waves > 0 && wave >= opt.waves || opt.minutes > 0 && time.Since(began) >= opt.minutes {
			break
		}
		if opt.only != nil && wave != opt.only[0] {
			continue
		}
		res := w.runWave(wave)
		waves++
		time.Sleep(3 * time.Second) // the controllers forget the wave's nodes
		w.res.footprints = append(w.res.footprints, w.footprint(wave)...)
		w.res.outcomes = append(w.res.outcomes, res.outcomes...)
		w.res.problems = append(w.res.problems, res.problems...)
		for _, o := range res.outcomes {
			t.Log(o.Line())
			if o.Failed() {
				t.Logf("FAILED %s", o.Report())
			}
		}
		for _, p := range res.problems {
			t.Logf("WAVE PROBLEM %s", p)
		}
	}
	time.Sleep(5 * time.Second)   // a late re-check of the last foreign message
	for _, f := range w.foreign { // a call made after its wave ended
		for _, p := range w.checkForeign(f.wave, f.token) {
			if !slices.Contains(w.res.problems, p) {
				w.res.problems = append(w.res.problems, p+" (seen at the end of the soak)")
			}
		}
	}
	growth := FootprintGrowth(w.res.footprints, 50, 32)
	problems := append(append([]string(nil), w.res.problems...), growth...)
	crashes := 0
	for _, o := range w.res.outcomes {
		for _, f := range o.Failures {
			if strings.Contains(f, "exited on its own") || strings.Contains(f, "logged a panic") {
				crashes++
			}
		}
	}
	for _, p := range w.res.problems {
		if strings.Contains(p, "exited on its own") || strings.Contains(p, "logged a panic") {
			crashes++
		}
	}
	sum := Summarize(opt.seed, waves, w.res.outcomes, problems, crashes, time.Since(began))
	var fp []string
	for _, f := range w.res.footprints {
		role := "standby"
		if f.Leader {
			role = "leader"
		}
		fp = append(fp, fmt.Sprintf("w%d %s (%s) %.0fg %.1fMiB", f.Wave, f.Replica, role, f.Goroutines, f.HeapMiB))
	}
	t.Logf("controller footprint after each wave: %s", strings.Join(fp, ", "))
	for _, g := range growth {
		t.Logf("PROBLEM %s", g)
	}
	for _, p := range w.res.problems {
		if strings.HasSuffix(p, "(seen at the end of the soak)") {
			t.Logf("PROBLEM %s", p)
		}
	}
	t.Logf("SOAK %s", sum)
	return sum
}
