package controller

import (
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/testenv"
)

// TestLifecycleLeadershipLostAndRegained: the only replica holds a
// termination action (12 s heartbeat timeout, a heartbeat every 4 s) while
// its node's pods take ~25 s to go. Its Lease requests then hang at the
// fault proxy until it steps down, and go through again 2 s later: the same
// process leads again, with the lifecycle Manager it had. It must resume
// the heartbeats from the node's record (the hold of its ended leadership
// is no hold), resume the drain and complete CONTINUE; the action never
// times out.
func TestLifecycleLeadershipLostAndRegained(t *testing.T) {
	e := newEnv(t, 30)
	g := e.newGroup(1, 12)
	node := g.node(0, 3, 40, 25*time.Second)
	faults := plane.Faults(t)
	c := startController(t, "c1", e.queueURL, faults.Kubeconfig, append([]string{"--leader-elect-name", e.lease}, leaseFlags...)...)
	waitUntil(t, 30*time.Second, "the controller leads", func() bool { return c.metric("spot_handler_leader") == 1 })
	body, token := g.begin(0, "drain", lifecycle.Terminating)
	began := time.Now()
	e.send(body)
	waitUntil(t, 30*time.Second, "action recorded and its first heartbeat sent", func() bool {
		rec, err := lifecycle.ReadRecord(e.node(node))
		return err == nil && rec != nil && rec.Token == token && len(g.calls("RecordLifecycleActionHeartbeat", token)) > 0
	})
	hung := faults.Add(testenv.Rule{Match: testenv.Match{Path: "^/apis/coordination.k8s.io/v1/namespaces/[^/]+/leases/" + e.lease + "$"}, Hang: true})
	waitUntil(t, 30*time.Second, "leadership ended", func() bool { return strings.Contains(c.logs(), "leadership ended") })
	lost := time.Now()
	time.Sleep(2 * time.Second)
	hung.Release()
	waitUntil(t, 30*time.Second, "leading again", func() bool { return strings.Count(c.logs(), "became the leader") >= 2 })
	if e.podsOn(node) == 0 {
		t.Fatal("the node emptied before the leadership came back; make its pods slower")
	}
	waitUntil(t, 90*time.Second, "the action no longer pending", func() bool { return g.action(token).State != "pending" })
	if st := g.action(token); st.State != "completed" || st.Result != "CONTINUE" {
		t.Fatalf("moto's action: %s %s, want completed CONTINUE (timed_out: the heartbeats did not come back with the leadership)", st.State, st.Result)
	}
	if e.podsOn(node) != 0 {
		t.Error("completed with pods left on the node")
	}
	gap, from := time.Duration(0), began
	for _, h := range g.calls("RecordLifecycleActionHeartbeat", token) {
		gap, from = max(gap, h.Time.Sub(from)), h.Time
	}
	t.Logf("leadership lost %v after the message, back 2 s later; longest gap between heartbeats %v (hook timeout 12s)",
		lost.Sub(began).Round(time.Millisecond), gap.Round(time.Millisecond))
}
