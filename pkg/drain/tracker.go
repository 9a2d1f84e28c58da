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
// poll), and tells who is gone. When the watch breaks (the API server
// restarted) it lists and watches again, backing off up to a second.
type tracker struct {
	client kubernetes.Interface
	node   string
	clock  clock.PassiveClock
	log    *zap.Logger

	mu      sync.Mutex
	pods    map[types.UID]*corev1.Pod
	goneAt  map[types.UID]time.Time
	changed chan struct{} // closed and replaced on every change
}

// startTracker lists the node's pods and watches them until ctx ends.
func startTracker(ctx context.Context, c kubernetes.Interface, node string, clk clock.PassiveClock, log *zap.Logger) (*tracker, []corev1.Pod, error) {
	t := &tracker{client: c, node: node, clock: clk, log: log, pods: map[types.UID]*corev1.Pod{},
		goneAt: map[types.UID]time.Time{}, changed: make(chan struct{})}
	list, rv, err := t.list(ctx)
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
		return nil, "", err
	}
	now := t.clock.Now()
	t.mu.Lock()
	seen := map[types.UID]bool{}
	for i := range l.Items {
		p := &l.Items[i]
		seen[p.UID] = true
		t.pods[p.UID] = p
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
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		if rv == "" {
			_, newRV, err := t.list(ctx)
			if err != nil {
				t.log.Debug("listing pods failed, retrying", zap.String("node", t.node), zap.Error(err))
				sleepCtx(ctx, backoff)
				backoff = min(backoff*2, time.Second)
				continue
			}
			rv = newRV
		}
		w, err := t.client.CoreV1().Pods(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{
			FieldSelector: t.selector(), ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			t.log.Debug("watching pods failed, retrying", zap.String("node", t.node), zap.Error(err))
			rv = ""
			sleepCtx(ctx, backoff)
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		rv = t.consume(ctx, w)
	}
}

// consume applies watch events until the watch ends; it returns the last
// resource version seen, or "" to force a new list (after an error event).
func (t *tracker) consume(ctx context.Context, w watch.Interface) string {
	defer w.Stop()
	rv := ""
	for {
		select {
		case <-ctx.Done():
			return ""
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				return "" // an error event (e.g. resource version too old): list again
			}
			rv = pod.ResourceVersion
			t.mu.Lock()
			switch ev.Type {
			case watch.Added, watch.Modified:
				t.pods[pod.UID] = pod
				if finished(pod) {
					t.markGone(pod.UID, t.clock.Now())
				}
			case watch.Deleted:
				delete(t.pods, pod.UID)
				t.markGone(pod.UID, t.clock.Now())
			}
			t.notify()
			t.mu.Unlock()
		}
	}
}

// finished pods (Succeeded or Failed) hold no process and count as gone.
func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func (t *tracker) markGone(uid types.UID, at time.Time) {
	if _, ok := t.goneAt[uid]; !ok {
		t.goneAt[uid] = at
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

// waitGone blocks until every pod in uids is gone or ctx ends, and reports
// whether all went.
func (t *tracker) waitGone(ctx context.Context, uids []types.UID) bool {
	for {
		t.mu.Lock()
		left := 0
		for _, uid := range uids {
			if _, ok := t.goneAt[uid]; !ok {
				left++
			}
		}
		ch := t.changed
		t.mu.Unlock()
		if left == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

// waitOne returns a channel closed when the pod is gone (or ctx ends).
func (t *tracker) waitOne(ctx context.Context, uid types.UID) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		t.waitGone(ctx, []types.UID{uid})
		close(done)
	}()
	return done
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}
