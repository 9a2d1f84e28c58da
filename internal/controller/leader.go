package controller

import (
	"context"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// elect runs leader election on the Lease until ctx ends: while this
// replica holds it, lead runs; when it loses it (renewal failed), lead's
// context ends and the replica stands as a candidate again. At ctx's end
// the Lease is released, so the other replica takes over at once.
func (c *Controller) elect(ctx context.Context) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: c.cfg.LeaseNamespace, Name: c.cfg.LeaseName},
		Client:     c.lease.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: c.cfg.Identity},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, ReleaseOnCancel: true, Name: c.cfg.LeaseName,
			LeaseDuration: c.cfg.LeaseDuration, RenewDeadline: c.cfg.RenewDeadline, RetryPeriod: c.cfg.RetryPeriod,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					c.log.Info("became the leader", zap.String("identity", c.cfg.Identity), zap.String("lease", c.cfg.LeaseNamespace+"/"+c.cfg.LeaseName))
					c.lead(ctx)
				},
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
		le.Run(ctx) // returns when leadership is lost or ctx ends
		select {
		case <-ctx.Done():
		case <-c.clock.After(c.cfg.RetryPeriod):
		}
	}
}
