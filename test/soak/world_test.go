package soak

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// options say what one soak runs.
type options struct {
	seed    uint64
	waves   int           // waves to run (0: until minutes)
	minutes time.Duration // run waves until this much time has passed
	nodes   int           // nodes a wave
	only    *[2]int       // replay only this wave:node
	limits  Limits
	extra   []string // flags for every handler (--cordon-only for the control)
	margin  time.Duration
	name    string // names the soak's queue, Lease and nodes
}

// world is what a soak keeps for its whole run: the queue, the two
// controller replicas with their fault proxies, the stable nodes, the
// observer, and the figures gathered so far.
type world struct {
	t        testing.TB
	ctx      context.Context
	opt      options
	sqs      *sqs.Client
	asg      *autoscaling.Client
	queueURL string
	lease    string
	ctrls    []*replica
	stable   []string
	obs      *observer
	res      *results
	foreign  []foreignToken // other clusters' actions sent so far: checked again at the end
}

// foreignToken is another cluster's lifecycle action the soak sent.
type foreignToken struct {
	wave  int
	token string
}

// replica is one controller replica and the fault proxy in front of its
// API connection.
type replica struct {
	*proc
	name  string
	proxy *testenv.Faults
}

// newWorld makes the soak's queue, stable nodes and controllers.
func newWorld(t testing.TB, opt options) *world {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Config()
	w := &world{t: t, ctx: ctx, opt: opt, sqs: sqs.NewFromConfig(cfg), asg: autoscaling.NewFromConfig(cfg),
		lease: "soak-" + opt.name, res: newResults()}
	q, err := w.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("soak-" + opt.name),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNameVisibilityTimeout): "30",
			string(sqstypes.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(4 * 24 * 3600)}})
	if err != nil {
		t.Fatalf("creating the soak's queue in moto: %v", err)
	}
	w.queueURL = aws.ToString(q.QueueUrl)
	if err := ensurePriorityClasses(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		name := fmt.Sprintf("%s-stable-%d", opt.name, i)
		if _, err := plane.NewNode(ctx, name, map[string]string{"soak.spot-handler.io/stable": "true"}); err != nil {
			t.Fatal(err)
		}
		w.stable = append(w.stable, name)
	}
	t.Cleanup(func() {
		for _, s := range w.stable {
			_ = plane.Client.CoreV1().Nodes().Delete(context.Background(), s, metav1.DeleteOptions{})
		}
	})
	w.obs = observe()
	t.Cleanup(w.obs.close)
	for _, name := range []string{"c1", "c2"} {
		w.ctrls = append(w.ctrls, w.startReplica(name))
	}
	return w
}

// startReplica runs a controller replica behind a fault proxy of its own.
func (w *world) startReplica(name string) *replica {
	w.t.Helper()
	proxy := plane.Faults(w.t)
	args := []string{"--queue-url", w.queueURL, "--kubeconfig", proxy.Kubeconfig, "--endpoint-url", moto.URL,
		"--region", testenv.MotoRegion, "--leader-elect-identity", name, "--leader-elect-name", w.lease,
		"--queue-wait", "1s", "--cluster-name", w.cluster(), "--lifecycle-max-drain", lifecycleMaxDrain.String(), "--drain-margin", w.opt.margin.String()}
	args = append(args, w.opt.extra...)
	env := []string{"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_EC2_METADATA_DISABLED=true", "POD_NAMESPACE=kube-system"}
	p, err := startProc("controller "+name, func() (*testenv.Child, error) {
		c, err := testenv.StartChild("the controller", binary, "controller", args, env)
		if err != nil {
			return nil, err
		}
		return c, c.WaitReady("controller "+name, 60*time.Second, 50*time.Millisecond)
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(p.stop)
	return &replica{proc: p, name: name, proxy: proxy}
}

// leader is the replica that leads now (nil if none says so).
func (w *world) leader() *replica {
	for _, r := range w.ctrls {
		if v, err := r.current().Metric("spot_handler_leader"); err == nil && v == 1 {
			return r
		}
	}
	return nil
}

// addControllerRule puts a rule on every replica's proxy (whichever leads
// meets it) and returns a function that releases them all.
func (w *world) addControllerRule(r testenv.Rule) func() {
	var fl []*testenv.Fault
	for _, c := range w.ctrls {
		fl = append(fl, c.proxy.Add(r))
	}
	return func() {
		for _, f := range fl {
			f.Release()
		}
	}
}

// replay is the make line that runs what opt runs.
func (o options) replay() string {
	if o.only != nil {
		return fmt.Sprintf("make soak SEED=%d ONLY=%d:%d", o.seed, o.only[0], o.only[1])
	}
	return fmt.Sprintf("make soak SEED=%d WAVES=%d NODES=%d", o.seed, o.waves, o.nodes)
}

// cluster is the soak's cluster name: its controllers' --cluster-name and
// the kubernetes.io/cluster/<name> tag on its scenarios' groups (the
// foreign group carries another cluster's).
func (w *world) cluster() string { return "soak-" + w.opt.name }
