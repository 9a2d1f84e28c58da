package bench

import (
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// BenchmarkAgentIdle: one agent in a memory cgroup of its own, started
// with its binary's pages dropped from the page cache (so they are charged
// to it, as in a fresh container), no notice, for $BENCH_IDLE (default
// 60s): the working set the kubelet sees (usage − inactive file),
// anonymous and total RSS, CPU (and per poll cycle) and Kubernetes API
// requests per minute.
func BenchmarkAgentIdle(b *testing.B) {
	idle := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("BENCH_IDLE")); err == nil {
		idle = d
	}
	for range b.N {
		node := nodeName("idle")
		spotNodeWithPods(b, node, 0, 1, 0)
		aemm := spotNotice(b, time.Now().Add(24*time.Hour).Truncate(time.Second), time.Now().Add(25*time.Hour))
		cg := newMemCgroup(b, node, 0)
		dropPageCache(b, agentBinary())
		agent := startAgentBin(b, cg.wrap(b, agentBinary()), node, aemm.URL)
		time.Sleep(2 * time.Second)
		pid := agent.PID()
		const reqs, polls = "spot_handler_kube_api_requests_total", "spot_handler_imds_requests_total"
		cpu0, req0, poll0 := cpuSeconds(b, pid), agent.MustMetric(b, reqs), agent.MustMetric(b, polls)
		time.Sleep(idle - 2*time.Second)
		cpu1, req1, poll1 := cpuSeconds(b, pid), agent.MustMetric(b, reqs), agent.MustMetric(b, polls)
		s, err := cg.sample()
		if err != nil {
			b.Fatal(err)
		}
		st := procStatus(b, pid)
		window := idle - 2*time.Second
		b.ReportMetric(s.workingSet()/mib, "ws_MiB")
		b.ReportMetric(st["RssAnon"]/1024, "anon_MiB")
		b.ReportMetric(st["VmRSS"]/1024, "rss_MiB")
		b.ReportMetric(s.file/mib, "cgroup_file_MiB")
		b.ReportMetric(100*(cpu1-cpu0)/window.Seconds(), "cpu_pct")
		// Four paths a cycle; the CPU includes the runtime's own idle work.
		b.ReportMetric(1000*(cpu1-cpu0)/max((poll1-poll0)/4, 1), "cpu_ms_per_cycle")
		b.ReportMetric((req1-req0)/window.Minutes(), "api_req_per_min")
		agent.Kill()
		aemm.Stop()
	}
}

// BenchmarkDrainFootprint: drains of 110 and 500 pods (30s grace, 2-minute
// notice), the agent in a memory cgroup of its own started with its pages
// dropped from the page cache, sampled every 20ms from ready to empty: the
// peak working set and anonymous RSS, and the major page faults and OOM
// kills during the drain. Both drains run again under the chart's memory
// limit (charts/spot-handler/values.yaml, with the GOMEMLIMIT the chart
// sets from it) to show they match the unlimited runs.
//
// $BENCH_LIMIT_MIB replaces the chart's limit, to look for the least safe one.
func BenchmarkDrainFootprint(b *testing.B) {
	limit := chartMemoryLimit(b)
	if n := envInt("BENCH_LIMIT_MIB", 0); n > 0 {
		limit = int64(n) * mib
	}
	for _, c := range []struct {
		name  string
		pods  int32
		limit int64
	}{{"pods=110", 110, 0}, {"pods=500", 500, 0}, {"pods=110,limit=chart", 110, limit}, {"pods=500,limit=chart", 500, limit}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				node := nodeName("footprint")
				spotNodeWithPods(b, node, c.pods, 30, 0)
				cg := newMemCgroup(b, node, c.limit)
				var env []string
				if c.limit > 0 {
					env = append(env, "GOMEMLIMIT="+strconv.FormatInt(c.limit, 10))
				}
				dropPageCache(b, agentBinary())
				var peak footprint
				d := drainOnce(b, node, c.pods, 2*time.Minute, cg.wrap(b, agentBinary(), env...),
					func(a *testenv.AgentProc) func() { return sampleFootprint(b, cg, a.PID(), &peak) })
				cordon, accepted, empty, _ := d.seconds()
				b.ReportMetric(peak.ws/mib, "peak_ws_MiB")
				b.ReportMetric(peak.anon/mib, "peak_anon_MiB")
				b.ReportMetric(peak.majfaults, "majfaults")
				b.ReportMetric(cg.ooms(), "oom_kills")
				b.ReportMetric(float64(c.limit)/mib, "limit_MiB")
				b.ReportMetric(cordon*1000, "cordon_ms")
				b.ReportMetric(accepted, "accepted_s")
				b.ReportMetric(empty, "empty_s")
			}
		})
	}
}

// footprint is the peak memory of a run and its major faults, in bytes and
// counts.
type footprint struct {
	ws, anon, majfaults float64
}

// sampleFootprint samples cg and pid's RssAnon every 20ms into peak until
// the returned func is called; majfaults counts those after the start.
func sampleFootprint(b *testing.B, cg *memCgroup, pid int, peak *footprint) func() {
	first, err := cg.sample()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if s, err := cg.sample(); err == nil {
				peak.ws = max(peak.ws, s.workingSet())
				peak.majfaults = s.majfaults - first.majfaults
			}
			if st, err := readStatus(pid); err == nil {
				peak.anon = max(peak.anon, st["RssAnon"]*1024)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// chartMemoryLimit reads the agent's memory limit from the chart's values.
func chartMemoryLimit(b *testing.B) int64 {
	b.Helper()
	raw, err := os.ReadFile("../../charts/spot-handler/values.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var v struct {
		Resources struct {
			Limits map[string]string `json:"limits"`
		} `json:"resources"`
	}
	if err := yaml.Unmarshal(raw, &v); err != nil {
		b.Fatalf("reading the chart's values: %v", err)
	}
	q, err := resource.ParseQuantity(v.Resources.Limits["memory"])
	if err != nil {
		b.Fatalf("the chart's resources.limits.memory %q: %v", v.Resources.Limits["memory"], err)
	}
	return q.Value()
}
