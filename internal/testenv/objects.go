package testenv

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// kwokAnnotation marks the nodes kwok simulates a kubelet for.
const kwokAnnotation = "kwok.x-k8s.io/node"

// DeleteDelayAnnotation, on a pod, sets kwok's minimum time between the
// pod's deletion and its disappearance; a value above the grace period makes
// the pod use all of it, like a slow process.
const DeleteDelayAnnotation = "pod-delete.stage.kwok.x-k8s.io/delay"

// NewNode creates a node simulated by kwok, with room for 250 pods, and
// waits until it is Ready.
func (p *Plane) NewNode(ctx context.Context, name string, labels map[string]string) (*corev1.Node, error) {
	l := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"}
	for k, v := range labels {
		l[k] = v
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l,
		Annotations: map[string]string{kwokAnnotation: "fake"}}}
	if _, err := p.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("creating node %s: %w", name, err)
	}
	var got *corev1.Node
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := p.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				got = n
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %s did not turn Ready (is kwok running? see %s/kwok.log): %w", name, p.Dir, err)
	}
	capacity := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("250"),
		corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi")}
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		n, err := p.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Capacity, n.Status.Allocatable = capacity, capacity
		got, err = p.Client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("setting node %s capacity: %w", name, err)
	}
	return got, nil
}

var nsCounter atomic.Int64

// NewNamespace creates a namespace named after the test and returns it.
func (p *Plane) NewNamespace(tb testing.TB) string {
	tb.Helper()
	base := strings.ToLower(tb.Name())
	base = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, base)
	if len(base) > 40 {
		base = base[:40]
	}
	name := fmt.Sprintf("%s-%d", strings.Trim(base, "-"), nsCounter.Add(1))
	if err := p.CreateNamespace(context.Background(), name); err != nil {
		tb.Fatal(err)
	}
	return name
}

// CreateNamespace creates a namespace.
func (p *Plane) CreateNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := p.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// PodTemplate returns a pod template for kwok nodes: one fake container,
// the given grace period, labels and node selector, and, if deleteDelay > 0,
// kwok's delete delay so the pod takes that long (capped by its grace) to go.
func PodTemplate(labels, nodeSelector map[string]string, grace int64, deleteDelay time.Duration) corev1.PodTemplateSpec {
	ann := map[string]string{}
	if deleteDelay > 0 {
		ann[DeleteDelayAnnotation] = deleteDelay.String()
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: ann},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			NodeSelector:                  nodeSelector,
			Containers:                    []corev1.Container{{Name: "app", Image: "registry.local/fake:1"}},
		},
	}
}

// WaitPods waits until the pods matching selector in ns number want and all
// are Running (want 0: until none is left).
func (p *Plane) WaitPods(ctx context.Context, ns, selector string, want int, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := p.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return false, err
			}
			last = err.Error()
			return false, nil
		}
		running := 0
		for _, pod := range pods.Items {
			if pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil {
				running++
			}
		}
		last = fmt.Sprintf("%d pods, %d running", len(pods.Items), running)
		if want == 0 {
			return len(pods.Items) == 0, nil
		}
		return len(pods.Items) == want && running == want, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %d running pods %q in %s (last: %s): %w", want, selector, ns, last, err)
	}
	return nil
}

// PinnedReplicaSet creates a ReplicaSet named name in ns whose pods are
// pinned to node (a hostname node selector), each with the grace period
// and kwok delete delay given, and waits until they all run.
func (p *Plane) PinnedReplicaSet(ctx context.Context, ns, name, node string, replicas int32, grace int64, deleteDelay time.Duration) error {
	labels := map[string]string{"app": name}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: PodTemplate(labels, map[string]string{"kubernetes.io/hostname": node}, grace, deleteDelay)}}
	if _, err := p.Client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating ReplicaSet %s/%s: %w", ns, name, err)
	}
	return p.WaitPods(ctx, ns, "app="+name, int(replicas), 5*time.Minute)
}

// PinnedDaemonSet creates a DaemonSet named name in ns whose pod runs on
// node only (a hostname node selector; grace 1s; it tolerates every taint,
// the drain's too, as DaemonSet pods do) and waits until that pod runs.
func (p *Plane) PinnedDaemonSet(ctx context.Context, ns, name, node string) error {
	labels := map[string]string{"app": name}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: PodTemplate(labels, map[string]string{"kubernetes.io/hostname": node}, 1, 0)}}
	ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	if _, err := p.Client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating DaemonSet %s/%s: %w", ns, name, err)
	}
	return p.WaitPods(ctx, ns, "app="+name, 1, 60*time.Second)
}
