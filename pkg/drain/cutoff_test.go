package drain

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestDrainDeletesAtOnceWhenARefusalIsAnsweredPastTheCutOff: a pod's
// eviction is sent before its cut-off but the PodDisruptionBudget's 429
// comes back after it (a slow API, client-go's own retries). The fallback
// deletion must be sent at once, not after another backoff step: that
// step, taken past the cut-off, made the pod go 0.5 s after deadline −
// margin (found by the soak: make soak SEED=489578176 ONLY=2:1, a 600 s
// pod deleted with 1 s grace 2 s after its cut-off). The deletion's grace
// still ends before deadline − margin. The clock here only
// moves in the eviction's answer, so a drain that waits for a timer never
// sends the DELETE.
func TestDrainDeletesAtOnceWhenARefusalIsAnsweredPastTheCutOff(t *testing.T) {
	start := time.Date(2026, 12, 6, 22, 53, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	pod := runningPod("guarded")
	own := int64(600)
	pod.Spec.TerminationGracePeriodSeconds = &own
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}, pod)
	pol := DefaultPolicy()
	deadline := start.Add(120 * time.Second)
	cut := cutoff(600*time.Second, start, deadline, pol)
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		clk.SetTime(cut.Add(500 * time.Millisecond)) // the answer comes past the cut-off
		return true, nil, pdb429("guarded-pdb")
	})
	deleted := make(chan metav1.DeleteOptions, 4)
	client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		deleted <- a.(k8stesting.DeleteActionImpl).DeleteOptions
		return true, nil, nil
	})
	d, err := New(client, pol, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *Report, 1)
	go func() {
		rep, _ := d.Drain(ctx, Request{Node: "n", Kind: "SpotInterruption", Deadline: deadline})
		done <- rep
	}()
	select {
	case o := <-deleted:
		goneBy := deadline.Add(-pol.Margin)
		if o.GracePeriodSeconds == nil || clk.Now().Add(time.Duration(*o.GracePeriodSeconds)*time.Second).After(goneBy) {
			t.Errorf("deleted at %v with grace %v: ends after deadline − margin %v", clk.Now(), o.GracePeriodSeconds, goneBy)
		}
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatalf("no DELETE after the refusal answered past the cut-off: the drain waits for another backoff step (%s)", (<-done).Summary())
	}
	cancel() // the pod's end is not this test's: the fake clock stands still
	<-done
}
