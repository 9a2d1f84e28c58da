package controller

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// chartFlowControl is what the chart renders for API Priority and Fairness
// in controller mode, and the ServiceAccount its Deployment runs as.
type chartFlowControl struct {
	level  *flowcontrolv1.PriorityLevelConfiguration
	schema *flowcontrolv1.FlowSchema
	sa     string // the controller Deployment's serviceAccountName, in the release namespace
}

// renderFlowControl runs helm template on charts/spot-handler in controller
// mode for namespace ns and picks the PriorityLevelConfiguration, the
// FlowSchema and the controller Deployment's ServiceAccount.
func renderFlowControl(tb testing.TB, ns string) chartFlowControl {
	tb.Helper()
	helm, err := testenv.Binary("helm", testenv.HelmVersion)
	if err != nil {
		tb.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	chart := filepath.Join(filepath.Dir(file), "..", "..", "charts", "spot-handler")
	home := tb.TempDir()
	cmd := exec.Command(helm, "template", "spot-handler", chart, "--namespace", ns, "--kube-version", "1.37.2",
		"--set", "mode=controller", "--set", "controller.queueURL=https://sqs.us-east-1.amazonaws.com/123456789012/q",
		"--set", "clusterName="+testCluster)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "c"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "f"), "HELM_DATA_HOME="+filepath.Join(home, "d"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("helm template: %v: %s", err, stderr.String())
	}
	var r chartFlowControl
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			tb.Fatalf("decoding the rendered chart: %v", err)
		}
		var into any
		switch u.GetKind() {
		case "PriorityLevelConfiguration":
			r.level = &flowcontrolv1.PriorityLevelConfiguration{}
			into = r.level
		case "FlowSchema":
			r.schema = &flowcontrolv1.FlowSchema{}
			into = r.schema
		case "Deployment":
			var d appsv1.Deployment
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
				tb.Fatal(err)
			}
			r.sa = d.Spec.Template.Spec.ServiceAccountName
			continue
		default:
			continue
		}
		if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
			tb.Fatalf("rendered %s: %v", u.GetKind(), err)
		}
	}
	if r.level == nil || r.schema == nil || r.sa == "" {
		tb.Fatalf("the chart rendered no PriorityLevelConfiguration, FlowSchema or controller ServiceAccount:\n%s", out)
	}
	return r
}

// apply creates the chart's two objects and deletes them when tb ends; it
// returns them as created (with their UIDs).
func (c chartFlowControl) apply(tb testing.TB) (*flowcontrolv1.PriorityLevelConfiguration, *flowcontrolv1.FlowSchema) {
	tb.Helper()
	fc := plane.Client.FlowcontrolV1()
	// A benchmark run more than once (-benchtime 2x) applies them again:
	// the first run's objects stand until it ends.
	pl := applyOnce(tb, "PriorityLevelConfiguration", c.level, fc.PriorityLevelConfigurations().Create,
		fc.PriorityLevelConfigurations().Get, fc.PriorityLevelConfigurations().Delete)
	fs := applyOnce(tb, "FlowSchema", c.schema, fc.FlowSchemas().Create, fc.FlowSchemas().Get, fc.FlowSchemas().Delete)
	return pl, fs
}

// applyOnce creates obj (or takes the one of that name already there) and
// deletes it when tb ends.
func applyOnce[T metav1.Object](tb testing.TB, kind string, obj T,
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	get func(context.Context, string, metav1.GetOptions) (T, error),
	del func(context.Context, string, metav1.DeleteOptions) error) T {
	tb.Helper()
	ctx := context.Background()
	got, err := create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		got, err = get(ctx, obj.GetName(), metav1.GetOptions{})
	}
	if err != nil {
		tb.Fatalf("creating the chart's %s: %v", kind, err)
	}
	tb.Cleanup(func() { _ = del(ctx, got.GetName(), metav1.DeleteOptions{}) })
	return got
}

// serviceAccount creates the ServiceAccount ns/name bound to cluster-admin
// (a ServiceAccount is never in system:masters, so APF classifies it) and
// returns a client config and kubeconfig with its token. The binding is
// deleted when tb ends; the namespace takes the ServiceAccount.
func serviceAccount(tb testing.TB, ns, name string) (*rest.Config, string) {
	tb.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if _, err := plane.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("creating ServiceAccount %s/%s: %v", ns, name, err)
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}}}
	rbac := plane.Client.RbacV1().ClusterRoleBindings()
	if _, err := rbac.Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = rbac.Delete(context.Background(), crb.Name, metav1.DeleteOptions{}) })
	cfg, kc, err := plane.ServiceAccountConfig(ctx, ns, name)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg, kc
}

// classified is how APF classified a request: the UIDs the API server
// names in the X-Kubernetes-PF-FlowSchema-UID and -PriorityLevel-UID
// response headers.
type classified struct{ schema, level string }

// classify makes one request (a one-pod LIST in ns) with cfg and returns
// its classification.
func classify(cfg *rest.Config, ns string) (classified, error) {
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return classified{}, err
	}
	req, err := http.NewRequest(http.MethodGet, cfg.Host+"/api/v1/namespaces/"+ns+"/pods?limit=1", nil)
	if err != nil {
		return classified{}, err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return classified{}, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return classified{}, errors.New("classify: " + resp.Status)
	}
	return classified{resp.Header.Get("X-Kubernetes-PF-FlowSchema-UID"), resp.Header.Get("X-Kubernetes-PF-PriorityLevel-UID")}, nil
}

// builtin is the classification of the API server's own FlowSchema name
// and its priority level.
func builtin(tb testing.TB, name string) classified {
	tb.Helper()
	fc := plane.Client.FlowcontrolV1()
	fs, err := fc.FlowSchemas().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	pl, err := fc.PriorityLevelConfigurations().Get(context.Background(), fs.Spec.PriorityLevelConfiguration.Name, metav1.GetOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return classified{string(fs.UID), string(pl.UID)}
}

// TestChartFlowSchemaClassifiesController: the controller's ServiceAccount
// (the one the chart's Deployment runs as, in the release namespace) is
// classified by the built-in service-accounts FlowSchema into workload-low
// until the chart's FlowSchema and PriorityLevelConfiguration exist, and by
// them once they do (the API server's response headers say which).
func TestChartFlowSchemaClassifiesController(t *testing.T) {
	if plane == nil {
		t.Skip("-short: needs the local control plane")
	}
	ns := plane.NewNamespace(t)
	chart := renderFlowControl(t, ns)
	cfg, _ := serviceAccount(t, ns, chart.sa)
	// The new binding reaches the API server's authorizer within a moment.
	before, err := classify(cfg, ns)
	for end := time.Now().Add(10 * time.Second); err != nil && time.Now().Before(end); before, err = classify(cfg, ns) {
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if want := builtin(t, "service-accounts"); before != want {
		t.Fatalf("before the chart's objects, the controller's request was classified %+v, want service-accounts/workload-low %+v", before, want)
	}
	pl, fs := chart.apply(t)
	want := classified{string(fs.UID), string(pl.UID)}
	var got classified
	deadline := time.Now().Add(20 * time.Second)
	for got != want && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if got, err = classify(cfg, ns); err != nil {
			t.Fatal(err)
		}
	}
	if got != want {
		t.Errorf("with the chart's objects, the controller's request was classified %+v, want FlowSchema and level %s %+v (service-accounts is %+v)",
			got, fs.Name, want, before)
	}
}
