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
