package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientmetrics "k8s.io/client-go/tools/metrics"

	"github.com/spot-handler/spot-handler/internal/agent"
	"github.com/spot-handler/spot-handler/internal/flagenv"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

const agentHelp = `Watch instance metadata (IMDSv2) for a Spot interruption notice, a rebalance
recommendation, scheduled maintenance and an ASG Terminated state, and cordon,
taint and drain this node so it is empty before the termination time, whatever
the pods' grace periods and PodDisruptionBudgets. Runs as a DaemonSet on Spot
nodes (see charts/spot-handler).`

// agentFlags are the agent's flags and what they fill.
type agentFlags struct {
	cfg                                 agent.Config
	kubeconfig, logFormat, logLevel     string
	pdbFallback, taintEffect            string
	rebalance, maintenance, asg         string
	webhookURLFile, webhookTemplateFile string
	qps                                 float64
	burst                               int
	apiTimeout                          time.Duration
	excludeLabel                        string
}

func (f *agentFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	d := drain.DefaultPolicy()
	c := &f.cfg
	fs.StringVar(&c.NodeName, "node-name", getenv("NODE_NAME"), "this node's Kubernetes name (default $NODE_NAME, from the downward API)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file; empty means in-cluster (the pod's service account)")
	fs.StringVar(&c.IMDSEndpoint, "imds-endpoint", "", "instance metadata endpoint; empty means the SDK default http://169.254.169.254")
	fs.DurationVar(&c.PollInterval, "poll-interval", time.Second, "how often to poll IMDS; 1s spends under 1% of a 2-minute notice on detection")
	fs.DurationVar(&c.Policy.Margin, "drain-margin", d.Margin, "the node must be empty this long before the termination time")
	fs.StringVar(&f.pdbFallback, "pdb-fallback", string(d.PDBFallback), "when a PDB still refuses eviction at the pod's cut-off: delete (with grace) or wait")
	fs.StringVar(&f.taintEffect, "taint-effect", string(d.TaintEffect), "effect of the spot-handler.io/interruption taint: NoSchedule, PreferNoSchedule or NoExecute")
	fs.StringVar(&f.excludeLabel, "exclude-lb-label", d.ExcludeLabel, `label set to "true" on a draining node to take it out of external load balancers; empty disables`)
	fs.StringVar(&f.rebalance, "rebalance", string(agent.TaintOnly), "on a rebalance recommendation: ignore, taint (PreferNoSchedule, pods stay) or drain")
	fs.StringVar(&f.maintenance, "scheduled-maintenance", string(agent.DrainNode), "on scheduled maintenance: ignore or drain")
	fs.StringVar(&f.asg, "asg-lifecycle", string(agent.DrainNode), "on an ASG target lifecycle state of Terminated: ignore or drain")
	fs.BoolVar(&c.CordonOnly, "cordon-only", false, "cordon and taint on a notice, evict nothing")
	fs.BoolVar(&c.DryRun, "dry-run", false, "log what would be done; change nothing (no patch, no Event, no webhook)")
	fs.BoolVar(&c.DryRunWebhook, "dry-run-webhook", false, "with --dry-run, still post the webhooks, marked dry-run")
	fs.BoolVar(&c.AllowRehearsal, "allow-rehearsal", false, "treat the node annotation "+agent.RehearsalAnnotation+"=<RFC3339> as a Spot notice (see 'spot-handler rehearse')")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", ":9102", "listen address of /metrics")
	fs.StringVar(&c.ProbeAddr, "probe-addr", ":8081", "listen address of /healthz and /readyz")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or console")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.WebhookURL, "webhook-url", "", "POST a notification here on each notice and drain end (never logged)")
	fs.StringVar(&f.webhookURLFile, "webhook-url-file", "", "read --webhook-url from this file (a mounted Secret)")
	fs.StringVar(&f.webhookTemplateFile, "webhook-template", "", "file with a Go text/template for the webhook body; default Slack-compatible {\"text\": ...}")
	fs.Float64Var(&f.qps, "kube-api-qps", 50, "Kubernetes API queries per second during a drain (none are made in steady state)")
	fs.IntVar(&f.burst, "kube-api-burst", 150, "Kubernetes API burst: 110 pods' evictions fit in one burst")
	fs.DurationVar(&f.apiTimeout, "kube-api-timeout", agent.DefaultAPITimeout, "bound on each Kubernetes API call except watches; a hung call is retried, never waited on")
}

// config finishes the agent's Config from the flags, reading files.
func (f *agentFlags) config(getenv func(string) string) (agent.Config, error) {
	c := f.cfg
	c.Policy = drain.DefaultPolicy()
	c.Policy.Margin = f.cfg.Policy.Margin
	c.Policy.PDBFallback = drain.PDBFallback(f.pdbFallback)
	c.Policy.TaintEffect = corev1.TaintEffect(f.taintEffect)
	c.Policy.ExcludeLabel = f.excludeLabel
	c.Rebalance, c.ScheduledMaintenance, c.ASGLifecycle = agent.Action(f.rebalance), agent.Action(f.maintenance), agent.Action(f.asg)
	c.PodNamespace, c.PodName = getenv("POD_NAMESPACE"), getenv("POD_NAME")
	if f.webhookURLFile != "" {
		b, err := os.ReadFile(f.webhookURLFile)
		if err != nil {
			return c, fmt.Errorf("--webhook-url-file: %w", err)
		}
		c.WebhookURL = strings.TrimSpace(string(b))
	}
	if f.webhookTemplateFile != "" {
		b, err := os.ReadFile(f.webhookTemplateFile)
		if err != nil {
			return c, fmt.Errorf("--webhook-template: %w", err)
		}
		c.WebhookTemplate = string(b)
	}
	return c, nil
}

// runAgent parses the agent's flags, builds its dependencies and runs it
// until SIGTERM (and the end of any drain in progress).
func runAgent(ctx context.Context, args []string, io stdio) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	var f agentFlags
	f.register(fs, io.getenv)
	fs.Usage = flagenv.Usage(fs, "spot-handler agent [flags]", agentHelp, envPrefix)
	if err := parseFlags(fs, args, io); err != nil {
		return err
	}
	cfg, err := f.config(io.getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return usageError{fmt.Errorf("spot-handler agent: %w", err)}
	}
	log, err := newLogger(f.logFormat, f.logLevel, io)
	if err != nil {
		return usageError{fmt.Errorf("spot-handler agent: %w", err)}
	}
	defer func() { _ = log.Sync() }()
	if f.apiTimeout <= 0 {
		return usagef("spot-handler agent: --kube-api-timeout=%v: use a positive duration (default %v)", f.apiTimeout, agent.DefaultAPITimeout)
	}
	kube, err := kubeClient(f.kubeconfig, f.qps, f.burst, f.apiTimeout)
	if err != nil {
		return usageError{fmt.Errorf("spot-handler agent: %w", err)}
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	clientmetrics.Register(clientmetrics.RegisterOpts{RequestResult: requestCounter{m}})
	a, err := agent.New(cfg, agent.Deps{Kube: kube, Registry: reg, Metrics: m, Logger: log})
	if err != nil {
		return usageError{fmt.Errorf("spot-handler agent: %w", err)}
	}
	return a.Run(ctx)
}

// newLogger builds the process's zap logger, writing to stderr.
func newLogger(format, level string, io stdio) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level=%q: want debug, info, warn or error", level)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	var e zapcore.Encoder
	switch format {
	case "json":
		e = zapcore.NewJSONEncoder(enc)
	case "console":
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		e = zapcore.NewConsoleEncoder(enc)
	default:
		return nil, fmt.Errorf("--log-format=%q: want json or console", format)
	}
	return zap.New(zapcore.NewCore(e, zapcore.AddSync(io.err), lvl)), nil
}

// kubeClient loads the kubeconfig (or the in-cluster config) and builds a
// clientset whose calls but watches end after timeout (0: no bound); it
// does not contact the server.
func kubeClient(path string, qps float64, burst int, timeout time.Duration) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if path == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no --kubeconfig and not in a cluster (%v): pass --kubeconfig or run as a pod", err)
		}
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %w", path, err)
		}
	}
	cfg.QPS, cfg.Burst = float32(qps), burst
	cfg.UserAgent = "spot-handler"
	agent.BoundCalls(cfg, timeout)
	return kubernetes.NewForConfig(cfg)
}

// requestCounter feeds client-go's request results into
// spot_handler_kube_api_requests_total.
type requestCounter struct{ m *metrics.Metrics }

func (r requestCounter) Increment(_ context.Context, code, method, _ string) {
	r.m.KubeRequests.WithLabelValues(method, code).Inc()
}
