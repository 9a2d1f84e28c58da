package advisor

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// update rewrites the golden files: go test ./pkg/advisor -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testNow is the clock of every test that renders output.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sharedData returns the folder of the real data files (the Spot Advisor
// feed, EC2 responses, CRDs): $SPOT_HANDLER_SHARED_DATA, or ../../../shared/data
// from this package. Tests that need it skip only when the folder is absent.
func sharedData(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("SPOT_HANDLER_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("real data folder %s is absent (set SPOT_HANDLER_SHARED_DATA): %v", dir, err)
	}
	return dir
}

// sharedFile returns the path of one real data file, failing when the folder
// exists but the file does not.
func sharedFile(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(sharedData(tb), name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("real data file missing: %v", err)
	}
	return p
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// smallFeed is testdata/feed-small.json, fetched a day before testNow.
func smallFeed(tb testing.TB) *Feed {
	tb.Helper()
	f, err := ParseFeed(mustRead(tb, filepath.Join("testdata", "feed-small.json")))
	if err != nil {
		tb.Fatal(err)
	}
	f.Source = "testdata/feed-small.json"
	f.SetDate(testNow.Add(-24*time.Hour), "testdata/feed-small.meta.json")
	return f
}

// realFeed is the real Spot Advisor feed from the shared data.
func realFeed(tb testing.TB) *Feed {
	tb.Helper()
	f, err := LoadFeedFile(sharedFile(tb, "spot-advisor-data.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return f
}
