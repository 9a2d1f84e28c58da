package drain

import (
	"context"
	"testing"
	"time"
)

func TestContinues(t *testing.T) {
	req := Request{Node: "n", Kind: "SpotInterruption", NoticeID: "spot-1"}
	const self = "kube-system/agent@aaaa"
	rec := func(id, by string, taintOnly bool) *NodeNotice {
		return &NodeNotice{Kind: "SpotInterruption", ID: id, By: by, TaintOnly: taintOnly}
	}
	for _, c := range []struct {
		name      string
		rec       *NodeNotice
		ranBefore bool
		want      bool
	}{
		{"no record", nil, false, false},
		{"recorded by this drainer's cordon just before", rec("spot-1", self, false), false, false},
		{"recorded by this drainer, a drain of it ran before", rec("spot-1", self, false), true, true},
		{"recorded by an earlier process in the same pod", rec("spot-1", "kube-system/agent@bbbb", false), false, true},
		{"recorded by another leader", rec("spot-1", "drainer-0123456789ab@cccc", false), false, true},
		{"recorded before records named their writer", rec("spot-1", "", false), false, true},
		{"another notice recorded", rec("spot-0", "kube-system/agent@bbbb", false), false, false},
		{"another notice recorded, this one ran before", rec("spot-0", self, false), true, false},
		{"same notice only tainted", rec("spot-1", "kube-system/agent@bbbb", true), false, false},
		{"same ID, another kind", &NodeNotice{Kind: "RebalanceRecommendation", ID: "spot-1", By: "x"}, false, false},
		{"the same notice held by the other side", &NodeNotice{Kind: "SpotInterruption", ID: "spot-1", By: "x", Source: SourceQueue}, false, false},
		{"recorded by an earlier process, under the other side's notice", &NodeNotice{Kind: "InstanceStateChange", ID: "queue/x", Source: SourceQueue,
			Others: []NodeNotice{*rec("spot-1", "kube-system/agent@bbbb", false)}}, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := continues(c.rec, req, self, c.ranBefore); got != c.want {
				t.Errorf("continues = %v, want %v", got, c.want)
			}
		})
	}
}

func TestRecorderIDIsPerDrainer(t *testing.T) {
	pol := DefaultPolicy()
	pol.SelfNamespace, pol.SelfName = "kube-system", "agent-x"
	a, err := New(nil, pol, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(nil, pol, nil, nil)
	if a.holder != b.holder {
		t.Errorf("claim holders %q and %q differ; one pod's agents share it", a.holder, b.holder)
	}
	if a.self == b.self {
		t.Errorf("two Drainers (processes) record notices as the same %q", a.self)
	}
}

// TestDrainResumedOnlyWhenStartedBefore: a Drain right after its caller's
// own Cordon is not resumed (the agent and the controller cordon first);
// a second Drain of the notice by the same Drainer, and a Drain by a new
// Drainer of the same pod (a restarted agent), are; after Uncordon the
// notice starts afresh.
func TestDrainResumedOnlyWhenStartedBefore(t *testing.T) {
	const node = "drain-resumed"
	p, _ := nodeTest(t, node, workload{name: "web", replicas: 3, grace: 1})
	ctx := context.Background()
	samePod := func(pol *Policy) { pol.SelfNamespace, pol.SelfName = "kube-system", "spot-handler-"+node }
	first := newDrainer(t, p, samePod)
	req := Request{Node: node, Kind: "SpotInterruption", Action: "terminate", NoticeID: "resumed-1", Deadline: time.Now().Add(2 * time.Minute)}
	drainOnce := func(who string, d *Drainer, want bool) {
		t.Helper()
		if rep := drainToEmpty(t, p, d, req); rep.Resumed != want {
			t.Errorf("%s: resumed=%v, want %v", who, rep.Resumed, want)
		}
	}
	if err := first.Cordon(ctx, req); err != nil {
		t.Fatal(err)
	}
	if rec, _ := parseNotice(getNode(t, p, node)); rec == nil || rec.By != first.self {
		t.Fatalf("notice recorded by %+v, want %q", rec, first.self)
	}
	drainOnce("drain after the caller's cordon", first, false)
	drainOnce("the same drainer's second drain", first, true)
	drainOnce("a restarted agent in the same pod", newDrainer(t, p, samePod), true)
	if _, err := first.Uncordon(ctx, node, SourceIMDS); err != nil {
		t.Fatal(err)
	}
	drainOnce("after uncordon", first, false)
}
