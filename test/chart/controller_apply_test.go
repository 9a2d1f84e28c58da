package chart_test

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestControllerModeOnAPIServer validates the controller-mode manifests on a
// real kube-apiserver (server-side dry run of mode both, with every optional
// feature), installs mode controller for real, and checks that both
// replicas land on the on-demand node, never the Spot one, and that the
// controller's ServiceAccount can do what the controller calls (nodes
// cluster-wide, the drain, Leases in its namespace) and no more.
func TestControllerModeOnAPIServer(t *testing.T) {
	ctx := context.Background()
	p, a, ns := planeForApply(t, ctx)
	sets := []string{"mode=controller", "controller.queueURL=" + testQueueURL, testCluster,
		"controller.serviceAccount.roleArn=arn:aws:iam::123456789012:role/spot-handler"}

	t.Run("dry-run", func(t *testing.T) {
		for _, o := range render(t, ns, allFeatures(t), "mode=both", "controller.queueURL="+testQueueURL, testCluster) {
			if err := a.apply(ctx, o, true); err != nil {
				t.Error(err)
			}
		}
	})

	for _, o := range render(t, ns, nil, sets...) {
		if err := a.apply(ctx, o, false); err != nil {
			t.Fatal(err)
		}
	}
	spot, err := p.NewNode(ctx, "ctl-spot-1", map[string]string{"eks.amazonaws.com/capacityType": "SPOT"})
	if err != nil {
		t.Fatal(err)
	}
	onDemand, err := p.NewNode(ctx, "ctl-on-demand-1", map[string]string{"eks.amazonaws.com/capacityType": "ON_DEMAND"})
	if err != nil {
		t.Fatal(err)
	}
	sel := "app.kubernetes.io/name=spot-handler-controller"
	if err := p.WaitPods(ctx, ns, sel, 2, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	pods, err := p.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range pods.Items {
		if pod.Spec.NodeName != onDemand.Name {
			t.Errorf("controller pod %s on %s, want the on-demand node (never %s)", pod.Name, pod.Spec.NodeName, spot.Name)
		}
		if pod.Spec.PriorityClassName != "system-cluster-critical" || pod.Spec.Priority == nil {
			t.Errorf("pod %s priority class %q (%v), want system-cluster-critical resolved by the API server", pod.Name, pod.Spec.PriorityClassName, pod.Spec.Priority)
		}
	}
	sa, err := p.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "spot-handler-controller", metav1.GetOptions{})
	if err != nil || sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("controller ServiceAccount: %v, annotations %v", err, sa.Annotations)
	}

	t.Run("service account permissions", func(t *testing.T) {
		checkControllerAccount(t, ctx, p, ns, spot.Name)
	})

	t.Run("helm install", func(t *testing.T) {
		ns2 := p.NewNamespace(t)
		out, err := runHelm(t, "install", "other", chartDir(t), "--namespace", ns2, "--kubeconfig", p.Kubeconfig,
			"--set", "mode=controller", "--set", "controller.queueURL="+testQueueURL, "--set", testCluster)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"STATUS: deployed", "Deployment " + ns2 + "/other-spot-handler-controller", testQueueURL, "EKS Pod Identity"} {
			if !strings.Contains(out, want) {
				t.Errorf("helm install output (NOTES) lacks %q:\n%s", want, out)
			}
		}
		if _, err := p.Client.AppsV1().Deployments(ns2).Get(ctx, "other-spot-handler-controller", metav1.GetOptions{}); err != nil {
			t.Errorf("Deployment of the helm-installed release: %v", err)
		}
	})
}

// controllerClient is a client that impersonates the controller's ServiceAccount.
func controllerClient(t *testing.T, p *testenv.Plane, ns string) *kubernetes.Clientset {
	t.Helper()
	return asServiceAccount(t, p.Config, ns, "spot-handler-controller", "")
}

func checkControllerAccount(t *testing.T, ctx context.Context, p *testenv.Plane, ns, node string) {
	sa := controllerClient(t, p, ns)
	allowed := []access{{verb: "create", resource: "pods", sub: "eviction", ns: "default"},
		{verb: "get", group: "apps", resource: "daemonsets", ns: "default"}}
	for _, v := range []string{"get", "list", "watch", "patch"} {
		allowed = append(allowed, access{verb: v, resource: "nodes"})
	}
	for _, v := range []string{"get", "list", "watch", "delete"} {
		allowed = append(allowed, access{verb: v, resource: "pods"})
	}
	for _, v := range []string{"get", "create", "update"} {
		allowed = append(allowed, access{verb: v, group: "coordination.k8s.io", resource: "leases", ns: ns})
	}
	for _, g := range []string{"", "events.k8s.io"} {
		allowed = append(allowed, access{verb: "create", group: g, resource: "events", ns: "default"})
	}
	denied := []access{
		{verb: "get", group: "coordination.k8s.io", resource: "leases", ns: "kube-system"},
		{verb: "delete", group: "coordination.k8s.io", resource: "leases", ns: ns},
		{verb: "list", resource: "secrets"}, {verb: "get", resource: "secrets", ns: ns},
		{verb: "delete", resource: "nodes"}, {verb: "update", resource: "nodes"}, {verb: "patch", resource: "nodes", sub: "status"},
		{verb: "create", resource: "pods", ns: "default"}, {verb: "list", resource: "configmaps", ns: ns},
		{verb: "list", group: "apps", resource: "daemonsets"}, {verb: "delete", group: "apps", resource: "daemonsets", ns: "default"},
		{verb: "*", group: "*", resource: "*"},
	}
	checkAccess(t, ctx, sa, "the controller's ServiceAccount", "the controller", allowed, denied)

	// Real calls, as leader election and a drain make them.
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "spot-handler-controller", Namespace: ns}}
	got, err := sa.CoordinationV1().Leases(ns).Create(ctx, lease, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create the Lease: %v", err)
	}
	holder := "replica-a"
	got.Spec.HolderIdentity = &holder
	if _, err := sa.CoordinationV1().Leases(ns).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Errorf("renew the Lease: %v", err)
	}
	if _, err := sa.CoordinationV1().Leases("default").Create(ctx, lease, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("a Lease in another namespace: %v, want Forbidden", err)
	}
	workload := p.NewNamespace(t)
	if err := p.PinnedReplicaSet(ctx, workload, "app", node, 3, 2, 0); err != nil {
		t.Fatal(err)
	}
	d, err := drain.New(sa, drain.DefaultPolicy(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Drain(ctx, drain.Request{Node: node, Kind: "SpotInterruption", NoticeID: "queue/rbac", Deadline: time.Now().Add(time.Minute)})
	if err != nil || !rep.Empty {
		t.Fatalf("drain as the controller's ServiceAccount: %v, %s", err, rep.Summary())
	}
	if n, err := sa.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err != nil || !n.Spec.Unschedulable {
		t.Errorf("node after the drain: %v, cordoned %v", err, n != nil && n.Spec.Unschedulable)
	}
	if _, err := sa.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list secrets: %v, want Forbidden", err)
	}
}
