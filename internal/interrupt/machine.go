package interrupt

import (
	"fmt"
	"sort"
	"time"
)

// Phase is the state of the machine's node.
type Phase string

// The phases.
const (
	// PhaseIdle: no notice needs the node; it carries no marks of ours.
	PhaseIdle Phase = "idle"
	// PhaseResuming: a restart found marks (or an unreadable record) on
	// the node that no source has confirmed or synced yet; they are kept.
	PhaseResuming Phase = "resuming"
	// PhaseTainted: a taint-only notice is in force; the node is tainted.
	PhaseTainted Phase = "tainted"
	// PhaseDraining: a drain runs.
	PhaseDraining Phase = "draining"
	// PhaseDrained: the drain ended; the node stays cordoned while a
	// notice that needs it is in force.
	PhaseDrained Phase = "drained"
)

// marks is what the machine believes the node carries.
type marks int

const (
	marksNone    marks = iota
	marksTaint         // PreferNoSchedule taint and record
	marksCordon        // cordon, taint, label and record
	marksUnknown       // an unreadable record: clean up when nothing needs the node
)

// rehearsalSlot holds the one rehearsal.
const rehearsalSlot = "rehearsal"

// entry is a notice in force.
type entry struct {
	notice   Notice
	deadline time.Time // only ever moves earlier, but while its drain is held (update)
	response Response
	resumed  bool // a previous process recorded it
	// start, if not zero, is when a maintenance drain may begin: the
	// deadline less Config.MaintenanceLead (wait.go).
	start time.Time
}

// running is a drain started and not ended.
type running struct {
	drain Drain
	slot  string
	left  bool // it ended with pods still on the node
}

// Machine is the state of one node's notices. Make it with New; it is not
// safe for concurrent use: one goroutine owns it.
type Machine struct {
	cfg        Config
	inForce    map[string]*entry // by slot: one per kind, one per maintenance event, one rehearsal
	run        *running          // the drain running, if any
	done       *running          // the last drain that ended, while the node stays cordoned
	marks      marks
	record     *Recorded       // a recorded notice no source has confirmed yet
	unreadable bool            // an unreadable record waits for every kind of SourceIMDS to sync
	synced     map[Synced]bool // Kind "": every kind of the source
	seq        int
	restarts   map[string]int
}

// New returns a Machine with policy cfg and nothing in force.
func New(cfg Config) *Machine {
	if cfg.DefaultDeadline <= 0 {
		cfg.DefaultDeadline = DefaultDeadline
	}
	if cfg.MaxRestarts == 0 {
		cfg.MaxRestarts = DefaultMaxRestarts
	}
	return &Machine{cfg: cfg, inForce: map[string]*entry{}, synced: map[Synced]bool{}, restarts: map[string]int{}}
}

// Phase returns the node's state.
func (m *Machine) Phase() Phase {
	switch {
	case m.run != nil:
		return PhaseDraining
	case m.record != nil || m.unreadable:
		return PhaseResuming
	case m.marks == marksCordon:
		return PhaseDrained
	case m.marks == marksTaint:
		return PhaseTainted
	}
	return PhaseIdle
}

// Running returns the drain running, if any.
func (m *Machine) Running() (Drain, bool) {
	if m.run == nil {
		return Drain{}, false
	}
	return m.run.drain, true
}

// InForce returns the notices in force (latest versions), ordered by slot.
func (m *Machine) InForce() []Notice {
	var out []Notice
	for _, s := range m.slots() {
		out = append(out, m.inForce[s].notice)
	}
	return out
}

// Apply changes the state by ev at time now and returns what to do, in
// order. Unknown events change nothing.
func (m *Machine) Apply(ev Event, now time.Time) []Action {
	switch e := ev.(type) {
	case Received:
		return m.receive(e.Notice, now)
	case RehearsalSet:
		n := e.Notice
		n.Source = SourceRehearsal
		return m.receive(n, now)
	case Withdrawn:
		return m.withdraw(e.Notice, now)
	case RehearsalCleared:
		return m.clearRehearsal(now)
	case DrainEnded:
		return m.drainEnded(e)
	case Panicked:
		return m.panicked(e, now)
	case Resumed:
		return m.resumed(e, now)
	case Synced:
		return m.sync(e, now)
	case Woke:
		return m.reconcile(now, undo{message: "the rebalance taint expired (--rebalance-taint-ttl): taint removed"})
	}
	return nil
}

// slotOf is where a notice is kept: an instance has one Spot notice, one
// rebalance recommendation and one ASG state (a new ID of the same kind is
// an update), but any number of maintenance events.
func slotOf(n Notice) string {
	switch {
	case n.Source == SourceRehearsal:
		return rehearsalSlot
	case n.Kind == ScheduledMaintenance:
		return string(n.Kind) + "/" + n.ID
	}
	return string(n.Kind)
}

// slots returns the slots in force, sorted, so choices are deterministic.
func (m *Machine) slots() []string {
	out := make([]string, 0, len(m.inForce))
	for s := range m.inForce {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// receive handles a new notice or a new version of one in force.
func (m *Machine) receive(n Notice, now time.Time) []Action {
	if n.Detected.IsZero() {
		n.Detected = now
	}
	// A drain that ended with pods still on the node is started again by
	// any later event for it, the same message delivered again too: its
	// pods may have been out of reach for a moment only.
	again := m.run == nil && m.done != nil && m.done.left
	if again {
		m.done = nil
	}
	slot := slotOf(n)
	if e, ok := m.inForce[slot]; ok {
		acts := m.update(e, n, now)
		if again {
			acts = append(acts, m.reconcile(now, undo{})...)
		}
		return acts
	}
	e := &entry{notice: n, deadline: n.Deadline, response: m.cfg.ResponseTo(n.Kind, n.Source)}
	if rec := m.record; rec != nil && recordMatches(*rec, n) {
		// The notice a previous process acted on, or a newer version of it:
		// keep the deadline it chose and when it was first seen.
		if e.deadline.IsZero() || rec.ID == n.ID {
			e.deadline = rec.Deadline
		}
		if !rec.Detected.IsZero() {
			e.notice.Detected = rec.Detected
		}
		e.resumed = true
		m.record = nil
	}
	if e.deadline.IsZero() {
		e.deadline = e.notice.Detected.Add(m.cfg.DefaultDeadline)
	}
	m.hold(e, now) // wait.go
	m.inForce[slot] = e
	var acts []Action
	if e.resumed {
		acts = append(acts, Keep{Notice: e.notice, Reason: "the notice recorded on the node is still present: resuming"})
	} else {
		acts = append(acts, Announce{Notice: e.notice, Deadline: e.deadline, Response: e.response},
			SendWebhook{Event: HookNotice, Notice: e.notice, Deadline: e.deadline, Response: e.response})
		if e.response == DrainNode {
			acts = append(acts, RecordEvent{Warning: true, Reason: string(n.Kind),
				Message: fmt.Sprintf("%s notice (%s%s): node must be empty by %s", n.Kind, n.Action, sourceNote(n),
					e.deadline.Add(-m.cfg.Margin).UTC().Format(time.RFC3339))})
		}
	}
	return append(acts, m.reconcile(now, undo{})...)
}

// update handles a new version of the notice in force in e: the same
// interruption, not announced again. A deadline that moved earlier is
// taken (a running drain restarts to it), whatever the ID: a Health
// scheduled change keeps its ID (the event's ARN) when it is rescheduled,
// so the same ID with another deadline is a new version, not a repeat. A
// held maintenance drain (wait.go) is held again to the new deadline, and
// begins at once when its lead has begun. A later deadline is taken only
// while the notice's drain is still held (nothing done to the node for it
// yet); once its drain may run, the earlier deadline stays: an
// interruption is never weakened.
func (m *Machine) update(e *entry, n Notice, now time.Time) []Action {
	moved := !n.Deadline.IsZero() && !n.Deadline.Equal(e.deadline)
	if e.notice.ID == n.ID && !moved {
		return nil // the same version again (a source that repeats itself)
	}
	n.Detected = e.notice.Detected
	e.notice = n
	switch {
	case moved && n.Deadline.Before(e.deadline):
		e.deadline = n.Deadline
		m.rehold(e, now)
		if acts := m.reconcile(now, undo{}); len(acts) > 0 {
			return acts
		}
		if e.waiting(now) {
			return []Action{Keep{Notice: n, Reason: "notice moved to an earlier deadline; its drain still waits for its lead time"}}
		}
		return []Action{Keep{Notice: n, Reason: "notice moved to an earlier deadline; the node's drain already ends by then"}}
	case moved && e.waiting(now):
		e.deadline = n.Deadline
		m.rehold(e, now)
		return []Action{Keep{Notice: n, Reason: "notice moved to a later deadline; its drain waits for the new lead time"}}
	}
	return []Action{Keep{Notice: n, Reason: ReasonUpdated}}
}

// withdraw handles a source no longer showing n.
func (m *Machine) withdraw(n Notice, now time.Time) []Action {
	slot := slotOf(n)
	e, ok := m.inForce[slot]
	switch {
	case !ok:
		return nil // never acted on
	case startedAgain(e.notice, n):
		// The instance runs again after a stop: whichever stop notice is in
		// force is over, whatever its ID.
	case e.notice.ID != n.ID:
		return []Action{Keep{Notice: n, Reason: "superseded by a newer version: another notice still needs the node drained"}}
	case n.Kind == SpotInterruption && n.Source != SourceRehearsal:
		return []Action{Keep{Notice: n, Reason: "a Spot interruption is final for the life of the instance: its withdrawal changes nothing"}}
	}
	delete(m.inForce, slot)
	return m.afterRemoval(e.notice, now, undo{notice: e.notice, hook: true,
		message: fmt.Sprintf("%s notice %s withdrawn: node uncordoned, taint removed", n.Kind, e.notice.ID)})
}

// startedAgain reports whether withdrawal n, an instance state change to
// pending or running, ends the state change in force: a stop (stopping,
// stopped) of the same source. An instance shutting down or terminated
// never comes back; a Spot stop is final (another kind).
func startedAgain(inForce, n Notice) bool {
	return n.Kind == InstanceStateChange && inForce.Source == n.Source &&
		(n.Action == "pending" || n.Action == "running") &&
		(inForce.Action == "stopping" || inForce.Action == "stopped")
}

// clearRehearsal withdraws the rehearsal, also one recorded by a previous
// process, and marks the rehearsal source synced.
func (m *Machine) clearRehearsal(now time.Time) []Action {
	m.synced[Synced{Source: SourceRehearsal}] = true
	if rec := m.record; rec != nil && rec.Source == SourceRehearsal {
		m.record = nil
		n := recordNotice(*rec)
		return m.afterRemoval(n, now, undo{notice: n,
			message: fmt.Sprintf("rehearsal %s was removed while no agent ran: node uncordoned", rec.ID)})
	}
	e, ok := m.inForce[rehearsalSlot]
	if !ok {
		return nil
	}
	delete(m.inForce, rehearsalSlot)
	return m.afterRemoval(e.notice, now, undo{notice: e.notice, hook: true,
		message: fmt.Sprintf("rehearsal %s withdrawn: node uncordoned, taint removed", e.notice.ID)})
}

// afterRemoval reconciles after n left, and says so when the node stays.
func (m *Machine) afterRemoval(n Notice, now time.Time, u undo) []Action {
	acts := m.reconcile(now, u)
	if len(acts) == 0 && m.marks != marksNone {
		return []Action{Keep{Notice: n, Reason: "another notice still needs the node drained: it stays cordoned"}}
	}
	return acts
}

// drainEnded records the end of the running drain; a stale Seq (a drain
// already stopped or replaced) changes nothing.
func (m *Machine) drainEnded(e DrainEnded) []Action {
	if m.run == nil || m.run.drain.Seq != e.Seq {
		return nil
	}
	m.done, m.run = m.run, nil
	m.done.left = e.Outcome == PodsLeft
	return nil
}

// panicked starts the drain again while time is left and restarts remain.
func (m *Machine) panicked(e Panicked, now time.Time) []Action {
	if e.Seq == 0 || m.run == nil || m.run.drain.Seq != e.Seq {
		return nil
	}
	r := m.run
	m.run = nil
	m.restarts[r.slot]++
	if m.restarts[r.slot] > max(m.cfg.MaxRestarts, 0) || !now.Before(r.drain.Deadline) {
		m.done = r
		return []Action{Keep{Notice: r.drain.Notice, Reason: fmt.Sprintf("the drain panicked %d times or its deadline passed: not started again", m.restarts[r.slot])}}
	}
	m.done = nil
	return m.reconcile(now, undo{})
}
