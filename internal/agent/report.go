package agent

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/metrics"
	hooks "github.com/spot-handler/spot-handler/internal/webhook"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// effects are how the agent's decisions reach people: Events, webhooks
// and what a drain's end is reported as. liveEffects does it; dryEffects
// (--dry-run) only logs, and posts webhooks marked dry-run if asked to.
type effects interface {
	// nodeEvent records an Event on the node.
	nodeEvent(typ, reason, msg string)
	// post sends a webhook.
	post(d hookData)
	// drained reports a drain's end (rep.Err says what ended it) as
	// metrics, logs, Events and a webhook, and says how it ended.
	drained(d interrupt.Drain, rep *drain.Report, resumed bool, log *zap.Logger) interrupt.Outcome
	// watched reports the end of the watch that followed the node's first
	// empty moment (drained reported that moment): the pods that reached
	// the node meanwhile, and whether it was empty at the end.
	watched(d interrupt.Drain, rep *drain.Report, log *zap.Logger)
	// cordoned reports a cordon-only drain.
	cordoned(d interrupt.Drain, log *zap.Logger) interrupt.Outcome
	// notCordoned reports a drain that could not even cordon by its deadline.
	notCordoned(d interrupt.Drain, err error, log *zap.Logger) interrupt.Outcome
}

// hookData is what a webhook template sees; webhook posts it (the
// notifications are internal/webhook's, shared with the controller).
type (
	hookData = hooks.Data
	webhook  = hooks.Sender
)

// newWebhook makes the agent's webhook sender, counting posts in
// spot_handler_webhook_requests_total.
func newWebhook(rawURL, text string, client *http.Client, m *metrics.Metrics, log *zap.Logger) (*webhook, error) {
	return hooks.New(hooks.Config{URL: rawURL, Template: text, Client: client, Posts: m.Webhook, Logger: log})
}

// liveEffects records Events, posts webhooks and counts drain results.
type liveEffects struct {
	node  string
	rec   record.EventRecorder
	hook  *webhook
	m     *metrics.Metrics
	clock clock.PassiveClock
	ident *atomic.Pointer[imds.Identity]
}

func (e *liveEffects) nodeEvent(typ, reason, msg string) {
	ref := &corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: e.node, UID: types.UID(e.node)}
	e.rec.Event(ref, typ, reason, msg)
}

func (e *liveEffects) post(d hookData) { e.hook.Send(d) }

func (e *liveEffects) cordoned(d interrupt.Drain, log *zap.Logger) interrupt.Outcome {
	e.m.DetectionToCordon.Observe(e.clock.Since(d.Notice.Detected).Seconds())
	e.nodeEvent(corev1.EventTypeNormal, "Cordoned", fmt.Sprintf("%s notice: node cordoned and tainted; pods left running (--cordon-only)", d.Notice.Kind))
	log.Info("node cordoned (--cordon-only): pods stay")
	return interrupt.Cordoned
}

func (e *liveEffects) notCordoned(d interrupt.Drain, err error, log *zap.Logger) interrupt.Outcome {
	log.Error("draining the node failed: it could not even be cordoned", zap.Error(err))
	e.m.MissedDeadline.Inc()
	e.nodeEvent(corev1.EventTypeWarning, "DrainMissedDeadline", fmt.Sprintf("%s notice: the node could not be cordoned by its deadline: %v", d.Notice.Kind, err))
	return interrupt.NotCordoned
}

// drained turns a drain's Report into metrics, logs, Events on the node
// and on each pod, and a webhook call.
func (e *liveEffects) drained(d interrupt.Drain, rep *drain.Report, resumed bool, log *zap.Logger) interrupt.Outcome {
	n := d.Notice
	if !rep.Cordoned.IsZero() {
		e.m.DetectionToCordon.Observe(rep.Cordoned.Sub(n.Detected).Seconds())
	}
	fields := reportFields(d, rep, resumed)
	for _, p := range rep.Pods {
		e.m.Pods.WithLabelValues(string(p.Outcome)).Inc()
		e.podEvent(p, n)
	}
	out := interrupt.Emptied
	switch {
	case rep.Err == nil:
		e.m.DrainDuration.Observe(rep.Finished.Sub(n.Detected).Seconds())
		log.Info("drain finished: node empty", fields...)
		e.nodeEvent(corev1.EventTypeNormal, "Drained", rep.Summary())
	case errors.Is(rep.Err, drain.ErrDeadline):
		out = interrupt.PodsLeft
		e.missed(rep, "drain missed its deadline: pods still running", fields, log)
	case rep.Cordoned.IsZero():
		return e.notCordoned(d, rep.Err, log)
	default:
		out = interrupt.Failed
		e.m.MissedDeadline.Inc()
		log.Error("drain failed: it could not run to its end", fields...)
		e.nodeEvent(corev1.EventTypeWarning, "DrainMissedDeadline", fmt.Sprintf("%s; drain failed: %v", rep.Summary(), rep.Err))
	}
	for _, p := range rep.Pods {
		if p.Warning != "" && p.Outcome != drain.RunningAtDeadline {
			log.Info("pod drained with loss", zap.String("pod", p.Namespace+"/"+p.Name), zap.String("warning", p.Warning))
		}
	}
	e.hook.Send(hookData{Event: hooks.EventDrained, Node: e.node, Kind: string(n.Kind), Action: n.Action,
		Deadline: rep.Deadline, Summary: rep.Summary(), Empty: rep.Empty, Identity: e.ident.Load()})
	return out
}

// missed reports pods still on the node at deadline − margin (msg says
// after what).
func (e *liveEffects) missed(rep *drain.Report, msg string, fields []zap.Field, log *zap.Logger) {
	e.m.MissedDeadline.Inc()
	log.Error(msg, fields...)
	for _, p := range rep.Blocking() {
		log.Warn("pod still running at deadline", zap.String("pod", p.Namespace+"/"+p.Name),
			zap.String("reason", p.Reason), zap.String("pdb", p.PDB), zap.Int("attempts", p.Attempts))
	}
	for _, p := range rep.Undecided {
		log.Warn("pod still undecided at deadline", zap.String("pod", p.Namespace+"/"+p.Name), zap.String("reason", p.Reason))
	}
	e.nodeEvent(corev1.EventTypeWarning, "DrainMissedDeadline", rep.Summary())
}

// watched counts the pods that reached the node after it was empty in
// pods_total and late_pods_total, records their Events and, if any, an
// Event on the node; pods still there at deadline − margin are a missed
// deadline. A watch stopped early with pods on the node (by a node write,
// a new drain, SIGTERM) is only logged.
func (e *liveEffects) watched(d interrupt.Drain, rep *drain.Report, log *zap.Logger) {
	late := rep.Late()
	for _, p := range late {
		e.m.Pods.WithLabelValues(string(p.Outcome)).Inc()
		e.m.LatePods.WithLabelValues(string(p.Outcome)).Inc()
		e.podEvent(p, d.Notice)
	}
	fields := []zap.Field{zap.String("summary", rep.Summary()), zap.Int("late_pods", len(late)), zap.Time("deadline", rep.Deadline)}
	switch {
	case !rep.Empty && !errors.Is(rep.Err, drain.ErrDeadline):
		log.Info("stopped watching the emptied node", append(fields, zap.Error(rep.Err))...)
	case !rep.Empty:
		e.missed(rep, "pods reached the node after it was empty and were still on it at deadline minus margin", fields, log)
	case len(late) > 0:
		log.Warn("pods reached the node after it was empty; drained", fields...)
		e.nodeEvent(corev1.EventTypeNormal, "LatePodsDrained", rep.Summary())
	default:
		log.Debug("the node stayed empty until deadline minus margin", fields...)
	}
}

// reportFields are the log fields of a drain's end.
func reportFields(d interrupt.Drain, rep *drain.Report, resumed bool) []zap.Field {
	det := d.Notice.Detected
	fields := []zap.Field{zap.Int("pods", len(rep.Pods)), zap.Bool("empty", rep.Empty),
		zap.Duration("took", rep.Finished.Sub(det)), zap.Duration("spare", rep.Spare()), zap.Bool("resumed", resumed || rep.Resumed)}
	if after, ok := rep.AcceptedAfter(det); ok {
		fields = append(fields, zap.Duration("all_evictions_accepted_after", after))
	}
	for o, c := range rep.Counts() {
		fields = append(fields, zap.Int(string(o), c))
	}
	if rep.Err != nil {
		fields = append(fields, zap.Error(rep.Err))
	}
	return fields
}

// podEvent records what happened to one pod on the pod itself.
func (e *liveEffects) podEvent(p drain.PodResult, n interrupt.Notice) {
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: p.Namespace, Name: p.Name, UID: p.UID}
	switch p.Outcome {
	case drain.Evicted:
		e.rec.Eventf(ref, corev1.EventTypeNormal, "EvictedBySpotHandler", "%s notice on node %s: %s", n.Kind, e.node, p.Reason)
	case drain.DeletedAfterCutoff:
		e.rec.Eventf(ref, corev1.EventTypeWarning, "DeletedAfterPDBCutoff", "%s notice on node %s: %s", n.Kind, e.node, p.Reason)
	case drain.DeletedAfterRefusal:
		msg := p.Reason
		if p.Refusal != "" && !strings.Contains(msg, p.Refusal) {
			msg += "; the API refused its eviction: " + p.Refusal
		}
		e.rec.Eventf(ref, corev1.EventTypeWarning, "DeletedAfterEvictionRefused", "%s notice on node %s: %s", n.Kind, e.node, msg)
	case drain.RunningAtDeadline:
		e.rec.Eventf(ref, corev1.EventTypeWarning, "RunningAtDeadline", "%s notice on node %s: %s", n.Kind, e.node, p.Reason)
	case drain.GoneBeforeEviction:
		if p.Grace > 0 { // someone else terminated it; the drain shortened its grace
			e.rec.Eventf(ref, corev1.EventTypeNormal, "GraceShortenedBySpotHandler", "%s notice on node %s: %s", n.Kind, e.node, p.Reason)
		}
	}
}

// dryEffects is --dry-run: it logs what it would record and reports a
// planned drain as planned, never as a failure.
type dryEffects struct {
	hook *webhook // nil unless --dry-run-webhook
	log  *zap.Logger
}

func (e *dryEffects) nodeEvent(typ, reason, msg string) {
	e.log.Info("dry-run: would record Event", zap.String("type", typ), zap.String("reason", reason), zap.String("message", msg))
}

func (e *dryEffects) post(d hookData) {
	e.hook.Send(hooks.DryRun(d)) // nil without --dry-run-webhook: nothing sent
}

func (e *dryEffects) cordoned(d interrupt.Drain, log *zap.Logger) interrupt.Outcome {
	log.Info("dry-run: cordon planned (--cordon-only), nothing changed")
	return interrupt.Planned
}

func (e *dryEffects) notCordoned(d interrupt.Drain, err error, log *zap.Logger) interrupt.Outcome {
	log.Warn("dry-run: the node could not be read to plan the drain", zap.Error(err))
	return interrupt.Planned
}

func (e *dryEffects) watched(d interrupt.Drain, rep *drain.Report, log *zap.Logger) {
	log.Info("dry-run: watch of the emptied node ended, nothing changed", zap.String("summary", rep.Summary()))
}

func (e *dryEffects) drained(d interrupt.Drain, rep *drain.Report, resumed bool, log *zap.Logger) interrupt.Outcome {
	log.Info("dry-run: drain planned, nothing changed", reportFields(d, rep, resumed)...)
	return interrupt.Planned
}
