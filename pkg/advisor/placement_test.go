package advisor

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// placementAnswers are testdata/spot-placement-scores.json: what EC2 answers
// per region and per zone.
func placementAnswers(t *testing.T) (region, zone []ec2types.SpotPlacementScore) {
	t.Helper()
	var doc struct {
		Region, Zone ec2.GetSpotPlacementScoresOutput
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join("testdata", "spot-placement-scores.json")), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Region.SpotPlacementScores, doc.Zone.SpotPlacementScores
}

// checkPlacementInput refuses what EC2 refuses: no types, a capacity below
// 1, a unit other than units/vcpu/memory-mib, or no region.
func checkPlacementInput(in *ec2.GetSpotPlacementScoresInput) error {
	switch {
	case len(in.InstanceTypes) == 0 && in.InstanceRequirementsWithMetadata == nil:
		return errors.New("InvalidParameterCombination: either InstanceTypes or InstanceRequirementsWithMetadata")
	case in.TargetCapacity == nil || *in.TargetCapacity < 1:
		return errors.New("InvalidParameterValue: TargetCapacity")
	case in.TargetCapacityUnitType != "" && in.TargetCapacityUnitType != ec2types.TargetCapacityUnitTypeUnits &&
		in.TargetCapacityUnitType != ec2types.TargetCapacityUnitTypeVcpu && in.TargetCapacityUnitType != ec2types.TargetCapacityUnitTypeMemoryMib:
		return errors.New("InvalidParameterValue: TargetCapacityUnitType")
	}
	return nil
}

func (f *fakeEC2) GetSpotPlacementScores(_ context.Context, in *ec2.GetSpotPlacementScoresInput, _ ...func(*ec2.Options)) (*ec2.GetSpotPlacementScoresOutput, error) {
	f.placementIn = append(f.placementIn, in)
	if f.err != nil {
		return nil, f.err
	}
	if err := checkPlacementInput(in); err != nil {
		return nil, err
	}
	all := f.regionScores
	if aws.ToBool(in.SingleAvailabilityZone) {
		all = f.zoneScores
	}
	p, next := page(all, in.NextToken, f.pageSize)
	return &ec2.GetSpotPlacementScoresOutput{SpotPlacementScores: p, NextToken: next}, nil
}

func TestSpotPlacementScores(t *testing.T) {
	f := &fakeEC2{pageSize: 2}
	f.regionScores, f.zoneScores = placementAnswers(t)
	types := []string{"m6a.xlarge", "m6i.xlarge", "m7i-flex.xlarge"}
	pl, err := SpotPlacementScores(context.Background(), f, types, "eu-west-1", 12, false)
	if err != nil {
		t.Fatal(err)
	}
	in := f.placementIn[0]
	if strings.Join(in.InstanceTypes, " ") != strings.Join(types, " ") || aws.ToInt32(in.TargetCapacity) != 12 ||
		in.TargetCapacityUnitType != ec2types.TargetCapacityUnitTypeUnits || strings.Join(in.RegionNames, ",") != "eu-west-1" || aws.ToBool(in.SingleAvailabilityZone) {
		t.Errorf("input = %+v", in)
	}
	if len(pl.Scores) != 1 || pl.Scores[0] != (PlacementScore{Region: "eu-west-1", Score: 9}) {
		t.Errorf("region scores = %+v", pl.Scores)
	}
	if got := pl.summary(); got != "Spot placement score (EC2 GetSpotPlacementScores) for the set as a whole, not per type, 12 nodes per region: eu-west-1 9/10" {
		t.Errorf("summary = %q", got)
	}

	f.placementIn = nil
	pl, err = SpotPlacementScores(context.Background(), f, types, "eu-west-1", 12, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.placementIn) != 2 {
		t.Errorf("3 zone scores in %d calls, want 2 pages of 2", len(f.placementIn))
	}
	if got := pl.summary(); !strings.HasSuffix(got, "12 nodes per zone: euw1-az1 9/10, euw1-az2 6/10, euw1-az3 3/10") {
		t.Errorf("summary = %q", got)
	}

	for _, tt := range []struct {
		types []string
		nodes int
		err   error
		want  string
	}{
		{nil, 3, nil, "no instance types"},
		{types, 0, nil, "target capacity 0: want 1 or more nodes"},
		{types, 3, errors.New("UnauthorizedOperation: ec2:GetSpotPlacementScores"), "asking for Spot placement scores: UnauthorizedOperation"},
	} {
		f.err = tt.err
		if _, err := SpotPlacementScores(context.Background(), f, tt.types, "eu-west-1", tt.nodes, false); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error = %v, want %q", err, tt.want)
		}
	}
}
