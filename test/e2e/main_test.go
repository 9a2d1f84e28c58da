// Package e2e runs the spot-handler binary as a subprocess against the real
// local control plane (kwok nodes) and AWS's metadata simulator (AEMM).
package e2e

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

var (
	plane  *testenv.Plane
	binary string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testenv.RunWithAgent(m, !testing.Short(), &plane, &binary))
}

func needPlane(t *testing.T) *testenv.Plane {
	t.Helper()
	if plane == nil {
		t.Skip("-short: needs the local control plane")
	}
	return plane
}

// agentProc is a running `spot-handler agent` with test helpers.
type agentProc struct {
	*testenv.AgentProc
}

// startAgent runs the agent for node against imdsURL with extra flags and
// waits until /readyz answers 200; the test's cleanup kills it.
func startAgent(t *testing.T, node, imdsURL string, extra ...string) *agentProc {
	t.Helper()
	return startAgentVia(t, plane.Kubeconfig, node, imdsURL, extra...)
}

// startAgentVia is startAgent with another kubeconfig (a fault proxy's).
// The agent runs as the chart's ServiceAccount with a token bound to the
// chart's agent pod on node, under the chart's node-bound policy (see
// agentIdentity), as it does in a cluster.
func startAgentVia(t *testing.T, kubeconfig, node, imdsURL string, extra ...string) *agentProc {
	t.Helper()
	kubeconfig, pod := agentIdentity(t, kubeconfig, node)
	p, err := testenv.StartAgentAs(binary, kubeconfig, node, imdsURL, pod.Namespace, pod.Name, extra...)
	if err != nil {
		t.Fatal(err)
	}
	p.KillAtCleanup(t, "agent log:", 0)
	return &agentProc{AgentProc: p}
}

func (a *agentProc) logs() string { return a.Logs() }
func (a *agentProc) kill()        { a.Kill() }

// metric is Metric, failing the test on a scrape error.
func (a *agentProc) metric(t *testing.T, name string, match ...string) float64 {
	t.Helper()
	return a.MustMetric(t, name, match...)
}

// waitUntil polls cond every 100ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.WaitUntil(t, timeout, what, cond)
}

// spotTest begins a test on a node of its own: it needs the plane, runs in
// parallel with the package's other tests, and makes node with a
// ReplicaSet of n pods of grace seconds pinned to it (see spotNode).
func spotTest(t *testing.T, node string, n int32, grace int64) string {
	t.Helper()
	needPlane(t)
	t.Parallel()
	return spotNode(t, node, n, grace)
}

// spotNode makes a kwok node with a ReplicaSet of n pods pinned to it.
func spotNode(t *testing.T, node string, n int32, grace int64) string {
	t.Helper()
	ctx := context.Background()
	if _, err := plane.NewNode(ctx, node, map[string]string{"spot": "true"}); err != nil {
		t.Fatal(err)
	}
	ns := plane.NewNamespace(t)
	tpl := testenv.PodTemplate(map[string]string{"app": "web"}, map[string]string{"kubernetes.io/hostname": node}, grace, 0)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: tpl}}
	if _, err := plane.Client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := plane.WaitPods(ctx, ns, "app=web", int(n), 120*time.Second); err != nil {
		t.Fatal(err)
	}
	return ns
}
