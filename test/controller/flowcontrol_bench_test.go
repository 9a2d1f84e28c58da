package controller

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// BenchmarkStormFlowControl: the storm of BenchmarkQueueStormAtScale (N
// nodes of 50 images, 10 pods each, 20 s grace, 2 s to go, interrupted at
// once) on a busy API server, without (flowcontrol=off) and with
// (flowcontrol=on) the chart's PriorityLevelConfiguration and FlowSchema
// (helm template in controller mode). The controller runs as the chart's
// ServiceAccount (bound to cluster-admin; not system:masters, so API
// Priority and Fairness applies to it). The apiserver is restarted with
// fewer seats ($BENCH_FC_INFLIGHT, default --max-requests-inflight=40
// --max-mutating-requests-inflight=20) and, through the storm, neighbours
// load workload-low: $BENCH_FC_NEIGHBOURS ServiceAccounts (default 16,
// each a flow of its own under the built-in service-accounts FlowSchema)
// with $BENCH_FC_WORKERS goroutines each (default 3) LIST every pod of the
// cluster (served from the API server's watch cache: CPU and encoding,
// not etcd), back to back. N is $BENCH_FC_NODES (default 100).
// Reported per run: received → cordoned and → empty (p50/p99), nodes empty
// in time, the controller's API requests per drain and 429 answers, the
// apiserver's APF rejections and mean queue wait in workload-low and in
// the chart's level, and the neighbours' requests and 429s. The apiserver
// gets its usual flags back, and every object made is deleted, at the end.
func BenchmarkStormFlowControl(b *testing.B) {
	if plane == nil {
		b.Skip("-short: needs the local control plane and moto")
	}
	n := envInt(b, "BENCH_FC_NODES", 100)
	flows := envInt(b, "BENCH_FC_NEIGHBOURS", 16)
	workers := envInt(b, "BENCH_FC_WORKERS", 3)
	limits := strings.Fields(os.Getenv("BENCH_FC_INFLIGHT"))
	if len(limits) == 0 {
		limits = []string{"--max-requests-inflight=40", "--max-mutating-requests-inflight=20"}
	}
	b.Cleanup(func() {
		// Every later benchmark of the package needs the usual apiserver:
		// try twice, then stop the run rather than let them all fail.
		err := plane.RestartAPIServerWith()
		if err != nil {
			err = plane.RestartAPIServerWith()
		}
		if err != nil {
			b.Errorf("restoring the apiserver's flags: %v", err)
			panic("the apiserver could not be restored: the package's later benchmarks cannot run")
		}
	})
	if err := plane.RestartAPIServerWith(limits...); err != nil {
		b.Fatalf("restarting the apiserver with %v: %v", limits, err)
	}
	ns := plane.NewNamespace(b)
	chart := renderFlowControl(b, ns)
	ctlCfg, kc := serviceAccount(b, ns, chart.sa)
	var load neighbours
	for i := range flows {
		cfg, _ := serviceAccount(b, ns, fmt.Sprintf("neighbour-%d", i))
		load.cfgs = append(load.cfgs, cfg)
	}
	load.workers = workers
	b.Logf("apiserver %v; %d neighbour ServiceAccounts × %d LIST loops", limits, flows, workers)
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("flowcontrol=%s", map[bool]string{false: "off", true: "on"}[on]), func(b *testing.B) {
			for range b.N {
				r := flowControlStorm(b, n, chart, on, ctlCfg, kc, &load)
				for unit, v := range map[string]float64{
					"cordon_p50_ms": float64(percentile(r.cordon, 50).Milliseconds()), "cordon_p99_ms": float64(percentile(r.cordon, 99).Milliseconds()),
					"empty_p50_s": percentile(r.empty, 50).Seconds(), "empty_p99_s": percentile(r.empty, 99).Seconds(),
					"nodes": float64(n), "nodes_empty_in_time": float64(n - len(r.late)),
					"api_req_per_drain": r.requests / float64(n), "api_429": r.throttled,
					"apf_rejected_workload_low": r.lowRejected, "apf_wait_workload_low_ms": r.lowWait * 1000,
					"apf_rejected_ctl_level": r.ownRejected, "apf_wait_ctl_level_ms": r.ownWait * 1000,
					"neighbour_req": r.neighbourReqs, "neighbour_429": r.neighbour429,
				} {
					b.ReportMetric(v, unit)
				}
			}
		})
	}
}

// fcResult is one storm's result under APF.
type fcResult struct {
	stormResult
	requests, throttled         float64 // the controller's API requests and 429 answers during the storm
	lowRejected, lowWait        float64 // workload-low: APF rejections, mean queue wait (s)
	ownRejected, ownWait        float64 // the same for the chart's priority level (0 when off)
	neighbourReqs, neighbour429 float64
}

// flowControlStorm runs one storm of n nodes with the controller as the
// chart's ServiceAccount (kubeconfig kc), the chart's APF objects created
// first if on, and the neighbours' load through the storm.
func flowControlStorm(b *testing.B, n int, chart chartFlowControl, on bool, ctlCfg *rest.Config, kc string, load *neighbours) fcResult {
	b.Helper()
	want := builtin(b, "service-accounts")
	if on {
		pl, fs := chart.apply(b)
		want = classified{string(fs.UID), string(pl.UID)}
	}
	// The apiserver's APF configuration follows the objects within a moment.
	var got classified
	for end := time.Now().Add(30 * time.Second); got != want && time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		got, _ = classify(ctlCfg, "default")
	}
	if got != want {
		b.Fatalf("the controller's ServiceAccount is classified %+v, want %+v", got, want)
	}
	low := builtin(b, "service-accounts")
	for _, cfg := range load.cfgs {
		if got, err := classify(cfg, "default"); err != nil || got != low {
			b.Fatalf("a neighbour is classified %+v (%v), want service-accounts/workload-low %+v", got, err, low)
		}
	}
	e := newEnv(b, 60)
	e.images = 50
	e.unreplaced = true
	t0 := time.Now()
	nodes := e.nodes(n, 10, 20, 2*time.Second)
	b.Logf("%d nodes of 10 pods ready in %v", n, time.Since(t0).Round(time.Second))
	var names []string
	for _, in := range nodes {
		names = append(names, in.node)
	}
	o := observe(b, e.ns, names)
	c := e.controller(kc)
	stop := load.start()
	var once sync.Once
	var reqs, rejected float64
	stopOnce := func() { once.Do(func() { reqs, rejected = stop() }) }
	b.Cleanup(stopOnce)         // also on a Fatal before the storm ends
	time.Sleep(5 * time.Second) // the neighbours' queues fill
	m0 := apfMetrics(b)
	req0, thr0 := c.metric("spot_handler_kube_api_requests_total"), c.metric("spot_handler_kube_api_requests_total", `code="429"`)
	b.ResetTimer()
	r := storm(b, e, nodes, o, drain.DefaultPolicy().Margin)
	b.StopTimer()
	m1 := apfMetrics(b)
	stopOnce()
	out := fcResult{stormResult: r, neighbourReqs: reqs, neighbour429: rejected,
		requests:  c.metric("spot_handler_kube_api_requests_total") - req0,
		throttled: c.metric("spot_handler_kube_api_requests_total", `code="429"`) - thr0}
	out.lowRejected, out.lowWait = apfDelta(m0, m1, "workload-low")
	if on {
		out.ownRejected, out.ownWait = apfDelta(m0, m1, chart.level.Name)
	}
	d := func(l string) float64 {
		return metricDelta(m0, m1, "apiserver_flowcontrol_dispatched_requests_total", l)
	}
	b.Logf("controller classified %+v; requests the apiserver executed in the storm: workload-low %v, %s %v",
		got, d(`priority_level="workload-low"`), chart.level.Name, d(`priority_level="`+chart.level.Name+`"`))
	for _, level := range []string{"workload-low", chart.level.Name} {
		var by []string
		for _, reason := range []string{"queue-full", "concurrency-limit", "time-out", "cancelled"} {
			by = append(by, fmt.Sprintf("%s %v", reason, metricDelta(m0, m1, "apiserver_flowcontrol_rejected_requests_total",
				`priority_level="`+level+`"`, `reason="`+reason+`"`)))
		}
		b.Logf("APF rejections in %s by reason: %s", level, strings.Join(by, ", "))
	}
	b.Logf("seats: workload-low %v, %s %v; workload-low in queue at the end %v",
		testenv.SumSamples(m1, "apiserver_flowcontrol_nominal_limit_seats", `priority_level="workload-low"`), chart.level.Name,
		testenv.SumSamples(m1, "apiserver_flowcontrol_nominal_limit_seats", `priority_level="`+chart.level.Name+`"`),
		testenv.SumSamples(m1, "apiserver_flowcontrol_current_inqueue_requests", `priority_level="workload-low"`))
	if len(r.late) > 0 {
		b.Logf("%d nodes not empty before deadline − margin: %v", len(r.late), r.late)
	}
	return out
}

// apfMetrics is the apiserver's /metrics text.
func apfMetrics(b *testing.B) string {
	b.Helper()
	m, err := plane.APIServerMetrics(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// apfDelta is level's APF rejections between two scrapes and the mean
// queue wait (s) of the requests it executed meanwhile.
func apfDelta(m0, m1, level string) (rejected, wait float64) {
	l := `priority_level="` + level + `"`
	rejected = metricDelta(m0, m1, "apiserver_flowcontrol_rejected_requests_total", l)
	const w = "apiserver_flowcontrol_request_wait_duration_seconds"
	if n := metricDelta(m0, m1, w+"_count", l, `execute="true"`); n > 0 {
		wait = metricDelta(m0, m1, w+"_sum", l, `execute="true"`) / n
	}
	return rejected, wait
}

// metricDelta is how much the samples of name matching match grew from
// scrape m0 to scrape m1.
func metricDelta(m0, m1, name string, match ...string) float64 {
	return testenv.SumSamples(m1, name, match...) - testenv.SumSamples(m0, name, match...)
}

// neighbours are ServiceAccounts that LIST every pod, back to back.
type neighbours struct {
	cfgs    []*rest.Config
	workers int
}

// start starts workers LIST loops per ServiceAccount; stop ends them and
// returns the requests made and how many were answered 429.
func (l *neighbours) start() (stop func() (reqs, rejected float64)) {
	ctx, cancel := context.WithCancel(context.Background())
	var n, n429 atomic.Int64
	var wg sync.WaitGroup
	for _, cfg := range l.cfgs {
		rt, err := rest.TransportFor(cfg)
		if err != nil {
			panic(err)
		}
		client := &http.Client{Transport: rt, Timeout: 90 * time.Second}
		for range l.workers {
			wg.Go(func() {
				for ctx.Err() == nil {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/api/v1/pods", nil)
					resp, err := client.Do(req)
					if err != nil {
						time.Sleep(100 * time.Millisecond)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					n.Add(1)
					if resp.StatusCode == http.StatusTooManyRequests {
						n429.Add(1)
					}
				}
			})
		}
	}
	return func() (float64, float64) {
		cancel()
		wg.Wait()
		return float64(n.Load()), float64(n429.Load())
	}
}

// envInt is the integer in environment variable name, def if unset.
func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var i int
	if _, err := fmt.Sscan(v, &i); err != nil || i < 0 {
		b.Fatalf("%s=%q: want a whole number ≥ 0", name, v)
	}
	return i
}
