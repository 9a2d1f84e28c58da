package controller

import (
	"context"
	"fmt"
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

// TestPoolDropQueued: a queued drain that is stopped ends at once, while
// the only worker is still busy: whoever stopped it never waits for a
// worker (issue #24 item 3).
func TestPoolDropQueued(t *testing.T) {
	p := newPool(nil)
	block := make(chan struct{})
	base := time.Now()
	mk := func(seq int, run func(context.Context)) *job {
		ctx, cancel := context.WithCancel(context.Background())
		return &job{node: "n", seq: seq, deadline: base.Add(time.Duration(seq) * time.Minute), ctx: ctx, cancel: cancel,
			done: make(chan struct{}), index: -1, run: run}
	}
	busy := mk(0, func(context.Context) { <-block })
	p.submit(busy)
	p.start(1)
	for p.waiting() != 0 {
		time.Sleep(time.Millisecond)
	}
	ran := make(chan error, 1)
	queued := mk(1, func(ctx context.Context) { ran <- ctx.Err() })
	p.submit(queued)
	queued.cancel()
	p.drop(queued)
	select {
	case <-queued.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a stopped queued drain waits for the busy worker")
	}
	if err := <-ran; err == nil {
		t.Error("the dropped drain ran with a live context")
	}
	if p.waiting() != 0 {
		t.Errorf("%d queued after the drop, want 0", p.waiting())
	}
	close(block)
	p.stop()
}

// TestPoolYieldResume: a drain that only waits gives its worker back
// (gate.Release) and the next queued drain runs on it at once; its next
// step (gate.Acquire) waits for a worker, and a more urgent drain queued
// meanwhile goes first.
func TestPoolYieldResume(t *testing.T) {
	var inFlight int
	var mu sync.Mutex
	p := newPool(func(d int) { mu.Lock(); inFlight += d; mu.Unlock() })
	base := time.Now()
	mk := func(seq int, in time.Duration, run func(context.Context, *job)) *job {
		ctx, cancel := context.WithCancel(context.Background())
		j := &job{node: fmt.Sprint(seq), seq: seq, deadline: base.Add(in), ctx: ctx, cancel: cancel, done: make(chan struct{}), index: -1}
		j.run = func(ctx context.Context) { run(ctx, j) }
		return j
	}
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	yielded, resumed, urgentRunning, urgentGo := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	far := mk(1, 14*24*time.Hour, func(ctx context.Context, j *job) {
		g := gate{p: p, j: j}
		g.Release() // its pods only wait
		close(yielded)
		<-urgentRunning
		if !g.Acquire(ctx) { // its next step
			t.Error("Acquire failed")
		}
		note("far step")
		close(resumed)
		g.Release()
	})
	p.submit(far)
	p.start(1)
	<-yielded
	urgent := mk(2, time.Minute, func(context.Context, *job) {
		close(urgentRunning)
		<-urgentGo
		note("urgent")
	})
	p.submit(urgent)
	select {
	case <-urgentRunning:
	case <-time.After(10 * time.Second):
		t.Fatal("the urgent drain did not get the worker the waiting drain gave back")
	}
	time.Sleep(50 * time.Millisecond) // far's step is queued behind urgent
	select {
	case <-resumed:
		t.Fatal("the waiting drain's step ran while the only worker was busy")
	default:
	}
	close(urgentGo)
	<-resumed
	<-far.done
	<-urgent.done
	p.stop()
	if len(order) != 2 || order[0] != "urgent" || order[1] != "far step" {
		t.Errorf("order %v, want [urgent far step]", order)
	}
	if inFlight != 0 {
		t.Errorf("drains in flight %d after all ended, want 0", inFlight)
	}
}
