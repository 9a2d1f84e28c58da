package advisor

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// DefaultRiskWeight is w in the risk factor 1 + w × (monthly interruption
// estimate): at 4 a <5% type (2.5 %/month) costs 10 % more than its price and
// a >20% type (25 %/month) twice its price, so a type must cost less than
// half as much to beat one four buckets safer.
const DefaultRiskWeight = 4.0

// Evidence is what is known beyond the feed; every field may be empty.
type Evidence struct {
	// ListPrices are On-Demand list prices per type (BuiltinListPrices);
	// with the feed's savings they give the estimated Spot price.
	ListPrices ListPrices
	// Prices are 30-day average Spot prices per type and zone; where known
	// they replace the estimate.
	Prices Prices
	// Observed is the cluster's own interruption history per type.
	Observed Observed
	// Zones, when given, are the zones the node group spans.
	Zones []string
}

// Options tune Recommend. Zero fields take the defaults.
type Options struct {
	// RiskWeight: DefaultRiskWeight when 0; negative is taken as 0 (price
	// alone).
	RiskWeight float64
	// PriorNodeHours weighs the feed against observed history:
	// DefaultPriorNodeHours when 0.
	PriorNodeHours float64
	// MinTypes is the smallest set the target needs (15 for Karpenter's
	// spot-to-spot consolidation); a smaller set gets a warning.
	MinTypes int
	// Now is the time of the advice; the data's age is measured to it.
	Now time.Time
}

func (o Options) withDefaults() Options {
	if o.RiskWeight == 0 {
		o.RiskWeight = DefaultRiskWeight
	}
	if o.RiskWeight < 0 {
		o.RiskWeight = 0
	}
	if o.PriorNodeHours == 0 {
		o.PriorNodeHours = DefaultPriorNodeHours
	}
	return o
}

// RiskCost is the cost of usable capacity weighted by risk:
//
//	SpotPrice ÷ units × (1 + riskWeight × interruption estimate)
//
// where units is what the node holds of the unit shape (UnitShape) and the
// interruption estimate the posterior monthly fraction. It is +Inf without a
// price or with no usable capacity.
func RiskCost(spotPrice, units, posterior, riskWeight float64) float64 {
	if spotPrice <= 0 || units <= 0 {
		return math.Inf(1)
	}
	return spotPrice / units * (1 + riskWeight*posterior)
}

// rank fills what Recommend concludes about every candidate (posterior,
// tier, prices, allocatable capacity, costs, zones and score) and sorts them
// best first: by RiskCost, then name; unpriced candidates last.
func rank(f *Feed, cands []Candidate, req Requirements, ev Evidence, o Options) []Candidate {
	out := make([]Candidate, len(cands))
	copy(out, cands)
	shape := ShapeOf(req)
	best := math.Inf(1)
	for i := range out {
		c := &out[i]
		c.Posterior = c.Prior
		if obs, ok := ev.Observed[c.Type]; ok {
			obs := obs
			c.Observed = &obs
			c.Posterior = Posterior(c.Prior, obs, o.PriorNodeHours)
		}
		c.Tier = f.BucketOf(c.Posterior)
		c.TierLabel = f.BucketLabel(c.Tier)
		c.AllocVCPUs, c.AllocGiB = Allocatable(c.Spec)
		c.AllocVCPUs, c.AllocGiB = round(c.AllocVCPUs, 3), round(c.AllocGiB, 3)
		if od, ok := ev.ListPrices.Price(c.Type); ok {
			c.OnDemand = od
			if c.Savings < 100 {
				c.SpotPrice, c.PriceSource = round(od*(1-float64(c.Savings)/100), 6), PriceEstimated
			}
		}
		if p, ok := ev.Prices.Mean(c.Type); ok && p > 0 {
			c.SpotPrice, c.PriceSource = round(p, 6), PriceFromEC2
		}
		c.Zones = zonesOf(c.Type, ev)
		risk := RiskCost(c.SpotPrice, shape.Units(c.AllocVCPUs, c.AllocGiB), c.Posterior, o.RiskWeight)
		if math.IsInf(risk, 1) {
			continue
		}
		c.PricePerVCPU = round(c.SpotPrice/c.AllocVCPUs, 6)
		if c.AllocGiB > 0 {
			c.PricePerGiB = round(c.SpotPrice/c.AllocGiB, 6)
		}
		c.UnitCost = round(c.SpotPrice/shape.Units(c.AllocVCPUs, c.AllocGiB), 6)
		c.RiskCost = round(risk, 6)
		best = math.Min(best, c.RiskCost)
	}
	for i := range out {
		if out[i].RiskCost > 0 {
			out[i].Score = round(100*best/out[i].RiskCost, 1)
		}
	}
	sortCandidates(out, better)
	return out
}

// sortCandidates sorts cs stably by less, moving each (large) Candidate once
// rather than at every swap.
func sortCandidates(cs []Candidate, less func(a, b Candidate) bool) {
	idx := make([]int, len(cs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return less(cs[idx[i]], cs[idx[j]]) })
	sorted := make([]Candidate, len(cs))
	for i, k := range idx {
		sorted[i] = cs[k]
	}
	copy(cs, sorted)
}

// better orders candidates: priced before unpriced, lower RiskCost, then
// name.
func better(a, b Candidate) bool {
	if a.Priced() != b.Priced() {
		return a.Priced()
	}
	if a.RiskCost != b.RiskCost {
		return a.RiskCost < b.RiskCost
	}
	return a.Type < b.Type
}

// zonesOf returns the zones a type is known in: --zones (narrowed to those
// with a price when prices are known), else the zones with a price.
func zonesOf(typ string, ev Evidence) []string {
	priced := ev.Prices[typ]
	var out []string
	if len(ev.Zones) > 0 {
		for _, z := range ev.Zones {
			if _, ok := priced[z]; ok || len(priced) == 0 {
				out = append(out, z)
			}
		}
		return out
	}
	for z := range priced {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

// round rounds v to n decimals, so outputs carry no float noise.
func round(v float64, n int) float64 {
	p := math.Pow(10, float64(n))
	return math.Round(v*p) / p
}

// Recommend ranks the candidates of Match with the evidence, applies the
// --max-interruption cut (req.MaxBucket), chooses a diversified set of
// req.Count types and reports its price, its diversity and anything the
// reader should be warned of. Data carries the sources to show; Recommend
// fills its age and the list prices' source.
func Recommend(f *Feed, m *Matched, req Requirements, ev Evidence, data DataInfo, o Options) (*Result, error) {
	o = o.withDefaults()
	ranked := rank(f, m.Candidates, req, ev, o)
	if req.MaxBucket >= 0 {
		kept := ranked[:0:0]
		for _, c := range ranked {
			if c.Tier <= req.MaxBucket {
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			flag := fmt.Sprintf("--max-interruption %s", f.BucketLabel(req.MaxBucket))
			return nil, &NoMatchError{Region: req.Region, OS: req.OS, Requirement: flag, Removed: len(ranked), Nearest: firstN(ranked, maxNearest)}
		}
		ranked = kept
	}
	set := Diversify(ranked, req.Count)
	if !f.FetchedAt.IsZero() {
		data.FetchedAt, data.DateSource = f.FetchedAt, f.DateSource
		data.Age = o.Now.Sub(f.FetchedAt)
	}
	if data.Feed == "" {
		data.Feed = f.Source
	}
	if data.ListPrices == "" {
		data.ListPrices = ev.ListPrices.Source
	}
	res := &Result{Requirements: req, Data: data, Set: set, Ranked: ranked, Excluded: m.Excluded,
		Diversity: diversityOf(set, len(ev.Zones)), SetPrice: setPriceOf(set, ranked), RiskWeight: o.RiskWeight, GeneratedAt: o.Now}
	if req.MaxBucket >= 0 {
		res.MaxInterruption = f.BucketLabel(req.MaxBucket)
	}
	res.Warnings = append(append([]string(nil), m.Notes...), warnings(res, ranked, o)...)
	return res, nil
}

func firstN(cs []Candidate, n int) []Candidate {
	if len(cs) > n {
		cs = cs[:n]
	}
	return append([]Candidate(nil), cs...)
}
