package drain

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestDrainTakeoverEvictsPodsAdoptedWithoutTheClaim: a drain emptied the
// node (its waves all started) and rests, giving its claim up; another
// drain claims the node; a pod reaches it, and the resting drain adopts it
// but cannot claim the node, so it does not evict it. When the other
// drain's claim lapses and the resting one takes over on its next renewal,
// it must evict that pod. Before the fix the takeover found its schedule
// done and the pod's eviction never started: the pod died with the node.
func TestDrainTakeoverEvictsPodsAdoptedWithoutTheClaim(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}, runningPod("first"))
	podsGVR := corev1.SchemeGroupVersion.WithResource("pods")
	nodesGVR := corev1.SchemeGroupVersion.WithResource("nodes")
	watching := make(chan struct{})
	var watchOnce sync.Once
	client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		watchOnce.Do(func() { close(watching) })
		return false, nil, nil
	})
	evicted := make(chan string, 8)
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		name := a.(k8stesting.CreateActionImpl).GetObject().(metav1.Object).GetName()
		evicted <- name
		if name == "first" {
			go func() { // the kubelet's part, once the drain's watch is in place
				<-watching
				_, _ = client.CoreV1().Nodes().Get(context.Background(), "n", metav1.GetOptions{})
				if err := client.Tracker().Delete(podsGVR, "ns", name); err != nil {
					t.Error(err)
				}
			}()
		}
		return true, nil, nil
	})
	// The drain's claim given up as it rests: a JSON patch that removes it.
	released := make(chan struct{}, 8)
	client.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if strings.Contains(string(a.(k8stesting.PatchActionImpl).GetPatch()), `"remove"`) {
			select {
			case released <- struct{}{}:
			default:
			}
		}
		return false, nil, nil
	})
	// Once armed, each read of the node is answered here, and said after the
	// object is read: what the drain's claim attempt decides on.
	var armed atomic.Bool
	read := make(chan struct{}, 8)
	client.PrependReactor("get", "nodes", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if !armed.Load() {
			return false, nil, nil
		}
		obj, err := client.Tracker().Get(nodesGVR, "", a.(k8stesting.GetActionImpl).GetName())
		select {
		case read <- struct{}{}:
		default:
		}
		return true, obj, err
	})
	setClaim := func(c claim) {
		obj, err := client.Tracker().Get(nodesGVR, "", "n")
		if err != nil {
			t.Fatal(err)
		}
		n := obj.(*corev1.Node).DeepCopy()
		if n.Annotations == nil {
			n.Annotations = map[string]string{}
		}
		n.Annotations[ClaimAnnotation] = c.String()
		if err := client.Tracker().Update(nodesGVR, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(c <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
	}

	d, err := New(client, DefaultPolicy(), clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	emptied := make(chan struct{}, 1)
	done := make(chan *Report, 1)
	go func() {
		rep, _ := d.Drain(ctx, Request{Node: "n", Kind: "SpotInterruption", Deadline: start.Add(120 * time.Second),
			OnEmpty: func(*Report) { emptied <- struct{}{} }})
		done <- rep
	}()
	wait(emptied, "the node to be empty")
	wait(released, "the drain to give its claim up as it rests")
	// Another drain claims the node, then a pod reaches it: the resting
	// drain adopts it and tries to claim the node, in vain.
	setClaim(claim{holder: "other", until: start.Add(claimTTL)})
	armed.Store(true)
	if err := client.Tracker().Create(podsGVR, runningPod("late"), "ns"); err != nil {
		t.Fatal(err)
	}
	wait(read, "the resting drain to try to claim the node for the late pod")
	// The other drain died: its claim lapsed. The resting drain takes over
	// at its next renewal.
	setClaim(claim{holder: "other", until: start.Add(-time.Second)})
	clk.Step(claimTTL / 3)
	got := false
	for !got {
		select {
		case name := <-evicted:
			got = name == "late"
		case <-time.After(5 * time.Second):
			cancel()
			t.Fatalf("the drain took the node over but never evicted the pod it adopted without the claim: %s", (<-done).Summary())
		}
	}
	cancel()
	<-done
}
