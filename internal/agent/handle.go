package agent

import (
	"context"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// actionFor maps a notice kind to what the policy flags say to do.
func (a *Agent) actionFor(k imds.Kind) Action {
	switch k {
	case imds.SpotInterruption:
		return DrainNode
	case imds.RebalanceRecommendation:
		return a.cfg.Rebalance
	case imds.ScheduledMaintenance:
		return a.cfg.ScheduledMaintenance
	case imds.ASGTermination:
		return a.cfg.ASGLifecycle
	}
	return Ignore
}

// deadlineOf is the notice's deadline, or DefaultDeadline after detection
// for kinds IMDS gives no time for.
func deadlineOf(n imds.Notice) time.Time {
	if !n.Deadline.IsZero() {
		return n.Deadline
	}
	return n.Detected.Add(DefaultDeadline)
}

func (a *Agent) request(n imds.Notice) drain.Request {
	return drain.Request{Node: a.cfg.NodeName, Kind: string(n.Kind), Action: n.Action, NoticeID: n.ID,
		Deadline: deadlineOf(n), Detected: n.Detected}
}

// handle acts on one notice. It never blocks on a drain: drains run in the
// background, bounded by their deadline, not by ctx.
func (a *Agent) handle(ctx context.Context, n imds.Notice) {
	log := a.log.With(zap.String("node", a.cfg.NodeName), zap.String("kind", string(n.Kind)),
		zap.String("action", n.Action), zap.String("notice_id", n.ID))
	if n.Canceled {
		a.cancel(ctx, n, log)
		return
	}
	if prev := a.inForce(n.Kind); prev != nil && n.Kind != imds.ScheduledMaintenance {
		a.update(n, *prev, log)
		return
	}
	act := a.actionFor(n.Kind)
	deadline := deadlineOf(n)
	log.Info("notice received", zap.Time("deadline", deadline), zap.Time("detected", n.Detected),
		zap.String("policy", string(act)), zap.String("description", n.Description))
	a.m.Notices.WithLabelValues(string(n.Kind), n.Action).Inc()
	a.hook.send(hookData{Event: "notice", Node: a.cfg.NodeName, Kind: string(n.Kind), Action: n.Action,
		Deadline: deadline, Policy: string(act), Identity: a.identity.Load()})
	switch act {
	case Ignore:
		return
	case TaintOnly:
		a.remember(n)
		if err := a.actor.Taint(ctx, a.request(n)); err != nil {
			log.Error("tainting the node failed", zap.Error(err))
			return
		}
		a.nodeEvent(corev1.EventTypeNormal, "Tainted", "%s notice: node tainted %s=%s:PreferNoSchedule; pods stay (--rebalance=taint)",
			n.Kind, drain.TaintKey, n.Kind)
		return
	}
	a.remember(n)
	a.m.Deadline.Set(float64(deadline.Unix()))
	if left := deadline.Sub(a.clock.Now()); left <= a.cfg.Policy.Margin {
		log.Warn("deadline already passed or inside the drain margin: draining at once with the shortest grace",
			zap.Duration("time_left", left), zap.Duration("margin", a.cfg.Policy.Margin))
	}
	a.nodeEvent(corev1.EventTypeWarning, string(n.Kind), "%s notice (%s): node must be empty by %s",
		n.Kind, n.Action, deadline.Add(-a.cfg.Policy.Margin).UTC().Format(time.RFC3339))
	a.startDrain(n, deadline, log)
}

// inForce returns a notice of kind k that was acted on and not withdrawn,
// or nil.
func (a *Agent) inForce(k imds.Kind) *imds.Notice {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range a.acted {
		if n.Kind == k {
			return &n
		}
	}
	return nil
}

// update handles a new version of a notice already in force: an instance
// has one Spot notice, one rebalance recommendation and one ASG state, so a
// new ID of the same kind (a changed time; AEMM moves it on every request)
// is the same interruption. It is remembered, so the old one's withdrawal
// undoes nothing, and a deadline that moved earlier restarts the drain to it.
// It is not counted, announced or posted again.
func (a *Agent) update(n, prev imds.Notice, log *zap.Logger) {
	a.remember(n)
	if a.actionFor(n.Kind) == DrainNode && deadlineOf(n).Before(deadlineOf(prev)) {
		log.Info("notice moved to an earlier deadline: draining to it", zap.Time("deadline", deadlineOf(n)),
			zap.Time("previous_deadline", deadlineOf(prev)))
		a.m.Deadline.Set(float64(deadlineOf(n).Unix()))
		a.startDrain(n, deadlineOf(n), log)
		return
	}
	log.Debug("notice updated; already handled", zap.String("previous_notice_id", prev.ID))
}

func (a *Agent) remember(n imds.Notice) {
	a.mu.Lock()
	a.acted[n.ID] = n
	a.mu.Unlock()
}

// startDrain starts a drain for n unless one with an earlier or equal
// deadline runs; a later-deadline drain is replaced (the drain resumes).
func (a *Agent) startDrain(n imds.Notice, deadline time.Time, log *zap.Logger) {
	a.mu.Lock()
	if cur := a.current; cur != nil {
		if !deadline.Before(cur.deadline) {
			a.mu.Unlock()
			log.Info("a drain with an earlier or equal deadline is already running", zap.Time("running_deadline", cur.deadline))
			return
		}
		cur.cancel()
		a.mu.Unlock()
		<-cur.done
		a.mu.Lock()
	}
	// The drain outlives the agent's context: SIGTERM must not stop it.
	ctx, cancel := context.WithCancel(context.Background())
	ad := &activeDrain{notice: n, deadline: deadline, cancel: cancel, done: make(chan struct{})}
	a.current = ad
	a.drains.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.drains.Done()
		defer close(ad.done)
		defer cancel()
		defer a.survive("drain", log)
		a.runDrain(ctx, n, log)
		a.mu.Lock()
		if a.current == ad {
			a.current = nil
		}
		a.mu.Unlock()
	}()
}

// runDrain cordons (CordonOnly) or drains, retrying the node's marking while
// the API is unreachable, and reports the result.
func (a *Agent) runDrain(ctx context.Context, n imds.Notice, log *zap.Logger) {
	req := a.request(n)
	if a.cfg.CordonOnly {
		err := a.retryUntil(ctx, req.Deadline, func() error { return a.actor.Cordon(ctx, req) }, log)
		if err != nil {
			log.Error("cordoning the node failed", zap.Error(err))
			return
		}
		a.m.DetectionToCordon.Observe(a.clock.Since(n.Detected).Seconds())
		a.nodeEvent(corev1.EventTypeNormal, "Cordoned", "%s notice: node cordoned and tainted; pods left running (--cordon-only)", n.Kind)
		log.Info("node cordoned (--cordon-only): pods stay")
		return
	}
	var rep *drain.Report
	err := a.retryUntil(ctx, req.Deadline, func() error {
		var err error
		rep, err = a.actor.Drain(ctx, req)
		if rep != nil && !rep.Cordoned.IsZero() {
			return nil // the drain itself ran; its report says the rest
		}
		return err
	}, log)
	if ctx.Err() != nil {
		// Only a withdrawal or a notice with an earlier deadline cancels a
		// drain's context (never SIGTERM): not a missed deadline.
		log.Info("drain stopped: its notice was withdrawn or replaced by an earlier deadline")
		return
	}
	if rep == nil || rep.Cordoned.IsZero() {
		log.Error("draining the node failed: it could not even be cordoned", zap.Error(err))
		a.m.MissedDeadline.Inc()
		return
	}
	a.report(n, rep, err, log)
}

// retryUntil calls f until it succeeds, ctx ends or deadline passes,
// backing off from 250ms to 5s: an unreachable API server at notice time is
// retried, never given up on while the node may still be drained.
func (a *Agent) retryUntil(ctx context.Context, deadline time.Time, f func() error, log *zap.Logger) error {
	var err error
	backoff := wait.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 5 * time.Second}
	for {
		if err = f(); err == nil {
			return nil
		}
		if ctx.Err() != nil || a.clock.Now().After(deadline) {
			return err
		}
		log.Warn("retrying: the API server did not accept the change", zap.Error(err))
		select {
		case <-ctx.Done():
			return err
		case <-a.clock.After(backoff.Step()):
		}
	}
}

// cancel undoes what the agent did for a withdrawn notice, unless another
// notice still in force needs the node drained (a Spot notice whose time
// changed is withdrawn right after its successor arrives; a second
// maintenance event may remain): then the drain goes on for the most urgent
// remaining notice. A remaining taint-only notice leaves the node tainted.
func (a *Agent) cancel(ctx context.Context, n imds.Notice, log *zap.Logger) {
	a.mu.Lock()
	_, acted := a.acted[n.ID]
	delete(a.acted, n.ID)
	var drainNext, taintNext *imds.Notice
	for _, o := range a.acted {
		switch a.actionFor(o.Kind) {
		case DrainNode:
			if drainNext == nil || deadlineOf(o).Before(deadlineOf(*drainNext)) {
				drainNext = &o
			}
		case TaintOnly:
			taintNext = &o
		}
	}
	cur := a.current
	curIsN := cur != nil && cur.notice.ID == n.ID
	restart := drainNext != nil && curIsN && deadlineOf(*drainNext).Before(cur.deadline)
	if drainNext != nil && curIsN && !restart {
		cur.notice = *drainNext // the running drain ends no later than the successor needs
	}
	a.mu.Unlock()
	log.Info("notice withdrawn", zap.Bool("acted_on", acted))
	if !acted {
		return
	}
	if drainNext != nil {
		log.Info("another notice still needs the node drained: it stays cordoned", zap.String("remaining_notice_id", drainNext.ID))
		if restart {
			cur.cancel()
			<-cur.done
			a.startDrain(*drainNext, deadlineOf(*drainNext), log)
		}
		return
	}
	if curIsN {
		cur.cancel()
		<-cur.done
	}
	if err := a.actor.Uncordon(ctx, a.cfg.NodeName); err != nil {
		log.Error("uncordoning the node failed", zap.Error(err))
		return
	}
	a.m.Deadline.Set(0)
	a.nodeEvent(corev1.EventTypeNormal, "Uncordoned", "%s notice %s withdrawn: node uncordoned, taint removed", n.Kind, n.ID)
	a.hook.send(hookData{Event: "canceled", Node: a.cfg.NodeName, Kind: string(n.Kind), Action: n.Action, Identity: a.identity.Load()})
	if taintNext != nil {
		if err := a.actor.Taint(ctx, a.request(*taintNext)); err != nil {
			log.Error("tainting the node for the remaining notice failed", zap.Error(err))
		}
	}
}

// survive is deferred around work that must not take the process down: a
// bug that panics there is logged with its stack and counted as a missed
// drain, and the agent goes on watching (the next notice, or a restart of
// the drain by the same notice, may still empty the node).
func (a *Agent) survive(what string, log *zap.Logger) {
	if r := recover(); r != nil {
		a.m.MissedDeadline.Inc()
		log.Error("bug: recovered from a panic; the agent keeps running", zap.String("in", what),
			zap.Any("panic", r), zap.Stack("stack"))
	}
}
