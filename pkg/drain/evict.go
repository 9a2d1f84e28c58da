package drain

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podJob is the eviction of one pod of the drain.
type podJob struct {
	pod corev1.Pod
	res PodResult
	// answered is closed once the first eviction request has an answer, so
	// the next priority wave can start.
	answered chan struct{}
	// held is true when a PDB allowed no disruption of the pod when the
	// drain planned: it goes in a later wave.
	held bool
	// started is set when its eviction starts (by the drain's goroutine);
	// done is closed when the eviction has ended, so res may be read.
	started bool
	done    chan struct{}
}

func newJob(p corev1.Pod) *podJob {
	return &podJob{pod: p, answered: make(chan struct{}), done: make(chan struct{}),
		res: PodResult{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Priority: priority(&p), Warning: evictWarning(&p)}}
}

// evict runs one pod's eviction to its end: accepted, gone, terminated by
// someone else, or refused until ctx ends (at deadline − margin), with the
// fallback at the pod's cut-off. Every answer has an outcome (see
// answerOf): refusals, a PDB's or any other, are retried until the cut-off
// and then handled as the policy says; passing failures are retried,
// honouring Retry-After. A pod found terminating when no request of this
// drain's is out (before the plan, or since, by anyone) is not evicted
// again: its grace is cut to end before deadline − margin (see
// terminatedElsewhere). A request holds one of sl's slots; waiting between
// attempts holds none, and costs a timer, not a goroutine.
func (d *Drainer) evict(ctx context.Context, j *podJob, tr *tracker, sl *slots, started, deadline time.Time) {
	defer close(j.done)
	answered := false
	answer := func() {
		if !answered {
			answered = true
			close(j.answered)
		}
	}
	defer answer()
	pod, res := &j.pod, &j.res
	own := ownGrace(pod.Spec.TerminationGracePeriodSeconds)
	cut := cutoff(own, started, deadline, d.policy)
	log := d.log.With(zap.String("pod", pod.Namespace+"/"+pod.Name))

	if pod.DeletionTimestamp != nil {
		// Terminating when the drain first saw it: before the plan, or, for
		// a pod that reached the node later, by then.
		by := ByOtherBeforePlan
		if !res.Arrived.IsZero() {
			by = ByOtherAfterPlan
		}
		answer()
		d.terminatedElsewhere(ctx, pod, by, deadline, res, sl, log)
		return
	}
	var b backoff
	last := ""
	nsGoing := false // the pod's namespace is being deleted: delete it now
	for ctx.Err() == nil {
		if _, gone := tr.gone(pod.UID); gone {
			res.Outcome, res.Reason = GoneBeforeEviction, "left the node before its eviction was accepted"
			return
		}
		if cur := tr.get(pod.UID); cur != nil && cur.DeletionTimestamp != nil {
			// No request of this drain's is out and none was accepted:
			// someone else started its termination since the plan.
			answer()
			d.terminatedElsewhere(ctx, cur, ByOtherAfterPlan, deadline, res, sl, log)
			return
		}
		if !sl.acquire(ctx, res.Attempts == 0) {
			return
		}
		now := d.clock.Now()
		fallback := nsGoing || d.policy.PDBFallback == FallbackDelete && res.Attempts > 0 && !now.Before(cut)
		g := gracePeriod(own, now, deadline, d.policy)
		res.Grace = g
		res.Attempts++
		var err error
		if fallback {
			err = d.deletePod(ctx, pod, g)
		} else {
			err = d.evictPod(ctx, pod, g)
		}
		sl.release()
		answer()
		a := answerOf(err)
		switch a.kind {
		case accepted:
			res.Accepted, res.TerminatedBy = d.clock.Now(), ByDrain
			res.Outcome, res.Reason = Evicted, fmt.Sprintf("evicted with %ds grace", g)
			if nsGoing {
				res.Outcome, res.Reason = DeletedAfterRefusal, fmt.Sprintf("its namespace is being deleted, which refuses evictions; deleted with %ds grace", g)
				log.Info("pod deleted: its namespace is being deleted, which refuses evictions", zap.Int64("grace", g))
			} else if fallback {
				res.Outcome, res.Reason = fallbackOutcome(res, cut, g)
				log.Info("pod deleted after its eviction was refused until the cut-off", zap.String("pdb", res.PDB),
					zap.String("refusal", res.Refusal), zap.Int64("grace", g))
			} else {
				log.Debug("pod evicted", zap.Int64("grace", g))
			}
			d.afterAccepted(ctx, pod.UID, g, tr, deadline, res, sl, log)
			return
		case goneAnswer:
			res.Outcome, res.Reason = GoneBeforeEviction, "gone before its eviction was accepted"
			return
		case pdbBlocked:
			if res.PDB == "" {
				res.PDB = pod.Namespace + "/" + a.pdb
				log.Info("eviction refused by PodDisruptionBudget, retrying until cut-off",
					zap.String("pdb", res.PDB), zap.Time("cutoff", cut), zap.String("fallback", string(d.policy.PDBFallback)))
			}
		case refused:
			// A namespace being deleted refuses evictions, not deletions:
			// the pod goes now, with the drain's grace, whatever the
			// fallback (the namespace's deletion removes it anyway).
			nsGoing = nsGoing || a.nsGoing
			if res.Refusal != a.message && !a.nsGoing {
				log.Warn("eviction refused, retrying until cut-off", zap.String("refusal", a.message),
					zap.Time("cutoff", cut), zap.String("fallback", string(d.policy.PDBFallback)))
			}
			res.Refusal = a.message
		case retryable:
			if ctx.Err() != nil {
				return // the request ended with the drain
			}
			if a.message != last {
				log.Warn("eviction failed, retrying", zap.Error(err))
			}
		}
		last = a.message
		res.Reason = d.notYet(a, res, fallback)
		wait := b.next(a.wait)
		if until := cut.Sub(d.clock.Now()); d.policy.PDBFallback == FallbackDelete && !fallback && until < wait {
			// Never wait past the cut-off for the fallback: an eviction
			// sent before it and refused after it is followed by the
			// deletion at once. (A failed deletion waits its backoff.)
			wait = max(until, 0)
		}
		if wait <= 0 {
			continue
		}
		t := d.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C():
		case <-tr.leavingChan(pod.UID):
		}
		t.Stop()
	}
}

// fallbackOutcome words a pod deleted at its cut-off.
func fallbackOutcome(res *PodResult, cut time.Time, g int64) (Outcome, string) {
	at := cut.UTC().Format(time.RFC3339)
	switch {
	case res.PDB != "":
		return DeletedAfterCutoff, fmt.Sprintf("PodDisruptionBudget %s refused eviction until the cut-off %s; deleted with %ds grace", res.PDB, at, g)
	case res.Refusal != "":
		return DeletedAfterRefusal, fmt.Sprintf("eviction refused until the cut-off %s (%s); deleted with %ds grace", at, res.Refusal, g)
	default:
		return DeletedAfterRefusal, fmt.Sprintf("eviction failed until the cut-off %s; deleted with %ds grace", at, g)
	}
}

// notYet words why a pod is not yet evicted after answer a.
func (d *Drainer) notYet(a answer, res *PodResult, deleting bool) string {
	verb := "eviction"
	if deleting {
		verb = "deletion after the cut-off"
	}
	wait := ""
	if d.policy.PDBFallback == FallbackWait {
		wait = " until the deadline (--pdb-fallback=wait)"
	}
	switch a.kind {
	case pdbBlocked:
		return fmt.Sprintf("PodDisruptionBudget %s refused eviction%s", res.PDB, wait)
	case refused:
		if a.nsGoing {
			return fmt.Sprintf("%s refused: the pod's namespace is being deleted; deleting the pod instead", verb)
		}
		if a.forbidden {
			return fmt.Sprintf("%s forbidden: the agent's RBAC lacks create on pods/eviction or delete on pods (%s)", verb, a.message)
		}
		return fmt.Sprintf("%s refused by the API%s: %s", verb, wait, a.message)
	default:
		return fmt.Sprintf("%s failed, retrying: %s", verb, a.message)
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

// terminatedElsewhere takes in a pod whose termination someone else
// started (by): it is not evicted again, and its grace is cut (shorten) as
// an eviction's would be, so it is gone before deadline − margin whoever
// started it.
func (d *Drainer) terminatedElsewhere(ctx context.Context, pod *corev1.Pod, by Starter, deadline time.Time, res *PodResult, sl *slots, log *zap.Logger) {
	res.Outcome, res.TerminatedBy = GoneBeforeEviction, by
	res.Reason = "terminated by " + by.words() + "; not evicted again"
	if by == ByOtherAfterPlan {
		log.Info("pod terminated by someone else during the drain; not evicted again", zap.Time("deletion", pod.DeletionTimestamp.Time))
	}
	d.shorten(ctx, pod, deadline, res, sl, log)
}

// afterAccepted covers what the checks before each attempt cannot: an
// accepted eviction whose deletion still ends after deadline − margin. The
// API accepts an eviction of a pod someone else began to delete a moment
// before and keeps that deletion, longer grace and all; and a request's
// grace is computed when it is made, while the API may accept it seconds
// later (client-go retries a 429 with Retry-After itself, with the same
// body). Once the tracker shows the pod terminating, such a deletion is
// shortened like any other found terminating, and the report says who
// started it.
func (d *Drainer) afterAccepted(ctx context.Context, uid types.UID, g int64, tr *tracker, deadline time.Time, res *PodResult, sl *slots, log *zap.Logger) {
	// No timer: a watch down or relisting for a while must not end the
	// check (the goroutine exists anyway; it ends with the drain).
	select {
	case <-ctx.Done():
		return
	case <-tr.leavingChan(uid):
	}
	cur := tr.get(uid)
	if cur == nil || cur.DeletionTimestamp == nil || cur.DeletionGracePeriodSeconds == nil {
		return
	}
	if *cur.DeletionGracePeriodSeconds > g {
		res.TerminatedBy = ByOtherAfterPlan
		res.Reason = fmt.Sprintf("terminated by %s (with %ds grace) as its eviction was accepted", ByOtherAfterPlan.words(), *cur.DeletionGracePeriodSeconds)
	}
	d.shorten(ctx, cur, deadline, res, sl, log)
}

// shorten deletes a terminating pod again with a shorter grace period (and
// its UID as precondition) when its deletion would end after
// deadline − margin (see shortenTo); the API keeps the shorter of the two.
// Passing failures are retried while ctx lasts.
func (d *Drainer) shorten(ctx context.Context, pod *corev1.Pod, deadline time.Time, res *PodResult, sl *slots, log *zap.Logger) {
	if pod.DeletionTimestamp == nil {
		return
	}
	g, cut := shortenTo(pod.DeletionTimestamp.Time, pod.DeletionGracePeriodSeconds, d.clock.Now(), deadline, d.policy)
	if !cut {
		return
	}
	err := retryTransient(ctx, d.clock, func(ctx context.Context) error {
		if !sl.acquire(ctx, true) {
			return ctx.Err()
		}
		defer sl.release()
		return d.deletePod(ctx, pod, g)
	})
	if err != nil && answerOf(err).kind != goneAnswer {
		log.Warn("could not shorten the grace period of a terminating pod", zap.Error(err))
		return
	}
	res.Grace = g
	res.Reason += fmt.Sprintf("; grace shortened from %ds to %ds to end before the deadline", *pod.DeletionGracePeriodSeconds, g)
	log.Info("grace period of a terminating pod cut to end before the deadline", zap.Int64("was", *pod.DeletionGracePeriodSeconds), zap.Int64("grace", g))
}
