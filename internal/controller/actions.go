package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/webhook"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// errPanic is the result of an event whose handling panicked.
var errPanic = errors.New("handling the notice panicked (see the log)")

// markTimeout bounds the cordon or taint done while a message waits: past
// it, the message stays on the queue and the drain retries on its own.
const markTimeout = 20 * time.Second

// carryOut does one of the machine's actions for a's node.
func (c *Controller) carryOut(as *actors, a *actor, act interrupt.Action) error {
	a.stopWatchesFor(act) // watch.go
	switch x := act.(type) {
	case interrupt.Announce:
		c.m.Notices.WithLabelValues(string(x.Notice.Kind), x.Notice.Action).Inc()
		a.log.Info("notice received", zap.String("kind", string(x.Notice.Kind)), zap.String("action", x.Notice.Action),
			zap.String("notice_id", x.Notice.ID), zap.String("instance", x.Notice.Data["instance"]),
			zap.Time("deadline", x.Deadline), zap.String("policy", string(x.Response)), zap.String("description", x.Notice.Description))
	case interrupt.SendWebhook:
		c.notify(a.node, x.Notice, webhook.Data{Event: x.Event, Kind: string(x.Notice.Kind), Action: x.Notice.Action,
			Deadline: x.Deadline, Policy: string(x.Response)})
	case interrupt.RecordEvent:
		typ := corev1.EventTypeNormal
		if x.Warning {
			typ = corev1.EventTypeWarning
		}
		c.nodeEvent(a.node, typ, x.Reason, x.Message)
	case interrupt.StartDrain:
		return c.startDrain(as, a, x.Drain, nil)
	case interrupt.RestartDrain:
		a.log.Info("restarting the drain", zap.String("reason", x.Reason), zap.Time("deadline", x.Drain.Deadline))
		return c.startDrain(as, a, x.Drain, a.stopJob(c.pool, x.Stop))
	case interrupt.StopDrain:
		a.log.Info("stopping the drain", zap.String("reason", x.Reason))
		a.stopJob(c.pool, x.Seq)
	case interrupt.TaintNode:
		ctx, cancel := context.WithTimeout(as.ctx, markTimeout)
		defer cancel()
		req := request(a.node, interrupt.Drain{Notice: x.Notice, Deadline: x.Deadline})
		if err := c.actor.Taint(ctx, req); err != nil {
			a.log.Error("tainting the node failed", zap.Error(err))
			return fmt.Errorf("tainting node %s: %w", a.node, err)
		}
		a.marked = true
		c.nodeEvent(a.node, corev1.EventTypeNormal, "Tainted", x.Message)
	case interrupt.UncordonNode:
		ctx, cancel := context.WithTimeout(as.ctx, markTimeout)
		defer cancel()
		held, err := c.actor.Uncordon(ctx, a.node, drain.SourceQueue)
		if err != nil {
			a.log.Error("uncordoning the node failed", zap.Error(err))
			return fmt.Errorf("uncordoning node %s: %w", a.node, err)
		}
		a.marked = false
		if held != nil {
			a.log.Info("the controller's notice is withdrawn; the node stays cordoned for the agent's notice", zap.String("held_notice_id", held.ID))
			break
		}
		c.nodeEvent(a.node, corev1.EventTypeNormal, "Uncordoned", x.Message)
	case interrupt.Keep:
		a.log.Debug("node kept as it is", zap.String("reason", x.Reason), zap.String("notice_id", x.Notice.ID))
	}
	return nil
}

// startDrain cordons the node now (the record a message waits for), then
// queues the drain for a worker, most urgent deadline first; if after is
// not nil, the drain runs once it is closed (the drain it replaces has
// returned). The drain holds its worker only while it acts (drain.Gate).
func (c *Controller) startDrain(as *actors, a *actor, d interrupt.Drain, after <-chan struct{}) error {
	req := request(a.node, d)
	log := a.log.With(zap.String("kind", req.Kind), zap.String("notice_id", req.NoticeID), zap.Int("seq", d.Seq))
	if left := d.Deadline.Sub(c.clock.Now()); left <= c.cfg.Policy.Margin {
		log.Warn("deadline already passed or inside the drain margin: draining at once with the shortest grace",
			zap.Duration("time_left", left), zap.Duration("margin", c.cfg.Policy.Margin))
	}
	ctx, cancel := context.WithTimeout(as.ctx, markTimeout)
	err := c.actor.Cordon(ctx, req)
	cancel()
	if err == nil {
		a.marked = true
		c.m.DetectionToCordon.Observe(c.clock.Since(d.Notice.Detected).Seconds())
		log.Info("node cordoned and tainted", zap.Time("deadline", d.Deadline), zap.Bool("resumed", d.Resumed))
	} else {
		log.Error("cordoning the node failed; the drain retries it", zap.Error(err))
		err = fmt.Errorf("cordoning node %s: %w", a.node, err)
	}
	if c.cfg.CordonOnly {
		if err == nil {
			c.nodeEvent(a.node, corev1.EventTypeNormal, "Cordoned", fmt.Sprintf("%s notice: node cordoned and tainted; pods left running (--cordon-only)", req.Kind))
			as.post(a.node, interrupt.DrainEnded{Seq: d.Seq, Outcome: interrupt.Cordoned})
			return nil
		}
	}
	jctx, jcancel := context.WithCancel(as.ctx)
	j := &job{node: a.node, seq: d.Seq, deadline: d.Deadline, ctx: jctx, cancel: jcancel, done: make(chan struct{}), index: -1, after: after}
	req.Gate = gate{p: c.pool, j: j}
	j.run = func(ctx context.Context) {
		defer jcancel()
		ended := false // OnEmpty runs on this goroutine
		end := func(out interrupt.Outcome, err error) {
			if !ended {
				ended = true
				as.post(a.node, interrupt.DrainEnded{Seq: d.Seq, Outcome: out, Err: err})
			}
		}
		out, derr := c.runDrain(ctx, d, req, log, func(out interrupt.Outcome) {
			// The node is empty: the drain has ended for the machine (an ASG
			// lifecycle action is completed now) and its worker goes to the
			// next drain while it watches the node (watch.go).
			end(out, nil)
			j.release()
		})
		end(out, derr)
	}
	a.jobs[d.Seq] = j
	c.pool.submit(j)
	c.qm.DrainsWaiting.Set(float64(c.pool.waiting()))
	return err
}

// nodeEvent records an Event on a node.
func (c *Controller) nodeEvent(node, typ, reason, msg string) {
	ref := &corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: node, UID: types.UID(node)}
	c.rec.Event(ref, typ, reason, msg)
}

// notify posts d for node in the background, with the node and the
// instance's identity filled in; in a dry run only with --dry-run-webhook,
// marked dry-run. It never blocks or fails the drain.
func (c *Controller) notify(node string, n interrupt.Notice, d webhook.Data) {
	if c.cfg.DryRun {
		if !c.cfg.DryRunWebhook {
			return
		}
		d = webhook.DryRun(d)
	}
	d.Node = node
	d.Identity = c.identity(node, n.Data["instance"])
	c.hook.Send(d)
}

// identity is what the controller knows of node's instance: its ID (the
// message's, else the providerID's), zone (label, else providerID) and
// instance type (label), from the node index.
func (c *Controller) identity(node, instance string) *imds.Identity {
	id := &imds.Identity{InstanceID: instance}
	obj, ok, err := c.inf.GetIndexer().GetByKey(node)
	if err != nil || !ok {
		return id
	}
	n := obj.(*corev1.Node)
	if id.InstanceID == "" {
		id.InstanceID = instanceOf(n.Spec.ProviderID)
	}
	id.InstanceType = n.Labels[corev1.LabelInstanceTypeStable]
	id.AvailabilityZone = n.Labels[corev1.LabelTopologyZone]
	if rest, ok := strings.CutPrefix(n.Spec.ProviderID, "aws:///"); ok && id.AvailabilityZone == "" {
		if zone, _, found := strings.Cut(rest, "/"); found {
			id.AvailabilityZone = zone
		}
	}
	return id
}
