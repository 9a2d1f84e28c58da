package controller

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// BenchmarkQueueStorm: N nodes (2 pods each, 2 s to go) interrupted at
// once by N Spot messages: message received → node cordoned and → node
// empty (p50 / p99), whether all emptied before deadline − margin, and the
// controller's peak memory while draining. Run with -benchtime 1x.
func BenchmarkQueueStorm(b *testing.B) {
	for _, n := range []int{1, 20, 100} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			for range b.N {
				e := newEnv(b, 30)
				nodes := e.nodes(n, 2, 10, 2*time.Second)
				var names []string
				for _, in := range nodes {
					names = append(names, in.node)
				}
				o := observe(b, e.ns, names)
				c := e.controller("")
				idle := c.rss()
				peak, stop := sampleRSS(c)
				b.ResetTimer()
				r := storm(b, e, nodes, o, drain.DefaultPolicy().Margin)
				b.StopTimer()
				stop()
				b.ReportMetric(float64(percentile(r.cordon, 50).Milliseconds()), "cordon_p50_ms")
				b.ReportMetric(float64(percentile(r.cordon, 99).Milliseconds()), "cordon_p99_ms")
				b.ReportMetric(percentile(r.empty, 50).Seconds(), "empty_p50_s")
				b.ReportMetric(percentile(r.empty, 99).Seconds(), "empty_p99_s")
				b.ReportMetric(boolMetric(r.allInTime), "all_empty_in_time")
				b.ReportMetric(r.slowestSpare.Seconds(), "slowest_spare_s")
				b.ReportMetric(idle, "idle_rss_MiB")
				b.ReportMetric(*peak, "peak_rss_MiB")
			}
		})
	}
}

// BenchmarkLeaderFailover: 20 nodes draining on 10 workers, the leader
// killed once all are cordoned: time until the other replica leads (it
// then resumes every drain), and whether every node still emptied before
// deadline − margin.
func BenchmarkLeaderFailover(b *testing.B) {
	for range b.N {
		e := newEnv(b, 30)
		nodes := e.nodes(20, 2, 30, 5*time.Second)
		b.ResetTimer()
		r := killLeaderMidStorm(b, e, nodes, "--workers=10")
		b.StopTimer()
		b.ReportMetric(r.failover.Seconds(), "failover_s")
		b.ReportMetric(boolMetric(r.storm.allInTime), "all_empty_in_time")
		b.ReportMetric(r.storm.slowestSpare.Seconds(), "slowest_spare_s")
	}
}

// BenchmarkControllerIdle: a leader with 20 nodes and no messages for 30 s:
// resident memory, Kubernetes API requests per minute (the node informer's
// watch only) and SQS receive calls per minute (long polls).
func BenchmarkControllerIdle(b *testing.B) {
	for range b.N {
		e := newEnv(b, 30)
		e.nodes(20, 0, 10, 0)
		c := e.controller("", "--queue-wait=20s")
		time.Sleep(5 * time.Second)
		req0 := c.metric("spot_handler_kube_api_requests_total")
		b.ResetTimer()
		time.Sleep(30 * time.Second)
		b.StopTimer()
		b.ReportMetric(c.rss(), "rss_MiB")
		b.ReportMetric((c.metric("spot_handler_kube_api_requests_total")-req0)*2, "api_req_per_min")
	}
}

// sampleRSS records the controller's peak resident memory until stop.
func sampleRSS(c *ctrl) (*float64, func()) {
	peak := new(float64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			*peak = max(*peak, c.rss())
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	return peak, func() { close(done); wg.Wait() }
}

func boolMetric(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// BenchmarkStarvationStorm: five AWS Health drains whose pods only wait (a
// PDB that never allows, a pod stuck terminating; deadline two weeks away)
// hold the pool when 20 Spot warnings arrive (and two more for Health
// nodes): Spot nodes' message sent → node empty (p50 / p99), with one
// worker and with the default, and whether all emptied before deadline −
// margin (see TestStarvationStorm).
func BenchmarkStarvationStorm(b *testing.B) {
	for _, w := range []string{"1", "128"} {
		b.Run("workers="+w, func(b *testing.B) {
			for range b.N {
				r := starvationStorm(b, 20, "--workers="+w)
				b.ReportMetric(percentile(r.empty, 50).Seconds(), "empty_p50_s")
				b.ReportMetric(percentile(r.empty, 99).Seconds(), "empty_p99_s")
				b.ReportMetric(boolMetric(r.allInTime), "all_empty_in_time")
				b.ReportMetric(5, "drains_waiting")
			}
		})
	}
}
