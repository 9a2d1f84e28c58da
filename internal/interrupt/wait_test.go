package interrupt

import (
	"testing"
	"time"
)

// TestMaintenanceLead: with a lead, a maintenance notice further away than
// the lead waits (nothing done, Wake at deadline − lead), is drained when
// woken then, and a withdrawal while it waits does nothing to the node
// (issue 24 item 4). A nearer one is drained at once; a rehearsal is never
// held.
func TestMaintenanceLead(t *testing.T) {
	lead := policy
	lead.MaintenanceLead = time.Hour
	announce := []string{"announce e1", "hook notice e1", "event ScheduledMaintenance"}
	runAll(t, []sequence{
		{"held until deadline − lead, then drained", lead, []step{
			{0, Received{maint("e1", 3*time.Hour)}, announce},
			{time.Hour, Woke{}, nil},
			{2 * time.Hour, Woke{}, []string{"start#1 e1 by 3h0m0s"}},
		}, PhaseDraining},
		{"withdrawn while held: nothing to undo", lead, []step{
			{0, Received{maint("e1", 3*time.Hour)}, announce},
			{time.Hour, Withdrawn{maint("e1", 3*time.Hour)}, nil},
			{2 * time.Hour, Woke{}, nil},
		}, PhaseIdle},
		{"inside the lead: drained at once", lead, []step{
			{0, Received{maint("e1", 30*time.Minute)}, with(announce, "start#1 e1 by 30m0s")},
		}, PhaseDraining},
		{"no lead: drained at once", policy, []step{
			{0, Received{maint("e1", 3*time.Hour)}, with(announce, "start#1 e1 by 3h0m0s")},
		}, PhaseDraining},
	})
	m := New(lead)
	m.Apply(Received{maint("e1", 3*time.Hour)}, t0)
	if at, ok := m.Wake(); !ok || !at.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("Wake() = %v, %v; want deadline − lead", at, ok)
	}
	if w := m.Waiting(t0); len(w) != 1 || w[0].ID != "e1" {
		t.Errorf("Waiting = %+v", w)
	}
	if w := m.Waiting(t0.Add(2 * time.Hour)); len(w) != 0 {
		t.Errorf("Waiting after the start = %+v", w)
	}
}

// TestMaintenanceRescheduled: a Health scheduled change keeps its notice
// ID (the event's ARN) when it is rescheduled, so the same ID with another
// deadline is a new version. Moved earlier, it is held again to the new
// deadline − lead, or drained at once when that has come (the review's
// repro: from two weeks out to 30 minutes out, it stayed held until the old
// start and the node was not drained before the maintenance). Moved later,
// it is held to the new start while its drain still waits; once the drain
// runs, the earlier deadline stays.
func TestMaintenanceRescheduled(t *testing.T) {
	lead := policy
	lead.MaintenanceLead = time.Hour
	announce := []string{"announce e1", "hook notice e1", "event ScheduledMaintenance"}
	const fortnight = 14 * 24 * time.Hour
	runAll(t, []sequence{
		{"moved earlier into the lead: drained at once", lead, []step{
			{0, Received{maint("e1", fortnight)}, announce},
			{time.Minute, Received{maint("e1", 30*time.Minute)}, []string{"start#1 e1 by 30m0s"}},
		}, PhaseDraining},
		{"moved earlier, still beyond the lead: held to the new start", lead, []step{
			{0, Received{maint("e1", fortnight)}, announce},
			{time.Minute, Received{maint("e1", 5*time.Hour)}, []string{"keep"}},
			{3 * time.Hour, Woke{}, nil},
			{4 * time.Hour, Woke{}, []string{"start#1 e1 by 5h0m0s"}},
		}, PhaseDraining},
		{"moved later while held: held to the new start", lead, []step{
			{0, Received{maint("e1", 3*time.Hour)}, announce},
			{time.Minute, Received{maint("e1", 6*time.Hour)}, []string{"keep"}},
			{2 * time.Hour, Woke{}, nil},
			{5 * time.Hour, Woke{}, []string{"start#1 e1 by 6h0m0s"}},
		}, PhaseDraining},
		{"moved later while draining: the earlier deadline stays", lead, []step{
			{0, Received{maint("e1", 30*time.Minute)}, with(announce, "start#1 e1 by 30m0s")},
			{time.Minute, Received{maint("e1", 6*time.Hour)}, []string{"keep"}},
			{2 * time.Minute, Received{maint("e1", 20*time.Minute)}, []string{"restart#1→#2 e1 by 20m0s"}},
		}, PhaseDraining},
		{"the same version again: nothing", lead, []step{
			{0, Received{maint("e1", 3*time.Hour)}, announce},
			{time.Minute, Received{maint("e1", 3*time.Hour)}, nil},
		}, PhaseIdle},
	})
	m := New(lead)
	m.Apply(Received{maint("e1", fortnight)}, t0)
	m.Apply(Received{maint("e1", 5*time.Hour)}, t0.Add(time.Minute))
	if at, ok := m.Wake(); !ok || !at.Equal(t0.Add(4*time.Hour)) {
		t.Errorf("Wake() after moving earlier = %v, %v; want the new deadline − lead", at, ok)
	}
	if w := m.Waiting(t0.Add(time.Minute)); len(w) != 1 || !w[0].Deadline.Equal(t0.Add(5*time.Hour)) {
		t.Errorf("Waiting after moving earlier = %+v; want e1 by 5h", w)
	}
}

// TestRebalanceTaintTTL: a rebalance taint ends after RebalanceTaintTTL.
func TestRebalanceTaintTTL(t *testing.T) {
	ttl := policy
	ttl.RebalanceTaintTTL = 2 * time.Hour
	runAll(t, []sequence{
		{"taint removed after the TTL", ttl, []step{
			{0, Received{rebalance("r")}, []string{"announce r", "hook notice r", "taint r"}},
			{time.Hour, Woke{}, nil},
			{2 * time.Hour, Woke{}, []string{"uncordon "}},
		}, PhaseIdle},
		{"no TTL: stays", policy, []step{
			{0, Received{rebalance("r")}, []string{"announce r", "hook notice r", "taint r"}},
			{200 * time.Hour, Woke{}, nil},
		}, PhaseTainted},
	})
}
