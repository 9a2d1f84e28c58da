package controller

import (
	"context"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
// lifecycle state or its spot_handler_leader. Whether the Lease was lost
// or ctx ended, the Lease is released (releaseLease) only once the term has
// wound down, so the other replica takes over as soon as nothing of this
// term can act and never before; client-go's own release on cancel would
// give it up first. elect returns once the term has wound down.
func (c *Controller) elect(ctx context.Context) {
	lock := &sayLock{c: c, Interface: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: c.cfg.LeaseNamespace, Name: c.cfg.LeaseName},
		Client:     c.lease.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: c.cfg.Identity},
	}}
	for ctx.Err() == nil {
		won := make(chan context.Context, 1)
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, ReleaseOnCancel: false, Name: c.cfg.LeaseName,
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
		// The elector runs on a context of its own, ended only once the
		// term has wound down: ending it releases the Lease.
		electCtx, release := context.WithCancel(context.WithoutCancel(ctx))
		ran := make(chan struct{})
		go func() {
			defer close(ran)
			le.Run(electCtx) // returns when leadership is lost or release is called
		}()
		c.term(ctx, won, ran, release)
		c.releaseLease(lock)
		select {
		case <-ctx.Done():
		case <-c.clock.After(c.cfg.RetryPeriod):
		}
	}
}

// term waits until the elector won the Lease or returned, or ctx ended. If
// it won, term leads until the leadership ends or ctx ends, and lead has
// wound down. Then it calls release, which ends the elector (releasing the
// Lease if it still holds it), and returns once the elector has returned.
func (c *Controller) term(ctx context.Context, won <-chan context.Context, ran <-chan struct{}, release func()) {
	defer func() { <-ran }()
	defer release()
	select {
	case termCtx := <-won:
		if termCtx.Err() != nil || ctx.Err() != nil {
			return // lost as soon as won, or told to stop
		}
		leadCtx, stop := context.WithCancel(termCtx)
		defer stop()
		defer context.AfterFunc(ctx, stop)() // told to stop: the term ends first
		c.log.Info("became the leader", zap.String("identity", c.cfg.Identity), zap.String("lease", c.cfg.LeaseNamespace+"/"+c.cfg.LeaseName))
		c.lead(leadCtx)
	case <-ran: // won and lost at once, or misconfigured
	case <-ctx.Done(): // told to stop before the Lease was won
	}
}

// sayLock is the Lease lock that says, once per change and on recovery,
// when the Lease cannot be read or written (say.go). A Lease not there yet
// is no failure: the elector creates it.
type sayLock struct {
	resourcelock.Interface
	c *Controller
}

func (l *sayLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	r, raw, err := l.Interface.Get(ctx)
	l.said(err == nil || apierrors.IsNotFound(err), err)
	return r, raw, err
}

func (l *sayLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Create(ctx, ler)
	l.said(err == nil || apierrors.IsAlreadyExists(err), err)
	return err
}

func (l *sayLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Update(ctx, ler)
	l.said(err == nil || apierrors.IsConflict(err), err)
	return err
}

func (l *sayLock) said(ok bool, err error) {
	lease := zap.String("lease", l.c.cfg.LeaseNamespace+"/"+l.c.cfg.LeaseName)
	if ok {
		l.c.say.ok("lease", "the leader Lease can be read and written again", lease)
		return
	}
	l.c.say.fail("lease", "the leader Lease cannot be read or written; this replica cannot lead", err, l.c.leaseHint, lease)
}

// releaseLease gives the Lease up once the term has wound down, if it is
// still this replica's: a guarded update (the lock writes with the
// resourceVersion of its read), so a Lease another replica took in between
// is never cleared. A failure is no matter: the Lease then expires.
func (c *Controller) releaseLease(lock resourcelock.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RenewDeadline)
	defer cancel()
	rec, _, err := lock.Get(ctx)
	if err != nil || rec.HolderIdentity != c.cfg.Identity {
		return
	}
	now := metav1.Now()
	_ = lock.Update(ctx, resourcelock.LeaderElectionRecord{LeaderTransitions: rec.LeaderTransitions, LeaseDurationSeconds: 1, RenewTime: now, AcquireTime: now})
}
