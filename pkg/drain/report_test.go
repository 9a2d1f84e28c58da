package drain

import (
	"strings"
	"testing"
	"time"
)

func TestAcceptedAfter(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	if d, ok := (&Report{}).AcceptedAfter(t0); ok || d != 0 {
		t.Errorf("no eviction accepted: %v %v, want 0 false", d, ok)
	}
	r := &Report{AllAccepted: t0.Add(1500 * time.Millisecond)}
	if d, ok := r.AcceptedAfter(t0); !ok || d.Milliseconds() != 1500 {
		t.Errorf("got %v %v, want 1.5s true", d, ok)
	}
}

// TestReportLateAndEmpty: the report's reading of a drain that watched on
// after the node was first empty (issue 20, item 2): the spare time counts
// from the first empty moment, the pods that reached the node after it are
// Late, and a pod left undecided keeps the node from being called empty.
func TestReportLateAndEmpty(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	rep := &Report{Node: "n", Deadline: t0.Add(120 * time.Second), Margin: 15 * time.Second,
		Emptied: t0.Add(30 * time.Second), Finished: t0.Add(105 * time.Second), Empty: true,
		Pods: []PodResult{
			{Name: "web", Outcome: Evicted, TerminatedBy: ByDrain},
			{Name: "scaled-down", Outcome: GoneBeforeEviction, TerminatedBy: ByOtherAfterPlan},
			{Name: "came-during", Outcome: Evicted, TerminatedBy: ByDrain, Arrived: t0.Add(10 * time.Second)},
			{Name: "typha", Outcome: Evicted, TerminatedBy: ByDrain, Arrived: t0.Add(60 * time.Second)},
			{Name: "same-tick", Outcome: Evicted, TerminatedBy: ByDrain, Arrived: t0.Add(30 * time.Second)},
		}}
	if got := rep.Spare(); got != 75*time.Second {
		t.Errorf("Spare = %v, want 75s (from the first empty moment, not the end of the watch)", got)
	}
	if late := rep.Late(); len(late) != 2 || late[0].Name != "typha" || late[1].Name != "same-tick" {
		t.Errorf("Late = %+v, want the pods seen once the node was empty (on a coarse clock, at the same tick)", late)
	}
	if n := rep.TerminatedByOthers(); n != 1 {
		t.Errorf("TerminatedByOthers = %d, want 1", n)
	}
	for _, want := range []string{"5 pods: 4 evicted", "1 terminated by someone else", "empty 75.0s before deadline-margin",
		"2 pods reached the node after it was empty"} {
		if !strings.Contains(rep.Summary(), want) {
			t.Errorf("summary %q lacks %q", rep.Summary(), want)
		}
	}

	undecided := &Report{Node: "n", Deadline: t0.Add(120 * time.Second), Margin: 15 * time.Second, Finished: t0.Add(105 * time.Second),
		Undecided: []SkippedPod{{Namespace: "ns", Name: "logs-x", Reason: "undecided: reading DaemonSet ns/logs: etcd leader changed"}}}
	if !undecided.MissedDeadline() || !strings.Contains(undecided.Summary(), "ns/logs-x: undecided") {
		t.Errorf("undecided pod: missed %v, summary %q; want missed, the pod named", undecided.MissedDeadline(), undecided.Summary())
	}
	if len((&Report{}).Late()) != 0 {
		t.Error("a report never empty has late pods")
	}
}

func TestStarterWords(t *testing.T) {
	for s, want := range map[Starter]string{ByDrain: "this drain", ByOtherBeforePlan: "before the drain planned",
		ByOtherAfterPlan: "after the drain planned", "": "no one seen"} {
		if got := s.words(); !strings.Contains(got, want) {
			t.Errorf("%q.words() = %q, want it to say %q", s, got, want)
		}
	}
}
