package interrupt

import (
	"errors"
	"testing"
	"time"
)

// TestResumeIssue20 are the restart cases of issue #20: each source's
// record is undone only by that source's own answer for its kind (each
// instance metadata path syncs on its own), a record naming no source is
// undone by none, and a final interruption still in force is never undone:
// its drain resumes at once, whatever its source says or fails to say.
func TestResumeIssue20(t *testing.T) {
	rec := func(r Recorded) Resumed { return Resumed{Record: &r} }
	spotRec := func(in time.Duration) Resumed {
		return rec(Recorded{Kind: SpotInterruption, ID: "a", Action: "terminate", Source: SourceIMDS, Deadline: t0.Add(in), Detected: t0.Add(-30 * time.Second)})
	}
	maintRec := rec(Recorded{Kind: ScheduledMaintenance, ID: "e1", Source: SourceIMDS, Deadline: t0.Add(time.Hour)})
	runAll(t, []sequence{
		{"4 a recorded Spot interruption still ahead resumes its drain at once; its path's answer undoes nothing", policy, []step{
			{0, spotRec(90 * time.Second), []string{"keep", "start#1 a by 1m30s resumed"}},
			{time.Second, Synced{SourceIMDS, RebalanceRecommendation}, nil},
			{2 * time.Second, Synced{SourceIMDS, SpotInterruption}, nil},
			{3 * time.Second, Synced{SourceIMDS, ""}, nil},
		}, PhaseDraining},
		{"4 the Spot path fails after a restart: the node stays cordoned and drains", policy, []step{
			{0, spotRec(90 * time.Second), []string{"keep", "start#1 a by 1m30s resumed"}},
			{time.Second, Synced{SourceIMDS, ScheduledMaintenance}, nil},
			{time.Second, Synced{SourceIMDS, ASGTermination}, nil},
		}, PhaseDraining},
		{"4 the resumed Spot notice delivered again changes nothing", policy, []step{
			{0, spotRec(90 * time.Second), []string{"keep", "start#1 a by 1m30s resumed"}},
			{time.Second, Received{spot("a", 90*time.Second)}, nil},
			{time.Second, Withdrawn{spot("a", 90*time.Second)}, []string{"keep"}},
		}, PhaseDraining},
		{"4 a recorded ASG terminate state still ahead is never undone", policy, []step{
			{0, rec(Recorded{Kind: ASGTermination, ID: "ASGTermination/Terminated", Action: "Terminated", Source: SourceIMDS, Deadline: t0.Add(30 * time.Second)}),
				[]string{"keep", "start#1 ASGTermination/Terminated by 30s resumed"}},
			{time.Second, Synced{SourceIMDS, ASGTermination}, nil},
		}, PhaseDraining},
		{"4 a Spot record past its deadline (a stop) waits for the Spot path itself", policy, []step{
			{0, spotRec(-time.Hour), []string{"keep"}},
			{time.Second, Synced{SourceIMDS, RebalanceRecommendation}, nil},
			{time.Second, Synced{SourceIMDS, ScheduledMaintenance}, nil},
			{2 * time.Second, Synced{SourceIMDS, SpotInterruption}, []string{"uncordon a"}},
		}, PhaseIdle},
		{"4 a maintenance record is undone by the maintenance path, not another", policy, []step{
			{0, maintRec, []string{"keep"}},
			{time.Second, Synced{SourceIMDS, SpotInterruption}, nil},
			{2 * time.Second, Synced{SourceIMDS, ScheduledMaintenance}, []string{"uncordon e1"}},
		}, PhaseIdle},
		{"4 a path synced before the node was read still counts", policy, []step{
			{0, Synced{SourceIMDS, ScheduledMaintenance}, nil},
			{time.Second, maintRec, []string{"uncordon e1"}},
		}, PhaseIdle},
		{"4 another path synced before the node was read does not", policy, []step{
			{0, Synced{SourceIMDS, SpotInterruption}, nil},
			{time.Second, maintRec, []string{"keep"}},
		}, PhaseResuming},
		{"4 an unreadable record waits for every path", policy, []step{
			{0, Resumed{Unreadable: errors.New("bad JSON")}, []string{"keep"}},
			{time.Second, Synced{SourceIMDS, SpotInterruption}, nil},
			{2 * time.Second, Synced{SourceIMDS, ""}, []string{"uncordon "}},
		}, PhaseIdle},
		{"4 a rehearsal is not final: its removal while no agent ran is undone", policy, []step{
			{0, rec(Recorded{Kind: SpotInterruption, ID: "r1", Source: SourceRehearsal, Deadline: t0.Add(time.Minute)}), []string{"keep"}},
			{time.Second, RehearsalCleared{}, []string{"uncordon r1"}},
		}, PhaseIdle},
		{"3 a record naming no source is undone by no source", policy, []step{
			{0, rec(Recorded{Kind: ScheduledMaintenance, ID: "e1", Deadline: t0.Add(time.Hour)}), []string{"keep"}},
			{time.Second, Synced{SourceIMDS, ""}, nil},
			{time.Second, RehearsalCleared{}, nil},
		}, PhaseResuming},
		{"3 the controller's record in the agent's machine: IMDS answering undoes nothing", policy, []step{
			{0, rec(Recorded{Kind: InstanceStateChange, ID: "queue/x", Source: SourceQueue, Deadline: t0.Add(-time.Hour)}), []string{"keep"}},
			{time.Second, Synced{SourceIMDS, ""}, nil},
			{time.Second, RehearsalCleared{}, nil},
		}, PhaseResuming},
		{"3 the controller's Spot record is not taken for the agent's own notice", policy, []step{
			{0, rec(Recorded{Kind: SpotInterruption, ID: "queue/spot", Source: SourceQueue, Deadline: t0.Add(-time.Hour)}), []string{"keep"}},
			{time.Second, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
		}, PhaseDraining},
	})
}
