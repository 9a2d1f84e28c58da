// Package timeline follows one node through a drain and prints what happens
// as it happens: notice detected, cordoned, tainted, each pod evicted and
// gone, node empty, and the seconds to spare before the termination time.
// `make demo` and `spot-handler rehearse` print it; it reads only the node,
// the pods bound to it and the node's Events, through watches.
package timeline

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// Printer writes timeline lines "+12.345s  text", timed from T0.
type Printer struct {
	out io.Writer
	t0  time.Time
	mu  sync.Mutex
}

// NewPrinter returns a printer whose +0 is t0 (the notice's appearance).
func NewPrinter(out io.Writer, t0 time.Time) *Printer { return &Printer{out: out, t0: t0} }

// Line prints one line at time at.
func (p *Printer) Line(at time.Time, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "%+9.3fs  %s\n", at.Sub(p.t0).Seconds(), fmt.Sprintf(format, args...))
}

// Result is what Follow saw.
type Result struct {
	// Notice is the node's notice annotation, once the agent wrote it.
	Notice *drain.NodeNotice
	// Cordoned and Empty are when the node was cordoned and emptied.
	Cordoned, Empty time.Time
	// Pods counts the pods that left the node.
	Pods int
}

// Follow prints the drain of node until every pod that is not a DaemonSet
// or mirror pod has left it (after it was cordoned), or ctx ends.
func Follow(ctx context.Context, c kubernetes.Interface, node string, p *Printer) (Result, error) {
	var res Result
	nodeW, err := c.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", node).String()})
	if err != nil {
		return res, fmt.Errorf("watching node %s: %w", node, err)
	}
	defer nodeW.Stop()
	podW, err := c.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
	if err != nil {
		return res, fmt.Errorf("watching pods on node %s: %w", node, err)
	}
	defer podW.Stop()
	pods := map[types.UID]*corev1.Pod{}
	evicting := map[types.UID]bool{}
	tainted := false
	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case ev, ok := <-nodeW.ResultChan():
			if !ok {
				return res, fmt.Errorf("node watch ended")
			}
			n, isNode := ev.Object.(*corev1.Node)
			if !isNode {
				continue
			}
			now := time.Now()
			if res.Notice == nil {
				if nn := noticeOf(n); nn != nil {
					res.Notice = nn
					p.Line(nn.Detected, "notice detected by the agent: %s %s, termination at %s", nn.Kind, nn.Action, nn.Deadline.Format(time.RFC3339))
				}
			}
			if !tainted && hasTaint(n) {
				tainted = true
				p.Line(now, "node tainted %s", drain.TaintKey)
			}
			if res.Cordoned.IsZero() && n.Spec.Unschedulable {
				res.Cordoned = now
				p.Line(now, "node cordoned")
			}
		case ev, ok := <-podW.ResultChan():
			if !ok {
				return res, fmt.Errorf("pod watch ended")
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod || stays(pod) {
				continue
			}
			now := time.Now()
			switch {
			case ev.Type == watch.Deleted:
				delete(pods, pod.UID)
				res.Pods++
				p.Line(now, "pod %s/%s gone", pod.Namespace, pod.Name)
			case pod.DeletionTimestamp != nil && !evicting[pod.UID]:
				evicting[pod.UID] = true
				pods[pod.UID] = pod
				g := int64(0)
				if pod.DeletionGracePeriodSeconds != nil {
					g = *pod.DeletionGracePeriodSeconds
				}
				p.Line(now, "pod %s/%s evicted (grace %ds, it asked %ds)", pod.Namespace, pod.Name, g, asked(pod))
			default:
				pods[pod.UID] = pod
			}
			if !res.Cordoned.IsZero() && len(pods) == 0 && res.Empty.IsZero() && res.Pods > 0 {
				res.Empty = now
				return res, nil
			}
		}
	}
}

// stays is true for pods a drain leaves: DaemonSet and mirror pods.
func stays(p *corev1.Pod) bool {
	if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return true
	}
	ref := metav1.GetControllerOf(p)
	return ref != nil && ref.Kind == "DaemonSet"
}

func asked(p *corev1.Pod) int64 {
	if p.Spec.TerminationGracePeriodSeconds == nil {
		return 30
	}
	return *p.Spec.TerminationGracePeriodSeconds
}

func hasTaint(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == drain.TaintKey {
			return true
		}
	}
	return false
}

// noticeOf reads the drain's notice annotation, or nil.
func noticeOf(n *corev1.Node) *drain.NodeNotice {
	nn, _ := drain.ReadNotice(n) // unreadable: shown once the agent rewrites it
	return nn
}

// Verdict prints the closing line and reports whether the node was empty
// before deadline − margin.
func Verdict(p *Printer, res Result, margin time.Duration) bool {
	if res.Notice == nil || res.Empty.IsZero() {
		p.Line(time.Now(), "VERDICT: FAIL — the node was not emptied")
		return false
	}
	spare := res.Notice.Deadline.Add(-margin).Sub(res.Empty)
	p.Line(res.Empty, "node empty: %d pods moved off", res.Pods)
	if spare < 0 {
		p.Line(res.Empty, "VERDICT: FAIL — node empty %.1fs after the deadline minus the %v margin", -spare.Seconds(), margin)
		return false
	}
	p.Line(res.Empty, "VERDICT: OK — node empty %.1fs before the deadline minus the %v margin (%.1fs before termination)",
		spare.Seconds(), margin, res.Notice.Deadline.Sub(res.Empty).Seconds())
	return true
}
