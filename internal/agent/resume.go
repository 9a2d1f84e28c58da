package agent

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// resume runs once at start-up. It reads this node (retrying until the API
// answers: that answer makes /readyz ready) and, if a previous agent left a
// notice on it, waits for IMDS's first full answer: a notice still present
// is delivered again by the watcher and its drain resumes; a notice gone
// (canceled maintenance, a false alarm) is undone with Uncordon.
func (a *Agent) resume(ctx context.Context) {
	log := a.log.With(zap.String("node", a.cfg.NodeName))
	var notice *drain.NodeNotice
	backoff := wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 30 * time.Second}
	for {
		n, err := a.kube.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err == nil {
			a.apiReady.Store(true)
			notice, err = a.actor.Notice(ctx, n.Name)
			if err != nil {
				log.Error("the node's notice annotation is unreadable; leaving it", zap.Error(err))
				return
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
	if notice == nil {
		return
	}
	log.Info("node carries a notice from an earlier agent", zap.String("kind", notice.Kind), zap.String("notice_id", notice.ID),
		zap.Time("deadline", notice.Deadline))
	if a.cfg.AllowRehearsal && strings.HasPrefix(notice.ID, rehearsalPrefix) {
		return // the rehearsal watch delivers it again, or its withdrawal
	}
	// Wait for a complete poll cycle that reached IMDS.
	for {
		if !a.watcher.LastSuccess().Before(a.started) && a.watcher.LastPoll().After(a.started.Add(a.cfg.PollInterval)) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-a.clock.After(a.cfg.PollInterval / 4):
		}
	}
	for _, n := range a.watcher.Current() {
		// The same notice, or a newer version of it (its time changed).
		if n.ID == notice.ID || string(n.Kind) == notice.Kind {
			log.Info("notice still present: resuming its drain", zap.String("notice_id", n.ID))
			return
		}
	}
	a.mu.Lock()
	busy := len(a.acted) > 0 || a.current != nil
	a.mu.Unlock()
	if busy {
		// This agent is already acting on a current notice (the annotation
		// may even be its own): leave the node to that.
		log.Info("a current notice is being handled: leaving the node as it is", zap.String("notice_id", notice.ID))
		return
	}
	log.Info("notice no longer present (canceled or false alarm): uncordoning", zap.String("notice_id", notice.ID))
	if err := a.actor.Uncordon(ctx, a.cfg.NodeName); err != nil {
		log.Error("uncordoning the node failed", zap.Error(err))
		return
	}
	a.nodeEvent("Normal", "Uncordoned", "notice %s (%s) is gone since the last agent ran: node uncordoned", notice.ID, notice.Kind)
}
