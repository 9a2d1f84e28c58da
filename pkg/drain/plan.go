package drain

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// plan splits the pods on the node into those to evict, lowest priority
// first (then by namespace/name), and those left alone with the reason.
// Finished pods (Succeeded, Failed) hold no process and are in neither.
// The selection is kubectl drain's with --force --ignore-daemonsets
// --delete-emptydir-data, from the pods alone: DaemonSet and mirror pods
// and the agent's own pod stay; emptyDir and unreplicated pods go (with a
// warning). Unlike kubectl it does not read the DaemonSet of a DaemonSet
// pod to delete orphans: such a pod dies with the node, and the agent needs
// no access to DaemonSets.
func (d *Drainer) plan(onNode []corev1.Pod) ([]corev1.Pod, []SkippedPod) {
	var pods []corev1.Pod
	var skipped []SkippedPod
	for _, p := range onNode {
		if finished(&p) {
			continue
		}
		if why := d.leave(&p); why != "" {
			skipped = append(skipped, SkippedPod{Namespace: p.Namespace, Name: p.Name, Reason: why})
			continue
		}
		pods = append(pods, p)
	}
	sort.SliceStable(pods, func(i, j int) bool {
		pi, pj := priority(&pods[i]), priority(&pods[j])
		if pi != pj {
			return pi < pj
		}
		return pods[i].Namespace+"/"+pods[i].Name < pods[j].Namespace+"/"+pods[j].Name
	})
	return pods, skipped
}

// leave says why the drain leaves a pod on the node, or "" to evict it.
func (d *Drainer) leave(p *corev1.Pod) string {
	if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return "static (mirror) pod: managed by the kubelet"
	}
	if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "DaemonSet" && ref.APIVersion == "apps/v1" {
		return "DaemonSet pod: it tolerates the drain and dies with the node"
	}
	if d.policy.SelfName != "" && p.Name == d.policy.SelfName && p.Namespace == d.policy.SelfNamespace {
		return "the agent's own pod"
	}
	return ""
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
