package advisor

import (
	"path/filepath"
	"testing"
)

// FuzzParseFeed: ParseFeed never panics, and whatever it accepts the rest of
// the pipeline can use: every advice points at a bucket, buckets have sane
// midpoints, and matching any region does not panic.
func FuzzParseFeed(f *testing.F) {
	f.Add(mustRead(f, filepath.Join("testdata", "feed-small.json")))
	f.Add([]byte(`{"ranges":[{"index":0,"label":"<5%","max":5}],"spot_advisor":{"r":{"Linux":{"m5.large":{"s":-62,"r":0}}}}}`))
	f.Add([]byte(`{"ranges":[{"index":0,"label":">20%","max":100}],"spot_advisor":{"r":{"Linux":{}}},"instance_types":{"x":{"cores":1e9,"ram_gb":1e308}}}`))
	f.Add([]byte(`{"ranges":[{"index":0,"label":"","max":0},{"index":1,"label":"-","max":1}],"spot_advisor":{"":{"":{"":{"s":0,"r":1}}}},"instance_types":{"":{}}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"ranges":null,"spot_advisor":{"r":null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		feed, err := ParseFeed(data)
		if err != nil {
			return
		}
		for i := range feed.Ranges {
			mid := feed.BucketMidpoint(i)
			if mid < 0 || mid > 1 {
				t.Fatalf("bucket %d midpoint %v is not a fraction", i, mid)
			}
			_ = feed.BucketOf(mid)
			_ = labelUpper(feed.Ranges[i])
		}
		specs := SpecsFromFeed(feed)
		for _, region := range feed.Regions() {
			for _, os := range []string{Linux, Windows} {
				types, err := feed.Region(region, os)
				if err != nil {
					continue
				}
				for typ, a := range types {
					if a.Range < 0 || a.Range >= len(feed.Ranges) {
						t.Fatalf("%s %s %s: accepted range %d of %d", region, os, typ, a.Range, len(feed.Ranges))
					}
				}
				req := Requirements{Region: region, OS: os, MaxBucket: -1, Count: 3}
				if req.Check() != nil {
					continue
				}
				m, err := Match(feed, specs, req)
				if err != nil {
					continue
				}
				if _, err := Recommend(feed, m, req, Evidence{}, DataInfo{}, Options{Now: testNow}); err != nil {
					t.Fatalf("Recommend after a match: %v", err)
				}
			}
		}
	})
}
