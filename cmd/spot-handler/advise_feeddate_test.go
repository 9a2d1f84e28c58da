package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdviseFeedDate: a feed copy from mid-2025 touched today reads as old
// and warns when --feed-date dates it; without a date the output says the
// age is unknown, never "under a minute old"; bad --feed-date values are
// usage errors naming the flag.
func TestAdviseFeedDate(t *testing.T) {
	touched := filepath.Join(t.TempDir(), "spot-advisor-data.json")
	if err := os.WriteFile(touched, mustReadFile(t, smallFeed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(touched, adviseNow, adviseNow); err != nil {
		t.Fatal(err)
	}
	base := []string{"--data", touched, "--region", "us-test-1", "--vcpus", "4"}
	tests := []struct {
		name    string
		args    []string
		code    int
		want    []string
		notWant string
	}{
		{"dated mid-2025", append(base, "--feed-date", "2025-06-28"), 0,
			[]string{"fetched 2025-06-28 00:00 UTC (246 days old, dated by --feed-date)", "WARNING: the Spot Advisor data is 246 days old"}, "under a minute old"},
		{"no date", base, 0, []string{"date unknown", "WARNING: the Spot Advisor data from " + touched + " carries no date"}, "under a minute old"},
		{"json without a date", append(base, "--output", "json"), 0, []string{`"dateSource": ""`}, `"fetchedAt"`},
		{"not a date", append(base, "--feed-date", "June"), 2, []string{`--feed-date "June": want a date like 2025-06-28 or 2025-06-28T10:00:00Z`}, ""},
		{"in the future", append(base, "--feed-date", "2026-03-02"), 2, []string{`--feed-date "2026-03-02" is later than now`}, ""},
		{"without --data", []string{"--region", "us-test-1", "--offline", "--feed-date", "2025-06-28"}, 2, []string{"--feed-date dates a --data file"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var notWant []string
			if tt.notWant != "" {
				notWant = []string{tt.notWant}
			}
			checkAdvise(t, tt.args, tt.code, tt.want, notWant)
		})
	}
}

// checkAdvise runs advise with args and checks the exit code, that stdout
// and stderr together hold every want and stdout none of notWant.
func checkAdvise(t *testing.T, args []string, code int, want, notWant []string) {
	t.Helper()
	got, out, errOut := runAdviseTest(t, adviseDeps{}, nil, args...)
	all := out + errOut
	if got != code {
		t.Fatalf("exit %d, want %d: %s", got, code, all)
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("output lacks %q:\n%s", w, all)
		}
	}
	for _, w := range notWant {
		if strings.Contains(out, w) {
			t.Errorf("output has %q:\n%s", w, out)
		}
	}
}
