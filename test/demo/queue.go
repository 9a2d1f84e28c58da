package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/internal/timeline"
)

// The queue demo's AWS side, all in moto.
const (
	queueName = "spot-handler-demo"
	groupName = "nodes"
	// clusterName is the controller's --cluster-name; the group carries
	// its tag kubernetes.io/cluster/<clusterName>.
	clusterName = "demo"
	hookName    = "drain"
	hookBeat    = 30 // the hook's heartbeat timeout, seconds: heartbeats every 10s
	leaseName   = "spot-handler-controller"
	controller  = "demo-controller"
	margin      = 15 * time.Second // the controller's default --drain-margin
)

// queueApps is the queue demo's workload, spread over the two nodes that go.
var queueApps = []app{
	{"web", 6, 15, 0, ptr(intstr.FromInt32(1))},
	{"api", 4, 15, 0, ptr(intstr.FromString("50%"))},
	{"worker", 4, 10, 0, nil},
}

// runQueue is `go run ./test/demo --queue`: the controller in queue mode.
// A local plane with kwok nodes for the three instances of an Auto Scaling
// group in moto (a termination hook on it) and two on-demand nodes; the
// workload runs on two of the group's nodes. One gets a Spot interruption
// warning, the other a terminate lifecycle action (a scale-in), both as the
// EventBridge events the controller reads from its SQS queue. It prints
// both drains as they happen and the action's heartbeats and completion,
// and fails unless both nodes were empty before deadline − margin and the
// action was completed with CONTINUE.
func runQueue(ctx context.Context, bin string, keep bool) error {
	plane, err := startPlane(bin)
	if err != nil {
		return err
	}
	defer stopPlane(plane)
	fmt.Println("== starting moto, the AWS API simulator (SQS, EC2, Auto Scaling)")
	moto, err := testenv.StartMotoProcess()
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("== stopping moto")
		moto.Stop()
	}()
	fmt.Printf("   moto on %s\n", moto.URL)

	w, err := newQueueWorld(ctx, moto)
	if err != nil {
		return err
	}
	fmt.Printf("== SQS queue %s; Auto Scaling group %s of %d instances, termination hook %s (heartbeat timeout %ds)\n",
		queueName, groupName, len(w.instances), hookName, hookBeat)
	spot, scaled, stays := w.nodeName(0), w.nodeName(1), w.nodeName(2)
	if err := w.addNodes(ctx, plane, 0, 1); err != nil {
		return err
	}
	fmt.Printf("== the workload on %s (Spot) and %s (to be scaled in)\n", spot, scaled)
	if err := deployApps(ctx, plane, queueApps, spot+" and "+scaled); err != nil {
		return err
	}
	fmt.Printf("== adding %s and two on-demand nodes the pods can move to\n", stays)
	if err := w.addNodes(ctx, plane, 2); err != nil {
		return err
	}
	for i := 1; i <= 2; i++ {
		if _, err := plane.NewNode(ctx, fmt.Sprintf("ondemand-%d", i), map[string]string{"node.kubernetes.io/lifecycle": "on-demand"}); err != nil {
			return err
		}
	}

	ctrlLog := filepath.Join(plane.Dir, "controller.log")
	stopCtrl, err := startController(bin, plane.Kubeconfig, w.queueURL, moto, ctrlLog)
	if err != nil {
		return err
	}
	defer stopCtrl()
	if err := waitLeader(ctx, plane, 60*time.Second); err != nil {
		printTail("controller", ctrlLog, 40)
		return err
	}
	fmt.Printf("== spot-handler controller leading, receiving from the queue (log: %s)\n", ctrlLog)
	fmt.Println("== timeline (+seconds from the first message sent)")

	out := &lines{}
	sent := time.Now()
	all := timeline.NewPrinter(out.labeled(""), sent)
	if err := w.send(ctx, spotWarning(w.instances[0].ID, sent)); err != nil {
		return err
	}
	all.Line(sent, "[%s] message sent: EC2 Spot Instance Interruption Warning (termination at %s)", spot,
		sent.Add(2*time.Minute).Format("15:04:05"))
	token, err := moto.BeginLifecycleAction(groupName, hookName, w.instances[1].ID, lifecycle.Terminating)
	if err != nil {
		return err
	}
	began := time.Now()
	if err := w.send(ctx, terminateAction(w.instances[1].ID, token, began)); err != nil {
		return err
	}
	all.Line(began, "[%s] message sent: EC2 Instance-terminate Lifecycle Action (scale-in; held for the drain by hook %s)", scaled, hookName)

	go w.watchDeleted(ctx, all, time.Minute)
	hooked := watchAction(ctx, moto, token, all, scaled, began.Add(2*time.Minute+30*time.Second))
	res := follow(ctx, plane, out, sent, []drained{{spot, sent.Add(2 * time.Minute)}, {scaled, began.Add(2 * time.Minute)}})
	act := <-hooked
	if err := printPlacement(ctx, plane); err != nil {
		return err
	}
	ok := true
	for i, node := range []string{spot, scaled} {
		ok = timeline.Verdict(timeline.NewPrinter(out.labeled(node), sent), res[i], margin) && ok
	}
	switch {
	case act.Result != "CONTINUE":
		all.Line(time.Now(), "VERDICT: FAIL — the lifecycle action of %s was not completed with CONTINUE (moto: %s %s)", scaled, act.State, act.Result)
		ok = false
	case !res[1].Empty.IsZero():
		all.Line(act.Time, "lifecycle action completed CONTINUE %.2fs after %s was empty", act.Time.Sub(res[1].Empty).Seconds(), scaled)
	}
	if ok {
		all.Line(time.Now(), "VERDICT: OK — both nodes empty before their deadline minus the %v margin; the scale-in went ahead as soon as its node was empty", margin)
	}
	return finish(ctx, plane.Kubeconfig, keep, ok, "controller", ctrlLog,
		"a node was not empty in time, or the lifecycle action not completed (the controller's log is above)")
}

// queueWorld is the demo's queue and Auto Scaling group in moto.
type queueWorld struct {
	sqs       *sqs.Client
	queueURL  string
	instances []testenv.GroupInstance
}

func newQueueWorld(ctx context.Context, moto *testenv.Moto) (*queueWorld, error) {
	cfg := moto.Config()
	w := &queueWorld{sqs: sqs.NewFromConfig(cfg)}
	q, err := w.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queueName),
		Attributes: map[string]string{"VisibilityTimeout": "30"}})
	if err != nil {
		return nil, fmt.Errorf("creating the queue in moto: %w", err)
	}
	w.queueURL = aws.ToString(q.QueueUrl)
	if w.instances, err = moto.CreateGroup(ctx, groupName, 3); err != nil {
		return nil, err
	}
	if err := moto.TagGroup(ctx, groupName, map[string]string{"kubernetes.io/cluster/" + clusterName: "owned"}); err != nil {
		return nil, err
	}
	_, err = autoscaling.NewFromConfig(cfg).PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{AutoScalingGroupName: aws.String(groupName),
		LifecycleHookName: aws.String(hookName), LifecycleTransition: aws.String(lifecycle.Terminating),
		HeartbeatTimeout: aws.Int32(hookBeat), DefaultResult: aws.String("ABANDON")})
	if err != nil {
		return nil, fmt.Errorf("creating the termination hook in moto: %w", err)
	}
	return w, nil
}

// nodeName is the Kubernetes name of instance i's node.
func (w *queueWorld) nodeName(i int) string { return "ip-" + w.instances[i].ID }

// addNodes creates the kwok nodes of instances is, with their providerIDs.
func (w *queueWorld) addNodes(ctx context.Context, p *testenv.Plane, is ...int) error {
	for _, i := range is {
		name := w.nodeName(i)
		if _, err := p.NewNode(ctx, name, map[string]string{"eks.amazonaws.com/nodegroup": groupName}); err != nil {
			return err
		}
		patch := []byte(`{"spec":{"providerID":"` + w.instances[i].ProviderID() + `"}}`)
		if _, err := p.Client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("setting the providerID of node %s: %w", name, err)
		}
	}
	return nil
}

// send puts one message on the queue.
func (w *queueWorld) send(ctx context.Context, body string) error {
	if _, err := w.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &w.queueURL, MessageBody: &body}); err != nil {
		return fmt.Errorf("sending a message to the queue: %w", err)
	}
	return nil
}

// watchDeleted prints when the queue is empty: the controller deletes a
// message only once its node carries the notice record. It gives up after
// within.
func (w *queueWorld) watchDeleted(ctx context.Context, p *timeline.Printer, within time.Duration) {
	for end := time.Now().Add(within); time.Now().Before(end) && ctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
		a, err := w.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &w.queueURL,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err == nil && a.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)] == "0" &&
			a.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)] == "0" {
			p.Line(time.Now(), "both messages deleted from the queue (each node carries its notice record)")
			return
		}
	}
}

// startController runs `spot-handler controller` for the queue against the
// plane and moto.
func startController(bin, kubeconfig, queueURL string, moto *testenv.Moto, logPath string) (func(), error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return startChild("controller", bin, []string{"controller", "--queue-url", queueURL, "--cluster-name", clusterName, "--kubeconfig", kubeconfig,
		"--endpoint-url", moto.URL, "--region", testenv.MotoRegion, "--queue-wait", "1s", "--lifecycle-max-drain", "2m",
		"--leader-elect-identity", controller, "--leader-elect-name", leaseName,
		"--metrics-addr", "127.0.0.1:0", "--probe-addr", "127.0.0.1:" + strconv.Itoa(port), "--log-format", "console"},
		append(moto.Env(), "POD_NAMESPACE=kube-system"), logPath)
}

// waitLeader waits until the controller holds its Lease.
func waitLeader(ctx context.Context, p *testenv.Plane, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		l, err := p.Client.CoordinationV1().Leases("kube-system").Get(ctx, leaseName, metav1.GetOptions{})
		if err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == controller {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("the controller did not take its Lease within " + timeout.String())
}

// freePort returns a loopback port free right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// drained is a node to follow and its deadline.
type drained struct {
	node     string
	deadline time.Time
}

// follow follows the nodes' drains at once on labeled timelines timed from
// t0, each until it is empty or its deadline, and returns what each saw.
func follow(ctx context.Context, p *testenv.Plane, out *lines, t0 time.Time, nodes []drained) []timeline.Result {
	res := make([]timeline.Result, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			fctx, cancel := context.WithDeadline(ctx, n.deadline)
			defer cancel()
			res[i], _ = timeline.Follow(fctx, p.Client, n.node, timeline.NewPrinter(out.labeled(n.node), t0))
		})
	}
	wg.Wait()
	return res
}
