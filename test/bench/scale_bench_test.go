package bench

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// BenchmarkManyNodesAtOnce: $BENCH_NODES (default 50) Spot nodes of 30 pods
// (30s grace) interrupted at the same second, one agent each, all against
// one kube-apiserver and one AEMM. Reports whether every node was empty
// before its deadline − margin and the slowest node's spare seconds.
func BenchmarkManyNodesAtOnce(b *testing.B) {
	nodes := 50
	if n, err := strconv.Atoi(os.Getenv("BENCH_NODES")); err == nil && n > 0 {
		nodes = n
	}
	for range b.N {
		names := make([]string, nodes)
		var wg sync.WaitGroup
		for i := range names {
			names[i] = nodeName("scale")
			wg.Go(func() { spotNodeWithPods(b, names[i], 30, 30, 0) })
		}
		wg.Wait()
		// Time to start every agent before the notice appears.
		at := nextSecond(time.Duration(nodes)*400*time.Millisecond + 5*time.Second)
		deadline := at.Add(2 * time.Minute)
		aemm := spotNotice(b, at, deadline)
		ctx, cancel := context.WithTimeout(context.Background(), time.Until(deadline)+30*time.Second)
		waits := make([]func() milestones, nodes)
		agents := make([]*testenv.AgentProc, nodes)
		for i, n := range names {
			var err error
			if waits[i], err = observe(ctx, n, 30); err != nil {
				b.Fatal(err)
			}
			agents[i] = startAgent(b, n, aemm.URL)
		}
		if time.Now().After(at) {
			b.Fatalf("agents took too long to start: the notice appeared before all were up")
		}
		allEmpty, slowest := true, 1e9
		var empties []float64
		for i := range names {
			m := waits[i]()
			if m.empty.IsZero() || m.empty.After(deadline.Add(-15*time.Second)) {
				allEmpty = false
				b.Logf("node %s not empty in time: cordoned %v, evictions accepted %v, empty %v; agent log tail:\n%s",
					names[i], m.cordoned, m.accepted, m.empty, tail(agents[i].Logs(), 8))
				continue
			}
			spare := deadline.Add(-15 * time.Second).Sub(m.empty).Seconds()
			slowest = min(slowest, spare)
			empties = append(empties, m.empty.Sub(at).Seconds())
		}
		cancel()
		for _, a := range agents {
			a.Kill()
		}
		aemm.Stop()
		ok := 0.0
		if allEmpty {
			ok = 1
		}
		b.ReportMetric(float64(nodes), "nodes")
		b.ReportMetric(ok, "all_empty_in_time")
		b.ReportMetric(slowest, "slowest_spare_s")
		b.ReportMetric(percentile(empties, 50), "empty_p50_s")
		b.ReportMetric(percentile(empties, 100), "empty_max_s")
	}
}
