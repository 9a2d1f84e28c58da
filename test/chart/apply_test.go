package chart_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// promOperatorModule ships the prometheus-operator CRDs this test installs
// (example/prometheus-operator-crd), read from the Go module cache at test time.
const promOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"

// applier applies objects to the local apiserver as `kubectl apply
// --server-side` does, with strict field validation.
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(tb testing.TB, cfg *rest.Config) *applier {
	tb.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// apply server-side applies o; dryRun asks the server to validate and admit
// it without storing it.
func (a *applier) apply(ctx context.Context, o *unstructured.Unstructured, dryRun bool) error {
	m, err := a.mapper.RESTMapping(gvk(o).GroupKind(), gvk(o).Version)
	if err != nil {
		return fmt.Errorf("mapping %s: %w", gvk(o), err)
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = a.dyn.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	body, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: "spot-handler-chart-test", FieldValidation: "Strict", Force: ptr(true)}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, opts)
	if err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// planeForApply starts the peers for a test that applies the chart: the
// plane, an applier on it with the monitoring CRDs served, and a new
// namespace for the release.
func planeForApply(t *testing.T, ctx context.Context) (*testenv.Plane, *applier, string) {
	t.Helper()
	needPeers(t)
	p := testenv.Start(t)
	a := newApplier(t, p.Config)
	installMonitoringCRDs(t, ctx, a)
	return p, a, p.NewNamespace(t)
}

// installMonitoringCRDs applies prometheus-operator's PodMonitor,
// ServiceMonitor and PrometheusRule CRDs and waits until they are served.
func installMonitoringCRDs(t *testing.T, ctx context.Context, a *applier) {
	t.Helper()
	dir := moduleDir(t, promOperatorModule)
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, name := range []string{"podmonitors", "servicemonitors", "prometheusrules"} {
		b, err := os.ReadFile(filepath.Join(dir, "example", "prometheus-operator-crd", "monitoring.coreos.com_"+name+".yaml"))
		if err != nil {
			t.Fatalf("reading the %s CRD from %s: %v", name, promOperatorModule, err)
		}
		objs, err := decodeManifests(string(b))
		if err != nil || len(objs) != 1 {
			t.Fatalf("decoding the %s CRD: %v (%d objects)", name, err, len(objs))
		}
		if err := a.apply(ctx, objs[0], false); err != nil {
			t.Fatal(err)
		}
		crdName := objs[0].GetName()
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
			crd, err := a.dyn.Resource(crdGVR).Get(ctx, crdName, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("CRD %s not established: %v", crdName, err)
		}
	}
	a.mapper.Reset()
}

// moduleDir returns the folder of a Go module version in the module cache,
// downloading it through the module proxy if needed.
func moduleDir(t *testing.T, modVersion string) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", modVersion)
	cmd.Dir = t.TempDir() // outside this module: go.mod stays untouched
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || info.Dir == "" {
		t.Fatalf("go mod download %s: %v %s %s", modVersion, err, info.Error, out)
	}
	return info.Dir
}

// TestManifestsOnAPIServer validates every manifest the chart renders against
// a real kube-apiserver (server-side dry-run with strict field validation),
// installs the chart for real, and checks the DaemonSet lands on Spot nodes
// only and that its ServiceAccount can do exactly what the agent needs.
func TestManifestsOnAPIServer(t *testing.T) {
	ctx := context.Background()
	p, a, ns := planeForApply(t, ctx)

	t.Run("dry-run", func(t *testing.T) {
		for name, files := range map[string][]string{"defaults": nil, "all features": allFeatures(t)} {
			for _, o := range render(t, ns, files) {
				if err := a.apply(ctx, o, true); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
		// The dry-run does validate: a DaemonSet the API refuses is refused.
		bad := one(t, render(t, ns, nil, "updateStrategy.type=Sideways"), "DaemonSet")
		if err := a.apply(ctx, bad, true); err == nil || !apierrors.IsInvalid(err) {
			t.Errorf("dry-run of a DaemonSet with updateStrategy.type=Sideways: %v, want Invalid", err)
		}
	})

	// The real install: every object of the all-features release.
	objs := render(t, ns, allFeatures(t))
	for _, o := range objs {
		if err := a.apply(ctx, o, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Client.AppsV1().DaemonSets(ns).Get(ctx, "spot-handler", metav1.GetOptions{}); err != nil {
		t.Fatalf("DaemonSet after apply: %v", err)
	}
	if _, err := p.Client.RbacV1().ClusterRoleBindings().Get(ctx, "spot-handler", metav1.GetOptions{}); err != nil {
		t.Fatalf("ClusterRoleBinding after apply: %v", err)
	}

	// Nodes: a Karpenter Spot node carrying a NoExecute taint (as a node under
	// notice may), and an on-demand node. The agent must run on the first only.
	spot, err := p.NewNode(ctx, "spot-1", map[string]string{"karpenter.sh/capacity-type": "spot"})
	if err != nil {
		t.Fatal(err)
	}
	taint := `{"spec":{"taints":[{"key":"spot-handler.io/interruption","value":"spot","effect":"NoExecute"}]}}`
	if _, err := p.Client.CoreV1().Nodes().Patch(ctx, spot.Name, types.MergePatchType, []byte(taint), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.NewNode(ctx, "on-demand-1", map[string]string{"karpenter.sh/capacity-type": "on-demand"}); err != nil {
		t.Fatal(err)
	}
	sel := "app.kubernetes.io/instance=" + release
	if err := p.WaitPods(ctx, ns, sel, 1, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	pods, err := p.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Spec.NodeName != spot.Name {
		t.Fatalf("agent pods %v, want one, on %s", podNodes(pods.Items), spot.Name)
	}
	if pc := pods.Items[0].Spec.PriorityClassName; pc != "system-node-critical" || pods.Items[0].Spec.Priority == nil {
		t.Errorf("agent pod priority class %q (priority %v), want system-node-critical resolved by the API server", pc, pods.Items[0].Spec.Priority)
	}

	t.Run("service account permissions", func(t *testing.T) {
		checkServiceAccount(t, ctx, p, ns, spot.Name)
	})

	// The full drain as the ServiceAccount runs in TestNodeBoundPolicy, with
	// a pod-bound token under the node-bound policy.

	t.Run("agent with the chart's arguments", func(t *testing.T) {
		runChartAgent(t, ctx, p, ns)
	})

	t.Run("helm install", func(t *testing.T) {
		// helm itself installs the defaults as another release, the way users do.
		ns2 := p.NewNamespace(t)
		out, err := runHelm(t, "install", "other", chartDir(t), "--namespace", ns2, "--kubeconfig", p.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"STATUS: deployed", "DaemonSet " + ns2 + "/other-spot-handler",
			"karpenter.sh/capacity-type in (spot)", "pod-security.kubernetes.io/enforce=privileged"} {
			if !strings.Contains(out, want) {
				t.Errorf("helm install output (NOTES) lacks %q:\n%s", want, out)
			}
		}
		if _, err := p.Client.AppsV1().DaemonSets(ns2).Get(ctx, "other-spot-handler", metav1.GetOptions{}); err != nil {
			t.Errorf("DaemonSet of the helm-installed release: %v", err)
		}
	})
}

func podNodes(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name+"@"+p.Spec.NodeName)
	}
	return out
}

// checkServiceAccount impersonates the agent's ServiceAccount and proves it
// can do each thing the agent needs and nothing else asked about.
func checkServiceAccount(t *testing.T, ctx context.Context, p *testenv.Plane, ns, node string) {
	sa := asServiceAccount(t, p.Config, ns, "spot-handler", node)
	var allowed []access
	for _, v := range []string{"get", "list", "watch", "patch"} {
		allowed = append(allowed, access{verb: v, resource: "nodes"})
	}
	for _, v := range []string{"get", "list", "watch", "delete"} {
		allowed = append(allowed, access{verb: v, resource: "pods"}, access{verb: v, resource: "pods", ns: "default"})
	}
	allowed = append(allowed, access{verb: "create", resource: "pods", sub: "eviction", ns: "default"},
		access{verb: "list", group: "policy", resource: "poddisruptionbudgets"},
		access{verb: "get", group: "apps", resource: "daemonsets", ns: ns}, access{verb: "get", group: "apps", resource: "daemonsets", ns: "default"})
	for _, g := range []string{"", "events.k8s.io"} {
		for _, v := range []string{"create", "patch"} {
			allowed = append(allowed, access{verb: v, group: g, resource: "events", ns: "default"})
		}
	}
	denied := []access{
		{verb: "list", resource: "secrets"}, {verb: "get", resource: "secrets", ns: ns}, {verb: "list", resource: "secrets", ns: ns},
		{verb: "create", resource: "secrets", ns: ns},
		{verb: "delete", resource: "nodes"}, {verb: "update", resource: "nodes"}, {verb: "create", resource: "nodes"},
		{verb: "patch", resource: "nodes", sub: "status"}, {verb: "create", resource: "pods", ns: "default"},
		{verb: "update", resource: "pods", ns: "default"}, {verb: "patch", resource: "pods", ns: "default"},
		{verb: "list", resource: "configmaps"}, {verb: "list", group: "apps", resource: "daemonsets"},
		{verb: "watch", group: "apps", resource: "daemonsets", ns: ns}, {verb: "delete", group: "apps", resource: "daemonsets", ns: ns},
		{verb: "patch", group: "apps", resource: "daemonsets", ns: ns}, {verb: "get", group: "apps", resource: "deployments", ns: ns},
		{verb: "delete", resource: "namespaces"}, {verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings"},
		{verb: "list", resource: "events"}, {verb: "delete", resource: "events", ns: "default"}, {verb: "*", group: "*", resource: "*"},
		{verb: "get", group: "policy", resource: "poddisruptionbudgets", ns: ns}, {verb: "delete", group: "policy", resource: "poddisruptionbudgets", ns: ns},
	}
	checkAccess(t, ctx, sa, "the ServiceAccount", "the agent", allowed, denied)

	// Real calls, as the agent makes them.
	if _, err := sa.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("list nodes: %v", err)
	}
	cordon := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := sa.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, cordon, metav1.PatchOptions{}); err != nil {
		t.Errorf("cordon (patch) node: %v", err)
	}
	victim := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "victim", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: node, Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{Name: "app", Image: "registry.local/fake:1"}}},
	}
	if _, err := p.Client.CoreV1().Pods("default").Create(ctx, victim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node}); err != nil {
		t.Errorf("list the node's pods: %v", err)
	}
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "victim", Namespace: "default"}}
	if err := sa.PolicyV1().Evictions("default").Evict(ctx, ev); err != nil {
		t.Errorf("evict a pod: %v", err)
	}
	event := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "spot-handler-", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node, APIVersion: "v1"},
		Reason:         "SpotInterruption", Message: "test", Type: corev1.EventTypeWarning,
		Source: corev1.EventSource{Component: "spot-handler"},
	}
	if _, err := sa.CoreV1().Events("default").Create(ctx, event, metav1.CreateOptions{}); err != nil {
		t.Errorf("create an event: %v", err)
	}
	if _, err := sa.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list secrets: %v, want Forbidden", err)
	}
	if err := sa.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("delete node: %v, want Forbidden", err)
	}
}
