package advisor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// PriceWindow is the span Spot prices are averaged over.
const PriceWindow = 30 * 24 * time.Hour

// PricePoint is one Spot price change: from At on, Type in Zone costs Price
// USD per hour.
type PricePoint struct {
	Type, Zone string
	Price      float64
	At         time.Time
}

// Prices maps an instance type to its time-weighted average Spot price per
// zone, in USD per hour.
type Prices map[string]map[string]float64

// Mean returns the average over zones of typ's price, and false when there
// is none.
func (p Prices) Mean(typ string) (float64, bool) {
	zones := p[typ]
	if len(zones) == 0 {
		return 0, false
	}
	sum := 0.0
	for _, v := range zones {
		sum += v
	}
	return sum / float64(len(zones)), true
}

// TimeWeightedAverage averages each (type, zone)'s price over [from, to]: a
// price holds from its timestamp until the next change, and the last change
// before from sets the price at from. Pools with no point at or before to are
// left out; a pool whose first point falls inside the window is averaged over
// the part it covers.
func TimeWeightedAverage(points []PricePoint, from, to time.Time) Prices {
	type pool struct{ typ, zone string }
	byPool := map[pool][]PricePoint{}
	for _, p := range points {
		k := pool{p.Type, p.Zone}
		byPool[k] = append(byPool[k], p)
	}
	out := Prices{}
	for k, ps := range byPool {
		sort.Slice(ps, func(i, j int) bool { return ps[i].At.Before(ps[j].At) })
		var weighted, covered float64
		for i, p := range ps {
			start := p.At
			if start.Before(from) {
				start = from
			}
			end := to
			if i+1 < len(ps) && ps[i+1].At.Before(to) {
				end = ps[i+1].At
			}
			if !end.After(start) {
				continue
			}
			d := end.Sub(start).Seconds()
			weighted += p.Price * d
			covered += d
		}
		if covered == 0 {
			// Every point is after the window, or only one instant is
			// covered: fall back to the latest price at or before to.
			last := -1
			for i, p := range ps {
				if !p.At.After(to) {
					last = i
				}
			}
			if last < 0 {
				continue
			}
			weighted, covered = ps[last].Price, 1
		}
		if out[k.typ] == nil {
			out[k.typ] = map[string]float64{}
		}
		out[k.typ][k.zone] = weighted / covered
	}
	return out
}

// pointsFromEC2 converts DescribeSpotPriceHistory entries, skipping those it
// cannot read.
func pointsFromEC2(in []ec2types.SpotPrice) []PricePoint {
	out := make([]PricePoint, 0, len(in))
	for _, sp := range in {
		if sp.SpotPrice == nil || sp.Timestamp == nil || sp.AvailabilityZone == nil {
			continue
		}
		v, err := strconv.ParseFloat(*sp.SpotPrice, 64)
		if err != nil || v < 0 {
			continue
		}
		out = append(out, PricePoint{Type: string(sp.InstanceType), Zone: *sp.AvailabilityZone, Price: v, At: *sp.Timestamp})
	}
	return out
}

// ProductDescription returns the DescribeSpotPriceHistory product for an OS
// of the feed.
func ProductDescription(osName string) string {
	if osName == Windows {
		return "Windows"
	}
	return "Linux/UNIX"
}

// DescribeSpotPrices pages through DescribeSpotPriceHistory for types over
// the PriceWindow before now and returns the time-weighted averages.
func DescribeSpotPrices(ctx context.Context, api EC2API, types []string, osName string, now time.Time) (Prices, error) {
	if len(types) == 0 {
		return Prices{}, nil
	}
	in := &ec2.DescribeSpotPriceHistoryInput{
		StartTime:           aws.Time(now.Add(-PriceWindow)),
		EndTime:             aws.Time(now),
		ProductDescriptions: []string{ProductDescription(osName)},
	}
	for _, t := range types {
		in.InstanceTypes = append(in.InstanceTypes, ec2types.InstanceType(t))
	}
	var points []PricePoint
	p := ec2.NewDescribeSpotPriceHistoryPaginator(api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing Spot price history: %w", err)
		}
		points = append(points, pointsFromEC2(page.SpotPriceHistory)...)
	}
	return TimeWeightedAverage(points, now.Add(-PriceWindow), now), nil
}

// LoadSpotPricesFile reads `aws ec2 describe-spot-price-history --output
// json` output (--spot-prices) and averages it over the PriceWindow before
// the newest point in the file, so an old capture still gives its prices.
func LoadSpotPricesFile(path, osName string) (Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading Spot prices: %w", err)
	}
	var doc struct{ SpotPriceHistory []ec2types.SpotPrice }
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decoding Spot prices in %s: %w", path, err)
	}
	var keep []ec2types.SpotPrice
	for _, sp := range doc.SpotPriceHistory {
		if string(sp.ProductDescription) == "" || string(sp.ProductDescription) == ProductDescription(osName) {
			keep = append(keep, sp)
		}
	}
	points := pointsFromEC2(keep)
	if len(points) == 0 {
		return nil, fmt.Errorf("%s holds no %s Spot prices (want the output of 'aws ec2 describe-spot-price-history --output json')", path, ProductDescription(osName))
	}
	newest := points[0].At
	for _, p := range points {
		if p.At.After(newest) {
			newest = p.At
		}
	}
	return TimeWeightedAverage(points, newest.Add(-PriceWindow), newest), nil
}
