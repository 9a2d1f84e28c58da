package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/webhook"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// LateDrain is how long a drain whose deadline had already passed when it
// started (an instance stopping or shutting down, a notice that came late)
// keeps removing the node's pods, every step retried, each pod with the
// shortest grace (drain.Policy.LateWindow): long enough to outlast an API
// brownout of tens of seconds, short enough that a drain of an instance
// that is gone ends within a minute.
const LateDrain = 60 * time.Second

// runDrain runs one drain on a worker (or only the cordon, --cordon-only),
// retrying while the API refuses until the deadline, and reports it. A
// drain that empties the node is reported at that moment, and emptied is
// called with its outcome; the drain then watches the node until deadline
// − margin (see drain.Request.OnEmpty) and runDrain reports the watch's end
// (watched) before it returns.
func (c *Controller) runDrain(ctx context.Context, d interrupt.Drain, req drain.Request, log *zap.Logger, emptied func(interrupt.Outcome)) (interrupt.Outcome, error) {
	c.qm.DrainsWaiting.Set(float64(c.pool.waiting()))
	if ctx.Err() != nil {
		return interrupt.Stopped, nil
	}
	if c.cfg.CordonOnly {
		err := c.retryUntil(ctx, req.Deadline, func() error { return c.actor.Cordon(ctx, req) }, log)
		switch {
		case ctx.Err() != nil:
			return interrupt.Stopped, nil
		case err != nil:
			return c.notCordoned(req, err, log), err
		}
		c.nodeEvent(req.Node, corev1.EventTypeNormal, "Cordoned", fmt.Sprintf("%s notice: node cordoned and tainted; pods left running (--cordon-only)", req.Kind))
		return interrupt.Cordoned, nil
	}
	watching := false
	req.OnEmpty = func(first *drain.Report) {
		watching = true
		emptied(c.drained(ctx, d, first, log))
	}
	var rep *drain.Report
	err := c.retryUntil(ctx, req.Deadline, func() error {
		var err error
		rep, err = c.actor.Drain(ctx, req)
		if rep != nil && !rep.Cordoned.IsZero() {
			return nil // the drain itself ran; its report says the rest
		}
		return err
	}, log)
	if watching {
		c.watched(ctx, d, rep, log)
		return interrupt.Emptied, nil
	}
	if ctx.Err() != nil {
		log.Info("drain stopped: replaced by an earlier deadline, or this replica is no longer the leader")
		return interrupt.Stopped, nil
	}
	if rep == nil || rep.Cordoned.IsZero() {
		return c.notCordoned(req, err, log), err
	}
	return c.drained(ctx, d, rep, log), nil
}

func (c *Controller) notCordoned(req drain.Request, err error, log *zap.Logger) interrupt.Outcome {
	log.Error("draining the node failed: it could not even be cordoned", zap.Error(err))
	c.m.MissedDeadline.Inc()
	c.nodeEvent(req.Node, corev1.EventTypeWarning, "DrainMissedDeadline", fmt.Sprintf("%s notice: the node could not be cordoned by its deadline: %v", req.Kind, err))
	return interrupt.NotCordoned
}

// drained reports a drain's end as metrics, logs, an Event and a webhook
// (not in a dry run: nothing was drained), and adds the out-of-service
// taint to an instance going away with pods left.
func (c *Controller) drained(ctx context.Context, d interrupt.Drain, rep *drain.Report, log *zap.Logger) interrupt.Outcome {
	for _, p := range rep.Pods {
		c.m.Pods.WithLabelValues(string(p.Outcome)).Inc()
	}
	fields := []zap.Field{zap.String("summary", rep.Summary()), zap.Int("pods", len(rep.Pods)), zap.Bool("resumed", rep.Resumed || d.Resumed),
		zap.Duration("spare", rep.Spare()), zap.Time("deadline", rep.Deadline)}
	if rep.Empty {
		c.m.DrainDuration.Observe(rep.Finished.Sub(d.Notice.Detected).Seconds())
		log.Info("drain finished: node empty", fields...)
		if !(d.Resumed && len(rep.Pods) == 0) { // else the leader before said so
			c.nodeEvent(rep.Node, corev1.EventTypeNormal, "Drained", rep.Summary())
			c.drainedHook(d, rep)
		}
		return interrupt.Emptied
	}
	if unlisted(rep) {
		// Never listed: its pods are unknown, not none. They count as left,
		// and the next event for the node (the message again) drains anew.
		log.Warn("drain ended before the node's pods could be listed: they count as left", append(fields, zap.Error(rep.Err))...)
		c.m.MissedDeadline.Inc()
		c.nodeEvent(rep.Node, corev1.EventTypeWarning, "DrainMissedDeadline",
			fmt.Sprintf("the node's pods could not be listed by the deadline (counted as left): %v", rep.Err))
		c.drainedHook(d, rep)
		c.goneWithPods(ctx, d, rep.Node, log)
		return interrupt.PodsLeft
	}
	c.podsLeft(ctx, d, rep, "drain ended with pods still on the node", fields, log)
	return interrupt.PodsLeft
}

// unlisted reports whether rep ended before the node's pods were ever
// listed: it names no pod, not because there were none.
func unlisted(rep *drain.Report) bool {
	return !rep.Empty && rep.Err != nil && len(rep.Pods) == 0 && len(rep.Skipped) == 0 && len(rep.Undecided) == 0
}

// podsLeft reports pods still on the node at deadline − margin (msg says
// after what) and adds the out-of-service taint to an instance going away.
func (c *Controller) podsLeft(ctx context.Context, d interrupt.Drain, rep *drain.Report, msg string, fields []zap.Field, log *zap.Logger) {
	c.m.MissedDeadline.Inc()
	log.Warn(msg, fields...)
	c.nodeEvent(rep.Node, corev1.EventTypeWarning, "DrainMissedDeadline", rep.Summary())
	c.drainedHook(d, rep)
	c.goneWithPods(ctx, d, rep.Node, log)
}

// goneWithPods adds the out-of-service taint to an instance going away with
// pods left (--out-of-service-taint).
func (c *Controller) goneWithPods(ctx context.Context, d interrupt.Drain, node string, log *zap.Logger) {
	if c.cfg.OutOfServiceTaint && (d.Notice.Kind == interrupt.ASGTermination || d.Notice.Kind == interrupt.InstanceStateChange) {
		if err := c.outOfService(ctx, node, log); err != nil {
			log.Error("adding the out-of-service taint failed", zap.Error(err))
		}
	}
}

// watched reports the end of the watch that followed the node's first
// empty moment (drained reported that moment): the pods that reached the
// node meanwhile, counted in pods_total and late_pods_total and named in
// an Event; pods still there at deadline − margin as a missed deadline. A
// watch stopped early with pods on the node (by a node write, a new drain,
// the leadership's end) is only logged.
func (c *Controller) watched(ctx context.Context, d interrupt.Drain, rep *drain.Report, log *zap.Logger) {
	late := rep.Late()
	for _, p := range late {
		c.m.Pods.WithLabelValues(string(p.Outcome)).Inc()
		c.m.LatePods.WithLabelValues(string(p.Outcome)).Inc()
	}
	fields := []zap.Field{zap.String("summary", rep.Summary()), zap.Int("late_pods", len(late)), zap.Time("deadline", rep.Deadline)}
	switch {
	case !rep.Empty && !errors.Is(rep.Err, drain.ErrDeadline):
		log.Info("stopped watching the emptied node", append(fields, zap.Error(rep.Err))...)
	case !rep.Empty:
		c.podsLeft(ctx, d, rep, "pods reached the node after it was empty and were still on it at deadline minus margin", fields, log)
	case len(late) > 0:
		log.Warn("pods reached the node after it was empty; drained", fields...)
		c.nodeEvent(rep.Node, corev1.EventTypeNormal, "LatePodsDrained", rep.Summary())
	default:
		log.Debug("the node stayed empty until deadline minus margin", fields...)
	}
}

// drainedHook posts the drained webhook, as the agent does (not in a dry
// run: nothing was drained).
func (c *Controller) drainedHook(d interrupt.Drain, rep *drain.Report) {
	if !c.cfg.DryRun {
		c.notify(rep.Node, d.Notice, webhook.Data{Event: webhook.EventDrained, Kind: string(d.Notice.Kind), Action: d.Notice.Action,
			Deadline: rep.Deadline, Summary: rep.Summary(), Empty: rep.Empty})
	}
}

// retryUntil calls f until it succeeds, ctx ends or deadline passes,
// backing off from 250ms to 5s.
func (c *Controller) retryUntil(ctx context.Context, deadline time.Time, f func() error, log *zap.Logger) error {
	backoff := wait.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 5 * time.Second}
	for {
		err := f()
		if err == nil || ctx.Err() != nil || c.clock.Now().After(deadline) {
			return err
		}
		log.Warn("retrying: the API server did not accept the change", zap.Error(err))
		select {
		case <-ctx.Done():
			return err
		case <-c.clock.After(backoff.Step()):
		}
	}
}
