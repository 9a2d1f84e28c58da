package controller

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// observer records, from informers in the test process, when each node was
// first seen cordoned and when its last pod went.
type observer struct {
	mu       sync.Mutex
	cordoned map[string]time.Time
	empty    map[string]time.Time
	pods     map[string]map[types.UID]bool // node → pods still bound
	stop     chan struct{}
}

// observe starts watching nodes and the pods of ns now bound to them.
func observe(tb testing.TB, ns string, nodes []string) *observer {
	tb.Helper()
	o := &observer{cordoned: map[string]time.Time{}, empty: map[string]time.Time{}, pods: map[string]map[types.UID]bool{},
		stop: make(chan struct{})}
	for _, n := range nodes {
		o.pods[n] = map[types.UID]bool{}
	}
	list, err := plane.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range list.Items {
		if m, ok := o.pods[p.Spec.NodeName]; ok {
			m[p.UID] = true
		}
	}
	f := informers.NewSharedInformerFactoryWithOptions(plane.Client, 0, informers.WithNamespace(ns))
	_, _ = f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if p, ok := obj.(*corev1.Pod); ok {
			o.gone(p)
		}
	}})
	nf := informers.NewSharedInformerFactory(plane.Client, 0)
	_, _ = nf.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { o.node(obj.(*corev1.Node)) },
		AddFunc:    func(obj any) { o.node(obj.(*corev1.Node)) },
	})
	f.Start(o.stop)
	nf.Start(o.stop)
	f.WaitForCacheSync(o.stop)
	nf.WaitForCacheSync(o.stop)
	tb.Cleanup(func() { close(o.stop) })
	return o
}

func (o *observer) gone(p *corev1.Pod) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.pods[p.Spec.NodeName]
	if !ok || !m[p.UID] {
		return
	}
	delete(m, p.UID)
	if len(m) == 0 {
		o.empty[p.Spec.NodeName] = time.Now()
	}
}

func (o *observer) node(n *corev1.Node) {
	if !cordoned(n) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, seen := o.cordoned[n.Name]; !seen {
		o.cordoned[n.Name] = time.Now()
	}
}

// times returns when node was cordoned and emptied (zero if not yet).
func (o *observer) times(node string) (cordoned, empty time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cordoned[node], o.empty[node]
}

// allEmpty reports whether every node is empty.
func (o *observer) allEmpty() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.pods {
		if len(m) > 0 {
			return false
		}
	}
	return true
}

// percentile returns the p-th percentile (0..100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
