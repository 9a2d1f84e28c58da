package drain

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// DryRun is the Interface that writes nothing: it reads the node and its
// pods, logs what a drain would do to each and returns the plan as a Report
// whose pods are all still running.
type DryRun struct {
	d *Drainer
}

var _ Interface = (*DryRun)(nil)

// NewDryRun returns a DryRun with the same policy checks as New.
func NewDryRun(client kubernetes.Interface, p Policy, clk clock.Clock, log *zap.Logger) (*DryRun, error) {
	d, err := New(client, p, clk, log)
	if err != nil {
		return nil, err
	}
	return &DryRun{d: d}, nil
}

// Cordon logs the patch it would apply.
func (r *DryRun) Cordon(ctx context.Context, req Request) error {
	return r.logPatch(ctx, req.Node, "dry-run: would cordon and taint node", func(n *corev1.Node) ([]patchOp, error) {
		return r.d.mark(n, req, false)
	})
}

// Taint logs the patch it would apply.
func (r *DryRun) Taint(ctx context.Context, req Request) error {
	return r.logPatch(ctx, req.Node, "dry-run: would taint node", func(n *corev1.Node) ([]patchOp, error) {
		return r.d.mark(n, req, true)
	})
}

// Uncordon logs the patch it would apply.
func (r *DryRun) Uncordon(ctx context.Context, node, source string) (*NodeNotice, error) {
	var held *NodeNotice
	err := r.logPatch(ctx, node, "dry-run: would uncordon node", func(n *corev1.Node) ([]patchOp, error) {
		var ops []patchOp
		ops, held = unmarkPatch(n, r.d.policy, source, r.d.holder)
		return ops, nil
	})
	return held, err
}

// Notice reads the node's notice annotation.
func (r *DryRun) Notice(ctx context.Context, node string) (*NodeNotice, error) {
	return r.d.Notice(ctx, node)
}

// Drain plans the drain and logs, for each pod, the grace period and cut-off
// it would get. Nothing is evicted.
func (r *DryRun) Drain(ctx context.Context, req Request) (*Report, error) {
	now := r.d.clock.Now()
	rep := &Report{Node: req.Node, Kind: req.Kind, Deadline: req.Deadline, Margin: r.d.policy.Margin, Started: now, Finished: now}
	if err := r.Cordon(ctx, req); err != nil {
		return rep, err
	}
	l, err := r.d.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + req.Node})
	if err != nil {
		return rep, err
	}
	pods, skipped, undecided := r.d.plan(ctx, l.Items)
	for i := range l.Items {
		if err, ok := undecided[l.Items[i].UID]; ok {
			skipped = append(skipped, SkippedPod{Namespace: l.Items[i].Namespace, Name: l.Items[i].Name,
				Reason: fmt.Sprintf("kubectl's drain filters could not decide on it: %v", err)})
		}
	}
	rep.Skipped = skipped
	for _, p := range pods {
		own := ownGrace(p.Spec.TerminationGracePeriodSeconds)
		g := gracePeriod(own, now, req.Deadline, r.d.policy)
		rep.Pods = append(rep.Pods, PodResult{Namespace: p.Namespace, Name: p.Name, Priority: priority(&p), Grace: g,
			Outcome: RunningAtDeadline, Reason: "dry run: not evicted", Warning: evictWarning(&p)})
		r.d.log.Info("dry-run: would evict pod", zap.String("pod", p.Namespace+"/"+p.Name), zap.Int32("priority", priority(&p)),
			zap.Int64("grace", g), zap.Time("pdb_cutoff", cutoff(own, now, req.Deadline, r.d.policy)), zap.String("warning", evictWarning(&p)))
	}
	for _, s := range skipped {
		r.d.log.Info("dry-run: would leave pod", zap.String("pod", s.Namespace+"/"+s.Name), zap.String("reason", s.Reason))
	}
	return rep, nil
}

func (r *DryRun) logPatch(ctx context.Context, node, msg string, build func(*corev1.Node) ([]patchOp, error)) error {
	n, err := r.d.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nodeReadError(node, err)
	}
	ops, err := build(n)
	if err != nil {
		return err
	}
	r.d.log.Info(msg, zap.String("node", node), zap.Any("patch", ops))
	return nil
}
