package chart_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func dashboardJSON(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir(tb), "dashboards", "spot-handler.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// rawDashboard is the part of the dashboard JSON these tests walk.
type rawDashboard struct {
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ X, Y, W, H int } `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func parseDashboard(tb testing.TB) rawDashboard {
	tb.Helper()
	var d rawDashboard
	if err := json.Unmarshal(dashboardJSON(tb), &d); err != nil {
		tb.Fatalf("dashboards/spot-handler.json: %v", err)
	}
	return d
}

type query struct{ where, expr string }

// dashboardQueries returns every panel query of the dashboard.
func dashboardQueries(tb testing.TB) []query {
	var out []query
	for _, p := range parseDashboard(tb).Panels {
		for _, t := range p.Targets {
			out = append(out, query{fmt.Sprintf("%q/%s", p.Title, t.RefID), t.Expr})
		}
	}
	return out
}

var labelValuesRe = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)

// dashboardVariableMetrics returns the metrics the template variables query.
func dashboardVariableMetrics(tb testing.TB) []string {
	var out []string
	for _, v := range parseDashboard(tb).Templating.List {
		if m := labelValuesRe.FindStringSubmatch(v.Definition); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// TestDashboardStrictDecode decodes the dashboard with the Grafana Foundation
// SDK's strict decoder, which rejects unknown fields, missing required ones
// and wrong types, in the panels' options and the Prometheus queries too.
func TestDashboardStrictDecode(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	//lint:ignore SA1019 the chart ships the classic dashboard JSON model (schemaVersion 39), which dashboardv2 does not decode.
	var d dashboard.Dashboard
	// UnmarshalJSONStrict returns a cog.BuildErrors slice: nil-but-typed on success.
	err := d.UnmarshalJSONStrict(dashboardJSON(t))
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		err = nil
	}
	if err != nil {
		t.Fatalf("dashboards/spot-handler.json does not decode strictly:\n%v", err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("dashboard does not validate: %v", err)
	}
	if d.Uid == nil || *d.Uid != "spot-handler" || d.Title == nil || *d.Title == "" {
		t.Errorf("uid %v title %v: want a fixed uid, so links and the sidecar's updates keep pointing at it", d.Uid, d.Title)
	}
	if len(d.Panels) < 10 {
		t.Errorf("%d panels decoded", len(d.Panels))
	}
}

// TestDashboardPanels: the panels issue 6 asks for are there, every panel
// queries the chosen Prometheus data source, ids are unique and panels fit
// the 24-column grid without overlapping.
func TestDashboardPanels(t *testing.T) {
	d := parseDashboard(t)
	titles := map[string]bool{}
	ids := map[int]bool{}
	type cell struct{ x, y int }
	grid := map[cell]string{}
	for _, p := range d.Panels {
		titles[p.Title] = true
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q data source %+v, want prometheus ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if !strings.Contains(q.Expr, `job=~"$job"`) {
				t.Errorf("panel %q query %s does not filter on $job", p.Title, q.RefID)
			}
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q gridPos %+v is outside the 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := grid[cell{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at %d,%d", other, p.Title, x, y)
					return
				}
				grid[cell{x, y}] = p.Title
			}
		}
	}
	for _, want := range []string{
		"Nodes with a notice, by kind",
		"Spot interruptions in the past hour, by instance type",
		"Spot interruptions in the past hour, by zone",
		"Spot interruptions in range, by instance type and zone",
		"Countdown to termination",
		"Drain duration",
		"Pod outcomes",
		"Seconds since IMDS last answered",
		"IMDS requests by outcome",
		// Queue mode (issue 13's leftovers).
		"Queue lag: event to receipt",
		"Queue messages by type and outcome",
		"Controller drains in flight and waiting",
		"Controller leader",
		"SQS API errors by operation",
		"ASG lifecycle heartbeats and completions",
	} {
		if !titles[want] {
			t.Errorf("dashboard has no panel %q", want)
		}
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["job"] != "query" {
		t.Errorf("template variables %v, want datasource (datasource) and job (query)", vars)
	}
}

// TestDashboardQueriesParse gives every panel query, with Grafana's macros
// replaced, to promtool as a recording rule: promtool rejects invalid PromQL.
func TestDashboardQueriesParse(t *testing.T) {
	promtool(t)
	var g ruleGroups
	grp := ruleGroup{Name: "dashboard"}
	for i, q := range dashboardQueries(t) {
		grp.Rules = append(grp.Rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: grafanaMacros.Replace(q.expr)})
		if strings.Contains(grafanaMacros.Replace(q.expr), "$") {
			t.Errorf("%s: unknown Grafana variable in %s", q.where, q.expr)
		}
	}
	g.Groups = []ruleGroup{grp}
	dir := t.TempDir()
	writeYAML(t, filepath.Join(dir, "dashboard-queries.yaml"), g)
	runPromtool(t, dir, "check", "rules", "dashboard-queries.yaml")
}
