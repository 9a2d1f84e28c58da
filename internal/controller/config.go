// Package controller is `spot-handler controller`, queue mode: one
// leader-elected Deployment that drains any node of the cluster from the
// EventBridge events on an SQS queue (Spot interruption warnings, rebalance
// recommendations, instance state changes, AWS Health scheduled changes).
//
// The leader receives messages (pkg/queue parses them), maps each instance
// to its Node through an informer index on spec.providerID (EC2
// DescribeInstances only when the index has no match, cached), and feeds
// each node's notices to that node's interrupt.Machine, owned by one
// goroutine. The machine decides; the controller carries its actions out:
// cordon at once, then drain in deadline order on bounded workers with
// pkg/drain. A message is deleted only once the node carries the notice
// annotation, so a new leader, which resumes every drain recorded on a node,
// loses nothing.
package controller

import (
	"fmt"
	"strings"
	"time"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// Config is the controller's configuration, one field per flag.
type Config struct {
	// QueueURL is the SQS queue EventBridge delivers to (required).
	QueueURL string
	// ClusterName is this cluster's name (required): an instance that is no
	// node here is this cluster's only when its Auto Scaling group carries
	// the tag kubernetes.io/cluster/<ClusterName> or is named in ASGNames
	// (ownership.go). No lifecycle action of another's instance is ever
	// completed, heartbeated or abandoned.
	ClusterName string
	// ASGNames are Auto Scaling groups of this cluster whatever their tags.
	ASGNames []string
	// Policy is the drain policy (margin, PDB fallback, taint effect, ...).
	Policy drain.Policy
	// Rebalance and Maintenance say what to do about rebalance
	// recommendations and Health scheduled changes; Spot warnings and
	// instance state changes (stopping, shutting-down) are always drained.
	Rebalance, Maintenance interrupt.Response
	// MaintenanceLead is how long before a Health scheduled change's start
	// its node is cordoned and drained (0: at once, when the event
	// arrives). While it waits, the notice is recorded on the node
	// (WaitAnnotation), so the message can go and a new leader holds it
	// again. Must exceed the drain margin.
	MaintenanceLead time.Duration
	// RebalanceTaintTTL ends a rebalance recommendation's taint this long
	// after it arrived (0: never; it ends with the instance).
	RebalanceTaintTTL time.Duration
	// CordonOnly cordons and taints on a notice but evicts nothing.
	CordonOnly bool
	// DryRun logs what would be done and changes nothing (messages are still
	// deleted once handled).
	DryRun bool
	// Workers bounds the drains that run at once; more wait, most urgent
	// deadline first. Each node is cordoned at once whatever the bound.
	Workers int
	// DeleteUnknown deletes a message for an instance that is not this
	// cluster's after one re-check; false leaves it on the queue (a queue
	// shared by several clusters). Either way nothing is written to AWS for
	// such an instance.
	DeleteUnknown bool
	// RecheckDelay is how long a message for an unknown instance waits
	// before its re-check (0 = 10s).
	RecheckDelay time.Duration
	// EC2Fallback looks an instance missing from the providerID index up
	// with DescribeInstances (its private DNS name as node name).
	EC2Fallback bool
	// OutOfServiceTaint adds node.kubernetes.io/out-of-service=nodeshutdown:NoExecute
	// to a node still holding pods when EC2 says it is terminated or stopped,
	// or once the drain of a shutting-down instance ends with pods left.
	OutOfServiceTaint bool
	// Receivers is how many ReceiveMessage calls run at once (0 = 4).
	Receivers int
	// WaitTime is the SQS long-poll wait (0 = 20s, SQS's maximum).
	WaitTime time.Duration
	// LeaderElect turns leader election on (a Lease in LeaseNamespace named
	// LeaseName); off, this process is always the leader.
	LeaderElect bool
	// LeaseNamespace, LeaseName and Identity name the Lease and this
	// candidate (Identity "" = host name + random suffix).
	LeaseNamespace, LeaseName, Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod are client-go's leader
	// election timings.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// PodNamespace and PodName name the controller's own pod, never drained.
	PodNamespace, PodName string
	// Lifecycle tunes the holding of ASG lifecycle actions
	// (--lifecycle-max-drain, --launch-timeout); zero fields take
	// lifecycle.DefaultConfig's heartbeat fraction and launch poll.
	Lifecycle lifecycle.Config
	// MetricsAddr and ProbeAddr are the listen addresses of /metrics and of
	// /healthz and /readyz.
	MetricsAddr, ProbeAddr string
	// WebhookURL, if set, receives a POST on each notice, each withdrawal
	// undone and each drain's end, as the agent posts them.
	WebhookURL string
	// WebhookTemplate is a Go text/template for the POST body; "" = the
	// default Slack-compatible {"text": ...}.
	WebhookTemplate string
	// DryRunWebhook posts the notice webhooks in a dry run too, marked
	// dry-run; without it a dry run posts nothing.
	DryRunWebhook bool
}

// DefaultRecheckDelay is RecheckDelay's default.
const DefaultRecheckDelay = 10 * time.Second

// Validate says what is wrong with c, in words for the operator.
func (c *Config) Validate() error {
	if c.QueueURL == "" {
		return fmt.Errorf("no queue: set --queue-url (SPOT_HANDLER_QUEUE_URL) to the SQS queue URL EventBridge delivers to")
	}
	if c.ClusterName == "" {
		return fmt.Errorf("no cluster name: set --cluster-name (SPOT_HANDLER_CLUSTER_NAME) to this cluster's name, as in its Auto Scaling groups' tag %s<name>", ClusterTagPrefix)
	}
	if strings.ContainsAny(c.ClusterName, " ,/\t\n") || len(ClusterTagPrefix+c.ClusterName) > 128 {
		return fmt.Errorf("--cluster-name=%q: not a cluster name (no spaces, commas or slashes; the tag key %s<name> must fit AWS's 128 characters)", c.ClusterName, ClusterTagPrefix)
	}
	for _, g := range c.ASGNames {
		if g == "" || len(g) > 255 {
			return fmt.Errorf("--asg-names: %q is not an Auto Scaling group name (a comma-separated list of 1 to 255 character names)", g)
		}
	}
	switch c.Rebalance {
	case interrupt.Ignore, interrupt.TaintOnly, interrupt.DrainNode:
	default:
		return fmt.Errorf("--rebalance=%q: want ignore, taint or drain", c.Rebalance)
	}
	switch c.Maintenance {
	case interrupt.Ignore, interrupt.DrainNode:
	default:
		return fmt.Errorf("--scheduled-maintenance=%q: want ignore or drain", c.Maintenance)
	}
	if c.MaintenanceLead < 0 || c.MaintenanceLead > 0 && c.MaintenanceLead <= c.Policy.Margin {
		return fmt.Errorf("--maintenance-lead=%v: use 0 (drain at once) or more than the drain margin (%v), so the drain has time before the window", c.MaintenanceLead, c.Policy.Margin)
	}
	if c.RebalanceTaintTTL < 0 {
		return fmt.Errorf("--rebalance-taint-ttl=%v: use 0 (the taint ends with the instance) or a positive time", c.RebalanceTaintTTL)
	}
	if c.Workers < 1 || c.Workers > 10000 {
		return fmt.Errorf("--workers=%d: use 1 to 10000 (drains mostly wait; the API client's QPS is the real bound)", c.Workers)
	}
	if c.LeaderElect {
		if c.LeaseNamespace == "" || c.LeaseName == "" {
			return fmt.Errorf("leader election needs --leader-elect-namespace (default $POD_NAMESPACE) and --leader-elect-name")
		}
		if !(c.RetryPeriod > 0 && c.RetryPeriod < c.RenewDeadline && c.RenewDeadline < c.LeaseDuration) {
			return fmt.Errorf("leader election timings: want 0 < --leader-elect-retry-period (%v) < --leader-elect-renew-deadline (%v) < --leader-elect-lease-duration (%v)",
				c.RetryPeriod, c.RenewDeadline, c.LeaseDuration)
		}
	}
	if c.WaitTime < 0 || c.WaitTime > 20*time.Second {
		return fmt.Errorf("queue wait time %v: use 0s to 20s (SQS's long-poll maximum)", c.WaitTime)
	}
	return nil
}

// machineConfig is the policy of each node's state machine. ASG
// terminations (lifecycle actions) and instance state changes are always
// drained (the instance is going away; see notice.go); recorded notices
// resume at once, since a queue does not repeat its messages.
func (c *Config) machineConfig() interrupt.Config {
	return interrupt.Config{Rebalance: c.Rebalance, Maintenance: c.Maintenance, ASG: interrupt.DrainNode,
		Margin: c.Policy.Margin, ResumeRecorded: true, MaintenanceLead: c.MaintenanceLead, RebalanceTaintTTL: c.RebalanceTaintTTL}
}
