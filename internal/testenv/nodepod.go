package testenv

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// NodePod waits until the one pod in ns that matches selector and is bound
// to node runs (a DaemonSet's pod on that node, say), and returns it.
func (p *Plane) NodePod(ctx context.Context, ns, selector, node string, timeout time.Duration) (*corev1.Pod, error) {
	var got *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := p.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector, FieldSelector: "spec.nodeName=" + node})
		if err != nil || len(l.Items) != 1 || l.Items[0].Status.Phase != corev1.PodRunning {
			return false, nil
		}
		got = &l.Items[0]
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("no running pod %q of %s on node %s: %w", selector, ns, node, err)
	}
	return got, nil
}
