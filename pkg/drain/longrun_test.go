package drain

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestBlockedDrainCostsTheSameAfterADay drives a drain of two pods whose
// PDB never allows eviction through a simulated day on a fake clock (a
// fake clientset: this checks the drain's own bookkeeping, not the API).
// Its goroutines (those running this package's code) and live heap after
// the day are what they were after the first minute. On the code before
// issue 11 this went from 9 to 38056 goroutines and 2 to 32 MiB.
func TestBlockedDrainCostsTheSameAfterADay(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	objs := []kruntime.Object{&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}}
	for _, name := range []string{"a", "b"} {
		objs = append(objs, runningPod(name))
	}
	client := fake.NewSimpleClientset(objs...)
	var evictions atomic.Int64
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		evictions.Add(1)
		return true, nil, pdb429("web")
	})
	pol := DefaultPolicy()
	pol.PDBFallback = FallbackWait
	d, err := New(client, pol, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Report, 1)
	go func() {
		rep, _ := d.Drain(ctx, Request{Node: "n", Kind: "ScheduledMaintenance", Deadline: start.Add(7 * 24 * time.Hour)})
		done <- rep
	}()
	steps, want := 0, 1
	step := func(until time.Duration) {
		for clk.Since(start) < until {
			// Let every goroutine that waits on the clock get back to it.
			for deadline := time.Now().Add(50 * time.Millisecond); clk.Waiters() < want && time.Now().Before(deadline); {
				runtime.Gosched()
			}
			clk.Step(time.Second)
			if steps++; steps%3600 == 0 {
				client.ClearActions() // the fake records every call; the drain does not
			}
		}
	}
	// The drain's first eviction waits on real time (the cordon, the plan,
	// the tracker's sync), not on the clock: stepping meanwhile would spend
	// the simulated day before the first attempt.
	for first := time.Now().Add(30 * time.Second); evictions.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(first) {
			t.Fatal("no eviction attempt within 30s")
		}
	}
	for evictions.Load() < 60 { // the drain is retrying
		step(clk.Since(start) + time.Second)
	}
	// Timers of a retrying drain of two pods: its deadline, its claim's
	// renewal, one per pod.
	want = 4
	client.ClearActions()
	g0, h0 := settledFootprint()
	step(clk.Since(start) + 24*time.Hour)
	client.ClearActions()
	g1, h1 := settledFootprint()
	cancel()
	rep := <-done
	if rep.Err != nil && len(rep.Pods) == 0 {
		t.Fatalf("drain: %v", rep.Err)
	}
	n := evictions.Load()
	t.Logf("once retrying: %d goroutines, %.0f KiB; after a day: %d goroutines, %.0f KiB; %d evictions refused", g0, h0, g1, h1, n)
	// A busy machine takes fewer attempts through the day (the clock may step
	// before every retry is back on it: 24k-75k idle, 6k seen under load);
	// the code before issue 11 left a goroutine behind per attempt, so a
	// thousand attempts are plenty for the footprint checks to bite.
	if n < 1000 {
		t.Fatalf("only %d eviction attempts in a simulated day: the pods were not retried enough for the test to bite", n)
	}
	if g1 > g0 {
		t.Errorf("goroutines grew from %d to %d over the day", g0, g1)
	}
	if h1 > h0+512 {
		t.Errorf("live heap grew from %.0f to %.0f KiB over the day", h0, h1)
	}
	if len(rep.Pods) != 2 || rep.Pods[0].Outcome != RunningAtDeadline {
		t.Errorf("report %s", rep.Summary())
	}
}

func settledFootprint() (int, float64) {
	for range 100 {
		runtime.Gosched()
	}
	g := drainGoroutines()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return g, float64(m.HeapAlloc) / 1024
}
