package chart_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// Claims the API server puts in the user info of a token bound to a pod
// scheduled on a node (KEP 4193, GA in Kubernetes 1.32), which the chart's
// node-bound policy reads.
const (
	nodeNameClaim = "authentication.kubernetes.io/node-name"
	nodeUIDClaim  = "authentication.kubernetes.io/node-uid"
)

// mintToken asks the TokenRequest API, as the kubelet does for a projected
// token, for a token of ServiceAccount ns/sa bound to pod; a nil pod gives a
// token bound to nothing (no node claim).
func mintToken(t *testing.T, ctx context.Context, p *testenv.Plane, ns, sa string, pod *corev1.Pod) string {
	t.Helper()
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}
	if pod != nil {
		tr.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	got, err := p.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, sa, err)
	}
	return got.Status.Token
}

// tokenConfig is base (the plane's or a fault proxy's address and CA)
// authenticated by token instead of base's credentials.
func tokenConfig(base *rest.Config, token string) *rest.Config {
	return &rest.Config{Host: base.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAFile: base.CAFile},
		QPS: base.QPS, Burst: base.Burst}
}

// tokenClient is a clientset of tokenConfig.
func tokenClient(t *testing.T, base *rest.Config, token string) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(tokenConfig(base, token))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// whoAmI returns the user info the API server gives c's credentials.
func whoAmI(t *testing.T, ctx context.Context, c kubernetes.Interface) authenticationv1.UserInfo {
	t.Helper()
	r, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectReview: %v", err)
	}
	return r.Status.UserInfo
}

// tokenKubeconfig writes a kubeconfig of tokenConfig, for the agent binary.
func tokenKubeconfig(t *testing.T, base *rest.Config, token string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["plane"] = &clientcmdapi.Cluster{Server: base.Host, CertificateAuthority: base.CAFile}
	kc.AuthInfos["agent"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["agent"] = &clientcmdapi.Context{Cluster: "plane", AuthInfo: "agent"}
	kc.CurrentContext = "agent"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// agentPod waits for the chart's DaemonSet pod (release in ns) on node to
// run and returns it: the pod a real agent's token is bound to.
func agentPod(t *testing.T, ctx context.Context, p *testenv.Plane, ns, node string) *corev1.Pod {
	t.Helper()
	pod, err := p.NodePod(ctx, ns, "app.kubernetes.io/instance="+release, node, 2*time.Minute)
	if err != nil {
		t.Fatalf("the chart's agent pod: %v", err)
	}
	return pod
}
