package drain

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
)

// BenchmarkDrain110PodsWaves: the time cost of the order of eviction. Two
// nodes of 110 pods each, every pod using all of its 10 s grace: 30 batch
// pods at a low PriorityClass, 70 web pods at none and 10 logging pods at
// system-node-critical. One is drained in priority waves (the default),
// the other with --drain-order=none (all at once), one after the other, with
// a 2-minute notice: both must be empty before deadline − margin.
func BenchmarkDrain110PodsWaves(b *testing.B) {
	lowPriorityClass(b)
	long := 100000 * time.Second
	for i := range b.N {
		empty := map[Order]time.Duration{}
		inTime := 1.0
		for _, order := range []Order{OrderPriority, OrderNone} {
			node := fmt.Sprintf("bench-waves-%s-%d", order, i)
			ns := "bench-" + node
			if err := plane.CreateNamespace(context.Background(), ns); err != nil {
				b.Fatal(err)
			}
			nodeWith(b, plane, ns, node,
				workload{name: "batch", replicas: 30, grace: 10, delay: long, priority: "drain-test-low"},
				workload{name: "web", replicas: 70, grace: 10, delay: long},
				workload{name: "logging", replicas: 10, grace: 10, delay: long, priority: "system-node-critical"})
			pol := DefaultPolicy()
			pol.Order = order
			d, err := New(plane.Client, pol, nil, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			rep, err := d.Drain(context.Background(), Request{Node: node, Kind: "SpotInterruption", NoticeID: node, Deadline: time.Now().Add(2 * time.Minute)})
			if err != nil || !rep.Empty {
				b.Fatalf("drain (order %s): %v %s", order, err, rep.Summary())
			}
			if rep.MissedDeadline() || rep.Emptied.After(rep.Deadline.Add(-rep.Margin)) {
				inTime = 0
			}
			empty[order] = rep.Emptied.Sub(rep.Started)
			b.Logf("order %s: %s", order, rep.Summary())
		}
		b.ReportMetric(empty[OrderPriority].Seconds(), "waves_empty_s")
		b.ReportMetric(empty[OrderNone].Seconds(), "at_once_empty_s")
		b.ReportMetric(inTime, "both_empty_in_time")
	}
}
