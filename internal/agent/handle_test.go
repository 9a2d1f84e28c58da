package agent

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// fakeActor records what the agent asks of the node. It is a pure unit
// stand-in: the real drain is tested on the real plane (pkg/drain, test/e2e).
type fakeActor struct {
	mu     sync.Mutex
	calls  []string
	hold   chan struct{} // Drain blocks until closed or ctx ends, if set
	panics int           // Drain panics this many times first
	dry    bool          // Drain returns a report without Cordoned, as DryRun does
	held   atomic.Int32  // drains blocked on hold now
}

// holding reports whether a drain is blocked on hold.
func (f *fakeActor) holding() bool { return f.held.Load() > 0 }

func (f *fakeActor) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeActor) Cordon(_ context.Context, r drain.Request) error { return nil }
func (f *fakeActor) Taint(_ context.Context, r drain.Request) error {
	f.record("taint " + r.NoticeID)
	return nil
}
func (f *fakeActor) Uncordon(context.Context, string, string) (*drain.NodeNotice, error) {
	f.record("uncordon")
	return nil, nil
}
func (f *fakeActor) Notice(context.Context, string) (*drain.NodeNotice, error) {
	return nil, nil
}
func (f *fakeActor) Drain(ctx context.Context, r drain.Request) (*drain.Report, error) {
	f.mu.Lock()
	p := f.panics > 0
	f.panics--
	f.mu.Unlock()
	if p {
		panic("a bug in a drain") // what the agent must survive
	}
	f.record("drain " + r.NoticeID)
	if f.hold != nil {
		f.held.Add(1)
		select {
		case <-f.hold:
		case <-ctx.Done():
		}
		f.held.Add(-1)
	}
	now := time.Now()
	if f.dry {
		return &drain.Report{Node: r.Node, Deadline: r.Deadline, Started: now, Finished: now}, nil
	}
	return &drain.Report{Node: r.Node, Deadline: r.Deadline, Started: now, Cordoned: now, Finished: now, Empty: true}, ctx.Err()
}

func (f *fakeActor) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// testAgent is an agent whose loop the test drives: apply an event, then
// settle to apply what its drains and writes report back.
type testAgent struct {
	*Agent
	rec     *record.FakeRecorder
	holding func() bool // reports whether the actor holds a drain
}

func newTestAgent(t *testing.T, actor drain.Interface, dryRun bool) *testAgent {
	t.Helper()
	cfg := Config{NodeName: "n1", PollInterval: time.Second, Policy: drain.DefaultPolicy(),
		Rebalance: TaintOnly, ScheduledMaintenance: DrainNode, ASGLifecycle: DrainNode, DryRun: dryRun}
	m := metrics.New(prometheus.NewRegistry())
	hook, err := newWebhook("", "", nil, m, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	rec := record.NewFakeRecorder(100)
	a := &Agent{cfg: cfg, kube: fake.NewClientset(node), m: m, log: zap.NewNop(), clock: clock.RealClock{}, actor: actor, hook: hook,
		machine: interrupt.New(cfg.machine()), inbox: make(chan interrupt.Event, 64)}
	a.out = &liveEffects{node: "n1", rec: rec, hook: hook, m: m, clock: a.clock, ident: &a.identity}
	if dryRun {
		a.out = &dryEffects{log: zap.NewNop()}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a.work = newNodeWork(ctx, a)
	ta := &testAgent{Agent: a, rec: rec, holding: func() bool { return false }}
	if h, ok := actor.(interface{ holding() bool }); ok {
		ta.holding = h.holding
	}
	return ta
}

// settle applies what the work in flight reports until it is all done, or
// until the only work left is a drain the actor holds.
func (a *testAgent) settle() {
	limit := time.After(10 * time.Second)
	for {
		select {
		case ev := <-a.inbox:
			a.apply(context.Background(), ev)
			continue
		default:
		}
		select {
		case ev := <-a.inbox:
			a.apply(context.Background(), ev)
		case <-a.busy.Idle():
			if len(a.inbox) == 0 {
				return
			}
		case <-time.After(5 * time.Millisecond):
			if a.holding() && len(a.inbox) == 0 {
				return
			}
		case <-limit:
			return
		}
	}
}

func spot(id string, in time.Duration) imds.Notice {
	return imds.Notice{Kind: imds.SpotInterruption, ID: id, Action: "terminate", Deadline: time.Now().Add(in), Detected: time.Now()}
}

func withdrawn(n imds.Notice) imds.Notice { n.Canceled = true; return n }

func maintenance(id string) imds.Notice {
	return imds.Notice{Kind: imds.ScheduledMaintenance, ID: id, Action: "system-reboot", Deadline: time.Now().Add(time.Hour), Detected: time.Now()}
}

// TestHandleNoticeSequences drives the agent (state machine, node work and
// effects) with notices and checks what it asked of the node. Cases 1-5
// of issue #12 failed on the old handle.go (see the report of #12).
func TestHandleNoticeSequences(t *testing.T) {
	r1, _ := RehearsalNotice(time.Now().Add(45*time.Second).UTC().Format(time.RFC3339), time.Now())
	r2, _ := RehearsalNotice(time.Now().Add(75*time.Second).UTC().Format(time.RFC3339), time.Now())
	a, b := spot("a", 2*time.Minute), spot("b", 2*time.Minute+time.Second)
	events := func(ns ...imds.Notice) []interrupt.Event {
		var out []interrupt.Event
		for _, n := range ns {
			out = append(out, fromIMDS(n))
		}
		return out
	}
	tests := []struct {
		name    string
		actor   *fakeActor
		events  []interrupt.Event
		want    []string
		counted float64 // spot_handler_notices_total, all kinds
	}{
		{"spot drains once", &fakeActor{}, events(a), []string{"drain a"}, 1},
		{"a later version of the spot notice is an update, its predecessor's withdrawal undoes nothing",
			&fakeActor{hold: make(chan struct{})}, events(a, b, withdrawn(a)), []string{"drain a"}, 1},
		{"an earlier version restarts the drain", &fakeActor{hold: make(chan struct{})},
			events(spot("a", 2*time.Minute), spot("b", time.Minute)), []string{"drain a", "drain b"}, 1},
		{"canceled maintenance uncordons", &fakeActor{hold: make(chan struct{})},
			events(maintenance("e1"), withdrawn(maintenance("e1"))), []string{"drain e1", "uncordon"}, 1},
		{"rebalance taints once", &fakeActor{}, events(imds.Notice{Kind: imds.RebalanceRecommendation, ID: "r1", Detected: time.Now()},
			imds.Notice{Kind: imds.RebalanceRecommendation, ID: "r2", Detected: time.Now()}), []string{"taint r1"}, 1},
		{"a withdrawal never acted on does nothing", &fakeActor{}, events(withdrawn(spot("x", time.Minute))), nil, 0},
		{"2 after a panic in a drain it runs again, and a later notice is handled", &fakeActor{panics: 1},
			events(a, maintenance("e1")), []string{"drain a"}, 2},
		{"3 rehearse twice then undo uncordons", &fakeActor{},
			[]interrupt.Event{interrupt.RehearsalSet{Notice: r1}, interrupt.RehearsalSet{Notice: r2}, interrupt.RehearsalCleared{}},
			[]string{"drain " + r1.ID, "uncordon"}, 1},
		{"4 a rebalance after the spot notice leaves the drain's marks", &fakeActor{},
			events(a, imds.Notice{Kind: imds.RebalanceRecommendation, ID: "r1", Detected: time.Now()}), []string{"drain a"}, 2},
		{"5 a spot notice missing for one poll is not withdrawn", &fakeActor{hold: make(chan struct{})},
			events(a, withdrawn(a), a), []string{"drain a"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAgent(t, tt.actor, false)
			for _, ev := range tt.events {
				ta.apply(context.Background(), ev)
				ta.settle()
			}
			if tt.actor.hold != nil {
				close(tt.actor.hold)
			}
			ta.settle()
			if got := tt.actor.got(); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("calls = %q, want %q", got, tt.want)
			}
			if got := sum(ta.m.Notices); got != tt.counted {
				t.Errorf("notices counted = %v, want %v", got, tt.counted)
			}
		})
	}
}

// sum adds up every series of a counter vector.
func sum(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	total := 0.0
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil && d.Counter != nil {
			total += d.Counter.GetValue()
		}
	}
	return total
}
