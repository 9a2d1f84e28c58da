package drain

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// plan runs kubectl's filters (see choose) on the pods on the node and
// splits them into those to evict, lowest priority first (then by
// namespace/name), those left alone with the reason, and those the filters
// could not decide on yet (their DaemonSet could not be read), with the
// error. Finished pods (Succeeded, Failed) hold no process and are in
// none. The pass spends at most lookupTimeout on DaemonSet reads: a slow
// API delays no eviction longer than that, and the pods it leaves undecided
// are asked about again.
func (d *Drainer) plan(ctx context.Context, onNode []corev1.Pod) ([]corev1.Pod, []SkippedPod, map[types.UID]error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	var pods []corev1.Pod
	var skipped []SkippedPod
	undecided := map[types.UID]error{}
	for i := range onNode {
		p := &onNode[i]
		if finished(p) {
			continue
		}
		c := d.choose(ctx, p)
		switch {
		case c.err != nil:
			undecided[p.UID] = c.err
		case c.evict:
			pods = append(pods, *p)
		default:
			skipped = append(skipped, SkippedPod{Namespace: p.Namespace, Name: p.Name, Reason: c.reason})
		}
	}
	sortPlan(pods)
	return pods, skipped, undecided
}

// lookup is a pod kubectl's filters could not decide on: the read of its
// DaemonSet failed (the API failed, or refused it). It is asked about again
// with a backoff until the drain ends, and reported if it never is decided.
type lookup struct {
	pod    *corev1.Pod
	b      backoff
	err    error
	first  time.Time // of the first failure: when the drain first saw the pod
	at     time.Time // of the last failure
	next   time.Time // when to ask again
	atPlan bool      // the pod was on the node when the drain planned
}

// undecided records a failed decision on p and when to ask again, and
// returns the record.
func (r *drainRun) undecided(p *corev1.Pod, err error) *lookup {
	l := r.lookups[p.UID]
	if l == nil {
		l = &lookup{first: r.d.clock.Now()}
		r.lookups[p.UID] = l
	}
	wait := l.b.next(retryAfter(err))
	l.pod, l.err, l.at = p, err, r.d.clock.Now()
	l.next = l.at.Add(wait)
	r.d.log.Warn("kubectl's drain filters could not decide on a pod; asking again", zap.String("pod", p.Namespace+"/"+p.Name),
		zap.Error(err), zap.Duration("retry_in", wait))
	return l
}

// nextLookup is when the next undecided pod is due, if any.
func (r *drainRun) nextLookup() (time.Time, bool) {
	var at time.Time
	for _, l := range r.lookups {
		if at.IsZero() || l.next.Before(at) {
			at = l.next
		}
	}
	return at, !at.IsZero()
}

// reportUndecided lists the pods still undecided when the drain ended, with
// the error that kept them undecided: the node is not empty while one is
// there.
func (r *drainRun) reportUndecided(rep *Report) {
	for uid, l := range r.lookups {
		if _, gone := r.tr.gone(uid); gone {
			continue
		}
		rep.Undecided = append(rep.Undecided, SkippedPod{Namespace: l.pod.Namespace, Name: l.pod.Name,
			Reason: fmt.Sprintf("undecided: kubectl's drain filters could not decide on it until the drain ended: %v", l.err)})
	}
}
