package drain

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubectl "k8s.io/kubectl/pkg/drain"
)

// lookupTimeout bounds one run of kubectl's filters on one pod: at most one
// DaemonSet GET.
const lookupTimeout = 10 * time.Second

// choice is what kubectl drain's filters decided for one pod.
type choice struct {
	evict  bool
	reason string // why the pod stays, when !evict
	err    error  // the filters could not decide (the DaemonSet GET failed): ask again later
}

// choose runs kubectl drain's filters, as `kubectl drain --force
// --ignore-daemonsets --delete-emptydir-data` does, plus one that keeps the
// agent's own pod, on one pod of the node: mirror pods and pods of a live
// DaemonSet stay; pods with emptyDir data, pods without a controller and
// pods whose DaemonSet is gone (orphans) go, with a warning. kubectl reads
// the DaemonSet of each DaemonSet pod; when that read fails the choice
// carries the error and the caller asks again with its backoff (a failed or
// refused lookup is never taken as an answer). The pod comes from the
// drain's tracker: kubectl's pod LIST is answered with it, so the drain lists
// the node once and pods that come later go through the same filters.
func (d *Drainer) choose(ctx context.Context, p *corev1.Pod) choice {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	c := &podSource{Interface: d.client, pod: *p}
	h := &kubectl.Helper{Ctx: ctx, Client: c, Force: true, IgnoreAllDaemonSets: true, DeleteEmptyDirData: true,
		GracePeriodSeconds: -1, AdditionalFilters: []kubectl.PodFilter{d.keepSelf}}
	list, errs := h.GetPodsForDeletion(p.Spec.NodeName)
	if err := c.lookupErr(); err != nil {
		ref := metav1.GetControllerOf(p)
		return choice{err: fmt.Errorf("reading DaemonSet %s/%s of pod %s/%s: %w", p.Namespace, ref.Name, p.Namespace, p.Name, err)}
	}
	if len(errs) > 0 {
		return choice{err: fmt.Errorf("choosing whether to evict pod %s/%s: %w", p.Namespace, p.Name, errors.Join(errs...))}
	}
	if len(list.Pods()) == 1 {
		return choice{evict: true}
	}
	return choice{reason: leaveReason(p, d.isSelf(p))}
}

// keepSelf is the kubectl filter that keeps the agent's own pod.
func (d *Drainer) keepSelf(p corev1.Pod) kubectl.PodDeleteStatus {
	if d.isSelf(&p) {
		return kubectl.MakePodDeleteStatusSkip()
	}
	return kubectl.MakePodDeleteStatusOkay()
}

func (d *Drainer) isSelf(p *corev1.Pod) bool {
	return d.policy.SelfName != "" && p.Name == d.policy.SelfName && p.Namespace == d.policy.SelfNamespace
}

// leaveReason says, in words for people, why kubectl's filters keep a pod.
func leaveReason(p *corev1.Pod, self bool) string {
	switch {
	case self:
		return "the agent's own pod"
	case isMirror(p):
		return "static (mirror) pod: managed by the kubelet"
	case isDaemonSetPod(p):
		return "DaemonSet pod: it tolerates the drain and dies with the node"
	}
	return "kept by kubectl drain's filters"
}

func isMirror(p *corev1.Pod) bool {
	_, ok := p.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

func isDaemonSetPod(p *corev1.Pod) bool {
	ref := metav1.GetControllerOf(p)
	return ref != nil && ref.Kind == "DaemonSet" && ref.APIVersion == "apps/v1"
}

// sortPlan orders the pods to evict lowest priority first, then by
// namespace/name.
func sortPlan(pods []corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		pi, pj := priority(&pods[i]), priority(&pods[j])
		if pi != pj {
			return pi < pj
		}
		return pods[i].Namespace+"/"+pods[i].Name < pods[j].Namespace+"/"+pods[j].Name
	})
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
		w = join(w, "no controller: the pod is not recreated elsewhere")
	}
	return w
}

// evictWarning is warning, and for a DaemonSet pod kubectl's filters
// chose to evict, that its DaemonSet is gone.
func evictWarning(p *corev1.Pod) string {
	w := warning(p)
	if isDaemonSetPod(p) {
		w = join(w, "its DaemonSet is gone (an orphan): evicted as kubectl drain --force does")
	}
	return w
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func priority(p *corev1.Pod) int32 {
	if p.Spec.Priority == nil {
		return 0
	}
	return *p.Spec.Priority
}
