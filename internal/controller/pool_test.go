package controller

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestPoolDeadlineOrder: with one worker busy, queued drains run most
// urgent deadline first, whatever order they were submitted in.
func TestPoolDeadlineOrder(t *testing.T) {
	p := newPool(nil)
	var mu sync.Mutex
	var order []string
	block := make(chan struct{})
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	mk := func(name string, seq int, deadline time.Time, wait bool) *job {
		ctx, cancel := context.WithCancel(context.Background())
		return &job{node: name, seq: seq, deadline: deadline, ctx: ctx, cancel: cancel, done: make(chan struct{}),
			run: func(context.Context) {
				if wait {
					<-block
				}
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
			}}
	}
	first := mk("busy", 0, base, true)
	p.submit(first)
	p.start(1)
	for p.waiting() != 0 {
		time.Sleep(time.Millisecond)
	}
	var jobs []*job
	for i, c := range []struct {
		name string
		in   time.Duration
	}{{"late", 5 * time.Minute}, {"soon", time.Minute}, {"later", 10 * time.Minute}, {"soonest", 30 * time.Second}, {"soon-2", time.Minute}} {
		j := mk(c.name, i+1, base.Add(c.in), false)
		jobs = append(jobs, j)
		p.submit(j)
	}
	close(block)
	for _, j := range jobs {
		<-j.done
	}
	p.stop()
	want := []string{"busy", "soonest", "soon", "soon-2", "late", "later"}
	if len(order) != len(want) {
		t.Fatalf("ran %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("ran %v, want %v", order, want)
		}
	}
}

// TestPoolStopCancelsLateSubmissions: a job submitted after stop is
// canceled and still marked done, so its owner never waits forever.
func TestPoolStopCancelsLateSubmissions(t *testing.T) {
	p := newPool(nil)
	p.start(2)
	p.stop()
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{ctx: ctx, cancel: cancel, done: make(chan struct{}), run: func(ctx context.Context) {
		if ctx.Err() == nil {
			t.Error("late job ran with a live context")
		}
	}}
	p.submit(j)
	select {
	case <-j.done:
	case <-time.After(5 * time.Second):
		t.Fatal("late job never done")
	}
}

// TestPoolReleasedJobFreesItsWorker: a drain that released its worker (its
// node is empty; it watches on) holds none: with one worker, the next
// drain runs while it goes on, and the gauge of running drains counts only
// the next one.
func TestPoolReleasedJobFreesItsWorker(t *testing.T) {
	var mu sync.Mutex
	running := 0
	p := newPool(func(d int) { mu.Lock(); running += d; mu.Unlock() })
	p.start(1)
	hold, released := make(chan struct{}), make(chan struct{})
	mk := func(run func(j *job)) *job {
		ctx, cancel := context.WithCancel(context.Background())
		j := &job{ctx: ctx, cancel: cancel, done: make(chan struct{})}
		j.run = func(context.Context) { run(j) }
		return j
	}
	watching := mk(func(j *job) {
		j.release()
		j.release() // once is enough
		close(released)
		<-hold
	})
	next := mk(func(*job) {
		mu.Lock()
		defer mu.Unlock()
		if running != 1 {
			t.Errorf("%d drains counted running, want only this one", running)
		}
	})
	p.submit(watching)
	<-released
	p.submit(next)
	select {
	case <-next.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the next drain did not run while the first one watched on")
	}
	close(hold)
	<-watching.done
	p.stop()
	if running != 0 {
		t.Errorf("running gauge %d after both ended, want 0", running)
	}
}
