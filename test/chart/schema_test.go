package chart_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestSchemaRejectsBadValues: a wrong type, a typo or a value outside the
// agent's choices fails helm template and helm lint with a message that names
// the value and says what is wanted.
func TestSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		set  string
		want []string
	}{
		{"agent.cordonOnly=yes", []string{"/agent/cordonOnly", "got string, want boolean"}},
		{"agent.pollInterval=5", []string{"/agent/pollInterval", "got number, want string"}},
		{"agent.metricsPort=metrics", []string{"/agent/metricsPort", "want integer"}},
		{"agent.pollIntervall=1s", []string{"/agent", "'pollIntervall' not allowed"}},
		{"hostNetwrk=true", []string{"'hostNetwrk' not allowed"}},
		{"agent.rebalance=cordon", []string{"/agent/rebalance", "'ignore', 'taint', 'drain'"}},
		{"agent.pdbFallback=force", []string{"/agent/pdbFallback", "'delete', 'wait'"}},
		{"agent.drainMargin=15", []string{"/agent/drainMargin"}},
		{"agent.drainMargin=fifteen", []string{"/agent/drainMargin", "does not match pattern"}},
		{"terminationGracePeriodSeconds=30", []string{"/terminationGracePeriodSeconds", "want 120"}},
		{"prometheusRule.alerts.agentDown.severity=page", []string{"/prometheusRule/alerts/agentDown/severity"}},
		{"metrics.podMonitor.interval=15", []string{"/metrics/podMonitor/interval"}},
	} {
		t.Run(tc.set, func(t *testing.T) {
			for _, verb := range []string{"template", "lint"} {
				args := templateArgs(t, "spot", nil, tc.set)
				if verb == "lint" {
					args = []string{"lint", chartDir(t), "--kube-version", kubeVersion, "--set", tc.set}
				}
				out, err := runHelm(t, args...)
				if err == nil {
					t.Fatalf("helm %s accepted --set %s", verb, tc.set)
				}
				msg := err.Error() + out
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("helm %s --set %s: message lacks %q:\n%s", verb, tc.set, w, msg)
					}
				}
			}
		})
	}
}

// TestTemplateRejectsConflicts covers what the schema cannot say.
func TestTemplateRejectsConflicts(t *testing.T) {
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{"webhook.secretName=s", "webhook.template=x", "webhook.templateConfigMap=c"}, "use one"},
		{[]string{"webhook.template=x"}, "webhook.secretName is empty"},
	} {
		_, err := runHelm(t, templateArgs(t, "spot", nil, tc.sets...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %v: error %v, want one saying %q", tc.sets, err, tc.want)
		}
	}
}

// valuePaths returns the dotted path of every leaf of values.yaml (a scalar,
// a list or an empty map).
func valuePaths(tb testing.TB) []string {
	tb.Helper()
	v := chartFile(tb, "values.yaml")
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, val := range m {
			p := strings.TrimPrefix(prefix+"."+k, ".")
			if sub, ok := val.(map[string]any); ok && len(sub) > 0 && !freeForm[p] {
				walk(p, sub)
				continue
			}
			out = append(out, p)
		}
	}
	walk("", v)
	sort.Strings(out)
	return out
}

// freeForm values are Kubernetes objects or maps passed through as a whole;
// they are documented as one value.
var freeForm = map[string]bool{
	"nodeSelector": true, "podSecurityContext": true, "securityContext": true, "resources": true,
	"updateStrategy": true, "livenessProbe": true, "readinessProbe": true, "dashboard.labels": true,
	"controller.nodeSelector": true, "controller.resources": true,
}

// TestSchemaCoversEveryValue: every value has a schema entry, and every object
// of the chart's own values rejects unknown keys (a typo must fail).
func TestSchemaCoversEveryValue(t *testing.T) {
	s := valuesSchema(t)
	for _, p := range valuePaths(t) {
		if !schemaHas(s, p) {
			t.Errorf("value %s has no entry in values.schema.json", p)
		}
	}
	var walk func(path string, n map[string]any)
	walk = func(path string, n map[string]any) {
		if props, ok := n["properties"].(map[string]any); ok {
			if ap, ok := n["additionalProperties"].(bool); !ok || ap {
				t.Errorf("schema object %q allows unknown keys; set additionalProperties: false", path)
			}
			for k, v := range props {
				if m, ok := v.(map[string]any); ok {
					walk(path+"."+k, m)
				}
			}
		}
		if items, ok := n["items"].(map[string]any); ok {
			walk(path+"[]", items)
		}
	}
	walk("", s)
}

// TestREADMEListsEveryValue: the chart README's table has a row for every value.
func TestREADMEListsEveryValue(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, p := range valuePaths(t) {
		if !strings.Contains(readme, "| `"+p+"` |") {
			t.Errorf("README.md has no table row for value %s", p)
		}
	}
}
