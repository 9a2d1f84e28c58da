package drain

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Drainer is the Interface that changes the cluster.
type Drainer struct {
	client kubernetes.Interface
	policy Policy
	clock  clock.Clock
	log    *zap.Logger
	holder string // names this Drainer in ClaimAnnotation
	self   string // names this Drainer in NodeNotice.By
	runs   runs   // the drains it ran, for Report.Resumed
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
	holder := holderID(p)
	return &Drainer{client: client, policy: p, clock: clk, log: log, holder: holder, self: recorderID(holder)}, nil
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
	case p.Order != "" && p.Order != OrderPriority && p.Order != OrderNone:
		return fmt.Errorf("drain order %q is not one of %s, %s", p.Order, OrderPriority, OrderNone)
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
		return d.mark(n, req, false)
	})
}

// Taint only adds TaintKey with effect PreferNoSchedule and the notice
// annotation: new pods avoid the node, running pods stay. It is what a
// rebalance recommendation deserves by default.
func (d *Drainer) Taint(ctx context.Context, req Request) error {
	return patchNode(ctx, d.client, req.Node, func(n *corev1.Node) ([]patchOp, error) {
		return d.mark(n, req, true)
	})
}

// mark is markPatch for this Drainer: the policy's taint effect (or
// PreferNoSchedule for a taint only), and the notice recorded as its own.
func (d *Drainer) mark(n *corev1.Node, req Request, taintOnly bool) ([]patchOp, error) {
	effect := d.policy.TaintEffect
	if taintOnly {
		effect = corev1.TaintEffectPreferNoSchedule
	}
	req.recorder, req.Source = d.self, req.source()
	return markPatch(n, req, d.policy, effect, taintOnly, d.clock.Now())
}

// Uncordon withdraws source's side's notice. When no other side holds a
// notice on the node, it removes what Cordon or Taint added, and only that
// (a node the operator had cordoned stays cordoned), and the notice
// annotation; else the node stays marked for the notice it returns. Only
// this Drainer's own claim is removed.
func (d *Drainer) Uncordon(ctx context.Context, node, source string) (*NodeNotice, error) {
	d.runs.forget(node)
	var held *NodeNotice
	err := patchNode(ctx, d.client, node, func(n *corev1.Node) ([]patchOp, error) {
		var ops []patchOp
		ops, held = unmarkPatch(n, d.policy, source, d.holder)
		return ops, nil
	})
	return held, err
}

// Forget drops what this Drainer remembers of node's drains (the notice a
// second drain would continue, see runs). Call it once the node is gone,
// deleted or made again under the same name: a long-lived Drainer (the
// controller's) otherwise keeps an entry per node it ever drained, since a
// node Spot or its group terminates is deleted, never uncordoned.
func (d *Drainer) Forget(node string) { d.runs.forget(node) }

// Notice returns the notice recorded on the node, or nil.
func (d *Drainer) Notice(ctx context.Context, node string) (*NodeNotice, error) {
	n, err := d.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading node %s: %w", node, err)
	}
	return parseNotice(n)
}
