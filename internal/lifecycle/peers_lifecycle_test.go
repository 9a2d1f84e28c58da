package lifecycle_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/queue"
)

// drainRequest is the drain the controller starts for a lifecycle action.
func drainRequest(node string, a lifecycle.Action, rec lifecycle.Record) drain.Request {
	return drain.Request{Node: node, Kind: string(queue.LifecycleAction), Action: a.Transition,
		NoticeID: queue.IDPrefix + string(queue.LifecycleAction) + "/" + a.InstanceID, Deadline: rec.Deadline}
}

// podsOn counts the pods bound to node that are not yet gone.
func podsOn(t *testing.T, w *world, node string) int {
	t.Helper()
	pods, err := w.plane.Client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		t.Fatal(err)
	}
	return len(pods.Items)
}

// maxGap is the longest time between from and the first heartbeat and
// between heartbeats.
func maxGap(from time.Time, beats []time.Time) time.Duration {
	var gap time.Duration
	for _, b := range beats {
		gap = max(gap, b.Sub(from))
		from = b
	}
	return gap
}

// TestTerminateHookDrainedThenCompleted: a termination hook with a 4 s
// heartbeat timeout holds an instance whose node takes ~7 s to drain. The
// action is recorded on the node, heartbeats keep it pending through the
// drain (moto times it out otherwise), and CONTINUE comes once the node is
// empty; the record is then gone.
func TestTerminateHookDrainedThenCompleted(t *testing.T) {
	w := newWorld(t, 1, 4)
	ctx := context.Background()
	node, a := w.heldNode("slow", 3, 10, 7*time.Second)
	m := w.manager(lifecycle.DefaultConfig())
	rec, err := m.Start(ctx, node, a)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := w.plane.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if got, err := lifecycle.ReadRecord(n); err != nil || got == nil || got.Token != a.Token || got.HeartbeatTimeout != 4 {
		t.Fatalf("record on the node: %+v, %v; want token %s and the hook's 4s timeout", got, err, a.Token)
	}
	report, err := w.drainer().Drain(ctx, drainRequest(node, a, rec))
	if err != nil {
		t.Fatalf("drain: %v\n%+v", err, report)
	}
	emptyAt := time.Now()
	if left := podsOn(t, w, node); left != 0 {
		t.Fatalf("%d pods left after the drain", left)
	}
	if err := m.Complete(ctx, node, lifecycle.Drained); err != nil {
		t.Fatal(err)
	}

	w.checkCompleted(a.Token, "CONTINUE", " (timed_out means the heartbeats lapsed)")
	var beats []time.Time
	for _, c := range w.calls("RecordLifecycleActionHeartbeat", a.Token) {
		if c.Error != "" {
			t.Errorf("heartbeat refused: %s", c.Error)
		}
		beats = append(beats, c.Time)
	}
	gap := maxGap(a.EventTime, beats)
	t.Logf("drain took %v; %d heartbeats, longest gap %v (interval %v, hook timeout 4s)", emptyAt.Sub(a.EventTime).Round(time.Millisecond),
		len(beats), gap.Round(time.Millisecond), 4*time.Second/3)
	if len(beats) < 3 || gap >= 4*time.Second {
		t.Errorf("%d heartbeats, longest gap %v: want several, each within the 4s timeout", len(beats), gap)
	}
	completes := w.calls("CompleteLifecycleAction", a.Token)
	if len(completes) != 1 || completes[0].Time.Before(emptyAt) || completes[0].Result != "CONTINUE" {
		t.Errorf("completions %+v: want one CONTINUE after the node was empty at %v", completes, emptyAt)
	}
	n, _ = w.plane.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if _, ok := n.Annotations[lifecycle.ActionAnnotation]; ok {
		t.Errorf("record left on the node after completion")
	}
}

// TestLeaderFailoverKeepsTheHold: the leader holding a termination action
// (6 s heartbeat timeout, 2 s interval) dies 3 s into a ~12 s drain; after a
// 3 s lease duration a new leader, which knows the action only from the
// node's record, resumes the heartbeats and the drain and completes. The
// action never times out and no gap between heartbeats exceeds one interval
// beyond the lease duration.
func TestLeaderFailoverKeepsTheHold(t *testing.T) {
	const lease, interval = 3 * time.Second, 2 * time.Second
	w := newWorld(t, 1, 6)
	ctx := context.Background()
	node, a := w.heldNode("slow", 3, 20, 12*time.Second)
	first := w.manager(lifecycle.DefaultConfig())
	leaderCtx, die := context.WithCancel(ctx)
	rec, err := first.Start(leaderCtx, node, a)
	if err != nil {
		t.Fatal(err)
	}
	drained := make(chan error, 1)
	go func() { _, err := w.drainer().Drain(leaderCtx, drainRequest(node, a, rec)); drained <- err }()
	time.Sleep(3 * time.Second)
	die()
	diedAt := time.Now()
	<-drained
	time.Sleep(lease)

	next := w.manager(lifecycle.DefaultConfig())
	n, err := w.plane.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := next.Resume(ctx, n)
	if err != nil || resumed == nil || resumed.Token != a.Token || !resumed.Deadline.Equal(rec.Deadline) {
		t.Fatalf("Resume: %+v, %v; want the first leader's record", resumed, err)
	}
	if report, err := w.drainer().Drain(ctx, drainRequest(node, a, *resumed)); err != nil {
		t.Fatalf("resumed drain: %v\n%+v", err, report)
	}
	if err := next.Complete(ctx, node, lifecycle.Drained); err != nil {
		t.Fatal(err)
	}
	w.checkCompleted(a.Token, "CONTINUE", " (timed_out: the hold lapsed in the failover)")
	beats := callTimes(w.calls("RecordLifecycleActionHeartbeat", a.Token))
	gap := maxGap(a.EventTime, beats)
	t.Logf("leader died %v after the event; %d heartbeats, longest gap %v (interval %v, lease %v)",
		diedAt.Sub(a.EventTime).Round(time.Millisecond), len(beats), gap.Round(time.Millisecond), interval, lease)
	if gap > interval+lease+time.Second {
		t.Errorf("longest gap between heartbeats %v: more than one interval (%v) beyond the lease duration (%v)", gap, interval, lease)
	}
}

// TestUnknownInstanceCompletedAtOnce: a termination action for an instance
// that is no node of the cluster is completed with CONTINUE at once.
func TestUnknownInstanceCompletedAtOnce(t *testing.T) {
	w := newWorld(t, 1, 3600)
	a := w.begin(0, "drain", lifecycle.Terminating)
	if err := w.manager(lifecycle.DefaultConfig()).CompleteUnknown(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	w.checkCompleted(a.Token, "CONTINUE", "")
	if c := w.calls("CompleteLifecycleAction", a.Token); len(c) != 1 {
		t.Errorf("%d completions, want 1", len(c))
	}
}

// TestLaunchHook: a launch action is completed with CONTINUE once a node
// with the instance's providerID is Ready, and with ABANDON when no node
// comes within --launch-timeout.
func TestLaunchHook(t *testing.T) {
	w := newWorld(t, 2, 3600)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := lifecycle.DefaultConfig()
	cfg.LaunchTimeout = 4 * time.Second
	m := w.manager(cfg)
	find := w.finder(ctx)

	joins := w.begin(0, launchHook, lifecycle.Launching)
	done := make(chan lifecycle.Result, 1)
	go func() {
		r, err := m.Launch(ctx, joins, find)
		if err != nil {
			t.Errorf("Launch: %v", err)
		}
		done <- r
	}()
	w.node(0) // Ready, then given its providerID
	if r := <-done; r != lifecycle.Continue {
		t.Errorf("launch with a Ready node: %s, want CONTINUE", r)
	}
	w.checkCompleted(joins.Token, "CONTINUE", "")

	never := w.begin(1, launchHook, lifecycle.Launching)
	start := time.Now()
	r, err := m.Launch(ctx, never, find)
	if err != nil || r != lifecycle.Abandon {
		t.Fatalf("launch without a node: %s, %v; want ABANDON", r, err)
	}
	t.Logf("abandoned after %v (--launch-timeout 4s from the event)", time.Since(start).Round(time.Millisecond))
	w.checkCompleted(never.Token, "ABANDON", "")
}
