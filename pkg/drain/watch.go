package drain

import (
	"context"
	"slices"

	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// The node is empty when every pod the drain had to move is gone and no pod
// is undecided. With Request.OnEmpty the drain does not end there: it hands
// the caller the report of that moment (emptied) and watches the node
// until deadline − margin. While the node stays empty the drain holds no
// claim and renews nothing (rest): watching costs the one watch of the
// node's pods. A pod that reaches the node then is decided on by the same
// filters; the drain claims the node again (wake) and evicts it by the
// same rules, and the final Report lists it (Report.Late).

// empty reports whether every pod the drain had to move is gone and no pod
// is undecided.
func (r *drainRun) empty() bool {
	for _, j := range r.jobs {
		if _, gone := r.tr.gone(j.pod.UID); !gone {
			return false
		}
	}
	for uid := range r.lookups {
		if _, gone := r.tr.gone(uid); !gone {
			return false
		}
	}
	return true
}

// emptied hands onEmpty the report as it stands at the node's first empty
// moment (rep.Emptied). The evictions started for pods now gone end at
// once; it waits for them so their results can be read.
func (r *drainRun) emptied(ctx context.Context, rep *Report, onEmpty func(*Report)) {
	for _, j := range r.jobs {
		if !j.started {
			continue
		}
		select {
		case <-j.done:
		case <-ctx.Done():
			return
		}
	}
	snap := *rep
	snap.Finished, snap.Empty = rep.Emptied, true
	snap.Skipped = slices.Clone(rep.Skipped)
	if r.owned {
		snap.OtherDrainer = ""
	}
	r.d.settle(&snap, r.jobs, r.tr)
	r.d.log.Info("node empty; watching it until deadline minus margin", zap.String("node", r.node),
		zap.Duration("spare", snap.Spare()))
	onEmpty(&snap)
}

// rest gives the claim up while the node is empty and stops renewing it.
func (r *drainRun) rest(renew clock.Timer) {
	if r.idle {
		return
	}
	r.idle = true
	renew.Stop()
	if r.owner {
		r.d.unclaim(r.node)
		r.owner = false
	}
}

// wake claims the node again for pods that reached it while it was empty,
// and starts the evictions not yet started if it holds the claim; if
// another drain holds it, this one watches and takes over if it lapses.
func (r *drainRun) wake(ctx, jobCtx context.Context, renew clock.Timer) {
	r.idle = false
	renew.Reset(claimTTL / 3)
	if r.owner, _ = r.d.tryClaim(ctx, r.node, r.deadline); r.owner {
		r.owned = true
		r.waves(ctx, jobCtx)
	}
}
