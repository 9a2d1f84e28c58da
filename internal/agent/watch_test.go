package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// watchingActor drains as the Drainer does with Request.OnEmpty: it reports
// the node empty at once, then watches until ctx ends or late is closed,
// when a pod that reached the node meanwhile has been evicted.
type watchingActor struct {
	*fakeActor
	late chan struct{}
}

func (f *watchingActor) Drain(ctx context.Context, r drain.Request) (*drain.Report, error) {
	f.record("drain " + r.NoticeID)
	now := time.Now()
	rep := &drain.Report{Node: r.Node, Deadline: r.Deadline, Started: now, Cordoned: now, Emptied: now, Finished: now, Empty: true,
		Pods: []drain.PodResult{{Name: "web", Outcome: drain.Evicted}}}
	if r.OnEmpty == nil {
		return rep, nil
	}
	first := *rep
	r.OnEmpty(&first)
	f.held.Add(1)
	defer f.held.Add(-1)
	select {
	case <-ctx.Done():
		f.record("watch stopped")
		rep.Finished = time.Now()
		return rep, nil
	case <-f.late:
	}
	rep.Pods = append(rep.Pods, drain.PodResult{Name: "typha", Outcome: drain.Evicted, Arrived: now.Add(time.Second)})
	rep.Finished = now.Add(time.Minute)
	return rep, nil
}

// TestDrainWatchAfterEmpty (issue 20, item 2): the agent reports a drain's
// end at the node's first empty moment (the machine is Drained at once)
// while the drain watches the node on; pods that land later are counted as
// late; the next node write (an uncordon) and SIGTERM stop the watch
// before anything else happens.
func TestDrainWatchAfterEmpty(t *testing.T) {
	t.Run("late pods are counted and named", func(t *testing.T) {
		actor := &watchingActor{fakeActor: &fakeActor{}, late: make(chan struct{})}
		ta := newTestAgent(t, actor, false)
		ta.apply(context.Background(), fromIMDS(spot("a", 2*time.Minute)))
		ta.settle()
		if ph := ta.machine.Phase(); ph != interrupt.PhaseDrained || ta.work.running() || !actor.holding() {
			t.Fatalf("after the empty moment: phase %s, drain running %v, watching %v; want drained, none running, watching",
				ph, ta.work.running(), actor.holding())
		}
		if got := testutil.ToFloat64(ta.m.Pods.WithLabelValues("evicted")); got != 1 {
			t.Errorf("pods counted at the empty moment: %v, want the plan's 1", got)
		}
		close(actor.late)
		ta.settle()
		if got := testutil.ToFloat64(ta.m.LatePods.WithLabelValues("evicted")); got != 1 {
			t.Errorf("late pods counted: %v, want 1", got)
		}
		if got := testutil.ToFloat64(ta.m.Pods.WithLabelValues("evicted")); got != 2 {
			t.Errorf("pods counted: %v, want 2 (the late one too)", got)
		}
		if ev := events(ta); !strings.Contains(ev, "LatePodsDrained") || !strings.Contains(ev, "1 pods reached the node after it was empty") {
			t.Errorf("Events %q, want LatePodsDrained with the summary", ev)
		}
	})
	t.Run("an uncordon stops the watch first", func(t *testing.T) {
		actor := &watchingActor{fakeActor: &fakeActor{}, late: make(chan struct{})}
		ta := newTestAgent(t, actor, false)
		ta.apply(context.Background(), fromIMDS(maintenance("e1")))
		ta.settle()
		ta.apply(context.Background(), fromIMDS(withdrawn(maintenance("e1"))))
		ta.settle()
		if got := strings.Join(actor.got(), ","); got != "drain e1,watch stopped,uncordon" {
			t.Errorf("calls %q, want the watch stopped before the uncordon", got)
		}
	})
	t.Run("SIGTERM stops the watch", func(t *testing.T) {
		actor := &watchingActor{fakeActor: &fakeActor{}, late: make(chan struct{})}
		ta := newTestAgent(t, actor, false)
		ctx, sigterm := context.WithCancel(context.Background())
		ta.work = newNodeWork(ctx, ta.Agent)
		ta.apply(context.Background(), fromIMDS(spot("a", 2*time.Minute)))
		ta.settle()
		sigterm()
		select {
		case <-ta.busy.Idle():
		case <-time.After(10 * time.Second):
			t.Fatal("the watch outlived SIGTERM")
		}
		if got := strings.Join(actor.got(), ","); got != "drain a,watch stopped" {
			t.Errorf("calls %q", got)
		}
	})
}

// events drains the recorder's Events into one string.
func events(ta *testAgent) string {
	var b strings.Builder
	for {
		select {
		case e := <-ta.rec.Events:
			b.WriteString(e + "\n")
		default:
			return b.String()
		}
	}
}
