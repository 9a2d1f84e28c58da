package agent

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// TestPersistHedgesAHungAttempt: an attempt that never answers gets a
// second one alongside it after hedgeAfter on the fake clock; the first to
// succeed ends the call and the hung one is cancelled.
func TestPersistHedgesAHungAttempt(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	a := &Agent{clock: clk}
	var attempts atomic.Int32
	hungCancelled := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.persist(context.Background(), time.Time{}, true, func(ctx context.Context) error {
			if attempts.Add(1) == 1 {
				<-ctx.Done() // a request a blackholed API server never answers
				close(hungCancelled)
				return ctx.Err()
			}
			return nil
		}, zap.NewNop())
	}()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(hedgeAfter)
	if err := <-done; err != nil {
		t.Fatalf("persist: %v", err)
	}
	<-hungCancelled
	if n := attempts.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

// TestPersistGivesUpAtDeadline: a call that keeps failing is retried until
// its deadline, then its last error is returned.
func TestPersistGivesUpAtDeadline(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	a := &Agent{clock: clk}
	boom := errors.New("503")
	done := make(chan error, 1)
	go func() {
		done <- a.persist(context.Background(), clk.Now().Add(3*time.Second), false, func(context.Context) error { return boom }, zap.NewNop())
	}()
	for {
		select {
		case err := <-done:
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want the last attempt's", err)
			}
			return
		default:
		}
		if clk.HasWaiters() {
			clk.Step(retryCap)
		}
		time.Sleep(time.Millisecond)
	}
}

// hungTaint is an actor whose Taint hangs until its context ends, like a
// request to a blackholed API server.
type hungTaint struct {
	*fakeActor
	cancelled chan struct{}
}

func (h *hungTaint) Taint(ctx context.Context, r drain.Request) error {
	h.record("taint " + r.NoticeID)
	<-ctx.Done()
	close(h.cancelled)
	return ctx.Err()
}

// TestSpotNoticeNotQueuedBehindHungTaint (issue #12, case 6, unit): a
// taint that hangs neither blocks the loop nor delays the drain of the
// Spot notice that follows; the drain supersedes it.
func TestSpotNoticeNotQueuedBehindHungTaint(t *testing.T) {
	h := &hungTaint{fakeActor: &fakeActor{}, cancelled: make(chan struct{})}
	ta := newTestAgent(t, h, false)
	applied := make(chan struct{})
	go func() {
		ta.apply(context.Background(), fromIMDS(imds.Notice{Kind: imds.RebalanceRecommendation, ID: "r1", Detected: time.Now()}))
		ta.apply(context.Background(), fromIMDS(spot("a", 2*time.Minute)))
		close(applied)
	}()
	select {
	case <-applied:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop blocked on a hung taint")
	}
	ta.settle()
	<-h.cancelled
	ta.settle()
	got := h.got()
	slices.Sort(got)
	if len(got) != 2 || got[0] != "drain a" || got[1] != "taint r1" {
		t.Errorf("calls = %q, want the drain and the superseded taint", got)
	}
}
