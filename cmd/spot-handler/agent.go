package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/spot-handler/spot-handler/internal/agent"
)

const agentHelp = `Watch instance metadata (IMDSv2) for a Spot interruption notice, a rebalance
recommendation, scheduled maintenance and an ASG Terminated state, and cordon,
taint and drain this node so it is empty before the termination time, whatever
the pods' grace periods and PodDisruptionBudgets. Runs as a DaemonSet on Spot
nodes (see charts/spot-handler).`

// agentFlags are the agent's flags and what they fill.
type agentFlags struct {
	modeFlags
	cfg              agent.Config
	maintenance, asg string
	apiTimeout       time.Duration
}

func (f *agentFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	c := &f.cfg
	f.modeFlags.register(fs, "the node must be empty this long before the termination time")
	fs.StringVar(&c.NodeName, "node-name", getenv("NODE_NAME"), "this node's Kubernetes name (default $NODE_NAME, from the downward API)")
	fs.StringVar(&c.IMDSEndpoint, "imds-endpoint", "", "instance metadata endpoint; empty means the SDK default http://169.254.169.254")
	fs.DurationVar(&c.PollInterval, "poll-interval", time.Second, "how often to poll IMDS; 1s spends under 1% of a 2-minute notice on detection")
	fs.StringVar(&f.maintenance, "scheduled-maintenance", string(agent.DrainNode), "on scheduled maintenance: ignore or drain")
	fs.StringVar(&f.asg, "asg-lifecycle", string(agent.DrainNode), "on an ASG target lifecycle state of Terminated: ignore or drain")
	fs.BoolVar(&c.DryRun, "dry-run", false, "log what would be done; change nothing (no patch, no Event, no webhook)")
	fs.BoolVar(&c.AllowRehearsal, "allow-rehearsal", false, "treat the node annotation "+agent.RehearsalAnnotation+"=<RFC3339> as a Spot notice (see 'spot-handler rehearse')")
	fs.Float64Var(&f.qps, "kube-api-qps", 50, "Kubernetes API queries per second during a drain (none are made in steady state)")
	fs.IntVar(&f.burst, "kube-api-burst", 150, "Kubernetes API burst: 110 pods' evictions fit in one burst")
	fs.DurationVar(&f.apiTimeout, "kube-api-timeout", agent.DefaultAPITimeout, "bound on each Kubernetes API call except watches; a hung call is retried, never waited on")
}

// config finishes the agent's Config from the flags, reading files.
func (f *agentFlags) config(getenv func(string) string) (agent.Config, error) {
	c := f.cfg
	c.Policy = f.policy()
	c.CordonOnly, c.MetricsAddr, c.ProbeAddr = f.cordonOnly, f.metricsAddr, f.probeAddr
	c.Rebalance, c.ScheduledMaintenance, c.ASGLifecycle = agent.Action(f.rebalance), agent.Action(f.maintenance), agent.Action(f.asg)
	c.PodNamespace, c.PodName = getenv("POD_NAMESPACE"), getenv("POD_NAME")
	c.DryRunWebhook = f.dryRunWebhook
	var err error
	c.WebhookURL, c.WebhookTemplate, err = f.webhook()
	return c, err
}

// checked finishes the agent's Config and checks every flag, before
// anything is built; it returns the webhook's client too.
func (f *agentFlags) checked(getenv func(string) string) (agent.Config, *http.Client, error) {
	cfg, err := f.config(getenv)
	if err != nil {
		return cfg, nil, err
	}
	hooks, err := f.finish(cfg.DryRun, cfg.WebhookURL, cfg.WebhookTemplate,
		func() error {
			return checkOptionalURL("--imds-endpoint", cfg.IMDSEndpoint, "an http:// URL like http://169.254.169.254 (or empty for the default)")
		},
		func() error {
			if f.apiTimeout <= 0 {
				return fmt.Errorf("--kube-api-timeout=%v: use a positive duration (default %v)", f.apiTimeout, agent.DefaultAPITimeout)
			}
			return nil
		},
		cfg.Validate)
	if f.webhookOff {
		cfg.WebhookURL = "" // a warning says why
	}
	return cfg, hooks, err
}

// runAgent parses the agent's flags, builds its dependencies and runs it
// until SIGTERM (and the end of any drain in progress).
func runAgent(ctx context.Context, args []string, io stdio) error {
	var f agentFlags
	if err := parseModeFlags("agent", agentHelp, func(fs *flag.FlagSet) { f.register(fs, io.getenv) }, args, io); err != nil {
		return err
	}
	cfg, hooks, err := f.checked(io.getenv)
	if err != nil {
		return usageError{fmt.Errorf("spot-handler agent: %w", err)}
	}
	p, err := f.start("spot-handler agent", f.apiTimeout, io)
	if err != nil {
		return err
	}
	defer func() { _ = p.log.Sync() }()
	f.sayWarnings(p.log)
	a, err := agent.New(cfg, agent.Deps{Kube: p.kube, Registry: p.reg, Metrics: p.metrics, Logger: p.log, WebhookClient: hooks})
	if err != nil {
		return usageError{fmt.Errorf("spot-handler agent: %w", err)}
	}
	return a.Run(ctx)
}
