package advisor

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"time"
)

// Diversity penalties: how much dearer, as a share of its RiskCost, a
// candidate counts for each type already in the set that shares the trait.
// A family is the strongest: one family's capacity tends to be reclaimed
// together.
const (
	familyPenalty     = 0.20
	sizePenalty       = 0.03
	generationPenalty = 0.015
	vendorPenalty     = 0.015
)

// AssumedZones is how many zones a type is taken to span when neither prices
// nor --zones say.
const AssumedZones = 3

// Minimum set sizes the advisor warns about.
const (
	// MinTypesAWS: AWS advises at least this many types so Spot placement
	// scores and price-capacity-optimized have pools to choose from.
	MinTypesAWS = 3
	// MinTypesKarpenter: Karpenter's spot-to-spot consolidation needs at
	// least this many cheaper types to replace a Spot node.
	MinTypesKarpenter = 15
)

// Diversify chooses up to count types from ranked (best first, as Recommend
// sorts them). It takes, one at a time, the priced type whose RiskCost,
// raised by the diversity penalties for each chosen type of the same family,
// size, generation and CPU vendor, is lowest; types without a price come
// only when the priced ones are used up, best first.
func Diversify(ranked []Candidate, count int) []Candidate {
	// Number each trait once, so the loop below counts in slices, not maps.
	type traits struct{ family, size, gen, vendor int }
	ids := make([]traits, len(ranked))
	fam, size, gen, ven := map[string]int{}, map[string]int{}, map[int]int{}, map[string]int{}
	idOf := func(m map[string]int, k string) int {
		if id, ok := m[k]; ok {
			return id
		}
		m[k] = len(m)
		return m[k]
	}
	for i, c := range ranked {
		g, ok := gen[c.Generation]
		if !ok {
			g = len(gen)
			gen[c.Generation] = g
		}
		ids[i] = traits{idOf(fam, c.Family), idOf(size, c.Size), g, idOf(ven, c.CPUVendor)}
	}
	families, sizes, gens, vendors := make([]int, len(fam)), make([]int, len(size)), make([]int, len(gen)), make([]int, len(ven))
	taken := make([]bool, len(ranked))
	var set []Candidate
	for len(set) < count && len(set) < len(ranked) {
		best, bestVal := -1, math.Inf(1)
		for i := range ranked {
			c := &ranked[i]
			if taken[i] || !c.Priced() {
				continue
			}
			id := ids[i]
			v := c.RiskCost * (1 + familyPenalty*float64(families[id.family]) + sizePenalty*float64(sizes[id.size]) +
				generationPenalty*float64(gens[id.gen]) + vendorPenalty*float64(vendors[id.vendor]))
			if best < 0 || v < bestVal || (v == bestVal && better(*c, ranked[best])) {
				best, bestVal = i, v
			}
		}
		if best < 0 { // only unpriced types are left: take them in rank order
			for i := range ranked {
				if !taken[i] {
					best = i
					break
				}
			}
		}
		taken[best] = true
		set = append(set, ranked[best])
		id := ids[best]
		families[id.family]++
		sizes[id.size]++
		gens[id.gen]++
		vendors[id.vendor]++
	}
	return set
}

// Diversity describes a chosen set.
type Diversity struct {
	// Types, Families, Generations, Vendors and Sizes count the distinct
	// instance types, families, generations, CPU vendors and sizes in the set.
	Types       int `json:"types"`
	Families    int `json:"families"`
	Generations int `json:"generations"`
	Vendors     int `json:"cpuVendors"`
	Sizes       int `json:"sizes"`
	// Pools is the number of Spot capacity pools, types × zones, counted per
	// type from its known zones, or with AssumedZones when ZonesAssumed.
	Pools        int  `json:"pools"`
	ZonesAssumed bool `json:"zonesAssumed"`
	// LargestFamily holds LargestFamilyShare of the set (0–1).
	LargestFamily      string  `json:"largestFamily"`
	LargestFamilyShare float64 `json:"largestFamilyShare"`
}

func diversityOf(set []Candidate, givenZones int) Diversity {
	d := Diversity{Types: len(set)}
	fam, gen, ven, size := map[string]int{}, map[int]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range set {
		fam[c.Family]++
		gen[c.Generation] = true
		ven[c.CPUVendor] = true
		size[c.Size] = true
		switch {
		case len(c.Zones) > 0:
			d.Pools += len(c.Zones)
		case givenZones > 0:
		default:
			d.Pools += AssumedZones
			d.ZonesAssumed = true
		}
	}
	d.Families, d.Generations, d.Vendors, d.Sizes = len(fam), len(gen), len(ven), len(size)
	names := make([]string, 0, len(fam))
	for f := range fam {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		if fam[f] > fam[d.LargestFamily] {
			d.LargestFamily = f
		}
	}
	if len(set) > 0 {
		d.LargestFamilyShare = float64(fam[d.LargestFamily]) / float64(len(set))
	}
	return d
}

// StaleAfter is the data age past which every output warns. AWS refreshes
// the feed often; a week-old copy may rank on buckets that have moved.
const StaleAfter = 7 * 24 * time.Hour

func warnings(r *Result, ranked []Candidate, o Options) []string {
	var w []string
	n, want := len(r.Set), r.Requirements.Count
	if n < want {
		w = append(w, fmt.Sprintf("only %d types meet the requirements (--count %d): widen --vcpus, --memory or --families", n, want))
	}
	if n < MinTypesAWS {
		w = append(w, fmt.Sprintf("the set has %d types; AWS advises at least %d so Spot has pools to choose from", n, MinTypesAWS))
	}
	if o.MinTypes > n {
		w = append(w, fmt.Sprintf("the set has %d types; Karpenter's spot-to-spot consolidation needs at least %d: raise --count or widen the requirements", n, o.MinTypes))
	}
	if r.Diversity.LargestFamilyShare > 0.5 && n >= 4 {
		w = append(w, fmt.Sprintf("family %s holds %.0f%% of the set: its capacity is often reclaimed together", r.Diversity.LargestFamily, 100*r.Diversity.LargestFamilyShare))
	}
	bestTier, worst := -1, -1
	for _, c := range ranked {
		if bestTier < 0 || c.Tier < bestTier {
			bestTier = c.Tier
		}
	}
	for i, c := range r.Set {
		if worst < 0 || c.Tier > r.Set[worst].Tier {
			worst = i
		}
	}
	if worst >= 0 && r.Set[worst].Tier > bestTier {
		w = append(w, fmt.Sprintf("the set reaches into interruption bucket %s (%s) while the best candidates are %s: their price outweighed the risk at --risk-weight %g; pass --max-interruption to cut",
			r.Set[worst].TierLabel, r.Set[worst].Type, bucketOfTier(ranked, bestTier), o.RiskWeight))
	}
	unpriced := 0
	for _, c := range r.Set {
		if !c.Priced() {
			unpriced++
		}
	}
	if unpriced > 0 {
		w = append(w, fmt.Sprintf("no cost for %s in the set: no price (the list-price table does not know them; pass --spot-prices or --aws) or no memory left for pods", plural(unpriced, "type")))
	}
	switch {
	case r.Data.FetchedAt.IsZero():
		w = append(w, fmt.Sprintf("the Spot Advisor data from %s carries no date (the feed has none, and no %s came with it), so its age is unknown: pass --feed-date YYYY-MM-DD, the day the copy was downloaded, or drop --data to fetch it",
			r.Data.Feed, filepath.Base(MetaFileFor(r.Data.Feed))))
	case r.Data.Age > StaleAfter:
		w = append(w, fmt.Sprintf("the Spot Advisor data is %s old (fetched %s, dated by %s), over the %s after which it is stale: fetch it again (drop --data and --offline)",
			humanAge(r.Data.Age), r.Data.FetchedAt.Format("2006-01-02"), r.Data.DateSource, humanAge(StaleAfter)))
	}
	return w
}

func bucketOfTier(cs []Candidate, tier int) string {
	for _, c := range cs {
		if c.Tier == tier {
			return c.TierLabel
		}
	}
	return "?"
}
