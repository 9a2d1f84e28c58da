package controller

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/queue"
)

// handleWithdrawal handles one instance's withdrawal (a Health event
// closed, an instance pending or running again): the node's actor undoes
// the controller's own notice (uncordon, untaint, record removed; a notice
// the DaemonSet agent holds stays). It returns the outcome and whether the
// message may be deleted as far as this instance goes.
//
// Only nodes of the index are looked at (the controller marks nothing
// else), and only a node whose actor exists or that carries a controller
// record gets the withdrawal: an instance starting, the common case, costs
// no actor. An instance that is no node here has nothing of this cluster's
// to undo: a Health event's is left per --delete-unknown (another cluster
// sharing the queue may hold it), an instance starting is deleted as
// before (every launch in the account sends one).
func (c *Controller) handleWithdrawal(ctx context.Context, as *actors, n queue.Notice, received time.Time, log *zap.Logger) (string, bool) {
	in, ok := machineNotice(n, received)
	if !ok {
		return metrics.QueueIgnored, true
	}
	log = log.With(zap.String("instance", n.InstanceID), zap.String("notice_id", n.ID), zap.String("state", n.Action))
	node := c.nodes.fromIndex(n.InstanceID)
	switch {
	case node == nil && n.Kind == queue.ScheduledMaintenance && !c.cfg.DeleteUnknown:
		log.Info("withdrawal for an instance that is no node here: message left on the queue (--delete-unknown=false)")
		return metrics.QueueUnknownKept, false
	case node == nil:
		return metrics.QueueIgnored, true
	case !as.has(node.Name) && !c.recordedOn(node.Name):
		return metrics.QueueIgnored, true // nothing of the controller's on the node
	}
	r := as.deliver(node.Name, interrupt.Withdrawn{Notice: in})
	if !r.durable {
		log.Warn("withdrawing the notice from the node failed: the message stays and comes back", zap.String("node", node.Name), zap.Error(r.err))
		return metrics.QueueFailed, false
	}
	return metrics.QueueHandled, true
}

// has reports whether node has an actor.
func (as *actors) has(node string) bool {
	as.mu.Lock()
	defer as.mu.Unlock()
	_, ok := as.all[node]
	return ok
}
