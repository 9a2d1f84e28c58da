package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// The chart's release whose agent identity the suite's agents take.
const (
	agentNamespace = "kube-system"
	agentRelease   = "spot-handler"
)

var (
	identityOnce sync.Once
	identityErr  error
)

// agentIdentity gives the agent for node the identity it has in a
// cluster: it installs the chart's defaults on the plane once (the agent's
// ServiceAccount, ClusterRole and binding, the DaemonSet, whose pod on each
// Spot node kwok runs, and the node-bound ValidatingAdmissionPolicy), then
// mints, with the TokenRequest API, a token bound to the chart's agent pod
// on node, as the kubelet does, so the API server gives it that node's
// claims. It returns a copy of kubeconfig (the plane's or a fault proxy's
// address) that authenticates with that token, and the pod.
func agentIdentity(t *testing.T, kubeconfig, node string) (string, *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	identityOnce.Do(func() { identityErr = installChart(ctx, node) })
	if identityErr != nil {
		t.Fatalf("installing the chart's agent identity: %v", identityErr)
	}
	pod, err := plane.NodePod(ctx, agentNamespace, "app.kubernetes.io/instance="+agentRelease, node, 2*time.Minute)
	if err != nil {
		t.Fatalf("the chart's agent pod (is %s a Spot node?): %v", node, err)
	}
	hour := int64(3600)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour,
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}}}
	tok, err := plane.Client.CoreV1().ServiceAccounts(agentNamespace).CreateToken(ctx, pod.Spec.ServiceAccountName, tr, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest bound to pod %s: %v", pod.Name, err)
	}
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for name := range kc.AuthInfos {
		kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	}
	path := filepath.Join(t.TempDir(), "agent.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path, pod
}

// installChart renders the chart's defaults (helm template) for the agent's
// release, creates its objects and waits until the node-bound policy is in
// force: a dry-run cordon of node by the agent's ServiceAccount without a
// node claim is refused by it.
func installChart(ctx context.Context, node string) error {
	helm, err := testenv.Binary("helm", testenv.HelmVersion)
	if err != nil {
		return err
	}
	_, file, _, _ := runtime.Caller(0)
	chart := filepath.Join(filepath.Dir(file), "..", "..", "charts", "spot-handler")
	var out, errb bytes.Buffer
	cmd := exec.Command(helm, "template", agentRelease, chart, "--namespace", agentNamespace, "--kube-version", strings.TrimPrefix(testenv.KubeVersion, "v"))
	cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+filepath.Join(plane.Dir, "helm"), "HELM_CONFIG_HOME="+filepath.Join(plane.Dir, "helm"),
		"HELM_DATA_HOME="+filepath.Join(plane.Dir, "helm"))
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("helm template: %w: %s", err, errb.String())
	}
	c := plane.Client
	policy := ""
	for _, doc := range strings.Split(out.String(), "\n---") {
		if strings.TrimSpace(doc) == "" || !strings.Contains(doc, "kind:") {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			return fmt.Errorf("decoding the chart's manifest: %w\n%s", err, doc)
		}
		opts := metav1.CreateOptions{}
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			_, err = c.CoreV1().ServiceAccounts(agentNamespace).Create(ctx, o, opts)
		case *rbacv1.ClusterRole:
			_, err = c.RbacV1().ClusterRoles().Create(ctx, o, opts)
		case *rbacv1.ClusterRoleBinding:
			_, err = c.RbacV1().ClusterRoleBindings().Create(ctx, o, opts)
		case *appsv1.DaemonSet:
			_, err = c.AppsV1().DaemonSets(agentNamespace).Create(ctx, o, opts)
		case *admissionv1.ValidatingAdmissionPolicy:
			policy = o.Name
			_, err = c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, o, opts)
		case *admissionv1.ValidatingAdmissionPolicyBinding:
			_, err = c.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, o, opts)
		default:
			err = fmt.Errorf("the chart's defaults render a %T this suite does not install", obj)
		}
		if err != nil {
			return err
		}
	}
	if policy == "" {
		return fmt.Errorf("the chart's defaults render no node-bound policy")
	}
	cfg := rest.CopyConfig(plane.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + agentNamespace + ":" + agentRelease,
		Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	sa, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, last = sa.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`),
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		return last != nil && strings.Contains(last.Error(), "ValidatingAdmissionPolicy '"+policy+"'"), nil
	})
	if err != nil {
		return fmt.Errorf("policy %s not in force after a minute: a dry-run cordon without node claim answered %v", policy, last)
	}
	return nil
}

// TestAgentRunsBoundToItsNode: the suite's agents run as the chart's
// ServiceAccount with a token bound to the agent pod on their node, which
// carries that node's claim, and the node-bound policy is in force for it:
// a cordon of another node is refused.
func TestAgentRunsBoundToItsNode(t *testing.T) {
	spotTest(t, "e2e-bound", 1, 1)
	if _, err := plane.NewNode(context.Background(), "e2e-bound-other", map[string]string{"spot": "true"}); err != nil {
		t.Fatal(err)
	}
	kubeconfig, _ := agentIdentity(t, plane.Kubeconfig, "e2e-bound")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	who, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := who.Status.UserInfo; u.Username != "system:serviceaccount:"+agentNamespace+":"+agentRelease ||
		fmt.Sprint(u.Extra["authentication.kubernetes.io/node-name"]) != "[e2e-bound]" {
		t.Fatalf("the agent's token authenticates as %s with extra %v, want the chart's ServiceAccount with node-name e2e-bound", u.Username, u.Extra)
	}
	cordon := []byte(`{"spec":{"unschedulable":true}}`)
	dry := metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}}
	if _, err := c.CoreV1().Nodes().Patch(ctx, "e2e-bound", types.MergePatchType, cordon, dry); err != nil {
		t.Errorf("a dry-run cordon of its own node: %v", err)
	}
	if _, err := c.CoreV1().Nodes().Patch(ctx, "e2e-bound-other", types.MergePatchType, cordon, dry); err == nil ||
		!strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+agentRelease+"-node-bound'") {
		t.Errorf("a dry-run cordon of another node: %v, want refused by the node-bound policy", err)
	}
}
