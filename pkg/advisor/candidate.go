package advisor

// Candidate is an instance type that meets the requirements, with what the
// advisor knows and concludes about it.
type Candidate struct {
	Spec
	// Savings is the feed's saving over On-Demand, in percent.
	Savings int `json:"savings"`
	// Bucket and BucketLabel are the feed's interruption bucket.
	Bucket      int    `json:"bucket"`
	BucketLabel string `json:"bucketLabel"`
	// Prior is the monthly interruption fraction at the bucket's midpoint.
	Prior float64 `json:"prior"`
	// Observed is the cluster's own history of the type; nil without one.
	Observed *Observation `json:"observed,omitempty"`
	// Posterior is the monthly interruption fraction after the observed
	// history (equal to Prior without one): the interruption estimate.
	Posterior float64 `json:"posterior"`
	// Tier and TierLabel are the bucket Posterior falls in, which
	// --max-interruption cuts on.
	Tier      int    `json:"tier"`
	TierLabel string `json:"tierLabel"`
	// OnDemand is the On-Demand list price in USD per hour from the
	// ListPrices; 0 when the table does not list the type.
	OnDemand float64 `json:"onDemand,omitempty"`
	// SpotPrice is the Spot price in USD per hour the ranking uses, and
	// PriceSource where it comes from: PriceFromEC2 (the mean over zones of
	// the 30-day time-weighted price), PriceEstimated (OnDemand × (1 −
	// Savings/100)), or "" with SpotPrice 0 when neither is known.
	SpotPrice   float64 `json:"spotPrice,omitempty"`
	PriceSource string  `json:"priceSource,omitempty"`
	// AllocVCPUs and AllocGiB are what the node offers pods (Allocatable).
	AllocVCPUs float64 `json:"allocatableVCPUs"`
	AllocGiB   float64 `json:"allocatableGiB"`
	// PricePerVCPU and PricePerGiB are SpotPrice per allocatable vCPU and
	// GiB; 0 without a price.
	PricePerVCPU float64 `json:"pricePerVCPUHour,omitempty"`
	PricePerGiB  float64 `json:"pricePerGiBHour,omitempty"`
	// UnitCost is SpotPrice per usable capacity unit, and RiskCost that
	// weighted by the interruption estimate; see README.md, "Ranking".
	// Both are 0 without a price.
	UnitCost float64 `json:"unitCost,omitempty"`
	RiskCost float64 `json:"riskCost,omitempty"`
	// Zones are the availability zones the type is known in (from prices or
	// --zones); empty when unknown.
	Zones []string `json:"zones,omitempty"`
	// Score is 100 × the lowest RiskCost among the candidates ÷ this
	// RiskCost: 100 for the best value, 50 for one that costs twice as much
	// per usable capacity after risk; 0 without a price.
	Score float64 `json:"score"`
}

// Price sources, for Candidate.PriceSource.
const (
	PriceFromEC2   = "ec2"
	PriceEstimated = "estimated"
)

// Priced reports whether the candidate has a cost to rank by: a Spot price,
// real or estimated, and capacity pods can use.
func (c Candidate) Priced() bool { return c.RiskCost > 0 }
