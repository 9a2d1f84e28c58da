// Package timeline follows one node through a drain and prints what happens
// as it happens: notice detected, cordoned, tainted, each pod evicted and
// gone, each eviction wave as it starts (pods leave by drain order: see
// drain.DrainOrderOf), node empty, and the seconds to spare before the
// termination time.
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
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

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
// or mirror pod has left it (after it was cordoned), or ctx ends. It follows
// the node and its pods with informers, which list again and re-watch when a
// watch breaks.
func Follow(ctx context.Context, c kubernetes.Interface, node string, p *Printer) (Result, error) {
	f := &follower{p: p, pods: map[types.UID]bool{}, evicting: map[types.UID]bool{}, done: make(chan struct{})}
	stop := make(chan struct{})
	defer close(stop)
	nodes := cache.NewSharedIndexInformer(cache.NewListWatchFromClient(c.CoreV1().RESTClient(), "nodes", "",
		fields.OneTermEqualSelector("metadata.name", node)), &corev1.Node{}, 0, cache.Indexers{})
	pods := cache.NewSharedIndexInformer(cache.NewListWatchFromClient(c.CoreV1().RESTClient(), "pods", "",
		fields.OneTermEqualSelector("spec.nodeName", node)), &corev1.Pod{}, 0, cache.Indexers{})
	_, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: f.node, UpdateFunc: func(_, o any) { f.node(o) }})
	if err == nil {
		_, err = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(o any) { f.pod(o, false) },
			UpdateFunc: func(_, o any) { f.pod(o, false) }, DeleteFunc: func(o any) { f.pod(o, true) }})
	}
	if err != nil {
		return Result{}, fmt.Errorf("following node %s: %w", node, err)
	}
	go nodes.Run(stop)
	go pods.Run(stop)
	select {
	case <-f.done:
	case <-ctx.Done():
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.res.Empty.IsZero() {
		return f.res, fmt.Errorf("following node %s: %w", node, ctx.Err())
	}
	return f.res, nil
}

// follower turns informer events into timeline lines and a Result.
type follower struct {
	p        *Printer
	mu       sync.Mutex
	res      Result
	tainted  bool
	pods     map[types.UID]bool // on the node, not yet gone
	evicting map[types.UID]bool
	waves    int   // eviction waves seen so far
	order    int32 // the drain order of the last wave seen
	done     chan struct{}
}

func (f *follower) node(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if f.res.Notice == nil {
		if nn := noticeOf(n); nn != nil {
			f.res.Notice = nn
			f.p.Line(nn.Detected, "notice detected by the agent: %s %s, termination at %s", nn.Kind, nn.Action, nn.Deadline.Format(time.RFC3339))
		}
	}
	if !f.tainted && hasTaint(n) {
		f.tainted = true
		f.p.Line(now, "node tainted %s", drain.TaintKey)
	}
	if f.res.Cordoned.IsZero() && n.Spec.Unschedulable {
		f.res.Cordoned = now
		f.p.Line(now, "node cordoned")
	}
}

func (f *follower) pod(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || stays(pod) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	switch {
	case deleted:
		delete(f.pods, pod.UID)
		f.res.Pods++
		f.p.Line(now, "pod %s/%s gone", pod.Namespace, pod.Name)
	case pod.DeletionTimestamp != nil && !f.evicting[pod.UID]:
		f.evicting[pod.UID] = true
		f.pods[pod.UID] = true
		f.wave(now, pod)
		g := int64(0)
		if pod.DeletionGracePeriodSeconds != nil {
			g = *pod.DeletionGracePeriodSeconds
		}
		f.p.Line(now, "pod %s/%s evicted (grace %ds, it asked %ds)", pod.Namespace, pod.Name, g, asked(pod))
	default:
		f.pods[pod.UID] = true
	}
	if !f.res.Cordoned.IsZero() && len(f.pods) == 0 && f.res.Empty.IsZero() && f.res.Pods > 0 {
		f.res.Empty = now
		close(f.done)
	}
}

// wave prints a line when pod's eviction begins a wave: its drain order is
// above every one seen (waves go lowest first; with --drain-order=none the
// lines only say which orders were seen). f.mu must be held.
func (f *follower) wave(now time.Time, pod *corev1.Pod) {
	o := drain.DrainOrderOf(pod)
	if f.waves > 0 && o <= f.order {
		return
	}
	f.waves++
	f.order = o
	why := "priority"
	if _, ok := pod.Annotations[drain.OrderAnnotation]; ok {
		why = drain.OrderAnnotation
	} else if pod.Spec.PriorityClassName != "" {
		why = "priority class " + pod.Spec.PriorityClassName
	}
	f.p.Line(now, "eviction wave %d: drain order %d (%s)", f.waves, o, why)
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
