package drain

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/spot-handler/spot-handler/pkg/queue"
)

func TestSourceOf(t *testing.T) {
	for _, c := range []struct {
		n    NodeNotice
		want string
	}{
		{NodeNotice{ID: "SpotInterruption/terminate/x", Source: SourceIMDS}, SourceIMDS},
		{NodeNotice{ID: "queue/InstanceStateChange/i-1", Source: SourceQueue}, SourceQueue},
		{NodeNotice{ID: "SpotInterruption/terminate/x"}, SourceIMDS},
		{NodeNotice{ID: queue.IDPrefix + "SpotInterruption/i-1/x"}, SourceQueue},
		{NodeNotice{ID: "rehearsal-2026-12-01T22:00:00Z"}, SourceRehearsal},
		{NodeNotice{ID: "queue/x", Source: SourceIMDS}, SourceIMDS}, // the field wins
	} {
		if got := SourceOf(c.n); got != c.want {
			t.Errorf("SourceOf(%+v) = %q, want %q", c.n, got, c.want)
		}
	}
}

// bothSides is one node and a Drainer for each side, as the agent and the
// controller would hold them in mode both, on a fake API.
type bothSides struct {
	t                 *testing.T
	client            *fake.Clientset
	agent, controller *Drainer
	now               time.Time
}

const sidesNode = "n"

func newBothSides(t *testing.T, node *corev1.Node) *bothSides {
	t.Helper()
	node.Name = sidesNode
	s := &bothSides{t: t, client: fake.NewClientset(node), now: time.Now()}
	for _, d := range []struct {
		to   **Drainer
		name string
	}{{&s.agent, "spot-handler-abcde"}, {&s.controller, "spot-handler-controller-0"}} {
		pol := DefaultPolicy()
		pol.SelfNamespace, pol.SelfName = "kube-system", d.name
		var err error
		if *d.to, err = New(s.client, pol, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *bothSides) req(source, kind, id string, in time.Duration) Request {
	return Request{Node: sidesNode, Kind: kind, Action: "x", NoticeID: id, Deadline: s.now.Add(in), Source: source}
}

func (s *bothSides) node() *corev1.Node {
	s.t.Helper()
	n, err := s.client.CoreV1().Nodes().Get(context.Background(), sidesNode, metav1.GetOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// record is the node's record, which must be readable.
func (s *bothSides) record() *NodeNotice {
	s.t.Helper()
	rec, err := ReadNotice(s.node())
	if err != nil {
		s.t.Fatal(err)
	}
	return rec
}

func (s *bothSides) check(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

// withdraw is d's Uncordon for source, which must succeed.
func (s *bothSides) withdraw(d *Drainer, source string) *NodeNotice {
	s.t.Helper()
	held, err := d.Uncordon(context.Background(), sidesNode, source)
	s.check(err)
	return held
}

// TestNeitherSideUndoesTheOther (issue #20, item 3): in mode both, the
// agent's and the controller's notices are each recorded on the node with
// their source; one side's Uncordon withdraws only its own notice and
// leaves the node marked while the other side holds one; it removes only
// its own claim.
func TestNeitherSideUndoesTheOther(t *testing.T) {
	ctx := context.Background()
	stateChange := func(s *bothSides) Request {
		return s.req(SourceQueue, "InstanceStateChange", "queue/InstanceStateChange/i-1/shutting-down", time.Minute)
	}
	maintenance := func(s *bothSides) Request {
		return s.req(SourceIMDS, "ScheduledMaintenance", "ScheduledMaintenance/e1", 14*24*time.Hour)
	}
	cordoned := func(s *bothSides) bool { n := s.node(); return n.Spec.Unschedulable && drainTaintOf(n) != nil }
	// both is a node the controller cordoned for a state change, and then
	// the agent for a maintenance event.
	both := func(t *testing.T) *bothSides {
		s := newBothSides(t, &corev1.Node{})
		s.check(s.controller.Cordon(ctx, stateChange(s)))
		s.check(s.agent.Cordon(ctx, maintenance(s)))
		return s
	}
	t.Run("the agent cordons over the controller's drain: both notices are recorded", func(t *testing.T) {
		s := both(t)
		rec := s.record()
		if c, a := rec.Held(SourceQueue), rec.Held(SourceIMDS); c == nil || c.ID != stateChange(s).NoticeID || a == nil || a.ID != maintenance(s).NoticeID {
			t.Fatalf("record %+v: want the controller's and the agent's notices", rec)
		}
	})
	t.Run("the agent's withdrawal leaves the controller's drain", func(t *testing.T) {
		s := both(t)
		held := s.withdraw(s.agent, SourceIMDS)
		rec := s.record()
		if held == nil || held.ID != stateChange(s).NoticeID || !cordoned(s) || rec == nil || rec.ID != stateChange(s).NoticeID || rec.Held(SourceIMDS) != nil {
			t.Errorf("after the agent's uncordon: held %+v, cordoned %v, record %+v; want the node cordoned for the controller's notice alone", held, cordoned(s), rec)
		}
	})
	t.Run("the controller cordons over the agent's maintenance; the agent's withdrawal leaves it", func(t *testing.T) {
		s := newBothSides(t, &corev1.Node{})
		s.check(s.agent.Cordon(ctx, maintenance(s)))
		s.check(s.controller.Cordon(ctx, stateChange(s)))
		if rec := s.record(); rec.Held(SourceIMDS) == nil || rec.Held(SourceQueue) == nil {
			t.Fatalf("record %+v: want both notices", rec)
		}
		held := s.withdraw(s.agent, SourceRehearsal) // the agent's side, whichever of its sources
		if held == nil || !cordoned(s) || s.record().Held(SourceQueue) == nil {
			t.Errorf("held %+v, cordoned %v, record %+v: the controller's drain was undone", held, cordoned(s), s.record())
		}
	})
	t.Run("a controller's record from before sources were recorded is kept", func(t *testing.T) {
		s := newBothSides(t, &corev1.Node{})
		legacy := stateChange(s)
		legacy.Source = ""
		s.check(s.controller.Cordon(ctx, legacy))
		held := s.withdraw(s.agent, SourceIMDS)
		if held == nil || !cordoned(s) || s.record() == nil {
			t.Errorf("held %+v, cordoned %v: the agent undid the controller's legacy record", held, cordoned(s))
		}
	})
	t.Run("the last side's withdrawal removes every mark", func(t *testing.T) {
		s := both(t)
		s.withdraw(s.agent, SourceIMDS)
		held := s.withdraw(s.controller, SourceQueue)
		n := s.node()
		if held != nil || n.Spec.Unschedulable || drainTaintOf(n) != nil || n.Annotations[NoticeAnnotation] != "" || n.Annotations[AddedAnnotation] != "" {
			t.Errorf("held %+v, node %+v: want every mark removed", held, n)
		}
	})
	t.Run("a withdrawal under the other side's taint only leaves the taint, PreferNoSchedule", func(t *testing.T) {
		s := newBothSides(t, &corev1.Node{})
		s.check(s.controller.Taint(ctx, s.req(SourceQueue, "RebalanceRecommendation", "queue/RebalanceRecommendation/i-1", time.Hour)))
		s.check(s.agent.Cordon(ctx, maintenance(s)))
		if !cordoned(s) {
			t.Fatal("the agent's cordon did not cordon")
		}
		held := s.withdraw(s.agent, SourceIMDS)
		n := s.node()
		tn := drainTaintOf(n)
		if held == nil || n.Spec.Unschedulable || tn == nil || tn.Effect != corev1.TaintEffectPreferNoSchedule || tn.Value != "RebalanceRecommendation" {
			t.Errorf("held %+v, unschedulable %v, taint %+v: want only the controller's PreferNoSchedule taint", held, n.Spec.Unschedulable, tn)
		}
	})
	t.Run("a taint only never weakens the other side's drain", func(t *testing.T) {
		s := newBothSides(t, &corev1.Node{})
		s.check(s.controller.Cordon(ctx, stateChange(s)))
		s.check(s.agent.Taint(ctx, s.req(SourceIMDS, "RebalanceRecommendation", "RebalanceRecommendation/x", time.Hour)))
		if tn := drainTaintOf(s.node()); !cordoned(s) || tn.Effect != corev1.TaintEffectNoSchedule || tn.Value != "InstanceStateChange" {
			t.Errorf("taint %+v after the agent's rebalance taint over the controller's drain, want the drain's", tn)
		}
	})
	t.Run("uncordon removes only its own claim", func(t *testing.T) {
		live := claim{holder: "kube-system/spot-handler-controller-0", until: time.Now().Add(time.Minute)}.String()
		s := newBothSides(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{ClaimAnnotation: live}}})
		s.check(s.agent.Cordon(ctx, maintenance(s)))
		s.withdraw(s.agent, SourceIMDS)
		n := s.node()
		if n.Annotations[ClaimAnnotation] != live || n.Spec.Unschedulable {
			t.Errorf("claim %q (want %q kept), unschedulable %v", n.Annotations[ClaimAnnotation], live, n.Spec.Unschedulable)
		}
		mine := claim{holder: s.agent.holder, until: time.Now().Add(time.Minute)}.String()
		n.Annotations[ClaimAnnotation] = mine
		if _, err := s.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		s.check(s.agent.Cordon(ctx, maintenance(s)))
		s.withdraw(s.agent, SourceIMDS)
		if c, ok := s.node().Annotations[ClaimAnnotation]; ok {
			t.Errorf("the agent's own claim %q stayed", c)
		}
	})
}

// drainTaintOf is the node's TaintKey taint, or nil.
func drainTaintOf(n *corev1.Node) *corev1.Taint {
	for i := range n.Spec.Taints {
		if n.Spec.Taints[i].Key == TaintKey {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

// TestUnmarkRefusedWhenOtherSideMarksInBetween: the agent withdraws its
// rehearsal while the controller records a real Spot notice of the same
// kind between the agent's read of the node and its patch. The two marks
// leave /spec/taints alike, so only a guard on the notice record can refuse
// the agent's stale patch; refused, the agent's Uncordon reads the node
// again and leaves the controller's record, cordon and taint in place.
func TestUnmarkRefusedWhenOtherSideMarksInBetween(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	pol := DefaultPolicy()
	pol.Parallelism = 1
	agent, _ := New(cs, pol, nil, nil)
	ctrl, _ := New(cs, pol, nil, nil)
	deadline := time.Now().Add(2 * time.Minute)
	if err := agent.Cordon(ctx, Request{Node: "n1", Kind: "SpotInterruption", NoticeID: "rehearsal-1", Deadline: deadline, Source: SourceRehearsal}); err != nil {
		t.Fatal(err)
	}
	seen, err := cs.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale, held := unmarkPatch(seen, pol, SourceRehearsal, agent.holder)
	if held != nil {
		t.Fatalf("held by %+v, want the rehearsal's marks removed", held)
	}
	if err := ctrl.Cordon(ctx, Request{Node: "n1", Kind: "SpotInterruption", NoticeID: "queue/spot/i-1", Deadline: deadline, Source: SourceQueue}); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(stale)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Nodes().Patch(ctx, "n1", types.JSONPatchType, body, metav1.PatchOptions{}); err == nil {
		t.Errorf("stale unmark patch %s applied over the controller's notice, want it refused", body)
	}
	if _, err := agent.Uncordon(ctx, "n1", SourceRehearsal); err != nil {
		t.Fatalf("agent's Uncordon: %v", err)
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := parseNotice(n)
	if err != nil || rec == nil || rec.ID != "queue/spot/i-1" {
		t.Errorf("notice after the agent's withdrawal = %+v (%v), want the controller's queue/spot/i-1", rec, err)
	}
	if !n.Spec.Unschedulable || taintIndex(n) < 0 {
		t.Errorf("unschedulable=%v taints=%v, want the controller's cordon and taint kept", n.Spec.Unschedulable, n.Spec.Taints)
	}
}
