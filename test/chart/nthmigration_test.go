package chart_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/spot-handler/spot-handler/internal/webhook"
	"github.com/spot-handler/spot-handler/internal/webhook/webhooktest"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// nthValues are aws-node-termination-handler's Helm values the migration
// page must map (issue #22 item 10).
var nthValues = []string{
	"enableSpotInterruptionDraining", "enableRebalanceMonitoring", "enableRebalanceDraining", "enableScheduledEventDraining",
	"enableSqsTerminationDraining", "queueURL", "awsRegion", "checkTagBeforeDraining", "managedTag", "nodeTerminationGracePeriod",
	"podTerminationGracePeriod", "ignoreDaemonSets", "deleteLocalData", "taintNode", "taintEffect", "cordonOnly", "dryRun",
	"webhookURL", "webhookURLSecretName", "webhookHeaders", "webhookProxy", "webhookTemplate", "webhookTemplateConfigMapName",
	"jsonLogging", "logFormatVersion", "logLevel", "metadataTries", "emitKubernetesEvents", "kubernetesEventsExtraAnnotations",
	"enablePrometheusServer", "prometheusServerPort", "enableProbesServer", "probesServerPort", "excludeFromLoadBalancers",
	"useProviderId", "deleteSqsMsgIfNodeNotFound", "workers", "heartbeatInterval", "heartbeatUntil",
	"completeLifecycleActionDelaySeconds", "useAPIServerCacheToListPods", "podMonitor.create", "serviceMonitor.create",
	"nodeSelector", "tolerations", "affinity", "priorityClassName", "resources", "extraEnv", "image.repository",
}

var codeRe = regexp.MustCompile("`([^`]+)`")

// migrationPage returns docs/nth-migration.md.
func migrationPage(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "nth-migration.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// valuesSchema returns charts/spot-handler/values.schema.json, decoded.
func valuesSchema(tb testing.TB) map[string]any { return chartFile(tb, "values.schema.json") }

// chartFile returns a YAML or JSON file of the chart, decoded.
func chartFile(tb testing.TB, name string) map[string]any {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir(tb), name))
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return m
}

// schemaHas reports whether the dotted value path has an entry in values.schema.json.
func schemaHas(schema map[string]any, path string) bool {
	node := schema
	for _, part := range strings.Split(path, ".") {
		props, _ := node["properties"].(map[string]any)
		next, ok := props[part].(map[string]any)
		if !ok {
			return false
		}
		node = next
	}
	return true
}

// TestNTHMigrationTable: every NTH value is in the migration table, and
// every chart value or flag its spot-handler column names exists (in the
// chart's schema, or in `spot-handler agent|controller --help`); a row that
// names none says why ("not needed, because …" or "no equivalent").
func TestNTHMigrationTable(t *testing.T) {
	schema := valuesSchema(t)
	flags := helpFlags(t, "agent")
	for name, f := range helpFlags(t, "controller") {
		flags[name] = f
	}
	page := migrationPage(t)
	values := page[strings.Index(page, "| NTH value |"):]
	values = values[:strings.Index(values, "\n## ")]
	mapped := map[string]bool{}
	rows := 0
	for _, line := range strings.Split(values, "\n")[2:] {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "|"), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 4 {
			t.Errorf("row %q: want NTH value | NTH variable | spot-handler | notes", line)
			continue
		}
		rows++
		for _, m := range codeRe.FindAllStringSubmatch(cells[0], -1) {
			mapped[m[1]] = true
		}
		ours := cells[2]
		refs := codeRe.FindAllStringSubmatch(ours, -1)
		if len(refs) == 0 && !strings.HasPrefix(ours, "not needed, because ") && !strings.HasPrefix(ours, "no equivalent") {
			t.Errorf("row %s: the spot-handler column %q names no value or flag and says neither \"not needed, because …\" nor \"no equivalent\"", cells[0], ours)
		}
		for _, m := range refs {
			ref, _, _ := strings.Cut(m[1], "=")
			if name, ok := strings.CutPrefix(ref, "--"); ok {
				if _, ok := flags[name]; !ok {
					t.Errorf("row %s: --%s is no flag of spot-handler agent or controller", cells[0], name)
				}
			} else if !schemaHas(schema, ref) {
				t.Errorf("row %s: %s is no value of charts/spot-handler/values.schema.json", cells[0], ref)
			}
		}
	}
	if rows < len(nthValues) {
		t.Errorf("only %d rows in the table", rows)
	}
	for _, v := range nthValues {
		if !mapped[v] {
			t.Errorf("NTH value %s has no row", v)
		}
	}
}

// TestNTHWebhookTranslation renders the page's translation of NTH's
// default template with spot-handler's webhook code, for a notice whose
// instance is known and one whose is not: each post is JSON with the text.
func TestNTHWebhookTranslation(t *testing.T) {
	page := migrationPage(t)
	i := strings.LastIndex(page, "becomes")
	if i < 0 {
		t.Fatal("no translated template on the page")
	}
	block := page[i:]
	block = block[strings.Index(block, "```\n")+4:]
	tpl := strings.TrimSpace(block[:strings.Index(block, "```")])
	r := webhooktest.New(t)
	s, err := webhook.New(webhook.Config{URL: r.URL, Template: tpl})
	if err != nil {
		t.Fatalf("the translated template: %v", err)
	}
	deadline := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s.Send(webhook.Data{Event: "notice", Node: "ip-10-0-1-23", Kind: "SpotInterruption", Action: "terminate", Deadline: deadline,
		Identity: &imds.Identity{InstanceID: "i-0abc"}})
	s.Send(webhook.Data{Event: "drained", Node: "ip-10-0-1-24", Kind: "InstanceStateChange", Deadline: deadline, Summary: "12 pods evicted"})
	s.Wait()
	want := map[string]bool{
		"[spot-handler][notice] Kind: SpotInterruption - Instance: i-0abc - Node: ip-10-0-1-23 - Action: terminate - Deadline: 2026-12-06T12:00:00Z":              false,
		"[spot-handler][drained] Kind: InstanceStateChange - Instance: unknown - Node: ip-10-0-1-24 - Action:  - Deadline: 2026-12-06T12:00:00Z, 12 pods evicted": false,
	}
	for _, b := range r.Bodies() {
		var body struct{ Text string }
		if err := json.Unmarshal([]byte(b), &body); err != nil {
			t.Errorf("body %q is not JSON: %v", b, err)
			continue
		}
		if _, ok := want[body.Text]; !ok {
			t.Errorf("unexpected text %q", body.Text)
		}
		want[body.Text] = true
	}
	for text, seen := range want {
		if !seen {
			t.Errorf("no post with text %q", text)
		}
	}
}
