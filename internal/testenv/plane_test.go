package testenv

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestPlaneEvictionHonoursPDB proves the plane is real: kwok runs the pods
// of a ReplicaSet, the controller-manager computes the PDB's
// disruptionsAllowed, and the eviction API answers 429 while it is 0 and
// 201 once it is not.
func TestPlaneEvictionHonoursPDB(t *testing.T) {
	p := Start(t)
	ctx := context.Background()
	t.Logf("plane ready in %v", p.StartupTime)

	v, err := p.Client.Discovery().ServerVersion()
	if err != nil || v.GitVersion != KubeVersion {
		t.Fatalf("apiserver version = %v (%v), want %s", v, err, KubeVersion)
	}
	if _, err := p.NewNode(ctx, "kwok-node-0", nil); err != nil {
		t.Fatal(err)
	}
	ns := p.NewNamespace(t)
	labels := map[string]string{"app": "web"}
	replicas := int32(2)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: PodTemplate(labels, nil, 5, 0)},
	}
	if _, err := p.Client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitPods(ctx, ns, "app=web", 2, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	assertPodIPs(ctx, t, p, ns)
	zero := intstr.FromInt32(0)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero, Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
	if _, err := p.Client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPDB(t, p, ns, "web", 0)
	pods, err := p.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("listing pods: %v", err)
	}
	victim := pods.Items[0]
	err = evict(ctx, p, &victim)
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("eviction with disruptionsAllowed=0: err = %v, want 429 TooManyRequests", err)
	}

	one := intstr.FromInt32(1)
	got, err := p.Client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Spec.MaxUnavailable = &one
	if _, err := p.Client.PolicyV1().PodDisruptionBudgets(ns).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPDB(t, p, ns, "web", 1)
	if err := evict(ctx, p, &victim); err != nil {
		t.Fatalf("eviction with disruptionsAllowed=1: %v, want 201 Created", err)
	}
	// kwok ends the pod within its grace period and the ReplicaSet replaces it.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := p.Client.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("evicted pod %s never went away: %v", victim.Name, err)
	}
	if err := p.WaitPods(ctx, ns, "app=web", 2, 60*time.Second); err != nil {
		t.Fatalf("ReplicaSet did not replace the evicted pod: %v", err)
	}
}

func evict(ctx context.Context, p *Plane, pod *corev1.Pod) error {
	return p.Client.PolicyV1().Evictions(pod.Namespace).Evict(ctx, &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}})
}

func waitPDB(t *testing.T, p *Plane, ns, name string, allowed int32) {
	t.Helper()
	var last policyv1.PodDisruptionBudgetStatus
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		pdb, err := p.Client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = pdb.Status
		return pdb.Status.ObservedGeneration == pdb.Generation && pdb.Status.DisruptionsAllowed == allowed, nil
	})
	if err != nil {
		t.Fatalf("PDB %s/%s never reached disruptionsAllowed=%d (status %+v): is kube-controller-manager running? %v", ns, name, allowed, last, err)
	}
}

// assertPodIPs fails t if a pod of ns has no IP: kwok sets one in its
// pod-create stage, and a pod without one matches that stage again and
// again (kwok patching it in a loop, its other pods waiting behind).
func assertPodIPs(ctx context.Context, t *testing.T, p *Plane, ns string) {
	t.Helper()
	pods, err := p.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range pods.Items {
		if pod.Status.PodIP == "" {
			t.Errorf("pod %s is %s with no IP: kwok's pod-create stage did not give it one (is kwok's CIDR set?)", pod.Name, pod.Status.Phase)
		}
	}
}
