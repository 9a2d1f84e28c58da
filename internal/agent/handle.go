package agent

import (
	"context"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// fromIMDS turns an instance metadata notice into the state machine's
// event: a withdrawal or a notice.
func fromIMDS(n imds.Notice) interrupt.Event {
	in := interrupt.Notice{Kind: interrupt.Kind(n.Kind), ID: n.ID, Action: n.Action, Deadline: n.Deadline,
		Detected: n.Detected, Source: interrupt.SourceIMDS, Description: n.Description}
	if n.Canceled {
		return interrupt.Withdrawn{Notice: in}
	}
	return interrupt.Received{Notice: in}
}

// request is the drain package's request for notice n and deadline.
func (a *Agent) request(n interrupt.Notice, deadline time.Time) drain.Request {
	return drain.Request{Node: a.cfg.NodeName, Kind: string(n.Kind), Action: n.Action, NoticeID: n.ID,
		Deadline: deadline, Detected: n.Detected, Source: string(n.Source)}
}

// noticeLog is the logger for what is done about n.
func (a *Agent) noticeLog(n interrupt.Notice) *zap.Logger {
	return a.log.With(zap.String("node", a.cfg.NodeName), zap.String("kind", string(n.Kind)),
		zap.String("action", n.Action), zap.String("notice_id", n.ID), zap.String("source", string(n.Source)))
}

// apply hands ev to the state machine and carries out the actions it
// returns. It runs on the loop goroutine, which alone owns the machine and
// the node work; nothing it does waits for the API server.
func (a *Agent) apply(ctx context.Context, ev interrupt.Event) {
	defer func() {
		if a.survived(recover(), "notice handling", a.log) {
			a.machine.Apply(interrupt.Panicked{In: "notice handling"}, a.clock.Now())
		}
	}()
	a.logEvent(ev)
	switch e := ev.(type) {
	case interrupt.DrainEnded:
		a.work.forget(e.Seq)
	case interrupt.Panicked:
		a.work.forget(e.Seq)
	}
	for _, act := range a.machine.Apply(ev, a.clock.Now()) {
		a.carry(act)
	}
}

// logEvent logs what came in, where it is news.
func (a *Agent) logEvent(ev interrupt.Event) {
	switch e := ev.(type) {
	case interrupt.Withdrawn:
		a.noticeLog(e.Notice).Info("notice withdrawn")
	case interrupt.RehearsalSet:
		a.noticeLog(e.Notice).Info("rehearsal requested", zap.Time("deadline", e.Notice.Deadline))
	case interrupt.RehearsalCleared:
		a.log.Debug("rehearsal annotation absent", zap.String("node", a.cfg.NodeName))
	case interrupt.Synced:
		a.log.Debug("source answered in full", zap.String("node", a.cfg.NodeName), zap.String("source", string(e.Source)))
	}
}

// carry carries out one action.
func (a *Agent) carry(act interrupt.Action) {
	switch x := act.(type) {
	case interrupt.Announce:
		a.m.Notices.WithLabelValues(string(x.Notice.Kind), x.Notice.Action).Inc()
		a.noticeLog(x.Notice).Info("notice received", zap.Time("deadline", x.Deadline), zap.Time("detected", x.Notice.Detected),
			zap.String("policy", string(x.Response)), zap.String("description", x.Notice.Description))
	case interrupt.SendWebhook:
		a.post(hookData{Event: x.Event, Kind: string(x.Notice.Kind), Action: x.Notice.Action, Deadline: x.Deadline, Policy: string(x.Response)})
	case interrupt.RecordEvent:
		typ := corev1.EventTypeNormal
		if x.Warning {
			typ = corev1.EventTypeWarning
		}
		a.out.nodeEvent(typ, x.Reason, x.Message)
	case interrupt.StartDrain:
		a.drainStarted(x.Drain, "")
		a.work.startDrain(x.Drain, 0)
	case interrupt.RestartDrain:
		a.drainStarted(x.Drain, x.Reason)
		a.work.startDrain(x.Drain, x.Stop)
	case interrupt.StopDrain:
		a.log.Info("stopping the drain", zap.String("node", a.cfg.NodeName), zap.Int("drain", x.Seq), zap.String("reason", x.Reason))
		a.work.stopDrain(x.Seq)
	case interrupt.TaintNode:
		a.taint(x)
	case interrupt.UncordonNode:
		a.uncordon(x)
	case interrupt.Keep:
		lvl := zap.InfoLevel
		if x.Reason == interrupt.ReasonUpdated {
			lvl = zap.DebugLevel
		}
		a.noticeLog(x.Notice).Log(lvl, "node kept as it is", zap.String("reason", x.Reason))
	}
}

// drainStarted logs a drain's start and publishes its deadline.
func (a *Agent) drainStarted(d interrupt.Drain, reason string) {
	log := a.noticeLog(d.Notice)
	a.m.Deadline.Set(float64(d.Deadline.Unix()))
	if reason != "" {
		log.Info("restarting the drain", zap.String("reason", reason), zap.Time("deadline", d.Deadline), zap.Int("drain", d.Seq))
	}
	if left := d.Deadline.Sub(a.clock.Now()); d.Late {
		log.Warn("deadline already passed or inside the drain margin: draining at once with the shortest grace",
			zap.Duration("time_left", left), zap.Duration("margin", a.cfg.Policy.Margin))
	}
}

// taint writes the PreferNoSchedule taint, retried until done or superseded.
func (a *Agent) taint(x interrupt.TaintNode) {
	log := a.noticeLog(x.Notice)
	req := a.request(x.Notice, x.Deadline)
	a.work.nodeWrite(true, func(ctx context.Context) error { return a.actor.Taint(ctx, req) }, func() {
		log.Info("node tainted: pods stay")
		a.out.nodeEvent(corev1.EventTypeNormal, "Tainted", x.Message)
	}, log)
}

// uncordon withdraws the agent's notice from the node, retried until done
// or superseded: the marks go, unless the controller holds a notice on the
// node too (mode both), which keeps them.
func (a *Agent) uncordon(x interrupt.UncordonNode) {
	log := a.noticeLog(x.Notice)
	log.Info("uncordoning the node", zap.String("why", x.Message))
	var held atomic.Pointer[drain.NodeNotice] // attempts may run side by side
	a.work.nodeWrite(false, func(ctx context.Context) error {
		h, err := a.actor.Uncordon(ctx, a.cfg.NodeName, string(x.Notice.Source))
		if err == nil {
			held.Store(h)
		}
		return err
	}, func() {
		a.m.Deadline.Set(0)
		if h := held.Load(); h != nil {
			log.Info("the agent's notice is withdrawn; the node stays cordoned for another process's notice",
				zap.String("held_by", drain.SourceOf(*h)), zap.String("held_notice_id", h.ID))
			return
		}
		log.Info("node uncordoned")
		a.out.nodeEvent(corev1.EventTypeNormal, "Uncordoned", x.Message)
	}, log)
}

// post sends a webhook with the node and identity filled in.
func (a *Agent) post(d hookData) {
	d.Node = a.cfg.NodeName
	d.Identity = a.identity.Load()
	a.out.post(d)
}

// survived takes what recover() returned in a deferred function around
// work that must not take the process down: a bug that panicked there is
// logged with its stack and counted as a missed drain, and the agent goes
// on. It reports whether there was a panic.
func (a *Agent) survived(r any, what string, log *zap.Logger) bool {
	if r == nil {
		return false
	}
	a.m.MissedDeadline.Inc()
	log.Error("bug: recovered from a panic; the agent keeps running", zap.String("in", what),
		zap.Any("panic", r), zap.Stack("stack"))
	return true
}

// drainSurvived is survived for drain seq: the state machine hears of the
// panic and starts the drain again while time is left.
func (a *Agent) drainSurvived(r any, seq int, log *zap.Logger) {
	if a.survived(r, "drain", log) {
		a.inbox <- interrupt.Panicked{Seq: seq, In: "drain"}
	}
}
