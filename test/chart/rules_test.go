package chart_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/metrics"
)

// promtool returns Debian's promtool (package prometheus). Without it the
// test fails in CI and is skipped elsewhere, saying how to install it.
func promtool(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("promtool not found (CI is set, so this is a failure): apt-get install prometheus")
	}
	tb.Skip("promtool not found: apt-get install prometheus (Debian's package ships promtool)")
	return ""
}

func runPromtool(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(promtool(tb), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ruleGroups is the part of a PrometheusRule that is a Prometheus rules file.
type ruleGroups struct {
	Groups []ruleGroup `json:"groups"`
}

type ruleGroup struct {
	Name  string `json:"name"`
	Rules []rule `json:"rules"`
}

type rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// renderedRules renders the chart's PrometheusRule (release spot-handler in
// namespace spot-handler) and returns its groups.
func renderedRules(tb testing.TB, sets ...string) ruleGroups {
	tb.Helper()
	objs := render(tb, "spot-handler", nil, append([]string{"prometheusRule.enabled=true"}, sets...)...)
	spec := one(tb, objs, "PrometheusRule").Object["spec"]
	b, err := yaml.Marshal(spec)
	if err != nil {
		tb.Fatal(err)
	}
	var g ruleGroups
	if err := yaml.UnmarshalStrict(b, &g); err != nil {
		tb.Fatalf("PrometheusRule spec is not a rules file: %v", err)
	}
	return g
}

func writeYAML(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// alertTests is the part of a promtool test file this test reads.
type alertTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `json:"exp_labels"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// agentAlerts render where the agent is installed (mode daemonset or both;
// SpotHandlerWebhookFailing, which watches both jobs, in every mode);
// controllerAlerts only where the controller is installed (mode controller
// or both).
var (
	agentAlerts = []string{
		"SpotHandlerAgentDown", "SpotHandlerAgentNotScheduled", "SpotHandlerDrainMissedDeadline", "SpotHandlerIMDSUnreachable",
		"SpotHandlerInterruptionSpike", "SpotHandlerPodsRunningAtDeadline", "SpotHandlerPolicyDenials", "SpotHandlerWebhookFailing",
	}
	controllerAlerts = []string{
		"SpotHandlerControllerDrainMissedDeadline", "SpotHandlerControllerNoLeader", "SpotHandlerLifecycleHeartbeatsFailing",
		"SpotHandlerQueueLag", "SpotHandlerQueueMessagesFailing", "SpotHandlerQueueReceiveFailing",
	}
	wantAlerts = sorted(append(append([]string(nil), agentAlerts...), controllerAlerts...))
)

// bothModes are the values that install the agent and the controller.
var bothModes = []string{"mode=both", "controller.queueURL=https://sqs.us-east-1.amazonaws.com/123456789012/spot-handler-prod", "clusterName=prod"}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}

// alertNames lists a rules file's alerts, sorted.
func alertNames(g ruleGroups) []string {
	var names []string
	for _, grp := range g.Groups {
		for _, r := range grp.Rules {
			names = append(names, r.Alert)
		}
	}
	return sorted(names)
}

// TestAlertsFollowMode: the queue-mode alerts render only where the
// controller is installed; SpotHandlerControllerNoLeader's absent() would
// fire forever in a DaemonSet-only install.
func TestAlertsFollowMode(t *testing.T) {
	for _, tc := range []struct {
		sets []string
		want []string
	}{
		{nil, sorted(append([]string(nil), agentAlerts...))},
		{bothModes, wantAlerts},
		{append([]string{"mode=controller"}, bothModes[1:]...), sorted(append([]string{"SpotHandlerWebhookFailing"}, controllerAlerts...))},
	} {
		if got := alertNames(renderedRules(t, tc.sets...)); !slices.Equal(got, tc.want) {
			t.Errorf("with %v: alerts %v, want %v", tc.sets, got, tc.want)
		}
	}
}

func TestAlertRules(t *testing.T) {
	promtool(t) // fails in CI, skips elsewhere, when promtool is missing
	dir := t.TempDir()
	full := renderedRules(t, append([]string{"prometheusRule.runbookBaseURL=https://runbooks.example.com/spot-handler"}, bothModes...)...)

	var names []string
	for _, g := range full.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("alert %s has no %s annotation", r.Alert, a)
				}
			}
			if r.Labels["severity"] == "" {
				t.Errorf("alert %s has no severity label", r.Alert)
			}
		}
	}
	sort.Strings(names)
	if !slices.Equal(names, wantAlerts) {
		t.Fatalf("alerts = %v, want %v", names, wantAlerts)
	}

	// check rules validates the expressions and the annotation templates.
	writeYAML(t, filepath.Join(dir, "rules-full.yaml"), full)
	runPromtool(t, dir, "check", "rules", "rules-full.yaml")

	// test rules compares annotations verbatim, so the unit tests run on the
	// rules without them; the label references are checked below instead.
	stripped := full
	stripped.Groups = nil
	for _, g := range full.Groups {
		ng := ruleGroup{Name: g.Name}
		for _, r := range g.Rules {
			r.Annotations = nil
			ng.Rules = append(ng.Rules, r)
		}
		stripped.Groups = append(stripped.Groups, ng)
	}
	writeYAML(t, filepath.Join(dir, "rules.yaml"), stripped)
	src, err := os.ReadFile(testdata(t, "alerts_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	out := runPromtool(t, dir, "test", "rules", "alerts_test.yaml")
	t.Logf("promtool test rules:\n%s", out)

	// Every alert is tested firing and not firing, and its annotations only
	// use labels the firing alert has.
	var tests alertTests
	if err := yaml.Unmarshal(src, &tests); err != nil {
		t.Fatal(err)
	}
	firing, quiet := map[string]map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) == 0 {
				quiet[a.Alertname] = true
				continue
			}
			if firing[a.Alertname] == nil {
				firing[a.Alertname] = map[string]bool{}
			}
			for _, e := range a.ExpAlerts {
				for k := range e.ExpLabels {
					firing[a.Alertname][k] = true
				}
			}
		}
	}
	labelRef := regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
	for _, g := range full.Groups {
		for _, r := range g.Rules {
			if firing[r.Alert] == nil || !quiet[r.Alert] {
				t.Errorf("alert %s: alerts_test.yaml must test it firing (%v) and not firing (%v)", r.Alert, firing[r.Alert] != nil, quiet[r.Alert])
				continue
			}
			for _, text := range r.Annotations {
				for _, m := range labelRef.FindAllStringSubmatch(text, -1) {
					if !firing[r.Alert][m[1]] {
						t.Errorf("alert %s: an annotation uses $labels.%s, which the firing alert does not have", r.Alert, m[1])
					}
				}
			}
		}
	}
}

func TestAlertsCanBeTurnedOff(t *testing.T) {
	keys := []string{"agentDown", "agentNotScheduled", "imdsUnreachable", "drainMissedDeadline", "podsRunningAtDeadline", "interruptionSpike", "policyDenials", "webhookFailing",
		"queueMessagesFailing", "queueLag", "controllerNoLeader", "queueReceiveFailing", "lifecycleHeartbeatsFailing", "controllerDrainMissedDeadline"}
	for _, k := range keys {
		g := renderedRules(t, append([]string{"prometheusRule.alerts." + k + ".enabled=false"}, bothModes...)...)
		n := 0
		for _, grp := range g.Groups {
			n += len(grp.Rules)
		}
		if n != len(keys)-1 {
			t.Errorf("with %s off, %d alerts, want %d", k, n, len(keys)-1)
		}
	}
}

// externalMetrics are the metrics the alerts and dashboard use that the
// agent does not export, and where they come from.
var externalMetrics = map[string]string{
	"up": "Prometheus, for every target",
	"kube_daemonset_status_desired_number_scheduled": "kube-state-metrics",
	"kube_daemonset_status_number_ready":             "kube-state-metrics",
}

// TestEveryMetricUsedIsExported: each metric an alert or a dashboard panel
// uses is one the agent registers (internal/metrics), or a named external one.
func TestEveryMetricUsedIsExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	exported := map[string]bool{}
	for _, n := range metrics.New(reg).Names() {
		exported[n] = true
	}
	// The controller's queue and lifecycle metrics (queue mode) register
	// beside them.
	metrics.NewQueue(reg, []string{"spot_interruption"})
	lifecycle.NewMetrics(reg)
	// Histograms also export _bucket, _sum and _count series.
	histograms := map[string]bool{}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		exported[f.GetName()] = true // the agent's and the controller's families
		if f.GetType() == dto.MetricType_HISTOGRAM {
			histograms[f.GetName()] = true
		}
	}
	isExported := func(name string) bool {
		if exported[name] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && exported[base] && histograms[base] {
				return true
			}
		}
		return false
	}
	used := map[string][]string{} // metric → where
	for _, g := range renderedRules(t, bothModes...).Groups {
		for _, r := range g.Rules {
			for _, n := range metricNames(r.Expr) {
				used[n] = append(used[n], "alert "+r.Alert)
			}
		}
	}
	for _, q := range dashboardQueries(t) {
		for _, n := range metricNames(grafanaMacros.Replace(q.expr)) {
			used[n] = append(used[n], "panel "+q.where)
		}
	}
	for _, v := range dashboardVariableMetrics(t) {
		used[v] = append(used[v], "dashboard variable")
	}
	if len(used) < 10 {
		t.Fatalf("found only %d metric names in the alerts and dashboard: %v", len(used), used)
	}
	for n, where := range used {
		if !isExported(n) && externalMetrics[n] == "" {
			t.Errorf("metric %s, used by %s, is not exported by the agent (internal/metrics)", n, strings.Join(where, ", "))
		}
	}
	// And the panels the issue asks for use the metrics that show them.
	for _, n := range []string{"spot_handler_notices_total", "spot_handler_termination_deadline_timestamp_seconds",
		"spot_handler_drain_duration_seconds_bucket", "spot_handler_pods_total", "spot_handler_imds_last_success_timestamp_seconds",
		"spot_handler_imds_requests_total", "spot_handler_node_info"} {
		found := false
		for _, w := range used[n] {
			found = found || strings.HasPrefix(w, "panel ")
		}
		if !found {
			t.Errorf("no dashboard panel uses %s", n)
		}
	}
}
