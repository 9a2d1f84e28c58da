package e2e

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// TestAgentHungAPIServerDoesNotStallNotices (issue #12, case 6): the fault
// proxy holds every request (never answered) while the agent taints for a
// rebalance recommendation; a Spot notice follows. 30s later the proxy lets
// new requests through (the held ones stay held): the node is cordoned
// within about a second, not after TCP gives up on the held request.
func TestAgentHungAPIServerDoesNotStallNotices(t *testing.T) {
	const name = "e2e-hung-api"
	spotTest(t, name, 3, 1)
	faults := plane.Faults(t)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", time.Now().Add(2*time.Minute).UTC().Format(time.RFC3339), "-d", "12",
		"--rebalance-delay-sec", "6", "-r", time.Now().Add(6*time.Second).UTC().Format(time.RFC3339))
	p := startAgentVia(t, faults.Kubeconfig, name, aemm.URL)
	hang := faults.Add(testenv.Rule{Hang: true})
	hangEnds := time.Now().Add(30 * time.Second)
	waitUntil(t, 20*time.Second, "the Spot notice", func() bool {
		v, _ := p.Metric("spot_handler_notices_total", `kind="SpotInterruption"`)
		return v == 1
	})
	if v, _ := p.Metric("spot_handler_notices_total", `kind="RebalanceRecommendation"`); v != 1 {
		t.Errorf("rebalance notices = %v, want 1 before the Spot notice", v)
	}
	time.Sleep(time.Until(hangEnds))
	if n := node(t, name); n.Spec.Unschedulable || taintCount(n) != 0 {
		t.Fatalf("node cordoned (%v) or tainted (%v) while every request hung: the hang came too late or did not hold", n.Spec.Unschedulable, n.Spec.Taints)
	}
	held := hang.Hits()
	hang.Remove()
	answering := time.Now()
	waitUntil(t, 30*time.Second, "cordon after the API answers again", func() bool { return node(t, name).Spec.Unschedulable })
	took := time.Since(answering)
	t.Logf("cordoned %v after the API answered again (%d requests held)", took.Round(10*time.Millisecond), held)
	if took > 3*time.Second {
		t.Errorf("cordoned %v after the API answered again, want about 1s (a new attempt every second)", took)
	}
	if tn := drainTaint(node(t, name)); tn == nil || tn.Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("taint %+v, want the drain's NoSchedule", tn)
	}
	waitUntil(t, 60*time.Second, "node empty", func() bool { return podsOn(t, name) == 0 })
}
