package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/spot-handler/spot-handler/internal/agent"
	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// recordedNotice is the notice annotation on the node, or nil.
func recordedNotice(t *testing.T, n *corev1.Node) *drain.NodeNotice {
	t.Helper()
	s, ok := n.Annotations[drain.NoticeAnnotation]
	if !ok {
		return nil
	}
	var nn drain.NodeNotice
	if err := json.Unmarshal([]byte(s), &nn); err != nil {
		t.Fatalf("notice annotation %q: %v", s, err)
	}
	return &nn
}

// drainTaint is the node's spot-handler taint, or nil.
func drainTaint(n *corev1.Node) *corev1.Taint {
	for i := range n.Spec.Taints {
		if n.Spec.Taints[i].Key == drain.TaintKey {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

// TestAgentDryRunIsNoFailure (issue #12, case 1): a dry run of a Spot
// notice plans the drain and leaves the missed-deadline counter at 0, the
// node and its pods untouched, no Event written and no webhook posted.
func TestAgentDryRunIsNoFailure(t *testing.T) {
	const name = "e2e-dry-nofail"
	spotTest(t, name, 3, 1)
	var hooks atomic.Int32
	hook := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hooks.Add(1) }))
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", time.Now().Add(time.Minute).UTC().Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	a := startAgent(t, name, aemm.URL, "--dry-run", "--webhook-url", hook)
	waitUntil(t, 20*time.Second, "dry-run plan", func() bool { return strings.Count(a.logs(), "dry-run: would evict pod") == 3 })
	time.Sleep(2 * time.Second) // Events and webhooks are sent in the background: give them time to show
	if v := a.metric(t, "spot_handler_drain_missed_deadline_total"); v != 0 {
		t.Errorf("missed-deadline counter = %v after a dry run, want 0", v)
	}
	if strings.Contains(a.logs(), "could not even be cordoned") {
		t.Error("the dry run logged a failed drain")
	}
	n := node(t, name)
	if n.Spec.Unschedulable || taintCount(n) != 0 || n.Annotations[drain.NoticeAnnotation] != "" || podsOn(t, name) != 3 {
		t.Errorf("dry run changed the node or its pods: %+v, %d pods", n.Spec, podsOn(t, name))
	}
	for _, e := range eventsFor(t, "default", "Node", name) {
		if e.Source.Component == "spot-handler" {
			t.Errorf("dry run wrote an Event: %s: %s", e.Reason, e.Message)
		}
	}
	if hooks.Load() != 0 {
		t.Errorf("dry run posted %d webhooks", hooks.Load())
	}
}

// TestRehearseTwiceUndoThenRealNotice (issue #12, case 3): rehearse twice,
// then --undo: the node is uncordoned; a real AEMM Spot notice afterwards
// drains it.
func TestRehearseTwiceUndoThenRealNotice(t *testing.T) {
	const name = "e2e-rehearse-twice"
	spotTest(t, name, 3, 1)
	quiet := quietAEMM(t)
	real := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", time.Now().Add(3*time.Minute).UTC().Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	proxy, url := newSwitchingProxy(t, quiet.URL, real.URL)
	a := startAgent(t, name, url, "--allow-rehearsal")
	if out, code := run(binary, "rehearse", "--node", name, "--kubeconfig", plane.Kubeconfig, "--in", "45s"); code != 0 {
		t.Fatalf("first rehearse: exit %d\n%s", code, out)
	}
	out, _ := run(binary, "rehearse", "--node", name, "--kubeconfig", plane.Kubeconfig, "--in", "60s", "--timeout", "5s")
	t.Logf("second rehearse:\n%s", out)
	if out, code := run(binary, "rehearse", "--node", name, "--kubeconfig", plane.Kubeconfig, "--undo"); code != 0 {
		t.Fatalf("undo: exit %d: %s", code, out)
	}
	waitUntil(t, 15*time.Second, "uncordon after undo", func() bool {
		n := node(t, name)
		return !n.Spec.Unschedulable && taintCount(n) == 0 && n.Annotations[drain.NoticeAnnotation] == ""
	})
	waitUntil(t, 60*time.Second, "pods back on the node", func() bool { return podsOn(t, name) == 3 })
	proxy.cur.Store(1)
	waitUntil(t, 60*time.Second, "real notice drained", func() bool {
		n := node(t, name)
		rec := recordedNotice(t, n)
		return n.Spec.Unschedulable && podsOn(t, name) == 0 && rec != nil && !strings.HasPrefix(rec.ID, "rehearsal-")
	})
	if n := node(t, name); n.Annotations[agent.RehearsalAnnotation] != "" {
		t.Errorf("rehearsal annotation still set: %q", n.Annotations[agent.RehearsalAnnotation])
	}
	if v := a.metric(t, "spot_handler_notices_total", `kind="SpotInterruption"`); v != 2 {
		t.Errorf("Spot notices counted = %v, want 2 (one rehearsal, one real)", v)
	}
}

// TestAgentRebalanceAfterSpotKeepsDrainMarks (issue #12, case 4): AWS may
// send the rebalance recommendation after the interruption notice; the
// taint effect and the notice annotation stay the drain's.
func TestAgentRebalanceAfterSpotKeepsDrainMarks(t *testing.T) {
	const name = "e2e-rebalance-after"
	spotTest(t, name, 3, 1)
	deadline := time.Now().Add(90 * time.Second).UTC().Truncate(time.Second)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", deadline.Format(time.RFC3339), "-d", "1",
		"--rebalance-delay-sec", "8", "-r", time.Now().Add(8*time.Second).UTC().Format(time.RFC3339))
	a := startAgent(t, name, aemm.URL)
	waitUntil(t, 30*time.Second, "node drained", func() bool { return node(t, name).Spec.Unschedulable && podsOn(t, name) == 0 })
	waitUntil(t, 30*time.Second, "rebalance seen", func() bool {
		return a.metric(t, "spot_handler_notices_total", `kind="RebalanceRecommendation"`) == 1
	})
	time.Sleep(2 * time.Second) // a taint write, if any, would land now
	n := node(t, name)
	tn := drainTaint(n)
	if tn == nil || tn.Effect != corev1.TaintEffectNoSchedule || tn.Value != "SpotInterruption" {
		t.Errorf("taint %+v, want the drain's SpotInterruption:NoSchedule", tn)
	}
	if rec := recordedNotice(t, n); rec == nil || rec.Kind != "SpotInterruption" || rec.TaintOnly {
		t.Errorf("notice annotation %+v, want the Spot notice", rec)
	}
	if !n.Spec.Unschedulable {
		t.Error("node uncordoned")
	}
}
