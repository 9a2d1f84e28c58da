package chart_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// policyName is the node-bound policy's (and its binding's) name in the
// release the tests render.
const policyName = release + "-node-bound"

// TestNodeBoundPolicy installs the chart's defaults on the real apiserver
// and checks, with tokens minted by the TokenRequest API (bound to the
// chart's agent pod on node A, as the kubelet's are, or to nothing), what the
// agent's ServiceAccount may do: first without the policy, where every
// request of the table is allowed (so each denial after is the policy's,
// not RBAC's), then with it. Then a full drain of a node and the agent
// binary, both with a pod-bound token, under the policy.
func TestNodeBoundPolicy(t *testing.T) {
	needPeers(t)
	ctx := context.Background()
	p := testenv.Start(t)
	a := newApplier(t, p.Config)
	ns := p.NewNamespace(t)
	objs := render(t, ns, nil)
	for _, o := range objs {
		if !isPolicy(o) {
			if err := a.apply(ctx, o, false); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("without the policy", func(t *testing.T) { nodeBoundTable(t, ctx, p, ns, "free", false) })
	applyNodeBoundPolicy(t, ctx, p, objs, ns)
	t.Run("with the policy", func(t *testing.T) { nodeBoundTable(t, ctx, p, ns, "bound", true) })

	t.Run("a full drain with a pod-bound token", func(t *testing.T) {
		node := "bound-drain"
		if _, err := p.NewNode(ctx, node, map[string]string{"spot": "true"}); err != nil {
			t.Fatal(err)
		}
		token := mintToken(t, ctx, p, ns, "spot-handler", agentPod(t, ctx, p, ns, node))
		as := func(cfg *rest.Config) kubernetes.Interface { return tokenClient(t, cfg, token) }
		checkDrainAsServiceAccount(t, ctx, p, node, as, drain.DefaultExcludeLabel, 1)
	})

	t.Run("the agent refused by the policy", func(t *testing.T) { checkAgentRefused(t, ctx, p, ns) })
}

// isPolicy reports whether o is the node-bound policy or its binding.
func isPolicy(o *unstructured.Unstructured) bool {
	return o.GetKind() == "ValidatingAdmissionPolicy" || o.GetKind() == "ValidatingAdmissionPolicyBinding"
}

// nodeBoundCase is one request of the agent's ServiceAccount.
type nodeBoundCase struct {
	name    string
	unbound bool // made with a token bound to no pod (no node claim)
	do      func(ctx context.Context, c kubernetes.Interface) error
	// denied is "" for a request the policy allows, else words of the
	// policy's message refusing it.
	denied string
}

// nodeBoundTable makes nodes PREFIX-a and PREFIX-b (Spot nodes: the chart's
// agent pod runs on each) with a pod each, and runs the table. enforced
// says the policy is in force: each case's request then is allowed or
// denied as the case says; else every request must be allowed.
func nodeBoundTable(t *testing.T, ctx context.Context, p *testenv.Plane, ns, prefix string, enforced bool) {
	nodeA, nodeB := prefix+"-a", prefix+"-b"
	for _, n := range []string{nodeA, nodeB} {
		if _, err := p.NewNode(ctx, n, map[string]string{"spot": "true"}); err != nil {
			t.Fatal(err)
		}
	}
	work := p.NewNamespace(t)
	for _, name := range []string{"on-a", "on-a-unbound", "on-b"} {
		node := nodeA
		if name == "on-b" {
			node = nodeB
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: work},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "registry.local/fake:1"}}}}
		if _, err := p.Client.CoreV1().Pods(work).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	self := agentPod(t, ctx, p, ns, nodeA)
	bound := tokenClient(t, p.Config, mintToken(t, ctx, p, ns, "spot-handler", self))
	unbound := tokenClient(t, p.Config, mintToken(t, ctx, p, ns, "spot-handler", nil))

	// The apiserver put the node claims in the pod-bound token, and none in the other.
	a, err := p.Client.CoreV1().Nodes().Get(ctx, nodeA, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := whoAmI(t, ctx, bound).Extra; fmt.Sprint(got[nodeNameClaim]) != "["+nodeA+"]" || fmt.Sprint(got[nodeUIDClaim]) != "["+string(a.UID)+"]" {
		t.Fatalf("the pod-bound token's extra %v, want %s=[%s] and %s=[%s]", got, nodeNameClaim, nodeA, nodeUIDClaim, a.UID)
	}
	if got := whoAmI(t, ctx, unbound).Extra; len(got[nodeNameClaim]) != 0 {
		t.Fatalf("the unbound token's extra %v has a node claim", got)
	}

	exclude := drain.DefaultExcludeLabel
	cases := []nodeBoundCase{
		{name: "cordon A", do: patch(nodeA, `{"spec":{"unschedulable":true}}`)},
		{name: "taint A", do: addTaints(nodeA, corev1.Taint{Key: drain.TaintKey, Value: "SpotInterruption", Effect: corev1.TaintEffectNoSchedule})},
		{name: "annotate A", do: patch(nodeA, `{"metadata":{"annotations":{"`+drain.NoticeAnnotation+`":"{}","`+drain.ClaimAnnotation+`":"x"}}}`)},
		{name: "label A for load balancers", do: patch(nodeA, `{"metadata":{"labels":{"`+exclude+`":"true"}}}`)},
		{name: "delete a pod on A", do: deletePod(work, "on-a")},
		{name: "cordon B", do: patch(nodeB, `{"spec":{"unschedulable":true}}`), denied: "only its own node " + nodeA + " (claim " + nodeNameClaim + "), not node " + nodeB},
		{name: "taint B", do: addTaints(nodeB, corev1.Taint{Key: drain.TaintKey, Value: "SpotInterruption", Effect: corev1.TaintEffectNoExecute}), denied: "not node " + nodeB},
		{name: "delete a pod on B", do: deletePod(work, "on-b"), denied: "delete only pods on its own node " + nodeA + " (claim " + nodeNameClaim + "), not pod " + work + "/on-b on node " + nodeB},
		{name: "another label on A", do: patch(nodeA, `{"metadata":{"labels":{"node-restriction.kubernetes.io/sensitive":"true"}}}`), denied: "only the label " + exclude + " and the annotations"},
		{name: "another annotation on A", do: patch(nodeA, `{"metadata":{"annotations":{"spot-handler.io/maintenance-wait":"{}"}}}`), denied: "not spot-handler.io/maintenance-wait"},
		{name: "another taint on A", do: addTaints(nodeA, corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoExecute}), denied: "only the taint " + drain.TaintKey},
		{name: "providerID of A", do: patch(nodeA, `{"spec":{"providerID":"aws:///us-east-1a/i-0123456789abcdef0"}}`), denied: "no other field of the spec"},
		// The Node deleted and registered again under its name while the agent's
		// pod lives: its token still carries the old node-uid, and the agent must
		// still cordon (the policy checks the name only).
		{name: "cordon A made again (another uid)", do: func(ctx context.Context, c kubernetes.Interface) error {
			if err := p.Client.CoreV1().Nodes().Delete(ctx, nodeA, metav1.DeleteOptions{}); err != nil {
				return err
			}
			if _, err := p.NewNode(ctx, nodeA, map[string]string{"spot": "true"}); err != nil {
				return err
			}
			return patch(nodeA, `{"spec":{"unschedulable":true}}`)(ctx, c)
		}},
		{name: "cordon A without node claim", unbound: true, do: patch(nodeA, `{"spec":{"unschedulable":false}}`), denied: "no " + nodeNameClaim + " claim"},
		{name: "delete a pod on A without node claim", unbound: true, do: deletePod(work, "on-a-unbound"), denied: "no " + nodeNameClaim + " claim"},
	}
	if enforced {
		// `spot-handler rehearse` acts as its user, whom the policy does not match.
		out, err := exec.Command(agentBinary(t), "rehearse", "--node", nodeB, "--kubeconfig", p.Kubeconfig, "--undo").CombinedOutput()
		if err != nil {
			t.Errorf("spot-handler rehearse --undo on %s, as the user, under the policy: %v\n%s", nodeB, err, out)
		}
	}
	for _, c := range cases {
		cl := bound
		if c.unbound {
			cl = unbound
		}
		err := c.do(ctx, cl)
		switch {
		case !enforced || c.denied == "":
			if err != nil {
				t.Errorf("%s: %v, want allowed", c.name, err)
			}
		case !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+policyName+"'") ||
			!strings.Contains(err.Error(), c.denied):
			t.Errorf("%s: %v, want Forbidden by ValidatingAdmissionPolicy %s saying %q", c.name, err, policyName, c.denied)
		default:
			t.Logf("%s: denied: %v", c.name, err)
		}
	}
}

// patch is a case that strategic-merge-patches node with body.
func patch(node, body string) func(context.Context, kubernetes.Interface) error {
	return func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, []byte(body), metav1.PatchOptions{})
		return err
	}
}

// addTaints is a case that adds taints to node's, as the agent does: a
// JSON patch guarded on the taints it read (a merge patch would replace
// the list, and with it a taint the node lifecycle controller adds on a
// cordon), read again when someone changed them in between.
func addTaints(node string, taints ...corev1.Taint) func(context.Context, kubernetes.Interface) error {
	return func(ctx context.Context, c kubernetes.Interface) error {
		var err error
		for range 20 {
			var n *corev1.Node
			if n, err = c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err != nil {
				return err
			}
			guard := map[string]any{"op": "test", "path": "/spec/taints", "value": n.Spec.Taints}
			if len(n.Spec.Taints) == 0 {
				guard["value"] = nil
			}
			body, _ := json.Marshal([]map[string]any{guard, {"op": "add", "path": "/spec/taints", "value": append(n.Spec.Taints, taints...)}})
			if _, err = c.CoreV1().Nodes().Patch(ctx, node, types.JSONPatchType, body, metav1.PatchOptions{}); !apierrors.IsInvalid(err) {
				return err
			}
		}
		return err
	}
}

// deletePod is a case that deletes pod ns/name.
func deletePod(ns, name string) func(context.Context, kubernetes.Interface) error {
	return func(ctx context.Context, c kubernetes.Interface) error {
		return c.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{})
	}
}

// applyNodeBoundPolicy applies the node-bound policy and binding among objs
// (a render for release namespace ns), checks the API server type-checked
// every expression without a warning, and waits until it enforces them: a
// dry-run cordon by the agent's ServiceAccount without a node claim is
// refused by the policy.
func applyNodeBoundPolicy(t *testing.T, ctx context.Context, p *testenv.Plane, objs []*unstructured.Unstructured, ns string) {
	t.Helper()
	a := newApplier(t, p.Config)
	n := 0
	for _, o := range objs {
		if isPolicy(o) {
			if err := a.apply(ctx, o, false); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n != 2 {
		t.Fatalf("the render has %d of the policy and its binding, want both", n)
	}
	vap := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicies"}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		o, err := a.dyn.Resource(vap).Get(ctx, policyName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if seen, _, _ := unstructured.NestedInt64(o.Object, "status", "observedGeneration"); seen != o.GetGeneration() {
			return false, nil
		}
		if w, _, _ := unstructured.NestedSlice(o.Object, "status", "typeChecking", "expressionWarnings"); len(w) > 0 {
			return false, fmt.Errorf("type-checking warnings: %v", w)
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("policy %s: %v", policyName, err)
	}
	nodes, err := p.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) == 0 {
		n, err := p.NewNode(ctx, "policy-probe", nil)
		if err != nil {
			t.Fatal(err)
		}
		nodes.Items = append(nodes.Items, *n)
	}
	sa := asServiceAccount(t, p.Config, ns, "spot-handler", "")
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, last = sa.CoreV1().Nodes().Patch(ctx, nodes.Items[0].Name, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`),
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		return last != nil && strings.Contains(last.Error(), "ValidatingAdmissionPolicy '"+policyName+"'"), nil
	})
	if err != nil {
		t.Fatalf("policy %s not in force after a minute: a dry-run cordon without node claim answered %v", policyName, last)
	}
}
