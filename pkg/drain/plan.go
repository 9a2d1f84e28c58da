package drain

import (
	"context"
	"fmt"
	"io"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/errors"
	kdrain "k8s.io/kubectl/pkg/drain"
)

// plan returns the pods to evict, lowest priority first, and the pods left
// alone with the reason. onNode is every pod on the node (from the tracker's
// list); the selection itself is kubectl's: DaemonSet and mirror pods stay,
// emptyDir and unreplicated pods go (Force, DeleteEmptyDirData), plus a
// filter that keeps the agent's own pod.
func (d *Drainer) plan(ctx context.Context, node string, onNode []corev1.Pod) ([]corev1.Pod, []SkippedPod, error) {
	h := &kdrain.Helper{
		Ctx: ctx, Client: d.client, Force: true, IgnoreAllDaemonSets: true, DeleteEmptyDirData: true,
		AdditionalFilters: []kdrain.PodFilter{d.selfFilter}, Out: io.Discard, ErrOut: io.Discard,
	}
	list, errs := h.GetPodsForDeletion(node)
	if list == nil {
		return nil, nil, fmt.Errorf("listing pods on node %s: %w", node, errors.NewAggregate(errs))
	}
	pods := list.Pods()
	keep := map[types.UID]bool{}
	for _, p := range pods {
		keep[p.UID] = true
	}
	var skipped []SkippedPod
	for _, p := range onNode {
		if !keep[p.UID] && !finished(&p) {
			skipped = append(skipped, SkippedPod{Namespace: p.Namespace, Name: p.Name, Reason: d.skipReason(&p)})
		}
	}
	sort.SliceStable(pods, func(i, j int) bool {
		pi, pj := priority(&pods[i]), priority(&pods[j])
		if pi != pj {
			return pi < pj
		}
		return pods[i].Namespace+"/"+pods[i].Name < pods[j].Namespace+"/"+pods[j].Name
	})
	return pods, skipped, nil
}

// selfFilter keeps the agent's own pod on the node: it must outlive the drain.
func (d *Drainer) selfFilter(p corev1.Pod) kdrain.PodDeleteStatus {
	if d.policy.SelfName != "" && p.Name == d.policy.SelfName && p.Namespace == d.policy.SelfNamespace {
		return kdrain.MakePodDeleteStatusSkip()
	}
	return kdrain.MakePodDeleteStatusOkay()
}

// skipReason words why kubectl's filters (or ours) left a pod alone.
func (d *Drainer) skipReason(p *corev1.Pod) string {
	if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return "static (mirror) pod: managed by the kubelet"
	}
	if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "DaemonSet" {
		return "DaemonSet pod: it tolerates the drain and dies with the node"
	}
	if p.Name == d.policy.SelfName && p.Namespace == d.policy.SelfNamespace {
		return "the agent's own pod"
	}
	if p.DeletionTimestamp != nil {
		return "already terminating"
	}
	return "left by the pod filters"
}

// warning says what a pod loses by being drained, or "".
func warning(p *corev1.Pod) string {
	var w string
	for _, v := range p.Spec.Volumes {
		if v.EmptyDir != nil {
			w = "emptyDir data is lost"
			break
		}
	}
	if metav1.GetControllerOf(p) == nil {
		if w != "" {
			w += "; "
		}
		w += "no controller: the pod is not recreated elsewhere"
	}
	return w
}

func priority(p *corev1.Pod) int32 {
	if p.Spec.Priority == nil {
		return 0
	}
	return *p.Spec.Priority
}
