package chart_test

import (
	"context"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// checkDrainAsServiceAccount runs a full drain of node as the chart's
// agent ServiceAccount (as(cfg) is its client of cfg: impersonated, or a
// pod-bound token), through the fault proxy so every request and its answer
// is logged, on a node with every kind of pod the drain handles: free pods,
// pods behind a PDB that never allows (deleted at the cut-off), a pod
// already terminating (its grace shortened) and a DaemonSet pod (left,
// after kubectl's filters read its DaemonSet). No request may be refused: a
// 403 the drain swallowed would otherwise go unseen, and the DaemonSet read
// must have been made and answered. excludeLabel is the release's
// agent.excludeLBLabel; daemonSetPods counts the DaemonSet pods already on
// node (the chart's agent), left by the drain like the one made here.
func checkDrainAsServiceAccount(t *testing.T, ctx context.Context, p *testenv.Plane, node string, as func(*rest.Config) kubernetes.Interface,
	excludeLabel string, daemonSetPods int) {
	ns := p.NewNamespace(t)
	if err := p.PinnedReplicaSet(ctx, ns, "free", node, 3, 2, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.PinnedReplicaSet(ctx, ns, "guarded", node, 2, 2, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.PinnedReplicaSet(ctx, ns, "slow", node, 1, 60, 100000*time.Second); err != nil {
		t.Fatal(err)
	}
	zero := intstr.FromInt32(0)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "guarded", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}}}}
	if _, err := p.Client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.PinnedDaemonSet(ctx, ns, "logs", node); err != nil {
		t.Fatal(err)
	}
	slow, err := p.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=slow"})
	if err != nil || len(slow.Items) != 1 {
		t.Fatalf("slow pod: %v", err)
	}
	if err := p.Client.CoreV1().Pods(ns).Delete(ctx, slow.Items[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	faults := p.Faults(t)
	sa := as(faults.Config)
	pol := drain.DefaultPolicy()
	pol.Margin, pol.ExcludeLabel = 10*time.Second, excludeLabel
	d, err := drain.New(sa, pol, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Drain(ctx, drain.Request{Node: node, Kind: "SpotInterruption", NoticeID: "rbac", Deadline: time.Now().Add(30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	if !rep.Empty || rep.Counts()[drain.DeletedAfterCutoff] != 2 || len(rep.Skipped) != daemonSetPods+1 {
		t.Errorf("drain as the ServiceAccount: %s (skipped %v), want empty, 2 deleted after the PDB cut-off, the %d DaemonSet pods left", rep.Summary(), rep.Skipped, daemonSetPods+1)
	}
	calls := map[string]int{}
	var dsReads int
	for _, l := range faults.Requests() {
		calls[l.Method]++
		if l.Method == "GET" && l.Path == "/apis/apps/v1/namespaces/"+ns+"/daemonsets/logs" && l.Status == 200 {
			dsReads++
		}
		if l.Status == 401 || l.Status == 403 {
			t.Errorf("the chart's RBAC or policy refused a request of the drain: %s %s?%s → %d", l.Method, l.Path, l.Query, l.Status)
		}
	}
	if dsReads == 0 {
		t.Error("kubectl's drain filters did not read the DaemonSet of the DaemonSet pod (or it was not answered 200)")
	}
	if calls["POST"] == 0 || calls["DELETE"] < 3 || calls["PATCH"] == 0 {
		t.Errorf("requests by method %v: the drain did not evict, delete and patch", calls)
	}
}
