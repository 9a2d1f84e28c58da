package interrupt

import (
	"fmt"
	"time"
)

// undo says, when reconcile takes marks off the node, what they were for
// and how to report it.
type undo struct {
	notice  Notice // the withdrawn or recorded notice
	message string // the Uncordoned Event's message
	hook    bool   // post HookCanceled (a withdrawal seen by this process)
}

// desired returns what the notices in force at now need: a drain for the
// most urgent one (a real notice before a rehearsal, then the earliest
// deadline), else a taint, else nothing. A notice waiting for its lead time
// (wait.go) needs nothing yet.
func (m *Machine) desired(now time.Time) (Response, string) {
	m.expire(now) // wait.go
	best := ""
	for _, s := range m.slots() {
		e := m.inForce[s]
		if e.response != DrainNode || e.waiting(now) {
			continue
		}
		if best == "" || outranks(s, e, best, m.inForce[best]) {
			best = s
		}
	}
	if best != "" {
		return DrainNode, best
	}
	for _, s := range m.slots() {
		if m.inForce[s].response == TaintOnly {
			return TaintOnly, s
		}
	}
	return Ignore, ""
}

// outranks reports whether entry a (in slot sa) should drive the drain
// rather than b (in sb).
func outranks(sa string, a *entry, sb string, b *entry) bool {
	if ra, rb := sa == rehearsalSlot, sb == rehearsalSlot; ra != rb {
		return rb
	}
	return a.deadline.Before(b.deadline)
}

// reconcile brings the node to what the notices in force need and returns
// the actions that do it; nil when the node is already right.
func (m *Machine) reconcile(now time.Time, u undo) []Action {
	want, slot := m.desired(now)
	if want == DrainNode {
		return m.drainFor(slot, now)
	}
	if m.record != nil || m.unreadable {
		return nil // resuming: leave the node as found until its source answers
	}
	var acts []Action
	if m.run != nil {
		acts = append(acts, StopDrain{Seq: m.run.drain.Seq, Reason: "no notice needs the node drained any more"})
		m.run = nil
	}
	m.done = nil
	if want == TaintOnly {
		e := m.inForce[slot]
		if m.marks == marksTaint {
			return acts
		}
		if m.marks != marksNone {
			acts = append(acts, m.uncordon(u)...)
		}
		m.marks = marksTaint
		return append(acts, TaintNode{Notice: e.notice, Deadline: e.deadline,
			Message: fmt.Sprintf("%s notice: node tainted %s:PreferNoSchedule; pods stay", e.notice.Kind, e.notice.Kind)})
	}
	if m.marks != marksNone {
		acts = append(acts, m.uncordon(u)...)
		m.marks = marksNone
	}
	return acts
}

// uncordon returns the actions that take the marks off, as u reports them.
func (m *Machine) uncordon(u undo) []Action {
	msg := u.message
	if msg == "" {
		msg = "no notice needs the node any more: node uncordoned, taint removed"
	}
	acts := []Action{UncordonNode{Notice: u.notice, Message: msg}}
	if u.hook {
		acts = append(acts, SendWebhook{Event: HookCanceled, Notice: u.notice})
	}
	return acts
}

// drainFor makes sure a drain for the notice in slot runs or has run to
// its deadline.
func (m *Machine) drainFor(slot string, now time.Time) []Action {
	e := m.inForce[slot]
	d := Drain{Notice: e.notice, Deadline: e.deadline, Late: e.deadline.Sub(now) <= m.cfg.Margin, Resumed: e.resumed}
	realOverRehearsal := func(r *running) bool { return r.slot == rehearsalSlot && slot != rehearsalSlot }
	if r := m.run; r != nil {
		reason := "a real notice replaces the rehearsal"
		if !realOverRehearsal(r) {
			if !e.deadline.Before(r.drain.Deadline) {
				return nil // the running drain ends no later than this notice needs
			}
			reason = "notice moved to an earlier deadline: draining to it"
		}
		stop := m.start(&d, slot)
		return []Action{RestartDrain{Stop: stop, Drain: d, Reason: reason}}
	}
	if dn := m.done; dn != nil && m.marks == marksCordon && !e.deadline.Before(dn.drain.Deadline) && !realOverRehearsal(dn) {
		return nil // drained already, to an earlier or equal deadline
	}
	m.start(&d, slot)
	return []Action{StartDrain{Drain: d}}
}

// start numbers d, makes it the running drain and returns the Seq of the
// drain it replaces (0 if none).
func (m *Machine) start(d *Drain, slot string) int {
	stop := 0
	if m.run != nil {
		stop = m.run.drain.Seq
	}
	m.seq++
	d.Seq = m.seq
	m.run, m.done = &running{drain: *d, slot: slot}, nil
	m.marks = marksCordon
	return stop
}
