package controller

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// BenchmarkQueueStormAtScale: N kwok nodes as large as a kubelet's (50
// images), 10 pods each (20 s grace, 2 s to go), interrupted at once by N
// Spot messages: message received → node cordoned and → node empty (p50 /
// p99), message sent → cordoned p99 (the wait before a receive counts
// there), nodes empty before deadline − margin, the controller's
// Kubernetes API requests per drain and the answers 429 (throttled) among
// them. N is 100 and $BENCH_STORM_NODES (default 500; 0 skips it).
// $BENCH_STORM_FLAGS adds controller flags (space-separated). The pods'
// owner is an object no controller acts on (testenv.UnreplacedPods), so
// evicted pods are not replaced; BENCH_STORM_REPLACE=1 gives them pinned
// ReplicaSets instead, whose replacements stay pending on the cordoned
// nodes and load the API server and scheduler as much as the drains.
func BenchmarkQueueStormAtScale(b *testing.B) {
	big := 500
	if v, err := strconv.Atoi(os.Getenv("BENCH_STORM_NODES")); err == nil {
		big = v
	}
	sizes := []int{100}
	if big > 0 {
		sizes = append(sizes, big)
	}
	extra := strings.Fields(os.Getenv("BENCH_STORM_FLAGS"))
	for _, n := range sizes {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			for range b.N {
				r := scaleStorm(b, n, 10, extra...)
				b.ReportMetric(float64(percentile(r.cordon, 50).Milliseconds()), "cordon_p50_ms")
				b.ReportMetric(float64(percentile(r.cordon, 99).Milliseconds()), "cordon_p99_ms")
				b.ReportMetric(float64(percentile(r.sentCordon, 99).Milliseconds()), "sent_cordon_p99_ms")
				b.ReportMetric(percentile(r.empty, 50).Seconds(), "empty_p50_s")
				b.ReportMetric(percentile(r.empty, 99).Seconds(), "empty_p99_s")
				b.ReportMetric(float64(n-len(r.late)), "nodes_empty_in_time")
				b.ReportMetric(float64(n), "nodes")
				b.ReportMetric(r.requests/float64(n), "api_req_per_drain")
				b.ReportMetric(r.throttled, "api_429")
				b.ReportMetric(r.peakRSS, "peak_rss_MiB")
				b.ReportMetric(r.ctlWithin2s, "ctl_cordon_within_2s_pct")
				b.ReportMetric(float64(percentile(r.written, 50).Milliseconds()), "ctl_cordon_p50_ms")
				b.ReportMetric(float64(percentile(r.written, 99).Milliseconds()), "ctl_cordon_p99_ms")
				b.ReportMetric(r.apiCPU, "apiserver_cpu_s")
				b.ReportMetric(r.etcdCPU, "etcd_cpu_s")
				b.ReportMetric(r.ctlCPU, "ctl_cpu_s")
			}
		})
	}
}

// scaleResult is a storm's result and what the controller spent on it.
type scaleResult struct {
	stormResult
	sentCordon          []time.Duration // message sent → node cordoned
	requests, throttled float64         // Kubernetes API requests during the storm, 429 answers among them
	peakRSS             float64
	// ctlWithin2s is the percentage of cordons the controller itself timed
	// (detected → cordon written, its histogram) within 2 s: the observer's
	// figures add the watch's delivery to this process.
	ctlWithin2s float64
	// written is, per node, message received → the controller's cordon
	// answered by the API server (its log line "node cordoned and
	// tainted"): the cordon as the API holds it, without the time the
	// benchmark's own informers take to see it on the same starved cores.
	written []time.Duration
	// CPU seconds the API server, etcd and the controller used from the
	// messages sent until every node was empty (or the wait ended).
	apiCPU, etcdCPU, ctlCPU float64
}

// cpuOf reads each process's CPU seconds so far (0 where it cannot).
func cpuOf(pids ...int) []float64 {
	out := make([]float64, len(pids))
	for i, pid := range pids {
		out[i], _ = testenv.CPUSeconds(pid)
	}
	return out
}

// scaleStorm makes n padded nodes of pods pods, starts a controller with
// extra flags and interrupts every node at once.
func scaleStorm(b *testing.B, n, pods int, extra ...string) scaleResult {
	b.Helper()
	e := newEnv(b, 60)
	e.images = 50
	e.unreplaced = os.Getenv("BENCH_STORM_REPLACE") != "1"
	t0 := time.Now()
	nodes := e.nodes(n, pods, 20, 2*time.Second)
	b.Logf("%d nodes of %d pods ready in %v (pods replaced when evicted: %v)", n, pods, time.Since(t0).Round(time.Second), !e.unreplaced)
	var names []string
	for _, in := range nodes {
		names = append(names, in.node)
	}
	o := observe(b, e.ns, names)
	// JSON logs: cordonsWritten reads each cordon's time from them.
	c := e.controller("", append([]string{"--log-format", "json"}, extra...)...)
	req0, thr0 := c.metric("spot_handler_kube_api_requests_total"), c.metric("spot_handler_kube_api_requests_total", `code="429"`)
	peak, stop := sampleRSS(c)
	pids := plane.PIDs()
	cpu0 := cpuOf(pids["kube-apiserver"], pids["etcd"], c.PID())
	sent := time.Now()
	b.ResetTimer()
	r := storm(b, e, nodes, o, drain.DefaultPolicy().Margin)
	b.StopTimer()
	stop()
	cpu := cpuOf(pids["kube-apiserver"], pids["etcd"], c.PID())
	out := scaleResult{stormResult: r, peakRSS: *peak, apiCPU: cpu[0] - cpu0[0], etcdCPU: cpu[1] - cpu0[1], ctlCPU: cpu[2] - cpu0[2],
		requests:  c.metric("spot_handler_kube_api_requests_total") - req0,
		throttled: c.metric("spot_handler_kube_api_requests_total", `code="429"`) - thr0}
	const h = "spot_handler_detection_to_cordon_seconds"
	if all := c.metric(h + "_count"); all > 0 {
		out.ctlWithin2s = 100 * c.metric(h+"_bucket", `le="2"`) / all
	}
	written := cordonsWritten(c.logs())
	for _, in := range nodes {
		if n, at := e.notice(in.node), written[in.node]; n != nil && !at.IsZero() {
			out.written = append(out.written, at.Sub(n.Detected))
		}
		if cordoned, _ := o.times(in.node); !cordoned.IsZero() {
			out.sentCordon = append(out.sentCordon, cordoned.Sub(sent))
		}
	}
	var by []string
	for _, m := range []string{"GET", "LIST", "WATCH", "POST", "PATCH", "PUT", "DELETE"} {
		if v := c.metric("spot_handler_kube_api_requests_total", `method="`+m+`"`); v > 0 {
			by = append(by, fmt.Sprintf("%s %.1f", m, v/float64(n)))
		}
	}
	b.Logf("%d nodes: API requests per drain by method (the whole run): %s", n, strings.Join(by, ", "))
	if len(r.late) > 0 {
		b.Logf("%d nodes not empty before deadline − margin: %v", len(r.late), r.late)
		unhandled(b, c, nodes, r.late)
		visible, hidden := e.queueCounts()
		b.Logf("after the storm: %d messages visible and %d in flight in the queue; the controller's messages by outcome: %s; receive errors %v",
			visible, hidden, outcomes(c), c.metric("spot_handler_queue_api_errors_total", `operation="receive"`))
	}
	return out
}

// unhandled logs the controller's lines about each late node that got no
// notice record (its message not handled at all), at most 20 a node.
func unhandled(b *testing.B, c *ctrl, nodes []instNode, late []string) {
	logs := strings.Split(c.logs(), "\n")
	for _, in := range nodes {
		missed := false
		for _, l := range late {
			missed = missed || strings.HasPrefix(l, in.node+" (record false")
		}
		if !missed {
			continue
		}
		var lines []string
		for _, l := range logs {
			if strings.Contains(l, in.id) && len(lines) < 20 {
				lines = append(lines, l)
			}
		}
		b.Logf("%s (%s) was never marked; the controller's lines about it:\n%s", in.node, in.id, strings.Join(lines, "\n"))
	}
}

// cordonsWritten reads, from the controller's JSON log, when each node's
// first cordon was answered ("node cordoned and tainted").
func cordonsWritten(logs string) map[string]time.Time {
	out := map[string]time.Time{}
	for _, l := range strings.Split(logs, "\n") {
		if !strings.Contains(l, `"node cordoned and tainted"`) {
			continue
		}
		var line struct {
			TS   string `json:"ts"`
			Node string `json:"node"`
		}
		if json.Unmarshal([]byte(l), &line) != nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, line.TS)
		if err == nil && out[line.Node].IsZero() {
			out[line.Node] = at
		}
	}
	return out
}

// outcomes lists the controller's handled messages by outcome.
func outcomes(c *ctrl) string {
	var out []string
	for _, o := range []string{"handled", "ignored", "agent_draining", "recheck", "unknown_instance", "unknown_kept", "malformed", "failed"} {
		if v := c.metric("spot_handler_queue_messages_total", `outcome="`+o+`"`); v > 0 {
			out = append(out, fmt.Sprintf("%s %v", o, v))
		}
	}
	return strings.Join(out, ", ")
}
