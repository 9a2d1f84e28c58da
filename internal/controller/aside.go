package controller

import (
	"time"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// agentDrain returns the notice of the node's DaemonSet agent (mode both)
// that the controller leaves its notice n to, or nil when the controller
// drains for n itself. It steps aside only for an agent drain of an
// interruption in force: the agent's instance metadata notice (not a
// rehearsal, not a taint only) whose deadline is still ahead, and which is
// a Spot interruption or an ASG terminate state (final for the instance),
// or ends no later than n needs. A maintenance drain weeks away would not
// empty the node in time for n; a rehearsal may be undone at any time.
func agentDrain(rec *drain.NodeNotice, n interrupt.Notice, now time.Time) *drain.NodeNotice {
	a := rec.Held(drain.SourceIMDS)
	if a == nil || drain.SourceOf(*a) != drain.SourceIMDS || a.TaintOnly || !now.Before(a.Deadline) {
		return nil
	}
	switch interrupt.Kind(a.Kind) {
	case interrupt.SpotInterruption, interrupt.ASGTermination:
		return a
	}
	need := n.Deadline
	if need.IsZero() {
		need = n.Detected.Add(interrupt.DefaultDeadline) // what the machine chooses for n
	}
	if a.Deadline.After(need) {
		return nil
	}
	return a
}
