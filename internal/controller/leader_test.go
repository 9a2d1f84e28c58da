package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// oneMessage is an SQS queue holding one message, handed to the first
// receive; later receives wait for their context.
type oneMessage struct {
	body string
	sent atomic.Bool
}

func (q *oneMessage) ReceiveMessage(ctx context.Context, _ *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	if !q.sent.Swap(true) {
		return &sqs.ReceiveMessageOutput{Messages: []sqstypes.Message{{MessageId: aws.String("m1"), ReceiptHandle: aws.String("r1"), Body: &q.body}}}, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (*oneMessage) DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return &sqs.DeleteMessageOutput{}, nil
}

func (*oneMessage) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// heldDrain is a drainer whose drains start, say so on started, and then
// ignore their context until hold closes (as a drain's last unclaim may,
// during an API brownout).
type heldDrain struct {
	drain.Interface
	started chan<- struct{}
	hold    <-chan struct{}
}

func (d heldDrain) Drain(ctx context.Context, _ drain.Request) (*drain.Report, error) {
	d.started <- struct{}{}
	<-d.hold
	return nil, ctx.Err()
}

// heldLeader is a controller that leads by a Lease on kube (a fake
// clientset holding the node of instance i-0123abcd), receives one Spot
// warning for that node and whose drain of it reports on started and then
// holds, ignoring its context, until hold is closed.
type heldLeader struct {
	c       *Controller
	logs    *observer.ObservedLogs
	qm      *metrics.Queue
	started chan struct{}
	hold    chan struct{}
}

func newHeldLeader(t *testing.T, kube *fake.Clientset) heldLeader {
	t.Helper()
	if _, err := kube.CoreV1().Nodes().Create(context.Background(), gcNode("0123abcd", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	reg := prometheus.NewRegistry()
	qm := metrics.NewQueue(reg, nil)
	cfg := Config{QueueURL: "https://sqs.example/q", ClusterName: "test", Policy: drain.DefaultPolicy(), Rebalance: interrupt.TaintOnly,
		Maintenance: interrupt.DrainNode, Workers: 1, LeaderElect: true, LeaseNamespace: "kube-system", LeaseName: "l",
		Identity: "me", LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond}
	warning := fmt.Sprintf(`{"version":"0","id":"1","detail-type":"EC2 Spot Instance Interruption Warning","source":"aws.ec2",`+
		`"account":"123456789012","time":%q,"region":"us-east-1","resources":[],"detail":{"instance-id":"i-0123abcd","instance-action":"terminate"}}`,
		time.Now().UTC().Format(time.RFC3339))
	c, err := New(cfg, Deps{Kube: kube, SQS: &oneMessage{body: warning}, Registry: reg, Metrics: metrics.New(reg), Queue: qm,
		Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	h := heldLeader{c: c, logs: logs, qm: qm, started: make(chan struct{}, 1), hold: make(chan struct{})}
	c.actor = heldDrain{Interface: c.actor, started: h.started, hold: h.hold}
	return h
}

// lead runs h's node index and leader election until the test ends (its
// cleanup lets the held drain return, ends both and waits for them). It
// returns their context and release, which lets the held drain return
// (once).
func (h heldLeader) lead(t *testing.T) (context.Context, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	informed, elected := make(chan struct{}), make(chan struct{})
	go func() { h.c.inf.Run(ctx.Done()); close(informed) }()
	if !cache.WaitForCacheSync(ctx.Done(), h.c.inf.HasSynced) {
		cancel()
		t.Fatal("node index never synced")
	}
	go func() { h.c.elect(ctx); close(elected) }()
	var once sync.Once
	release := func() { once.Do(func() { close(h.hold) }) }
	t.Cleanup(func() {
		release()
		cancel()
		<-elected
		<-informed
	})
	return ctx, release
}

// TestLeadershipTermsDoNotOverlap: the only replica drains a node when its
// Lease's renewals start failing; the drain ignores its context for a while
// (as a drain's last unclaim may), so the term winds down slowly, and the
// Lease answers again at once. The replica must not begin a new term until
// the old one has wound down; once it leads again its pool takes drains (the
// ended term did not stop it) and spot_handler_leader is 1. The Lease
// timings are real (client-go keeps its own clock) and short.
func TestLeadershipTermsDoNotOverlap(t *testing.T) {
	kube := fake.NewClientset()
	var brownout atomic.Bool
	refuse := func(k8stesting.Action) (bool, runtime.Object, error) {
		if brownout.Load() {
			return true, nil, errors.New("API brownout")
		}
		return false, nil, nil
	}
	kube.PrependReactor("get", "leases", refuse)
	kube.PrependReactor("update", "leases", refuse)
	h := newHeldLeader(t, kube)
	c, logs, qm, started := h.c, h.logs, h.qm, h.started
	_, release := h.lead(t)
	count := func(msg string) int { return logs.FilterMessage(msg).Len() }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	drainStarted := func(what string) {
		t.Helper()
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s never started", what)
		}
	}
	drainStarted("the Spot warning's drain")

	brownout.Store(true)
	waitFor("the first term loses the Lease", func() bool { return count("leadership ended") == 1 })
	brownout.Store(false)
	// The Lease answers again: a replica that does not wait for its ended
	// term wins it back after one retry period (100ms). Give it 2s.
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && count("leading: receiving messages") < 2; {
		time.Sleep(5 * time.Millisecond)
	}
	if count("leading: receiving messages") > 1 {
		t.Errorf("a second term began while the first was still winding down")
	}
	release()
	waitFor("the first term winds down", func() bool {
		return count("no longer leading: receiving stopped, drains stopped (the next leader resumes them)") == 1
	})
	waitFor("leading again", func() bool { return count("leading: receiving messages") == 2 })
	drainStarted("the drain recorded on the node, resumed,")

	ran := make(chan bool, 1)
	j := testJob("probe", func(ctx context.Context) { ran <- ctx.Err() == nil })
	c.pool.submit(j) // c.pool was set before the line logged
	<-j.done
	if !<-ran {
		t.Error("a drain of the new term was canceled: the ended term stopped the new term's pool")
	}
	if v := testutil.ToFloat64(qm.Leader); v != 1 {
		t.Errorf("spot_handler_leader = %v while this replica leads, want 1", v)
	}
}

// testJob is a pool job for node that runs run.
func testJob(node string, run func(context.Context)) *job {
	ctx, cancel := context.WithCancel(context.Background())
	return &job{node: node, deadline: t0, ctx: ctx, cancel: cancel, run: run, done: make(chan struct{})}
}

// TestShutdownReleasesTheLeaseAfterTheTerm: the leader is told to stop
// (SIGTERM in a rollout) while a drain ignores its context for a while (as a
// drain's last unclaim may). The Lease must stay this replica's until the
// term has wound down, and be released then, so the next leader begins
// only once nothing of this term can act. client-go's own release on
// cancel happens before the term's context ends.
func TestShutdownReleasesTheLeaseAfterTheTerm(t *testing.T) {
	kube := fake.NewClientset()
	h := newHeldLeader(t, kube)
	c, logs, started, hold := h.c, h.logs, h.started, h.hold
	informCtx, stopInform := context.WithCancel(context.Background())
	defer stopInform()
	go c.inf.Run(informCtx.Done())
	if !cache.WaitForCacheSync(informCtx.Done(), c.inf.HasSynced) {
		t.Fatal("node index never synced")
	}
	ctx, shutdown := context.WithCancel(context.Background())
	elected := make(chan struct{})
	go func() { c.elect(ctx); close(elected) }()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the Spot warning's drain never started")
	}
	holder := func() string { return leaseHolder(kube) }
	shutdown()
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if h := holder(); h != "me" {
			close(hold)
			<-elected
			t.Fatalf("the Lease's holder is %q while the term still winds down; want it kept until the term has ended", h)
		}
	}
	close(hold)
	select {
	case <-elected:
	case <-time.After(20 * time.Second):
		t.Fatal("elect did not return after the term wound down")
	}
	if h := holder(); h != "" {
		t.Errorf("the Lease's holder is %q after shutdown; want it released", h)
	}
	if n := logs.FilterMessage("no longer leading: receiving stopped, drains stopped (the next leader resumes them)").Len(); n != 1 {
		t.Errorf("the term wound down %d times, want once", n)
	}
}

// leaseHolder is the holder of the test's Lease kube-system/l ("" if none
// or unreadable).
func leaseHolder(kube *fake.Clientset) string {
	l, err := kube.CoordinationV1().Leases("kube-system").Get(context.Background(), "l", metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}
