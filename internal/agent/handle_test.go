package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// fakeActor records what the agent asks of the node. It is a pure unit
// stand-in: the real drain is tested on the real plane (pkg/drain, test/e2e).
type fakeActor struct {
	mu    sync.Mutex
	calls []string
	hold  chan struct{} // Drain blocks until closed or ctx ends, if set
}

func (f *fakeActor) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeActor) Cordon(_ context.Context, r drain.Request) error {
	f.record("cordon " + r.NoticeID)
	return nil
}
func (f *fakeActor) Taint(_ context.Context, r drain.Request) error {
	f.record("taint " + r.NoticeID)
	return nil
}
func (f *fakeActor) Uncordon(context.Context, string) error { f.record("uncordon"); return nil }
func (f *fakeActor) Notice(context.Context, string) (*drain.NodeNotice, error) {
	return nil, nil
}
func (f *fakeActor) Drain(ctx context.Context, r drain.Request) (*drain.Report, error) {
	f.record("drain " + r.NoticeID)
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
		}
	}
	now := time.Now()
	return &drain.Report{Node: r.Node, Deadline: r.Deadline, Started: now, Cordoned: now, Finished: now, Empty: true}, ctx.Err()
}

func (f *fakeActor) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func newTestAgent(t *testing.T, actor drain.Interface) *Agent {
	t.Helper()
	cfg := Config{NodeName: "n1", PollInterval: time.Second, Policy: drain.DefaultPolicy(),
		Rebalance: TaintOnly, ScheduledMaintenance: DrainNode, ASGLifecycle: DrainNode}
	m := metrics.New(prometheus.NewRegistry())
	hook, err := newWebhook("", "", nil, m, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return &Agent{cfg: cfg, m: m, log: zap.NewNop(), clock: clock.RealClock{}, actor: actor, hook: hook,
		rec: record.NewFakeRecorder(100), acted: map[string]imds.Notice{}}
}

func spot(id string, in time.Duration) imds.Notice {
	return imds.Notice{Kind: imds.SpotInterruption, ID: id, Action: "terminate", Deadline: time.Now().Add(in), Detected: time.Now()}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHandleNoticeSequences(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		notices func() []imds.Notice
		want    []string
		counted float64 // spot_handler_notices_total, all kinds
	}{
		{"spot drains once", func() []imds.Notice { return []imds.Notice{spot("a", 2*time.Minute)} },
			[]string{"drain a"}, 1},
		{"a later version of the spot notice is an update, its predecessor's withdrawal undoes nothing",
			func() []imds.Notice {
				a, b := spot("a", 2*time.Minute), spot("b", 2*time.Minute+time.Second)
				wa := a
				wa.Canceled = true
				return []imds.Notice{a, b, wa}
			}, []string{"drain a"}, 1},
		{"an earlier version restarts the drain", func() []imds.Notice {
			return []imds.Notice{spot("a", 2*time.Minute), spot("b", time.Minute)}
		}, []string{"drain a", "drain b"}, 1},
		{"canceled maintenance uncordons", func() []imds.Notice {
			m := imds.Notice{Kind: imds.ScheduledMaintenance, ID: "e1", Action: "system-reboot", Deadline: time.Now().Add(time.Hour), Detected: time.Now()}
			c := m
			c.Canceled = true
			return []imds.Notice{m, c}
		}, []string{"drain e1", "uncordon"}, 1},
		{"rebalance taints once", func() []imds.Notice {
			return []imds.Notice{{Kind: imds.RebalanceRecommendation, ID: "r1", Detected: time.Now()},
				{Kind: imds.RebalanceRecommendation, ID: "r2", Detected: time.Now()}}
		}, []string{"taint r1"}, 1},
		{"a withdrawal never acted on does nothing", func() []imds.Notice {
			n := spot("x", time.Minute)
			n.Canceled = true
			return []imds.Notice{n}
		}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeActor{hold: make(chan struct{})}
			a := newTestAgent(t, f)
			for _, n := range tt.notices() {
				a.handle(ctx, n)
				time.Sleep(20 * time.Millisecond) // let a started drain record its call
			}
			close(f.hold)
			a.drains.Wait()
			if got := f.got(); !equal(got, tt.want) {
				t.Errorf("calls = %q, want %q", got, tt.want)
			}
			if got := sum(a.m.Notices); got != tt.counted {
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
