package drain

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestDrainCutsTheGraceOfPodsOthersTerminate (issue 20, item 1) drives a
// drain on a fake clock and a fake clientset (what the drain asks, not what
// the API does with it). One pod was deleted with its 600 s grace before
// the drain; the other is deleted with it by someone else after the plan,
// while its eviction is refused by a PDB. Both are deleted again, each with
// its UID as precondition and the grace that ends before deadline −
// margin − kill slack (103 s on a 120 s notice), and the report says who
// started each termination.
func TestDrainCutsTheGraceOfPodsOthersTerminate(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	terminating := func(p *corev1.Pod) *corev1.Pod {
		p = p.DeepCopy()
		g := int64(600)
		at := metav1.NewTime(start.Add(600 * time.Second))
		p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &at, &g
		return p
	}
	after := runningPod("after")
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}, terminating(runningPod("before")), after)
	// The fake's watch starts from "now", not from the list's version: the
	// pods change only once the drain's watch is in place.
	watching, refused := make(chan struct{}), make(chan struct{})
	var watchOnce, refuseOnce sync.Once
	client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		watchOnce.Do(func() { close(watching) })
		return false, nil, nil
	})
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		refuseOnce.Do(func() { close(refused) })
		return true, nil, pdb429("web")
	})
	var mu sync.Mutex
	deletes := map[string]metav1.DeleteOptions{}
	client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		d := a.(k8stesting.DeleteActionImpl)
		mu.Lock()
		deletes[d.Name] = d.DeleteOptions
		mu.Unlock()
		return true, nil, nil // the kubelet's part, below
	})
	pods := corev1.SchemeGroupVersion.WithResource("pods")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		<-watching
		<-refused
		_, _ = client.CoreV1().Nodes().Get(context.Background(), "n", metav1.GetOptions{}) // the watch is in place
		// Someone else deletes the pod the PDB protects, with its own grace.
		if err := client.Tracker().Update(pods, terminating(after), "ns"); err != nil {
			t.Error(err)
		}
		// Once both are deleted again, the pods go.
		for n := 0; n < 2 && ctx.Err() == nil; time.Sleep(time.Millisecond) {
			mu.Lock()
			n = len(deletes)
			mu.Unlock()
		}
		for _, name := range []string{"before", "after"} {
			if err := client.Tracker().Delete(pods, "ns", name); err != nil {
				t.Error(err)
			}
		}
	}()
	d, err := New(client, DefaultPolicy(), clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Drain(ctx, Request{Node: "n", Kind: "SpotInterruption", Deadline: start.Add(120 * time.Second)})
	if err != nil || !rep.Empty {
		t.Fatalf("drain: %v (%s)", err, rep.Summary())
	}
	want := map[string]Starter{"before": ByOtherBeforePlan, "after": ByOtherAfterPlan}
	for _, r := range rep.Pods {
		o, ok := deletes[r.Name]
		switch {
		case !ok:
			t.Errorf("pod %s: not deleted again", r.Name)
		case o.GracePeriodSeconds == nil || *o.GracePeriodSeconds != 103:
			t.Errorf("pod %s: deleted with grace %v, want 103s", r.Name, o.GracePeriodSeconds)
		case o.Preconditions == nil || o.Preconditions.UID == nil || *o.Preconditions.UID != r.UID:
			t.Errorf("pod %s: deleted without its UID as precondition: %+v", r.Name, o.Preconditions)
		}
		if r.TerminatedBy != want[r.Name] || r.Outcome != GoneBeforeEviction || r.Grace != 103 {
			t.Errorf("pod %s: by %q, %s, grace %d (%s); want by %q, grace 103", r.Name, r.TerminatedBy, r.Outcome, r.Grace, r.Reason, want[r.Name])
		}
	}
	if len(rep.Pods) != 2 || rep.TerminatedByOthers() != 2 {
		t.Errorf("report: %s", rep.Summary())
	}
}

// runningPod is a pod running on node "n", for drains on a fake clientset.
func runningPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
}
