package controller

import (
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
)

// TestLifecycleLeaderKilledMidDrain: the leader holding a termination
// action (9 s heartbeat timeout, a heartbeat every 3 s) is killed (SIGKILL:
// no lease release) while the node's pods take ~15 s to go. The other
// replica, which knows the action only from the node's record, takes the
// 4 s lease, resumes the heartbeats and the drain, and completes CONTINUE
// once the node is empty; the action never times out, and no gap between
// heartbeats is longer than one interval beyond the lease duration.
func TestLifecycleLeaderKilledMidDrain(t *testing.T) {
	const lease, interval = 4 * time.Second, 3 * time.Second
	e := newEnv(t, 30)
	g := e.newGroup(1, 9)
	node := g.node(0, 3, 30, 15*time.Second)
	flags := append([]string{"--leader-elect-name", e.lease}, leaseFlags...)
	a := startController(t, "replica-a", e.queueURL, "", flags...)
	waitUntil(t, 30*time.Second, "replica-a leads", func() bool { return a.metric("spot_handler_leader") == 1 })
	b := startController(t, "replica-b", e.queueURL, "", flags...)
	body, token := g.begin(0, "drain", lifecycle.Terminating)
	began := time.Now()
	e.send(body)
	waitUntil(t, 30*time.Second, "action recorded, node cordoned, message deleted", func() bool {
		rec, err := lifecycle.ReadRecord(e.node(node))
		return err == nil && rec != nil && rec.Token == token && cordoned(e.node(node)) && e.inQueue() == 0
	})
	time.Sleep(3 * time.Second)
	if e.podsOn(node) == 0 {
		t.Fatal("the node emptied before the leader could be killed mid-drain; make its pods slower")
	}
	a.kill()
	killedAt := time.Now()
	waitUntil(t, 90*time.Second, "the action no longer pending", func() bool { return g.action(token).State != "pending" })
	if st := g.action(token); st.State != "completed" || st.Result != "CONTINUE" {
		t.Fatalf("moto's action: %s %s, want completed CONTINUE (timed_out: the hold lapsed in the failover)", st.State, st.Result)
	}
	if e.podsOn(node) != 0 {
		t.Error("completed with pods left on the node")
	}
	var beats []time.Time
	for _, h := range g.calls("RecordLifecycleActionHeartbeat", token) {
		beats = append(beats, h.Time)
	}
	gap, from := time.Duration(0), began
	for _, at := range beats {
		gap, from = max(gap, at.Sub(from)), at
	}
	t.Logf("leader killed %v after the message was sent; %d heartbeats, longest gap %v (interval %v, lease %v)",
		killedAt.Sub(began).Round(time.Millisecond), len(beats), gap.Round(time.Millisecond), interval, lease)
	if gap > interval+lease+time.Second {
		t.Errorf("longest gap between heartbeats %v: more than one interval (%v) beyond the lease duration (%v)", gap, interval, lease)
	}
	wantOne(t, b, "spot_handler_lifecycle_completions_total", `reason="drained"`, `outcome="ok"`)
}
