package drain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Drainer is the Interface that changes the cluster.
type Drainer struct {
	client kubernetes.Interface
	policy Policy
	clock  clock.Clock
	log    *zap.Logger
}

var _ Interface = (*Drainer)(nil)

// New returns a Drainer. clk nil means the real clock; log nil, no logs.
func New(client kubernetes.Interface, p Policy, clk clock.Clock, log *zap.Logger) (*Drainer, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Drainer{client: client, policy: p, clock: clk, log: log}, nil
}

func (p Policy) validate() error {
	switch {
	case p.Margin < 0:
		return fmt.Errorf("drain margin %v is negative: use 0s or more (default 15s)", p.Margin)
	case p.PDBFallback != FallbackDelete && p.PDBFallback != FallbackWait:
		return fmt.Errorf("PDB fallback %q is not one of delete, wait", p.PDBFallback)
	case p.TaintEffect != corev1.TaintEffectNoSchedule && p.TaintEffect != corev1.TaintEffectPreferNoSchedule && p.TaintEffect != corev1.TaintEffectNoExecute:
		return fmt.Errorf("taint effect %q is not one of NoSchedule, PreferNoSchedule, NoExecute", p.TaintEffect)
	case p.KillSlack < 0:
		return fmt.Errorf("kill slack %v is negative", p.KillSlack)
	case p.MinGrace < time.Second:
		return fmt.Errorf("minimum grace %v is below 1s (the API turns 0 into a forced delete)", p.MinGrace)
	case p.Parallelism < 1:
		return fmt.Errorf("parallelism %d: use 1 or more", p.Parallelism)
	}
	return nil
}

// Cordon marks the node unschedulable, adds TaintKey with the policy's
// effect, the exclude label and the notice annotation, with one guarded
// JSON patch. Running it again changes nothing.
func (d *Drainer) Cordon(ctx context.Context, req Request) error {
	return patchNode(ctx, d.client, req.Node, func(n *corev1.Node) ([]patchOp, error) {
		return markPatch(n, req, d.policy, d.policy.TaintEffect, false, d.clock.Now())
	})
}

// Taint only adds TaintKey with effect PreferNoSchedule and the notice
// annotation: new pods avoid the node, running pods stay. It is what a
// rebalance recommendation deserves by default.
func (d *Drainer) Taint(ctx context.Context, req Request) error {
	return patchNode(ctx, d.client, req.Node, func(n *corev1.Node) ([]patchOp, error) {
		return markPatch(n, req, d.policy, corev1.TaintEffectPreferNoSchedule, true, d.clock.Now())
	})
}

// Uncordon removes what Cordon or Taint added, and only that (a node the
// operator had cordoned stays cordoned), and the notice annotation.
func (d *Drainer) Uncordon(ctx context.Context, node string) error {
	return patchNode(ctx, d.client, node, func(n *corev1.Node) ([]patchOp, error) {
		return unmarkPatch(n, d.policy), nil
	})
}

// Notice returns the notice recorded on the node, or nil.
func (d *Drainer) Notice(ctx context.Context, node string) (*NodeNotice, error) {
	n, err := d.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading node %s: %w", node, err)
	}
	return parseNotice(n)
}

// Drain cordons the node, evicts its pods in priority waves and waits for
// them until deadline − margin. The Report names every pod and what became
// of it, also when the error is not nil (ctx ended, or the node is gone).
func (d *Drainer) Drain(ctx context.Context, req Request) (*Report, error) {
	started := d.clock.Now()
	rep := &Report{Node: req.Node, Kind: req.Kind, Deadline: req.Deadline, Margin: d.policy.Margin, Started: started}
	defer func() {
		if rep.Finished.IsZero() {
			rep.Finished = d.clock.Now()
		}
	}()
	// Cordon, learning from the node it reads whether an earlier drain of
	// this notice left it marked (one GET, not two, before the first write).
	err := patchNode(ctx, d.client, req.Node, func(n *corev1.Node) ([]patchOp, error) {
		old, _ := parseNotice(n)
		rep.Resumed = old != nil && old.ID == req.NoticeID && !old.TaintOnly
		return markPatch(n, req, d.policy, d.policy.TaintEffect, false, d.clock.Now())
	})
	if err != nil {
		return rep, err
	}
	rep.Cordoned = d.clock.Now()
	d.log.Info("node cordoned and tainted", zap.String("node", req.Node), zap.String("kind", req.Kind),
		zap.Time("deadline", req.Deadline), zap.Duration("took", rep.Cordoned.Sub(started)))

	end := waitEnd(req.Deadline, d.clock.Now(), d.policy)
	endCtx, cancel := d.until(ctx, end)
	defer cancel()
	tr, onNode, err := startTracker(endCtx, d.client, req.Node, d.clock, d.log)
	if err != nil {
		return rep, fmt.Errorf("listing pods on node %s: %w", req.Node, err)
	}
	pods, skipped, err := d.plan(endCtx, req.Node, onNode)
	if err != nil {
		return rep, err
	}
	rep.Skipped = skipped
	jobs := make([]*podJob, len(pods))
	rep.Pods = make([]PodResult, len(pods))
	for i := range pods {
		rep.Pods[i] = PodResult{Namespace: pods[i].Namespace, Name: pods[i].Name, UID: pods[i].UID, Priority: priority(&pods[i]), Warning: warning(&pods[i])}
		jobs[i] = &podJob{pod: pods[i], res: &rep.Pods[i], answered: make(chan struct{})}
	}
	d.log.Info("drain planned", zap.String("node", req.Node), zap.Int("pods", len(pods)), zap.Int("skipped", len(skipped)),
		zap.Duration("time_left", end.Sub(d.clock.Now())), zap.Bool("resumed", rep.Resumed))

	d.evictInWaves(endCtx, jobs, tr, started, req.Deadline)
	uids := make([]types.UID, len(pods))
	for i := range pods {
		uids[i] = pods[i].UID
	}
	rep.Empty = tr.waitGone(endCtx, uids)
	rep.Finished = d.clock.Now()
	d.settle(rep, jobs, tr)
	if err := ctx.Err(); err != nil && !rep.Empty {
		return rep, fmt.Errorf("drain of node %s stopped before the node was empty: %w", req.Node, err)
	}
	return rep, nil
}

// evictInWaves starts the evictions, one wave per priority, lowest first; a
// wave starts when the previous wave's first requests are all answered or
// after WaveGap, so every wave starts within about a second. It returns
// when every eviction has ended (accepted, gone, or given up at ctx's end).
func (d *Drainer) evictInWaves(ctx context.Context, jobs []*podJob, tr *tracker, started, deadline time.Time) {
	sem := make(chan struct{}, d.policy.Parallelism)
	var wg sync.WaitGroup
	for i := 0; i < len(jobs); {
		j := i
		for j < len(jobs) && priority(&jobs[j].pod) == priority(&jobs[i].pod) {
			j++
		}
		wave := jobs[i:j]
		for _, job := range wave {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					close(job.answered)
					return
				}
				defer func() { <-sem }()
				d.evict(ctx, job, tr, started, deadline)
			}()
		}
		gap := d.clock.After(d.policy.WaveGap)
		for _, job := range wave {
			select {
			case <-job.answered:
			case <-gap:
			case <-ctx.Done():
			}
		}
		i = j
	}
	wg.Wait()
}

// settle fills in, for every pod, when it left and, for those that did not,
// why it is still on the node.
func (d *Drainer) settle(rep *Report, jobs []*podJob, tr *tracker) {
	for _, j := range jobs {
		r := j.res
		if r.Accepted.After(rep.AllAccepted) {
			rep.AllAccepted = r.Accepted
		}
		if at, gone := tr.gone(j.pod.UID); gone {
			r.Gone = at
			if r.Outcome == "" || r.Outcome == RunningAtDeadline {
				r.Outcome, r.Reason = GoneBeforeEviction, "left the node before its eviction was accepted"
			}
			continue
		}
		switch r.Outcome {
		case Evicted, DeletedAfterCutoff:
			r.Reason = fmt.Sprintf("still terminating at the deadline (%s at %s with %ds grace)", r.Outcome, r.Accepted.UTC().Format(time.RFC3339), r.Grace)
		case GoneBeforeEviction:
			r.Reason = "was terminating before the drain and still is at the deadline"
		case "":
			if r.Reason == "" {
				r.Reason = "the drain ended before its eviction was tried"
			}
		}
		r.Outcome = RunningAtDeadline
	}
}

// until returns a context that ends at t by d's clock, or when parent ends.
func (d *Drainer) until(parent context.Context, t time.Time) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	timer := d.clock.NewTimer(t.Sub(d.clock.Now()))
	go func() {
		select {
		case <-timer.C():
			cancel(errDeadline)
		case <-ctx.Done():
		}
		timer.Stop()
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// errDeadline ends a drain's waiting at deadline − margin.
var errDeadline = errors.New("deadline minus margin reached")
