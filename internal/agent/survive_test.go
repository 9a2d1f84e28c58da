package agent

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spot-handler/spot-handler/internal/metrics"
)

// TestSurviveRecoversAndCounts: a panic in guarded work is logged with its
// stack and counted as a missed drain; the caller goes on.
func TestSurviveRecoversAndCounts(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	a := &Agent{m: metrics.New(prometheus.NewRegistry()), log: zap.New(core)}
	func() {
		defer func() { a.survived(recover(), "drain", a.log) }()
		panic("a bug in a drain") // what survived is for
	}()
	if got := testutil.ToFloat64(a.m.MissedDeadline); got != 1 {
		t.Errorf("missed deadline counter = %v, want 1", got)
	}
	if logs.Len() != 1 || logs.All()[0].Message != "bug: recovered from a panic; the agent keeps running" {
		t.Errorf("logs = %v", logs.All())
	}
}

// TestConfigValidate names what is wrong.
func TestConfigValidate(t *testing.T) {
	ok := Config{NodeName: "n", PollInterval: 1e9, Rebalance: TaintOnly, ScheduledMaintenance: DrainNode, ASGLifecycle: DrainNode}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"no node":        {PollInterval: 1e9, Rebalance: TaintOnly, ScheduledMaintenance: DrainNode, ASGLifecycle: DrainNode},
		"bad rebalance":  {NodeName: "n", PollInterval: 1e9, Rebalance: "maybe", ScheduledMaintenance: DrainNode, ASGLifecycle: DrainNode},
		"taint for asg":  {NodeName: "n", PollInterval: 1e9, Rebalance: TaintOnly, ScheduledMaintenance: DrainNode, ASGLifecycle: TaintOnly},
		"poll too short": {NodeName: "n", PollInterval: 1e6, Rebalance: TaintOnly, ScheduledMaintenance: DrainNode, ASGLifecycle: DrainNode},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
