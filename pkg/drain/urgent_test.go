package drain

import (
	"context"
	"testing"
	"time"
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
