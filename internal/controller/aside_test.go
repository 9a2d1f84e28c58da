package controller

import (
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestAgentDrain (issue #20, item 3): the controller steps aside only for
// the agent's drain of an interruption in force that ends no later than
// the controller's notice needs; not for a rehearsal, a taint only, a
// record whose deadline has passed, a maintenance drain weeks away, or a
// notice the controller itself holds.
func TestAgentDrain(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	spotWarning := interrupt.Notice{Kind: interrupt.SpotInterruption, ID: "queue/spot", Deadline: now.Add(2 * time.Minute), Detected: now, Source: interrupt.SourceQueue}
	asgAction := interrupt.Notice{Kind: interrupt.ASGTermination, ID: "queue/asg", Detected: now, Source: interrupt.SourceQueue}
	agent := func(kind string, in time.Duration) *drain.NodeNotice {
		return &drain.NodeNotice{Kind: kind, ID: kind + "/x", Deadline: now.Add(in), Source: drain.SourceIMDS}
	}
	taint := agent("RebalanceRecommendation", time.Hour)
	taint.TaintOnly = true
	legacy := agent("SpotInterruption", 90*time.Second)
	legacy.Source = ""
	mine := &drain.NodeNotice{Kind: "InstanceStateChange", ID: "queue/state", Deadline: now.Add(time.Minute), Source: drain.SourceQueue,
		Others: []drain.NodeNotice{*agent("SpotInterruption", 90*time.Second)}}
	for _, c := range []struct {
		name   string
		rec    *drain.NodeNotice
		notice interrupt.Notice
		want   bool
	}{
		{"no record", nil, spotWarning, false},
		{"the agent drains for the same Spot interruption", agent("SpotInterruption", 2*time.Minute), spotWarning, true},
		{"the agent drains for a Spot interruption (a record from before sources)", legacy, spotWarning, true},
		{"the agent drains for its ASG terminate state", agent("ASGTermination", time.Minute), asgAction, true},
		{"the agent's Spot record whose deadline passed (a stopped instance)", agent("SpotInterruption", -time.Minute), spotWarning, false},
		{"a rehearsal", &drain.NodeNotice{Kind: "SpotInterruption", ID: "rehearsal-x", Deadline: now.Add(time.Minute), Source: drain.SourceRehearsal}, spotWarning, false},
		{"a rehearsal from before sources", &drain.NodeNotice{Kind: "SpotInterruption", ID: "rehearsal-x", Deadline: now.Add(time.Minute)}, spotWarning, false},
		{"a maintenance drain weeks away", agent("ScheduledMaintenance", 14*24*time.Hour), spotWarning, false},
		{"a maintenance drain weeks away, for an ASG action (deadline chosen)", agent("ScheduledMaintenance", 14*24*time.Hour), asgAction, false},
		{"a maintenance drain that ends first", agent("ScheduledMaintenance", time.Minute), spotWarning, true},
		{"a taint only", taint, spotWarning, false},
		{"the controller's own record", &drain.NodeNotice{Kind: "InstanceStateChange", ID: "queue/state", Deadline: now.Add(time.Minute), Source: drain.SourceQueue}, spotWarning, false},
		{"the agent's Spot drain under the controller's record", mine, spotWarning, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := agentDrain(c.rec, c.notice, now) != nil; got != c.want {
				t.Errorf("steps aside = %v, want %v", got, c.want)
			}
		})
	}
}
