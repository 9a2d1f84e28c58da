package controller

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// Pure units of the actors' garbage collection: a fake clientset stands in
// for the API (test/controller/gc_test.go proves it on the real plane).

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// gcRig is a controller with a running node index over a fake clientset,
// a fake clock and a pool with no workers until started.
type gcRig struct {
	t    testing.TB
	c    *Controller
	kube *fake.Clientset
	clk  *clocktesting.FakeClock
	as   *actors
	ctx  context.Context
}

func newGCRig(t testing.TB, cordonOnly bool, nodes ...string) *gcRig {
	t.Helper()
	kube := fake.NewClientset()
	for i, n := range nodes {
		if _, err := kube.CoreV1().Nodes().Create(context.Background(), gcNode(n, i), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	clk := clocktesting.NewFakeClock(t0)
	reg := prometheus.NewRegistry()
	cfg := Config{QueueURL: "https://sqs.example/q", ClusterName: "test", Policy: drain.DefaultPolicy(), Rebalance: interrupt.TaintOnly,
		Maintenance: interrupt.DrainNode, Workers: 1, CordonOnly: cordonOnly}
	c, err := New(cfg, Deps{Kube: kube, Registry: reg, Metrics: metrics.New(reg), Queue: metrics.NewQueue(reg, nil),
		Logger: zap.NewNop(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.inf.Run(ctx.Done()); close(done) }()
	if !cache.WaitForCacheSync(ctx.Done(), c.inf.HasSynced) {
		t.Fatal("node index never synced")
	}
	c.pool = newPool(nil)
	r := &gcRig{t: t, c: c, kube: kube, clk: clk, ctx: ctx}
	r.as = newActors(ctx, c)
	t.Cleanup(func() {
		cancel()
		c.pool.start(1) // the drains still queued end at once (canceled)
		r.as.wait()
		c.pool.stop()
		<-done
	})
	return r
}

func gcNode(name string, gen int) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(fmt.Sprintf("%s-uid-%d", name, gen))},
		Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-" + name}}
}

func spotNotice(node, id string) interrupt.Notice {
	return interrupt.Notice{Kind: interrupt.SpotInterruption, ID: "sqs/spot/" + id, Action: "terminate", Deadline: t0.Add(2 * time.Minute),
		Detected: t0, Source: interrupt.SourceQueue, Data: map[string]string{"instance": "i-" + node}}
}

// spot delivers a Spot notice with id for node and fails the test unless
// the notice is durable (recorded on the node).
func (r *gcRig) spot(node, id string) {
	r.t.Helper()
	if res := r.as.deliver(node, interrupt.Received{Notice: spotNotice(node, id)}); !res.durable {
		r.t.Fatalf("notice %s for %s not durable: %v", id, node, res.err)
	}
}

// actorCount is the number of actors the leader keeps.
func (r *gcRig) actorCount() int {
	r.as.mu.Lock()
	defer r.as.mu.Unlock()
	return len(r.as.all)
}

// waitCount waits (in real time: the actors' goroutines and the index run
// on their own) until there are want actors.
func (r *gcRig) waitCount(want int, why string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.actorCount() != want {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: %d node actors, want %d", why, r.actorCount(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *gcRig) deleteNode(name string) {
	r.t.Helper()
	if err := r.kube.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		r.t.Fatal(err)
	}
	r.waitIndex(name, false)
}

func (r *gcRig) waitIndex(name string, present bool) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, _ := r.c.inf.GetIndexer().GetByKey(name)
		if ok == present {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("node %s never %s the index", name, map[bool]string{true: "in", false: "gone from"}[present])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *gcRig) unschedulable(name string) bool {
	r.t.Helper()
	n, err := r.kube.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return n.Spec.Unschedulable
}

// madeAgain creates node again (another UID), gives it a new notice and
// checks the notice cordoned it: not taken for an update of the old node's.
func (r *gcRig) madeAgain(node string) {
	r.t.Helper()
	if _, err := r.kube.CoreV1().Nodes().Create(context.Background(), gcNode(node, 1), metav1.CreateOptions{}); err != nil {
		r.t.Fatal(err)
	}
	r.waitIndex(node, true)
	r.spot(node, node+"-again")
	if !r.unschedulable(node) {
		r.t.Fatalf("the new %s was not cordoned: its notice was taken for an update of the old node's", node)
	}
}

// TestActorsRetireWhenNodesGo: an actor per node with a notice; once the
// nodes are deleted the count returns to 0, and a node made again under
// the same name is a new node: its notice cordons it again.
func TestActorsRetireWhenNodesGo(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	r := newGCRig(t, true, nodes...)
	for _, n := range nodes {
		r.spot(n, n+"-1")
	}
	r.waitCount(len(nodes), "one actor per node with a notice")
	for _, n := range nodes {
		r.deleteNode(n)
	}
	r.waitCount(0, "after every node was deleted")

	r.madeAgain("n1")
	r.waitCount(1, "the new n1's actor")
}

// TestActorWaitsForItsDrain: a node deleted while its drain is queued
// keeps its actor until the drain has ended.
func TestActorWaitsForItsDrain(t *testing.T) {
	r := newGCRig(t, false, "n1")
	r.spot("n1", "a")
	r.deleteNode("n1")
	r.as.check("n1")
	time.Sleep(200 * time.Millisecond)
	if got := r.actorCount(); got != 1 {
		t.Fatalf("%d actors while the node's drain waits for a worker, want 1", got)
	}
	r.c.pool.mu.Lock()
	for _, j := range r.c.pool.queue {
		j.cancel() // the drain ends at once (stopped) when a worker takes it
	}
	r.c.pool.mu.Unlock()
	r.c.pool.start(1)
	r.waitCount(0, "after the drain ended")
}

// TestIdleActorRetires: a taint-only notice withdrawn leaves the machine
// idle with nothing in force; it retires after the idle time, and a
// later notice starts a new actor.
func TestIdleActorRetires(t *testing.T) {
	r := newGCRig(t, true, "n1")
	rb := interrupt.Notice{Kind: interrupt.RebalanceRecommendation, ID: "sqs/rebalance/1", Detected: t0, Source: interrupt.SourceQueue}
	for _, ev := range []interrupt.Event{interrupt.Received{Notice: rb}, interrupt.Withdrawn{Notice: rb}} {
		if res := r.as.deliver("n1", ev); res.err != nil {
			t.Fatalf("%T: %v", ev, res.err)
		}
	}
	r.waitCount(1, "right after the notice")
	for range 11 {
		r.clk.Step(time.Minute)
		time.Sleep(20 * time.Millisecond)
	}
	r.waitCount(0, "after 11 idle minutes")
	r.spot("n1", "b")
	if !r.unschedulable("n1") {
		t.Fatal("a later notice did not cordon the node")
	}
	r.waitCount(1, "the later notice's actor")
}

// TestNodeMadeAgainWhileDrainQueued: a node deleted and made again under
// the same name while its old drain still waits for a worker: the new
// node's notice is not an update of the old one's (it cordons the new
// node), the old drain is canceled, and its end, reported later, does not
// end the new node's drain of the same Seq.
func TestNodeMadeAgainWhileDrainQueued(t *testing.T) {
	r := newGCRig(t, false, "n1")
	r.spot("n1", "old")
	r.deleteNode("n1")
	r.madeAgain("n1")
	r.c.pool.mu.Lock()
	queued := append(jobHeap(nil), r.c.pool.queue...)
	r.c.pool.queue = nil
	r.c.pool.mu.Unlock()
	var old, fresh *job
	for _, j := range queued {
		if j.ctx.Err() != nil {
			old = j
		} else {
			fresh = j
		}
	}
	if len(queued) != 2 || old == nil || fresh == nil {
		r.c.pool.mu.Lock()
		for _, j := range queued {
			heap.Push(&r.c.pool.queue, j)
		}
		r.c.pool.mu.Unlock()
		t.Fatalf("%d drains queued, want the old one canceled and the new one not", len(queued))
	}
	// The old drain ends (stopped); taken for the new drain's end, it would
	// leave the actor nothing to wait for once the node is gone.
	r.c.pool.finish(old)
	r.deleteNode("n1")
	r.as.check("n1")
	time.Sleep(200 * time.Millisecond)
	if got := r.actorCount(); got != 1 {
		t.Fatalf("%d actors after the old drain's end, want 1: the new drain has not ended", got)
	}
	fresh.cancel()
	r.c.pool.finish(fresh)
	r.waitCount(0, "after the new drain ended too")
}

// TestRetiredActorForgetsItsLastDrain: with lifecycle hooks wired, how each
// node's last drain ended is remembered for its termination action; once
// the node is gone and its actor retired, that memory goes too (before,
// it grew by one entry per drained node for the whole leadership).
func TestRetiredActorForgetsItsLastDrain(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	r := newGCRig(t, true, nodes...)
	lc := &lifecycles{pending: map[string]bool{}, last: map[string]interrupt.Outcome{}}
	r.c.lc = lc
	remembered := func() int {
		lc.mu.Lock()
		defer lc.mu.Unlock()
		return len(lc.last)
	}
	for _, n := range nodes {
		r.spot(n, n+"-1")
	}
	r.c.pool.start(1)
	for deadline := time.Now().Add(10 * time.Second); remembered() != len(nodes); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d drains' ends remembered, want %d", remembered(), len(nodes))
		}
	}
	for _, n := range nodes {
		r.deleteNode(n)
	}
	r.waitCount(0, "after every node was deleted")
	if n := remembered(); n != 0 {
		t.Errorf("%d drains' ends still remembered after their nodes' actors retired, want 0", n)
	}
}

// forgetLog is the controller's drainer, noting the nodes it drained and
// the nodes it was told to forget (Forget is passed on).
type forgetLog struct {
	drain.Interface
	mu      sync.Mutex
	drained map[string]bool // drained and not forgotten since
}

func (f *forgetLog) Drain(ctx context.Context, req drain.Request) (*drain.Report, error) {
	f.mu.Lock()
	f.drained[req.Node] = true
	f.mu.Unlock()
	return f.Interface.Drain(ctx, req)
}

func (f *forgetLog) Forget(node string) {
	f.mu.Lock()
	delete(f.drained, node)
	f.mu.Unlock()
	if d, ok := f.Interface.(forgetter); ok {
		d.Forget(node)
	}
}

func (f *forgetLog) remembered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.drained)
}

// TestRetiredActorForgetsNodesDrains: the leader's Drainer remembers each
// node it drained (to tell a resumed drain). Spot nodes are deleted, never
// uncordoned, so once a drained node is gone and its actor retired, the
// Drainer must be told to forget it: what it remembers stays bounded by the
// nodes present, not the nodes ever drained.
func TestRetiredActorForgetsNodesDrains(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	r := newGCRig(t, false, nodes...)
	if _, ok := r.c.actor.(*drain.Drainer); !ok {
		t.Fatalf("the controller's drainer is %T, want *drain.Drainer", r.c.actor)
	}
	f := &forgetLog{Interface: r.c.actor, drained: map[string]bool{}}
	r.c.actor = f
	for _, n := range nodes {
		r.spot(n, n+"-1")
	}
	r.c.pool.start(1)
	for deadline := time.Now().Add(10 * time.Second); f.remembered() != len(nodes); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d nodes drained, want %d", f.remembered(), len(nodes))
		}
	}
	for _, n := range nodes {
		r.deleteNode(n)
	}
	r.waitCount(0, "after every node was deleted")
	if n := f.remembered(); n != 0 {
		t.Errorf("the drainer still remembers %d gone nodes' drains after their actors retired, want 0", n)
	}
}
