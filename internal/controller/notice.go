package controller

import (
	"time"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/queue"
)

// machineNotice turns a queue notice received at `received` into the state
// machine's notice, and says whether the controller acts on its kind.
//
// An instance state change (stopping, shutting-down, stopped, terminated)
// becomes an InstanceStateChange notice, always drained, whose deadline is
// the event's time: a Spot warning followed by shutting-down restarts the
// drain to the earlier deadline (the machine drains for the earliest
// notice in force). ASG lifecycle actions travel another way
// (lifecycle.go), so they are not taken here (false).
func machineNotice(n queue.Notice, received time.Time) (interrupt.Notice, bool) {
	out := interrupt.Notice{ID: n.ID, Action: n.Action, Deadline: n.Deadline, Detected: received,
		Source: interrupt.SourceQueue, Description: n.Description, Data: map[string]string{"instance": n.InstanceID}}
	switch n.Kind {
	case queue.SpotInterruption:
		out.Kind = interrupt.SpotInterruption
	case queue.RebalanceRecommendation:
		out.Kind = interrupt.RebalanceRecommendation
	case queue.ScheduledMaintenance:
		out.Kind = interrupt.ScheduledMaintenance
	case queue.InstanceStateChange:
		out.Kind = interrupt.InstanceStateChange
	default:
		return out, false
	}
	return out, true
}

// request is the drain request for a drain the machine chose.
func request(node string, d interrupt.Drain) drain.Request {
	return drain.Request{Node: node, Kind: string(d.Notice.Kind), Action: d.Notice.Action, NoticeID: d.Notice.ID,
		Deadline: d.Deadline, Detected: d.Notice.Detected, Source: drain.SourceQueue}
}

// recorded turns the controller's notice in the node's record into what
// the machine resumes from. Only the notice a controller holds is resumed;
// one the DaemonSet agent holds (mode both) is the agent's to finish.
func recorded(rec *drain.NodeNotice) (interrupt.Recorded, bool) {
	n := rec.Held(drain.SourceQueue)
	if n == nil {
		return interrupt.Recorded{}, false
	}
	return interrupt.Recorded{Kind: interrupt.Kind(n.Kind), ID: n.ID, Action: n.Action, Source: interrupt.SourceQueue,
		Deadline: n.Deadline, Detected: n.Detected, TaintOnly: n.TaintOnly}, true
}
