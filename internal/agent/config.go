// Package agent is the spot-handler DaemonSet process: the I/O around one
// internal/interrupt state machine for its node. One loop goroutine owns
// the machine; it turns the notices pkg/imds sees, the rehearsal
// annotation and what the node said at start-up into events, and carries
// out the actions the machine returns: drains and node writes through
// pkg/drain, off the loop (work.go), and Kubernetes Events, logs, metrics
// and webhook calls (report.go; with --dry-run, logs only). It is the only
// package that knows both IMDS and Kubernetes.
//
// In steady state it makes no Kubernetes API calls: it talks to the API at
// start-up (to resume or undo a drain a previous agent began) and when a
// notice arrives. With AllowRehearsal it also watches its own Node for the
// rehearsal annotation.
package agent

import (
	"fmt"
	"time"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// Action is what the agent does about a kind of notice (the state
// machine's Response).
type Action = interrupt.Response

// The actions.
const (
	Ignore    = interrupt.Ignore
	TaintOnly = interrupt.TaintOnly
	DrainNode = interrupt.DrainNode
)

// DefaultAPITimeout bounds each Kubernetes API call but watches.
const DefaultAPITimeout = 10 * time.Second

// Config is the agent's configuration, one field per flag.
type Config struct {
	// NodeName is this node's Kubernetes name (required).
	NodeName string
	// PodNamespace and PodName name the agent's own pod, never drained.
	PodNamespace, PodName string
	// IMDSEndpoint overrides the instance metadata endpoint; "" = default.
	IMDSEndpoint string
	// PollInterval is how often IMDS is polled (default 1s).
	PollInterval time.Duration
	// Policy is the drain policy (margin, PDB fallback, taint effect, ...).
	Policy drain.Policy
	// Rebalance, ScheduledMaintenance and ASGLifecycle say what to do about
	// each kind of notice; Spot interruptions are always drained.
	Rebalance, ScheduledMaintenance, ASGLifecycle Action
	// CordonOnly cordons and taints on a notice but evicts nothing.
	CordonOnly bool
	// DryRun logs what would be done and changes nothing: no patch, no
	// Event, no webhook unless DryRunWebhook.
	DryRun bool
	// DryRunWebhook posts the webhook in a dry run too, marked dry-run.
	DryRunWebhook bool
	// AllowRehearsal treats the node annotation RehearsalAnnotation as a
	// Spot notice (see `spot-handler rehearse`).
	AllowRehearsal bool
	// MetricsAddr and ProbeAddr are the listen addresses of /metrics and of
	// /healthz and /readyz.
	MetricsAddr, ProbeAddr string
	// WebhookURL, if set, receives a POST on each notice and drain end.
	WebhookURL string
	// WebhookTemplate is a Go text/template for the POST body; "" = the
	// default Slack-compatible {"text": ...}.
	WebhookTemplate string
}

// Validate says what is wrong with c, in words for the operator.
func (c *Config) Validate() error {
	if c.NodeName == "" {
		return fmt.Errorf("no node name: set --node-name or NODE_NAME (the chart sets it from the downward API, spec.nodeName)")
	}
	for _, a := range []struct {
		flag string
		v    Action
		ok   []Action
	}{
		{"--rebalance", c.Rebalance, []Action{Ignore, TaintOnly, DrainNode}},
		{"--scheduled-maintenance", c.ScheduledMaintenance, []Action{Ignore, DrainNode}},
		{"--asg-lifecycle", c.ASGLifecycle, []Action{Ignore, DrainNode}},
	} {
		found := false
		for _, ok := range a.ok {
			found = found || a.v == ok
		}
		if !found {
			return fmt.Errorf("%s=%q: want one of %v", a.flag, a.v, a.ok)
		}
	}
	if c.PollInterval < 100*time.Millisecond || c.PollInterval > 30*time.Second {
		return fmt.Errorf("--poll-interval=%v: use 100ms to 30s (a Spot notice gives 2 minutes; the default 1s costs under 1%% of them)", c.PollInterval)
	}
	return nil
}

// machine is the state machine's policy for c.
func (c *Config) machine() interrupt.Config {
	return interrupt.Config{Rebalance: c.Rebalance, Maintenance: c.ScheduledMaintenance, ASG: c.ASGLifecycle, Margin: c.Policy.Margin}
}
