package drain

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestPlanUsesKubectlFilters: the plan is kubectl drain --force
// --ignore-daemonsets --delete-emptydir-data's choice plus the agent's own
// pod, in priority order; a DaemonSet read that fails leaves the pod
// undecided with the error, never decided. (A pure test of the selection on
// the fake clientset; the real-plane test is TestDrainUsesKubectlDaemonSetFilter.)
func TestPlanUsesKubectlFilters(t *testing.T) {
	c := fake.NewClientset(&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "logs"}})
	c.PrependReactor("get", "daemonsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.GetAction).GetName() == "flaky" {
			return true, nil, apierrors.NewServiceUnavailable("etcd leader changed")
		}
		return false, nil, nil
	})
	d := &Drainer{client: c, policy: Policy{SelfNamespace: "kube-system", SelfName: "agent"}}
	yes := true
	owner := func(kind, name string) *metav1.OwnerReference {
		return &metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name, Controller: &yes}
	}
	pod := func(ns, name string, prio int32, owner *metav1.OwnerReference, phase corev1.PodPhase, ann map[string]string) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Annotations: ann}, Status: corev1.PodStatus{Phase: phase}}
		p.Spec.NodeName = "n1"
		p.Spec.Priority = &prio
		if owner != nil {
			p.OwnerReferences = []metav1.OwnerReference{*owner}
		}
		return p
	}
	scratch := pod("a", "scratch", 5, owner("ReplicaSet", "s"), corev1.PodRunning, nil)
	scratch.Spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pods, skipped, undecided := d.plan(context.Background(), []corev1.Pod{
		pod("a", "web-2", 0, owner("ReplicaSet", "web"), corev1.PodRunning, nil),
		pod("a", "db", 1000, owner("ReplicaSet", "web"), corev1.PodRunning, nil),
		pod("a", "batch", -10, nil, corev1.PodRunning, nil),
		pod("a", "web-1", 0, owner("ReplicaSet", "web"), corev1.PodRunning, nil),
		pod("a", "logs-x", 0, owner("DaemonSet", "logs"), corev1.PodRunning, nil),
		pod("a", "stray", 0, owner("DaemonSet", "gone"), corev1.PodRunning, nil),
		pod("a", "wobbly", 0, owner("DaemonSet", "flaky"), corev1.PodRunning, nil),
		pod("a", "etcd", 0, nil, corev1.PodRunning, map[string]string{corev1.MirrorPodAnnotationKey: "x"}),
		pod("kube-system", "agent", 0, nil, corev1.PodRunning, nil),
		pod("a", "done", 0, owner("ReplicaSet", "web"), corev1.PodSucceeded, nil),
		scratch,
	})
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	if got, want := strings.Join(names, " "), "batch stray web-1 web-2 scratch db"; got != want {
		t.Errorf("plan %q, want %q (priority, then name; finished pods out; the orphan in)", got, want)
	}
	reasons := map[string]string{}
	for _, s := range skipped {
		reasons[s.Name] = s.Reason
	}
	for name, want := range map[string]string{"logs-x": "DaemonSet pod", "etcd": "mirror", "agent": "agent's own pod"} {
		if !strings.Contains(reasons[name], want) {
			t.Errorf("%s skipped with %q, want a reason with %q (skipped %+v)", name, reasons[name], want, skipped)
		}
	}
	if len(skipped) != 3 {
		t.Errorf("skipped %+v, want the DaemonSet, mirror and agent pods", skipped)
	}
	if err := undecided["uid-wobbly"]; len(undecided) != 1 || !apierrors.IsServiceUnavailable(err) || !transient(err) ||
		!strings.Contains(err.Error(), "reading DaemonSet a/flaky") {
		t.Errorf("undecided %v, want the pod whose DaemonSet read failed, with the API's 503", undecided)
	}
	for _, p := range pods {
		w := evictWarning(&p)
		switch p.Name {
		case "stray":
			if !strings.Contains(w, "DaemonSet is gone") {
				t.Errorf("orphan's warning %q", w)
			}
		case "scratch":
			if !strings.Contains(w, "emptyDir") {
				t.Errorf("emptyDir pod's warning %q", w)
			}
		case "batch":
			if !strings.Contains(w, "no controller") {
				t.Errorf("bare pod's warning %q", w)
			}
		}
	}
}
