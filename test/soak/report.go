package soak

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Outcome is one scenario's verdict and figures.
type Outcome struct {
	Scenario Scenario
	// MustLeave is how many pods had to leave the node (late ones too).
	MustLeave int
	// Left names the pods still there at the deadline − margin (or gone
	// after it).
	Left []string
	// Cordon is how long the node took to be cordoned after the notice
	// (negative: never).
	Cordon time.Duration
	// Spare is how long before deadline − margin the node was empty
	// (meaningless when Left is not empty).
	Spare time.Duration
	// Failures are the broken promises other than pods left: a DaemonSet
	// pod touched, a crash or panic, a lifecycle action completed early or
	// never, a withdrawn notice that left the node unschedulable.
	Failures []string
	// Notes are what the harness saw along the way (faults applied,
	// harness errors) for the description of a failure.
	Notes []string
}

// Failed reports whether the scenario broke a promise.
func (o Outcome) Failed() bool { return len(o.Left) > 0 || len(o.Failures) > 0 }

// Replay is the command that runs just this scenario again.
func (o Outcome) Replay() string {
	return fmt.Sprintf("make soak SEED=%d ONLY=%s", o.Scenario.Seed, o.Scenario.ID())
}

// Line is the scenario's one-line summary.
func (o Outcome) Line() string {
	verdict := "ok  "
	if o.Failed() {
		verdict = "FAIL"
	}
	cordon := "never"
	if o.Cordon >= 0 {
		cordon = fmt.Sprintf("%.2fs", o.Cordon.Seconds())
	}
	spare := "-"
	if len(o.Left) == 0 && !o.Scenario.Withdrawn() {
		spare = fmt.Sprintf("%.1fs", o.Spare.Seconds())
	}
	return fmt.Sprintf("%s %-6s %-10s %-22s pods %3d left %2d cordon %-6s spare %s", verdict, o.Scenario.ID(),
		o.Scenario.Mode, o.Scenario.Signal, o.MustLeave, len(o.Left), cordon, spare)
}

// Report is the whole failure description: the scenario, what went
// wrong, what the harness saw, and the replay line.
func (o Outcome) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", o.Scenario)
	if len(o.Left) > 0 {
		fmt.Fprintf(&b, "  pods left at deadline − margin: %s\n", strings.Join(o.Left, ", "))
	}
	for _, f := range o.Failures {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	for _, n := range o.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	fmt.Fprintf(&b, "  replay: %s\n", o.Replay())
	return b.String()
}

// Footprint is one reading of a long-lived controller's goroutines and heap.
type Footprint struct {
	Wave       int
	Replica    string
	PID        int
	Goroutines float64
	HeapMiB    float64
	Leader     bool // a leader runs receivers, workers and watches a standby does not
}

// Summary is the soak's figures.
type Summary struct {
	Seed        uint64
	Waves       int
	Scenarios   int
	MustLeave   int
	Left        int
	Crashes     int
	Failed      int
	CordonP50   time.Duration
	CordonP99   time.Duration
	LeastSpare  time.Duration
	Elapsed     time.Duration
	WaveProblem []string // controller crashes, foreign actions, footprint growth
}

// Summarize adds up outcomes.
func Summarize(seed uint64, waves int, outs []Outcome, waveProblems []string, crashes int, elapsed time.Duration) Summary {
	s := Summary{Seed: seed, Waves: waves, Scenarios: len(outs), Crashes: crashes, Elapsed: elapsed,
		WaveProblem: waveProblems, LeastSpare: time.Duration(math.MaxInt64)}
	var cordons []time.Duration
	for _, o := range outs {
		s.MustLeave += o.MustLeave
		s.Left += len(o.Left)
		if o.Failed() {
			s.Failed++
		}
		if o.Cordon >= 0 && !o.Scenario.Withdrawn() {
			cordons = append(cordons, o.Cordon)
		}
		if len(o.Left) == 0 && !o.Scenario.Withdrawn() && o.Spare < s.LeastSpare {
			s.LeastSpare = o.Spare
		}
	}
	s.CordonP50, s.CordonP99 = Percentile(cordons, 50), Percentile(cordons, 99)
	if s.LeastSpare == time.Duration(math.MaxInt64) {
		s.LeastSpare = 0
	}
	return s
}

// Percentile is the p-th percentile (nearest rank) of ds, 0 if empty.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// String is the figures as the README shows them.
func (s Summary) String() string {
	return fmt.Sprintf("seed %d: %d waves, %d scenarios in %v; pods that had to leave %d, pods left %d, crashes %d, "+
		"failed scenarios %d; cordon p50 %.2fs p99 %.2fs; least time to spare %.1fs",
		s.Seed, s.Waves, s.Scenarios, s.Elapsed.Round(time.Second), s.MustLeave, s.Left, s.Crashes, s.Failed,
		s.CordonP50.Seconds(), s.CordonP99.Seconds(), s.LeastSpare.Seconds())
}

// FootprintGrowth compares each replica process's first and last reading
// in the same role (leader or standby; at least three readings) and names
// those that grew by more than maxGoroutines goroutines or maxHeapMiB of
// heap.
func FootprintGrowth(fps []Footprint, maxGoroutines, maxHeapMiB float64) []string {
	type key struct {
		pid    int
		leader bool
	}
	byPID := map[key][]Footprint{}
	var order []key
	for _, f := range fps {
		k := key{f.PID, f.Leader}
		if _, ok := byPID[k]; !ok {
			order = append(order, k)
		}
		byPID[k] = append(byPID[k], f)
	}
	var out []string
	for _, pid := range order {
		fs := byPID[pid]
		if len(fs) < 3 {
			continue
		}
		first, last := fs[0], fs[len(fs)-1]
		if last.Goroutines-first.Goroutines > maxGoroutines || last.HeapMiB-first.HeapMiB > maxHeapMiB {
			out = append(out, fmt.Sprintf("controller %s (pid %d, leader %v) grew from wave %d to wave %d: goroutines %.0f → %.0f, heap %.1f → %.1f MiB",
				first.Replica, pid.pid, pid.leader, first.Wave, last.Wave, first.Goroutines, last.Goroutines, first.HeapMiB, last.HeapMiB))
		}
	}
	return out
}
