package interrupt

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// t0 is the fake clock's start; deadlines print as offsets from it.
var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// step is one event at an offset from t0 and the actions it must return.
type step struct {
	at   time.Duration
	ev   Event
	want []string
}

// render writes an action as a short line for the tables.
func render(a Action) string {
	off := func(t time.Time) string { return t.Sub(t0).String() }
	switch a := a.(type) {
	case Announce:
		return "announce " + a.Notice.ID
	case SendWebhook:
		return "hook " + a.Event + " " + a.Notice.ID
	case RecordEvent:
		return "event " + a.Reason
	case StartDrain:
		s := fmt.Sprintf("start#%d %s by %s", a.Drain.Seq, a.Drain.Notice.ID, off(a.Drain.Deadline))
		if a.Drain.Resumed {
			s += " resumed"
		}
		if a.Drain.Late {
			s += " late"
		}
		return s
	case RestartDrain:
		return fmt.Sprintf("restart#%d→#%d %s by %s", a.Stop, a.Drain.Seq, a.Drain.Notice.ID, off(a.Drain.Deadline))
	case StopDrain:
		return fmt.Sprintf("stop#%d", a.Seq)
	case TaintNode:
		return "taint " + a.Notice.ID
	case UncordonNode:
		return "uncordon " + a.Notice.ID
	case Keep:
		return "keep"
	}
	return fmt.Sprintf("unknown %T", a)
}

func spot(id string, in time.Duration) Notice {
	return Notice{Kind: SpotInterruption, ID: id, Action: "terminate", Deadline: t0.Add(in), Source: SourceIMDS}
}

func maint(id string, in time.Duration) Notice {
	return Notice{Kind: ScheduledMaintenance, ID: id, Action: "system-reboot", Deadline: t0.Add(in), Source: SourceIMDS}
}

func rebalance(id string) Notice {
	return Notice{Kind: RebalanceRecommendation, ID: id, Source: SourceIMDS}
}

func asg() Notice {
	return Notice{Kind: ASGTermination, ID: "ASGTermination/Terminated", Action: "Terminated", Source: SourceIMDS}
}

func stateChange(id string, in time.Duration) Notice {
	return Notice{Kind: InstanceStateChange, ID: id, Action: "shutting-down", Deadline: t0.Add(in), Source: SourceQueue}
}

func rehearsal(id string, in time.Duration) Notice {
	return Notice{Kind: SpotInterruption, ID: id, Action: "terminate", Deadline: t0.Add(in), Source: SourceRehearsal}
}

var policy = Config{Rebalance: TaintOnly, Maintenance: DrainNode, ASG: DrainNode, Margin: 15 * time.Second}

// sequence is one table row: a policy, the steps and the phase at the end.
type sequence struct {
	name  string
	cfg   Config
	steps []step
	phase Phase
}

// runAll runs each sequence as a subtest.
func runAll(t *testing.T, seqs []sequence) {
	t.Helper()
	for _, s := range seqs {
		t.Run(s.name, func(t *testing.T) { run(t, s.cfg, s.steps, s.phase) })
	}
}

// run applies the steps on a fake clock and compares each step's actions.
func run(t *testing.T, cfg Config, steps []step, phase Phase) {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	m := New(cfg)
	for i, s := range steps {
		clk.SetTime(t0.Add(s.at))
		var got []string
		for _, a := range m.Apply(s.ev, clk.Now()) {
			got = append(got, render(a))
		}
		if strings.Join(got, "; ") != strings.Join(s.want, "; ") {
			t.Errorf("step %d (%T at %v):\n got  %q\n want %q", i, s.ev, s.at, got, s.want)
		}
	}
	if got := m.Phase(); got != phase {
		t.Errorf("phase = %s, want %s", got, phase)
	}
}

var announceSpot = []string{"announce a", "hook notice a", "event SpotInterruption"}

func with(a []string, more ...string) []string { return append(append([]string(nil), a...), more...) }

// TestSequences pins the sequences the agent's old unit table pinned
// (TestHandleNoticeSequences) and the plain cases.
func TestSequences(t *testing.T) {
	withdrawnA := spot("a", 2*time.Minute)
	runAll(t, []sequence{
		{"spot drains once", policy, []step{
			{0, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
			{30 * time.Second, DrainEnded{Seq: 1, Outcome: Emptied}, nil},
		}, PhaseDrained},
		{"a later version is an update; its predecessor's withdrawal undoes nothing", policy, []step{
			{0, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
			{time.Second, Received{spot("b", 2*time.Minute+time.Second)}, []string{"keep"}},
			{time.Second, Withdrawn{withdrawnA}, []string{"keep"}},
		}, PhaseDraining},
		{"an earlier version restarts the drain", policy, []step{
			{0, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
			{time.Second, Received{spot("b", time.Minute)}, []string{"restart#1→#2 b by 1m0s"}},
			{2 * time.Second, DrainEnded{Seq: 1, Outcome: Stopped}, nil},
		}, PhaseDraining},
		{"canceled maintenance uncordons", policy, []step{
			{0, Received{maint("e1", time.Hour)}, []string{"announce e1", "hook notice e1", "event ScheduledMaintenance", "start#1 e1 by 1h0m0s"}},
			{time.Minute, Withdrawn{maint("e1", time.Hour)}, []string{"stop#1", "uncordon e1", "hook canceled e1"}},
			{time.Minute, DrainEnded{Seq: 1, Outcome: Stopped}, nil},
		}, PhaseIdle},
		{"a second maintenance event keeps the node drained when the first is canceled", policy, []step{
			{0, Received{maint("e1", time.Hour)}, []string{"announce e1", "hook notice e1", "event ScheduledMaintenance", "start#1 e1 by 1h0m0s"}},
			{0, Received{maint("e2", 2*time.Hour)}, []string{"announce e2", "hook notice e2", "event ScheduledMaintenance"}},
			{time.Minute, Withdrawn{maint("e1", time.Hour)}, []string{"keep"}},
		}, PhaseDraining},
		{"rebalance taints once", policy, []step{
			{0, Received{rebalance("r1")}, []string{"announce r1", "hook notice r1", "taint r1"}},
			{time.Second, Received{rebalance("r2")}, []string{"keep"}},
		}, PhaseTainted},
		{"a withdrawal never acted on does nothing", policy, []step{
			{0, Withdrawn{spot("x", time.Minute)}, nil},
		}, PhaseIdle},
		{"an ignored kind is announced and changes nothing", Config{Rebalance: Ignore, Maintenance: Ignore, ASG: Ignore}, []step{
			{0, Received{maint("e1", time.Hour)}, []string{"announce e1", "hook notice e1"}},
			{0, Withdrawn{maint("e1", time.Hour)}, nil},
		}, PhaseIdle},
		{"a deadline inside the margin drains at once, marked late", policy, []step{
			{0, Received{spot("a", 10*time.Second)}, with(announceSpot, "start#1 a by 10s late")},
		}, PhaseDraining},
		{"a rebalance then a spot notice: the drain replaces the taint", policy, []step{
			{0, Received{rebalance("r1")}, []string{"announce r1", "hook notice r1", "taint r1"}},
			{time.Second, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
		}, PhaseDraining},
		{"the same version again changes nothing", policy, []step{
			{0, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
			{time.Second, Received{spot("a", 2*time.Minute)}, nil},
		}, PhaseDraining},
		{"a restart finds the Spot notice recorded: the drain resumes at once", policy, []step{
			{0, Resumed{Record: &Recorded{Kind: SpotInterruption, ID: "a", Source: SourceIMDS, Deadline: t0.Add(90 * time.Second), Detected: t0.Add(-30 * time.Second)}}, []string{"keep", "start#1 a by 1m30s resumed"}},
			{time.Second, Received{spot("a", 90*time.Second)}, nil},
			{2 * time.Second, Synced{Source: SourceIMDS}, nil},
		}, PhaseDraining},
		{"a restart finds the maintenance event still present: the drain resumes", policy, []step{
			{0, Resumed{Record: &Recorded{Kind: ScheduledMaintenance, ID: "e1", Source: SourceIMDS, Deadline: t0.Add(time.Hour)}}, []string{"keep"}},
			{time.Second, Received{maint("e1", time.Hour)}, []string{"keep", "start#1 e1 by 1h0m0s resumed"}},
			{2 * time.Second, Synced{Source: SourceIMDS}, nil},
		}, PhaseDraining},
		{"a restart finds the recorded notice gone: uncordon", policy, []step{
			{0, Resumed{Record: &Recorded{Kind: ScheduledMaintenance, ID: "e1", Source: SourceIMDS, Deadline: t0.Add(time.Hour)}}, []string{"keep"}},
			{time.Second, Synced{Source: SourceIMDS}, []string{"uncordon e1"}},
		}, PhaseIdle},
		{"a recorded notice a queue source will not repeat is resumed at once", Config{Maintenance: DrainNode, ResumeRecorded: true}, []step{
			{0, Resumed{Record: &Recorded{Kind: ScheduledMaintenance, ID: "e1", Source: SourceQueue, Deadline: t0.Add(time.Hour)}}, []string{"keep", "start#1 e1 by 1h0m0s resumed"}},
		}, PhaseDraining},
	})
}

// TestIssueCases are the cases of issue #12, one sequence (or more) each.
// Case 6 (a hung API call) is about I/O: here, that a Spot notice after a
// rebalance starts its drain without waiting for the taint to be written.
func TestIssueCases(t *testing.T) {
	rec := func(r Recorded) Resumed { return Resumed{Record: &r} }
	runAll(t, []sequence{
		{"1 a dry-run drain's end is no failure and changes nothing", policy, []step{
			{0, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
			{time.Second, DrainEnded{Seq: 1, Outcome: Planned}, nil},
			{2 * time.Second, Received{spot("b", 3*time.Minute)}, []string{"keep"}},
		}, PhaseDrained},
		{"2 a panic in a drain starts it again; later notices are still handled", policy, []step{
			{0, Received{maint("e1", time.Hour)}, []string{"announce e1", "hook notice e1", "event ScheduledMaintenance", "start#1 e1 by 1h0m0s"}},
			{time.Second, Panicked{Seq: 1, In: "drain"}, []string{"start#2 e1 by 1h0m0s"}},
			{2 * time.Second, Received{spot("a", 2*time.Minute)}, with(announceSpot, "restart#2→#3 a by 2m0s")},
		}, PhaseDraining},
		{"2 a drain that keeps panicking is given up, and the next notice drains", Config{Maintenance: DrainNode, MaxRestarts: 1}, []step{
			{0, Received{maint("e1", time.Hour)}, []string{"announce e1", "hook notice e1", "event ScheduledMaintenance", "start#1 e1 by 1h0m0s"}},
			{time.Second, Panicked{Seq: 1}, []string{"start#2 e1 by 1h0m0s"}},
			{2 * time.Second, Panicked{Seq: 2}, []string{"keep"}},
			{3 * time.Second, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#3 a by 2m0s")},
		}, PhaseDraining},
		{"2 a panic outside a drain changes nothing", policy, []step{
			{0, Panicked{In: "notice handling"}, nil},
			{0, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
		}, PhaseDraining},
		{"3 rehearse twice, undo: uncordoned; then a real Spot notice drains", policy, []step{
			{0, RehearsalSet{rehearsal("r1", 45*time.Second)}, []string{"announce r1", "hook notice r1", "event SpotInterruption", "start#1 r1 by 45s"}},
			{20 * time.Second, DrainEnded{Seq: 1, Outcome: Emptied}, nil},
			{30 * time.Second, RehearsalSet{rehearsal("r2", 75*time.Second)}, []string{"keep"}},
			{40 * time.Second, RehearsalCleared{}, []string{"uncordon r2", "hook canceled r2"}},
			{60 * time.Second, Received{spot("a", 3*time.Minute)}, with(announceSpot, "start#2 a by 3m0s")},
		}, PhaseDraining},
		{"3 a real notice wins over a running rehearsal, whose undo then keeps the node drained", policy, []step{
			{0, RehearsalSet{rehearsal("r1", 45*time.Second)}, []string{"announce r1", "hook notice r1", "event SpotInterruption", "start#1 r1 by 45s"}},
			{5 * time.Second, Received{spot("a", 2*time.Minute)}, with(announceSpot, "restart#1→#2 a by 2m0s")},
			{6 * time.Second, RehearsalCleared{}, []string{"keep"}},
		}, PhaseDraining},
		{"3 a real notice after a finished rehearsal gets its own drain", policy, []step{
			{0, RehearsalSet{rehearsal("r1", 45*time.Second)}, []string{"announce r1", "hook notice r1", "event SpotInterruption", "start#1 r1 by 45s"}},
			{20 * time.Second, DrainEnded{Seq: 1, Outcome: Emptied}, nil},
			{25 * time.Second, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#2 a by 2m0s")},
		}, PhaseDraining},
		{"3 a rehearsal removed while no agent ran is undone", policy, []step{
			{0, rec(Recorded{Kind: SpotInterruption, ID: "r1", Source: SourceRehearsal, Deadline: t0.Add(-time.Minute)}), []string{"keep"}},
			{time.Second, Synced{Source: SourceIMDS}, nil},
			{time.Second, RehearsalCleared{}, []string{"uncordon r1"}},
		}, PhaseIdle},
		{"3 a rehearsal still set after a restart resumes", policy, []step{
			{0, rec(Recorded{Kind: SpotInterruption, ID: "r1", Source: SourceRehearsal, Deadline: t0.Add(time.Minute)}), []string{"keep"}},
			{time.Second, Synced{Source: SourceIMDS}, nil},
			{time.Second, RehearsalSet{rehearsal("r1", time.Minute)}, []string{"keep", "start#1 r1 by 1m0s resumed"}},
		}, PhaseDraining},
		{"4 a rebalance after the Spot notice leaves the drain's marks", policy, []step{
			{0, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
			{5 * time.Second, Received{rebalance("r1")}, []string{"announce r1", "hook notice r1"}},
			{30 * time.Second, DrainEnded{Seq: 1, Outcome: Emptied}, nil},
			{35 * time.Second, Received{rebalance("r2")}, []string{"keep"}},
		}, PhaseDrained},
		{"5 a Spot notice missing for one poll is not withdrawn", policy, []step{
			{0, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
			{time.Second, Withdrawn{spot("a", 2*time.Minute)}, []string{"keep"}},
			{2 * time.Second, Received{spot("a", 2*time.Minute)}, nil},
			{30 * time.Second, DrainEnded{Seq: 1, Outcome: Emptied}, nil},
			{31 * time.Second, Withdrawn{spot("a", 2*time.Minute)}, []string{"keep"}},
		}, PhaseDrained},
		{"5 after a stop the restarted agent finds the Spot record without a notice: uncordon", policy, []step{
			{0, rec(Recorded{Kind: SpotInterruption, ID: "a", Action: "stop", Source: SourceIMDS, Deadline: t0.Add(-time.Hour)}), []string{"keep"}},
			{time.Second, Synced{Source: SourceIMDS}, []string{"uncordon a"}},
		}, PhaseIdle},
		{"6 a Spot notice after a rebalance starts its drain at once", policy, []step{
			{0, Received{rebalance("r1")}, []string{"announce r1", "hook notice r1", "taint r1"}},
			{100 * time.Millisecond, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
		}, PhaseDraining},
		{"7 a restarted agent keeps the ASG deadline it recorded", policy, []step{
			{0, rec(Recorded{Kind: ASGTermination, ID: "ASGTermination/Terminated", Source: SourceIMDS,
				Deadline: t0.Add(30 * time.Second), Detected: t0.Add(-90 * time.Second)}), []string{"keep", "start#1 ASGTermination/Terminated by 30s resumed"}},
			{time.Second, Received{asg()}, nil},
		}, PhaseDraining},
		{"7 a restarted agent keeps the rebalance=drain deadline it recorded", Config{Rebalance: DrainNode, Margin: 15 * time.Second}, []step{
			{0, rec(Recorded{Kind: RebalanceRecommendation, ID: "r1", Source: SourceIMDS, Deadline: t0.Add(10 * time.Second)}), []string{"keep"}},
			{time.Second, Received{rebalance("r1")}, []string{"keep", "start#1 r1 by 10s resumed late"}},
		}, PhaseDraining},
		{"7 the ASG notice arrives before the node is read: the recorded deadline still wins", policy, []step{
			{0, Received{asg()}, []string{"announce ASGTermination/Terminated", "hook notice ASGTermination/Terminated", "event ASGTermination", "start#1 ASGTermination/Terminated by 2m0s"}},
			{time.Second, rec(Recorded{Kind: ASGTermination, ID: "ASGTermination/Terminated", Source: SourceIMDS,
				Deadline: t0.Add(30 * time.Second), Detected: t0.Add(-90 * time.Second)}), []string{"restart#1→#2 ASGTermination/Terminated by 30s"}},
			{2 * time.Second, rec(Recorded{Kind: ASGTermination, ID: "ASGTermination/Terminated", Source: SourceIMDS,
				Deadline: t0.Add(time.Hour)}), nil},
		}, PhaseDraining},
		{"7 a new ASG notice gets detection + 2m, once", policy, []step{
			{0, Received{asg()}, []string{"announce ASGTermination/Terminated", "hook notice ASGTermination/Terminated", "event ASGTermination", "start#1 ASGTermination/Terminated by 2m0s"}},
			{time.Minute, Received{asg()}, nil},
		}, PhaseDraining},
		{"9 an instance state change is drained whatever the policy says of the other kinds", Config{Margin: 15 * time.Second}, []step{
			{0, Received{stateChange("s1", time.Minute)}, []string{"announce s1", "hook notice s1", "event InstanceStateChange", "start#1 s1 by 1m0s"}},
		}, PhaseDraining},
		{"9 a Spot warning then shutting-down: the drain restarts to the state change's earlier time", Config{Margin: 15 * time.Second}, []step{
			{0, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
			{10 * time.Second, Received{stateChange("s1", 40*time.Second)}, []string{"announce s1", "hook notice s1", "event InstanceStateChange", "restart#1→#2 s1 by 40s"}},
		}, PhaseDraining},
		{"8 an unreadable record is cleaned up once IMDS has answered", policy, []step{
			{0, Resumed{Unreadable: errors.New("bad JSON")}, []string{"keep"}},
			{time.Second, Synced{Source: SourceIMDS}, []string{"uncordon "}},
		}, PhaseIdle},
		{"8 an unreadable record is overwritten by a notice that needs the node", policy, []step{
			{0, Resumed{Unreadable: errors.New("bad JSON")}, []string{"keep"}},
			{time.Second, Received{spot("a", 2*time.Minute)}, with(announceSpot, "start#1 a by 2m0s")},
			{time.Second, Synced{Source: SourceIMDS}, nil},
		}, PhaseDraining},
		{"8 a canceled maintenance record under a standing rebalance: uncordon, then taint", policy, []step{
			{0, rec(Recorded{Kind: ScheduledMaintenance, ID: "e1", Source: SourceIMDS, Deadline: t0.Add(time.Hour)}), []string{"keep"}},
			{time.Second, Received{rebalance("r1")}, []string{"announce r1", "hook notice r1"}},
			{2 * time.Second, Synced{Source: SourceIMDS}, []string{"uncordon e1", "taint r1"}},
		}, PhaseTainted},
	})
}

// TestPodsLeftDrainsAgain (issue #24 item 7): a drain that ended with pods
// still on the node is started again by the same message delivered again
// and by any later event for the node; one that emptied it is not.
func TestPodsLeftDrainsAgain(t *testing.T) {
	announceState := []string{"announce s", "hook notice s", "event InstanceStateChange"}
	runAll(t, []sequence{
		{"the same message again", policy, []step{
			{0, Received{stateChange("s", -time.Second)}, with(announceState, "start#1 s by -1s late")},
			{time.Minute, DrainEnded{Seq: 1, Outcome: PodsLeft}, nil},
			{80 * time.Second, Received{stateChange("s", -time.Second)}, []string{"start#2 s by -1s late"}},
			{2 * time.Minute, DrainEnded{Seq: 2, Outcome: Emptied}, nil},
			{3 * time.Minute, Received{stateChange("s", -time.Second)}, nil},
		}, PhaseDrained},
		{"a later event for the node", policy, []step{
			{0, Received{stateChange("s", -time.Second)}, with(announceState, "start#1 s by -1s late")},
			{time.Minute, DrainEnded{Seq: 1, Outcome: PodsLeft}, nil},
			{80 * time.Second, Received{spot("a", time.Minute)}, with(announceSpot, "start#2 s by -1s late")},
		}, PhaseDraining},
	})
}
