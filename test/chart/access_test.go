package chart_test

import (
	"context"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// access is one request a ServiceAccount may or may not make: verb on
// group/resource (sub its subresource) in namespace ns ("" cluster-wide).
type access struct{ verb, group, resource, sub, ns string }

// asServiceAccount is a client of cfg's API server that impersonates the
// ServiceAccount ns/name, with the groups the API gives a ServiceAccount
// and, if node is not "", the node claim a token bound to a pod on node
// carries (the chart's node-bound policy lets the agent's ServiceAccount
// change that node only).
func asServiceAccount(t *testing.T, cfg *rest.Config, ns, name, node string) *kubernetes.Clientset {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	if node != "" {
		cfg.Impersonate.Extra = map[string][]string{nodeNameClaim: {node}}
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkAccess asks the API server, as sa, about each access in allowed and
// denied (SelfSubjectAccessReview), and fails t for each allowed one it
// refuses ("<account> cannot …, which <user> needs") and each denied one
// it grants ("<account> can …; <user> does not need it").
func checkAccess(t *testing.T, ctx context.Context, sa kubernetes.Interface, account, user string, allowed, denied []access) {
	t.Helper()
	can := func(a access) bool {
		t.Helper()
		r, err := sa.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.sub, Namespace: a.ns}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("access review %+v: %v", a, err)
		}
		return r.Status.Allowed
	}
	for _, a := range allowed {
		if !can(a) {
			t.Errorf("%s cannot %+v, which %s needs", account, a, user)
		}
	}
	for _, a := range denied {
		if can(a) {
			t.Errorf("%s can %+v; %s does not need it", account, a, user)
		}
	}
}
