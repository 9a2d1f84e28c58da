package testenv

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UnreplacedPods creates n pods bound to node (spec.nodeName: no
// scheduling) whose controller is an object no controller of the plane
// acts on (a ConfigMap named owner-NODE in ns), as an operator's custom
// resource would be, and waits until they run. A drain evicts them like a
// ReplicaSet's (they have a controller), but nothing makes replacements:
// in a storm on this machine the replacements of a pinned ReplicaSet
// (pending for ever, every node being cordoned) cost the API server and
// scheduler as much as the drains themselves, and a real cluster places
// them on other nodes, at the scheduler's cost, not the drain's.
func (p *Plane) UnreplacedPods(ctx context.Context, ns, node string, n int, grace int64, deleteDelay time.Duration) error {
	owner, err := p.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "owner-" + node, Namespace: ns}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating the pods' owner for %s: %w", node, err)
	}
	yes := true
	ref := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: &yes}
	labels := map[string]string{"app": owner.Name}
	tmpl := PodTemplate(labels, nil, grace, deleteDelay)
	for i := range n {
		pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
		pod.Name = fmt.Sprintf("%s-%d", owner.Name, i)
		pod.Namespace = ns
		pod.OwnerReferences = []metav1.OwnerReference{ref}
		pod.Spec.NodeName = node
		if _, err := p.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating pod %s/%s: %w", ns, pod.Name, err)
		}
	}
	return p.WaitPods(ctx, ns, "app="+owner.Name, n, 5*time.Minute)
}
