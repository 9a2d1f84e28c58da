package testenv

import (
	"context"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestUnreplacedPods: the pods run (kwok, with the plane's options, gives
// each an address of its own), have a controller (a drain evicts them),
// and an evicted pod is not replaced.
func TestUnreplacedPods(t *testing.T) {
	p := Start(t)
	ctx := context.Background()
	if _, err := p.NewNode(ctx, "kwok-unreplaced", nil); err != nil {
		t.Fatal(err)
	}
	ns := p.NewNamespace(t)
	const n = 20
	if err := p.UnreplacedPods(ctx, ns, "kwok-unreplaced", n, 1, 0); err != nil {
		t.Fatal(err)
	}
	pods, err := p.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ips := map[string]bool{}
	for _, pod := range pods.Items {
		if pod.Status.PodIP == "" || ips[pod.Status.PodIP] {
			t.Errorf("pod %s has address %q: want one of its own", pod.Name, pod.Status.PodIP)
		}
		ips[pod.Status.PodIP] = true
		if ref := metav1.GetControllerOf(&pod); ref == nil || ref.Kind != "ConfigMap" {
			t.Errorf("pod %s has controller %v, want its ConfigMap", pod.Name, ref)
		}
	}
	victim := pods.Items[0].Name
	if err := p.Client.CoreV1().Pods(ns).EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: victim, Namespace: ns}}); err != nil {
		t.Fatalf("evicting %s: %v", victim, err)
	}
	if err := p.WaitPods(ctx, ns, "", n-1, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // time for a replacement, were there a controller to make one
	left, err := p.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(left.Items) != n-1 {
		t.Fatalf("%d pods after one eviction (%v), want %d: none replaced", len(left.Items), err, n-1)
	}
}
