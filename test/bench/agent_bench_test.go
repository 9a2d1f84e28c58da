package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// runs is how many times the repeated scenarios run ($BENCH_RUNS, default 20).
func runs() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && n > 0 {
		return n
	}
	return 20
}

// BenchmarkNoticeToCordon: a Spot notice appears in AEMM at a known second;
// how long until the node is seen cordoned, at the default 1s poll.
func BenchmarkNoticeToCordon(b *testing.B) {
	var ms []float64
	for range b.N {
		for range runs() {
			node := nodeName("cordon")
			spotNodeWithPods(b, node, 0, 1, 0)
			at := nextSecond(2 * time.Second)
			aemm := spotNotice(b, at, at.Add(2*time.Minute))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			wait, err := observe(ctx, node, -1)
			if err != nil {
				b.Fatal(err)
			}
			agent := startAgent(b, node, aemm.URL)
			m := wait()
			cancel()
			agent.Kill()
			aemm.Stop()
			if m.cordoned.IsZero() {
				b.Fatalf("node %s never cordoned", node)
			}
			ms = append(ms, float64(m.cordoned.Sub(at).Milliseconds()))
		}
	}
	b.ReportMetric(percentile(ms, 50), "p50_ms")
	b.ReportMetric(percentile(ms, 99), "p99_ms")
	b.ReportMetric(float64(len(ms)), "runs")
}

// drainScenario runs one agent drain of n pods and returns the milestones
// after the notice's appearance, and the spare seconds before deadline −
// margin (15s).
func drainScenario(b *testing.B, n int32, grace int64, delay, notice time.Duration) (cordon, accepted, empty, spare float64) {
	node := nodeName("drain")
	spotNodeWithPods(b, node, n, grace, delay)
	return drainOnce(b, node, n, notice, agentBinary(), nil).seconds()
}

// drainResult is one drain's milestones, its notice's appearance and its
// deadline.
type drainResult struct {
	m            milestones
	at, deadline time.Time
}

// seconds returns cordon, all accepted and empty after the notice's
// appearance, and the spare seconds before deadline − margin (15s).
func (d drainResult) seconds() (cordon, accepted, empty, spare float64) {
	return d.m.cordoned.Sub(d.at).Seconds(), d.m.accepted.Sub(d.at).Seconds(), d.m.empty.Sub(d.at).Seconds(),
		d.deadline.Add(-15 * time.Second).Sub(d.m.empty).Seconds()
}

// drainOnce serves a Spot notice (2s from now, notice before the deadline)
// for node and its n pods, runs bin (the agent or a script that execs it)
// and waits until the node is empty. watch, if set, is called once the
// agent is ready and returns a func called when the drain is over.
func drainOnce(b *testing.B, node string, n int32, notice time.Duration, bin string, watch func(*testenv.AgentProc) func()) drainResult {
	b.Helper()
	at := nextSecond(2 * time.Second)
	deadline := at.Add(notice)
	aemm := spotNotice(b, at, deadline)
	defer aemm.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), notice+30*time.Second)
	defer cancel()
	wait, err := observe(ctx, node, int(n))
	if err != nil {
		b.Fatal(err)
	}
	agent := startAgentBin(b, bin, node, aemm.URL)
	defer agent.Kill()
	var stop func()
	if watch != nil {
		stop = watch(agent)
	}
	m := wait()
	if stop != nil {
		stop()
	}
	if m.empty.IsZero() {
		b.Fatalf("node %s not empty before the termination time; agent log:\n%s", node, tail(agent.Logs(), 20))
	}
	return drainResult{m: m, at: at, deadline: deadline}
}

// Benchmark110Pods30sGrace: notice → all 110 evictions accepted → node
// empty; pods go within their 30s grace (kwok's random delay).
func Benchmark110Pods30sGrace(b *testing.B) {
	var acc, empty, spare []float64
	for range b.N {
		for range 3 {
			_, a, e, s := drainScenario(b, 110, 30, 0, 2*time.Minute)
			acc, empty, spare = append(acc, a), append(empty, e), append(spare, s)
		}
	}
	b.ReportMetric(percentile(acc, 50), "accepted_p50_s")
	b.ReportMetric(percentile(acc, 99), "accepted_p99_s")
	b.ReportMetric(percentile(empty, 50), "empty_p50_s")
	b.ReportMetric(percentile(empty, 99), "empty_p99_s")
	b.ReportMetric(percentile(spare, 0), "min_spare_s")
}

// Benchmark110Pods600sGrace90sDeadline: pods that ask 600s and use all of
// the grace they get, a 90s notice: the grace is capped so the node is
// empty before deadline − margin (a drain that honours 600s, or stops at a
// fixed 120s timeout, leaves them running when the instance dies).
func Benchmark110Pods600sGrace90sDeadline(b *testing.B) {
	for range b.N {
		_, a, e, s := drainScenario(b, 110, 600, 100000*time.Second, 90*time.Second)
		b.ReportMetric(a, "accepted_s")
		b.ReportMetric(e, "empty_s")
		b.ReportMetric(s, "spare_s")
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
