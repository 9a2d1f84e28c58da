package soak

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// podSeen is what the observer saw of one pod bound to a watched node.
type podSeen struct {
	UID         types.UID
	Namespace   string
	Name        string
	Node        string
	DaemonSet   bool
	Bound       time.Time // first seen bound to Node
	Terminating time.Time // first seen with a deletion timestamp
	KillBy      time.Time // its deletion timestamp (+1 s: it has whole seconds): the kubelet kills it then
	Gone        time.Time // seen deleted
}

// GoneAt is when the pod's process was gone: when its object was deleted,
// or, if earlier, when its grace ran out (a kubelet kills the process at
// its deletion timestamp, whatever it then takes to delete the object;
// kwok, loaded by the soak's other nodes, can be seconds late there).
// Zero if neither has happened by now.
func (p podSeen) GoneAt(now time.Time) time.Time {
	g := p.Gone
	if !p.KillBy.IsZero() && !p.KillBy.After(now) && (g.IsZero() || p.KillBy.Before(g)) {
		g = p.KillBy
	}
	return g
}

// nodeSeen is what the observer saw of a watched node.
type nodeSeen struct {
	Cordoned    time.Time // first seen unschedulable
	Schedulable bool      // now: not unschedulable and without the drain's taint
}

// observer watches the plane's pods and nodes with informers of its own
// (straight to the apiserver, no fault proxy) and keeps, for the nodes
// the soak interrupts, every pod bound there and when it went.
type observer struct {
	mu    sync.Mutex
	watch map[string]bool // node names observed
	pods  map[types.UID]*podSeen
	nodes map[string]*nodeSeen
	stop  chan struct{}
}

// observe starts the informers and waits for their first sync.
func observe() *observer {
	o := &observer{watch: map[string]bool{}, pods: map[types.UID]*podSeen{}, nodes: map[string]*nodeSeen{}, stop: make(chan struct{})}
	f := informers.NewSharedInformerFactory(plane.Client, 0)
	pods, nodes := f.Core().V1().Pods().Informer(), f.Core().V1().Nodes().Informer()
	_, _ = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { o.pod(obj, false) },
		UpdateFunc: func(_, obj any) { o.pod(obj, false) },
		DeleteFunc: func(obj any) { o.pod(obj, true) },
	})
	_, _ = nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    o.node,
		UpdateFunc: func(_, obj any) { o.node(obj) },
	})
	f.Start(o.stop)
	f.WaitForCacheSync(o.stop)
	return o
}

// close stops the informers.
func (o *observer) close() { close(o.stop) }

// track starts recording node's pods (before its workload is made).
func (o *observer) track(node string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.watch[node] = true
	o.nodes[node] = &nodeSeen{Schedulable: true}
}

// forget drops node and its pods (after its verdict).
func (o *observer) forget(node string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.watch, node)
	delete(o.nodes, node)
	for uid, p := range o.pods {
		if p.Node == node {
			delete(o.pods, uid)
		}
	}
}

func (o *observer) pod(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.pods[pod.UID]
	if p == nil {
		if pod.Spec.NodeName == "" || !o.watch[pod.Spec.NodeName] {
			return
		}
		p = &podSeen{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name, Node: pod.Spec.NodeName,
			DaemonSet: ownedBy(pod, "DaemonSet"), Bound: now}
		o.pods[pod.UID] = p
	}
	if pod.DeletionTimestamp != nil {
		if p.Terminating.IsZero() {
			p.Terminating = now
		}
		p.KillBy = pod.DeletionTimestamp.Add(time.Second)
	}
	if deleted && p.Gone.IsZero() {
		p.Gone = now
	}
}

func (o *observer) node(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.nodes[n.Name]
	if s == nil || !o.watch[n.Name] {
		return
	}
	tainted := false
	for _, t := range n.Spec.Taints {
		tainted = tainted || t.Key == drain.TaintKey
	}
	if n.Spec.Unschedulable && s.Cordoned.IsZero() {
		s.Cordoned = time.Now()
	}
	s.Schedulable = !n.Spec.Unschedulable && !tainted
}

// podsOf returns copies of every pod seen bound to node.
func (o *observer) podsOf(node string) []podSeen {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []podSeen
	for _, p := range o.pods {
		if p.Node == node {
			out = append(out, *p)
		}
	}
	return out
}

// nodeOf returns a copy of what was seen of node.
func (o *observer) nodeOf(node string) nodeSeen {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.nodes[node]; s != nil {
		return *s
	}
	return nodeSeen{}
}

// leftOn returns the pods that must leave node and are still bound there.
func (o *observer) leftOn(node string) []podSeen {
	var out []podSeen
	now := time.Now()
	for _, p := range o.podsOf(node) {
		if !p.DaemonSet && p.GoneAt(now).IsZero() {
			out = append(out, p)
		}
	}
	return out
}
