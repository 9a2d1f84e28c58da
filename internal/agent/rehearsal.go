package agent

import (
	"context"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/spot-handler/spot-handler/internal/interrupt"
)

// RehearsalAnnotation, set on a node to an RFC 3339 time, is a rehearsed
// Spot interruption with that termination time. Only an agent started with
// --allow-rehearsal acts on it; changing the time updates it, removing it
// withdraws it, and a real notice always wins over it.
const RehearsalAnnotation = "spot-handler.io/rehearse-interruption"

// rehearsalPrefix starts the ID of a rehearsed notice.
const rehearsalPrefix = "rehearsal-"

// RehearsalNotice turns the annotation's value into the notice it stands
// for; ok is false if the value is not an RFC 3339 time.
func RehearsalNotice(value string, detected time.Time) (interrupt.Notice, bool) {
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return interrupt.Notice{}, false
	}
	return interrupt.Notice{Kind: interrupt.SpotInterruption, ID: rehearsalPrefix + t.UTC().Format(time.RFC3339), Action: "terminate",
		Deadline: t, Detected: detected, Source: interrupt.SourceRehearsal, Description: "rehearsal (" + RehearsalAnnotation + ")"}, true
}

// watchRehearsal watches this one Node (a field selector: no other node is
// read) and reports the rehearsal annotation as set or cleared when it
// changes. Its first answer after a start is always reported: it tells the
// state machine whether a rehearsal recorded on the node is still wanted.
func (a *Agent) watchRehearsal(ctx context.Context) {
	log := a.log.With(zap.String("node", a.cfg.NodeName))
	type seen struct {
		has   bool
		value string
	}
	var last *seen
	sel := fields.OneTermEqualSelector("metadata.name", a.cfg.NodeName).String()
	for ctx.Err() == nil {
		w, err := a.kube.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			log.Warn("watching the node for rehearsals failed; retrying", zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-a.clock.After(2 * time.Second):
			}
			continue
		}
		for ev := range w.ResultChan() {
			node, ok := ev.Object.(*corev1.Node)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			v, has := node.Annotations[RehearsalAnnotation]
			if last != nil && *last == (seen{has, v}) {
				continue
			}
			last = &seen{has, v}
			n, valid := RehearsalNotice(v, a.clock.Now())
			switch {
			case has && !valid:
				log.Error("rehearsal annotation is not an RFC 3339 time; ignored", zap.String("value", v))
			case has:
				a.report(ctx, interrupt.RehearsalSet{Notice: n})
			default:
				a.report(ctx, interrupt.RehearsalCleared{})
			}
		}
		w.Stop()
	}
}
