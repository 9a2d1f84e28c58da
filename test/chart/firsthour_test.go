package chart_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The chart points of issue #22: no setting silently ignored, a PDB that
// lets a single controller replica's node drain, no agent monitoring in mode
// controller, and the agent's servers kept off the node's other interfaces.

// setInsteadRe finds the value a render failure names in its advice.
var setInsteadRe = regexp.MustCompile(`set ([A-Za-z0-9.]+) instead`)

// renderErr runs helm template with the sets and returns its error text ("" if it rendered).
func renderErr(t *testing.T, sets ...string) string {
	t.Helper()
	if _, err := runHelm(t, templateArgs(t, "spot", nil, sets...)...); err != nil {
		return err.Error()
	}
	return ""
}

// envName is the variable the binary reads for a flag.
func envName(flag string) string {
	return "SPOT_HANDLER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// TestExtraEnvNeverShadowsAFlag: a SPOT_HANDLER_ variable in agent.extraEnv
// or controller.extraEnv for a flag the chart passes (a flag beats its
// variable, so the setting would be ignored) fails the render with a line
// naming the variable and the chart value to set instead; a variable for a
// flag the chart never passes still renders.
func TestExtraEnvNeverShadowsAFlag(t *testing.T) {
	paths := valuePaths(t)
	for _, c := range everyFlag(t) {
		c.env = c.name + ".extraEnv"
		flags := c.flags
		for flag := range flags {
			t.Run(c.name+"/"+flag, func(t *testing.T) {
				v := envName(flag)
				msg := renderErr(t, append(slices.Clone(c.base), c.env+"[0].name="+v, c.env+"[0].value=x")...)
				if msg == "" {
					t.Fatalf("%s with %s renders: the chart's --%s would silently win over it", c.env, v, flag)
				}
				m := setInsteadRe.FindStringSubmatch(msg)
				if flag == "leader-elect" && strings.Contains(msg, "always passes --leader-elect") {
					return // no value: leader election is always on
				}
				if !strings.Contains(msg, v) || !strings.Contains(msg, "--"+flag) || m == nil {
					t.Fatalf("%s with %s: message does not name the variable, the flag and the value to set instead:\n%s", c.env, v, msg)
				}
				if !slices.Contains(paths, m[1]) {
					t.Errorf("%s with %s: the message names %s, which is not a value of values.yaml", c.env, v, m[1])
				}
			})
		}
		t.Run(c.name+"/unpassed flag", func(t *testing.T) {
			if msg := renderErr(t, append(slices.Clone(c.base), c.env+"[0].name=SPOT_HANDLER_KUBECONFIG", c.env+"[0].value=/k")...); msg != "" {
				t.Errorf("SPOT_HANDLER_KUBECONFIG (no flag passed) is refused: %s", msg)
			}
		})
	}
	// The issue's own example.
	msg := renderErr(t, "agent.extraEnv[0].name=SPOT_HANDLER_DRAIN_MARGIN", "agent.extraEnv[0].value=45s")
	if !strings.Contains(msg, "set agent.drainMargin instead") {
		t.Errorf("agent.extraEnv SPOT_HANDLER_DRAIN_MARGIN: want a failure saying to set agent.drainMargin, got %q", msg)
	}
}

// TestControllerPDBLetsNodesDrain: one replica gets no PDB (minAvailable 1
// would block every drain of its node), two get minAvailable 1, and a
// minAvailable that leaves no replica to disrupt fails with the values to change.
func TestControllerPDBLetsNodesDrain(t *testing.T) {
	if pdbs := find(renderMode(t, "controller", "controller.replicas=1"), "PodDisruptionBudget"); len(pdbs) != 0 {
		t.Errorf("controller.replicas=1 renders %d PodDisruptionBudgets, want none: minAvailable 1 of 1 blocks the node's drain", len(pdbs))
	}
	if pdbs := find(renderMode(t, "controller"), "PodDisruptionBudget"); len(pdbs) != 1 {
		t.Errorf("2 replicas render %d PodDisruptionBudgets, want 1", len(pdbs))
	}
	msg := renderErr(t, "mode=controller", "controller.queueURL="+testQueueURL, testCluster, "controller.replicas=2", "controller.podDisruptionBudget.minAvailable=2")
	if !strings.Contains(msg, "controller.podDisruptionBudget.minAvailable") || !strings.Contains(msg, "controller.replicas") {
		t.Errorf("minAvailable 2 of 2 replicas: want a failure naming both values, got %q", msg)
	}
}

// agentOnlyAlerts are the PrometheusRule alerts on the agent's job alone.
var agentOnlyAlerts = []string{"SpotHandlerAgentDown", "SpotHandlerAgentNotScheduled", "SpotHandlerIMDSUnreachable",
	"SpotHandlerDrainMissedDeadline", "SpotHandlerPodsRunningAtDeadline", "SpotHandlerInterruptionSpike", "SpotHandlerPolicyDenials"}

// TestControllerModeHasNoAgentMonitoring: mode controller renders neither the
// agent's PodMonitor, ServiceMonitor and metrics Service nor its alerts
// (AgentDown would fire for agents that do not exist); mode both keeps them.
func TestControllerModeHasNoAgentMonitoring(t *testing.T) {
	on := []string{"metrics.podMonitor.enabled=true", "metrics.serviceMonitor.enabled=true", "metrics.service.enabled=true", "prometheusRule.enabled=true"}
	for mode, wantAgent := range map[string]bool{"controller": false, "both": true} {
		objs := renderMode(t, mode, on...)
		for _, kind := range []string{"PodMonitor", "ServiceMonitor", "Service"} {
			agent := 0
			for _, o := range find(objs, kind) {
				if !strings.HasSuffix(o.GetName(), "-controller") {
					agent++
				}
			}
			if (agent > 0) != wantAgent {
				t.Errorf("mode %s renders %d agent %s, want agent monitoring %v", mode, agent, kind, wantAgent)
			}
		}
		rules := fmt.Sprint(one(t, objs, "PrometheusRule").Object["spec"])
		for _, a := range agentOnlyAlerts {
			if strings.Contains(rules, "alert:"+a+" ") != wantAgent {
				t.Errorf("mode %s: alert %s rendered %v, want %v", mode, a, !wantAgent, wantAgent)
			}
		}
		if !strings.Contains(rules, "SpotHandlerControllerNoLeader") {
			t.Errorf("mode %s lost the controller's alerts", mode)
		}
	}
}

// agentContainer renders the chart with sets and returns the agent's container.
func agentContainer(t *testing.T, sets ...string) corev1.Container {
	t.Helper()
	return fromUnstructured[appsv1.DaemonSet](t, one(t, render(t, "spot", nil, sets...), "DaemonSet")).Spec.Template.Spec.Containers[0]
}

// TestAgentBindsNotEveryInterface: with hostNetwork (the default) /metrics
// listens on the pod's IP (the node's primary IP, where Prometheus scrapes)
// and the probes on loopback (the kubelet probes from the node), not on every
// interface of the node; the values choose otherwise.
func TestAgentBindsNotEveryInterface(t *testing.T) {
	for _, tc := range []struct {
		sets                 []string
		metrics, probe, host string
	}{
		{nil, "[$(POD_IP)]:9102", "127.0.0.1:8081", "127.0.0.1"},
		{[]string{"hostNetwork=false"}, "[$(POD_IP)]:9102", "[$(POD_IP)]:8081", ""},
		{[]string{"agent.metricsBindAddress=all", "agent.probeBindAddress=all"}, ":9102", ":8081", ""},
		{[]string{"agent.metricsBindAddress=10.0.0.5", "agent.probeBindAddress=podIP"}, "10.0.0.5:9102", "[$(POD_IP)]:8081", ""},
		{[]string{"agent.metricsBindAddress=fd00::5", "agent.probeBindAddress=::1"}, "[fd00::5]:9102", "[::1]:8081", "::1"},
	} {
		c := agentContainer(t, tc.sets...)
		args := flagArgs(t, c.Args[1:])
		if args["metrics-addr"] != tc.metrics || args["probe-addr"] != tc.probe {
			t.Errorf("%v: --metrics-addr=%s --probe-addr=%s, want %s and %s", tc.sets, args["metrics-addr"], args["probe-addr"], tc.metrics, tc.probe)
		}
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
			if p.HTTPGet.Host != tc.host {
				t.Errorf("%v: probe %s sent to host %q, want %q", tc.sets, p.HTTPGet.Path, p.HTTPGet.Host, tc.host)
			}
		}
		podIP := false
		for _, e := range c.Env {
			podIP = podIP || (e.Name == "POD_IP" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP")
		}
		if uses := strings.Contains(args["metrics-addr"]+args["probe-addr"], "$(POD_IP)"); uses && !podIP {
			t.Errorf("%v: the args use $(POD_IP) but the env does not set it from status.podIP", tc.sets)
		}
	}
	msg := renderErr(t, "hostNetwork=false", "agent.probeBindAddress=127.0.0.1")
	if !strings.Contains(msg, "agent.probeBindAddress") || !strings.Contains(msg, "hostNetwork") {
		t.Errorf("a loopback probe address without hostNetwork (the kubelet cannot reach it): want a failure naming both values, got %q", msg)
	}
}

// expandVars replaces $(NAME) in args with NAME's value in env (NAME=value
// entries), as the kubelet does for a container's arguments; a reference to
// a name not in env stays as written, as in Kubernetes.
func expandVars(args, env []string) []string {
	vals := map[string]string{}
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok {
			vals[k] = v
		}
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = ref.ReplaceAllStringFunc(a, func(m string) string {
			if v, ok := vals[m[2:len(m)-1]]; ok {
				return v
			}
			return m
		})
	}
	return out
}

// webhookExtras are the --set pairs of a webhook (webhook or
// controller.webhook) with a URL Secret, two headers (one whose value holds
// "$(", which the kubelet would expand), a header Secret and a proxy.
func webhookExtras(w string) []string {
	return []string{w + ".secretName=hook", w + ".headers[0].name=X-Team", w + ".headers[0].value=sre",
		w + ".headers[1].name=X-Note", w + ".headers[1].value=a $(B) c", w + ".headersSecretName=hook-headers",
		w + ".headersSecretKey=lines", w + ".proxy=http://proxy.internal:3128"}
}

// TestWebhookHeadersAndProxy: the agent's and the controller's webhook
// headers become --webhook-header flags (a "$(" kept as written), the header
// Secret a mounted file (--webhook-header-file) that never enters the pod
// spec, the proxy --webhook-proxy; without a webhook URL they fail the render.
func TestWebhookHeadersAndProxy(t *testing.T) {
	for _, w := range []string{"webhook", "controller.webhook"} {
		sets := append(webhookExtras(w), "mode=both", "controller.queueURL="+testQueueURL, testCluster)
		objs := render(t, "spot", nil, sets...)
		var spec corev1.PodSpec
		if w == "webhook" {
			spec = fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet")).Spec.Template.Spec
		} else {
			spec = fromUnstructured[appsv1.Deployment](t, one(t, objs, "Deployment")).Spec.Template.Spec
		}
		c := spec.Containers[0]
		var headers []string
		for _, a := range c.Args {
			if h, ok := strings.CutPrefix(a, "--webhook-header="); ok {
				headers = append(headers, h)
			}
		}
		if !slices.Equal(headers, []string{"X-Team: sre", "X-Note: a $$(B) c"}) {
			t.Errorf("%s: --webhook-header values %q, want X-Team: sre and X-Note with $( escaped as $$(", w, headers)
		}
		args := flagArgs(t, c.Args[1:])
		if args["webhook-proxy"] != "http://proxy.internal:3128" || args["webhook-header-file"] == "" {
			t.Errorf("%s: --webhook-proxy=%q --webhook-header-file=%q, want the proxy and a file", w, args["webhook-proxy"], args["webhook-header-file"])
		}
		mounted := false
		for _, m := range c.VolumeMounts {
			for _, v := range spec.Volumes {
				if v.Name == m.Name && v.Secret != nil && v.Secret.SecretName == "hook-headers" && len(v.Secret.Items) == 1 &&
					v.Secret.Items[0].Key == "lines" && m.MountPath+"/"+v.Secret.Items[0].Path == args["webhook-header-file"] {
					mounted = true
				}
			}
		}
		if !mounted {
			t.Errorf("%s: --webhook-header-file %s is not key lines of Secret hook-headers mounted there: %+v %+v", w, args["webhook-header-file"], c.VolumeMounts, spec.Volumes)
		}
		for _, bad := range [][]string{{w + ".proxy=http://p:1"}, {w + ".headersSecretName=h"}, {w + ".headers[0].name=A", w + ".headers[0].value=b"}} {
			msg := renderErr(t, append(bad, "mode=both", "controller.queueURL="+testQueueURL, testCluster)...)
			if !strings.Contains(msg, "set "+w+".secretName") {
				t.Errorf("%v without a webhook URL: want a failure saying to set %s.secretName, got %q", bad, w, msg)
			}
		}
	}
}
