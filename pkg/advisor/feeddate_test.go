package advisor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// midsummer2025 is the day the shared copy of the feed was last changed
// upstream (SOURCES.txt: spotinfo commit 5eedf20a, 2025-06-28).
var midsummer2025 = time.Date(2025, 6, 28, 0, 0, 0, 0, time.UTC)

// touchedFeed copies the fixture feed into a fresh folder with its
// modification time set to testNow: a file downloaded long ago and copied
// (or touched) today.
func touchedFeed(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spot-advisor-data.json")
	if err := os.WriteFile(p, mustRead(t, filepath.Join("testdata", "feed-small.json")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, testNow, testNow); err != nil {
		t.Fatal(err)
	}
	return p
}

// adviseFeed runs the golden requirements on f and renders JSON and table.
func adviseFeed(t *testing.T, f *Feed) (res *Result, js map[string]any, table string) {
	t.Helper()
	req := smallReq()
	req.VCPUs, req.Count = Range{4, 4, true}, 5
	m, err := Match(f, SpecsFromFeed(f), req)
	if err != nil {
		t.Fatal(err)
	}
	res, err = Recommend(f, m, req, Evidence{ListPrices: BuiltinListPrices(req.Region)}, DataInfo{Specs: SpecsFromFeedRule}, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	var jb, tb bytes.Buffer
	if err := RenderJSON(&jb, res); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(jb.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if err := RenderTable(&tb, res); err != nil {
		t.Fatal(err)
	}
	return res, js, tb.String()
}

// TestFeedDatedBySnapshotNotMtime: the feed carries no date, so a --data
// file is dated by what came with it (a .meta.json beside it, as the cache
// writes, or --feed-date), never by its modification time; a copy of mid-2025
// touched today reads as old and warns, and one with no date says so.
func TestFeedDatedBySnapshotNotMtime(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(t *testing.T, path string)
		wantDate time.Time
		wantLine string
		wantWarn string
		wantSrc  string
	}{
		{
			name:     "no date at all",
			prepare:  func(*testing.T, string) {},
			wantLine: "date unknown",
			wantWarn: "carries no date",
		},
		{
			name: "meta file beside it",
			prepare: func(t *testing.T, path string) {
				meta := `{"url": "https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json", "fetched_at": "2025-06-28T00:00:00Z"}`
				if err := os.WriteFile(strings.TrimSuffix(path, ".json")+".meta.json", []byte(meta), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantDate: midsummer2025,
			wantLine: "fetched 2025-06-28 00:00 UTC (246 days old",
			wantWarn: "246 days old",
			wantSrc:  "spot-advisor-data.meta.json",
		},
		{
			name:     "--feed-date",
			prepare:  func(*testing.T, string) {},
			wantDate: midsummer2025,
			wantLine: "fetched 2025-06-28 00:00 UTC (246 days old",
			wantWarn: "over the 7 days",
			wantSrc:  "--feed-date",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := touchedFeed(t)
			tt.prepare(t, path)
			f, err := LoadFeedFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSrc == "--feed-date" {
				f.SetDate(midsummer2025, "--feed-date")
			}
			res, js, table := adviseFeed(t, f)
			data := js["data"].(map[string]any)
			got, _ := data["fetchedAt"].(string)
			if mtime := testNow.Format(time.RFC3339); got == mtime {
				t.Errorf("fetchedAt is the file's modification time %s", got)
			}
			if tt.wantDate.IsZero() {
				if got != "" {
					t.Errorf("fetchedAt = %q for a file with no date, want none", got)
				}
			} else if got != tt.wantDate.Format(time.RFC3339) {
				t.Errorf("fetchedAt = %q, want %s", got, tt.wantDate.Format(time.RFC3339))
			}
			if src, _ := data["dateSource"].(string); tt.wantSrc != "" && !strings.Contains(src, tt.wantSrc) {
				t.Errorf("dateSource = %q, want it to name %q", src, tt.wantSrc)
			}
			if !strings.Contains(table, tt.wantLine) {
				t.Errorf("table does not say %q:\n%s", tt.wantLine, table)
			}
			warned := false
			for _, w := range res.Warnings {
				warned = warned || strings.Contains(w, tt.wantWarn)
			}
			if !warned {
				t.Errorf("no warning with %q: %q", tt.wantWarn, res.Warnings)
			}
		})
	}
}
