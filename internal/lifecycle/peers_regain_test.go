package lifecycle_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
)

// TestLeadershipLostAndRegainedKeepsTheHold: one process (one Manager, one
// Drainer) holds a termination action (6 s heartbeat timeout, 2 s
// interval) and loses its leadership twice during a ~12 s drain, winning it
// back 3 s later each time (a lease duration without a leader). Each new
// leadership resumes from the node's record; moto's action never times out,
// no gap between heartbeats (and the completion) exceeds one interval beyond the lease duration,
// and the last leadership completes it with CONTINUE.
func TestLeadershipLostAndRegainedKeepsTheHold(t *testing.T) {
	const lease, interval, losses = 3 * time.Second, 2 * time.Second, 2
	w := newWorld(t, 1, 6)
	ctx := context.Background()
	node, a := w.heldNode("slow", 3, 20, 12*time.Second)
	m, d := w.manager(lifecycle.DefaultConfig()), w.drainer()
	var err error
	var rec lifecycle.Record
	for i := range losses {
		leadership, lose := context.WithCancel(ctx)
		if i > 0 {
			n, err := w.plane.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := m.Resume(leadership, n); err != nil || got == nil || got.Token != a.Token {
				t.Fatalf("leadership %d: Resume = %+v, %v; want the recorded action", i+1, got, err)
			}
		} else if rec, err = m.Start(leadership, node, a); err != nil {
			t.Fatal(err)
		}
		drained := make(chan struct{})
		go func() { defer close(drained); _, _ = d.Drain(leadership, drainRequest(node, a, rec)) }()
		time.Sleep(3 * time.Second)
		lose()
		<-drained
		time.Sleep(lease)
	}
	n, err := w.plane.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last, end := context.WithCancel(ctx)
	defer end()
	if got, err := m.Resume(last, n); err != nil || got == nil || !got.Deadline.Equal(rec.Deadline) {
		t.Fatalf("last leadership: Resume = %+v, %v; want the first record", got, err)
	}
	if rep, err := d.Drain(ctx, drainRequest(node, a, rec)); err != nil || !rep.Empty || !rep.Resumed {
		t.Fatalf("last drain: %v, empty=%v resumed=%v (want empty and resumed)", err, rep != nil && rep.Empty, rep != nil && rep.Resumed)
	}
	if err := m.Complete(ctx, node, lifecycle.Drained); err != nil {
		t.Fatal(err)
	}
	w.checkCompleted(a.Token, "CONTINUE", " (timed_out: heartbeats stopped with the first leadership)")
	// The hold lasts from the event through the heartbeats to the completion.
	beats := append(callTimes(w.calls("RecordLifecycleActionHeartbeat", a.Token)), callTimes(w.calls("CompleteLifecycleAction", a.Token))...)
	gap := maxGap(a.EventTime, beats)
	t.Logf("%d leaderships lost; %d heartbeats, longest gap %v (interval %v, lease %v)", losses, len(beats), gap.Round(time.Millisecond), interval, lease)
	if gap > interval+lease+time.Second {
		t.Errorf("longest gap between heartbeats %v: more than one interval (%v) beyond the lease duration (%v)", gap, interval, lease)
	}
}
