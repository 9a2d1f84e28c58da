package advisor

import "fmt"

// SetPrice is what the set as a whole costs, next to the cheapest single
// type that fits: what the set's diversity and lower risk cost.
type SetPrice struct {
	// Priced is how many types of the set have a price; the means are over
	// them, each type weighted equally (price-capacity-optimized spreads
	// over pools, so no type's share is known in advance).
	Priced int `json:"priced"`
	// MeanPrice is the mean Spot price per node-hour, MeanPerVCPU the mean
	// per allocatable vCPU-hour and MeanUnitCost per usable capacity unit.
	MeanPrice    float64 `json:"meanPrice"`
	MeanPerVCPU  float64 `json:"meanPerVCPUHour"`
	MeanUnitCost float64 `json:"meanUnitCost"`
	// MeanInterruption is the mean monthly interruption estimate of the set.
	MeanInterruption float64 `json:"meanInterruption"`
	// Cheapest is the candidate with the lowest UnitCost, in or out of the
	// set; nil when no candidate has a price.
	Cheapest *Candidate `json:"cheapest,omitempty"`
	// Premium is MeanUnitCost ÷ Cheapest.UnitCost − 1: what the set pays
	// over putting every node on the cheapest type.
	Premium float64 `json:"premium"`
}

func setPriceOf(set, ranked []Candidate) SetPrice {
	var sp SetPrice
	for _, c := range set {
		if !c.Priced() {
			continue
		}
		sp.Priced++
		sp.MeanPrice += c.SpotPrice
		sp.MeanPerVCPU += c.PricePerVCPU
		sp.MeanUnitCost += c.UnitCost
		sp.MeanInterruption += c.Posterior
	}
	if sp.Priced == 0 {
		return sp
	}
	n := float64(sp.Priced)
	sp.MeanPrice, sp.MeanPerVCPU = round(sp.MeanPrice/n, 6), round(sp.MeanPerVCPU/n, 6)
	sp.MeanUnitCost, sp.MeanInterruption = round(sp.MeanUnitCost/n, 6), round(sp.MeanInterruption/n, 4)
	for _, c := range ranked {
		if c.Priced() && (sp.Cheapest == nil || c.UnitCost < sp.Cheapest.UnitCost) {
			c := c
			sp.Cheapest = &c
		}
	}
	sp.Premium = round(sp.MeanUnitCost/sp.Cheapest.UnitCost-1, 4)
	return sp
}

// summary prints "mean $0.0861/h a node ($0.0220 per vCPU-h), 8.9 %/month
// interrupted; the cheapest single type, m6a.xlarge (5-10%), costs
// $0.0795/h: the set pays 8 % more for its spread".
func (sp SetPrice) summary() string {
	if sp.Priced == 0 {
		return "no type of the set has a price"
	}
	c := sp.Cheapest
	return fmt.Sprintf("mean $%.4f/h a node ($%.4f per vCPU-h), %.1f%%/month interrupted; cheapest single type that fits: %s (%s, %.1f%%/month) at $%.4f/h ($%.4f per vCPU-h): the set pays %.0f%% more per usable capacity",
		sp.MeanPrice, sp.MeanPerVCPU, 100*sp.MeanInterruption, c.Type, c.BucketLabel, 100*c.Posterior, c.SpotPrice, c.PricePerVCPU, 100*sp.Premium)
}
