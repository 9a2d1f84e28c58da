package advisor

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestPosterior(t *testing.T) {
	const week = 7 * 24.0
	tests := []struct {
		name     string
		prior    float64
		obs      Observation
		lo, hi   float64 // the posterior monthly fraction lies in [lo, hi]
		vsPrior  int     // -1 lower than prior, 0 equal, 1 higher
		nearRate bool    // close to the observed rate itself
	}{
		{"no history keeps the prior", 0.025, Observation{}, 0.025, 0.025, 0, false},
		{"5 interruptions in a week of 10 nodes", 0.025, Observation{Interruptions: 5, NodeHours: 10 * week}, 0.25, 0.40, 1, false},
		{"quiet history lowers a bad bucket", 0.25, Observation{Interruptions: 0, NodeHours: 100 * HoursPerMonth}, 0, 0.05, -1, false},
		{"few node-hours keep mostly the prior", 0.08, Observation{Interruptions: 0, NodeHours: 24}, 0.079, 0.08, -1, false},
		{"long history outweighs the feed", 0.025, Observation{Interruptions: 200, NodeHours: 1000 * HoursPerMonth}, 0.17, 0.19, 1, true},
		{"negative inputs count as none", 0.135, Observation{Interruptions: -3, NodeHours: -10}, 0.135, 0.135, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Posterior(tt.prior, tt.obs, DefaultPriorNodeHours)
			if got < tt.lo-1e-9 || got > tt.hi+1e-9 {
				t.Errorf("Posterior = %.4f, want %.4f–%.4f", got, tt.lo, tt.hi)
			}
			if cmp := sign(got - tt.prior); cmp != tt.vsPrior {
				t.Errorf("Posterior %.6f vs prior %.6f: sign %d, want %d", got, tt.prior, cmp, tt.vsPrior)
			}
			if rate, ok := tt.obs.MonthlyRate(); tt.nearRate && (!ok || math.Abs(rate-got) > 0.01) {
				t.Errorf("Posterior %.4f is not near the observed rate %.4f", got, rate)
			}
		})
	}
}

func sign(v float64) int {
	switch {
	case v > 1e-12:
		return 1
	case v < -1e-12:
		return -1
	}
	return 0
}

// recommendSmall matches and ranks the small fixture feed, with the
// built-in list prices unless ev brings its own.
func recommendSmall(t *testing.T, req Requirements, ev Evidence) *Result {
	t.Helper()
	f := smallFeed(t)
	m, err := Match(f, SpecsFromFeed(f), req)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ListPrices.lookup == nil {
		ev.ListPrices = BuiltinListPrices(req.Region)
	}
	res, err := Recommend(f, m, req, ev, DataInfo{Specs: SpecsFromFeedRule}, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func typesOf(cs []Candidate) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Type)
	}
	return strings.Join(s, " ")
}

// The score's two promises (issue 15): a type at 2.7× the price loses to a
// general-purpose one in the same bucket, and a cheap type in a much worse
// bucket loses too; a moderately cheaper one a bucket worse may still win,
// which is the trade-off the table shows.
func TestRiskCost(t *testing.T) {
	const w = DefaultRiskWeight
	m6i := RiskCost(0.0845, 4, 0.025, w) // m6i.xlarge, <5%
	tests := []struct {
		name     string
		price, p float64
		beatsM6i bool
	}{
		{"d3en.xlarge at 2.7x the price, same bucket", 0.2314, 0.025, false},
		{"30% cheaper, >20%", 0.059, 0.25, false},
		{"35% cheaper, 15-20%", 0.0549, 0.19, false},
		{"20% cheaper, 5-10%", 0.0676, 0.08, true},
		{"same price, same bucket, a cent less", 0.0844, 0.025, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RiskCost(tt.price, 4, tt.p, w) < m6i; got != tt.beatsM6i {
				t.Errorf("beats m6i.xlarge = %v, want %v (%.4f vs %.4f)", got, tt.beatsM6i, RiskCost(tt.price, 4, tt.p, w), m6i)
			}
		})
	}
	if !math.IsInf(RiskCost(0, 4, 0.025, w), 1) || !math.IsInf(RiskCost(0.1, 0, 0.025, w), 1) {
		t.Error("no price or no capacity must cost +Inf")
	}
}

func TestUnitShape(t *testing.T) {
	tests := []struct {
		name      string
		vcpus, gb Range
		want      UnitShape
		units     float64 // of a node with 3.92 vCPUs and 13.6 GiB allocatable
	}{
		{"4 vCPU 16 GiB: 4 GiB per vCPU, memory runs out first", Range{4, 4, true}, Range{16, 16, true}, UnitShape{GiBPerVCPU: 4}, 3.4},
		{"ranges use their middles", Range{4, 8, true}, Range{8, 16, true}, UnitShape{GiBPerVCPU: 2}, 3.92},
		{"vCPUs only", Range{4, 4, true}, Range{}, UnitShape{}, 3.92},
		{"memory only", Range{}, Range{16, 16, true}, UnitShape{PerGiB: true}, 13.6},
		{"open range", Range{4, math.Inf(1), true}, Range{16, math.Inf(1), true}, UnitShape{GiBPerVCPU: 4}, 3.4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ShapeOf(Requirements{VCPUs: tt.vcpus, MemoryGiB: tt.gb})
			if got != tt.want {
				t.Fatalf("ShapeOf = %+v, want %+v", got, tt.want)
			}
			if u := got.Units(3.92, 13.6); math.Abs(u-tt.units) > 1e-9 {
				t.Errorf("Units = %v, want %v", u, tt.units)
			}
		})
	}
}

func TestRecommendRanksByRiskCost(t *testing.T) {
	req := smallReq()
	req.VCPUs, req.MemoryGiB, req.Count = Range{4, 4, true}, Range{16, 16, true}, 5
	res := recommendSmall(t, req, Evidence{})
	// us-east-1 list price × (1 − savings) × (1 + 4 × bucket midpoint):
	// m5 0.192×0.34×1.1, m5a 0.172×0.46×1.1, m6i 0.192×0.40×1.32,
	// m6a 0.1728×0.43×1.54, m7i 0.2016×0.47×2.0. t3.xlarge is burstable.
	if got, want := typesOf(res.Set), "m5.xlarge m5a.xlarge m6i.xlarge m6a.xlarge m7i.xlarge"; got != want {
		t.Errorf("set = %s\nwant  %s", got, want)
	}
	m5 := res.Set[0]
	if m5.OnDemand != 0.192 || m5.SpotPrice != 0.06528 || m5.PriceSource != PriceEstimated || m5.AllocVCPUs != 3.92 || m5.Score != 100 {
		t.Errorf("m5.xlarge = %+v", m5)
	}
	// 16 GiB less 7.5 %, 11 MiB × 58 pods + 255 MiB and 100 MiB eviction.
	if want := (math.Floor(16384*0.925) - 893 - 100) / 1024; math.Abs(m5.AllocGiB-want) > 1e-3 {
		t.Errorf("m5.xlarge allocatable GiB = %v, want %v", m5.AllocGiB, want)
	}
	if want := round(0.06528/m5.AllocGiB*4, 6); m5.UnitCost != want {
		t.Errorf("m5.xlarge unit cost = %v, want %v (memory runs out first)", m5.UnitCost, want)
	}
	if len(res.Excluded) != 2 || res.Excluded[0].String() != "1 burstable (t3.xlarge; --burstable)" || res.Excluded[1].String() != "1 GPU and accelerator (g5.xlarge; --category g or --gpus N)" {
		t.Errorf("excluded = %+v", res.Excluded)
	}
	sp := res.SetPrice
	if sp.Priced != 5 || sp.Cheapest == nil || sp.Cheapest.Type != "m5.xlarge" || sp.Premium <= 0 || sp.MeanPrice <= m5.SpotPrice {
		t.Errorf("set price = %+v", sp)
	}
	if !hasWarning(res, "the set reaches into interruption bucket >20% (m7i.xlarge) while the best candidates are <5%") {
		t.Errorf("warnings = %q", res.Warnings)
	}
	if got := res.Data.Age.Hours(); got != 24 {
		t.Errorf("data age = %vh, want 24h", got)
	}
}

func TestRecommendObservedMovesRanking(t *testing.T) {
	req := smallReq()
	req.VCPUs, req.MemoryGiB, req.Count = Range{4, 4, true}, Range{16, 16, true}, 3
	before := recommendSmall(t, req, Evidence{})
	if before.Set[0].Type != "m5.xlarge" {
		t.Fatalf("without history m5.xlarge leads: %s", typesOf(before.Set))
	}
	// The cluster saw m5.xlarge interrupted 5 times in a week of 10 nodes
	// (posterior > 20%), and ran m6i.xlarge quietly for 50 node-months
	// (posterior 1.4%, better than its 5-10% bucket).
	ev := Evidence{Observed: Observed{
		"m5.xlarge":  {Interruptions: 5, NodeHours: 1680},
		"m6i.xlarge": {Interruptions: 0, NodeHours: 50 * HoursPerMonth},
	}}
	after := recommendSmall(t, req, ev)
	if got := typesOf(after.Set); got != "m6i.xlarge m5a.xlarge m6a.xlarge" {
		t.Errorf("set with history = %s", got)
	}
	var m5 Candidate
	for _, c := range after.Ranked {
		if c.Type == "m5.xlarge" {
			m5 = c
		}
	}
	if m5.Bucket != 0 || m5.Tier != 4 || m5.Observed == nil || m5.Posterior <= m5.Prior {
		t.Errorf("m5.xlarge = bucket %d tier %d posterior %v prior %v", m5.Bucket, m5.Tier, m5.Posterior, m5.Prior)
	}
}

func TestRecommendMaxInterruption(t *testing.T) {
	f := smallFeed(t)
	req := smallReq()
	req.VCPUs, req.MaxBucket = Range{4, 4, true}, 1
	res := recommendSmall(t, req, Evidence{})
	for _, c := range res.Set {
		if c.Tier > 1 {
			t.Errorf("%s (tier %d) passed --max-interruption 5-10%%", c.Type, c.Tier)
		}
	}
	if res.MaxInterruption != "5-10%" {
		t.Errorf("MaxInterruption = %q", res.MaxInterruption)
	}
	req.Families, req.MaxBucket = regexp.MustCompile("^m7i"), 0
	m, err := Match(f, SpecsFromFeed(f), req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Recommend(f, m, req, Evidence{}, DataInfo{}, Options{Now: testNow})
	if err == nil || !strings.Contains(err.Error(), "--max-interruption <5% removed the last 1 candidate; nearest: m7i.xlarge") {
		t.Errorf("error = %v", err)
	}
}

func TestRecommendPricesAndZones(t *testing.T) {
	req := smallReq()
	req.VCPUs, req.MemoryGiB, req.Count = Range{4, 4, true}, Range{16, 16, true}, 2
	// EC2's own prices replace the estimates: m5a.xlarge at half of
	// m5.xlarge overtakes it.
	ev := Evidence{Prices: Prices{
		"m5.xlarge":  {"us-test-1a": 0.08, "us-test-1b": 0.08},
		"m5a.xlarge": {"us-test-1a": 0.04},
	}, Zones: []string{"us-test-1a", "us-test-1b", "us-test-1c"}}
	res := recommendSmall(t, req, ev)
	if got := typesOf(res.Set); got != "m5a.xlarge m5.xlarge" {
		t.Errorf("set = %s", got)
	}
	if c := res.Set[0]; c.SpotPrice != 0.04 || c.PriceSource != PriceFromEC2 || c.PricePerVCPU != round(0.04/3.92, 6) {
		t.Errorf("m5a = %+v", c)
	}
	if got := strings.Join(res.Set[1].Zones, ","); got != "us-test-1a,us-test-1b" {
		t.Errorf("m5 zones = %s", got)
	}
	if res.Diversity.Pools != 3 || res.Diversity.ZonesAssumed {
		t.Errorf("diversity = %+v", res.Diversity)
	}
	if !hasWarning(res, "AWS advises at least 3") {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

func TestRecommendUnpricedComeLast(t *testing.T) {
	req := smallReq()
	req.VCPUs, req.MemoryGiB, req.Count = Range{4, 4, true}, Range{16, 16, true}, 3
	lp := ListPricesFrom("us-test-1", "test prices", false, map[string]float64{"m6a.xlarge": 0.17, "m7i.xlarge": 0.2})
	res := recommendSmall(t, req, Evidence{ListPrices: lp})
	if got := typesOf(res.Set); got != "m6a.xlarge m7i.xlarge m5.xlarge" {
		t.Errorf("set = %s", got)
	}
	if c := res.Set[2]; c.Priced() || c.Score != 0 || c.PriceSource != "" || c.SpotPrice != 0 {
		t.Errorf("m5.xlarge without a price = %+v", c)
	}
	if !hasWarning(res, "no cost for 1 type in the set: no price") || res.Data.ListPrices != "test prices" {
		t.Errorf("warnings = %q, list prices %q", res.Warnings, res.Data.ListPrices)
	}
}

// A type with a price but no capacity pods can use (a 0.5 GiB node, whose
// memory the kubelet's reserve eats) has no cost to rank by: it is not
// mistaken for the cheapest.
func TestRecommendNoUsableCapacity(t *testing.T) {
	f, err := ParseFeed([]byte(`{"ranges":[{"index":0,"label":"<5%","max":5}],
		"instance_types":{"t3.nano":{"cores":2,"ram_gb":0.5},"m5.large":{"cores":2,"ram_gb":8}},
		"spot_advisor":{"r":{"Linux":{"t3.nano":{"s":70,"r":0},"m5.large":{"s":60,"r":0}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	req := Requirements{Region: "r", OS: Linux, MemoryGiB: Range{0, 8, true}, Burstable: true, MaxBucket: -1, Count: 2}
	m, err := Match(f, SpecsFromFeed(f), req)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Recommend(f, m, req, Evidence{ListPrices: BuiltinListPrices("r")}, DataInfo{}, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if got := typesOf(res.Set); got != "m5.large t3.nano" || res.Set[1].Priced() || res.Set[1].SpotPrice == 0 || res.SetPrice.Cheapest.Type != "m5.large" {
		t.Errorf("set = %s, t3.nano = %+v", got, res.Set[1])
	}
}

func TestDiversifySpreadsFamilies(t *testing.T) {
	c := func(typ string, cost float64) Candidate {
		fam, size := splitType(typ)
		tr := FamilyTraits(fam)
		return Candidate{Spec: Spec{Type: typ, Family: fam, Size: size, Generation: tr.Generation, CPUVendor: tr.CPUVendor}, SpotPrice: cost, RiskCost: cost}
	}
	ranked := []Candidate{c("m5.xlarge", 1.00), c("m5.2xlarge", 1.01), c("m5.4xlarge", 1.02), c("m5d.xlarge", 1.10), c("c5.xlarge", 1.15), c("m5.8xlarge", 1.03), {Spec: Spec{Type: "x9.large"}}}
	tests := []struct {
		count int
		want  string
	}{
		{1, "m5.xlarge"},
		// m5.2xlarge counts 1.01 × 1.23 (family, generation, vendor) =
		// 1.24; m5d.xlarge 1.10 × 1.06 (size, generation, vendor) = 1.17.
		{3, "m5.xlarge m5d.xlarge m5.2xlarge"},
		{7, "m5.xlarge m5d.xlarge m5.2xlarge c5.xlarge m5.4xlarge m5.8xlarge x9.large"},
		{9, "m5.xlarge m5d.xlarge m5.2xlarge c5.xlarge m5.4xlarge m5.8xlarge x9.large"},
	}
	for _, tt := range tests {
		if got := typesOf(Diversify(ranked, tt.count)); got != tt.want {
			t.Errorf("Diversify(%d) = %s\nwant           %s", tt.count, got, tt.want)
		}
	}
}

// On the real feed, in us-east-1, 4 vCPU / 16 GiB / amd64, the set spans ≥ 3
// families, meets the requirements and holds nothing the node-group
// defaults leave out, with the feed's specs and with Karpenter's.
func TestRealUSEast1FourBySixteen(t *testing.T) {
	f := realFeed(t)
	for _, specs := range []struct {
		name string
		cat  Catalog
	}{{"feed specs", SpecsFromFeed(f)}, {"Karpenter's specs", karpenterCatalog(t)}} {
		t.Run(specs.name, func(t *testing.T) {
			req := Requirements{Region: "us-east-1", OS: Linux, Arch: AMD64, VCPUs: Range{4, 4, true}, MemoryGiB: Range{16, 16, true}, MaxBucket: -1, Count: 10}
			m, err := Match(f, specs.cat, req)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Recommend(f, m, req, Evidence{ListPrices: BuiltinListPrices(req.Region)}, DataInfo{}, Options{Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Set) != 10 || res.Diversity.Families < 3 {
				t.Errorf("set %s: %d types, %d families", typesOf(res.Set), len(res.Set), res.Diversity.Families)
			}
			for _, c := range res.Set {
				if c.Accelerated || c.Arch != AMD64 || c.VCPUs != 4 || c.MemoryGiB != 16 || groupOf(c.Spec) >= 0 || !c.Priced() {
					t.Errorf("%s does not meet the requirements or the defaults: %+v", c.Type, c)
				}
			}
			t.Logf("set: %s (%s)", typesOf(res.Set), res.Diversity.summary())
		})
	}
}

func hasWarning(r *Result, part string) bool {
	for _, w := range r.Warnings {
		if strings.Contains(w, part) {
			return true
		}
	}
	return false
}
