// Package setup describes the AWS resources `spot-handler controller` needs:
// one SQS queue, the EventBridge rules that feed it every kind of event the
// controller parses, and the least-privilege IAM policy of the controller's
// role. It renders them as a CloudFormation template or as a plain JSON
// document for other tools. It is pure: it calls no AWS API.
package setup

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/spot-handler/spot-handler/pkg/queue"
)

// Retention is how long the queue keeps a message: longer than the
// longest hold. A launch wait lives only in its message (up to
// --launch-timeout), a lifecycle hook may hold an instance for hours, a
// Health event that arrives while no leader can act must wait for one, and
// --delete-unknown=false leaves other clusters' messages for them. SQS's
// maximum is 14 days; 4 days covers a weekend without a leader.
const Retention = 4 * 24 * time.Hour

// Config says what to set up.
type Config struct {
	// Cluster is the Kubernetes cluster's name: 1 to 100 letters, digits,
	// "-" and "_", starting with a letter or digit (EKS's rule). It names the
	// queue and tags it.
	Cluster string
	// DescribeInstances grants ec2:DescribeInstances, which the controller
	// calls only when its instance-to-node fallback (private DNS name) is on.
	DescribeInstances bool
	// ASGNames are the cluster's Auto Scaling groups named explicitly (the
	// controller's --asg-names): the lifecycle rules then match only them
	// (and ASGPrefix), and the policy allows their lifecycle actions
	// whatever their tags.
	ASGNames []string
	// ASGPrefix, if set, narrows the lifecycle rules to groups whose name
	// starts with it (eksctl: "eksctl-<cluster>-"); with ASGNames, a group
	// matching either is routed.
	ASGPrefix string
}

// Plan is what a Config sets up, ready to render.
type Plan struct {
	// Cluster is Config.Cluster.
	Cluster string
	// QueueName is "spot-handler-" + Cluster, shortened with a digest to
	// SQS's 80 characters.
	QueueName string
	// Rules are the EventBridge rules, one per kind of event pkg/queue parses.
	Rules []Rule
	// DescribeInstances is Config.DescribeInstances.
	DescribeInstances bool
	// ASGNames is Config.ASGNames.
	ASGNames []string
}

// Rule is one EventBridge rule that sends to the queue.
type Rule struct {
	// ID is the rule's logical ID in the template: "Rule" and the
	// detail-type's letters and digits.
	ID string
	// Name is the rule's name in the JSON document: the cluster and ID,
	// shortened to EventBridge's 64 characters. (CloudFormation names the
	// rules itself, after the stack.)
	Name string
	// Description says what the rule forwards.
	Description string
	// Type is the message type pkg/queue gives the events it matches.
	Type string
	// Pattern is the rule's event pattern.
	Pattern Pattern
}

// Pattern is an EventBridge event pattern: the event's source and
// detail-type, and for some kinds the detail fields that make it a notice.
type Pattern struct {
	Source     []string         `json:"source" yaml:"source"`
	DetailType []string         `json:"detail-type" yaml:"detail-type"`
	Detail     map[string][]any `json:"detail,omitempty" yaml:"detail,omitempty"`
}

// clusterName is EKS's rule for a cluster name.
var clusterName = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`)

// New checks cfg and derives the plan from pkg/queue's table of parsers.
func New(cfg Config) (*Plan, error) {
	if !clusterName.MatchString(cfg.Cluster) {
		return nil, fmt.Errorf("cluster name %q is not valid: use 1 to 100 letters, digits, '-' and '_', starting with a letter or digit (the name of your EKS or kops cluster)", cfg.Cluster)
	}
	if len(queueName(cfg.Cluster)) > maxQueueName {
		return nil, fmt.Errorf("cluster name %q is %d characters: the queue %q must fit SQS's %d-character limit on queue names, so use at most %d",
			cfg.Cluster, len(cfg.Cluster), queueName(cfg.Cluster), maxQueueName, maxQueueName-len(queueName("")))
	}
	for _, g := range cfg.ASGNames {
		if g == "" || len(g) > 255 || strings.Contains(g, ",") {
			return nil, fmt.Errorf("--asg-names: %q is not an Auto Scaling group name", g)
		}
	}
	p := &Plan{Cluster: cfg.Cluster, QueueName: queueName(cfg.Cluster), DescribeInstances: cfg.DescribeInstances, ASGNames: cfg.ASGNames}
	for _, k := range queue.EventKinds() {
		detail := narrowing[k.Type]
		if k.Type == queue.TypeLifecycle {
			detail = groupFilter(cfg.ASGNames, cfg.ASGPrefix)
		}
		p.Rules = append(p.Rules, Rule{
			ID:          "Rule" + alnum(k.DetailType),
			Name:        clipName(cfg.Cluster+"-"+alnum(k.DetailType), maxRuleName),
			Description: fmt.Sprintf("spot-handler (cluster %s): %s events to the controller's queue", cfg.Cluster, k.DetailType),
			Type:        k.Type,
			Pattern:     Pattern{Source: []string{k.Source}, DetailType: []string{k.DetailType}, Detail: detail},
		})
	}
	return p, nil
}

// narrowing keeps out of the queue the events of a kind that pkg/queue
// parses into no notice, so they cost neither a receive nor a delete. The
// setup tests check each value against queue.Parse.
var narrowing = map[string]map[string][]any{
	// Only these states yield a notice; pending and running do not.
	queue.TypeStateChange: {"state": {queue.StateStopping, queue.StateShuttingDown, queue.StateStopped, queue.StateTerminated}},
	// Only EC2 scheduled changes yield notices.
	queue.TypeHealth: {"service": {"EC2"}, "eventTypeCategory": {"scheduledChange"}},
}

// groupFilter narrows the lifecycle rules to this cluster's groups where
// EventBridge can tell them (it cannot read a group's tags): the named
// groups and those whose name starts with prefix. Neither given, every
// group's lifecycle events reach the queue, and the controller's ownership
// check (the group's kubernetes.io/cluster/<name> tag) leaves other
// clusters' actions alone.
func groupFilter(names []string, prefix string) map[string][]any {
	var match []any
	for _, n := range names {
		match = append(match, n)
	}
	if prefix != "" {
		match = append(match, map[string]string{"prefix": prefix})
	}
	if len(match) == 0 {
		return nil
	}
	return map[string][]any{"AutoScalingGroupName": match}
}

// maxQueueName is SQS's limit on a queue name.
const maxQueueName = 80

// maxRuleName is EventBridge's limit on a rule name.
const maxRuleName = 64

// queueName is "spot-handler-" + cluster; New refuses a cluster name that
// makes it longer than SQS allows.
func queueName(cluster string) string { return "spot-handler-" + cluster }

// clipName returns name, or if it is longer than max, its start and a digest
// of the whole, max bytes in all: distinct names stay distinct.
func clipName(name string, max int) string {
	if len(name) <= max {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	digest := hex.EncodeToString(sum[:4])
	return name[:max-len(digest)-1] + "-" + digest
}

// alnum keeps the ASCII letters and digits of s, upper-casing a letter
// that follows anything else: "Instance-launch" becomes "InstanceLaunch".
func alnum(s string) string {
	var b strings.Builder
	upper := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' && upper:
			b.WriteRune(r - 'a' + 'A')
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			upper = true
			continue
		}
		upper = false
	}
	return b.String()
}
