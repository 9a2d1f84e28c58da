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
// node already carries all of it.
func markPatch(node *corev1.Node, req Request, p Policy, effect corev1.TaintEffect, taintOnly bool, now time.Time) ([]patchOp, error) {
	added := splitAdded(node.Annotations[AddedAnnotation])
	var ops []patchOp
	taint := corev1.Taint{Key: TaintKey, Value: req.Kind, Effect: effect}
	i := slices.IndexFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == TaintKey })
	switch {
	case i >= 0 && node.Spec.Taints[i].Value == taint.Value && node.Spec.Taints[i].Effect == taint.Effect:
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
	detected := req.Detected
	if detected.IsZero() {
		detected = now
	}
	notice := NodeNotice{Kind: req.Kind, Action: req.Action, ID: req.NoticeID, Deadline: req.Deadline.UTC(),
		Detected: detected.UTC(), TaintOnly: taintOnly, By: req.recorder}
	if old, err := parseNotice(node); err == nil && old != nil && old.ID == notice.ID && old.Kind == notice.Kind && old.TaintOnly == taintOnly {
		notice = *old // resuming: keep the first detection time
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
		for _, k := range []string{NoticeAnnotation, AddedAnnotation} {
			ops = append(ops, patchOp{Op: "add", Path: "/metadata/annotations/" + pointer(k), Value: want[k]})
		}
	}
	return ops, nil
}

// unmarkPatch returns the JSON patch that removes what markPatch added (as
// AddedAnnotation records) and the notice, or nil if there is nothing.
func unmarkPatch(node *corev1.Node, p Policy) []patchOp {
	added := splitAdded(node.Annotations[AddedAnnotation])
	var ops []patchOp
	if slices.Contains(added, addedTaint) {
		if i := slices.IndexFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == TaintKey }); i >= 0 {
			ops = append(ops, testOp("/spec/taints", node.Spec.Taints), patchOp{Op: "remove", Path: fmt.Sprintf("/spec/taints/%d", i)})
		}
	}
	if slices.Contains(added, addedUnschedulable) && node.Spec.Unschedulable {
		ops = append(ops, patchOp{Op: "replace", Path: "/spec/unschedulable", Value: false})
	}
	if slices.Contains(added, addedLabel) && p.ExcludeLabel != "" {
		if _, ok := node.Labels[p.ExcludeLabel]; ok {
			ops = append(ops, patchOp{Op: "remove", Path: "/metadata/labels/" + pointer(p.ExcludeLabel)})
		}
	}
	for _, k := range []string{NoticeAnnotation, AddedAnnotation, ClaimAnnotation} {
		if _, ok := node.Annotations[k]; ok {
			ops = append(ops, patchOp{Op: "remove", Path: "/metadata/annotations/" + pointer(k)})
		}
	}
	return ops
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
