package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

const (
	// fleetPods pods a node, fleetGrace their grace (s), fleetDelay the
	// least time kwok takes to remove one once it is deleted (it then
	// goes at a random moment within its grace).
	fleetPods, fleetGrace, fleetDelay = 10, 20, 2 * time.Second
	// restSettle is left after the last agent is ready (for the start-up
	// requests: each agent reads its node once), restWindow is the window
	// measured at rest.
	restSettle, restWindow = 10 * time.Second, 60 * time.Second
	// fleetNotice is the time from the notice to the termination.
	fleetNotice = 2 * time.Minute
)

// BenchmarkAgentsAtScale: the agent DaemonSet on $BENCH_AGENTS (default
// 200; fewer if this machine's available memory does not hold them, as
// the log says) kwok Spot nodes of 10 pods (20 s grace), each node with
// an IMDS of its own (one AEMM process) and its own agent process, all
// against the one API server.
//
// At rest (every agent ready, no notice) for 60 s: the Kubernetes API
// requests of all the agents (the promise is none: any is a defect, and
// the log names them), their average RSS and anonymous RSS, their summed
// proportional set size (the binary's pages shared once), their CPU, and
// what the API server answered (every client's requests: kwok's lease
// renewals, the benchmark's own reads) and its CPU in the window.
//
// Then the Spot notice appears in every IMDS at the same second, 2
// minutes before the termination, and all agents drain at once: notice →
// each node cordoned (p50 / p99) and → empty (p50 / p99 / max), the nodes
// empty before deadline − margin, the API server's and etcd's CPU seconds
// and the requests the API server answered from the notice until the last
// node was empty, and the agents' own requests per drain and the 429
// answers among them.
func BenchmarkAgentsAtScale(b *testing.B) {
	for range b.N {
		agentsAtScale(b, envInt("BENCH_AGENTS", 200))
	}
}

func agentsAtScale(b *testing.B, want int) {
	n, why := fitAgents(b, want)
	if why != "" {
		b.Logf("agents: %s", why)
	}
	t0 := time.Now()
	nodes := makeFleetNodes(b, n, fleetPods, fleetGrace, fleetDelay)
	b.Logf("%d nodes of %d pods made in %v (%d at once)", n, fleetPods, time.Since(t0).Round(time.Second), setupParallel)
	// Room for every pair to start (50 took 3.3 s, 8 at once; a quarter
	// of a second a pair leaves room for a loaded machine), to settle
	// and to rest.
	startBudget := 30*time.Second + time.Duration(n)*250*time.Millisecond
	at := nextSecond(startBudget + restSettle + restWindow + 5*time.Second)
	deadline := at.Add(fleetNotice)
	watches0 := openWatches(b)
	t1 := time.Now()
	ms := startFleet(b, nodes, at, deadline)
	b.Logf("%d of %d AEMM and agent pairs started in %v (%d at once); the notice appears at %s",
		len(ms), n, time.Since(t1).Round(100*time.Millisecond), startParallel, at.UTC().Format(time.TimeOnly))
	if len(ms) == 0 {
		b.Fatal("no agent started")
	}
	restStart := time.Now().Add(restSettle)
	if restStart.Add(restWindow).After(at.Add(-2 * time.Second)) {
		b.Fatalf("the agents took %v to start: the rest window no longer fits before the notice", time.Since(t1).Round(time.Second))
	}
	var ran []string
	for _, m := range ms {
		ran = append(ran, m.node)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Until(deadline)+30*time.Second)
	defer cancel()
	w, err := watchFleet(ctx, ran, fleetLabel, "app="+fleetApp, fleetPods)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.close)
	time.Sleep(time.Until(restStart))
	rest := measureRest(b, ms)
	b.Logf("watches open at the API server: %.0f before the agents started, %.0f at rest; opened since, by resource: %s (the benchmark's own two are on nodes and pods)",
		watches0.sum(), openWatches(b).sum(), openWatches(b).minus(watches0).by(0, 1, "resource"))
	// Scraping every agent takes a moment: begin well before the notice.
	time.Sleep(time.Until(at.Add(-3 * time.Second)))
	storm := measureStorm(ctx, b, ms, w, at, deadline)
	reportFleet(b, len(ms), rest, storm)
}

// restResult is what the fleet cost at rest.
type restResult struct {
	window                  time.Duration
	agentReqs               counters // the agents' requests in the window, by label set
	agentCPU                float64
	rssAvg, anonAvg, pssSum float64
	apiReqs                 counters
	apiserverCPU, etcdCPU   float64
	busyAgents              []string // agents that made requests, with what
}

// measureRest samples the fleet and the plane over restWindow.
func measureRest(b *testing.B, ms []member) restResult {
	b.Helper()
	ctx := context.Background()
	api0, err := apiserverRequests(ctx)
	if err != nil {
		b.Fatal(err)
	}
	s0 := sampleFleet(b, ms, false)
	b.Logf("start-up: the agents' Kubernetes API requests before the rest, per agent: %s", s0.total().by(0, float64(len(ms)), "method", "code"))
	p0, t0 := planeCPU(b), time.Now()
	time.Sleep(restWindow)
	p1, t1 := planeCPU(b), time.Now()
	s1 := sampleFleet(b, ms, true)
	api1, err := apiserverRequests(ctx)
	if err != nil {
		b.Fatal(err)
	}
	r := restResult{window: t1.Sub(t0), agentReqs: s1.total().minus(s0.total()), agentCPU: s1.cpu - s0.cpu,
		apiReqs: api1.minus(api0), apiserverCPU: p1["kube-apiserver"] - p0["kube-apiserver"], etcdCPU: p1["etcd"] - p0["etcd"]}
	r.rssAvg, r.anonAvg, r.pssSum = memory(b, ms)
	for i, m := range ms {
		if d := s1.reqs[i].minus(s0.reqs[i]); len(d) > 0 {
			r.busyAgents = append(r.busyAgents, fmt.Sprintf("%s: %s; log tail:\n%s", m.node, d.by(0, 1, "method", "code"), tail(m.agent.Logs(), 5)))
		}
	}
	return r
}

// stormResult is what the drains took and cost.
type stormResult struct {
	window                time.Duration // notice → last node empty (or given up)
	cordon, empty         []float64     // s after the notice, nodes seen
	inTime                int
	late                  []string
	apiserverCPU, etcdCPU float64
	others                map[string]float64 // the plane's other processes' CPU seconds
	apiReqs, agentReqs    counters
	agentCPU              float64
	// ownCordon is the agents' own detection → cordon histogram, summed
	// (spot_handler_detection_to_cordon_seconds_bucket by le).
	ownCordon counters
}

// measureStorm waits for the notice and for every node to be empty (or
// ctx to end) and returns the drains' times and cost.
func measureStorm(ctx context.Context, b *testing.B, ms []member, w *fleetWatch, at, deadline time.Time) stormResult {
	b.Helper()
	api0, err := apiserverRequests(ctx)
	if err != nil {
		b.Fatal(err)
	}
	s0 := sampleFleet(b, ms, false)
	p0 := planeCPU(b)
	cordoned, empty := w.wait(ctx)
	p1, end := planeCPU(b), time.Now()
	api1, err := apiserverRequests(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	// The agents report and record after the node is empty: their
	// requests are read a little later.
	time.Sleep(5 * time.Second)
	s1 := sampleFleet(b, ms, true)
	r := stormResult{window: end.Sub(at), apiserverCPU: p1["kube-apiserver"] - p0["kube-apiserver"], etcdCPU: p1["etcd"] - p0["etcd"],
		others: map[string]float64{}, apiReqs: api1.minus(api0), agentReqs: s1.total().minus(s0.total()), agentCPU: s1.cpu - s0.cpu,
		ownCordon: sumAgents(b, ms, "spot_handler_detection_to_cordon_seconds_bucket")}
	for name, c := range p1 {
		if name != "kube-apiserver" && name != "etcd" {
			r.others[name] = c - p0[name]
		}
	}
	limit := deadline.Add(-drain.DefaultPolicy().Margin)
	for _, m := range ms {
		if c, ok := cordoned[m.node]; ok {
			r.cordon = append(r.cordon, c.Sub(at).Seconds())
		}
		e, ok := empty[m.node]
		if ok {
			r.empty = append(r.empty, e.Sub(at).Seconds())
		}
		if ok && !e.After(limit) {
			r.inTime++
		} else {
			r.late = append(r.late, m.node)
			if len(r.late) <= 5 {
				b.Logf("node %s not empty before deadline − margin (cordoned %v, empty %v); its agent's log tail:\n%s",
					m.node, cordoned[m.node], e, tail(m.agent.Logs(), 8))
			}
		}
	}
	return r
}

// reportFleet reports and logs the figures of n agents.
func reportFleet(b *testing.B, n int, rest restResult, storm stormResult) {
	per := float64(n)
	idleReqs := rest.agentReqs.sum()
	b.Logf("at rest, %v: the agents made %.0f Kubernetes API requests (%s); RSS %.1f MiB, anonymous %.1f MiB an agent on average, %.0f MiB of PSS in all; CPU %.2f s in all (%.3f %% of a core each)",
		rest.window.Round(time.Second), idleReqs, rest.agentReqs.by(0, 1, "method", "code"), rest.rssAvg, rest.anonAvg, rest.pssSum,
		rest.agentCPU, 100*rest.agentCPU/per/rest.window.Seconds())
	for _, s := range rest.busyAgents {
		b.Logf("DEFECT: an agent made API requests at rest: %s", s)
	}
	b.Logf("at rest, the API server answered %.0f requests from every client (%s) and used %.2f s of CPU, etcd %.2f s",
		rest.apiReqs.sum(), rest.apiReqs.by(8, 1, "verb", "resource"), rest.apiserverCPU, rest.etcdCPU)
	sorted := append([]float64(nil), storm.empty...)
	sort.Float64s(sorted)
	var each []string
	for _, e := range sorted {
		each = append(each, fmt.Sprintf("%.1f", e))
	}
	b.Logf("storm, notice → last node empty %v: %d of %d nodes empty before deadline − margin; each node's notice → empty (s): %s",
		storm.window.Round(time.Second), storm.inTime, n, strings.Join(each, " "))
	b.Logf("storm: the API server answered %.0f requests (%s; %.0f answered 429) and used %.1f s of CPU, etcd %.1f s, the agents %.1f s, others %s",
		storm.apiReqs.sum(), storm.apiReqs.by(8, 1, "verb", "resource"), storm.apiReqs.sum(`code="429"`), storm.apiserverCPU, storm.etcdCPU,
		storm.agentCPU, fmtSeconds(storm.others))
	b.Logf("storm: the agents' requests per drain by method: %s", storm.agentReqs.by(0, per, "method"))
	all := storm.ownCordon[`{le="+Inf"}`]
	within := func(le string) float64 { return 100 * storm.ownCordon[`{le="`+le+`"}`] / max(all, 1) }
	b.Logf("storm: the agents' own detection → cordon (their histograms, %.0f cordons): within 0.5 s %.0f %%, 1 s %.0f %%, 2 s %.0f %%, 5 s %.0f %%, 10 s %.0f %%",
		all, within("0.5"), within("1"), within("2"), within("5"), within("10"))
	b.ReportMetric(within("2"), "agent_cordon_within_2s_pct")
	b.ReportMetric(per, "agents")
	b.ReportMetric(rest.window.Seconds(), "idle_s")
	b.ReportMetric(idleReqs, "idle_api_requests")
	b.ReportMetric(rest.rssAvg, "idle_agent_rss_avg_MiB")
	b.ReportMetric(rest.anonAvg, "idle_agent_anon_avg_MiB")
	b.ReportMetric(rest.pssSum, "idle_agents_pss_MiB")
	b.ReportMetric(rest.agentCPU, "idle_agent_cpu_s")
	b.ReportMetric(100*rest.agentCPU/per/rest.window.Seconds(), "idle_agent_cpu_pct")
	b.ReportMetric(rest.apiReqs.sum(), "idle_apiserver_requests")
	b.ReportMetric(rest.apiserverCPU, "idle_apiserver_cpu_s")
	b.ReportMetric(percentile(storm.cordon, 50)*1000, "storm_cordon_p50_ms")
	b.ReportMetric(percentile(storm.cordon, 99)*1000, "storm_cordon_p99_ms")
	b.ReportMetric(percentile(storm.empty, 50), "storm_empty_p50_s")
	b.ReportMetric(percentile(storm.empty, 99), "storm_empty_p99_s")
	b.ReportMetric(percentile(storm.empty, 100), "storm_empty_max_s")
	b.ReportMetric(float64(storm.inTime), "nodes_empty_in_time")
	b.ReportMetric(storm.window.Seconds(), "storm_s")
	b.ReportMetric(storm.apiserverCPU, "apiserver_cpu_s")
	b.ReportMetric(storm.etcdCPU, "etcd_cpu_s")
	b.ReportMetric(storm.apiReqs.sum(), "apiserver_requests")
	b.ReportMetric(storm.agentReqs.sum()/per, "api_req_per_drain")
	b.ReportMetric(storm.agentReqs.sum(`code="429"`), "api_429")
}

// fmtSeconds prints name → seconds sorted by name.
func fmtSeconds(m map[string]float64) string {
	var parts []string
	for name, s := range m {
		parts = append(parts, fmt.Sprintf("%s %.1f s", name, s))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// openWatches returns the watches open at the API server
// (apiserver_longrunning_requests, verb WATCH) by label set.
func openWatches(b *testing.B) counters {
	b.Helper()
	all, err := apiserverMetric(context.Background(), "apiserver_longrunning_requests")
	if err != nil {
		b.Fatal(err)
	}
	w := counters{}
	for k, v := range all {
		if labelValue(k, "verb") == "WATCH" && v != 0 {
			w[k] = v
		}
	}
	return w
}
