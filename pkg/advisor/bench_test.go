package advisor

import (
	"os"
	"testing"
)

// BenchmarkLoadAndRankRegion parses the real 1 MB feed and ranks all of
// us-east-1 (no size limits: every Linux type of the region, both
// architectures), choosing the largest set. Goal: ≤ 50 ms an operation.
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
		req := Requirements{Region: "us-east-1", OS: Linux, MaxBucket: -1, Count: MaxCount}
		m, err := Match(f, SpecsFromFeed(f), req)
		if err != nil {
			b.Fatal(err)
		}
		res, err := Recommend(f, m, req, Evidence{}, DataInfo{}, Options{Now: testNow})
		if err != nil || len(res.Set) != MaxCount {
			b.Fatalf("set of %d: %v", len(res.Set), err)
		}
	}
}
