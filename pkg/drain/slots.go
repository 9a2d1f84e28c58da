package drain

import (
	"context"
	"sync"
)

// slots bounds the eviction and delete requests in flight. A slot is held
// for one request only, never while a pod waits between attempts, and a
// pod's first request goes before any retry: pods that the API refuses
// again and again never hold back pods not yet asked for.
type slots struct {
	mu     sync.Mutex
	free   int
	first  []chan struct{} // waiting first attempts, oldest first
	retry  []chan struct{} // waiting retries, oldest first
	inUse  int
	maxUse int // the most slots ever held at once, for tests

	// gate, if not nil, is the drain's caller's worker (Request.Gate): held
	// while a request holds or waits for a slot, or the drain plans; given
	// back while every pod only waits.
	gate  Gate
	gmu   sync.Mutex
	users int  // requests between enter and leave, and the plan; guarded by gmu
	held  bool // the gate is held; guarded by gmu
	plan  bool // the plan still holds the gate; guarded by gmu
}

func newSlots(n int) *slots { return &slots{free: n} }

// gated makes s hold g for the drain's requests. The caller holds g now,
// for the drain's plan, until planned.
func (s *slots) gated(g Gate) *slots {
	if g != nil {
		s.gate, s.users, s.held, s.plan = g, 1, true, true
	}
	return s
}

// planned ends the plan's hold on the gate: from now on the gate is held
// only while a request is out or waiting.
func (s *slots) planned() {
	if s.gate == nil {
		return
	}
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if s.plan {
		s.plan = false
		s.leaveLocked()
	}
}

// enter takes the gate for a request, waiting for it if the drain gave it
// back; false if ctx ended first.
func (s *slots) enter(ctx context.Context) bool {
	if s.gate == nil {
		return true
	}
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if !s.held {
		if ctx.Err() != nil || !s.gate.Acquire(ctx) {
			return false
		}
		s.held = true
	}
	s.users++
	return true
}

// leave ends a request's hold on the gate; the last one gives it back.
func (s *slots) leave() {
	if s.gate == nil {
		return
	}
	s.gmu.Lock()
	defer s.gmu.Unlock()
	s.leaveLocked()
}

func (s *slots) leaveLocked() {
	if s.users--; s.users == 0 && s.held {
		s.held = false
		s.gate.Release()
	}
}

// acquire takes a slot, waiting for one; first says whether this is a
// pod's first request. It returns false if ctx ended first.
func (s *slots) acquire(ctx context.Context, first bool) bool {
	if !s.enter(ctx) {
		return false
	}
	if s.take1(ctx, first) {
		return true
	}
	s.leave()
	return false
}

func (s *slots) take1(ctx context.Context, first bool) bool {
	s.mu.Lock()
	if s.free > 0 && len(s.first) == 0 && (first || len(s.retry) == 0) {
		s.take()
		s.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	if first {
		s.first = append(s.first, ch)
	} else {
		s.retry = append(s.retry, ch)
	}
	s.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.drop(ch) {
			return false
		}
		// The slot was handed over as ctx ended: give it back.
		s.handOver()
		return false
	}
}

// release gives a slot back, to the oldest waiting first attempt, else the
// oldest waiting retry.
func (s *slots) release() {
	s.mu.Lock()
	s.handOver()
	s.mu.Unlock()
	s.leave()
}

// handOver passes the slot held by the caller on; s.mu must be held.
func (s *slots) handOver() {
	for _, q := range []*[]chan struct{}{&s.first, &s.retry} {
		if len(*q) > 0 {
			ch := (*q)[0]
			*q = (*q)[1:]
			close(ch)
			return
		}
	}
	s.inUse--
	s.free++
}

func (s *slots) take() {
	s.free--
	s.inUse++
	s.maxUse = max(s.maxUse, s.inUse)
}

// drop removes a waiter that gave up; false if it was already handed a slot.
func (s *slots) drop(ch chan struct{}) bool {
	for _, q := range []*[]chan struct{}{&s.first, &s.retry} {
		for i, c := range *q {
			if c == ch {
				*q = append((*q)[:i:i], (*q)[i+1:]...)
				return true
			}
		}
	}
	return false
}
