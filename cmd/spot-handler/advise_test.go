package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/spot-handler/spot-handler/pkg/advisor"
)

// smallFeed is the advisor package's fixture: regions us-test-1 and eu-test-1.
var smallFeed = filepath.Join("..", "..", "pkg", "advisor", "testdata", "feed-small.json")

var adviseNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// runAdviseTest runs the advise subcommand with a fixed clock and env, and
// returns the exit code Main would give.
func runAdviseTest(t *testing.T, deps adviseDeps, env map[string]string, args ...string) (code int, out, errOut string) {
	t.Helper()
	if deps.clock == nil {
		deps.clock = clocktesting.NewFakePassiveClock(adviseNow)
	}
	if deps.newEC2 == nil {
		deps.newEC2 = func(context.Context, string) (advisor.EC2API, error) {
			t.Fatal("the test reached for AWS")
			return nil, nil
		}
	}
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["HOME"]; !ok {
		env["HOME"] = t.TempDir() // never the real cache
	}
	old := defaultAdviseDeps
	defaultAdviseDeps = deps
	defer func() { defaultAdviseDeps = old }()
	var o, e bytes.Buffer
	code = Main(context.Background(), append([]string{"advise"}, args...), stdio{out: &o, err: &e, getenv: func(k string) string { return env[k] }})
	return code, o.String(), e.String()
}

// datedFeed copies the fixture feed into a temp folder with a .meta.json
// dating it a day before adviseNow (as the cache writes it), so the age the
// output shows is fixed; the file itself is modified now, which must not count.
func datedFeed(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "feed.json")
	if err := os.WriteFile(p, mustReadFile(t, smallFeed), 0o644); err != nil {
		t.Fatal(err)
	}
	meta := `{"fetched_at": "` + adviseNow.Add(-24*time.Hour).Format(time.RFC3339) + `"}`
	if err := os.WriteFile(advisor.MetaFileFor(p), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAdviseTable(t *testing.T) {
	feed := datedFeed(t)
	code, out, errOut := runAdviseTest(t, adviseDeps{}, nil, "--data", feed, "--region", "us-test-1", "--vcpus", "4", "--memory", "16", "--count", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Spot instance types for us-test-1 Linux, 4 vCPU, 16 GiB, amd64", "Spot Advisor data from " + feed + ", fetched 2026-02-28 12:00 UTC (24h old, dated by " + advisor.MetaFileFor(feed) + ")",
		"1  m5.xlarge", "2  m5a.xlarge", "Set: 3 types, 3 families", "Specs: feed cores/ram_gb + family-name rule."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestAdviseUsageErrors(t *testing.T) {
	base := []string{"--data", smallFeed, "--region", "us-test-1"}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no region", []string{"--data", smallFeed}, 2, "--region is required (e.g. --region us-east-1)"},
		{"unknown region", []string{"--data", smallFeed, "--region", "us-east-9"}, 2, `unknown region "us-east-9": the Spot Advisor feed has eu-test-1, us-test-1`},
		{"bad os", append(base, "--os", "beos"), 2, `--os "beos": want Linux or Windows`},
		{"bad arch", append(base, "--arch", "sparc"), 2, `--arch "sparc": want amd64, arm64 or any`},
		{"bad vcpus", append(base, "--vcpus", "lots"), 2, `--vcpus "lots" is not a number`},
		{"bad regexp", append(base, "--families", "(m"), 2, `--families "(m" is not a regular expression`},
		{"count too big", append(base, "--count", "41"), 2, "--count 41: want 1-40"},
		{"eksctl count", append(base, "--output", "eksctl", "--count", "21"), 2, "--count 21: eksctl takes at most 20 instance types"},
		{"bad output", append(base, "--output", "xml"), 2, `--output "xml": want one of table, json, kops, eksctl, karpenter`},
		{"bad max-interruption", append(base, "--max-interruption", "often"), 2, "want a percentage or one of <5%, 5-10%, 10-15%, 15-20%, >20%"},
		{"max-interruption below every bucket", append(base, "--max-interruption", "2"), 2, "no interruption bucket is at most 2%"},
		{"specs twice", append(base, "--aws", "--instance-types", "x.json"), 2, "--aws and --instance-types both give instance specs"},
		{"bad category", append(base, "--category", "m,c7i"), 2, `--category "c7i": want Karpenter instance categories such as m,c,r,t,d`},
		{"bad nodes", append(base, "--nodes", "0"), 2, "--nodes 0: want 1 or more"},
		{"bad placement", append(base, "--placement", "az"), 2, `--placement "az": want region or zone`},
		{"defaults remove all", append(base, "--vcpus", "4", "--memory", "16", "--exclude", "^m"), 1, "the node-group defaults (no bare-metal, burstable, accelerated"},
		{"bad lookback", append(base, "--lookback", "a month"), 2, `--lookback="a month": want a duration like 30d, 2w or 12h`},
		{"no match", append(base, "--vcpus", "4", "--memory", "64"), 1, "no instance type in us-test-1 (Linux) matches: --memory 64 removed the last 9 candidates; nearest: r5.xlarge (4 vCPU, 32 GiB"},
		{"max-interruption removes all", append(base, "--families", "^m7i", "--max-interruption", "<5%"), 1, "--max-interruption <5% removed the last 1 candidate"},
		{"missing data file", []string{"--data", "nope.json", "--region", "us-test-1"}, 1, "reading the Spot Advisor data: open nope.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runAdviseTest(t, adviseDeps{}, nil, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tt.code, tt.want)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("stderr is more than one line: %q", errOut)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}

func TestAdviseEnvironment(t *testing.T) {
	env := map[string]string{"SPOT_HANDLER_DATA": smallFeed, "AWS_REGION": "eu-test-1", "SPOT_HANDLER_OUTPUT": "json"}
	code, out, errOut := runAdviseTest(t, adviseDeps{}, env)
	if code != 0 || !strings.Contains(out, `"region": "eu-test-1"`) {
		t.Fatalf("exit %d, stderr %q, out %s", code, errOut, out)
	}
}

func TestAdviseFetchesFeedAndCaches(t *testing.T) {
	body, err := os.ReadFile(smallFeed)
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++; w.Write(body) }))
	defer srv.Close()
	cache := t.TempDir()
	env := map[string]string{"XDG_CACHE_HOME": cache}
	args := []string{"--feed-url", srv.URL + "/spot-advisor-data.json", "--region", "us-test-1", "--vcpus", "4"}
	code, out, errOut := runAdviseTest(t, adviseDeps{}, env, args...)
	if code != 0 || hits != 1 || !strings.Contains(out, "fetched 2026-03-01 12:00 UTC (under a minute old, dated by the fetch)") {
		t.Fatalf("exit %d, %d hits, stderr %q:\n%s", code, hits, errOut, out)
	}
	if _, err := os.Stat(filepath.Join(cache, "spot-handler", "spot-advisor-data.json")); err != nil {
		t.Errorf("feed not cached under $XDG_CACHE_HOME/spot-handler: %v", err)
	}
	// Offline, two days later: the cache answers and the age shows.
	deps := adviseDeps{clock: clocktesting.NewFakePassiveClock(adviseNow.Add(50 * time.Hour))}
	code, out, _ = runAdviseTest(t, deps, env, append(args, "--offline")...)
	if code != 0 || hits != 1 || !strings.Contains(out, "(cached), fetched 2026-03-01 12:00 UTC (2 days old") {
		t.Fatalf("offline: exit %d, %d hits:\n%s", code, hits, out)
	}
	// Offline with an empty cache: the error names --data.
	code, _, errOut = runAdviseTest(t, adviseDeps{}, map[string]string{"XDG_CACHE_HOME": t.TempDir()}, append(args, "--offline")...)
	if code != 1 || !strings.Contains(errOut, "pass --data FILE") {
		t.Errorf("offline without cache: exit %d, %q", code, errOut)
	}
}

// fakeEC2 serves the advisor fixture's DescribeInstanceTypes and one price
// per type and zone; it is all --aws ever talks to in tests.
type fakeEC2 struct {
	infos       []ec2types.InstanceTypeInfo
	prices      map[string]string
	calls       int
	placementIn []*ec2.GetSpotPlacementScoresInput
}

func (f *fakeEC2) DescribeInstanceTypes(context.Context, *ec2.DescribeInstanceTypesInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	f.calls++
	return &ec2.DescribeInstanceTypesOutput{InstanceTypes: f.infos}, nil
}

func (f *fakeEC2) DescribeSpotPriceHistory(_ context.Context, in *ec2.DescribeSpotPriceHistoryInput, _ ...func(*ec2.Options)) (*ec2.DescribeSpotPriceHistoryOutput, error) {
	var out []ec2types.SpotPrice
	for _, typ := range in.InstanceTypes {
		if p, ok := f.prices[string(typ)]; ok {
			for _, z := range []string{"us-test-1a", "us-test-1b"} {
				out = append(out, ec2types.SpotPrice{InstanceType: typ, AvailabilityZone: aws.String(z), SpotPrice: aws.String(p),
					ProductDescription: "Linux/UNIX", Timestamp: aws.Time(in.StartTime.Add(-time.Hour))})
			}
		}
	}
	return &ec2.DescribeSpotPriceHistoryOutput{SpotPriceHistory: out}, nil
}

// GetSpotPlacementScores answers as EC2 does for one region: a score per
// region, or per zone ID with SingleAvailabilityZone.
func (f *fakeEC2) GetSpotPlacementScores(_ context.Context, in *ec2.GetSpotPlacementScoresInput, _ ...func(*ec2.Options)) (*ec2.GetSpotPlacementScoresOutput, error) {
	f.placementIn = append(f.placementIn, in)
	if len(in.InstanceTypes) == 0 || aws.ToInt32(in.TargetCapacity) < 1 {
		return nil, errors.New("InvalidParameterValue")
	}
	out := []ec2types.SpotPlacementScore{{Region: aws.String(in.RegionNames[0]), Score: aws.Int32(8)}}
	if aws.ToBool(in.SingleAvailabilityZone) {
		out = []ec2types.SpotPlacementScore{
			{Region: aws.String(in.RegionNames[0]), AvailabilityZoneId: aws.String("use1-az4"), Score: aws.Int32(3)},
			{Region: aws.String(in.RegionNames[0]), AvailabilityZoneId: aws.String("use1-az1"), Score: aws.Int32(9)},
		}
	}
	return &ec2.GetSpotPlacementScoresOutput{SpotPlacementScores: out}, nil
}

func TestAdviseWithFakeAWS(t *testing.T) {
	infos, err := advisor.ParseInstanceTypesJSON(mustReadFile(t, filepath.Join("..", "..", "pkg", "advisor", "testdata", "instance-types-small.json")))
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeEC2{infos: infos, prices: map[string]string{"m5.xlarge": "0.0800", "m5a.xlarge": "0.0400"}}
	regions := []string{}
	deps := adviseDeps{newEC2: func(_ context.Context, region string) (advisor.EC2API, error) {
		regions = append(regions, region)
		return fake, nil
	}}
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir()}
	for i := range 2 {
		code, out, errOut := runAdviseTest(t, deps, env, "--data", smallFeed, "--region", "us-test-1", "--aws", "--vcpus", "4", "--nodes", "20", "--placement", "zone")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		// m5a.xlarge at EC2's 0.04 USD/h leads; the others keep their
		// estimates, marked ~.
		for _, want := range []string{"EST $/H  $/VCPU-H", "1  m5a.xlarge  4     16   amd64  amd", "54%      0.0400   0.0102    100.0", "~0.0768",
			"Specs: EC2 DescribeInstanceTypes (us-test-1). List prices: estimated for us-test-1 from the built-in us-east-1 On-Demand list prices of 2026-07-20",
			"Spot prices: EC2 DescribeSpotPriceHistory", "Set: 3 types", "7 pools (3 zones assumed where unknown",
			"Spot placement score (EC2 GetSpotPlacementScores) for the set as a whole, not per type, 20 nodes per zone: use1-az1 9/10, use1-az4 3/10"} {
			if !strings.Contains(out, want) {
				t.Errorf("run %d: output lacks %q:\n%s", i, want, out)
			}
		}
	}
	in := fake.placementIn[0]
	if len(fake.placementIn) != 2 || aws.ToInt32(in.TargetCapacity) != 20 || !aws.ToBool(in.SingleAvailabilityZone) || len(in.InstanceTypes) != 3 || in.RegionNames[0] != "us-test-1" {
		t.Errorf("placement questions %d, first %+v", len(fake.placementIn), in)
	}
	if fake.calls != 1 || len(regions) != 2 || regions[0] != "us-test-1" {
		t.Errorf("DescribeInstanceTypes called %d times (want 1: the second run reads the cache), clients for %v", fake.calls, regions)
	}
}

func TestAdvisePrometheusUnreachable(t *testing.T) {
	args := []string{"--data", smallFeed, "--region", "us-test-1", "--vcpus", "4", "--prometheus-url", "http://127.0.0.1:1"}
	code, out, errOut := runAdviseTest(t, adviseDeps{}, nil, args...)
	if code != 0 || errOut != "" || !strings.Contains(out, "WARNING: reading the cluster's interruptions from http://127.0.0.1:1 failed") ||
		!strings.Contains(out, "ranking on the Spot Advisor feed alone") || !strings.Contains(out, "Observed: unavailable (Prometheus did not answer)") {
		t.Errorf("table: exit %d, stderr %q:\n%s", code, errOut, out)
	}
	code, out, errOut = runAdviseTest(t, adviseDeps{}, nil, append(args, "--output", "kops")...)
	if code != 0 || !strings.Contains(errOut, "spot-handler advise: warning: reading the cluster's interruptions") || !strings.Contains(out, "# WARNING: reading the cluster's") {
		t.Errorf("kops: exit %d, stderr %q:\n%s", code, errOut, out)
	}
}

func TestAdviseKarpenterDefaultsToFifteen(t *testing.T) {
	code, out, errOut := runAdviseTest(t, adviseDeps{}, nil, "--data", smallFeed, "--region", "us-test-1", "--output", "karpenter")
	if code != 0 || !strings.Contains(out, "kind: NodePool") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "only 10 types meet the requirements (--count 15)") || !strings.Contains(errOut, "Karpenter's spot-to-spot consolidation needs at least 15") {
		t.Errorf("stderr = %q", errOut)
	}
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
