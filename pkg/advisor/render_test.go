package advisor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// goldenResult is the advice the golden files render: us-test-1, 4 vCPU,
// amd64, with prices, zones and observed history so every column shows.
func goldenResult(t *testing.T, evidence bool) *Result {
	t.Helper()
	f := smallFeed(t)
	req := smallReq()
	req.VCPUs, req.Count = Range{4, 4, true}, 5
	m, err := Match(f, SpecsFromFeed(f), req)
	if err != nil {
		t.Fatal(err)
	}
	data := DataInfo{Specs: SpecsFromFeedRule}
	ev := Evidence{ListPrices: BuiltinListPrices(req.Region)}
	if evidence {
		ev = Evidence{
			ListPrices: ev.ListPrices,
			Prices:     Prices{"m5.xlarge": {"us-test-1a": 0.07, "us-test-1b": 0.08}, "m6i.xlarge": {"us-test-1a": 0.072, "us-test-1b": 0.07}, "c5.xlarge": {"us-test-1a": 0.06}},
			Observed: Observed{
				"m5.xlarge":  {Interruptions: 1, NodeHours: 2000, Zones: map[string]ZoneObservation{"us-test-1a": {1, 1200}, "us-test-1b": {0, 800}}},
				"m6i.xlarge": {Interruptions: 0, NodeHours: 720, Zones: map[string]ZoneObservation{"us-test-1a": {0, 720}}},
			},
			Zones: []string{"us-test-1a", "us-test-1b"},
		}
		data.Prices, data.Observed = "testdata prices", "http://127.0.0.1:9090 over 30d (2 types seen)"
	}
	res, err := Recommend(f, m, req, ev, data, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if evidence {
		res.Placement = &Placement{TargetCapacity: 10, PerZone: true, Scores: []PlacementScore{
			{Region: "us-test-1", ZoneID: "ust1-az1", Score: 9}, {Region: "us-test-1", ZoneID: "ust1-az2", Score: 4}}}
	}
	return res
}

var goldenTarget = Target{Name: "spot-nodes", Cluster: "test.example.com", NodeClass: "default", MinSize: 0, MaxSize: 10}

func TestGoldenOutputs(t *testing.T) {
	tests := []struct {
		file, format string
		evidence     bool
		target       Target
	}{
		{"table.txt", FormatTable, false, goldenTarget},
		{"table-evidence.txt", FormatTable, true, goldenTarget},
		{"json.json", FormatJSON, true, goldenTarget},
		{"kops.yaml", FormatKops, false, goldenTarget},
		{"eksctl.yaml", FormatEksctl, false, goldenTarget},
		{"eksctl-self.yaml", FormatEksctl, false, Target{Name: "spot-nodes", Cluster: "test.example.com", MaxSize: 10, EksctlNodeGroup: EksctlSelfManaged}},
		{"karpenter.yaml", FormatKarpenter, false, goldenTarget},
		{"karpenter-pinned.yaml", FormatKarpenter, false, Target{Name: "spot-nodes", NodeClass: "default", PinTypes: true}},
		{"karpenter-zones.yaml", FormatKarpenter, true, Target{Name: "spot", NodeClass: "spot-class", Zones: []string{"us-test-1a", "us-test-1b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, goldenResult(t, tt.evidence), tt.format, tt.target); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", tt.file), buf.Bytes())
			switch tt.format {
			case FormatJSON:
				var v map[string]any
				if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
					t.Errorf("output is not JSON: %v", err)
				}
			case FormatKops, FormatEksctl, FormatKarpenter:
				var v map[string]any
				if err := yaml.Unmarshal(buf.Bytes(), &v); err != nil || v["kind"] == nil {
					t.Errorf("output is not a YAML object with a kind: %v", err)
				}
			}
			if !strings.Contains(buf.String(), "2026-02-28 12:00 UTC (24h old") && !strings.Contains(buf.String(), `"age": "24h"`) {
				t.Errorf("output does not show the data's age:\n%s", buf.String())
			}
		})
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	err := Render(&bytes.Buffer{}, goldenResult(t, false), "xml", goldenTarget)
	if err == nil || !strings.Contains(err.Error(), `unknown output format "xml" (want one of table, json, kops, eksctl, karpenter)`) {
		t.Errorf("error = %v", err)
	}
}

func TestRenderEksctlLimit(t *testing.T) {
	r := goldenResult(t, false)
	for len(r.Set) <= EksctlMaxTypes {
		r.Set = append(r.Set, r.Set[0])
	}
	if err := RenderEksctl(&bytes.Buffer{}, r, goldenTarget); err == nil || !strings.Contains(err.Error(), "at most 20 instance types") {
		t.Errorf("error = %v", err)
	}
}

func TestMinValues(t *testing.T) {
	for _, tt := range []struct{ n, types, fams int }{{1, 1, 1}, {2, 2, 2}, {3, 3, 3}, {5, 3, 3}, {10, 5, 3}, {15, 8, 3}, {40, 20, 3}} {
		if got := typeMinValues(tt.n); got != tt.types {
			t.Errorf("typeMinValues(%d) = %d, want %d", tt.n, got, tt.types)
		}
		if got := familyMinValues(tt.n); got != tt.fams {
			t.Errorf("familyMinValues(%d) = %d, want %d", tt.n, got, tt.fams)
		}
	}
}

// checkGolden compares got with the golden file, or rewrites it under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update if the change is right)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}
