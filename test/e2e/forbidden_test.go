package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestAgentDrainsWhenThePolicyRefusesTheCordon: the agent is started with
// an exclude-from-load-balancers label the chart's node-bound policy does
// not allow (set through extraArgs, or an agent pod older than a values
// change), so the policy refuses every cordon of its own node. A Spot
// notice comes: the agent must say so, count the refusal, and evict the
// pods anyway, so none is left on the dying instance at deadline − margin.
// Before the fix it retried the refused cordon until the deadline and
// evicted nothing. The pods are bare (replacements of a pinned ReplicaSet
// would land on the uncordoned node again).
func TestAgentDrainsWhenThePolicyRefusesTheCordon(t *testing.T) {
	const name = "e2e-cordon-refused"
	spotTest(t, name, 0, 1)
	ns := plane.NewNamespace(t)
	for _, p := range []string{"a", "b", "c"} {
		tpl := testenv.PodTemplate(map[string]string{"app": "bare"}, nil, 2, 0)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p, Namespace: ns, Labels: tpl.Labels, Annotations: tpl.Annotations}, Spec: tpl.Spec}
		pod.Spec.NodeName = name
		if _, err := plane.Client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, "the bare pods on the node", func() bool { return podsOn(t, name) == 3 })
	deadline := time.Now().Add(70 * time.Second).UTC().Truncate(time.Second)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", deadline.Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	a := startAgent(t, name, aemm.URL, "--exclude-lb-label", "example.com/draining")
	by := deadline.Add(-drain.DefaultPolicy().Margin)
	waitUntil(t, time.Until(by), "every pod gone by deadline − margin", func() bool { return podsOn(t, name) == 0 })
	if !strings.Contains(a.logs(), "the API forbids cordoning this node; draining it anyway") {
		t.Error("the agent did not say that the cordon was refused and it drains anyway")
	}
	if v := a.metric(t, "spot_handler_kube_api_policy_denials_total"); v < 1 {
		t.Errorf("policy denials counted: %v, want at least 1", v)
	}
}
