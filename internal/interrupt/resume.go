package interrupt

import (
	"fmt"
	"time"
)

// resumed takes in what a restart read from the node.
func (m *Machine) resumed(e Resumed, now time.Time) []Action {
	if e.Unreadable != nil {
		if m.marks == marksNone {
			m.marks = marksUnknown
		}
		if m.synced[Synced{Source: SourceIMDS}] {
			return m.reconcile(now, undo{message: "the node's notice record was unreadable: node cleaned up"})
		}
		m.unreadable = true
		return []Action{Keep{Reason: "the node's notice record is unreadable: it is cleaned up once instance metadata has answered, unless a notice needs the node"}}
	}
	if e.Record == nil {
		return nil
	}
	rec := *e.Record
	for _, en := range m.inForce {
		if recordMatches(rec, en.notice) {
			return m.adopt(en, rec, now) // the source delivered it before the node was read
		}
	}
	if m.marks == marksNone {
		m.marks = marksCordon
		if rec.TaintOnly {
			m.marks = marksTaint
		}
	}
	m.record = &rec
	switch {
	case m.cfg.ResumeRecorded:
		return m.receive(recordNotice(rec), now)
	case final(rec, now):
		return m.resumeFinal(rec, now)
	case m.isSynced(rec):
		return m.undoRecord(now)
	}
	return []Action{Keep{Notice: recordNotice(rec), Reason: "the node carries a notice from an earlier agent: waiting for its source to confirm it"}}
}

// adopt takes the recorded deadline and detection time for the notice in
// force that the record stands for, when the record's deadline is earlier
// (the notice gave none, and this process chose one from its own, later,
// detection): a restart never moves a deadline later.
func (m *Machine) adopt(e *entry, rec Recorded, now time.Time) []Action {
	if rec.Deadline.IsZero() || !rec.Deadline.Before(e.deadline) {
		return nil
	}
	e.deadline, e.resumed = rec.Deadline, true
	if !rec.Detected.IsZero() {
		e.notice.Detected = rec.Detected
	}
	if acts := m.reconcile(now, undo{}); len(acts) > 0 {
		return acts
	}
	return []Action{Keep{Notice: e.notice, Reason: "the deadline recorded on the node is kept"}}
}

// sync marks e's source as having answered for e's kind (all kinds when
// e.Kind is ""): the recorded notice it stands for, if not delivered again,
// is gone. A record is undone only by its own source's answer for its own
// kind; one that names no source, by none.
func (m *Machine) sync(e Synced, now time.Time) []Action {
	m.synced[e] = true
	switch {
	case m.record != nil && m.isSynced(*m.record):
		return m.undoRecord(now)
	case m.unreadable && m.synced[Synced{Source: SourceIMDS}]:
		m.unreadable = false
		return m.reconcile(now, undo{message: "the node's notice record was unreadable: node cleaned up"})
	}
	return nil
}

// isSynced reports whether rec's source has answered for rec's kind.
func (m *Machine) isSynced(rec Recorded) bool {
	return rec.Source != "" && (m.synced[Synced{Source: rec.Source}] || m.synced[Synced{Source: rec.Source, Kind: rec.Kind}])
}

// undoRecord undoes the recorded notice, which its source no longer shows.
func (m *Machine) undoRecord(now time.Time) []Action {
	n := recordNotice(*m.record)
	m.record = nil
	return m.reconcile(now, undo{notice: n, message: fmt.Sprintf("notice %s (%s) is gone since the last agent ran: node uncordoned", n.ID, n.Kind)})
}

// final reports whether rec is an interruption that is final for the
// instance (a Spot interruption, an ASG terminate state, an instance state
// change; not a rehearsal) and still in force at now: no source's silence
// or failure undoes it, since the instance is going away.
func final(rec Recorded, now time.Time) bool {
	switch {
	case rec.Source == SourceRehearsal || !now.Before(rec.Deadline):
		return false
	case rec.Kind == SpotInterruption, rec.Kind == ASGTermination, rec.Kind == InstanceStateChange:
		return true
	}
	return false
}

// resumeFinal takes a final interruption recorded on the node as in force
// at once and resumes its drain to the recorded deadline, without waiting
// for its source to deliver it again (its path may be failing).
func (m *Machine) resumeFinal(rec Recorded, now time.Time) []Action {
	acts := m.receive(recordNotice(rec), now)
	if k, ok := acts[0].(Keep); ok {
		k.Reason = "the node carries a final interruption whose deadline is still ahead: resuming its drain"
		acts[0] = k
	}
	return acts
}

// recordMatches reports whether n is the recorded notice or a newer version
// of it (same source and kind; a maintenance event by ID).
func recordMatches(rec Recorded, n Notice) bool {
	if rec.Source != n.Source || rec.Kind != n.Kind {
		return false
	}
	return rec.Kind != ScheduledMaintenance || rec.ID == n.ID
}

// recordNotice is the notice a record stands for.
func recordNotice(rec Recorded) Notice {
	return Notice{Kind: rec.Kind, ID: rec.ID, Action: rec.Action, Deadline: rec.Deadline, Detected: rec.Detected, Source: rec.Source}
}

func sourceNote(n Notice) string {
	if n.Source == SourceRehearsal {
		return ", rehearsal"
	}
	return ""
}
