package advisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// maxFeedBytes bounds what is read from the feed URL (the real feed is ~1 MB).
const maxFeedBytes = 64 << 20

// Cache file names inside FeedSource.CacheDir.
const (
	feedCacheFile = "spot-advisor-data.json"
	feedMetaFile  = "spot-advisor-data.meta.json"
)

// ErrNoFeed is returned (wrapped) when no feed can be had: the fetch failed
// or was not allowed, and there is no cached copy.
var ErrNoFeed = errors.New("no Spot Advisor data: pass --data FILE with a downloaded copy of " + DefaultFeedURL)

// FeedSource loads the feed from its URL, keeping a copy and its fetch time in
// CacheDir. The zero value is not usable: set URL and Clock.
type FeedSource struct {
	// URL is the feed's address; DefaultFeedURL in production.
	URL string
	// CacheDir keeps the last fetched copy; "" disables the cache.
	CacheDir string
	// MaxAge is how old a cached copy may be before it is fetched again;
	// 0 means always fetch (the cache then only serves when the fetch fails).
	MaxAge time.Duration
	// Offline forbids fetching: only the cache is read.
	Offline bool
	// Client does the fetch; nil means a client with a 30 s timeout.
	Client *http.Client
	// Clock tells the fetch time and the cache's age.
	Clock clock.PassiveClock
}

// feedMeta is stored beside the cached feed.
type feedMeta struct {
	URL       string    `json:"url"`
	FetchedAt time.Time `json:"fetched_at"`
	ETag      string    `json:"etag,omitempty"`
}

// Load returns the feed: the cached copy while younger than MaxAge, else a
// fresh fetch (conditional on the cached ETag), else — when the fetch fails —
// the cached copy however old, with warn called to say so. With no feed at
// all the error wraps ErrNoFeed.
func (s FeedSource) Load(ctx context.Context, warn func(string)) (*Feed, error) {
	cached, meta, cacheErr := s.readCache()
	now := s.Clock.Now()
	if cached != nil && (s.Offline || (s.MaxAge > 0 && now.Sub(meta.FetchedAt) < s.MaxAge)) {
		return cached, nil
	}
	if s.Offline {
		return nil, fmt.Errorf("reading the cached Spot Advisor data in %s (offline): %v: %w", s.cacheDirOrNone(), cacheErr, ErrNoFeed)
	}
	f, err := s.fetch(ctx, cached, meta, warn)
	if err == nil {
		return f, nil
	}
	if cached != nil {
		warn(fmt.Sprintf("fetching %s failed (%v); using the cached copy fetched %s", s.URL, err, meta.FetchedAt.UTC().Format(time.RFC3339)))
		return cached, nil
	}
	return nil, fmt.Errorf("fetching the Spot Advisor data from %s: %v; no cached copy in %s: %w", s.URL, err, s.cacheDirOrNone(), ErrNoFeed)
}

func (s FeedSource) cacheDirOrNone() string {
	if s.CacheDir == "" {
		return "(no cache folder)"
	}
	return s.CacheDir
}

func (s FeedSource) fetch(ctx context.Context, cached *Feed, meta feedMeta, warn func(string)) (*Feed, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, err
	}
	if cached != nil && meta.ETag != "" && meta.URL == s.URL {
		req.Header.Set("If-None-Match", meta.ETag)
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	now := s.Clock.Now().UTC()
	switch {
	case resp.StatusCode == http.StatusNotModified && cached != nil:
		meta.FetchedAt = now
		cached.SetDate(now, "the fetch")
		if err := s.writeMeta(meta); err != nil {
			warn(fmt.Sprintf("updating the feed cache in %s: %v", s.CacheDir, err))
		}
		return cached, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFeedBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	if len(body) > maxFeedBytes {
		return nil, fmt.Errorf("response is larger than %d bytes", maxFeedBytes)
	}
	f, err := ParseFeed(body)
	if err != nil {
		return nil, err
	}
	f.Source = s.URL
	f.SetDate(now, "the fetch")
	if s.CacheDir != "" {
		// A cache that cannot be written costs the next run a fetch; it
		// does not fail this one.
		if err := s.writeCache(body, feedMeta{URL: s.URL, FetchedAt: now, ETag: resp.Header.Get("ETag")}); err != nil {
			warn(fmt.Sprintf("writing the feed cache in %s: %v", s.CacheDir, err))
		}
	}
	return f, nil
}

func (s FeedSource) readCache() (*Feed, feedMeta, error) {
	var meta feedMeta
	if s.CacheDir == "" {
		return nil, meta, errors.New("no cache folder")
	}
	mb, err := os.ReadFile(filepath.Join(s.CacheDir, feedMetaFile))
	if err != nil {
		return nil, meta, err
	}
	if err := json.Unmarshal(mb, &meta); err != nil {
		return nil, meta, fmt.Errorf("decoding %s: %w", feedMetaFile, err)
	}
	data, err := os.ReadFile(filepath.Join(s.CacheDir, feedCacheFile))
	if err != nil {
		return nil, meta, err
	}
	f, err := ParseFeed(data)
	if err != nil {
		return nil, meta, err
	}
	f.Source = meta.URL + " (cached)"
	f.SetDate(meta.FetchedAt, "the cache's "+feedMetaFile)
	return f, meta, nil
}

func (s FeedSource) writeCache(body []byte, meta feedMeta) error {
	if err := os.MkdirAll(s.CacheDir, 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(s.CacheDir, feedCacheFile), body); err != nil {
		return err
	}
	return s.writeMeta(meta)
}

func (s FeedSource) writeMeta(meta feedMeta) error {
	mb, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.CacheDir, feedMetaFile), mb)
}

// writeFileAtomic writes through a temporary file and a rename, so a reader
// never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadFeedFile reads the feed from a file (--data). The feed carries no date
// of its own, so the file is dated by the metadata file the cache writes
// beside its copy, NAME.meta.json for NAME.json, when there is one (copy
// both, or pass --data to the cache's file); otherwise its date is unknown
// and the caller may set it (--feed-date). The file's modification time is
// not a date of the data.
func LoadFeedFile(path string) (*Feed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the Spot Advisor data: %w", err)
	}
	f, err := ParseFeed(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Source = path
	metaPath := MetaFileFor(path)
	mb, err := os.ReadFile(metaPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading the Spot Advisor data's date: %w", err)
	default:
		var meta feedMeta
		if err := json.Unmarshal(mb, &meta); err != nil || meta.FetchedAt.IsZero() {
			return nil, fmt.Errorf("%s: want {\"fetched_at\": \"2006-01-02T15:04:05Z\"} dating %s: %v", metaPath, filepath.Base(path), err)
		}
		f.SetDate(meta.FetchedAt, metaPath)
	}
	return f, nil
}

// MetaFileFor names the metadata file that dates a feed file: NAME.meta.json
// beside NAME.json (the cache's pair: spot-advisor-data.meta.json).
func MetaFileFor(path string) string {
	return strings.TrimSuffix(path, ".json") + ".meta.json"
}
