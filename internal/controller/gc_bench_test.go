package controller

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/interrupt"
)

// BenchmarkNodesComeAndGo prints the leader's node actors, goroutines and
// live heap while 5000 nodes, 50 at a time, each get a Spot notice (cordon
// only: no drain I/O) and are deleted, as on a cluster that replaces Spot
// nodes all week: with the actors collected the figures stay flat.
func BenchmarkNodesComeAndGo(b *testing.B) {
	const total, batch, every = 5000, 50, 1000
	for b.Loop() {
		r := newGCRig(b, true)
		start := gcSample(r)
		b.Logf("start: %s", start)
		var last gcFigures
		for done := 0; done < total; done += batch {
			names := make([]string, batch)
			for i := range names {
				names[i] = fmt.Sprintf("n%05d", done+i)
				if _, err := r.kube.CoreV1().Nodes().Create(context.Background(), gcNode(names[i], 0), metav1.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			for _, n := range names {
				r.waitIndex(n, true)
			}
			var wg sync.WaitGroup
			for _, n := range names {
				wg.Go(func() {
					if res := r.as.deliver(n, interrupt.Received{Notice: spotNotice(n, n)}); !res.durable {
						b.Errorf("notice for %s: %v", n, res.err)
					}
				})
			}
			wg.Wait()
			for _, n := range names {
				if err := r.kube.CoreV1().Nodes().Delete(context.Background(), n, metav1.DeleteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			for _, n := range names {
				r.waitIndex(n, false)
			}
			r.kube.ClearActions() // the fake clientset's own record of calls
			if (done+batch)%every == 0 {
				r.settle()
				last = gcSample(r)
				b.Logf("after %d notices: %s", done+batch, last)
			}
		}
		b.ReportMetric(float64(last.actors), "actors")
		b.ReportMetric(float64(last.goroutines-start.goroutines), "goroutines-added")
		b.ReportMetric(last.heapMiB-start.heapMiB, "heap-MiB-added")
	}
}

// settle waits up to 5s for the actors of deleted nodes to retire (it
// does not fail: without collection they never do, and the figures say so).
func (r *gcRig) settle() {
	for deadline := time.Now().Add(5 * time.Second); r.actorCount() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// gcFigures is one sample of the rig's footprint.
type gcFigures struct {
	actors, goroutines int
	heapMiB            float64
}

func (f gcFigures) String() string {
	return fmt.Sprintf("%d node actors, %d goroutines, live heap %.1f MiB", f.actors, f.goroutines, f.heapMiB)
}

func gcSample(r *gcRig) gcFigures {
	time.Sleep(50 * time.Millisecond) // let retired actors' goroutines end
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return gcFigures{actors: r.actorCount(), goroutines: runtime.NumGoroutine(), heapMiB: float64(ms.HeapAlloc) / (1 << 20)}
}
