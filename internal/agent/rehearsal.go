package agent

import (
	"context"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/spot-handler/spot-handler/pkg/imds"
)

// RehearsalAnnotation, set on a node to an RFC 3339 time, is a rehearsed
// Spot interruption with that termination time. Only an agent started with
// --allow-rehearsal acts on it; removing it withdraws the notice.
const RehearsalAnnotation = "spot-handler.io/rehearse-interruption"

// rehearsalPrefix starts the ID of a rehearsed notice.
const rehearsalPrefix = "rehearsal-"

// RehearsalNotice turns the annotation's value into the notice it stands
// for; ok is false if the value is not an RFC 3339 time.
func RehearsalNotice(value string, detected time.Time) (imds.Notice, bool) {
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return imds.Notice{}, false
	}
	return imds.Notice{Kind: imds.SpotInterruption, ID: rehearsalPrefix + t.UTC().Format(time.RFC3339), Action: "terminate",
		Deadline: t, Detected: detected, Description: "rehearsal (" + RehearsalAnnotation + ")"}, true
}

// watchRehearsal watches this one Node (a field selector: no other node is
// read) and sends a Spot notice when the rehearsal annotation appears, and
// its withdrawal when it goes.
func (a *Agent) watchRehearsal(ctx context.Context, out chan<- imds.Notice) {
	log := a.log.With(zap.String("node", a.cfg.NodeName))
	var sent *imds.Notice
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
			n, valid := RehearsalNotice(v, a.clock.Now())
			switch {
			case has && !valid:
				log.Error("rehearsal annotation is not an RFC 3339 time; ignored", zap.String("value", v))
			case has && (sent == nil || sent.ID != n.ID):
				log.Info("rehearsal requested", zap.Time("deadline", n.Deadline))
				sent = &n
				send(ctx, out, n)
			case !has && sent != nil:
				c := *sent
				c.Canceled = true
				sent = nil
				send(ctx, out, c)
			}
		}
		w.Stop()
	}
}

func send(ctx context.Context, out chan<- imds.Notice, n imds.Notice) {
	select {
	case out <- n:
	case <-ctx.Done():
	}
}
