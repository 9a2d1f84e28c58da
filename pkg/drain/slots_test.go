package drain

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestSlotsFirstAttemptsBeforeRetries: with every slot taken, a waiting
// first attempt gets the next free slot before retries that waited longer.
func TestSlotsFirstAttemptsBeforeRetries(t *testing.T) {
	s := newSlots(1)
	ctx := context.Background()
	if !s.acquire(ctx, true) {
		t.Fatal("first acquire")
	}
	order := make(chan string, 3)
	start := func(name string, first bool) {
		go func() {
			if s.acquire(ctx, first) {
				order <- name
				s.release()
			}
		}()
	}
	start("retry-1", false)
	waitQueued(t, s, 0, 1)
	start("retry-2", false)
	waitQueued(t, s, 0, 2)
	start("first", true)
	waitQueued(t, s, 1, 2)
	s.release()
	for _, want := range []string{"first", "retry-1", "retry-2"} {
		if got := <-order; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	for range 1000 {
		s.mu.Lock()
		free, maxUse := s.free, s.maxUse
		s.mu.Unlock()
		if free == 1 {
			if maxUse != 1 {
				t.Errorf("maxUse %d, want 1", maxUse)
			}
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Error("the slot was never given back")
}

func TestSlotsGiveUpWithContext(t *testing.T) {
	s := newSlots(1)
	s.acquire(context.Background(), true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- s.acquire(ctx, false) }()
	waitQueued(t, s, 0, 1)
	cancel()
	if <-done {
		t.Fatal("acquired after ctx ended")
	}
	s.release()
	if s.free != 1 || len(s.retry) != 0 {
		t.Errorf("free %d, %d waiting: a slot leaked", s.free, len(s.retry))
	}
}

func waitQueued(t *testing.T, s *slots, first, retry int) {
	t.Helper()
	for range 1000 {
		s.mu.Lock()
		ok := len(s.first) == first && len(s.retry) == retry
		s.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("waiters never queued: want %d first, %d retries", first, retry)
}

// TestRetryTransientOnFakeClock: passing failures are retried on the
// injected clock, Retry-After is honoured, a lasting failure ends at once,
// and the end of ctx ends the retries with the last error.
func TestRetryTransientOnFakeClock(t *testing.T) {
	unavailable := apierrors.NewServiceUnavailable("etcd leader changed")
	slow := apierrors.NewTooManyRequests("Too many requests", 5)
	for _, c := range []struct {
		name      string
		answers   []error
		wantCalls int
		wantErr   func(error) bool
		minWaited time.Duration
	}{
		{"503 twice, then OK", []error{unavailable, unavailable, nil}, 3, func(e error) bool { return e == nil }, 150 * time.Millisecond},
		{"throttled: waits Retry-After", []error{slow, nil}, 2, func(e error) bool { return e == nil }, 5 * time.Second},
		{"forbidden: no retry", []error{apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("rbac"))}, 1, apierrors.IsForbidden, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Unix(1e9, 0))
			start := clk.Now()
			calls := 0
			done := make(chan error, 1)
			go func() {
				done <- retryTransient(context.Background(), clk, func(context.Context) error {
					calls++
					return c.answers[min(calls-1, len(c.answers)-1)]
				})
			}()
			var err error
			for loop := true; loop; {
				select {
				case err = <-done:
					loop = false
				case <-time.After(time.Millisecond):
					if clk.HasWaiters() {
						clk.Step(50 * time.Millisecond)
					}
				}
			}
			if calls != c.wantCalls || !c.wantErr(err) || clk.Since(start) < c.minWaited {
				t.Errorf("calls %d err %v waited %v; want %d calls, at least %v", calls, err, clk.Since(start), c.wantCalls, c.minWaited)
			}
		})
	}
	t.Run("ctx ends: last error kept", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		clk := clocktesting.NewFakeClock(time.Unix(1e9, 0))
		done := make(chan error, 1)
		go func() {
			done <- retryTransient(ctx, clk, func(context.Context) error { return unavailable })
		}()
		for !clk.HasWaiters() {
			time.Sleep(time.Millisecond)
		}
		cancel()
		err := <-done
		if !apierrors.IsServiceUnavailable(err) || !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want the 503 and the cancellation", err)
		}
	})
}
