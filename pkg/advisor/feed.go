package advisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultFeedURL is where AWS publishes the Spot Instance Advisor data.
const DefaultFeedURL = "https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json"

// OS names used by the feed.
const (
	Linux   = "Linux"
	Windows = "Windows"
)

// Feed is the Spot Instance Advisor data: per region, OS and instance type,
// an interruption-frequency bucket and the savings over On-Demand. A region's
// advice is decoded and checked when first asked for (Region), so loading
// the 1 MB feed costs little more than the one region a run needs.
type Feed struct {
	// InstanceTypes holds the feed's own specs of each type.
	InstanceTypes map[string]FeedType `json:"instance_types"`
	// Ranges are the interruption buckets, ordered by Index from 0 (least
	// frequent) up.
	Ranges []Bucket `json:"ranges"`
	// FetchedAt is when this copy of the data was taken from AWS; zero when
	// unknown. The feed carries no time of its own (no field of the
	// document dates it), so the date comes with the copy: the time of a
	// fetch, the cache's or a --data file's .meta.json, or --feed-date. A
	// file's modification time is never used: copying or touching a year-old
	// download would make it read as new.
	FetchedAt time.Time `json:"-"`
	// DateSource says how FetchedAt is known ("the fetch", the
	// .meta.json file, "--feed-date"); "" when it is not.
	DateSource string `json:"-"`
	// Source says where the data came from (a URL or a file).
	Source string `json:"-"`

	// raw maps region → its undecoded spot_advisor entry; decoded caches
	// region → OS → type → advice.
	raw     map[string]json.RawMessage
	mu      sync.Mutex
	decoded map[string]map[string]map[string]Advice
}

// FeedType is the feed's description of one instance type.
type FeedType struct {
	// Cores is the number of vCPUs (the feed calls them cores).
	Cores int `json:"cores"`
	// RAMGB is the memory in GiB.
	RAMGB float64 `json:"ram_gb"`
	// EMR says whether Amazon EMR supports the type.
	EMR bool `json:"emr"`
}

// Bucket is one interruption-frequency range of the feed ("<5%", "5-10%", …).
type Bucket struct {
	// Index is the value the advice's R field refers to.
	Index int `json:"index"`
	// Label is the human text, e.g. "5-10%".
	Label string `json:"label"`
	// Max is the upper bound in percent as the feed gives it (the last
	// bucket's is 100).
	Max int `json:"max"`
}

// Advice is the feed's word on one type in one region and OS.
type Advice struct {
	// Savings is the percentage saved over the On-Demand price, at most 100;
	// negative when Spot costs more than On-Demand (the feed has such types).
	Savings int `json:"s"`
	// Range is the Index of the interruption Bucket.
	Range int `json:"r"`
}

// ParseFeed decodes and checks the Spot Advisor JSON. It rejects data that
// later steps could not use: no buckets, bucket indexes that are not 0..n-1 in
// order, no regions, or specs with negative or non-finite sizes; Region
// rejects a region whose advice points at a missing bucket or claims savings
// over 100%.
//
// The ranges and specs are checked here; each region's advice when Region
// first decodes it.
func ParseFeed(data []byte) (*Feed, error) {
	var doc struct {
		InstanceTypes map[string]FeedType        `json:"instance_types"`
		Ranges        []Bucket                   `json:"ranges"`
		Advisor       map[string]json.RawMessage `json:"spot_advisor"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decoding the Spot Advisor feed: %w", err)
	}
	f := &Feed{InstanceTypes: doc.InstanceTypes, Ranges: doc.Ranges, raw: doc.Advisor,
		decoded: map[string]map[string]map[string]Advice{}}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("checking the Spot Advisor feed: %w", err)
	}
	return f, nil
}

func (f *Feed) validate() error {
	if len(f.Ranges) == 0 {
		return errors.New("no interruption ranges")
	}
	prevMax := -1
	for i, b := range f.Ranges {
		if b.Index != i {
			return fmt.Errorf("range %d has index %d, want %d (ranges must be ordered)", i, b.Index, i)
		}
		if b.Max <= prevMax || b.Max > 100 {
			return fmt.Errorf("range %q has max %d; maxima must rise and stay within 0–100", b.Label, b.Max)
		}
		prevMax = b.Max
	}
	if len(f.raw) == 0 {
		return errors.New("no regions in spot_advisor")
	}
	for typ, t := range f.InstanceTypes {
		if t.Cores < 0 || t.RAMGB < 0 || math.IsNaN(t.RAMGB) || math.IsInf(t.RAMGB, 0) {
			return fmt.Errorf("instance type %s: cores %d, ram_gb %v are not sizes", typ, t.Cores, t.RAMGB)
		}
	}
	return nil
}

// checkRegion checks one region's decoded advice against the buckets.
func (f *Feed) checkRegion(region string, byOS map[string]map[string]Advice) error {
	for os, types := range byOS {
		for typ, a := range types {
			if a.Range < 0 || a.Range >= len(f.Ranges) {
				return fmt.Errorf("%s %s %s: range %d does not exist (have 0–%d)", region, os, typ, a.Range, len(f.Ranges)-1)
			}
			if a.Savings > 100 {
				return fmt.Errorf("%s %s %s: savings %d%% is over 100", region, os, typ, a.Savings)
			}
		}
	}
	return nil
}

// Regions returns the feed's regions, sorted.
func (f *Feed) Regions() []string {
	out := make([]string, 0, len(f.raw))
	for r := range f.raw {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Region returns the advice for one region and OS, or an error that lists the
// regions (or OSes) the feed has, or says what is wrong with the region's
// data. It is safe for concurrent use.
func (f *Feed) Region(region, os string) (map[string]Advice, error) {
	byOS, err := f.regionAdvice(region)
	if err != nil {
		return nil, err
	}
	types, ok := byOS[os]
	if !ok {
		var have []string
		for o := range byOS {
			have = append(have, o)
		}
		sort.Strings(have)
		return nil, fmt.Errorf("no %q data for region %s: the feed has %s", os, region, strings.Join(have, ", "))
	}
	return types, nil
}

// regionAdvice decodes and checks a region's advice once.
func (f *Feed) regionAdvice(region string) (map[string]map[string]Advice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if byOS, ok := f.decoded[region]; ok {
		return byOS, nil
	}
	raw, ok := f.raw[region]
	if !ok {
		return nil, fmt.Errorf("unknown region %q: the Spot Advisor feed has %s", region, strings.Join(f.Regions(), ", "))
	}
	var byOS map[string]map[string]Advice
	if err := json.Unmarshal(raw, &byOS); err != nil {
		return nil, fmt.Errorf("decoding the Spot Advisor feed's region %s: %w", region, err)
	}
	if err := f.checkRegion(region, byOS); err != nil {
		return nil, fmt.Errorf("checking the Spot Advisor feed: %w", err)
	}
	if f.decoded == nil {
		f.decoded = map[string]map[string]map[string]Advice{}
	}
	f.decoded[region] = byOS
	return byOS, nil
}

// BucketLabel returns the label of bucket i, or "?" when there is none.
func (f *Feed) BucketLabel(i int) string {
	if i < 0 || i >= len(f.Ranges) {
		return "?"
	}
	return f.Ranges[i].Label
}

// bucketBounds returns the lower and upper interruption percentage of bucket
// i. The bounds come from the feed's Max fields; the last, open bucket (Max
// 100) is taken to span as wide as the one before it, so ">20%" with a lower
// bound of 22 becomes 22–28.
func (f *Feed) bucketBounds(i int) (lo, hi float64) {
	if i > 0 {
		lo = float64(f.Ranges[i-1].Max)
	}
	hi = float64(f.Ranges[i].Max)
	if i == len(f.Ranges)-1 && i > 0 && hi >= 100 {
		width := lo
		if i > 1 {
			width = lo - float64(f.Ranges[i-2].Max)
		}
		hi = lo + width
	}
	return lo, hi
}

// BucketMidpoint returns the interruption frequency, as a fraction of
// instances interrupted per month, at the middle of bucket i; it is the prior
// that observed history updates.
func (f *Feed) BucketMidpoint(i int) float64 {
	lo, hi := f.bucketBounds(i)
	return (lo + hi) / 200
}

// BucketOf returns the bucket whose range holds the monthly interruption
// fraction p (the first whose upper bound is at least p in percent).
func (f *Feed) BucketOf(p float64) int {
	for i := range f.Ranges {
		if _, hi := f.bucketBounds(i); p*100 <= hi && i < len(f.Ranges)-1 {
			return i
		}
	}
	return len(f.Ranges) - 1
}

// MaxBucketFor returns the worst bucket whose label's upper bound is at most
// pct percent ("5-10%" → 10, "<5%" → 5, ">20%" → 100), for --max-interruption.
// It is an error when no bucket is that good.
func (f *Feed) MaxBucketFor(pct float64) (int, error) {
	best := -1
	var labels []string
	for i, b := range f.Ranges {
		labels = append(labels, b.Label)
		if labelUpper(b) <= pct {
			best = i
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("no interruption bucket is at most %g%% (the feed's buckets are %s)", pct, strings.Join(labels, ", "))
	}
	return best, nil
}

// labelUpper reads the upper bound of a bucket from its label: the last
// number in "5-10%" or "<5%"; ">20%" is open and bounded by 100.
func labelUpper(b Bucket) float64 {
	l := strings.TrimSpace(b.Label)
	if strings.HasPrefix(l, ">") {
		return 100
	}
	l = strings.TrimSuffix(strings.TrimLeft(l, "<"), "%")
	if i := strings.LastIndex(l, "-"); i >= 0 {
		l = l[i+1:]
	}
	if v, err := strconv.ParseFloat(l, 64); err == nil {
		return v
	}
	return float64(b.Max)
}

// SetDate dates the data: t is when the copy was taken from AWS and source
// says how that is known (for the outputs' "dated by").
func (f *Feed) SetDate(t time.Time, source string) {
	f.FetchedAt, f.DateSource = t.UTC(), source
}
