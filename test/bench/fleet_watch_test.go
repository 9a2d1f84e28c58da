package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// fleetWatch follows many nodes and their pods with one node informer and
// one pod informer (two watches, however many nodes): when each node was
// first seen cordoned, and when the last of the pods it ran when the
// caches synced was gone. Replacement pods (the ReplicaSets') do not count.
type fleetWatch struct {
	mu        sync.Mutex
	cordoned  map[string]time.Time
	empty     map[string]time.Time
	left      map[string]map[types.UID]bool // node → its first pods not yet gone
	remaining int                           // nodes not yet empty
	done      chan struct{}
	stop      chan struct{}
	stopped   sync.Once
}

// close stops the informers (once; wait does too, and a benchmark's
// cleanup, so a Fatal before wait leaves no watch open).
func (w *fleetWatch) close() { w.stopped.Do(func() { close(w.stop) }) }

// watchFleet watches nodes (labelled nodeSelector) and their pods
// (labelled podSelector), each node expected to run want pods, and returns
// once the caches have synced.
func watchFleet(ctx context.Context, nodes []string, nodeSelector, podSelector string, want int) (*fleetWatch, error) {
	w := &fleetWatch{cordoned: map[string]time.Time{}, empty: map[string]time.Time{},
		done: make(chan struct{}), stop: make(chan struct{})}
	mine := map[string]bool{}
	for _, n := range nodes {
		mine[n] = true
	}
	rc := plane.Client.CoreV1().RESTClient()
	nodeInf := cache.NewSharedIndexInformer(cache.NewFilteredListWatchFromClient(rc, "nodes", "",
		func(o *metav1.ListOptions) { o.LabelSelector = nodeSelector }), &corev1.Node{}, 0, cache.Indexers{})
	onNode := func(obj any) {
		n, ok := obj.(*corev1.Node)
		if !ok || !n.Spec.Unschedulable || !mine[n.Name] {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, seen := w.cordoned[n.Name]; !seen {
			w.cordoned[n.Name] = time.Now()
		}
	}
	podInf := cache.NewSharedIndexInformer(cache.NewFilteredListWatchFromClient(rc, "pods", "",
		func(o *metav1.ListOptions) { o.LabelSelector = podSelector }), &corev1.Pod{}, 0, cache.Indexers{})
	onGone := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if p, ok := obj.(*corev1.Pod); ok {
			w.gone(p.Spec.NodeName, p.UID)
		}
	}
	_, err1 := nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: onNode, UpdateFunc: func(_, obj any) { onNode(obj) }})
	_, err2 := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: onGone})
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("watching the nodes: %v %v", err1, err2)
	}
	go nodeInf.Run(w.stop)
	go podInf.Run(w.stop)
	if !cache.WaitForCacheSync(ctx.Done(), nodeInf.HasSynced, podInf.HasSynced) {
		w.close()
		return nil, fmt.Errorf("watching %d nodes: caches did not sync", len(nodes))
	}
	// The pods each node runs now are those whose going empties it; a pod
	// deleted before this point is not in the store, one deleted after is
	// counted by onGone.
	w.mu.Lock()
	defer w.mu.Unlock()
	w.left = map[string]map[types.UID]bool{}
	for _, n := range nodes {
		w.left[n] = map[types.UID]bool{}
	}
	for _, obj := range podInf.GetStore().List() {
		if p := obj.(*corev1.Pod); mine[p.Spec.NodeName] && p.DeletionTimestamp == nil {
			w.left[p.Spec.NodeName][p.UID] = true
		}
	}
	for n, pods := range w.left {
		if len(pods) != want {
			w.close()
			return nil, fmt.Errorf("node %s runs %d pods, not %d", n, len(pods), want)
		}
	}
	w.remaining = len(nodes)
	return w, nil
}

// gone records that pod uid of node is gone.
func (w *fleetWatch) gone(node string, uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pods := w.left[node]
	if !pods[uid] {
		return
	}
	delete(pods, uid)
	if len(pods) == 0 {
		w.empty[node] = time.Now()
		if w.remaining--; w.remaining == 0 {
			close(w.done)
		}
	}
}

// wait waits until every node is empty or ctx ends, stops watching and
// returns when each node was seen cordoned and empty (nodes missing from
// either were not).
func (w *fleetWatch) wait(ctx context.Context) (cordoned, empty map[string]time.Time) {
	select {
	case <-w.done:
	case <-ctx.Done():
	}
	w.close()
	w.mu.Lock()
	defer w.mu.Unlock()
	cordoned, empty = map[string]time.Time{}, map[string]time.Time{}
	for k, v := range w.cordoned {
		cordoned[k] = v
	}
	for k, v := range w.empty {
		empty[k] = v
	}
	return cordoned, empty
}
