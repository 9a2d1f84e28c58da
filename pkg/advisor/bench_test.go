package advisor

import (
	"os"
	"regexp"
	"testing"
)

// everyFamily asks for every family, so the benchmark ranks the whole region.
var everyFamily = regexp.MustCompile(".")

// BenchmarkLoadAndRankRegion parses the real 1 MB feed and ranks all of
// us-east-1 with the built-in list prices (no size limits: every Linux type
// of the region, both architectures, every category asked for so the node-
// group defaults leave nothing out), choosing the largest set. Goal: ≤ 50 ms
// an operation.
//
//	go test ./pkg/advisor -run '^$' -bench LoadAndRankRegion -benchmem
func BenchmarkLoadAndRankRegion(b *testing.B) {
	data, err := os.ReadFile(sharedFile(b, "spot-advisor-data.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := ParseFeed(data)
		if err != nil {
			b.Fatal(err)
		}
		req := Requirements{Region: "us-east-1", OS: Linux, MaxBucket: -1, Count: MaxCount, Families: everyFamily}
		m, err := Match(f, SpecsFromFeed(f), req)
		if err != nil {
			b.Fatal(err)
		}
		res, err := Recommend(f, m, req, Evidence{ListPrices: BuiltinListPrices(req.Region)}, DataInfo{}, Options{Now: testNow})
		if err != nil || len(res.Set) != MaxCount || len(res.Ranked) < 700 || !res.Set[0].Priced() {
			b.Fatalf("set of %d: %v", len(res.Set), err)
		}
	}
}
