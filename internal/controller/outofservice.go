package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// OutOfServiceTaint makes Kubernetes (the non-graceful node shutdown
// feature, GA in 1.28) force-delete the node's pods and detach their
// volumes at once, instead of after the attach-detach controller's timeout.
var OutOfServiceTaint = corev1.Taint{Key: "node.kubernetes.io/out-of-service", Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute}

// outOfService adds OutOfServiceTaint to node with a patch guarded by the
// taints it read, so a concurrent writer is never overwritten; in a dry run
// it only logs.
func (c *Controller) outOfService(ctx context.Context, node string, log *zap.Logger) error {
	if c.cfg.DryRun {
		log.Info("dry-run: would add the out-of-service taint", zap.String("taint", OutOfServiceTaint.ToString()))
		return nil
	}
	for range 10 {
		n, err := c.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading node %s: %w", node, err)
		}
		if slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == OutOfServiceTaint.Key }) {
			return nil
		}
		type op struct {
			Op    string `json:"op"`
			Path  string `json:"path"`
			Value any    `json:"value,omitempty"`
		}
		ops := []op{{"test", "/spec/taints", n.Spec.Taints}, {"add", "/spec/taints", append(slices.Clone(n.Spec.Taints), OutOfServiceTaint)}}
		if n.Spec.Taints == nil {
			ops[0].Value = nil
		}
		body, err := json.Marshal(ops)
		if err != nil {
			return fmt.Errorf("encoding the out-of-service patch: %w", err)
		}
		_, err = c.kube.CoreV1().Nodes().Patch(ctx, node, types.JSONPatchType, body, metav1.PatchOptions{FieldManager: "spot-handler"})
		if err == nil {
			log.Info("out-of-service taint added: Kubernetes force-deletes the pods and detaches their volumes",
				zap.String("taint", OutOfServiceTaint.ToString()))
			c.nodeEvent(node, corev1.EventTypeWarning, "OutOfService", "the instance is shutting down or gone with pods left: "+OutOfServiceTaint.ToString()+" added")
			return nil
		}
		if !apierrors.IsInvalid(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("patching node %s: %w", node, err)
		}
	}
	return fmt.Errorf("patching node %s: its taints kept changing", node)
}
