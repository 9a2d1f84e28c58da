package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// env is one test's world: a fresh moto with a queue, a namespace for the
// pods, and a Lease name of its own.
type env struct {
	t        testing.TB
	ctx      context.Context
	sqs      *sqs.Client
	ec2      *ec2.Client
	eb       *eventbridge.Client
	queueURL string
	queueARN string
	ns       string
	lease    string
	// images, if > 0, pads each new node's status with that many images
	// (testenv.PadStatus): nodes as large as a kubelet's.
	images int
	// unreplaced, if set, gives each new node's pods an owner no
	// controller acts on (testenv.UnreplacedPods): evicted, they are not
	// replaced by pods pinned to a cordoned node.
	unreplaced bool
}

var envCount atomic.Int64

// newEnv resets moto and makes a queue whose messages stay invisible for
// visibility seconds after a receive.
func newEnv(t testing.TB, visibility int) *env {
	t.Helper()
	if plane == nil {
		t.Skip("-short: needs the local control plane and moto")
	}
	moto.Use(t)
	cfg := moto.Config()
	e := &env{t: t, ctx: context.Background(), sqs: sqs.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg), eb: eventbridge.NewFromConfig(cfg),
		lease: fmt.Sprintf("spot-handler-controller-%d", envCount.Add(1))}
	q, err := e.sqs.CreateQueue(e.ctx, &sqs.CreateQueueInput{QueueName: aws.String("interruptions"),
		Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(visibility)}})
	if err != nil {
		t.Fatalf("creating the queue: %v", err)
	}
	e.queueURL = aws.ToString(q.QueueUrl)
	a, err := e.sqs.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	e.queueARN = a.Attributes["QueueArn"]
	e.ns = plane.NewNamespace(t)
	return e
}

// controller starts the controller c1 for the env's queue and Lease,
// against the plane (or kubeconfig, if not ""), with extra flags.
func (e *env) controller(kubeconfig string, extra ...string) *ctrl {
	e.t.Helper()
	return startController(e.t, "c1", e.queueURL, kubeconfig, append([]string{"--leader-elect-name", e.lease}, extra...)...)
}

// envWithNode is newEnv(t, visibility) with one instance whose node runs
// pods pods of 5s grace.
func envWithNode(t testing.TB, visibility, pods int) (*env, instNode) {
	t.Helper()
	e := newEnv(t, visibility)
	return e, e.nodes(1, pods, 5, 0)[0]
}

// instNode is a simulated EC2 instance and its kwok node.
type instNode struct {
	id, node, zone, dns string
}

// nodes starts n instances in moto and, for each, a kwok node with the
// instance's providerID and a ReplicaSet of pods pinned to it (grace
// seconds, each taking delay to go once deleted). The nodes are deleted
// when the test ends.
func (e *env) nodes(n, pods int, grace int64, delay time.Duration) []instNode {
	e.t.Helper()
	out := e.instances(n)
	e.t.Cleanup(func() {
		for _, in := range out {
			_ = plane.Client.CoreV1().Nodes().Delete(context.Background(), in.node, metav1.DeleteOptions{})
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for _, in := range out {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- e.addNode(in.node, "aws:///"+in.zone+"/"+in.id, pods, grace, delay)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

// instances starts n Spot instances in moto (no nodes).
func (e *env) instances(n int) []instNode {
	e.t.Helper()
	run, err := e.ec2.RunInstances(e.ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(int32(n)),
		MaxCount: aws.Int32(int32(n)), InstanceType: ec2types.InstanceTypeM5Large,
		InstanceMarketOptions: &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot}})
	if err != nil {
		e.t.Fatalf("RunInstances: %v", err)
	}
	out := make([]instNode, n)
	for i, in := range run.Instances {
		out[i] = instNode{id: aws.ToString(in.InstanceId), zone: aws.ToString(in.Placement.AvailabilityZone),
			dns: aws.ToString(in.PrivateDnsName)}
		out[i].node = "q-" + out[i].id
	}
	return out
}

// addNode creates a kwok node with providerID ("" for none) and its pods.
func (e *env) addNode(name, providerID string, pods int, grace int64, delay time.Duration) error {
	if _, err := plane.NewNode(e.ctx, name, nil); err != nil {
		return err
	}
	if e.images > 0 {
		if err := plane.PadStatus(e.ctx, name, e.images); err != nil {
			return err
		}
	}
	if providerID != "" {
		patch := fmt.Sprintf(`{"spec":{"providerID":%q}}`, providerID)
		if _, err := plane.Client.CoreV1().Nodes().Patch(e.ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("setting providerID of %s: %w", name, err)
		}
	}
	if pods == 0 {
		return nil
	}
	if e.unreplaced {
		return plane.UnreplacedPods(e.ctx, e.ns, name, pods, grace, delay)
	}
	return plane.PinnedReplicaSet(e.ctx, e.ns, "rs-"+strings.TrimPrefix(name, "q-"), name, int32(pods), grace, delay)
}

// event is an EventBridge event as it arrives in the queue.
func event(detailType, source string, at time.Time, detail string) string {
	return fmt.Sprintf(`{"version":"0","id":"%d","detail-type":%q,"source":%q,"account":"123456789012","time":%q,"region":"us-east-1","resources":[],"detail":%s}`,
		time.Now().UnixNano(), detailType, source, at.UTC().Format(time.RFC3339), detail)
}

func spotEvent(instance string, at time.Time) string {
	return event("EC2 Spot Instance Interruption Warning", "aws.ec2", at,
		fmt.Sprintf(`{"instance-id":%q,"instance-action":"terminate"}`, instance))
}

func stateEvent(instance, state string, at time.Time) string {
	return event("EC2 Instance State-change Notification", "aws.ec2", at, fmt.Sprintf(`{"instance-id":%q,"state":%q}`, instance, state))
}

// send puts bodies on the queue, ten per call.
func (e *env) send(bodies ...string) {
	e.t.Helper()
	for len(bodies) > 0 {
		n := min(10, len(bodies))
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i, b := range bodies[:n] {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
		}
		out, err := e.sqs.SendMessageBatch(e.ctx, &sqs.SendMessageBatchInput{QueueUrl: &e.queueURL, Entries: entries})
		if err != nil || len(out.Failed) > 0 {
			e.t.Fatalf("SendMessageBatch: %v %+v", err, out)
		}
		bodies = bodies[n:]
	}
}

// ruleToQueue routes aws.ec2 events of detailTypes from the default bus
// to the queue, as the setup's EventBridge rules do.
func (e *env) ruleToQueue(detailTypes ...string) {
	e.t.Helper()
	dt, _ := json.Marshal(detailTypes)
	pattern := `{"source":["aws.ec2"],"detail-type":` + string(dt) + `}`
	if _, err := e.eb.PutRule(e.ctx, &eventbridge.PutRuleInput{Name: aws.String("ec2"), EventPattern: &pattern}); err != nil {
		e.t.Fatalf("PutRule: %v", err)
	}
	if _, err := e.eb.PutTargets(e.ctx, &eventbridge.PutTargetsInput{Rule: aws.String("ec2"),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: &e.queueARN}}}); err != nil {
		e.t.Fatalf("PutTargets: %v", err)
	}
}

// putEvent puts an aws.ec2 event on the default event bus.
func (e *env) putEvent(detailType, detail string) {
	e.t.Helper()
	out, err := e.eb.PutEvents(e.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("aws.ec2"), DetailType: &detailType, Detail: &detail}}})
	if err != nil || out.FailedEntryCount > 0 {
		e.t.Fatalf("PutEvents: %v %+v", err, out)
	}
}

// inQueue is the number of messages on the queue, visible or in flight.
func (e *env) inQueue() int {
	v, nv := e.queueCounts()
	if v+nv == 0 {
		// moto counts the visible messages, then the others, each at its
		// own moment: a message whose visibility timeout ends between the
		// two is in neither. A message really gone is gone on a second
		// look too.
		time.Sleep(20 * time.Millisecond)
		v, nv = e.queueCounts()
	}
	return v + nv
}

// queueCounts returns the queue's visible messages and those in flight.
func (e *env) queueCounts() (visible, inFlight int) {
	a, err := e.sqs.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{QueueUrl: &e.queueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		e.t.Fatalf("GetQueueAttributes: %v", err)
	}
	visible, _ = strconv.Atoi(a.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(a.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight
}

func (e *env) node(name string) *corev1.Node {
	e.t.Helper()
	n, err := plane.Client.CoreV1().Nodes().Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// notice is the node's notice record, nil if none.
func (e *env) notice(name string) *drain.NodeNotice {
	e.t.Helper()
	n, err := drain.ReadNotice(e.node(name))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// podsOn counts the pods bound to node.
func (e *env) podsOn(node string) int {
	e.t.Helper()
	pods, err := plane.Client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(pods.Items)
}

// events counts the Events on node with reason.
func (e *env) events(node, reason string) int {
	e.t.Helper()
	evs, err := plane.Client.CoreV1().Events("default").List(e.ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Node,involvedObject.name=" + node + ",reason=" + reason})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, ev := range evs.Items {
		n += int(max(ev.Count, 1))
	}
	return n
}

// cordoned reports whether node is unschedulable with the interruption taint.
func cordoned(n *corev1.Node) bool {
	if !n.Spec.Unschedulable {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Key == drain.TaintKey {
			return true
		}
	}
	return false
}
