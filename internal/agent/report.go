package agent

import (
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// report turns a drain's Report into metrics, logs, Events on the node and
// on each pod, and a webhook call.
func (a *Agent) report(n imds.Notice, rep *drain.Report, err error, log *zap.Logger) {
	a.m.DetectionToCordon.Observe(rep.Cordoned.Sub(n.Detected).Seconds())
	fields := []zap.Field{zap.Int("pods", len(rep.Pods)), zap.Bool("empty", rep.Empty),
		zap.Duration("took", rep.Finished.Sub(n.Detected)), zap.Duration("spare", rep.Spare()),
		zap.Duration("all_evictions_accepted_after", rep.AllAccepted.Sub(n.Detected)), zap.Bool("resumed", rep.Resumed)}
	for o, c := range rep.Counts() {
		fields = append(fields, zap.Int(string(o), c))
	}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	if a.cfg.DryRun {
		log.Info("dry-run: drain planned, nothing changed", fields...)
		return
	}
	for _, p := range rep.Pods {
		a.m.Pods.WithLabelValues(string(p.Outcome)).Inc()
		a.podEvent(p, n)
	}
	if rep.Empty {
		a.m.DrainDuration.Observe(rep.Finished.Sub(n.Detected).Seconds())
		log.Info("drain finished: node empty", fields...)
		a.nodeEvent(corev1.EventTypeNormal, "Drained", "%s", rep.Summary())
	} else {
		a.m.MissedDeadline.Inc()
		log.Error("drain missed its deadline: pods still running", fields...)
		for _, p := range rep.Blocking() {
			log.Warn("pod still running at deadline", zap.String("pod", p.Namespace+"/"+p.Name),
				zap.String("reason", p.Reason), zap.String("pdb", p.PDB), zap.Int("attempts", p.Attempts))
		}
		a.nodeEvent(corev1.EventTypeWarning, "DrainMissedDeadline", "%s", rep.Summary())
	}
	for _, p := range rep.Pods {
		if p.Warning != "" && p.Outcome != drain.RunningAtDeadline {
			log.Info("pod drained with loss", zap.String("pod", p.Namespace+"/"+p.Name), zap.String("warning", p.Warning))
		}
	}
	a.hook.send(hookData{Event: "drained", Node: a.cfg.NodeName, Kind: string(n.Kind), Action: n.Action,
		Deadline: rep.Deadline, Summary: rep.Summary(), Empty: rep.Empty, Identity: a.identity.Load()})
}

// podEvent records what happened to one pod on the pod itself.
func (a *Agent) podEvent(p drain.PodResult, n imds.Notice) {
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: p.Namespace, Name: p.Name, UID: p.UID}
	switch p.Outcome {
	case drain.Evicted:
		a.rec.Eventf(ref, corev1.EventTypeNormal, "EvictedBySpotHandler", "%s notice on node %s: %s", n.Kind, a.cfg.NodeName, p.Reason)
	case drain.DeletedAfterCutoff:
		a.rec.Eventf(ref, corev1.EventTypeWarning, "DeletedAfterPDBCutoff", "%s notice on node %s: %s", n.Kind, a.cfg.NodeName, p.Reason)
	case drain.RunningAtDeadline:
		a.rec.Eventf(ref, corev1.EventTypeWarning, "RunningAtDeadline", "%s notice on node %s: %s", n.Kind, a.cfg.NodeName, p.Reason)
	}
}

// nodeEvent records an Event on this agent's Node.
func (a *Agent) nodeEvent(typ, reason, format string, args ...any) {
	ref := &corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: a.cfg.NodeName, UID: types.UID(a.cfg.NodeName)}
	a.rec.Event(ref, typ, reason, fmt.Sprintf(format, args...))
}

// rfc3339 formats t for people and webhooks.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
