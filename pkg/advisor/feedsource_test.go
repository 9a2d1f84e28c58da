package advisor

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// feedServer serves testdata/feed-small.json on 127.0.0.1 with an ETag, and
// counts requests; status overrides the answer when not 0.
type feedServer struct {
	*httptest.Server
	hits, notModified atomic.Int32
	status            atomic.Int32
}

func newFeedServer(t *testing.T) *feedServer {
	t.Helper()
	body := mustRead(t, filepath.Join("testdata", "feed-small.json"))
	fs := &feedServer{}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.hits.Add(1)
		if s := fs.status.Load(); s != 0 {
			http.Error(w, "nope", int(s))
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			fs.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write(body)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func TestFeedSourceFetchesAndCaches(t *testing.T) {
	srv := newFeedServer(t)
	clk := clocktesting.NewFakePassiveClock(testNow)
	dir := t.TempDir()
	src := FeedSource{URL: srv.URL, CacheDir: dir, MaxAge: time.Hour, Clock: clk}
	var warns []string
	warn := func(s string) { warns = append(warns, s) }

	f, err := src.Load(context.Background(), warn)
	if err != nil {
		t.Fatal(err)
	}
	if !f.FetchedAt.Equal(testNow) || f.Source != srv.URL || srv.hits.Load() != 1 {
		t.Fatalf("first load: fetched %v from %q with %d hits", f.FetchedAt, f.Source, srv.hits.Load())
	}
	if _, err := os.Stat(filepath.Join(dir, feedCacheFile)); err != nil {
		t.Fatalf("no cache written: %v", err)
	}

	// Within MaxAge the cache answers, keeping the first fetch time.
	clk.SetTime(testNow.Add(30 * time.Minute))
	f, err = src.Load(context.Background(), warn)
	if err != nil || srv.hits.Load() != 1 || !f.FetchedAt.Equal(testNow) {
		t.Fatalf("fresh cache: err %v, hits %d, fetched %v", err, srv.hits.Load(), f.FetchedAt)
	}

	// Past MaxAge it asks again with the ETag; 304 renews the fetch time.
	clk.SetTime(testNow.Add(2 * time.Hour))
	f, err = src.Load(context.Background(), warn)
	if err != nil || srv.notModified.Load() != 1 || !f.FetchedAt.Equal(testNow.Add(2*time.Hour)) {
		t.Fatalf("stale cache: err %v, 304s %d, fetched %v", err, srv.notModified.Load(), f.FetchedAt)
	}

	// The server fails: the cache serves, with a warning naming its age.
	srv.status.Store(http.StatusInternalServerError)
	clk.SetTime(testNow.Add(5 * time.Hour))
	f, err = src.Load(context.Background(), warn)
	if err != nil || f == nil {
		t.Fatalf("fallback to cache: %v", err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "500") || !strings.Contains(warns[0], "using the cached copy fetched 2026-03-01T14:00:00Z") {
		t.Fatalf("warnings = %q", warns)
	}

	// Offline reads the cache however old, without asking.
	hits := srv.hits.Load()
	src.Offline = true
	clk.SetTime(testNow.Add(100 * 24 * time.Hour))
	if _, err := src.Load(context.Background(), warn); err != nil || srv.hits.Load() != hits {
		t.Fatalf("offline with cache: %v, hits %d → %d", err, hits, srv.hits.Load())
	}
}

func TestFeedSourceNoFeed(t *testing.T) {
	srv := newFeedServer(t)
	srv.status.Store(http.StatusForbidden)
	clk := clocktesting.NewFakePassiveClock(testNow)
	noWarn := func(s string) { t.Errorf("unexpected warning %q", s) }
	tests := []struct {
		name string
		src  FeedSource
		want string
	}{
		{"fetch fails, no cache", FeedSource{URL: srv.URL, CacheDir: t.TempDir(), Clock: clk}, "403 Forbidden"},
		{"offline, no cache", FeedSource{URL: srv.URL, CacheDir: t.TempDir(), Offline: true, Clock: clk}, "(offline)"},
		{"unreachable", FeedSource{URL: "http://127.0.0.1:1/feed.json", Clock: clk}, "connection refused"},
		{"unsupported scheme", FeedSource{Clock: clk}, "unsupported protocol scheme"},
	}
	tests[3].src.URL = "ftp://127.0.0.1/feed.json"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.src.Load(context.Background(), noWarn)
			if !errors.Is(err, ErrNoFeed) || !strings.Contains(err.Error(), "--data FILE") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want ErrNoFeed naming --data and %q", err, tt.want)
			}
		})
	}
}

func TestFeedSourceRejectsBadBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"ranges":[]}`)) }))
	defer srv.Close()
	src := FeedSource{URL: srv.URL, CacheDir: t.TempDir(), Clock: clocktesting.NewFakePassiveClock(testNow)}
	_, err := src.Load(context.Background(), func(string) {})
	if err == nil || !strings.Contains(err.Error(), "no interruption ranges") {
		t.Fatalf("Load error = %v", err)
	}
	if _, err := os.Stat(filepath.Join(src.CacheDir, feedCacheFile)); err == nil {
		t.Error("a bad feed was cached")
	}
}

func TestLoadFeedFile(t *testing.T) {
	f, err := LoadFeedFile(filepath.Join("testdata", "feed-small.json"))
	if err != nil || f.Source == "" || !f.FetchedAt.IsZero() {
		t.Fatalf("LoadFeedFile = %+v, %v", f, err)
	}
	if _, err := LoadFeedFile("testdata/missing.json"); err == nil || !strings.Contains(err.Error(), "reading the Spot Advisor data") {
		t.Errorf("missing file error = %v", err)
	}
}
