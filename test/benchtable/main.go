// Command benchtable reads `go test -bench` output on stdin (what `make
// bench` saves in bench.out) and prints the README's performance table in
// Markdown: each figure the benchmarks reported, in words, with the
// benchmark it came from. Figures it has no row for are listed after it.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// row is one line of the table: a label and how to print a benchmark's
// figures.
type row struct {
	bench, label string
	units        []string
	format       string
}

var rows = []row{
	{"BenchmarkNoticeToCordon", "Spot notice appears in IMDS → node cordoned and tainted, agent at the default 1 s poll (p50 / p99 over %.0f runs)", []string{"runs", "p50_ms", "p99_ms"}, "%.0f ms / %.0f ms"},
	{"BenchmarkNoticeLatency/poll=1s", "IMDS watcher alone: notice appears → delivered, 1 s poll (p50 / p99)", []string{"p50-ms", "p99-ms"}, "%.0f ms / %.0f ms"},
	{"BenchmarkNoticeLatency/poll=250ms", "IMDS watcher alone: notice appears → delivered, 250 ms poll (p50 / p99)", []string{"p50-ms", "p99-ms"}, "%.0f ms / %.0f ms"},
	{"Benchmark110Pods30sGrace", "Notice → all 110 evictions accepted (p50 / p99 of 3 runs)", []string{"accepted_p50_s", "accepted_p99_s"}, "%.2f s / %.2f s"},
	{"Benchmark110Pods30sGrace", "Notice → node empty, 110 pods with 30 s grace (p50 / p99 of 3 runs; least spare before deadline − 15 s)", []string{"empty_p50_s", "empty_p99_s", "min_spare_s"}, "%.1f s / %.1f s; %.1f s spare"},
	{"Benchmark110Pods600sGrace90sDeadline", "Notice → node empty, 110 pods asking 600 s grace (and using it all), 90 s notice", []string{"empty_s", "spare_s"}, "%.1f s, %.1f s before deadline − 15 s"},
	{"BenchmarkManyNodesAtOnce", "%.0f Spot nodes × 30 pods interrupted at once, 1 agent each, 1 apiserver: all empty before deadline − margin? slowest node's spare", []string{"nodes", "all_empty_in_time", "slowest_spare_s"}, "yes=%.0f; %.1f s spare"},
	{"BenchmarkManyNodesAtOnce", "… node empty after the notice (p50 / slowest)", []string{"empty_p50_s", "empty_max_s"}, "%.1f s / %.1f s"},
	{"BenchmarkFaultRecoveryToCordon", "After 20 s of IMDS faults (503, 500, 429, 401, hanging, reset), a Spot notice 4 s later → node cordoned (p50 / p99 over %.0f runs)", []string{"runs", "p50_ms", "p99_ms"}, "%.0f ms / %.0f ms"},
	{"BenchmarkFaultRecoveryToCordon", "… requests per second the failing IMDS got: most under any fault / while it answered 429", []string{"req_per_s_max", "req_per_s_429"}, "%.1f / %.1f"},
	{"BenchmarkAgentStartup", "Agent start, binary not in the page cache (a fresh node): exec → first IMDS request; exec → /readyz ready (p50 / max of %.0f)", []string{"runs", "first_poll_p50_ms", "first_poll_max_ms", "ready_p50_ms", "ready_max_ms"}, "%.0f / %.0f ms; %.0f / %.0f ms"},
	{"BenchmarkAgentIdle", "Agent idle 60 s (no notice) in its own memory cgroup: working set (usage − inactive file), anonymous RSS, RSS", []string{"ws_MiB", "anon_MiB", "rss_MiB"}, "%.1f MiB, %.1f MiB, %.0f MiB"},
	{"BenchmarkAgentIdle", "… CPU; per poll cycle (4 paths); Kubernetes API requests per minute", []string{"cpu_pct", "cpu_ms_per_cycle", "api_req_per_min"}, "%.2f %% of a core; %.2f ms; %.0f req/min"},
	{"BenchmarkDrainFootprint/pods=110", "110-pod drain, agent in its own memory cgroup: peak working set / peak anonymous RSS; major faults in the drain; cordon, all accepted, empty", []string{"peak_ws_MiB", "peak_anon_MiB", "majfaults", "cordon_ms", "accepted_s", "empty_s"}, "%.1f / %.1f MiB; %.0f; %.0f ms, %.2f s, %.1f s"},
	{"BenchmarkDrainFootprint/pods=500", "500-pod drain, same: peak working set / peak anonymous RSS; major faults; cordon, all accepted, empty", []string{"peak_ws_MiB", "peak_anon_MiB", "majfaults", "cordon_ms", "accepted_s", "empty_s"}, "%.1f / %.1f MiB; %.0f; %.0f ms, %.2f s, %.1f s"},
	{"BenchmarkDrainFootprint/pods=110,limit=chart", "110-pod drain under the chart's %.0f MiB limit (GOMEMLIMIT from it): peak working set / anonymous RSS; major faults; OOM kills; cordon, all accepted, empty", []string{"limit_MiB", "peak_ws_MiB", "peak_anon_MiB", "majfaults", "oom_kills", "cordon_ms", "accepted_s", "empty_s"}, "%.1f / %.1f MiB; %.0f; %.0f; %.0f ms, %.2f s, %.1f s"},
	{"BenchmarkDrainFootprint/pods=500,limit=chart", "500-pod drain under the chart's %.0f MiB limit (GOMEMLIMIT from it): peak working set / anonymous RSS; major faults; OOM kills; cordon, all accepted, empty", []string{"limit_MiB", "peak_ws_MiB", "peak_anon_MiB", "majfaults", "oom_kills", "cordon_ms", "accepted_s", "empty_s"}, "%.1f / %.1f MiB; %.0f; %.0f; %.0f ms, %.2f s, %.1f s"},
	{"BenchmarkDrain110Pods", "pkg/drain alone, 110 pods: cordon, all evictions accepted, API requests per drain", []string{"cordon_ms", "all_accepted_s", "api_requests"}, "%.0f ms, %.2f s, %.0f requests"},
	{"BenchmarkDrain110PodsFlaky", "pkg/drain, 110 pods (30 s grace) with every 10th API request answered 503: API requests per drain; node empty after; empty before deadline − margin", []string{"api_requests", "empty_s", "empty_in_time"}, "%.0f requests; %.1f s; yes=%.0f"},
	{"BenchmarkFreePodsAmongBlocked", "pkg/drain, 500-pod node with 300 pods behind a PDB that never allows (sorting first): start → all 200 free evictions accepted, vs the 200 alone (−1: not within 120 s)", []string{"free_accepted_s_300_blocked", "free_accepted_s_0_blocked"}, "%.2f s vs %.2f s"},
	{"BenchmarkDrain110PodsWaves", "pkg/drain, 110 pods using all of their 10 s grace (30 batch at a low PriorityClass, 70 web, 10 logging at system-node-critical), 2-minute notice: node empty in priority waves vs all at once (`--drain-order=none`); both empty before deadline − margin?", []string{"waves_empty_s", "at_once_empty_s", "both_empty_in_time"}, "%.1f s vs %.1f s; yes=%.0f"},
	{"BenchmarkBlockedDrainFootprint", "pkg/drain, 2 pods behind a PDB that never allows, retried for 65 s: drain goroutines and live heap 5 s in → at the end", []string{"goroutines_start", "goroutines_end", "heap_start_KiB", "heap_end_KiB"}, "%.0f → %.0f goroutines; %.0f → %.0f KiB"},
	{"BenchmarkPDBNeverAllows", "PDB that never allows eviction (maxUnavailable 0), 40 s notice: --pdb-fallback=delete spare before deadline − margin; =wait blocking pods named with their PDB", []string{"delete_spare_s", "wait_blocking_pods_named"}, "%.1f s spare; %.0f of 2 named"},
	{"BenchmarkConcurrentTaintWriters", "20 writers + the drain taint one node at once, 10 rounds: taints lost with the drain's guarded JSON patch / a full-object Update without resourceVersion / Update retried on conflict (5 tries)", []string{"patch_lost_pct", "update_no_rv_lost_pct", "update_retry_lost_pct"}, "%.1f %% / %.1f %% / %.1f %%"},
	{"BenchmarkQueueStorm/nodes=1", "Queue mode, 1 node interrupted: all empty before deadline − margin? message received → node cordoned (p50 / p99), → node empty (p50 / p99)", []string{"all_empty_in_time", "cordon_p50_ms", "cordon_p99_ms", "empty_p50_s", "empty_p99_s"}, "yes=%.0f; %.0f ms / %.0f ms; %.1f s / %.1f s"},
	{"BenchmarkQueueStorm/nodes=20", "Queue mode, 20 nodes interrupted at once: all empty before deadline − margin? received → cordoned (p50 / p99), → empty (p50 / p99)", []string{"all_empty_in_time", "cordon_p50_ms", "cordon_p99_ms", "empty_p50_s", "empty_p99_s"}, "yes=%.0f; %.0f ms / %.0f ms; %.1f s / %.1f s"},
	{"BenchmarkQueueStorm/nodes=100", "Queue mode, 100 nodes interrupted at once: all empty before deadline − margin? received → cordoned (p50 / p99), → empty (p50 / p99)", []string{"all_empty_in_time", "cordon_p50_ms", "cordon_p99_ms", "empty_p50_s", "empty_p99_s"}, "yes=%.0f; %.0f ms / %.0f ms; %.1f s / %.1f s"},
	{"BenchmarkQueueStorm/nodes=100", "Queue mode: controller resident memory idle / at 100 drains", []string{"idle_rss_MiB", "peak_rss_MiB"}, "%.0f MiB / %.0f MiB"},
	{"BenchmarkStarvationStorm/workers=1", "Queue mode, 20 Spot warnings while 5 Health drains only wait (PDB-blocked, stuck terminating), 1 worker: all Spot nodes empty before deadline − margin? sent → empty (p50 / p99)", []string{"all_empty_in_time", "empty_p50_s", "empty_p99_s"}, "yes=%.0f; %.1f s / %.1f s"},
	{"BenchmarkStarvationStorm/workers=128", "Queue mode, the same with the default 128 workers", []string{"all_empty_in_time", "empty_p50_s", "empty_p99_s"}, "yes=%.0f; %.1f s / %.1f s"},
	{"BenchmarkLeaderFailover", "Queue mode, leader killed mid-storm (20 nodes, 10 workers): all empty before deadline − margin? new leader after; slowest node's spare", []string{"all_empty_in_time", "failover_s", "slowest_spare_s"}, "yes=%.0f; %.1f s; %.1f s spare"},
	{"BenchmarkControllerAtScale", "Controller idle over 1000 nodes as large as a kubelet's (50 images, 5 conditions), own memory cgroup: working set, anonymous RSS, RSS, Go heap in use", []string{"ws_MiB_1000nodes", "anon_MiB_1000nodes", "rss_MiB_1000nodes", "heap_MiB_1000nodes"}, "%.1f MiB, %.1f MiB, %.0f MiB, %.1f MiB"},
	{"BenchmarkControllerAtScale", "… over 5000 such nodes: working set, anonymous RSS, RSS, Go heap in use; working set per 1000 more nodes", []string{"ws_MiB_5000nodes", "anon_MiB_5000nodes", "rss_MiB_5000nodes", "heap_MiB_5000nodes", "ws_MiB_per_1000_nodes"}, "%.1f MiB, %.1f MiB, %.0f MiB, %.1f MiB; +%.1f MiB per 1000"},
	{"BenchmarkQueueStormAtScale/nodes=100", "Queue mode, %.0f kubelet-sized nodes × 10 pods (20 s grace) interrupted at once: nodes empty before deadline − margin; received → cordoned (p50 / p99); sent → cordoned p99; → empty (p50 / p99)", []string{"nodes", "nodes_empty_in_time", "cordon_p50_ms", "cordon_p99_ms", "sent_cordon_p99_ms", "empty_p50_s", "empty_p99_s"}, "%.0f; %.0f ms / %.0f ms; %.0f ms; %.1f s / %.1f s"},
	{"BenchmarkQueueStormAtScale/nodes=100", "… Kubernetes API requests per drain; 429 answers; controller peak RSS", []string{"api_req_per_drain", "api_429", "peak_rss_MiB"}, "%.1f; %.0f; %.0f MiB"},
	{"BenchmarkQueueStormAtScale/nodes=100", "… received → cordon answered by the API server, from the controller's log (p50 / p99)", []string{"ctl_cordon_p50_ms", "ctl_cordon_p99_ms"}, "%.0f ms / %.0f ms"},
	{"BenchmarkQueueStormAtScale/nodes=500", "Queue mode, %.0f kubelet-sized nodes × 10 pods (20 s grace) interrupted at once: nodes empty before deadline − margin; received → cordoned (p50 / p99); sent → cordoned p99; → empty (p50 / p99)", []string{"nodes", "nodes_empty_in_time", "cordon_p50_ms", "cordon_p99_ms", "sent_cordon_p99_ms", "empty_p50_s", "empty_p99_s"}, "%.0f; %.0f ms / %.0f ms; %.0f ms; %.1f s / %.1f s"},
	{"BenchmarkQueueStormAtScale/nodes=500", "… Kubernetes API requests per drain; 429 answers; controller peak RSS", []string{"api_req_per_drain", "api_429", "peak_rss_MiB"}, "%.1f; %.0f; %.0f MiB"},
	{"BenchmarkQueueStormAtScale/nodes=500", "… received → cordon answered by the API server, from the controller's log (p50 / p99)", []string{"ctl_cordon_p50_ms", "ctl_cordon_p99_ms"}, "%.0f ms / %.0f ms"},
	{"BenchmarkAgentsAtScale", "%.0f agents (one a kwok Spot node, each with its own IMDS, one API server) at rest 60 s: their Kubernetes API requests; RSS / anonymous RSS an agent; CPU an agent", []string{"agents", "idle_api_requests", "idle_agent_rss_avg_MiB", "idle_agent_anon_avg_MiB", "idle_agent_cpu_pct"}, "%.0f requests; %.0f / %.1f MiB; %.2f %% of a core"},
	{"BenchmarkAgentsAtScale", "… then all drain at once (10 pods, 20 s grace, 2-minute notice): nodes empty before deadline − margin; notice → cordoned (p50 / p99); → empty (p50 / p99 / max)", []string{"nodes_empty_in_time", "storm_cordon_p50_ms", "storm_cordon_p99_ms", "storm_empty_p50_s", "storm_empty_p99_s", "storm_empty_max_s"}, "%.0f; %.0f ms / %.0f ms; %.1f s / %.1f s / %.1f s"},
	{"BenchmarkAgentsAtScale", "… the storm's cost, notice → last node empty: API server CPU, etcd CPU; the agents' API requests per drain; 429 answers", []string{"apiserver_cpu_s", "etcd_cpu_s", "api_req_per_drain", "api_429"}, "%.1f s, %.1f s; %.1f; %.0f"},
	{"BenchmarkControllerIdle", "Controller idle (leader, 20 nodes, no messages): resident memory, Kubernetes API requests per minute", []string{"rss_MiB", "api_req_per_min"}, "%.0f MiB, %.0f req/min"},
	{"BenchmarkLifecycleToComplete", "ASG termination hook, node of 30 pods with 30 s grace: lifecycle message → CompleteLifecycleAction CONTINUE (p50 / max of 3; heartbeats sent per action, 5 s hook timeout)", []string{"complete_p50_s", "complete_max_s", "heartbeats_per_action"}, "%.1f s / %.1f s; %.0f heartbeats"},
	{"BenchmarkHeartbeatGapAfterFailover", "ASG hook held through a leader failover (3 s heartbeat interval, 5 s lease): action still held? longest gap between heartbeats", []string{"held_through_failover", "max_gap_s"}, "yes=%.0f; %.1f s"},
	{"BenchmarkPollCycle", "IMDS poll cycle (4 paths) against a local server: time, allocations", []string{"ns/op", "allocs/op"}, "%.0f ns, %.0f allocs"},
	{"BenchmarkPlaneStartup", "Test control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok): start → apiserver ready; resident memory", []string{"ready_s", "rss_MiB"}, "%.1f s; %.0f MiB"},
	{"BenchmarkLoadAndRankRegion", "Advisor: load the 1 MB feed and rank a whole region", []string{"ns/op"}, "%.0f ns"},
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func main() {
	figures, cpu, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	fmt.Printf("Measured by `make bench` on %s, %d cores, %s, %s.\n\n", cpu, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| figure | value |")
	fmt.Println("| --- | --- |")
	used := map[string]bool{}
	for _, r := range rows {
		f, ok := figures[r.bench]
		if !ok {
			continue
		}
		var vals []any
		missing := false
		for _, u := range r.units {
			v, ok := f[u]
			if !ok {
				missing = true
			}
			vals = append(vals, v)
			used[r.bench+" "+u] = true
		}
		if missing {
			continue
		}
		label, value := r.label, r.format
		if n := strings.Count(label, "%"); n > 0 {
			label = fmt.Sprintf(label, vals[:n]...)
			vals = vals[n:]
		}
		if strings.HasPrefix(value, "yes=") {
			value = strings.TrimPrefix(value, "yes=%.0f")
			answer := "no"
			if vals[0].(float64) == 1 {
				answer = "yes"
			}
			value = answer + fmt.Sprintf(value, vals[1:]...)
		} else {
			value = fmt.Sprintf(value, vals...)
		}
		if strings.HasSuffix(value, " ns") {
			ns, _ := strconv.ParseFloat(strings.TrimSuffix(value, " ns"), 64)
			value = time.Duration(ns).Round(10 * time.Microsecond).String()
		}
		fmt.Printf("| %s | %s |\n", label, value)
	}
	var rest []string
	for b, f := range figures {
		for u, v := range f {
			if !used[b+" "+u] && u != "ns/op" && u != "B/op" && u != "allocs/op" {
				rest = append(rest, fmt.Sprintf("- %s: %g %s", b, v, u))
			}
		}
	}
	if len(rest) > 0 {
		sort.Strings(rest)
		fmt.Println("\nOther figures:")
		fmt.Println(strings.Join(rest, "\n"))
	}
}

// parse reads benchmark lines into name → unit → value, and the cpu line.
func parse(r io.Reader) (map[string]map[string]float64, string, error) {
	figures := map[string]map[string]float64{}
	cpu := "unknown CPU"
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, "cpu: "); ok {
			cpu = c
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		vals := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			vals[f[i+1]] = v
		}
		figures[m[1]] = vals
	}
	return figures, cpu, sc.Err()
}
