package advisor

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// HoursPerMonth converts the feed's monthly interruption frequency to a rate.
const HoursPerMonth = 730

// DefaultPriorNodeHours is how much evidence the feed's bucket counts for, in
// node-hours: ten node-months. Observed history outweighs the feed once the
// cluster has run the type for more than that.
const DefaultPriorNodeHours = 10 * HoursPerMonth

// Observation is the cluster's own history of one instance type.
type Observation struct {
	// Interruptions is the number of Spot interruption notices seen.
	Interruptions float64 `json:"interruptions"`
	// NodeHours is how long Spot nodes of the type ran.
	NodeHours float64 `json:"nodeHours"`
	// Zones breaks both down by availability zone.
	Zones map[string]ZoneObservation `json:"zones,omitempty"`
}

// ZoneObservation is the history of one type in one zone.
type ZoneObservation struct {
	Interruptions float64 `json:"interruptions"`
	NodeHours     float64 `json:"nodeHours"`
}

// Observed maps an instance type to its history.
type Observed map[string]Observation

// MonthlyRate returns the observed monthly interruption fraction
// (1 − e^(−730·k/h)) and false when there are no node-hours to divide by.
func (o Observation) MonthlyRate() (float64, bool) {
	if o.NodeHours <= 0 {
		return 0, false
	}
	return 1 - math.Exp(-HoursPerMonth*o.Interruptions/o.NodeHours), true
}

// Posterior updates the feed's prior with observed history, as a
// Gamma–Poisson model: interruptions arrive as a Poisson process whose rate
// per node-hour has a Gamma prior with mean −ln(1−prior)/730 (the bucket's
// monthly fraction as a rate) worth priorNodeHours node-hours of evidence.
// After k interruptions in h node-hours the posterior mean rate is
// (λ₀·H₀ + k) / (H₀ + h), returned as a monthly fraction again. With no
// history it returns prior unchanged; with h ≫ H₀ it approaches k/h.
func Posterior(prior float64, o Observation, priorNodeHours float64) float64 {
	if prior >= 1 {
		prior = 0.999
	}
	if priorNodeHours <= 0 {
		priorNodeHours = DefaultPriorNodeHours
	}
	rate0 := -math.Log1p(-prior) / HoursPerMonth
	k := math.Max(o.Interruptions, 0)
	h := math.Max(o.NodeHours, 0)
	rate := (rate0*priorNodeHours + k) / (priorNodeHours + h)
	return 1 - math.Exp(-rate*HoursPerMonth)
}

// PromQuerier is the part of the Prometheus HTTP API the advisor uses;
// v1.NewAPI's result has it.
type PromQuerier interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

// QueryObserved reads the cluster's interruption history over lookback
// before now from Prometheus, with the queries of InterruptionsQuery and
// NodeHoursQuery. Prometheus's own warnings come back as notes.
func QueryObserved(ctx context.Context, q PromQuerier, lookback time.Duration, now time.Time) (Observed, []string, error) {
	obs := Observed{}
	var notes []string
	add := func(query string, set func(z *ZoneObservation, v float64)) error {
		val, warns, _, err := q.Query(ctx, query, now)
		if err != nil {
			return fmt.Errorf("querying Prometheus (%s): %w", query, err)
		}
		for _, w := range warns {
			notes = append(notes, "Prometheus: "+w)
		}
		vec, ok := val.(model.Vector)
		if !ok {
			return fmt.Errorf("querying Prometheus (%s): got a %s, want a vector", query, val.Type())
		}
		for _, s := range vec {
			typ := string(s.Metric["instance_type"])
			v := float64(s.Value)
			if typ == "" || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				continue
			}
			zone := string(s.Metric["zone"])
			o := obs[typ]
			if o.Zones == nil {
				o.Zones = map[string]ZoneObservation{}
			}
			z := o.Zones[zone]
			set(&z, v)
			o.Zones[zone] = z
			obs[typ] = o
		}
		return nil
	}
	if err := add(InterruptionsQuery(lookback), func(z *ZoneObservation, v float64) { z.Interruptions += v }); err != nil {
		return nil, notes, err
	}
	if err := add(NodeHoursQuery(lookback), func(z *ZoneObservation, v float64) { z.NodeHours += v }); err != nil {
		return nil, notes, err
	}
	for typ, o := range obs {
		o.Interruptions, o.NodeHours = 0, 0
		for _, z := range o.Zones {
			o.Interruptions += z.Interruptions
			o.NodeHours += z.NodeHours
		}
		obs[typ] = o
	}
	return obs, notes, nil
}

// Types returns the observed types, sorted.
func (o Observed) Types() []string {
	out := make([]string, 0, len(o))
	for t := range o {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
