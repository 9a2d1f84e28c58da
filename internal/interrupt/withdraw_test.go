package interrupt

import (
	"testing"
	"time"
)

func stopping(id, action string, in time.Duration) Notice {
	return Notice{Kind: InstanceStateChange, ID: id, Action: action, Deadline: t0.Add(in), Source: SourceQueue}
}

// TestWithdrawals: the queue's withdrawals (issue 24 item 4). A closed
// Health event withdraws its maintenance notice (drain stopped, node
// uncordoned); an instance pending or running again withdraws a stop in
// force whatever its ID, never a shutdown or a termination, never another
// source's stop.
func TestWithdrawals(t *testing.T) {
	qmaint := func(id string, in time.Duration) Notice {
		n := maint(id, in)
		n.Source = SourceQueue
		return n
	}
	running := stopping("s/running", "running", 0)
	runAll(t, []sequence{
		{"a closed Health event withdraws its drain", policy, []step{
			{0, Received{qmaint("h1", time.Hour)}, []string{"announce h1", "hook notice h1", "event ScheduledMaintenance", "start#1 h1 by 1h0m0s"}},
			{time.Minute, Withdrawn{qmaint("h1", time.Hour)}, []string{"stop#1", "uncordon h1", "hook canceled h1"}},
		}, PhaseIdle},
		{"a closed Health event after its drain ended uncordons", policy, []step{
			{0, Received{qmaint("h1", time.Hour)}, []string{"announce h1", "hook notice h1", "event ScheduledMaintenance", "start#1 h1 by 1h0m0s"}},
			{time.Minute, DrainEnded{Seq: 1, Outcome: Emptied}, nil},
			{2 * time.Minute, Withdrawn{qmaint("h1", time.Hour)}, []string{"uncordon h1", "hook canceled h1"}},
		}, PhaseIdle},
		{"running again after stopping uncordons", policy, []step{
			{0, Received{stopping("s/stopping", "stopping", 0)}, []string{"announce s/stopping", "hook notice s/stopping", "event InstanceStateChange", "start#1 s/stopping by 0s late"}},
			{time.Minute, DrainEnded{Seq: 1, Outcome: Emptied}, nil},
			{2 * time.Minute, Withdrawn{running}, []string{"uncordon s/stopping", "hook canceled s/stopping"}},
		}, PhaseIdle},
		{"pending after stopped stops the drain and uncordons", policy, []step{
			{0, Received{stopping("s/stopped", "stopped", 0)}, []string{"announce s/stopped", "hook notice s/stopped", "event InstanceStateChange", "start#1 s/stopped by 0s late"}},
			{time.Second, Withdrawn{stopping("s/pending", "pending", 0)}, []string{"stop#1", "uncordon s/stopped", "hook canceled s/stopped"}},
		}, PhaseIdle},
		{"running never withdraws a shutdown", policy, []step{
			{0, Received{stateChange("s/down", 0)}, []string{"announce s/down", "hook notice s/down", "event InstanceStateChange", "start#1 s/down by 0s late"}},
			{time.Second, Withdrawn{running}, []string{"keep"}},
		}, PhaseDraining},
		{"running never withdraws a Spot stop", policy, []step{
			{0, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
			{time.Second, Withdrawn{running}, nil},
		}, PhaseDraining},
		{"running withdraws nothing never acted on", policy, []step{
			{0, Withdrawn{running}, nil},
		}, PhaseIdle},
		{"another source's stop is not withdrawn by the queue's running", policy, []step{
			{0, Received{Notice{Kind: InstanceStateChange, ID: "x", Action: "stopping", Deadline: t0, Source: SourceIMDS}},
				[]string{"announce x", "hook notice x", "event InstanceStateChange", "start#1 x by 0s late"}},
			{time.Second, Withdrawn{running}, []string{"keep"}},
		}, PhaseDraining},
	})
}
