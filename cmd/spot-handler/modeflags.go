package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	clientmetrics "k8s.io/client-go/tools/metrics"

	"github.com/spot-handler/spot-handler/internal/flagenv"
	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/internal/webhook"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// modeFlags are the flags the two long-running modes, agent and
// controller, share with the same names, defaults and meaning: the API
// client's kubeconfig and rate, the drain policy, logging, the servers and
// the webhook.
type modeFlags struct {
	kubeconfig, logFormat, logLevel                 string
	margin                                          time.Duration
	pdbFallback, taintEffect, excludeLabel          string
	drainOrder                                      string
	rebalance                                       string
	cordonOnly, dryRunWebhook                       bool
	metricsAddr, probeAddr                          string
	webhookURL, webhookURLFile, webhookTemplateFile string
	webhookHeaders                                  webhook.Headers
	webhookHeaderFile, webhookProxy                 string
	kubeContext                                     string
	qps                                             float64
	burst                                           int
	// marginWarns: a --drain-margin past a Spot notice is a warning, not
	// a refusal (the controller's lifecycle and Health drains keep time).
	marginWarns bool
	// warnings are the problems the checks found that do not stop the
	// process (a side channel, the webhook, is off; a flag does nothing):
	// an agent or controller refused at start drains no node at all, so
	// these are logged as errors once the logger is built, and it carries
	// on (see say).
	warnings []string
	// webhookOff: the webhook's URL or headers could not be read; it is
	// off, and a warning says why.
	webhookOff bool
}

// warn records a problem that does not stop the process.
func (f *modeFlags) warn(format string, args ...any) {
	f.warnings = append(f.warnings, fmt.Sprintf(format, args...))
}

// sayWarnings logs each warning the checks recorded, once, as an error
// line: what is wrong and what to do.
func (f *modeFlags) sayWarnings(log *zap.Logger) {
	for _, w := range f.warnings {
		log.Error("configuration problem; carrying on: "+w, zap.String("what_to_do", "fix the flag or its chart value and restart"))
	}
}

// register adds the shared flags to fs; marginHelp says what --drain-margin
// means in this mode, qps and burst are its API client's defaults.
func (f *modeFlags) register(fs *flag.FlagSet, marginHelp string) {
	d := drain.DefaultPolicy()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", kubeconfigHelp)
	fs.StringVar(&f.kubeContext, "context", "", "the kubeconfig context to use; empty means its current-context")
	fs.DurationVar(&f.margin, "drain-margin", d.Margin, marginHelp)
	fs.StringVar(&f.pdbFallback, "pdb-fallback", string(d.PDBFallback), "when a PDB still refuses eviction at the pod's cut-off: delete (with grace) or wait")
	fs.StringVar(&f.drainOrder, "drain-order", string(d.Order), "order of eviction: priority (waves, lowest priority or "+drain.OrderAnnotation+" first; the deadline still wins) or none (all at once)")
	fs.StringVar(&f.taintEffect, "taint-effect", string(d.TaintEffect), "effect of the spot-handler.io/interruption taint: NoSchedule, PreferNoSchedule or NoExecute")
	fs.StringVar(&f.excludeLabel, "exclude-lb-label", d.ExcludeLabel, `label set to "true" on a draining node to take it out of external load balancers; empty disables`)
	fs.StringVar(&f.rebalance, "rebalance", string(interrupt.TaintOnly), "on a rebalance recommendation: ignore, taint (PreferNoSchedule, pods stay) or drain")
	fs.BoolVar(&f.cordonOnly, "cordon-only", false, "cordon and taint on a notice, evict nothing")
	fs.StringVar(&f.metricsAddr, "metrics-addr", ":9102", "listen address of /metrics")
	fs.StringVar(&f.probeAddr, "probe-addr", ":8081", "listen address of /healthz and /readyz")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or console")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&f.dryRunWebhook, "dry-run-webhook", false, "with --dry-run, still post the webhooks, marked dry-run")
	fs.StringVar(&f.webhookURL, "webhook-url", "", "POST a notification here on each notice and drain end (never logged)")
	fs.StringVar(&f.webhookURLFile, "webhook-url-file", "", "read --webhook-url from this file (a mounted Secret)")
	fs.StringVar(&f.webhookTemplateFile, "webhook-template", "", "file with a Go text/template for the webhook body; default Slack-compatible {\"text\": ...}")
	fs.Var(&f.webhookHeaders, "webhook-header", "a `header` 'Name: value' sent with each webhook POST; repeat for more (in the variable, one a line)")
	fs.StringVar(&f.webhookHeaderFile, "webhook-header-file", "", "file of 'Name: value' lines sent as webhook headers (a mounted Secret, for tokens)")
	fs.StringVar(&f.webhookProxy, "webhook-proxy", "", "HTTP proxy URL for the webhook POSTs; empty means HTTPS_PROXY, HTTP_PROXY and NO_PROXY")
}

// webhookClient is the webhook's HTTP client with the --webhook-header(-file)
// headers and the --webhook-proxy proxy.
func (f *modeFlags) webhookClient() (*http.Client, error) {
	h := f.webhookHeaders.Header().Clone()
	if f.webhookHeaderFile != "" {
		b, err := os.ReadFile(f.webhookHeaderFile)
		if err != nil {
			return nil, fmt.Errorf("--webhook-header-file: %w", err)
		}
		more, err := webhook.ParseHeaders(string(b))
		if err != nil {
			// A Secret's content, read at start: the webhook is off, the
			// drains go on.
			f.webhookOff = true
			f.warn("--webhook-header-file %s: %v; the webhook is off until it is fixed", f.webhookHeaderFile, err)
			return webhook.NewClient(nil, f.webhookProxy)
		}
		if h == nil {
			h = http.Header{}
		}
		for k, vs := range more {
			h[k] = append(h[k], vs...)
		}
	}
	return webhook.NewClient(h, f.webhookProxy)
}

// webhook returns the webhook's URL (from --webhook-url-file if set) and
// template text ("" = the default), reading their files.
func (f *modeFlags) webhook() (rawURL, template string, err error) {
	rawURL = f.webhookURL
	if rawURL != "" && f.webhookURLFile != "" {
		return "", "", fmt.Errorf("--webhook-url and --webhook-url-file both set the webhook's URL: pass only one (the file for a Secret)")
	}
	if f.webhookURLFile != "" {
		b, err := os.ReadFile(f.webhookURLFile)
		if err != nil {
			return "", "", fmt.Errorf("--webhook-url-file: %w", err)
		}
		rawURL = strings.TrimSpace(string(b))
		if rawURL == "" {
			// A Secret's content, read at start: the webhook is off, the
			// drains go on.
			f.webhookOff = true
			f.warn("--webhook-url-file %s is empty: the webhook is off; put the webhook's URL in it (the Secret's key), or drop --webhook-url-file", f.webhookURLFile)
		}
	}
	if f.webhookTemplateFile != "" {
		b, err := os.ReadFile(f.webhookTemplateFile)
		if err != nil {
			return "", "", fmt.Errorf("--webhook-template: %w", err)
		}
		template = string(b)
	}
	return rawURL, template, nil
}

// parseModeFlags makes the flag set of mode sub, lets register fill it and
// parses args and the SPOT_HANDLER_* environment into it.
func parseModeFlags(sub, help string, register func(*flag.FlagSet), args []string, io stdio) error {
	fs := flag.NewFlagSet(sub, flag.ContinueOnError)
	register(fs)
	fs.Usage = flagenv.Usage(fs, "spot-handler "+sub+" [flags]", help, envPrefix)
	return parseFlags(fs, args, io)
}

// policy is the drain policy the flags set.
func (f *modeFlags) policy() drain.Policy {
	p := drain.DefaultPolicy()
	p.Margin = f.margin
	p.PDBFallback = drain.PDBFallback(f.pdbFallback)
	p.TaintEffect = corev1.TaintEffect(f.taintEffect)
	p.ExcludeLabel = f.excludeLabel
	p.Order = drain.Order(f.drainOrder)
	return p
}

// process is what both modes build once their configuration is valid.
type process struct {
	log     *zap.Logger
	kube    kubernetes.Interface
	reg     *prometheus.Registry
	metrics *metrics.Metrics
}

// start builds the logger, the drains' API client (calls bounded by
// apiTimeout) and the metrics registry, and counts client-go's requests in
// spot_handler_kube_api_requests_total. Its errors are usage errors naming
// cmd. The caller syncs the logger.
func (f *modeFlags) start(cmd string, apiTimeout time.Duration, io stdio) (*process, error) {
	log, err := newLogger(f.logFormat, f.logLevel, io)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", cmd, err)}
	}
	kube, err := kubeClient(kubeSource{f.kubeconfig, f.kubeContext}, f.qps, f.burst, apiTimeout, io.getenv)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", cmd, err)}
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	clientmetrics.Register(clientmetrics.RegisterOpts{RequestResult: requestCounter{m}})
	return &process{log: log, kube: kube, reg: reg, metrics: m}, nil
}

// requestCounter feeds client-go's request results into
// spot_handler_kube_api_requests_total.
type requestCounter struct{ m *metrics.Metrics }

func (r requestCounter) Increment(_ context.Context, code, method, _ string) {
	r.m.KubeRequests.WithLabelValues(method, code).Inc()
}
