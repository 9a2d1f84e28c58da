package drain

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
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
// notice starts afresh. The same holds for a request that names no source
// but a queue's notice ID: it is the controller's, as the record it writes.
func TestDrainResumedOnlyWhenStartedBefore(t *testing.T) {
	for _, c := range []struct{ node, id, source string }{
		{"drain-resumed", "resumed-1", SourceIMDS},
		{"drain-resumed-queue-id", "queue/LifecycleAction/i-1", SourceQueue},
	} {
		t.Run(c.id, func(t *testing.T) { drainResumedOnlyWhenStartedBefore(t, c.node, c.id, c.source) })
	}
}

func drainResumedOnlyWhenStartedBefore(t *testing.T, node, id, source string) {
	p, _ := nodeTest(t, node, workload{name: "web", replicas: 3, grace: 1})
	ctx := context.Background()
	samePod := func(pol *Policy) { pol.SelfNamespace, pol.SelfName = "kube-system", "spot-handler-"+node }
	first := newDrainer(t, p, samePod)
	req := Request{Node: node, Kind: "SpotInterruption", Action: "terminate", NoticeID: id, Deadline: time.Now().Add(2 * time.Minute)}
	drainOnce := func(who string, d *Drainer, want bool) {
		t.Helper()
		if rep := drainToEmpty(t, p, d, req); rep.Resumed != want {
			t.Errorf("%s: resumed=%v, want %v", who, rep.Resumed, want)
		}
	}
	if err := first.Cordon(ctx, req); err != nil {
		t.Fatal(err)
	}
	if rec, _ := parseNotice(getNode(t, p, node)); rec == nil || rec.By != first.self || len(rec.Others) != 0 {
		t.Fatalf("notice recorded as %+v, want one notice by %q", rec, first.self)
	}
	drainOnce("drain after the caller's cordon", first, false)
	drainOnce("the same drainer's second drain", first, true)
	drainOnce("a restarted agent in the same pod", newDrainer(t, p, samePod), true)
	if rec, _ := parseNotice(getNode(t, p, node)); rec == nil || len(rec.Others) != 0 {
		t.Errorf("after three drains the record is %+v, want one notice", rec)
	}
	if _, err := first.Uncordon(ctx, node, source); err != nil {
		t.Fatal(err)
	}
	drainOnce("after uncordon", first, false)
}

// TestForgetBoundsRememberedDrains: a long-lived Drainer (the
// controller's) drains node after node; Spot or the group terminates them
// and they are deleted, never uncordoned. What it remembers of their
// drains grows by one per node until Forget; after Forget a drain of the
// same notice starts afresh (not resumed).
func TestForgetBoundsRememberedDrains(t *testing.T) {
	const n = 20
	ctx := context.Background()
	cs := fake.NewSimpleClientset()
	d, err := New(cs, DefaultPolicy(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	remembered := func() int {
		d.runs.mu.Lock()
		defer d.runs.mu.Unlock()
		return len(d.runs.notice)
	}
	req := func(i int) Request {
		return Request{Node: fmt.Sprintf("spot-%02d", i), Kind: "SpotInterruption", Action: "terminate",
			NoticeID: fmt.Sprintf("queue/SpotInterruption/i-%02d", i), Deadline: time.Now().Add(2 * time.Minute), Source: SourceQueue}
	}
	for i := range n {
		if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: req(i).Node}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Drain(ctx, req(i)); err != nil {
			t.Fatalf("drain of %s: %v", req(i).Node, err)
		}
	}
	if got := remembered(); got != n {
		t.Fatalf("%d drains remembered after draining %d nodes, want %d", got, n, n)
	}
	for i := range n {
		d.Forget(req(i).Node)
	}
	if got := remembered(); got != 0 {
		t.Errorf("%d drains remembered after every node was forgotten, want 0", got)
	}
	if rep, err := d.Drain(ctx, req(0)); err != nil || rep.Resumed {
		t.Errorf("drain after Forget: resumed=%v (%v), want a fresh drain", rep.Resumed, err)
	}
}
