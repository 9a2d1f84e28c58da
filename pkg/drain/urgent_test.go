package drain

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// TestUrgentDrainTakesTheClaimFromAFarOne (mode both): the controller
// drains a node for a notice two weeks out (an AWS Health scheduled change)
// and holds the node's claim; a pod under a PodDisruptionBudget that allows
// no disruption keeps that drain waiting, as it may for days. Then the
// instance gets a Spot interruption and the agent drains for a deadline
// 30 s out. The agent's drain must take the claim (its deadline is the
// earlier) and empty the node before deadline − margin, deleting the
// guarded pods at its own cut-off; before the fix it only watched, since
// the claim was live, and the guarded pods died with the instance.
func TestUrgentDrainTakesTheClaimFromAFarOne(t *testing.T) {
	const node = "drain-urgent-claim"
	p, ns := nodeTest(t, node, workload{name: "guarded", replicas: 2, grace: 3}, workload{name: "free", replicas: 2, grace: 1})
	pdbFor(t, p, ns, "guarded", 0)
	controller := newDrainer(t, p, func(pol *Policy) { pol.SelfNamespace, pol.SelfName = "kube-system", "spot-handler-controller-0" })
	agent := newDrainer(t, p, func(pol *Policy) {
		pol.SelfNamespace, pol.SelfName = "kube-system", "spot-handler-agent-x"
		pol.Margin = 10 * time.Second
	})
	far, stop := context.WithCancel(context.Background())
	farDone := make(chan struct{})
	go func() {
		defer close(farDone)
		_, _ = controller.Drain(far, Request{Node: node, Kind: "ScheduledChange", NoticeID: "queue/ScheduledChange/i-1",
			Source: SourceQueue, Deadline: time.Now().Add(14 * 24 * time.Hour)})
	}()
	t.Cleanup(func() { stop(); <-farDone })
	waitFor(t, 30*time.Second, "the far drain to hold the claim and evict the free pods", func() bool {
		c, ok := parseClaim(getNode(t, p, node).Annotations[ClaimAnnotation])
		return ok && c.holder == controller.holder && len(podsOn(t, p, node)) == 2
	})
	req := Request{Node: node, Kind: "SpotInterruption", NoticeID: "spot-1", Source: SourceIMDS, Deadline: time.Now().Add(30 * time.Second)}
	if err := agent.Cordon(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	rep, err := agent.Drain(context.Background(), req)
	if err != nil {
		t.Fatalf("the urgent drain: %v\n%s", err, rep.Summary())
	}
	t.Log(rep.Summary())
	checkEmptyInTime(t, p, rep, node)
}

// waitFor polls cond every 100 ms until it holds, or fails the test after
// timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(timeout); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// TestPreemptedDrainOnlyWatches: once the urgent drain has taken the claim,
// the far drain whose claim it was must only watch: a pod that reaches the
// node afterwards is evicted by the claim holder alone, and the far drain's
// report shows no request of its own for it. Before the fix a drain that
// had once held the claim went on as its owner for good, so both drains
// evicted the late pod and both reported it.
func TestPreemptedDrainOnlyWatches(t *testing.T) {
	const node = "drain-preempted-watches"
	p, ns := nodeTest(t, node, workload{name: "guarded", replicas: 1, grace: 1}, workload{name: "free", replicas: 1, grace: 1})
	pdbFor(t, p, ns, "guarded", 0)
	core, logs := observer.New(zap.InfoLevel)
	pol := DefaultPolicy()
	pol.SelfNamespace, pol.SelfName = "kube-system", "spot-handler-controller-0"
	controller, err := New(p.Client, pol, nil, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	agent := newDrainer(t, p, func(pol *Policy) {
		pol.SelfNamespace, pol.SelfName = "kube-system", "spot-handler-agent-x"
		pol.Margin = 10 * time.Second
	})
	ctx := context.Background()
	far, stop := context.WithCancel(ctx)
	farRep := make(chan *Report, 1)
	go func() {
		rep, _ := controller.Drain(far, Request{Node: node, Kind: "ScheduledChange", NoticeID: "queue/ScheduledChange/i-2",
			Source: SourceQueue, Deadline: time.Now().Add(14 * 24 * time.Hour)})
		farRep <- rep
	}()
	defer stop()
	waitFor(t, 30*time.Second, "the far drain to hold the claim and evict the free pod", func() bool {
		c, ok := parseClaim(getNode(t, p, node).Annotations[ClaimAnnotation])
		return ok && c.holder == controller.holder && len(podsOn(t, p, node)) == 1
	})
	urgentRep := make(chan *Report, 1)
	go func() {
		rep, _ := agent.Drain(ctx, Request{Node: node, Kind: "SpotInterruption", NoticeID: "spot-2", Source: SourceIMDS, Deadline: time.Now().Add(50 * time.Second)})
		urgentRep <- rep
	}()
	waitFor(t, 2*claimTTL, "the far drain to see its claim taken and only watch", func() bool {
		return logs.FilterMessage("a drain with an earlier deadline took this node's claim; watching the pods go").Len() > 0
	})
	late := runningPodOn(node, ns, "late")
	if _, err := p.Client.CoreV1().Pods(ns).Create(ctx, late, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	u := <-urgentRep
	t.Log(u.Summary())
	checkEmptyInTime(t, p, u, node)
	stop()
	for _, r := range (<-farRep).Pods {
		if r.Name == "late" && r.Attempts > 0 {
			t.Errorf("the far drain, whose claim was taken, sent %d requests for the late pod (%s: %s)", r.Attempts, r.Outcome, r.Reason)
		}
	}
}

// runningPodOn is a bare pod bound to node with 1 s of grace.
func runningPodOn(node, ns, name string) *corev1.Pod {
	tpl := testenv.PodTemplate(map[string]string{"late": "yes"}, nil, 1, 0)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: tpl.Labels, Annotations: tpl.Annotations}, Spec: tpl.Spec}
	pod.Spec.NodeName = node
	return pod
}
