// Package serve runs the two HTTP servers every long-running spot-handler
// process has: /metrics on its own listener, served from an injected
// Prometheus registry (never the global one), and the probes /healthz and
// /readyz on another, each answered by a small function the process injects.
// A listen failure is an error returned to main, never only logged.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// ShutdownTimeout bounds Servers.Shutdown: requests still running after it
// are cut.
const ShutdownTimeout = time.Second

// Check answers a probe: nil is ok (200 "ok"); an error is 503 with the
// error's text, which should tell the operator what to look at.
type Check func() error

// Config says what to serve where.
type Config struct {
	// MetricsAddr and ProbeAddr are the listen addresses of /metrics and of
	// /healthz and /readyz (":0" picks a free port; see Servers.MetricsAddr).
	MetricsAddr, ProbeAddr string
	// Registry is what /metrics serves (required).
	Registry *prometheus.Registry
	// Healthy answers /healthz and Ready /readyz; nil is always ok.
	Healthy, Ready Check
	// Logger logs a server that stops on an error.
	Logger *zap.Logger
}

// Servers are the running metrics and probe servers. Stop them with Shutdown.
type Servers struct {
	metrics, probe net.Listener
	servers        []*http.Server
}

// Start listens on both addresses and serves in the background. Its errors
// name the address and the flag that set it.
func Start(cfg Config) (*Servers, error) {
	if cfg.Registry == nil {
		return nil, errors.New("serving metrics: no registry")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	metricsLn, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s (--metrics-addr): %w", cfg.MetricsAddr, err)
	}
	probeLn, err := net.Listen("tcp", cfg.ProbeAddr)
	if err != nil {
		metricsLn.Close()
		return nil, fmt.Errorf("listening for probes on %s (--probe-addr): %w", cfg.ProbeAddr, err)
	}
	s := &Servers{metrics: metricsLn, probe: probeLn}
	s.run(metricsLn, MetricsHandler(cfg.Registry), cfg.Logger)
	s.run(probeLn, ProbeHandler(cfg.Healthy, cfg.Ready), cfg.Logger)
	return s, nil
}

// MetricsHandler serves reg on /metrics.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// ProbeHandler serves /healthz from healthy and /readyz from ready.
func ProbeHandler(healthy, ready Check) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", probe(healthy))
	mux.HandleFunc("/readyz", probe(ready))
	return mux
}

func probe(check Check) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if check != nil {
			if err := check(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	}
}

func (s *Servers) run(ln net.Listener, h http.Handler, log *zap.Logger) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	s.servers = append(s.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", zap.String("addr", ln.Addr().String()), zap.Error(err))
		}
	}()
}

// MetricsAddr is the address the metrics server listens on.
func (s *Servers) MetricsAddr() net.Addr { return s.metrics.Addr() }

// ProbeAddr is the address the probe server listens on.
func (s *Servers) ProbeAddr() net.Addr { return s.probe.Addr() }

// Shutdown stops both servers, letting requests in flight finish for up to
// ShutdownTimeout even if ctx has already ended (it usually has: the
// process is stopping).
func (s *Servers) Shutdown(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	for _, srv := range s.servers {
		_ = srv.Shutdown(ctx)
	}
}
