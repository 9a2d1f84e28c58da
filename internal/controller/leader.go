package controller

import (
	"context"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// elect runs leader election on the Lease until ctx ends, one term at a
// time: while this replica holds the Lease, lead runs on elect's own
// goroutine; when the Lease is lost (renewal failed), lead's context ends,
// and only once lead has returned (every receive, handler, drain and
// lifecycle wait of the term stopped) does the replica stand as a candidate
// again. So nothing of an ended term touches the next one: not its pool, its
// lifecycle state or its spot_handler_leader. At ctx's end the Lease is
// released, so the other replica takes over at once; elect returns once the
// term has wound down.
func (c *Controller) elect(ctx context.Context) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: c.cfg.LeaseNamespace, Name: c.cfg.LeaseName},
		Client:     c.lease.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: c.cfg.Identity},
	}
	for ctx.Err() == nil {
		won := make(chan context.Context, 1)
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, ReleaseOnCancel: true, Name: c.cfg.LeaseName,
			LeaseDuration: c.cfg.LeaseDuration, RenewDeadline: c.cfg.RenewDeadline, RetryPeriod: c.cfg.RetryPeriod,
			Callbacks: leaderelection.LeaderCallbacks{
				// client-go calls it on a goroutine of its own and does not
				// wait for it: hand the term to term instead.
				OnStartedLeading: func(ctx context.Context) { won <- ctx },
				OnStoppedLeading: func() { c.log.Info("leadership ended", zap.String("identity", c.cfg.Identity)) },
				OnNewLeader: func(id string) {
					if id != c.cfg.Identity {
						c.log.Info("another replica leads", zap.String("leader", id))
					}
				},
			},
		})
		if err != nil {
			c.log.Error("leader election is misconfigured", zap.Error(err))
			return
		}
		ran := make(chan struct{})
		go func() {
			defer close(ran)
			le.Run(ctx) // returns when leadership is lost or ctx ends
		}()
		c.term(won, ran)
		select {
		case <-ctx.Done():
		case <-c.clock.After(c.cfg.RetryPeriod):
		}
	}
}

// term waits until the elector won the Lease or returned. If it won, term
// leads until the leadership ends and lead has wound down. It returns once
// the elector has returned too (at ctx's end: released the Lease).
func (c *Controller) term(won <-chan context.Context, ran <-chan struct{}) {
	select {
	case ctx := <-won:
		if ctx.Err() == nil { // else lost as soon as won
			c.log.Info("became the leader", zap.String("identity", c.cfg.Identity), zap.String("lease", c.cfg.LeaseNamespace+"/"+c.cfg.LeaseName))
			c.lead(ctx)
		}
	case <-ran: // ctx ended before the Lease was won; or won and lost at once
	}
	<-ran
}
