package lifecycle_test

import (
	"context"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
)

// BenchmarkLifecycleToComplete: a termination hook's action for a node of
// 30 pods with 30 s grace (kwok's kubelet lets each use all of it), handled
// as the controller does: Start (hook read, action recorded), drain, Complete.
// Reports message → CompleteLifecycleAction received by moto (p50 / max of
// 3 runs), and the heartbeats sent meanwhile (the hook's timeout is 5 s).
func BenchmarkLifecycleToComplete(b *testing.B) {
	const runs = 3
	var took []float64
	beats := 0
	for i := 0; i < b.N; i++ {
		for r := 0; r < runs; r++ {
			w := newWorld(b, 1, 5)
			ctx := context.Background()
			node, a := w.heldNode("app", 30, 30, 2*time.Second)
			m := w.manager(lifecycle.DefaultConfig())
			received := time.Now()
			rec, err := m.Start(ctx, node, a)
			if err != nil {
				b.Fatal(err)
			}
			if rep, err := w.drainer().Drain(ctx, drainRequest(node, a, rec)); err != nil || !rep.Empty {
				b.Fatalf("drain: %v", err)
			}
			if err := m.Complete(ctx, node, lifecycle.Drained); err != nil {
				b.Fatal(err)
			}
			c := w.calls("CompleteLifecycleAction", a.Token)
			if len(c) != 1 || w.action(a.Token).State != "completed" {
				b.Fatalf("completions %+v, action %+v", c, w.action(a.Token))
			}
			took = append(took, c[0].Time.Sub(received).Seconds())
			beats += len(w.calls("RecordLifecycleActionHeartbeat", a.Token))
			_ = w.plane.Client.CoreV1().Namespaces().Delete(ctx, w.ns, metav1.DeleteOptions{})
		}
	}
	sort.Float64s(took)
	b.ReportMetric(took[len(took)/2], "complete_p50_s")
	b.ReportMetric(took[len(took)-1], "complete_max_s")
	b.ReportMetric(float64(beats)/float64(len(took)), "heartbeats_per_action")
}

// BenchmarkHeartbeatGapAfterFailover: the leader holding an action (9 s
// heartbeat timeout, 3 s interval) dies 4 s in; a new leader takes over
// after a 5 s lease duration from the node's record. Reports the longest
// gap between heartbeats and whether the action survived (moto times it
// out otherwise).
func BenchmarkHeartbeatGapAfterFailover(b *testing.B) {
	const lease = 5 * time.Second
	var gap time.Duration
	survived := 1.0
	for i := 0; i < b.N; i++ {
		w := newWorld(b, 1, 9)
		ctx := context.Background()
		node := w.node(0)
		a := w.begin(0, "drain", lifecycle.Terminating)
		leaderCtx, die := context.WithCancel(ctx)
		if _, err := w.manager(lifecycle.DefaultConfig()).Start(leaderCtx, node, a); err != nil {
			b.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		die()
		time.Sleep(lease)
		next := w.manager(lifecycle.DefaultConfig())
		n, err := w.plane.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := next.Resume(ctx, n); err != nil {
			b.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		if err := next.Complete(ctx, node, lifecycle.Drained); err != nil {
			b.Fatal(err)
		}
		at := callTimes(w.calls("RecordLifecycleActionHeartbeat", a.Token))
		gap = max(gap, maxGap(a.EventTime, at))
		if st := w.action(a.Token); st.State != "completed" || st.Result != "CONTINUE" {
			survived = 0
		}
	}
	b.ReportMetric(gap.Seconds(), "max_gap_s")
	b.ReportMetric(3, "interval_s")
	b.ReportMetric(lease.Seconds(), "lease_s")
	b.ReportMetric(survived, "held_through_failover")
}
