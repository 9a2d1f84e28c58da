package controller

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The node index holds every Node of the cluster, and a real Node is
// mostly what the controller never reads: status.images (tens of KiB on a
// busy node), managedFields, conditions, addresses, capacity. slimNode,
// the informer's transform, keeps only what the controller reads from the
// index:
//
//   - name, UID (a node made again, gc.go), resourceVersion (the
//     informer's), deletionTimestamp;
//   - spec.providerID (the instance index, index.go), spec.unschedulable
//     and spec.taints;
//   - the zone and instance-type labels (a webhook's identity, actions.go);
//   - the annotations under spot-handler.io/ (the notice record, the
//     lifecycle record, the maintenance waits, the drain's claim);
//   - the Ready condition's type and status (a launch action waits for it,
//     lifecycle_launch.go).
//
// Every write to a node is a GET then a guarded PATCH (pkg/drain,
// internal/lifecycle, outofservice.go, wait.go), never an update built
// from an index object: a slim node must never be written back.

// ownAnnotationPrefix starts every annotation the controller and the
// agent write and read.
const ownAnnotationPrefix = "spot-handler.io/"

// slimLabels are the labels the controller reads from the index.
var slimLabels = []string{corev1.LabelInstanceTypeStable, corev1.LabelTopologyZone}

// slimNode is the node index's transform (cache.TransformFunc): a new
// Node holding only what the controller reads. Anything that is not a
// *corev1.Node passes unchanged. It is idempotent.
func slimNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	s := &corev1.Node{
		TypeMeta: n.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion,
			DeletionTimestamp: n.DeletionTimestamp},
		Spec: corev1.NodeSpec{ProviderID: n.Spec.ProviderID, Unschedulable: n.Spec.Unschedulable, Taints: n.Spec.Taints},
	}
	for _, k := range slimLabels {
		if v, ok := n.Labels[k]; ok {
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			s.Labels[k] = v
		}
	}
	for k, v := range n.Annotations {
		if strings.HasPrefix(k, ownAnnotationPrefix) {
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations[k] = v
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			s.Status.Conditions = []corev1.NodeCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	return s, nil
}
