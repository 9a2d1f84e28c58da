package drain

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// opsString is a patch as compact JSON, for comparing.
func opsString(t *testing.T, ops []patchOp) string {
	t.Helper()
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMarkPatch(t *testing.T) {
	now := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	req := Request{Node: "n", Kind: "SpotInterruption", NoticeID: "i-1", Deadline: now.Add(2 * time.Minute)}
	pol := DefaultPolicy()
	other := corev1.Taint{Key: "team", Value: "x", Effect: corev1.TaintEffectNoSchedule}
	for _, c := range []struct {
		name string
		node corev1.Node
		want []string // substrings of the patch, in order
		none bool     // no patch: the node already carries it all
	}{
		{"bare node: guarded adds of taints, labels and annotations", corev1.Node{},
			[]string{`{"op":"test","path":"/spec/taints"}`, `{"op":"add","path":"/spec/taints","value":[{"key":"spot-handler.io/interruption","value":"SpotInterruption","effect":"NoSchedule"}]}`,
				`{"op":"add","path":"/spec/unschedulable","value":true}`, `{"op":"test","path":"/metadata/labels"}`,
				`{"op":"test","path":"/metadata/annotations"}`, `"spot-handler.io/added":"taint,unschedulable,label"`}, false},
		{"someone's taint: append, guarded by the list read", corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{other}},
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"kubernetes.io/hostname": "n"}, Annotations: map[string]string{"x": "y"}}},
			[]string{`{"op":"test","path":"/spec/taints","value":[{"key":"team"`, `{"op":"add","path":"/spec/taints/-"`,
				`"path":"/metadata/labels/node.kubernetes.io~1exclude-from-external-load-balancers","value":"true"`}, false},
		{"our taint with another value: replaced in place", corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{other, {Key: TaintKey, Value: "Rebalance", Effect: corev1.TaintEffectPreferNoSchedule}}},
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"kubernetes.io/hostname": "n"}, Annotations: map[string]string{"x": "y"}}},
			[]string{`{"op":"test","path":"/spec/taints"`, `{"op":"replace","path":"/spec/taints/1"`}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ops, err := markPatch(&c.node, req, pol, corev1.TaintEffectNoSchedule, false, now)
			if err != nil {
				t.Fatal(err)
			}
			got := opsString(t, ops)
			at := 0
			for _, w := range c.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("patch %s\nlacks (in order) %s", got, w)
				}
				at += i + len(w)
			}
		})
	}
	t.Run("marked node: no patch, and the first detection time is kept", func(t *testing.T) {
		n := corev1.Node{}
		ops, _ := markPatch(&n, req, pol, corev1.TaintEffectNoSchedule, false, now)
		applyForTest(t, &n, ops)
		again, err := markPatch(&n, req, pol, corev1.TaintEffectNoSchedule, false, now.Add(time.Minute))
		if err != nil || again != nil {
			t.Errorf("second mark: %s %v, want no patch", opsString(t, again), err)
		}
	})
}

func TestUnmarkPatchRemovesOnlyWhatWasAdded(t *testing.T) {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{DefaultExcludeLabel: "true"},
			Annotations: map[string]string{AddedAnnotation: "taint", NoticeAnnotation: "{}", ClaimAnnotation: "me 2026-12-01T22:00:00Z"}},
		Spec: corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{{Key: "team"}, {Key: TaintKey}}},
	}
	ops, held := unmarkPatch(n, DefaultPolicy(), SourceIMDS, "me")
	if held != nil {
		t.Errorf("held by %+v, want the marks removed", held)
	}
	got := opsString(t, ops)
	for _, w := range []string{`{"op":"remove","path":"/spec/taints/1"}`, `/metadata/annotations/spot-handler.io~1notice`,
		`/metadata/annotations/spot-handler.io~1added`, `/metadata/annotations/spot-handler.io~1drainer`} {
		if !strings.Contains(got, w) {
			t.Errorf("unmark patch %s lacks %s", got, w)
		}
	}
	for _, w := range []string{`/spec/unschedulable`, `/metadata/labels/`} {
		if strings.Contains(got, w) {
			t.Errorf("unmark patch %s touches %s, which the drain did not add", got, w)
		}
	}
}

// applyForTest applies the add ops markPatch makes on a bare node (whole
// maps and lists), enough to build a marked node.
func applyForTest(t *testing.T, n *corev1.Node, ops []patchOp) {
	t.Helper()
	for _, op := range ops {
		if op.Op != "add" {
			continue
		}
		b, _ := json.Marshal(op.Value)
		switch op.Path {
		case "/spec/taints":
			_ = json.Unmarshal(b, &n.Spec.Taints)
		case "/spec/unschedulable":
			n.Spec.Unschedulable = true
		case "/metadata/labels":
			_ = json.Unmarshal(b, &n.Labels)
		case "/metadata/annotations":
			_ = json.Unmarshal(b, &n.Annotations)
		default:
			t.Fatalf("unexpected op %+v", op)
		}
	}
}
