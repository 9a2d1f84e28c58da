package advisor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// MaxPlacementScore is the best Spot placement score EC2 gives.
const MaxPlacementScore = 10

// Placement is EC2's Spot placement scores for the chosen set. A score
// (1–10) says how likely a request for TargetCapacity instances over the
// whole set is to succeed in a region or zone: it is a figure for the set,
// not for any one type.
type Placement struct {
	// TargetCapacity is the number of instances asked about (--nodes).
	TargetCapacity int `json:"targetCapacity"`
	// PerZone is true when the scores are per availability zone
	// (SingleAvailabilityZone), false for the region as a whole.
	PerZone bool `json:"perZone"`
	// Scores are best first.
	Scores []PlacementScore `json:"scores"`
}

// PlacementScore is one region's or zone's score.
type PlacementScore struct {
	Region string `json:"region"`
	// ZoneID is the availability zone ID (e.g. euw1-az1) when PerZone.
	ZoneID string `json:"availabilityZoneId,omitempty"`
	Score  int    `json:"score"`
}

// SpotPlacementScores asks EC2 GetSpotPlacementScores how likely nodes
// instances of types are to be granted in region, for the region as a whole
// or per zone, paging through the answer.
func SpotPlacementScores(ctx context.Context, api EC2API, types []string, region string, nodes int, perZone bool) (*Placement, error) {
	if len(types) == 0 {
		return nil, fmt.Errorf("asking for Spot placement scores: no instance types")
	}
	if nodes < 1 {
		return nil, fmt.Errorf("asking for Spot placement scores: target capacity %d: want 1 or more nodes", nodes)
	}
	in := &ec2.GetSpotPlacementScoresInput{
		InstanceTypes:          append([]string(nil), types...),
		TargetCapacity:         aws.Int32(int32(min(nodes, 1<<30))),
		TargetCapacityUnitType: ec2types.TargetCapacityUnitTypeUnits,
		RegionNames:            []string{region},
		SingleAvailabilityZone: aws.Bool(perZone),
	}
	pl := &Placement{TargetCapacity: nodes, PerZone: perZone}
	p := ec2.NewGetSpotPlacementScoresPaginator(api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("asking for Spot placement scores: %w", err)
		}
		for _, s := range page.SpotPlacementScores {
			if s.Score == nil {
				continue
			}
			pl.Scores = append(pl.Scores, PlacementScore{Region: aws.ToString(s.Region), ZoneID: aws.ToString(s.AvailabilityZoneId), Score: int(*s.Score)})
		}
	}
	sort.SliceStable(pl.Scores, func(i, j int) bool {
		a, b := pl.Scores[i], pl.Scores[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		return a.Region+a.ZoneID < b.Region+b.ZoneID
	})
	return pl, nil
}

// summary prints "Spot placement score for the set as a whole (not per type),
// 10 nodes: eu-west-1 9/10" or, per zone, "euw1-az1 9/10, euw1-az2 6/10".
func (p *Placement) summary() string {
	var parts []string
	for _, s := range p.Scores {
		where := s.Region
		if p.PerZone && s.ZoneID != "" {
			where = s.ZoneID
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d", where, s.Score, MaxPlacementScore))
	}
	scores := strings.Join(parts, ", ")
	if scores == "" {
		scores = "EC2 returned none"
	}
	per := "region"
	if p.PerZone {
		per = "zone"
	}
	return fmt.Sprintf("Spot placement score (EC2 GetSpotPlacementScores) for the set as a whole, not per type, %s per %s: %s",
		plural(p.TargetCapacity, "node"), per, scores)
}
