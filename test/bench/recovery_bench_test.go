package bench

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envInt is $name as a positive integer, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkFaultRecoveryToCordon: IMDS (AEMM behind the fault proxy)
// answers 20s of faults, 503, 500, 429, 401, hanging requests and reset
// connections in turn, then serves a Spot notice 4s later; how long from
// the notice to the node seen cordoned, over $BENCH_FAULT_RUNS (default
// 10) runs, and how many requests per second the failing IMDS got during
// each fault (the agent's watcher and its identity lookup together).
func BenchmarkFaultRecoveryToCordon(b *testing.B) {
	const burst, quiet = 20 * time.Second, 4 * time.Second
	each := burst / time.Duration(len(faultRotation))
	var ms []float64
	rates := map[string][]float64{}
	for range b.N {
		for range envInt("BENCH_FAULT_RUNS", 10) {
			node := nodeName("faults")
			spotNodeWithPods(b, node, 0, 1, 0)
			// Room to start the agent (ready) before the burst begins.
			at := nextSecond(burst + quiet + 5*time.Second)
			aemm := spotNotice(b, at, at.Add(2*time.Minute))
			proxy := newFaultProxy(b, aemm.URL)
			ctx, cancel := context.WithTimeout(context.Background(), time.Until(at)+30*time.Second)
			wait, err := observe(ctx, node, -1)
			if err != nil {
				b.Fatal(err)
			}
			agent := startAgent(b, node, proxy.URL())
			start := at.Add(-quiet - burst)
			if time.Now().After(start) {
				b.Fatalf("the agent took until %v to be ready, after the burst's start %v", time.Now(), start)
			}
			proxy.arm(start, each, faultRotation)
			m := wait()
			cancel()
			agent.Kill()
			proxy.srv.Close()
			aemm.Stop()
			if m.cordoned.IsZero() {
				b.Fatalf("node %s never cordoned; agent log:\n%s", node, tail(agent.Logs(), 30))
			}
			ms = append(ms, float64(m.cordoned.Sub(at).Milliseconds()))
			for f, r := range proxy.perSecond() {
				rates[f] = append(rates[f], r)
			}
		}
	}
	b.ReportMetric(percentile(ms, 50), "p50_ms")
	b.ReportMetric(percentile(ms, 99), "p99_ms")
	b.ReportMetric(float64(len(ms)), "runs")
	most := 0.0
	for f, rs := range rates {
		m := mean(rs)
		most = max(most, m)
		b.ReportMetric(m, "req_per_s_"+f)
	}
	b.ReportMetric(most, "req_per_s_max")
}

// BenchmarkAgentStartup: the agent binary started with its pages dropped
// from the page cache (a fresh node's first run), $BENCH_STARTUP_RUNS
// (default 10) times: exec → first request to IMDS, and exec → /readyz 200
// (IMDS answered and the API server reached).
func BenchmarkAgentStartup(b *testing.B) {
	var first, ready, logged []float64
	for range b.N {
		for range envInt("BENCH_STARTUP_RUNS", 10) {
			node := nodeName("startup")
			spotNodeWithPods(b, node, 0, 1, 0)
			aemm := spotNotice(b, time.Now().Add(24*time.Hour).Truncate(time.Second), time.Now().Add(25*time.Hour))
			proxy := newFaultProxy(b, aemm.URL)
			dropPageCache(b, agentBinary())
			agent := startAgent(b, node, proxy.URL())
			first = append(first, ms(proxy.firstRequest().Sub(agent.Started)))
			ready = append(ready, ms(agent.Ready.Sub(agent.Started)))
			if t, ok := logTime(agent.Logs(), "agent started"); ok {
				logged = append(logged, ms(t.Sub(agent.Started)))
			}
			agent.Kill()
			proxy.srv.Close()
			aemm.Stop()
		}
	}
	b.ReportMetric(percentile(first, 50), "first_poll_p50_ms")
	b.ReportMetric(percentile(first, 100), "first_poll_max_ms")
	b.ReportMetric(percentile(ready, 50), "ready_p50_ms")
	b.ReportMetric(percentile(ready, 100), "ready_max_ms")
	b.ReportMetric(percentile(logged, 50), "started_log_p50_ms")
	b.ReportMetric(float64(len(first)), "runs")
}

// logTime returns the time of the first JSON log line with message msg.
func logTime(logs, msg string) (time.Time, bool) {
	for _, line := range strings.Split(logs, "\n") {
		var l struct {
			Msg string `json:"msg"`
			TS  string `json:"ts"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == msg {
			t, err := time.Parse(time.RFC3339Nano, l.TS)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mean is the average of xs (0 if none).
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s) // sum small to large
	t := 0.0
	for _, x := range s {
		t += x
	}
	return t / float64(len(s))
}
