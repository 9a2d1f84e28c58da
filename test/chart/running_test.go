package chart_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/internal/testenv"
)

// freeLoopbackPort returns a port free on 127.0.0.1.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runChartAgent runs the agent binary with exactly the container arguments
// and environment the chart renders (the downward API filled in by hand) and
// as the chart's ServiceAccount, with the token the kubelet would project
// into the chart's agent pod on the node (minted by the TokenRequest API,
// bound to that pod), against the local plane and AEMM, under the chart's
// node-bound policy rendered with the same values. It checks the agent turns
// ready and serves the metrics the alerts and dashboard rely on, then that a
// Spot notice gets its node cordoned, tainted and drained with the chart's
// RBAC alone, and nothing it does is refused.
func runChartAgent(t *testing.T, ctx context.Context, p *testenv.Plane, ns string) {
	node, err := p.NewNode(ctx, "spot-agent", map[string]string{"eks.amazonaws.com/capacityType": "SPOT"})
	if err != nil {
		t.Fatal(err)
	}
	// Workload pods on the node, for the agent to drain.
	work := p.NewNamespace(t)
	for i := range 3 {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i), Labels: map[string]string{"app": "work"}},
			Spec: corev1.PodSpec{NodeName: node.Name, TerminationGracePeriodSeconds: ptr(int64(5)),
				Containers: []corev1.Container{{Name: "app", Image: "registry.local/fake:1"}}}}
		if _, err := p.Client.CoreV1().Pods(work).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.WaitPods(ctx, work, "app=work", 3, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	bin := agentBinary(t)
	// A Spot interruption notice some seconds after start (after the idle
	// checks below), due in 2 minutes.
	deadline := time.Now().Add(2 * time.Minute).UTC().Format(time.RFC3339)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-a", "terminate", "-t", deadline, "-d", "10", "--rebalance-delay-sec", "100000")
	self := agentPod(t, ctx, p, ns, node.Name)
	kubeconfig := tokenKubeconfig(t, p.Config, mintToken(t, ctx, p, ns, "spot-handler", self))
	mp, pp := freeLoopbackPort(t), freeLoopbackPort(t)
	// The chart binds /metrics to [$(POD_IP)]:PORT and, with hostNetwork, the
	// probes to 127.0.0.1:PORT; the pod IP given below is loopback, so the
	// agent runs with the chart's own listen arguments.
	objs := render(t, ns, nil, "agent.imdsEndpoint="+aemm.URL, fmt.Sprintf("agent.metricsPort=%d", mp), fmt.Sprintf("agent.probePort=%d", pp),
		fmt.Sprintf("agent.extraArgs={--kubeconfig=%s}", kubeconfig))
	c := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet")).Spec.Template.Spec.Containers[0]
	applyNodeBoundPolicy(t, ctx, p, objs, ns)
	downward := map[string]string{"spec.nodeName": node.Name, "metadata.name": self.Name, "metadata.namespace": ns, "status.podIP": "127.0.0.1"}
	env := []string{"HOME=" + t.TempDir()}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			v, ok := downward[e.ValueFrom.FieldRef.FieldPath]
			if !ok {
				t.Fatalf("env %s uses field %s, which this test does not fill", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			env = append(env, e.Name+"="+v)
		case e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory":
			env = append(env, e.Name+"="+strconv.FormatInt(c.Resources.Limits.Memory().Value(), 10))
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		}
	}
	var logs strings.Builder
	cmd := exec.Command(bin, expandVars(c.Args, env)...) // $(VAR) as the kubelet expands it
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("agent args %q\nagent log:\n%s", c.Args, logs.String())
		}
	}()

	probe := fmt.Sprintf("http://127.0.0.1:%d", pp)
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		select {
		case err := <-done:
			done <- err
			return false, fmt.Errorf("the agent exited: %v", err)
		default:
		}
		resp, err := http.Get(probe + c.ReadinessProbe.HTTPGet.Path)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("the agent, run with the chart's arguments, did not turn ready at %s: %v", c.ReadinessProbe.HTTPGet.Path, err)
	}
	resp, err := http.Get(probe + c.LivenessProbe.HTTPGet.Path)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %v %v", c.LivenessProbe.HTTPGet.Path, resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}

	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", mp))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	names := map[string]bool{}
	for _, n := range metrics.New(prometheus.NewRegistry()).Names() {
		names[n] = true
	}
	for n := range fams {
		if strings.HasPrefix(n, "spot_handler_") && !names[n] {
			t.Errorf("the running agent serves %s, which internal/metrics does not list", n)
		}
	}
	// What the alerts and dashboard need from an idle agent, from its first scrape.
	for _, n := range []string{"spot_handler_build_info", "spot_handler_node_info", "spot_handler_imds_last_success_timestamp_seconds",
		"spot_handler_termination_deadline_timestamp_seconds", "spot_handler_drain_missed_deadline_total", "spot_handler_pods_total",
		"spot_handler_webhook_requests_total", "spot_handler_drain_duration_seconds", "spot_handler_detection_to_cordon_seconds",
		"spot_handler_imds_requests_total", "process_resident_memory_bytes"} {
		if fams[n] == nil {
			t.Errorf("the running agent does not serve %s", n)
		}
	}
	// The chart's memory sizing against the idle agent's footprint. RSS is
	// mostly the binary's own pages (file-backed, reclaimable); the anonymous
	// part is what a drain grows and what can hit the limit.
	if f := fams["process_resident_memory_bytes"]; f != nil && len(f.GetMetric()) == 1 {
		rss := f.GetMetric()[0].GetGauge().GetValue()
		lim, req := c.Resources.Limits.Memory(), c.Resources.Requests.Memory()
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		kb := map[string]float64{}
		for _, l := range strings.Split(string(status), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[2] == "kB" {
				v, _ := strconv.ParseFloat(f[1], 64)
				kb[strings.TrimSuffix(f[0], ":")] = v
			}
		}
		t.Logf("idle agent: RSS %.1f MiB (anonymous %.1f MiB, file %.1f MiB); chart requests %s, limits %s",
			rss/(1<<20), kb["RssAnon"]/1024, kb["RssFile"]/1024, req, lim)
		// The file pages are reclaimable; the anonymous part must fit the
		// request with room for a drain (make bench: +2 MiB for 110 pods).
		if anon := kb["RssAnon"] * 1024; anon >= float64(req.Value())*3/4 || anon >= float64(lim.Value())/4 {
			t.Errorf("idle agent anonymous memory %.1f MiB does not leave the %s request and %s limit room for a drain", anon/(1<<20), req, lim)
		}
	}
	if f := fams["spot_handler_pods_total"]; f != nil && len(f.GetMetric()) != len(metrics.Outcomes) {
		t.Errorf("spot_handler_pods_total has %d series, want one per outcome from start-up (%v), so increase() sees the first drain", len(f.GetMetric()), metrics.Outcomes)
	}
	if f := fams["spot_handler_node_info"]; f != nil {
		labels := map[string]string{}
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["node"] != node.Name || labels["instance_type"] == "" || labels["zone"] == "" {
			t.Errorf("spot_handler_node_info labels %v, want node %s and the instance type and zone the interruption alert groups by", labels, node.Name)
		}
	}

	// The notice: the agent drains its node with nothing but the chart's RBAC.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := p.Client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		tainted := false
		for _, tn := range n.Spec.Taints {
			tainted = tainted || strings.HasPrefix(tn.Key, "spot-handler.io/")
		}
		pods, err := p.Client.CoreV1().Pods(work).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		return n.Spec.Unschedulable && tainted && len(pods.Items) == 0, nil
	})
	if err != nil {
		t.Fatalf("the node was not cordoned, tainted and emptied after the notice: %v", err)
	}
	// Pod Events come from the drain's report, after the node is seen empty,
	// and are posted asynchronously: wait for them rather than race them.
	recorded, seen := 0, 0
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := p.Client.CoreV1().Events(work).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		recorded, seen = 0, len(evs.Items)
		for _, e := range evs.Items {
			if e.Source.Component == "spot-handler" && e.InvolvedObject.Kind == "Pod" {
				recorded++
			}
		}
		return recorded > 0, nil
	})
	if recorded == 0 {
		t.Errorf("the agent recorded no Event on the drained pods within 30 s of the node being empty (events: %d)", seen)
	}
	if strings.Contains(strings.ToLower(logs.String()), "forbidden") {
		t.Errorf("the agent hit a permission it lacks:\n%s", logs.String())
	}
}
