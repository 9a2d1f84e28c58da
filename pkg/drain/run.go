package drain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// ErrDeadline is in Report.Err when pods were still on the node at
// deadline − margin (or at the end of a late notice's short window).
var ErrDeadline = errors.New("deadline minus margin reached")

// Drain cordons the node, evicts its pods in priority waves and waits for
// them until deadline − margin. Every step after the first read of the node
// retries passing API failures (5xx, throttling, timeouts, refused or reset
// connections, watches ended early) while time is left: a drain ends when
// the node is empty, when time is up, or on a lasting failure (the node is
// gone, access is forbidden). Pods that reach the node while it drains are
// evicted too, and a pod someone else terminates has its grace cut as an
// eviction's would be.
//
// The node is empty when every pod that must leave is gone and no pod is
// undecided (its DaemonSet could not be read). Without req.OnEmpty, Drain
// returns at that moment. With it, Drain calls req.OnEmpty then and keeps
// the node under watch until deadline − margin, draining every pod that
// reaches it by the same rules (Report.Late), until ctx ends: ctx ending
// while the node is empty ends the watch, not the drain.
//
// The Report names every pod and what became of it, and Report.Err says
// what ended the drain (nil when the node was empty at the end). The
// returned error is not nil when the drain could not run to its end: ctx
// ended with pods still on the node, or the node could not be cordoned or
// its pods listed before time was up; it is then Report.Err too.
func (d *Drainer) Drain(ctx context.Context, req Request) (*Report, error) {
	req.Source = req.source()
	started := d.clock.Now()
	rep := &Report{Node: req.Node, Kind: req.Kind, Deadline: req.Deadline, Margin: d.policy.Margin, Started: started}
	fail := func(err error) (*Report, error) {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			err = fmt.Errorf("drain of node %s stopped before the node was empty: %w", req.Node, err)
		} else if cerr != nil {
			err = fmt.Errorf("drain of node %s stopped before the node was empty: %w", req.Node, errors.Join(err, cerr))
		}
		rep.Err, rep.Finished = err, d.clock.Now()
		return rep, err
	}
	cordonCtx, cancelCordon := d.until(ctx, waitEnd(req.Deadline, started, d.policy))
	defer cancelCordon()
	// Cordon, learning from the node it reads whether this drain continues
	// one started before (one GET, not two, before the first write): the
	// notice recorded by another process, or by a drain of this Drainer
	// that ended; a record this Drainer's Cordon just wrote is this drain's.
	ranBefore := d.runs.ran(req.Node, req.NoticeID)
	err := retryTransient(cordonCtx, d.clock, func(ctx context.Context) error {
		err := patchNode(ctx, d.client, req.Node, func(n *corev1.Node) ([]patchOp, error) {
			old, _ := parseNotice(n)
			rep.Resumed = continues(old, req, d.self, ranBefore)
			return d.mark(n, req, false)
		})
		if transient(err) {
			d.log.Warn("cordoning the node failed, retrying", zap.String("node", req.Node), zap.Error(err))
		}
		return err
	})
	if err != nil && apierrors.IsForbidden(err) && ctx.Err() == nil {
		// The API refuses to mark the node (RBAC, or an admission policy
		// such as the chart's node-bound one, misconfigured), which no retry
		// mends. Evicting its pods may still be allowed, and a pod left on
		// a dying instance is worse than one scheduled there again: drain
		// without the mark (and without a claim, see tryClaim).
		rep.Unmarked, err = err.Error(), nil
		d.log.Error("the API forbids cordoning and tainting the node; draining it anyway (pods may be scheduled onto it again): check the RBAC and admission policies for the drainer's account",
			zap.String("node", req.Node), zap.String("refusal", rep.Unmarked))
	}
	if err != nil {
		return fail(err)
	}
	if rep.Unmarked == "" {
		rep.Cordoned = d.clock.Now()
		d.runs.start(req.Node, req.NoticeID)
		d.log.Info("node cordoned and tainted", zap.String("node", req.Node), zap.String("kind", req.Kind),
			zap.Time("deadline", req.Deadline), zap.Duration("took", rep.Cordoned.Sub(started)))
	}

	end := waitEnd(req.Deadline, d.clock.Now(), d.policy)
	endCtx, cancel := d.until(ctx, end)
	defer cancel()
	tr, onNode, err := startTracker(endCtx, d.client, req.Node, d.clock, d.log)
	if err != nil {
		return fail(fmt.Errorf("listing pods on node %s: %w", req.Node, err))
	}
	pods, skipped, undecided := d.plan(endCtx, onNode)
	pods, held := d.orderByBudgets(endCtx, pods)
	rep.Skipped = skipped
	r := &drainRun{d: d, tr: tr, sl: newSlots(d.policy.Parallelism).gated(req.Gate), started: started, deadline: req.Deadline,
		node: req.Node, known: map[types.UID]bool{}, lookups: map[types.UID]*lookup{}}
	r.owner, _ = d.tryClaim(endCtx, req.Node, req.Deadline)
	if !r.owner {
		rep.OtherDrainer = d.claimHolder(endCtx, req.Node)
		d.log.Info("another drain of this node is evicting its pods; watching them go", zap.String("node", req.Node),
			zap.String("holder", rep.OtherDrainer))
	}
	for i := range onNode {
		if err, ok := undecided[onNode[i].UID]; ok {
			r.undecided(&onNode[i], err).atPlan = true
			continue
		}
		r.known[onNode[i].UID] = true
	}
	for i, p := range pods {
		j := newJob(p)
		j.held = held[i]
		r.jobs = append(r.jobs, j)
	}
	d.log.Info("drain planned", zap.String("node", req.Node), zap.Int("pods", len(pods)), zap.Int("skipped", len(skipped)),
		zap.Duration("time_left", end.Sub(d.clock.Now())), zap.Bool("resumed", rep.Resumed))

	rep.Empty = r.run(endCtx, rep, req.OnEmpty)
	rep.Finished = d.clock.Now()
	if r.owner {
		d.unclaim(req.Node)
	}
	if r.owned {
		rep.OtherDrainer = ""
	}
	d.settle(rep, r.jobs, tr)
	r.reportUndecided(rep)
	switch {
	case rep.Empty:
		return rep, nil
	case ctx.Err() != nil:
		return fail(ctx.Err())
	}
	left := len(rep.Blocking()) + len(rep.Undecided)
	if last := r.lastError(); last != nil {
		rep.Err = fmt.Errorf("%d pods still on node %s: %w (last API failure: %w)", left, req.Node, ErrDeadline, last)
	} else {
		rep.Err = fmt.Errorf("%d pods still on node %s: %w", left, req.Node, ErrDeadline)
	}
	return rep, nil
}

// drainRun is one drain's evictions in progress.
type drainRun struct {
	d                 *Drainer
	tr                *tracker
	sl                *slots
	started, deadline time.Time
	node              string
	owner             bool // this drain holds the node's claim and evicts
	owned             bool // it held the claim at some time
	idle              bool // the node is empty: the claim is given up and not renewed
	jobs              []*podJob
	known             map[types.UID]bool // every pod seen on the node and decided on
	lookups           map[types.UID]*lookup
	wg                sync.WaitGroup
	order             *schedule // the planned pods' waves (waves.go), once the drain evicts
}

// run starts the evictions in waves by drain order, lowest first (see
// waves.go): a wave starts when the waves before it are gone, or at its
// latest start if they are not, and never before the previous wave's first
// requests are answered or WaveGap has passed. Pods that reach
// the node later are evicted as they come. A drain that does not hold the
// node's claim only watches, and takes over if the claim lapses; the owner
// renews it. Once the node is empty run returns true or, with onEmpty,
// hands it the report so far and watches on (see watch.go) until ctx
// ends. It returns whether the node is empty then, once every eviction has
// stopped.
func (r *drainRun) run(ctx context.Context, rep *Report, onEmpty func(*Report)) bool {
	jobCtx, stop := context.WithCancel(ctx)
	defer r.wg.Wait()
	defer stop()
	if r.owner {
		r.owned = true
		r.waves(ctx, jobCtx)
	}
	r.sl.planned() // from here on, the caller's worker only for requests
	renew := r.d.clock.NewTimer(claimTTL / 3)
	defer renew.Stop()
	for {
		pods, changed := r.tr.snapshot()
		if fresh := r.adopt(jobCtx, pods, rep); len(fresh) > 0 {
			if r.idle {
				r.wake(ctx, jobCtx, renew)
			}
			if r.owner {
				for _, j := range fresh {
					r.start(jobCtx, j)
				}
			}
		}
		if r.empty() {
			if rep.Emptied.IsZero() {
				rep.Emptied = r.d.clock.Now()
				if onEmpty == nil {
					return true
				}
				r.emptied(ctx, rep, onEmpty)
			}
			r.rest(renew)
		}
		var retry <-chan time.Time
		var retryTimer clock.Timer
		if at, ok := r.nextLookup(); ok {
			retryTimer = r.d.clock.NewTimer(at.Sub(r.d.clock.Now()))
			retry = retryTimer.C()
		}
		var wave <-chan time.Time
		waveTimer := r.advance(jobCtx) // the next eviction wave, when due
		if waveTimer != nil {
			wave = waveTimer.C()
		}
		select {
		case <-ctx.Done():
			return r.empty()
		case <-changed:
		case <-retry:
		case <-wave:
		case <-renew.C():
			if r.idle {
				break // fired as the node emptied: nothing to claim
			}
			was := r.owner
			mine, taken := r.d.tryClaim(ctx, r.node, r.deadline)
			// An API failure changes nothing; another drain's live claim
			// (one with an earlier deadline took it) makes this one watch:
			// it starts no eviction more, and the holder evicts.
			r.owner = mine || (was && !taken)
			switch {
			case r.owner && !was:
				r.d.log.Info("this drain now holds the node's claim (the other drain stopped renewing it, or works to a later deadline); evicting", zap.String("node", r.node))
				r.owned = true
				r.waves(ctx, jobCtx)
			case was && !r.owner:
				r.d.log.Info("a drain with an earlier deadline took this node's claim; watching the pods go", zap.String("node", r.node),
					zap.String("holder", r.d.claimHolder(ctx, r.node)))
			}
			renew.Reset(claimTTL / 3)
		}
		if retryTimer != nil {
			retryTimer.Stop()
		}
		if waveTimer != nil {
			waveTimer.Stop()
		}
	}
}

// start starts j's eviction, once.
func (r *drainRun) start(ctx context.Context, j *podJob) {
	if j.started {
		return
	}
	j.started = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.d.evict(ctx, j, r.tr, r.sl, r.started, r.deadline)
	}()
}

// adopt returns the jobs of pods that reached the node after the plan
// (bound by a scheduler that had not seen the cordon, created with
// nodeName, or tolerating every taint), and of pods kubectl's filters could
// not decide on before (their DaemonSet could not be read) once their next
// attempt is due and decides it; the caller starts them if it evicts. They
// go through the same filters as the plan's pods; one pass spends at most
// lookupTimeout on DaemonSet reads.
func (r *drainRun) adopt(ctx context.Context, pods []*corev1.Pod, rep *Report) []*podJob {
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	var fresh []*podJob
	now := r.d.clock.Now()
	for _, p := range pods {
		if r.known[p.UID] {
			continue
		}
		l := r.lookups[p.UID]
		if l != nil && now.Before(l.next) {
			continue
		}
		if finished(p) {
			r.known[p.UID] = true
			continue
		}
		c := r.d.choose(lctx, p)
		if c.err != nil {
			r.undecided(p, c.err)
			continue
		}
		r.known[p.UID] = true
		delete(r.lookups, p.UID)
		if !c.evict {
			rep.Skipped = append(rep.Skipped, SkippedPod{Namespace: p.Namespace, Name: p.Name, Reason: c.reason})
			continue
		}
		j := newJob(*p)
		switch {
		case l != nil && l.atPlan:
		case l != nil:
			j.res.Arrived = l.first
		default:
			j.res.Arrived = now
		}
		name := zap.String("pod", p.Namespace+"/"+p.Name)
		switch {
		case !rep.Emptied.IsZero():
			r.d.log.Warn("pod reached the node after it was empty; evicting it", name)
		case l != nil:
			r.d.log.Info("pod's DaemonSet is gone; evicting it", name)
		default:
			r.d.log.Info("pod reached the node after the drain began; evicting it", name)
		}
		r.jobs = append(r.jobs, j)
		fresh = append(fresh, j)
	}
	for uid := range r.lookups {
		if _, gone := r.tr.gone(uid); gone {
			delete(r.lookups, uid)
		}
	}
	return fresh
}

// lastError is the tracker's current list or watch failure, or else the
// last failed DaemonSet read of a pod still undecided, if any.
func (r *drainRun) lastError() error {
	if err := r.tr.err(); err != nil {
		return err
	}
	var last *lookup
	for _, l := range r.lookups {
		if last == nil || l.at.After(last.at) {
			last = l
		}
	}
	if last != nil {
		return last.err
	}
	return nil
}

// settle fills in the report's pods from the jobs (whose evictions have
// ended or not started), when each left and, for those that did not, why
// it is still on the node.
func (d *Drainer) settle(rep *Report, jobs []*podJob, tr *tracker) {
	rep.Pods = make([]PodResult, len(jobs))
	for i, j := range jobs {
		res := j.res
		r := &res
		if r.Accepted.After(rep.AllAccepted) {
			rep.AllAccepted = r.Accepted
		}
		if at, gone := tr.gone(j.pod.UID); gone {
			r.Gone = at
			if r.Outcome == "" || r.Outcome == RunningAtDeadline {
				r.Outcome, r.Reason = GoneBeforeEviction, "left the node before its eviction was accepted"
			}
			rep.Pods[i] = *r
			continue
		}
		switch r.Outcome {
		case Evicted, DeletedAfterCutoff, DeletedAfterRefusal:
			r.Reason = fmt.Sprintf("still terminating at the deadline (%s at %s with %ds grace)", r.Outcome, r.Accepted.UTC().Format(time.RFC3339), r.Grace)
		case GoneBeforeEviction:
			r.Reason = fmt.Sprintf("terminated by %s and still terminating at the deadline (grace %ds)", r.TerminatedBy.words(), r.Grace)
		case "":
			if r.Reason == "" {
				r.Reason = "the drain ended before its eviction was tried"
			}
		}
		r.Outcome = RunningAtDeadline
		rep.Pods[i] = *r
	}
}

// until returns a context that ends at t by d's clock, or when parent ends.
func (d *Drainer) until(parent context.Context, t time.Time) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	timer := d.clock.NewTimer(t.Sub(d.clock.Now()))
	go func() {
		select {
		case <-timer.C():
			cancel(ErrDeadline)
		case <-ctx.Done():
		}
		timer.Stop()
	}()
	return ctx, func() { cancel(context.Canceled) }
}
