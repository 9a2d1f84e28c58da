package drain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Backoff between refused eviction attempts of one pod.
const (
	firstRetry = 200 * time.Millisecond
	maxRetry   = 2 * time.Second
)

// podJob is the eviction of one planned pod.
type podJob struct {
	pod corev1.Pod
	res *PodResult
	// answered is closed once the first eviction request has an answer, so
	// the next priority wave can start.
	answered chan struct{}
}

// evict runs one pod's eviction to its end: accepted, gone, or refused
// until its cut-off and then handled as the policy says. end is
// deadline − margin; ctx ends at end.
func (d *Drainer) evict(ctx context.Context, j *podJob, tr *tracker, started, deadline time.Time) {
	answered := false
	answer := func() {
		if !answered {
			answered = true
			close(j.answered)
		}
	}
	defer answer()
	pod := &j.pod
	own := ownGrace(pod.Spec.TerminationGracePeriodSeconds)
	cut := cutoff(own, started, deadline, d.policy)
	log := d.log.With(zap.String("pod", pod.Namespace+"/"+pod.Name))

	if pod.DeletionTimestamp != nil {
		j.res.Outcome, j.res.Reason = GoneBeforeEviction, "already terminating when the drain began; watched, not evicted again"
		d.shorten(ctx, pod, deadline, j.res, log)
		return
	}
	wait := firstRetry
	var lastErr error
	for ctx.Err() == nil {
		if _, gone := tr.gone(pod.UID); gone {
			j.res.Outcome, j.res.Reason = GoneBeforeEviction, "left the node before its eviction was accepted"
			return
		}
		if cur := tr.get(pod.UID); j.res.Attempts == 0 && cur != nil && cur.DeletionTimestamp != nil {
			// Someone else (another drain of this node) is already evicting it.
			j.res.Outcome, j.res.Reason = GoneBeforeEviction, "already terminating; watched, not evicted again"
			return
		}
		now := d.clock.Now()
		fallback := d.policy.PDBFallback == FallbackDelete && j.res.PDB != "" && !now.Before(cut)
		g := gracePeriod(own, now, deadline, d.policy)
		j.res.Grace = g
		j.res.Attempts++
		var err error
		if fallback {
			err = d.deletePod(ctx, pod, g)
		} else {
			err = d.evictPod(ctx, pod, g)
		}
		answer()
		switch {
		case err == nil:
			j.res.Accepted = d.clock.Now()
			if fallback {
				j.res.Outcome = DeletedAfterCutoff
				j.res.Reason = fmt.Sprintf("PodDisruptionBudget %s refused eviction until the cut-off %s; deleted with %ds grace",
					j.res.PDB, cut.UTC().Format(time.RFC3339), g)
				log.Info("pod deleted after PDB cut-off", zap.String("pdb", j.res.PDB), zap.Int64("grace", g))
			} else {
				j.res.Outcome, j.res.Reason = Evicted, fmt.Sprintf("evicted with %ds grace", g)
				log.Debug("pod evicted", zap.Int64("grace", g))
			}
			return
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			// Not found, or the UID precondition failed: this pod is gone
			// (maybe replaced by one with the same name).
			j.res.Outcome, j.res.Reason = GoneBeforeEviction, "gone before its eviction was accepted"
			return
		case apierrors.IsTooManyRequests(err):
			if j.res.PDB == "" {
				j.res.PDB = d.blockingPDB(ctx, pod, err)
				log.Info("eviction refused by PodDisruptionBudget, retrying until cut-off",
					zap.String("pdb", j.res.PDB), zap.Time("cutoff", cut), zap.String("fallback", string(d.policy.PDBFallback)))
			}
		default:
			if lastErr == nil || lastErr.Error() != err.Error() {
				log.Warn("eviction failed, retrying", zap.Error(err))
			}
		}
		lastErr = err
		j.res.Reason = reasonFor(err, j.res.PDB, d.policy.PDBFallback)
		next := wait
		if j.res.PDB != "" && d.policy.PDBFallback == FallbackDelete {
			if untilCut := cut.Sub(d.clock.Now()); untilCut > 0 && untilCut < next {
				next = untilCut
			}
		}
		select {
		case <-ctx.Done():
		case <-d.clock.After(next):
		case <-tr.waitOne(ctx, pod.UID):
		}
		wait = min(wait*2, maxRetry)
	}
}

// reasonFor words why a pod is not yet evicted.
func reasonFor(err error, pdb string, fb PDBFallback) string {
	switch {
	case apierrors.IsTooManyRequests(err) && fb == FallbackWait:
		return fmt.Sprintf("PodDisruptionBudget %s refused eviction until the deadline (--pdb-fallback=wait)", pdb)
	case apierrors.IsTooManyRequests(err):
		return fmt.Sprintf("PodDisruptionBudget %s refused eviction", pdb)
	case apierrors.IsForbidden(err):
		return "eviction forbidden: the agent's RBAC lacks create on pods/eviction (" + err.Error() + ")"
	default:
		return "eviction failed: " + err.Error()
	}
}

func (d *Drainer) evictPod(ctx context.Context, pod *corev1.Pod, grace int64) error {
	uid := pod.UID
	ev := &policyv1.Eviction{
		ObjectMeta:    metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
		DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: &grace, Preconditions: &metav1.Preconditions{UID: &uid}},
	}
	return d.client.PolicyV1().Evictions(pod.Namespace).Evict(ctx, ev)
}

func (d *Drainer) deletePod(ctx context.Context, pod *corev1.Pod, grace int64) error {
	uid := pod.UID
	return d.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name,
		metav1.DeleteOptions{GracePeriodSeconds: &grace, Preconditions: &metav1.Preconditions{UID: &uid}})
}

// shorten re-deletes a pod that was already terminating if its grace period
// would outlast deadline − margin; the API keeps the shorter of the two.
func (d *Drainer) shorten(ctx context.Context, pod *corev1.Pod, deadline time.Time, res *PodResult, log *zap.Logger) {
	end := deadline.Add(-d.policy.Margin)
	if pod.DeletionTimestamp == nil || !pod.DeletionTimestamp.After(end) {
		return
	}
	now := d.clock.Now()
	g := gracePeriod(pod.DeletionTimestamp.Sub(now), now, deadline, d.policy)
	if err := d.deletePod(ctx, pod, g); err != nil && !apierrors.IsNotFound(err) {
		log.Warn("could not shorten the grace period of a terminating pod", zap.Error(err))
		return
	}
	res.Grace = g
	res.Reason += fmt.Sprintf("; grace shortened to %ds to end before the deadline", g)
}

// blockingPDB names the PodDisruptionBudget behind a 429: from the error's
// causes, else the first PDB in the namespace that selects the pod.
func (d *Drainer) blockingPDB(ctx context.Context, pod *corev1.Pod, err error) string {
	var se *apierrors.StatusError
	if errors.As(err, &se) && se.ErrStatus.Details != nil {
		for _, c := range se.ErrStatus.Details.Causes {
			const prefix = "The disruption budget "
			if rest, ok := strings.CutPrefix(c.Message, prefix); ok {
				if name, _, ok := strings.Cut(rest, " "); ok {
					return pod.Namespace + "/" + name
				}
			}
		}
	}
	pdbs, lerr := d.client.PolicyV1().PodDisruptionBudgets(pod.Namespace).List(ctx, metav1.ListOptions{})
	if lerr == nil {
		for _, pdb := range pdbs.Items {
			sel, serr := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if serr == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
				return pod.Namespace + "/" + pdb.Name
			}
		}
	}
	return pod.Namespace + "/(unknown PDB)"
}
