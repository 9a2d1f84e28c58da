package advisor

import (
	"strings"
	"testing"
)

func TestParseFeedRejects(t *testing.T) {
	ranges := `"ranges":[{"index":0,"label":"<5%","max":5},{"index":1,"label":">5%","max":100}]`
	tests := []struct {
		name, json, want string
	}{
		{"not json", `{`, "decoding the Spot Advisor feed"},
		{"no ranges", `{"spot_advisor":{"r":{"Linux":{}}}}`, "no interruption ranges"},
		{"unordered ranges", `{"ranges":[{"index":1,"label":"a","max":5}],"spot_advisor":{"r":{}}}`, "range 0 has index 1"},
		{"falling max", `{"ranges":[{"index":0,"label":"a","max":9},{"index":1,"label":"b","max":5}],"spot_advisor":{"r":{}}}`, "maxima must rise"},
		{"no regions", `{` + ranges + `}`, "no regions"},
		{"negative cores", `{` + ranges + `,"spot_advisor":{"r":{}},"instance_types":{"x.large":{"cores":-1}}}`, "are not sizes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFeed([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseFeed error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRegionRejectsBadAdvice(t *testing.T) {
	ranges := `"ranges":[{"index":0,"label":"<5%","max":5},{"index":1,"label":">5%","max":100}]`
	tests := []struct {
		name, json, want string
	}{
		{"range out of bounds", `{` + ranges + `,"spot_advisor":{"r":{"Linux":{"m5.large":{"s":50,"r":7}}}}}`, "r Linux m5.large: range 7 does not exist (have 0–1)"},
		{"savings over 100", `{` + ranges + `,"spot_advisor":{"r":{"Linux":{"m5.large":{"s":150,"r":0}}}}}`, "savings 150% is over 100"},
		{"not an object", `{` + ranges + `,"spot_advisor":{"r":[1,2]}}`, "decoding the Spot Advisor feed's region r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFeed([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Region("r", Linux); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Region error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseFeedAcceptsNegativeSavings(t *testing.T) {
	// The real feed lists p5.48xlarge in ca-central-1 at -62%: Spot above On-Demand.
	f, err := ParseFeed([]byte(`{"ranges":[{"index":0,"label":"<5%","max":5}],"spot_advisor":{"r":{"Linux":{"p5.48xlarge":{"s":-62,"r":0}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if adv, err := f.Region("r", Linux); err != nil || adv["p5.48xlarge"].Savings != -62 {
		t.Fatalf("Region = %v, %v", adv, err)
	}
}

func TestRegionErrors(t *testing.T) {
	f := smallFeed(t)
	if _, err := f.Region("mars-1", Linux); err == nil || !strings.Contains(err.Error(), `unknown region "mars-1": the Spot Advisor feed has eu-test-1, us-test-1`) {
		t.Errorf("unknown region error = %v", err)
	}
	if _, err := f.Region("eu-test-1", Windows); err == nil || !strings.Contains(err.Error(), `no "Windows" data for region eu-test-1: the feed has Linux`) {
		t.Errorf("unknown OS error = %v", err)
	}
	adv, err := f.Region("us-test-1", Windows)
	if err != nil || len(adv) != 2 {
		t.Errorf("Region(us-test-1, Windows) = %v, %v", adv, err)
	}
}

func TestBuckets(t *testing.T) {
	f := smallFeed(t)
	tests := []struct {
		bucket   int
		mid      float64
		label    string
		labelMax float64
	}{
		{0, 0.025, "<5%", 5}, {1, 0.08, "5-10%", 10}, {2, 0.135, "10-15%", 15}, {3, 0.19, "15-20%", 20}, {4, 0.25, ">20%", 100},
	}
	for _, tt := range tests {
		if got := f.BucketMidpoint(tt.bucket); !near(got, tt.mid) {
			t.Errorf("BucketMidpoint(%d) = %v, want %v", tt.bucket, got, tt.mid)
		}
		if got := f.BucketOf(tt.mid); got != tt.bucket {
			t.Errorf("BucketOf(midpoint %v) = %d, want %d", tt.mid, got, tt.bucket)
		}
		if got := f.BucketLabel(tt.bucket); got != tt.label {
			t.Errorf("BucketLabel(%d) = %q", tt.bucket, got)
		}
		if got := labelUpper(f.Ranges[tt.bucket]); got != tt.labelMax {
			t.Errorf("labelUpper(%q) = %v, want %v", tt.label, got, tt.labelMax)
		}
	}
	for _, tt := range []struct {
		p    float64
		want int
	}{{0, 0}, {0.05, 0}, {0.051, 1}, {0.11, 1}, {0.2, 3}, {0.22, 3}, {0.5, 4}, {1, 4}} {
		if got := f.BucketOf(tt.p); got != tt.want {
			t.Errorf("BucketOf(%v) = %d, want %d", tt.p, got, tt.want)
		}
	}
	if got := f.BucketLabel(9); got != "?" {
		t.Errorf("BucketLabel(9) = %q", got)
	}
}

func TestMaxBucketFor(t *testing.T) {
	f := smallFeed(t)
	for _, tt := range []struct {
		pct  float64
		want int
	}{{5, 0}, {9, 0}, {10, 1}, {15, 2}, {20, 3}, {100, 4}} {
		got, err := f.MaxBucketFor(tt.pct)
		if err != nil || got != tt.want {
			t.Errorf("MaxBucketFor(%v) = %d, %v; want %d", tt.pct, got, err, tt.want)
		}
	}
	if _, err := f.MaxBucketFor(3); err == nil || !strings.Contains(err.Error(), "<5%, 5-10%, 10-15%, 15-20%, >20%") {
		t.Errorf("MaxBucketFor(3) error = %v, want the bucket list", err)
	}
}

func TestRealFeedShape(t *testing.T) {
	f := realFeed(t)
	if n := len(f.Regions()); n < 30 {
		t.Errorf("real feed has %d regions, want ≥ 30", n)
	}
	if n := len(f.InstanceTypes); n < 900 {
		t.Errorf("real feed has %d instance types, want ≥ 900", n)
	}
	if _, err := f.Region("us-east-1", Linux); err != nil {
		t.Fatal(err)
	}
}

func near(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }
