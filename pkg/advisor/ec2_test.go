package advisor

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// fakeEC2 answers from real or fixture responses, pageSize entries a page,
// and records what it was asked.
type fakeEC2 struct {
	types     []ec2types.InstanceTypeInfo
	prices    []ec2types.SpotPrice
	pageSize  int
	err       error
	typeCalls int
	priceIn   []*ec2.DescribeSpotPriceHistoryInput
	// regionScores and zoneScores answer GetSpotPlacementScores without and
	// with SingleAvailabilityZone; placementIn records the questions.
	regionScores, zoneScores []ec2types.SpotPlacementScore
	placementIn              []*ec2.GetSpotPlacementScoresInput
}

func page[T any](all []T, token *string, size int) ([]T, *string) {
	start := 0
	if token != nil {
		start = len(*token) // the token is start bytes long: no parsing needed
	}
	end := min(start+size, len(all))
	var next *string
	if end < len(all) {
		next = aws.String(strings.Repeat("x", end))
	}
	return all[start:end], next
}

func (f *fakeEC2) DescribeInstanceTypes(_ context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	f.typeCalls++
	if f.err != nil {
		return nil, f.err
	}
	p, next := page(f.types, in.NextToken, f.pageSize)
	return &ec2.DescribeInstanceTypesOutput{InstanceTypes: p, NextToken: next}, nil
}

func (f *fakeEC2) DescribeSpotPriceHistory(_ context.Context, in *ec2.DescribeSpotPriceHistoryInput, _ ...func(*ec2.Options)) (*ec2.DescribeSpotPriceHistoryOutput, error) {
	f.priceIn = append(f.priceIn, in)
	if f.err != nil {
		return nil, f.err
	}
	var match []ec2types.SpotPrice
	for _, p := range f.prices {
		for _, t := range in.InstanceTypes {
			if p.InstanceType == t {
				match = append(match, p)
			}
		}
	}
	p, next := page(match, in.NextToken, f.pageSize)
	return &ec2.DescribeSpotPriceHistoryOutput{SpotPriceHistory: p, NextToken: next}, nil
}

// newFakeEC2 loads the real DescribeInstanceTypes and DescribeSpotPriceHistory
// responses from the shared data.
func newFakeEC2(t *testing.T) *fakeEC2 {
	t.Helper()
	infos, err := ParseInstanceTypesJSON(mustRead(t, sharedFile(t, "ec2-instance-selector_DescribeInstanceTypes_25_instances.json")))
	if err != nil {
		t.Fatal(err)
	}
	var ph ec2.DescribeSpotPriceHistoryOutput
	if err := json.Unmarshal(mustRead(t, sharedFile(t, "ec2-instance-selector_DescribeSpotPriceHistory_m5_large.json")), &ph); err != nil {
		t.Fatal(err)
	}
	return &fakeEC2{types: infos, prices: ph.SpotPriceHistory, pageSize: 7}
}

func TestDescribeInstanceTypesPages(t *testing.T) {
	f := newFakeEC2(t)
	infos, err := DescribeInstanceTypes(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 25 || f.typeCalls != 4 {
		t.Fatalf("got %d types in %d calls, want 25 in 4 pages of 7", len(infos), f.typeCalls)
	}
	if c := CatalogFromEC2(infos); c["a1.medium"].Arch != ARM64 || c["c5.large"].VCPUs != 2 {
		t.Errorf("catalog = %+v / %+v", c["a1.medium"], c["c5.large"])
	}
	// What --aws caches reads back as --instance-types does.
	b, err := MarshalInstanceTypesJSON(infos)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseInstanceTypesJSON(b)
	if err != nil || len(back) != 25 {
		t.Fatalf("round trip: %d, %v", len(back), err)
	}
	f.err = errors.New("UnauthorizedOperation")
	if _, err := DescribeInstanceTypes(context.Background(), f); err == nil || !strings.Contains(err.Error(), "describing EC2 instance types: ") {
		t.Errorf("error = %v", err)
	}
}

func TestDescribeSpotPricesRealResponse(t *testing.T) {
	f := newFakeEC2(t)
	// The recorded response ends on 2021-02-09; ask as of then.
	now := time.Date(2021, 2, 9, 2, 0, 0, 0, time.UTC)
	prices, err := DescribeSpotPrices(context.Background(), f, []string{"m5.large", "m5.xlarge"}, Linux, now)
	if err != nil {
		t.Fatal(err)
	}
	in := f.priceIn[0]
	if got := in.ProductDescriptions; len(got) != 1 || got[0] != "Linux/UNIX" {
		t.Errorf("product = %v", got)
	}
	if !in.StartTime.Equal(now.Add(-PriceWindow)) || !in.EndTime.Equal(now) || len(in.InstanceTypes) != 2 {
		t.Errorf("input = %+v", in)
	}
	if len(f.priceIn) < 2 {
		t.Errorf("the %d points came in %d pages, want paging", len(f.prices), len(f.priceIn))
	}
	zones := prices["m5.large"]
	if len(zones) != 5 {
		t.Fatalf("m5.large zones = %v, want the 5 zones of the response", zones)
	}
	for z, p := range zones {
		if p < 0.03 || p > 0.05 {
			t.Errorf("%s: average %v is outside the recorded 0.03–0.05 USD/h", z, p)
		}
	}
	if mean, ok := prices.Mean("m5.large"); !ok || mean < 0.035 || mean > 0.045 {
		t.Errorf("mean = %v, %v", mean, ok)
	}
	// The file path (--spot-prices) averages the same data the same way.
	fromFile, err := LoadSpotPricesFile(sharedFile(t, "ec2-instance-selector_DescribeSpotPriceHistory_m5_large.json"), Linux)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromFile["m5.large"]) != 5 {
		t.Errorf("file prices = %v", fromFile)
	}
	if _, err := LoadSpotPricesFile(sharedFile(t, "ec2-instance-selector_DescribeSpotPriceHistory_m5_large.json"), Windows); err == nil || !strings.Contains(err.Error(), "no Windows Spot prices") {
		t.Errorf("Windows from a Linux file: %v", err)
	}
}

func TestLoadSpotPricesFileRejects(t *testing.T) {
	if _, err := LoadSpotPricesFile(filepath.Join("testdata", "feed-small.json"), Linux); err == nil || !strings.Contains(err.Error(), "holds no Linux/UNIX Spot prices") {
		t.Errorf("error = %v", err)
	}
}
