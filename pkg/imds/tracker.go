package imds

import (
	"sync"
	"time"
)

// tracker remembers the notices currently present and turns each definitive
// answer for a path into the notices to deliver: new IDs once, and for kinds
// that cancel, a Canceled copy of each ID that is no longer present.
type tracker struct {
	mu      sync.Mutex
	current []Notice // present notices of every kind, in order of detection
}

// update replaces the present notices of s's kind with the active ones in
// ns (those without Canceled) and returns what to deliver: first the new
// notices, stamped Detected=now, then, if s.cancels, the withdrawn ones with
// Canceled set. For a maintenance event still listed as canceled or
// completed, the withdrawal carries the listed Description. It returns nil
// when nothing changed.
func (t *tracker) update(s *source, ns []Notice, now time.Time) []Notice {
	t.mu.Lock()
	defer t.mu.Unlock()
	var deliver []Notice
	for _, n := range ns {
		if n.Canceled || indexID(t.current, n.ID) >= 0 {
			continue
		}
		n.Detected = now
		t.current = append(t.current, n)
		deliver = append(deliver, n)
	}
	keep := t.current[:0]
	for _, c := range t.current {
		if c.Kind != s.kind || active(ns, c.ID) {
			keep = append(keep, c)
			continue
		}
		if !s.cancels {
			continue
		}
		w := c
		if i := indexID(ns, c.ID); i >= 0 {
			w.Description = ns[i].Description
		}
		w.Canceled = true
		w.Detected = now
		deliver = append(deliver, w)
	}
	clear(t.current[len(keep):])
	t.current = keep
	return deliver
}

// snapshot returns a copy of the present notices.
func (t *tracker) snapshot() []Notice {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Notice(nil), t.current...)
}

// active reports whether ns lists id without Canceled.
func active(ns []Notice, id string) bool {
	i := indexID(ns, id)
	return i >= 0 && !ns[i].Canceled
}

// indexID returns the index of the notice with this ID in ns, or -1.
func indexID(ns []Notice, id string) int {
	for i := range ns {
		if ns[i].ID == id {
			return i
		}
	}
	return -1
}
