package advisor

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Default score weights.
const (
	// DefaultRiskWeight is how many points of savings one point of monthly
	// interruption frequency costs.
	DefaultRiskWeight = 2.0
	// DefaultPriceWeight is how many points one percent of price per vCPU
	// above the cheapest candidate costs, when prices are known.
	DefaultPriceWeight = 0.5
)

// Evidence is what is known beyond the feed; every field may be empty.
type Evidence struct {
	// Prices are 30-day average Spot prices per type and zone.
	Prices Prices
	// Observed is the cluster's own interruption history per type.
	Observed Observed
	// Zones, when given, are the zones the node group spans.
	Zones []string
}

// Options tune Recommend. Zero fields take the defaults.
type Options struct {
	// RiskWeight: DefaultRiskWeight when 0.
	RiskWeight float64
	// PriceWeight: DefaultPriceWeight when 0; negative turns prices off.
	PriceWeight float64
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
	if o.PriceWeight == 0 {
		o.PriceWeight = DefaultPriceWeight
	}
	if o.PriceWeight < 0 {
		o.PriceWeight = 0
	}
	if o.PriorNodeHours == 0 {
		o.PriorNodeHours = DefaultPriorNodeHours
	}
	return o
}

// Score is a candidate's worth within its tier, in points:
//
//	savings% − RiskWeight × interruption% − PriceWeight × (price per vCPU above the cheapest, %)
//
// where interruption% is the posterior monthly frequency (the bucket midpoint
// without history). Types without a price take the median price penalty.
func Score(c Candidate, riskWeight, priceWeight, pricePenalty float64) float64 {
	return float64(c.Savings) - riskWeight*100*c.Posterior - priceWeight*pricePenalty
}

// rank fills Observed, Posterior, Tier, prices, Zones and Score of every
// candidate and sorts them best first: by tier, then score, then name.
func rank(f *Feed, cands []Candidate, ev Evidence, o Options) []Candidate {
	out := make([]Candidate, len(cands))
	copy(out, cands)
	minPPV := 0.0
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
		if p, ok := ev.Prices.Mean(c.Type); ok && c.VCPUs > 0 {
			c.Price, c.PricePerVCPU, c.HasPrice = round(p, 6), round(p/float64(c.VCPUs), 6), true
			if minPPV == 0 || c.PricePerVCPU < minPPV {
				minPPV = c.PricePerVCPU
			}
		}
		c.Zones = zonesOf(c.Type, ev)
	}
	penalties := make([]float64, len(out))
	var known []float64
	for i, c := range out {
		if c.HasPrice && minPPV > 0 {
			penalties[i] = 100 * (c.PricePerVCPU/minPPV - 1)
			known = append(known, penalties[i])
		}
	}
	median := medianOf(known)
	for i := range out {
		if !out[i].HasPrice {
			penalties[i] = median
		}
		out[i].Score = round(Score(out[i], o.RiskWeight, o.PriceWeight, penalties[i]), 2)
	}
	sort.SliceStable(out, func(i, j int) bool { return better(out[i], out[j]) })
	return out
}

// better orders candidates: lower tier, higher score, then name.
func better(a, b Candidate) bool {
	if a.Tier != b.Tier {
		return a.Tier < b.Tier
	}
	if a.Score != b.Score {
		return a.Score > b.Score
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

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Recommend ranks the candidates of Match with the evidence, applies the
// --max-interruption cut (req.MaxBucket), chooses a diversified set of
// req.Count types and reports its diversity and anything the reader should
// be warned of. Data carries the sources to show; Recommend fills its age.
func Recommend(f *Feed, cands []Candidate, req Requirements, ev Evidence, data DataInfo, o Options) (*Result, error) {
	o = o.withDefaults()
	ranked := rank(f, cands, ev, o)
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
		data.FetchedAt, data.FromFile = f.FetchedAt, f.FromFile
		data.Age = o.Now.Sub(f.FetchedAt)
	}
	if data.Feed == "" {
		data.Feed = f.Source
	}
	res := &Result{Requirements: req, Data: data, Set: set, Ranked: ranked, Diversity: diversityOf(set, len(ev.Zones)), GeneratedAt: o.Now}
	if req.MaxBucket >= 0 {
		res.MaxInterruption = f.BucketLabel(req.MaxBucket)
	}
	res.Warnings = warnings(res, ranked, o)
	return res, nil
}

func firstN(cs []Candidate, n int) []Candidate {
	if len(cs) > n {
		cs = cs[:n]
	}
	return append([]Candidate(nil), cs...)
}
