package controller

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/spot-handler/spot-handler/internal/interrupt"
)

// watchRig is a gcRig whose drains' ends are remembered (as for lifecycle
// actions) and whose evictions delete the pod at once (the fake has no
// kubelet).
type watchRig struct {
	*gcRig
	lc      *lifecycles
	evicted atomic.Int32
}

func newWatchRig(t *testing.T, nodes ...string) *watchRig {
	r := &watchRig{gcRig: newGCRig(t, false, nodes...)}
	r.lc = &lifecycles{pending: map[string]bool{}, last: map[string]interrupt.Outcome{}}
	r.c.lc = r.lc
	r.kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		r.evicted.Add(1)
		c := a.(k8stesting.CreateAction)
		err := r.kube.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), c.GetNamespace(), c.GetObject().(metav1.Object).GetName())
		return true, nil, err
	})
	return r
}

// waitFor waits (in real time) until ok, or fails with why.
func (r *watchRig) waitFor(ok func() bool, why string) {
	r.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatal(why)
		}
	}
}

// emptied reports whether node's last drain ended with the node empty.
func (r *watchRig) emptied(node string) bool {
	r.lc.mu.Lock()
	defer r.lc.mu.Unlock()
	return r.lc.last[node] == interrupt.Emptied
}

// TestDrainWatchHoldsNoWorker (issue 20, item 2): with one worker, a drain
// that emptied its node reports its end at once (the machine's drain is
// over: an ASG lifecycle action would be completed now) and gives the
// worker to the next drain while it watches the node until deadline −
// margin.
func TestDrainWatchHoldsNoWorker(t *testing.T) {
	r := newWatchRig(t, "n1", "n2")
	r.c.pool.start(1)
	r.spot("n1", "a")
	r.waitFor(func() bool { return r.emptied("n1") }, "n1's drain never reported the node empty")
	r.spot("n2", "b")
	r.waitFor(func() bool { return r.emptied("n2") }, "n2's drain never ran: n1's watch holds the only worker")
}

// TestDrainWatchDrainsLatePods (issue 20, item 2): a pod that lands on a
// node after its drain emptied it is evicted by the drain's watch, and
// counted as late (pods_total, late_pods_total) when the watch ends at
// deadline − margin.
func TestDrainWatchDrainsLatePods(t *testing.T) {
	r := newWatchRig(t, "n1")
	r.c.pool.start(1)
	r.spot("n1", "a")
	r.waitFor(func() bool { return r.emptied("n1") }, "the drain never reported the node empty")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "typha"}, Spec: corev1.PodSpec{NodeName: "n1",
		Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if _, err := r.kube.CoreV1().Pods("ns").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.waitFor(func() bool { return r.evicted.Load() == 1 }, "the pod that landed after the node was empty was not evicted")
	late := r.c.m.LatePods.WithLabelValues("evicted")
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(late) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("late pods counted: %v, want 1 once the watch ended", testutil.ToFloat64(late))
		}
		r.clk.Step(time.Minute) // past deadline − margin: the watch ends
	}
	if got := testutil.ToFloat64(r.c.m.Pods.WithLabelValues("evicted")); got != 1 {
		t.Errorf("pods counted: %v, want the late one", got)
	}
}
