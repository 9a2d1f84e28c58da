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
}

func newSlots(n int) *slots { return &slots{free: n} }

// acquire takes a slot, waiting for one; first says whether this is a
// pod's first request. It returns false if ctx ended first.
func (s *slots) acquire(ctx context.Context, first bool) bool {
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
	defer s.mu.Unlock()
	s.handOver()
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
