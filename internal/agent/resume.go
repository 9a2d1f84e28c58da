package agent

import (
	"context"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// resume runs once at start-up. It reads this node (retrying until the API
// answers: that answer makes /readyz ready) and reports what a previous
// agent recorded on it; then it reports each IMDS path as synced once that
// path has answered, so the state machine undoes a recorded notice that its
// path no longer shows (a canceled event, a false alarm, an instance back
// from a stop) and keeps one it shows again (the drain resumes). A final
// interruption still in force is resumed by the machine at once.
func (a *Agent) resume(ctx context.Context) {
	log := a.log.With(zap.String("node", a.cfg.NodeName))
	backoff := wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 30 * time.Second}
	for {
		n, err := a.kube.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err == nil {
			a.apiReady.Store(true)
			rec, err := drain.ReadNotice(n)
			if err != nil {
				log.Error("the node's notice annotation is unreadable: it is removed unless a notice needs the node", zap.Error(err))
				a.report(ctx, interrupt.Resumed{Unreadable: err})
			} else {
				a.report(ctx, interrupt.Resumed{Record: recorded(rec)})
			}
			break
		}
		log.Error("cannot read this node from the API server: check the kubeconfig or in-cluster service account, RBAC (get on nodes) and --node-name; retrying",
			zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-a.clock.After(backoff.Step()):
		}
	}
	a.awaitPaths(ctx)
}

// awaitPaths reports each instance metadata path as synced once that path
// itself has answered since start-up (its notices already sent), and then
// all of IMDS; a path that keeps failing (a 5xx on the Spot path while the
// others answer 404) is never reported, so what was recorded for its kind
// stays on the node.
func (a *Agent) awaitPaths(ctx context.Context) {
	pending := imds.Kinds()
	for len(pending) > 0 {
		left := pending[:0]
		for _, k := range pending {
			if at := a.watcher.Answered(k); !at.IsZero() && !at.Before(a.started) {
				a.report(ctx, interrupt.Synced{Source: interrupt.SourceIMDS, Kind: interrupt.Kind(k)})
				continue
			}
			left = append(left, k)
		}
		if pending = left; len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-a.clock.After(a.cfg.PollInterval / 4):
		}
	}
	a.report(ctx, interrupt.Synced{Source: interrupt.SourceIMDS})
}

// recorded is the state machine's view of the agent's own notice in the
// node's record (instance metadata's or a rehearsal's), nil if the agent
// holds none: a notice the controller holds (mode both) is the
// controller's, never handed to the machine, so the agent never undoes it.
func recorded(rec *drain.NodeNotice) *interrupt.Recorded {
	n := rec.Held(drain.SourceIMDS)
	if n == nil {
		return nil
	}
	return &interrupt.Recorded{Kind: interrupt.Kind(n.Kind), ID: n.ID, Action: n.Action, Source: interrupt.Source(drain.SourceOf(*n)),
		Deadline: n.Deadline, Detected: n.Detected, TaintOnly: n.TaintOnly}
}
