package interrupt

import (
	"sort"
	"time"
)

// Woke says the time the machine asked to be woken at ([Machine.Wake]) has
// come: a maintenance notice's lead time began, or a taint expired.
type Woke struct{}

// hold sets e's start when it is a maintenance notice to drain whose
// deadline is further than Config.MaintenanceLead: its drain waits until
// deadline − lead (the node is neither cordoned nor drained before). A
// rehearsal is never held.
func (m *Machine) hold(e *entry, now time.Time) {
	if m.cfg.MaintenanceLead <= 0 || e.response != DrainNode || e.notice.Kind != ScheduledMaintenance || e.notice.Source == SourceRehearsal {
		return
	}
	if start := e.deadline.Add(-m.cfg.MaintenanceLead); now.Before(start) {
		e.start = start
	}
}

// rehold recomputes e's start after its deadline changed: held until the
// new deadline − lead, or not held at all when that has come.
func (m *Machine) rehold(e *entry, now time.Time) {
	e.start = time.Time{}
	m.hold(e, now)
}

// waiting reports whether e's drain waits for its start at now.
func (e *entry) waiting(now time.Time) bool { return !e.start.IsZero() && now.Before(e.start) }

// expired reports whether e is a taint-only rebalance recommendation older
// than Config.RebalanceTaintTTL at now.
func (m *Machine) expired(e *entry, now time.Time) bool {
	return m.cfg.RebalanceTaintTTL > 0 && e.notice.Kind == RebalanceRecommendation && e.response == TaintOnly &&
		!now.Before(e.notice.Detected.Add(m.cfg.RebalanceTaintTTL))
}

// expire drops the rebalance taints that are over their time.
func (m *Machine) expire(now time.Time) {
	for s, e := range m.inForce {
		if m.expired(e, now) {
			delete(m.inForce, s)
		}
	}
}

// Wake returns the next time the machine must get a [Woke] event: the
// earliest start of a held maintenance drain or expiry of a rebalance
// taint; false if none.
func (m *Machine) Wake() (time.Time, bool) {
	var at time.Time
	for _, e := range m.inForce {
		t := e.start
		if m.cfg.RebalanceTaintTTL > 0 && e.notice.Kind == RebalanceRecommendation && e.response == TaintOnly {
			t = e.notice.Detected.Add(m.cfg.RebalanceTaintTTL)
		}
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	return at, !at.IsZero()
}

// Waiting returns the notices in force whose drain waits for its lead time
// at now, ordered by ID: what the owner records on the node so that a
// restart holds them again.
func (m *Machine) Waiting(now time.Time) []Notice {
	var out []Notice
	for _, e := range m.inForce {
		if e.waiting(now) {
			n := e.notice
			n.Deadline = e.deadline
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
