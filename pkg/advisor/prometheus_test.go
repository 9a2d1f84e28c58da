package advisor

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// promBinaries finds Debian's prometheus and promtool. In CI their absence
// fails the test; elsewhere it skips with the install command.
func promBinaries(t *testing.T) (server, tool string) {
	t.Helper()
	server, err1 := exec.LookPath("prometheus")
	tool, err2 := exec.LookPath("promtool")
	if err1 != nil || err2 != nil {
		msg := "prometheus and promtool are needed for the observed-history test: apt-get install prometheus"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return server, tool
}

// agentSeries is one agent pod's history: its node ran from start to end
// (exclusive), and a Spot interruption notice arrived at notice (zero: none).
type agentSeries struct {
	node, typ, zone string
	start, end      time.Time
	notice          time.Time
}

// writeOpenMetrics writes node_info and notices_total for each agent, one
// sample a minute, as the agent's metrics would have been scraped.
func writeOpenMetrics(t *testing.T, path string, agents []agentSeries) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	labels := func(i int, a agentSeries) string {
		return fmt.Sprintf(`instance="10.0.%d.%d:9090",pod="spot-handler-%s",job="spot-handler"`, i/200, i%200+1, a.node)
	}
	fmt.Fprintln(w, "# TYPE spot_handler_node_info gauge")
	for i, a := range agents {
		for ts := a.start; ts.Before(a.end); ts = ts.Add(time.Minute) {
			fmt.Fprintf(w, "spot_handler_node_info{%s,node=%q,instance_type=%q,zone=%q,lifecycle=\"spot\"} 1 %d\n", labels(i, a), a.node, a.typ, a.zone, ts.Unix())
		}
	}
	fmt.Fprintln(w, "# TYPE spot_handler_notices counter")
	for i, a := range agents {
		for ts := a.start; ts.Before(a.end); ts = ts.Add(time.Minute) {
			v := 0
			if !a.notice.IsZero() && !ts.Before(a.notice) {
				v = 1
			}
			fmt.Fprintf(w, "spot_handler_notices_total{%s,kind=\"SpotInterruption\",action=\"drain\"} %d %d\n", labels(i, a), v, ts.Unix())
		}
	}
	fmt.Fprintln(w, "# EOF")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// startPrometheus backfills the history into a TSDB with promtool, starts
// Prometheus on a free loopback port over it, and stops it at test end.
func startPrometheus(t *testing.T, agents []agentSeries) string {
	t.Helper()
	server, tool := promBinaries(t)
	dir := t.TempDir()
	om := filepath.Join(dir, "history.om")
	writeOpenMetrics(t, om, agents)
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(tool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", om, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool backfill: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(server, "--config.file="+cfg, "--storage.tsdb.path="+data, "--storage.tsdb.retention.time=3650d",
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	url := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		select {
		case <-done:
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("prometheus on %s exited: %s", addr, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("prometheus on %s not ready after 60s: %v\n%s", addr, err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestObservedFromRealPrometheus backfills a week of agent metrics: five
// m5.xlarge nodes interrupted one after the other, three m6i.xlarge nodes
// that ran the whole week untouched. The queries must count 5 interruptions
// and the node-hours, and the ranking must move m5.xlarge from first to a
// worse tier while m6i.xlarge keeps its place.
func TestObservedFromRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	end := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	start := end.Add(-7 * 24 * time.Hour)
	var agents []agentSeries
	var m5Hours float64
	for i := range 5 {
		s := start.Add(time.Duration(i) * 30 * time.Hour)
		e := s.Add(24 * time.Hour)
		m5Hours += 24
		agents = append(agents, agentSeries{node: fmt.Sprintf("m5-%d", i), typ: "m5.xlarge", zone: []string{"us-test-1a", "us-test-1b"}[i%2],
			start: s, end: e, notice: e.Add(-2 * time.Minute)})
	}
	for i := range 3 {
		agents = append(agents, agentSeries{node: fmt.Sprintf("m6i-%d", i), typ: "m6i.xlarge", zone: "us-test-1a", start: start, end: end})
	}
	url := startPrometheus(t, agents)

	client, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obs, notes, err := QueryObserved(ctx, v1.NewAPI(client), 30*24*time.Hour, end)
	if err != nil {
		t.Fatalf("QueryObserved: %v (notes %q)", err, notes)
	}
	m5, m6i := obs["m5.xlarge"], obs["m6i.xlarge"]
	t.Logf("m5.xlarge %+v; m6i.xlarge %+v", m5, m6i)
	if m5.Interruptions < 4.5 || m5.Interruptions > 5.5 || m6i.Interruptions != 0 {
		t.Errorf("interruptions: m5.xlarge %v (want ≈5), m6i.xlarge %v (want 0)", m5.Interruptions, m6i.Interruptions)
	}
	if !within(m5.NodeHours, m5Hours, 0.02) || !within(m6i.NodeHours, 3*7*24, 0.02) {
		t.Errorf("node-hours: m5.xlarge %v (want ≈%v), m6i.xlarge %v (want ≈504)", m5.NodeHours, m5Hours, m6i.NodeHours)
	}
	if len(m5.Zones) != 2 || m5.Zones["us-test-1a"].Interruptions < 2.5 {
		t.Errorf("m5.xlarge by zone = %+v", m5.Zones)
	}

	req := smallReq()
	req.VCPUs, req.MemoryGiB, req.Count = Range{4, 4, true}, Range{16, 16, true}, 3
	before := recommendSmall(t, req, Evidence{})
	after := recommendSmall(t, req, Evidence{Observed: obs})
	if before.Set[0].Type != "m5.xlarge" || after.Set[0].Type == "m5.xlarge" {
		t.Errorf("set before %s, after %s: m5.xlarge should lose first place", typesOf(before.Set), typesOf(after.Set))
	}
	for _, c := range after.Ranked {
		switch c.Type {
		case "m5.xlarge":
			if c.Tier <= c.Bucket || c.Posterior <= c.Prior {
				t.Errorf("m5.xlarge: bucket %d → tier %d, prior %.3f → posterior %.3f; want worse", c.Bucket, c.Tier, c.Prior, c.Posterior)
			}
		case "m6i.xlarge":
			if c.Posterior >= c.Prior || c.Tier != c.Bucket {
				t.Errorf("m6i.xlarge: prior %.4f → posterior %.4f, tier %d; want slightly lower, same tier", c.Prior, c.Posterior, c.Tier)
			}
		}
	}
}

func within(got, want, frac float64) bool {
	return got >= want*(1-frac) && got <= want*(1+frac)
}
