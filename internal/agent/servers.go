package agent

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// serve starts the metrics server and the probe server on their listeners.
func (a *Agent) serve(metricsLn, probeLn net.Listener) []*http.Server {
	mm := http.NewServeMux()
	mm.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	pm := http.NewServeMux()
	pm.HandleFunc("/healthz", a.healthz)
	pm.HandleFunc("/readyz", a.readyz)
	var out []*http.Server
	for _, s := range []struct {
		ln  net.Listener
		mux *http.ServeMux
	}{{metricsLn, mm}, {probeLn, pm}} {
		srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
		out = append(out, srv)
		go func() {
			if err := srv.Serve(s.ln); err != nil && err != http.ErrServerClosed {
				a.log.Error("HTTP server stopped", zap.String("addr", s.ln.Addr().String()), zap.Error(err))
			}
		}()
	}
	return out
}

// healthz is ok while the IMDS watch loop keeps cycling (even when IMDS
// fails: that is readiness's business, and restarting would not help).
func (a *Agent) healthz(w http.ResponseWriter, _ *http.Request) {
	limit := 10*a.cfg.PollInterval + 15*time.Second // a poll cycle plus the watcher's longest backoff
	last := a.watcher.LastPoll()
	if last.IsZero() {
		last = a.started
	}
	if age := a.clock.Since(last); age > limit {
		http.Error(w, fmt.Sprintf("IMDS watch loop stalled: last poll %v ago", age.Round(time.Second)), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readyz is ok once IMDS has answered and the API server was reached.
func (a *Agent) readyz(w http.ResponseWriter, _ *http.Request) {
	switch {
	case a.watcher.LastSuccess().IsZero():
		http.Error(w, "instance metadata not reached yet: on EKS/kops use hostNetwork: true or an IMDSv2 hop limit of 2", http.StatusServiceUnavailable)
	case !a.apiReady.Load():
		http.Error(w, "API server not reached yet: check the service account, RBAC (get nodes) and --node-name", http.StatusServiceUnavailable)
	default:
		fmt.Fprintln(w, "ok")
	}
}
