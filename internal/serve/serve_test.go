package serve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// get returns the status and body of GET http://addr/path.
func get(t *testing.T, addr net.Addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr.String() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// TestServers: /metrics serves the injected registry only; the probes
// answer what their checks say; Shutdown closes both listeners.
func TestServers(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "serve_test_total", Help: "A test counter."})
	reg.MustRegister(c)
	c.Add(3)
	ready := errors.New("node index not synced yet")
	s, err := Start(Config{MetricsAddr: "127.0.0.1:0", ProbeAddr: "127.0.0.1:0", Registry: reg,
		Ready: func() error { return ready }, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		addr       net.Addr
		path       string
		code       int
		want, none string
	}{
		{"metrics", s.MetricsAddr(), "/metrics", 200, "serve_test_total 3", "go_goroutines"},
		{"no probes on the metrics port", s.MetricsAddr(), "/healthz", 404, "", ""},
		{"healthz nil check", s.ProbeAddr(), "/healthz", 200, "ok\n", ""},
		{"readyz failing", s.ProbeAddr(), "/readyz", 503, "node index not synced yet\n", ""},
		{"no metrics on the probe port", s.ProbeAddr(), "/metrics", 404, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.addr, tc.path)
			if code != tc.code || !strings.Contains(body, tc.want) || (tc.none != "" && strings.Contains(body, tc.none)) {
				t.Errorf("GET %s: %d %q; want %d with %q and without %q", tc.path, code, body, tc.code, tc.want, tc.none)
			}
		})
	}
	ready = nil
	if code, body := get(t, s.ProbeAddr(), "/readyz"); code != 200 || body != "ok\n" {
		t.Errorf("readyz once ready: %d %q", code, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as at process end: the context has ended already
	s.Shutdown(ctx)
	for _, a := range []net.Addr{s.MetricsAddr(), s.ProbeAddr()} {
		if conn, err := net.Dial("tcp", a.String()); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Shutdown", a)
		}
	}
}

// TestStartErrors: a taken port names the address and the flag; no
// registry is refused.
func TestStartErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	reg := prometheus.NewRegistry()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"metrics port taken", Config{MetricsAddr: taken, ProbeAddr: "127.0.0.1:0", Registry: reg}, "listening for metrics on " + taken + " (--metrics-addr)"},
		{"probe port taken", Config{MetricsAddr: "127.0.0.1:0", ProbeAddr: taken, Registry: reg}, "listening for probes on " + taken + " (--probe-addr)"},
		{"no registry", Config{MetricsAddr: "127.0.0.1:0", ProbeAddr: "127.0.0.1:0"}, "no registry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(tc.cfg)
			if err == nil {
				s.Shutdown(context.Background())
				t.Fatalf("Start: no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start: %v, want %q", err, tc.want)
			}
		})
	}
}
