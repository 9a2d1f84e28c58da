package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

func node(t *testing.T, name string) *corev1.Node {
	t.Helper()
	n, err := plane.Client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func taintCount(n *corev1.Node) int {
	c := 0
	for _, tn := range n.Spec.Taints {
		if tn.Key == drain.TaintKey {
			c++
		}
	}
	return c
}

// podsOn counts the pods bound to the node but the chart's agent pod
// (a DaemonSet pod: no drain evicts it).
func podsOn(t *testing.T, name string) int {
	t.Helper()
	l, err := plane.Client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{FieldSelector: "spec.nodeName=" + name})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range l.Items {
		if p.Namespace != agentNamespace || p.Labels["app.kubernetes.io/instance"] != agentRelease {
			n++
		}
	}
	return n
}

func eventsFor(t *testing.T, ns, kind, name string) []corev1.Event {
	t.Helper()
	l, err := plane.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func hasReason(evs []corev1.Event, reason string) bool {
	for _, e := range evs {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

// TestAgentDrainsOnSpotNotice: 30 pods, AEMM's Spot notice appears 2s after
// start with a termination time 60s out; the node must be cordoned, tainted
// and empty before deadline − margin, with Events, metrics and a webhook
// that fails (500) without hurting the drain.
func TestAgentDrainsOnSpotNotice(t *testing.T) {
	const name = "e2e-spot"
	ns := spotTest(t, name, 30, 5)
	var hooks atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks.Add(1)
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer hook.Close()
	deadline := time.Now().Add(60 * time.Second).UTC().Truncate(time.Second)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-a", "terminate", "-t", deadline.Format(time.RFC3339), "-d", "2", "--rebalance-delay-sec", "100000")
	a := startAgent(t, name, aemm.URL, "--webhook-url", hook.URL+"/secret-token-path")
	waitUntil(t, 10*time.Second, "node cordoned", func() bool { return node(t, name).Spec.Unschedulable })
	waitUntil(t, 60*time.Second, "node empty", func() bool { return podsOn(t, name) == 0 })
	if emptyAt := time.Now(); emptyAt.After(deadline.Add(-15 * time.Second)) {
		t.Errorf("node empty at %v, after deadline-margin %v", emptyAt, deadline.Add(-15*time.Second))
	}
	n := node(t, name)
	if taintCount(n) != 1 || n.Labels[drain.DefaultExcludeLabel] != "true" {
		t.Errorf("node taints %v labels %v", n.Spec.Taints, n.Labels)
	}
	waitUntil(t, 10*time.Second, "drain metrics", func() bool {
		return a.metric(t, "spot_handler_pods_total", `outcome="evicted"`) == 30
	})
	if v := a.metric(t, "spot_handler_notices_total", `kind="SpotInterruption"`, `action="terminate"`); v != 1 {
		t.Errorf("notices_total = %v, want 1", v)
	}
	if v := a.metric(t, "spot_handler_drain_duration_seconds_count"); v != 1 {
		t.Errorf("drain_duration count = %v, want 1", v)
	}
	if v := a.metric(t, "spot_handler_termination_deadline_timestamp_seconds"); v != float64(deadline.Unix()) {
		t.Errorf("deadline gauge = %v, want %d", v, deadline.Unix())
	}
	waitUntil(t, 10*time.Second, "webhook failures counted", func() bool {
		return a.metric(t, "spot_handler_webhook_requests_total", `outcome="error"`) == 2
	})
	if strings.Contains(a.logs(), "secret-token-path") {
		t.Error("the webhook URL appears in the logs")
	}
	waitUntil(t, 10*time.Second, "Events", func() bool {
		return hasReason(eventsFor(t, "default", "Node", name), "Drained") && hasReason(eventsFor(t, "default", "Node", name), "SpotInterruption")
	})
	pods, _ := plane.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "reason=EvictedBySpotHandler"})
	if len(pods.Items) != 30 {
		t.Errorf("%d pod Events EvictedBySpotHandler, want 30", len(pods.Items))
	}
	if v := a.metric(t, "spot_handler_imds_last_success_timestamp_seconds"); v < float64(time.Now().Add(-10*time.Second).Unix()) {
		t.Errorf("imds last success %v is stale", v)
	}
}

func TestAgentDryRunChangesNothing(t *testing.T) {
	const name = "e2e-dry"
	spotTest(t, name, 5, 1)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	a := startAgent(t, name, aemm.URL, "--dry-run")
	waitUntil(t, 15*time.Second, "dry-run plan logged", func() bool {
		return strings.Count(a.logs(), "dry-run: would evict pod") == 5 && strings.Contains(a.logs(), "dry-run: would cordon")
	})
	n := node(t, name)
	if n.Spec.Unschedulable || taintCount(n) != 0 || n.Annotations[drain.NoticeAnnotation] != "" || podsOn(t, name) != 5 {
		t.Errorf("dry run changed the node or its pods: %+v", n.Spec)
	}
}

func TestAgentCordonOnly(t *testing.T) {
	const name = "e2e-cordon-only"
	spotTest(t, name, 5, 1)
	// A webhook that hangs longer than the 5s timeout must not delay the cordon.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	}))
	defer hook.Close()
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", time.Now().Add(time.Minute).UTC().Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	a := startAgent(t, name, aemm.URL, "--cordon-only", "--webhook-url", hook.URL)
	waitUntil(t, 10*time.Second, "node cordoned", func() bool { return node(t, name).Spec.Unschedulable })
	time.Sleep(3 * time.Second)
	if podsOn(t, name) != 5 || taintCount(node(t, name)) != 1 {
		t.Errorf("cordon-only: %d pods, taints %v", podsOn(t, name), node(t, name).Spec.Taints)
	}
	waitUntil(t, 10*time.Second, "slow webhook counted as error", func() bool {
		return a.metric(t, "spot_handler_webhook_requests_total", `outcome="error"`) == 1
	})
}

// TestAgentRebalanceTaintsOnly also checks the steady state: no API calls.
func TestAgentRebalanceTaintsOnly(t *testing.T) {
	const name = "e2e-rebalance"
	spotTest(t, name, 3, 1)
	// Spot notice far in the future would drain: use only a rebalance, 12s after start.
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "--rebalance-delay-sec", "12", "-r", time.Now().Add(12*time.Second).UTC().Format(time.RFC3339), "-d", "3600")
	a := startAgent(t, name, aemm.URL)
	time.Sleep(time.Second) // start-up calls are done once /readyz is ok; let them settle
	before := a.metric(t, "spot_handler_kube_api_requests_total")
	time.Sleep(8 * time.Second)
	if after := a.metric(t, "spot_handler_kube_api_requests_total"); after != before {
		t.Errorf("idle agent made %v API requests in 8s, want 0", after-before)
	}
	waitUntil(t, 20*time.Second, "rebalance taint", func() bool { return taintCount(node(t, name)) == 1 })
	n := node(t, name)
	for _, tn := range n.Spec.Taints {
		if tn.Key == drain.TaintKey && (tn.Effect != corev1.TaintEffectPreferNoSchedule || tn.Value != "RebalanceRecommendation") {
			t.Errorf("taint %+v, want RebalanceRecommendation:PreferNoSchedule", tn)
		}
	}
	time.Sleep(2 * time.Second)
	if n := node(t, name); n.Spec.Unschedulable || podsOn(t, name) != 3 {
		t.Errorf("rebalance with --rebalance=taint cordoned (%v) or drained (%d pods left)", n.Spec.Unschedulable, podsOn(t, name))
	}
}

func TestAgentASGTerminated(t *testing.T) {
	const name = "e2e-asg"
	spotTest(t, name, 4, 1)
	aemm := testenv.StartAEMM(t, "asglifecycle", "--imdsv2", "--asg-termination-delay-sec", "3")
	a := startAgent(t, name, aemm.URL)
	waitUntil(t, 60*time.Second, "node drained", func() bool { return node(t, name).Spec.Unschedulable && podsOn(t, name) == 0 })
	if v := a.metric(t, "spot_handler_notices_total", `kind="ASGTermination"`); v != 1 {
		t.Errorf("ASG notices = %v", v)
	}
}

func TestAgentBadConfig(t *testing.T) {
	if binary == "" {
		t.Skip("-short: the binary is built in TestMain")
	}
	t.Parallel()
	tpl := t.TempDir() + "/bad.tmpl"
	if err := writeFile(tpl, "{{ .Nope "); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"missing node name", []string{"agent", "--kubeconfig", "/dev/null"}, "no node name"},
		{"unreadable kubeconfig", []string{"agent", "--node-name", "n", "--kubeconfig", "/nonexistent/kubeconfig"}, "--kubeconfig /nonexistent/kubeconfig"},
		{"bad template", []string{"agent", "--node-name", "n", "--kubeconfig", plane.Kubeconfig, "--webhook-template", tpl}, "--webhook-template"},
		{"bad policy", []string{"agent", "--node-name", "n", "--kubeconfig", plane.Kubeconfig, "--rebalance", "panic"}, `--rebalance="panic"`},
		{"unknown flag", []string{"agent", "--no-such-flag"}, "flag provided but not defined"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, code := run(binary, tt.args...)
			if code != 2 || !strings.Contains(out, tt.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Errorf("exit %d, output %q: want exit 2 and one line containing %q", code, out, tt.want)
			}
		})
	}
}

// TestAgentDeadlineInsideMargin: a Spot "stop" notice whose time is already
// inside the drain margin is drained at once with the shortest grace, and
// the agent says so.
func TestAgentDeadlineInsideMargin(t *testing.T) {
	const name = "e2e-late"
	spotTest(t, name, 4, 30)
	deadline := time.Now().Add(8 * time.Second).UTC().Truncate(time.Second)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-a", "stop", "-t", deadline.Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	a := startAgent(t, name, aemm.URL)
	waitUntil(t, 20*time.Second, "node empty", func() bool { return podsOn(t, name) == 0 })
	if !strings.Contains(a.logs(), "deadline already passed or inside the drain margin") {
		t.Error("the agent did not say the deadline was inside the margin")
	}
	waitUntil(t, 10*time.Second, "pod events", func() bool {
		evs, _ := plane.Client.CoreV1().Events("").List(context.Background(), metav1.ListOptions{FieldSelector: "reason=EvictedBySpotHandler"})
		n := 0
		for _, e := range evs.Items {
			if e.InvolvedObject.Namespace != "" && strings.Contains(e.Message, "node "+name) {
				n++
				if !strings.Contains(e.Message, "evicted with 1s grace") {
					t.Errorf("pod event %q: want the shortest grace, 1s", e.Message)
				}
			}
		}
		return n == 4
	})
	if v := a.metric(t, "spot_handler_notices_total", `kind="SpotInterruption"`, `action="stop"`); v != 1 {
		t.Errorf("stop notices = %v", v)
	}
}
