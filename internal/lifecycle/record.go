package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// ActionAnnotation holds, on a node whose instance a termination hook
// holds, the action as JSON (see Record): the durable record a new leader
// resumes from. Written before the message is deleted, removed once the
// action is complete.
const ActionAnnotation = "spot-handler.io/lifecycle-action"

// Record is what ActionAnnotation holds.
type Record struct {
	// Instance, Transition, Token, Hook and Group are the Action's.
	Instance   string `json:"instance"`
	Transition string `json:"transition"`
	Token      string `json:"token"`
	Hook       string `json:"hook"`
	Group      string `json:"group"`
	// Started is the action's start (the event's time), UTC.
	Started time.Time `json:"started"`
	// HeartbeatTimeout and GlobalTimeout are the hook's, in seconds, read
	// once with DescribeLifecycleHooks.
	HeartbeatTimeout int64 `json:"heartbeatTimeoutSeconds"`
	GlobalTimeout    int64 `json:"globalTimeoutSeconds"`
	// Deadline is when the action is completed at the latest; the drain
	// uses it as its deadline. UTC.
	Deadline time.Time `json:"deadline"`
}

// hook returns the record's hook timeouts.
func (r Record) hook() Hook {
	return Hook{HeartbeatTimeout: time.Duration(r.HeartbeatTimeout) * time.Second, GlobalTimeout: time.Duration(r.GlobalTimeout) * time.Second}
}

// Action returns the action the record is of.
func (r Record) Action() Action {
	return Action{InstanceID: r.Instance, Transition: r.Transition, Token: r.Token, Hook: r.Hook, Group: r.Group, EventTime: r.Started}
}

// newRecord is the record of action a of hook h, due by deadline.
func newRecord(a Action, h Hook, deadline time.Time) Record {
	return Record{Instance: a.InstanceID, Transition: a.Transition, Token: a.Token, Hook: a.Hook, Group: a.Group,
		Started: a.EventTime.UTC(), HeartbeatTimeout: int64(h.HeartbeatTimeout / time.Second),
		GlobalTimeout: int64(h.global() / time.Second), Deadline: deadline.UTC()}
}

// ReadRecord returns the action recorded on node, nil without error if
// there is none, and an error saying what is wrong with an unreadable one.
func ReadRecord(node *corev1.Node) (*Record, error) {
	s, ok := node.Annotations[ActionAnnotation]
	if !ok {
		return nil, nil
	}
	var r Record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("reading annotation %s on node %s: %w", ActionAnnotation, node.Name, err)
	}
	if r.Token == "" || r.Hook == "" || r.Group == "" || r.HeartbeatTimeout <= 0 || r.Deadline.IsZero() {
		return nil, fmt.Errorf("annotation %s on node %s lacks token, hook, group, heartbeat timeout or deadline: %q", ActionAnnotation, node.Name, s)
	}
	return &r, nil
}

// writeRecord sets (r non-nil) or removes ActionAnnotation with a merge
// patch of that key alone, so it never overwrites another writer's fields.
// A node that is gone is no error when removing.
func writeRecord(ctx context.Context, kube kubernetes.Interface, node string, r *Record) error {
	var value any // nil removes the key
	if r != nil {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding annotation %s: %w", ActionAnnotation, err)
		}
		value = string(b)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{ActionAnnotation: value}}})
	if err != nil {
		return fmt.Errorf("encoding node patch: %w", err)
	}
	_, err = kube.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "spot-handler"})
	if err != nil && !(r == nil && apierrors.IsNotFound(err)) {
		return fmt.Errorf("recording the lifecycle action on node %s: %w", node, err)
	}
	return nil
}
