package drain

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// tracker keeps the pods of one node, from a list and then a watch (never a
// poll), and tells who is gone and who is new. When the list or the watch
// fails, or the watch ends early (the API server restarted), it lists and
// watches again with a jittered backoff on the drain's clock.
type tracker struct {
	client kubernetes.Interface
	node   string
	clock  clock.Clock
	log    *zap.Logger

	mu      sync.Mutex
	pods    map[types.UID]*corev1.Pod
	goneAt  map[types.UID]time.Time
	leaving map[types.UID]chan struct{} // closed when the pod is terminating or gone
	changed chan struct{}               // closed and replaced on every change
	lastErr error                       // the last list or watch failure, nil once one worked
}

// startTracker lists the node's pods, retrying while ctx lasts, and then
// watches them until ctx ends.
func startTracker(ctx context.Context, c kubernetes.Interface, node string, clk clock.Clock, log *zap.Logger) (*tracker, []corev1.Pod, error) {
	t := &tracker{client: c, node: node, clock: clk, log: log, pods: map[types.UID]*corev1.Pod{},
		goneAt: map[types.UID]time.Time{}, leaving: map[types.UID]chan struct{}{}, changed: make(chan struct{})}
	var list []corev1.Pod
	var rv string
	err := retryTransient(ctx, clk, func(ctx context.Context) error {
		var err error
		list, rv, err = t.list(ctx)
		if err != nil {
			log.Warn("listing the node's pods failed, retrying", zap.String("node", node), zap.Error(err))
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	go t.run(ctx, rv)
	return t, list, nil
}

func (t *tracker) selector() string {
	return fields.OneTermEqualSelector("spec.nodeName", t.node).String()
}

// list replaces the known pods with a fresh list and returns it.
func (t *tracker) list(ctx context.Context) ([]corev1.Pod, string, error) {
	l, err := t.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: t.selector()})
	if err != nil {
		t.setErr(err)
		return nil, "", err
	}
	now := t.clock.Now()
	t.mu.Lock()
	t.lastErr = nil
	seen := map[types.UID]bool{}
	for i := range l.Items {
		p := &l.Items[i]
		seen[p.UID] = true
		t.put(p, now)
	}
	for uid := range t.pods {
		if !seen[uid] {
			delete(t.pods, uid)
			t.markGone(uid, now)
		}
	}
	t.notify()
	t.mu.Unlock()
	return l.Items, l.ResourceVersion, nil
}

func (t *tracker) run(ctx context.Context, rv string) {
	var b backoff
	for ctx.Err() == nil {
		if rv == "" {
			_, newRV, err := t.list(ctx)
			if err != nil {
				t.log.Debug("listing pods failed, retrying", zap.String("node", t.node), zap.Error(err))
				sleep(ctx, t.clock, b.next(retryAfter(err)))
				continue
			}
			rv = newRV
		}
		w, err := t.client.CoreV1().Pods(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{
			FieldSelector: t.selector(), ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			t.setErr(err)
			t.log.Debug("watching pods failed, retrying", zap.String("node", t.node), zap.Error(err))
			rv = ""
			sleep(ctx, t.clock, b.next(retryAfter(err)))
			continue
		}
		var events int
		rv, events = t.consume(ctx, w)
		if events > 0 {
			b = backoff{}
		} else if ctx.Err() == nil {
			// Ended without an event: do not spin on a broken watch.
			sleep(ctx, t.clock, b.next(0))
		}
	}
}

// consume applies watch events until the watch ends; it returns the last
// resource version seen ("" to force a new list, after an error event) and
// how many events came.
func (t *tracker) consume(ctx context.Context, w watch.Interface) (string, int) {
	defer w.Stop()
	rv, n := "", 0
	for {
		select {
		case <-ctx.Done():
			return "", n
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv, n
			}
			n++
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				return "", n // an error event (e.g. resource version too old): list again
			}
			rv = pod.ResourceVersion
			if ev.Type == watch.Bookmark {
				continue
			}
			t.mu.Lock()
			switch ev.Type {
			case watch.Added, watch.Modified:
				t.put(pod, t.clock.Now())
			case watch.Deleted:
				delete(t.pods, pod.UID)
				t.markGone(pod.UID, t.clock.Now())
			}
			t.notify()
			t.mu.Unlock()
		}
	}
}

func (t *tracker) setErr(err error) {
	t.mu.Lock()
	t.lastErr = err
	t.mu.Unlock()
}

// err is the last list or watch failure, nil once the next one worked.
func (t *tracker) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastErr
}

// finished pods (Succeeded or Failed) hold no process and count as gone.
func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// put records the latest copy of a pod on the node; t.mu must be held.
func (t *tracker) put(p *corev1.Pod, now time.Time) {
	t.pods[p.UID] = p
	switch {
	case finished(p):
		t.markGone(p.UID, now)
	case p.DeletionTimestamp != nil:
		t.wakeLeaving(p.UID)
	}
}

// markGone records that uid left; t.mu must be held.
func (t *tracker) markGone(uid types.UID, at time.Time) {
	if _, ok := t.goneAt[uid]; ok {
		return
	}
	t.goneAt[uid] = at
	t.wakeLeaving(uid)
}

// wakeLeaving closes uid's leaving channel, if asked for; t.mu must be held.
func (t *tracker) wakeLeaving(uid types.UID) {
	if ch, ok := t.leaving[uid]; ok {
		close(ch)
		delete(t.leaving, uid)
	}
}

// notify wakes every waiter; t.mu must be held.
func (t *tracker) notify() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// gone reports whether the pod left the node, and when.
func (t *tracker) gone(uid types.UID) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.goneAt[uid]
	return at, ok
}

// get returns the latest copy of a pod still on the node, or nil.
func (t *tracker) get(uid types.UID) *corev1.Pod {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pods[uid]
}

// leavingChan returns a channel closed once the pod is terminating
// (someone deleted it) or gone. It costs a map entry, not a goroutine,
// however often it is asked for.
func (t *tracker) leavingChan(uid types.UID) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.goneAt[uid]; ok {
		return closed
	}
	if p := t.pods[uid]; p != nil && p.DeletionTimestamp != nil {
		return closed
	}
	ch, ok := t.leaving[uid]
	if !ok {
		ch = make(chan struct{})
		t.leaving[uid] = ch
	}
	return ch
}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// snapshot returns the pods on the node now and a channel closed at the
// next change.
func (t *tracker) snapshot() ([]*corev1.Pod, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(t.pods))
	for _, p := range t.pods {
		out = append(out, p)
	}
	return out, t.changed
}
