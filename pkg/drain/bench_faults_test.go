package drain

import (
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// footprint is the goroutines running this package's code and the live
// heap after a GC.
func footprint() (goroutines int, heapKiB float64) {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, "spot-handler/pkg/drain.") && !strings.Contains(g, "pkg/drain.Benchmark") {
			goroutines++
		}
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return goroutines, float64(m.HeapAlloc) / 1024
}

// agentClient is a clientset with the agent's default rate limits (QPS
// 50, burst 150), through cfg.
func agentClient(b *testing.B, cfg *rest.Config) kubernetes.Interface {
	b.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 50, 150
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// startWaitDrain starts a drain of node with --pdb-fallback=wait and the
// agent's rate limits, its deadline after d; cancel stops it, and done
// then gives its report.
func startWaitDrain(b *testing.B, node string, after time.Duration) (context.CancelFunc, <-chan *Report) {
	b.Helper()
	pol := DefaultPolicy()
	pol.PDBFallback = FallbackWait
	d, err := New(agentClient(b, plane.Config), pol, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Report, 1)
	go func() {
		rep, _ := d.Drain(ctx, Request{Node: node, Kind: "ScheduledMaintenance", Deadline: time.Now().Add(after)})
		done <- rep
	}()
	return cancel, done
}

// BenchmarkBlockedDrainFootprint keeps a drain of two pods behind a PDB
// that never allows going for 65 s (fallback wait, deadline a week away)
// and reports the drain's goroutines and the heap 5 s in and at the end:
// a pod retried for a week must cost what it cost in the first minute.
func BenchmarkBlockedDrainFootprint(b *testing.B) {
	for i := range b.N {
		node := fmt.Sprintf("bench-footprint-%d", i)
		ns := benchNodeWith(b, node, 2, 5)
		pdbForBench(b, ns, "app")
		cancel, done := startWaitDrain(b, node, 7*24*time.Hour)
		time.Sleep(5 * time.Second)
		g0, h0 := footprint()
		time.Sleep(60 * time.Second)
		g1, h1 := footprint()
		cancel()
		rep := <-done
		attempts := 0
		for _, p := range rep.Pods {
			attempts += p.Attempts
		}
		b.ReportMetric(float64(g0), "goroutines_start")
		b.ReportMetric(float64(g1), "goroutines_end")
		b.ReportMetric(h0, "heap_start_KiB")
		b.ReportMetric(h1, "heap_end_KiB")
		b.ReportMetric(float64(attempts), "eviction_attempts")
	}
}

// BenchmarkFreePodsAmongBlocked: a node with 500 pods, 300 of them behind
// a PDB that never allows (--pdb-fallback=wait) and sorting first, and 200
// free ones; time from the drain's start until all 200 free evictions are
// accepted, against the same 200 pods alone on a node. Agent rate limits.
func BenchmarkFreePodsAmongBlocked(b *testing.B) {
	for i := range b.N {
		for _, blocked := range []int32{300, 0} {
			node := fmt.Sprintf("bench-slots-%d-%d", blocked, i)
			ns := benchNodeWith(b, node, 0, 0)
			roomFor(b, node, 600)
			if blocked > 0 {
				if err := plane.PinnedReplicaSet(context.Background(), ns, "app", node, blocked, 5, 0); err != nil {
					b.Fatal(err)
				}
				pdbForBench(b, ns, "app")
			}
			if err := plane.PinnedReplicaSet(context.Background(), ns, "zfree", node, 200, 1, 0); err != nil {
				b.Fatal(err)
			}
			cancel, done := startWaitDrain(b, node, 10*time.Minute)
			// Stop at 120 s if the free pods never all go.
			_ = goneFrom(plane, ns, "app=zfree", node, 120*time.Second)
			cancel()
			rep := <-done
			var last time.Time
			accepted := 0
			for _, p := range rep.Pods {
				if strings.HasPrefix(p.Name, "zfree") && !p.Accepted.IsZero() {
					accepted++
					last = maxTime(last, p.Accepted)
				}
			}
			secs := -1.0
			if accepted == 200 {
				secs = last.Sub(rep.Started).Seconds()
			}
			b.ReportMetric(secs, fmt.Sprintf("free_accepted_s_%d_blocked", blocked))
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// roomFor raises a kwok node's pod capacity (the maxPods a kubelet could
// be given) to n.
func roomFor(b *testing.B, node string, n int64) {
	b.Helper()
	q := *resource.NewQuantity(n, resource.DecimalSI)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		nd, err := plane.Client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		nd.Status.Capacity[corev1.ResourcePods], nd.Status.Allocatable[corev1.ResourcePods] = q, q
		_, err = plane.Client.CoreV1().Nodes().UpdateStatus(context.Background(), nd, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDrain110PodsFlaky drains 110 pods (30 s grace) through the
// fault proxy while every 10th request answers 503, and counts the API
// requests; the node must still be empty before deadline − margin.
func BenchmarkDrain110PodsFlaky(b *testing.B) {
	for i := range b.N {
		node := fmt.Sprintf("bench-flaky-%d", i)
		benchNodeWith(b, node, 110, 30)
		f := plane.Faults(b)
		f.Add(testenv.Rule{Every: 10, Status: 503, Message: "injected: every 10th request fails"})
		d, err := New(agentClient(b, f.Config), DefaultPolicy(), nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := d.Drain(context.Background(), Request{Node: node, Kind: "SpotInterruption", Deadline: time.Now().Add(2 * time.Minute)})
		inTime := 0.0
		if err == nil && rep.Empty && !rep.Finished.After(rep.Deadline.Add(-rep.Margin)) {
			inTime = 1
		}
		b.ReportMetric(inTime, "empty_in_time")
		b.ReportMetric(float64(len(f.Requests())), "api_requests")
		b.ReportMetric(rep.Finished.Sub(rep.Started).Seconds(), "empty_s")
		f.Close()
	}
}
