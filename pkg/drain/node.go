package drain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// NodeNotice is the notice recorded on a node in NoticeAnnotation.
type NodeNotice struct {
	// Kind, Action, ID and Deadline are the Request's Kind, Action,
	// NoticeID and Deadline (UTC); a resumed drain matches on Kind and ID.
	Kind     string    `json:"kind"`
	Action   string    `json:"action,omitempty"`
	ID       string    `json:"id,omitempty"`
	Deadline time.Time `json:"deadline"`
	// Detected is when the notice was first seen; a resumed drain keeps it.
	Detected time.Time `json:"detected"`
	// TaintOnly is true when the node was only tainted (a rebalance
	// recommendation), not cordoned for a drain.
	TaintOnly bool `json:"taintOnly,omitempty"`
	// By names the Drainer that first recorded the notice: its claim
	// holder and a suffix unique to its process ("" in records from before
	// this field). A drain that finds the notice recorded by another is
	// resumed (Report.Resumed); a later record of the same notice keeps it.
	By string `json:"by,omitempty"`
	// Source is the source that holds the notice: SourceIMDS, SourceQueue
	// or SourceRehearsal ("" in records from before this field: SourceOf
	// tells it by the ID). Only its own side undoes it.
	Source string `json:"source,omitempty"`
	// Others are the notices the other side holds on the node at the same
	// time (the agent's and the controller's, in mode both), each without
	// Others. The node's marks stay while any side holds a notice.
	Others []NodeNotice `json:"others,omitempty"`
}

// What a drain adds, as listed in AddedAnnotation.
const (
	addedUnschedulable = "unschedulable"
	addedTaint         = "taint"
	addedLabel         = "label"
)

// patchOp is one JSON patch (RFC 6902) operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// testOp guards a patch: it fails (422) if path no longer holds value, so a
// concurrent writer is never overwritten; the caller re-reads and retries.
// A nil value tests that the path is absent.
func testOp(path string, value any) patchOp { return patchOp{Op: "test", Path: path, Value: value} }

// pointer escapes a map key for a JSON pointer (RFC 6901).
func pointer(key string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

// markPatch returns the JSON patch that taints node for req (and, unless
// taintOnly, cordons and labels it) and records the notice, or nil if the
// node already carries all of it. The notice replaces the one req's side
// recorded before; the other side's stays in the record (Others), and a
// taint only never weakens the taint of the other side's drain.
func markPatch(node *corev1.Node, req Request, p Policy, effect corev1.TaintEffect, taintOnly bool, now time.Time) ([]patchOp, error) {
	notice := recordFor(node, req, taintOnly, now)
	added := splitAdded(node.Annotations[AddedAnnotation])
	var ops []patchOp
	taint := corev1.Taint{Key: TaintKey, Value: req.Kind, Effect: effect}
	i := taintIndex(node)
	switch {
	case i >= 0 && node.Spec.Taints[i].Value == taint.Value && node.Spec.Taints[i].Effect == taint.Effect:
	case i >= 0 && taintOnly && holdsDrain(notice.Others):
	case i >= 0:
		ops = append(ops, testOp("/spec/taints", node.Spec.Taints),
			patchOp{Op: "replace", Path: fmt.Sprintf("/spec/taints/%d", i), Value: taint})
	case len(node.Spec.Taints) == 0:
		ops = append(ops, testOp("/spec/taints", nil), patchOp{Op: "add", Path: "/spec/taints", Value: []corev1.Taint{taint}})
		added = addOnce(added, addedTaint)
	default:
		ops = append(ops, testOp("/spec/taints", node.Spec.Taints), patchOp{Op: "add", Path: "/spec/taints/-", Value: taint})
		added = addOnce(added, addedTaint)
	}
	if !taintOnly && !node.Spec.Unschedulable {
		ops = append(ops, patchOp{Op: "add", Path: "/spec/unschedulable", Value: true})
		added = addOnce(added, addedUnschedulable)
	}
	if !taintOnly && p.ExcludeLabel != "" && node.Labels[p.ExcludeLabel] == "" {
		if len(node.Labels) == 0 {
			ops = append(ops, testOp("/metadata/labels", nil),
				patchOp{Op: "add", Path: "/metadata/labels", Value: map[string]string{p.ExcludeLabel: "true"}})
		} else {
			ops = append(ops, patchOp{Op: "add", Path: "/metadata/labels/" + pointer(p.ExcludeLabel), Value: "true"})
		}
		added = addOnce(added, addedLabel)
	}
	b, err := json.Marshal(notice)
	if err != nil {
		return nil, fmt.Errorf("encoding notice annotation: %w", err)
	}
	want := map[string]string{NoticeAnnotation: string(b), AddedAnnotation: strings.Join(added, ",")}
	if len(ops) == 0 && node.Annotations[NoticeAnnotation] == want[NoticeAnnotation] && node.Annotations[AddedAnnotation] == want[AddedAnnotation] {
		return nil, nil
	}
	if len(node.Annotations) == 0 {
		ops = append(ops, testOp("/metadata/annotations", nil), patchOp{Op: "add", Path: "/metadata/annotations", Value: want})
	} else {
		// Guarded: the other side's notice, read with the node, is kept.
		ops = append(ops, testOp(annotationPath(NoticeAnnotation), annotation(node, NoticeAnnotation)))
		for _, k := range []string{NoticeAnnotation, AddedAnnotation} {
			ops = append(ops, patchOp{Op: "add", Path: annotationPath(k), Value: want[k]})
		}
	}
	return ops, nil
}

// recordFor is the record markPatch writes for req: req's notice (or the
// same notice as its side recorded it before, keeping the first detection
// time) with the other side's notice, if any, in Others. An unreadable
// record is replaced.
func recordFor(node *corev1.Node, req Request, taintOnly bool, now time.Time) NodeNotice {
	detected := req.Detected
	if detected.IsZero() {
		detected = now
	}
	notice := NodeNotice{Kind: req.Kind, Action: req.Action, ID: req.NoticeID, Deadline: req.Deadline.UTC(),
		Detected: detected.UTC(), TaintOnly: taintOnly, By: req.recorder, Source: req.Source}
	old, err := parseNotice(node)
	if err != nil {
		return notice
	}
	for _, h := range old.all() {
		if side(SourceOf(h)) == side(req.Source) && h.ID == notice.ID && h.Kind == notice.Kind && h.TaintOnly == taintOnly {
			if h.Source == "" {
				h.Source = req.Source
			}
			notice = h // resuming: keep the first detection time
		}
	}
	notice.Others = old.otherSide(req.Source)
	return notice
}

// unmarkPatch returns the JSON patch that withdraws source's side's notice
// from the node. When the other side holds none, it removes what markPatch
// added (as AddedAnnotation records) and the record; else it records only
// the other side's notices, which it returns the first of, and leaves the
// node marked for them (see keepFor). It removes holder's claim, no other.
// It returns nil ops if there is nothing to change.
func unmarkPatch(node *corev1.Node, p Policy, source, holder string) ([]patchOp, *NodeNotice) {
	rec, err := parseNotice(node)
	rest := rec.otherSide(source)
	if err != nil || len(rest) == 0 {
		return append(unmarkAll(node, p), unclaimPatch(node, holder)...), nil
	}
	return append(keepFor(node, p, rest), unclaimPatch(node, holder)...), &rest[0]
}

// unmarkAll removes every mark markPatch added and the record. The patch
// is guarded on the record as read (see noticeGuard): a notice the other
// side records in between fails it, and the caller reads the node again.
func unmarkAll(node *corev1.Node, p Policy) []patchOp {
	added := splitAdded(node.Annotations[AddedAnnotation])
	var ops []patchOp
	if slices.Contains(added, addedTaint) {
		if i := taintIndex(node); i >= 0 {
			ops = append(ops, testOp("/spec/taints", node.Spec.Taints), patchOp{Op: "remove", Path: fmt.Sprintf("/spec/taints/%d", i)})
		}
	}
	cordon, _ := uncordonOps(node, p, added)
	ops = append(ops, cordon...)
	for _, k := range []string{NoticeAnnotation, AddedAnnotation} {
		if _, ok := node.Annotations[k]; ok {
			ops = append(ops, patchOp{Op: "remove", Path: annotationPath(k)})
		}
	}
	return noticeGuard(node, ops)
}

// noticeGuard prepends to ops, unless there are none, a test that the
// node's notice record is still the one read with it, so that the patch
// never undoes a mark the other side recorded in between.
func noticeGuard(node *corev1.Node, ops []patchOp) []patchOp {
	if len(ops) == 0 {
		return nil
	}
	guard := testOp(annotationPath(NoticeAnnotation), annotation(node, NoticeAnnotation))
	if len(node.Annotations) == 0 {
		guard = testOp("/metadata/annotations", nil)
	}
	return append([]patchOp{guard}, ops...)
}

// keepFor returns the patch that records only rest (the other side's
// notices) and leaves the node marked for them: when every one of them is a
// taint only, the cordon and the label go and the taint becomes
// PreferNoSchedule. Like unmarkAll's, the patch is guarded on the record
// as read, also when only the cordon or the taint changes.
func keepFor(node *corev1.Node, p Policy, rest []NodeNotice) []patchOp {
	rec := rest[0]
	rec.Others = rest[1:]
	if len(rec.Others) == 0 {
		rec.Others = nil
	}
	var ops []patchOp
	if b, err := json.Marshal(rec); err == nil && string(b) != node.Annotations[NoticeAnnotation] {
		ops = append(ops, patchOp{Op: "add", Path: annotationPath(NoticeAnnotation), Value: string(b)})
	}
	if holdsDrain(rest) {
		return noticeGuard(node, ops)
	}
	cordon, left := uncordonOps(node, p, splitAdded(node.Annotations[AddedAnnotation]))
	if i := taintIndex(node); i >= 0 && node.Spec.Taints[i].Effect != corev1.TaintEffectPreferNoSchedule {
		cordon = append(cordon, testOp("/spec/taints", node.Spec.Taints), patchOp{Op: "replace", Path: fmt.Sprintf("/spec/taints/%d", i),
			Value: corev1.Taint{Key: TaintKey, Value: rec.Kind, Effect: corev1.TaintEffectPreferNoSchedule}})
	}
	if len(cordon) == 0 {
		return noticeGuard(node, ops)
	}
	return noticeGuard(node, append(append(ops, cordon...), patchOp{Op: "add", Path: annotationPath(AddedAnnotation), Value: strings.Join(left, ",")}))
}

// uncordonOps returns the ops that remove the cordon and the label if the
// drain added them (added), and what remains added after them.
func uncordonOps(node *corev1.Node, p Policy, added []string) ([]patchOp, []string) {
	var ops []patchOp
	if slices.Contains(added, addedUnschedulable) && node.Spec.Unschedulable {
		ops = append(ops, patchOp{Op: "replace", Path: "/spec/unschedulable", Value: false})
	}
	if slices.Contains(added, addedLabel) && p.ExcludeLabel != "" {
		if _, ok := node.Labels[p.ExcludeLabel]; ok {
			ops = append(ops, patchOp{Op: "remove", Path: "/metadata/labels/" + pointer(p.ExcludeLabel)})
		}
	}
	left := slices.DeleteFunc(slices.Clone(added), func(a string) bool { return a == addedUnschedulable || a == addedLabel })
	return ops, left
}

// holdsDrain reports whether any of ns is a drain, not a taint only.
func holdsDrain(ns []NodeNotice) bool {
	return slices.ContainsFunc(ns, func(n NodeNotice) bool { return !n.TaintOnly })
}

// taintIndex is the index of TaintKey's taint on node, or -1.
func taintIndex(node *corev1.Node) int {
	return slices.IndexFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == TaintKey })
}

// annotationPath is the JSON pointer of annotation key.
func annotationPath(key string) string { return "/metadata/annotations/" + pointer(key) }

// annotation is the node's annotation key, or nil (a test that it is
// absent) when it has none.
func annotation(node *corev1.Node, key string) any {
	if v, ok := node.Annotations[key]; ok {
		return v
	}
	return nil
}

func splitAdded(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func addOnce(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// ReadNotice reads the notice a drain recorded on node (NoticeAnnotation);
// nil without error when there is none.
func ReadNotice(node *corev1.Node) (*NodeNotice, error) { return parseNotice(node) }

// parseNotice reads NoticeAnnotation; nil without error when absent.
func parseNotice(node *corev1.Node) (*NodeNotice, error) {
	s, ok := node.Annotations[NoticeAnnotation]
	if !ok {
		return nil, nil
	}
	var n NodeNotice
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		return nil, fmt.Errorf("reading annotation %s on node %s: %w", NoticeAnnotation, node.Name, err)
	}
	return &n, nil
}

// patchNode reads the node, builds a patch with build and applies it,
// re-reading and retrying when a guard (test op) fails because someone else
// wrote the node in between.
func patchNode(ctx context.Context, c kubernetes.Interface, name string, build func(*corev1.Node) ([]patchOp, error)) error {
	var lastErr error
	for attempt := range 100 {
		node, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nodeReadError(name, err)
		}
		ops, err := build(node)
		if err != nil || len(ops) == 0 {
			return err
		}
		body, err := json.Marshal(ops)
		if err != nil {
			return fmt.Errorf("encoding node patch: %w", err)
		}
		_, err = c.CoreV1().Nodes().Patch(ctx, name, types.JSONPatchType, body, metav1.PatchOptions{FieldManager: "spot-handler"})
		if err == nil {
			return nil
		}
		if !apierrors.IsInvalid(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("patching node %s: %w", name, err)
		}
		lastErr = err // a guard failed: the node changed under us; read it again
		// Back off a little, with jitter, so concurrent writers spread out.
		wait := time.Duration(rand.Int64N(int64(min(5*time.Millisecond<<min(attempt, 6), 250*time.Millisecond)))) + time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("patching node %s: it kept changing under us: %w", name, errors.Join(lastErr))
}

// nodeReadError words a failed read of the node for the operator.
func nodeReadError(name string, err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("node %q not found: check --node-name (NODE_NAME) is this node's Kubernetes name: %w", name, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("reading node %s is forbidden: the agent's ClusterRole needs get/patch on nodes: %w", name, err)
	default:
		return fmt.Errorf("reading node %s: %w", name, err)
	}
}
