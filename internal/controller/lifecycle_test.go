package controller

import (
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/lifecycle"
)

// TestCompletion: a waiting termination action is completed only once no
// drain runs and the node is drained; at once (Drained) only if the last
// drain emptied the node.
func TestCompletion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pending bool
		phase   interrupt.Phase
		last    interrupt.Outcome
		seen    bool
		want    lifecycle.Outcome
		now     bool
	}{
		{"nothing waits", false, interrupt.PhaseDrained, interrupt.Emptied, true, 0, false},
		{"drain running", true, interrupt.PhaseDraining, "", false, 0, false},
		{"restarted drain still running", true, interrupt.PhaseDraining, interrupt.Emptied, true, 0, false},
		{"tainted only", true, interrupt.PhaseTainted, "", false, 0, false},
		{"emptied", true, interrupt.PhaseDrained, interrupt.Emptied, true, lifecycle.Drained, true},
		{"pods left", true, interrupt.PhaseDrained, interrupt.PodsLeft, true, lifecycle.DrainFailed, true},
		{"not cordoned", true, interrupt.PhaseDrained, interrupt.NotCordoned, true, lifecycle.DrainFailed, true},
		{"failed", true, interrupt.PhaseDrained, interrupt.Failed, true, lifecycle.DrainFailed, true},
		{"cordon only", true, interrupt.PhaseDrained, interrupt.Cordoned, true, lifecycle.DrainFailed, true},
		{"no drain end seen", true, interrupt.PhaseDrained, "", false, lifecycle.DrainFailed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, now := completion(tc.pending, tc.phase, tc.last, tc.seen)
			if now != tc.now || got != tc.want {
				t.Fatalf("completion = %v, %v; want %v, %v", got, now, tc.want, tc.now)
			}
		})
	}
}

// TestTerminateNotice: a termination action becomes an ASGTermination
// notice from the queue, due at the action's deadline, always drained by
// the controller's policy.
func TestTerminateNotice(t *testing.T) {
	received := time.Date(2026, 12, 1, 12, 0, 5, 0, time.UTC)
	rec := lifecycle.Record{Hook: "drain", Group: "nodes", Deadline: received.Add(15 * time.Minute)}
	n := terminateNotice("i-12345678", "queue/LifecycleAction/i-12345678/t", rec, received)
	if n.Kind != interrupt.ASGTermination || n.Source != interrupt.SourceQueue || !n.Deadline.Equal(rec.Deadline) ||
		!n.Detected.Equal(received) || n.Data["instance"] != "i-12345678" || n.ID != "queue/LifecycleAction/i-12345678/t" {
		t.Fatalf("notice %+v", n)
	}
	cfg := Config{Rebalance: interrupt.TaintOnly, Maintenance: interrupt.DrainNode}
	if r := cfg.machineConfig().ResponseTo(n.Kind, n.Source); r != interrupt.DrainNode {
		t.Fatalf("response %s, want drain", r)
	}
}

// TestNewLifecyclesConfig: without an Auto Scaling client nothing is wired;
// zero tuning fields take the defaults; a negative flag is refused saying
// which.
func TestNewLifecyclesConfig(t *testing.T) {
	if l, err := newLifecycles(lifecycle.DefaultConfig(), nil, nil, nil, nil); l != nil || err != nil {
		t.Fatalf("no client: %v, %v; want nothing wired", l, err)
	}
	var asg lifecycle.AutoScaling = struct{ lifecycle.AutoScaling }{}
	l, err := newLifecycles(lifecycle.Config{MaxDrain: time.Minute}, asg, nil, nil, nil)
	if err != nil || l.cfg.HeartbeatFraction != lifecycle.DefaultConfig().HeartbeatFraction || l.cfg.LaunchPoll != time.Second || l.cfg.MaxDrain != time.Minute {
		t.Fatalf("zero fields: %+v, %v", l, err)
	}
	bad := lifecycle.DefaultConfig()
	bad.LaunchTimeout = -time.Second
	if _, err := newLifecycles(bad, asg, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "--launch-timeout") {
		t.Fatalf("negative launch timeout: %v", err)
	}
}
