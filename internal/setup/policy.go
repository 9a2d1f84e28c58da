package setup

// PolicyDocument is an IAM policy document.
type PolicyDocument struct {
	Version   string      `json:"Version" yaml:"Version"`
	Statement []Statement `json:"Statement" yaml:"Statement"`
}

// Statement is one statement of a PolicyDocument. Resource is a string, or
// a CloudFormation intrinsic function in the template.
type Statement struct {
	Sid       string         `json:"Sid" yaml:"Sid"`
	Effect    string         `json:"Effect" yaml:"Effect"`
	Principal any            `json:"Principal,omitempty" yaml:"Principal,omitempty"`
	Action    []string       `json:"Action" yaml:"Action"`
	Resource  any            `json:"Resource" yaml:"Resource"`
	Condition map[string]any `json:"Condition,omitempty" yaml:"Condition,omitempty"`
}

// policyVersion is the current IAM policy language version.
const policyVersion = "2012-10-17"

// refs are the ARNs the policies name: values in the JSON document,
// intrinsic functions in the template.
type refs struct {
	// queue is the queue's ARN.
	queue any
	// groups matches every Auto Scaling group of the account and region.
	groups any
	// group returns the ARN pattern of the group named name.
	group func(name string) any
	// rules are the ARNs of the plan's EventBridge rules.
	rules []any
}

// QueueActions are what the controller does with the queue's messages.
var QueueActions = []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:ReceiveMessage"}

// LifecycleActions are the Auto Scaling calls that hold and release an
// instance in a lifecycle hook; they accept a group ARN as resource.
var LifecycleActions = []string{"autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"}

// ClusterTagKey is the tag kops, eksctl and EKS put on a cluster's groups.
func ClusterTagKey(cluster string) string { return "kubernetes.io/cluster/" + cluster }

// controllerPolicy is the least-privilege policy of the controller's role:
// the queue's messages; the lifecycle actions of this cluster's groups only
// (tagged kubernetes.io/cluster/<name>, whatever the value, or named in
// ASGNames); the hooks' timeouts and the groups' tags (Describe calls take
// no resource ARN, hence "*"); and ec2:DescribeInstances only with the
// fallback.
func (p *Plan) controllerPolicy(r refs) PolicyDocument {
	st := []Statement{
		{Sid: "ReceiveNotices", Effect: "Allow", Action: QueueActions, Resource: r.queue},
		{Sid: "HoldAndReleaseLifecycleActionsOfClusterGroups", Effect: "Allow", Action: LifecycleActions, Resource: r.groups,
			Condition: map[string]any{"Null": map[string]string{"autoscaling:ResourceTag/" + ClusterTagKey(p.Cluster): "false"}}},
	}
	if len(p.ASGNames) > 0 {
		var groups []any
		for _, g := range p.ASGNames {
			groups = append(groups, r.group(g))
		}
		st = append(st, Statement{Sid: "HoldAndReleaseLifecycleActionsOfNamedGroups", Effect: "Allow", Action: LifecycleActions, Resource: groups})
	}
	st = append(st,
		Statement{Sid: "ReadLifecycleHookTimeouts", Effect: "Allow", Action: []string{"autoscaling:DescribeLifecycleHooks"}, Resource: "*"},
		Statement{Sid: "ReadGroupTagsForOwnership", Effect: "Allow", Action: []string{"autoscaling:DescribeAutoScalingGroups"}, Resource: "*"})
	if p.DescribeInstances {
		st = append(st, Statement{Sid: "FindNodesByPrivateDNSName", Effect: "Allow", Action: []string{"ec2:DescribeInstances"}, Resource: "*"})
	}
	return PolicyDocument{Version: policyVersion, Statement: st}
}

// queuePolicy lets the plan's EventBridge rules, and nothing else, send to
// the queue (aws:SourceArn), and refuses any request without TLS.
func queuePolicy(r refs) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{
		{Sid: "EventBridgeSendsNotices", Effect: "Allow",
			Principal: map[string]any{"Service": []string{"events.amazonaws.com"}},
			Action:    []string{"sqs:SendMessage"}, Resource: r.queue,
			Condition: map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": r.rules}}},
		{Sid: "DenyWithoutTLS", Effect: "Deny", Principal: "*", Action: []string{"sqs:*"}, Resource: r.queue,
			Condition: map[string]any{"Bool": map[string]string{"aws:SecureTransport": "false"}}},
	}}
}
