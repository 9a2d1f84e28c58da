package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/spot-handler/spot-handler/pkg/advisor"
)

// specsCacheAge is how long EC2's instance specs are reused from the cache.
const specsCacheAge = 7 * 24 * time.Hour

// maxPricedTypes bounds how many candidates --aws asks prices for.
const maxPricedTypes = 100

// promTimeout bounds the Prometheus queries.
const promTimeout = 60 * time.Second

// recommend loads the inputs the flags name and returns the advice and the
// warnings to print (they are also in the result).
func (c *adviseConfig) recommend(ctx context.Context, io stdio, deps adviseDeps) (*advisor.Result, []string, error) {
	var warnings []string
	warn := func(s string) { warnings = append(warnings, s) }
	now := deps.clock.Now()
	cacheDir := c.cacheDirFor(io)

	feed, err := c.loadFeed(ctx, cacheDir, deps, warn)
	if err != nil {
		return nil, nil, err
	}
	if c.req.MaxBucket, err = c.maxBucket(feed); err != nil {
		return nil, nil, err
	}
	if _, err := feed.Region(c.req.Region, c.req.OS); err != nil {
		return nil, nil, usageError{fmt.Errorf("spot-handler advise: --region: %w", err)}
	}
	data := advisor.DataInfo{}
	var ec2api advisor.EC2API
	if c.useAWS {
		if ec2api, err = deps.newEC2(ctx, c.req.Region); err != nil {
			return nil, nil, fmt.Errorf("creating the EC2 client: %w", err)
		}
	}
	specs, err := c.loadSpecs(ctx, feed, ec2api, cacheDir, now, &data, warn)
	if err != nil {
		return nil, nil, err
	}
	m, err := advisor.Match(feed, specs, c.req)
	if err != nil {
		return nil, nil, err
	}
	ev := advisor.Evidence{Zones: c.target.Zones, ListPrices: advisor.BuiltinListPrices(c.req.Region)}
	if c.req.OS == advisor.Windows {
		// The table is Linux's; Windows adds a licence fee per vCPU, which
		// the estimate leaves out.
		ev.ListPrices.Source += "; Linux prices, without the Windows licence fee"
		ev.ListPrices.Estimated = true
	}
	if ev.Prices, err = c.loadPrices(ctx, ec2api, m.Candidates, now, &data, warn); err != nil {
		return nil, nil, err
	}
	ev.Observed = c.loadObserved(ctx, now, &data, warn)
	opts := advisor.Options{RiskWeight: c.riskWeight, PriorNodeHours: c.priorNodeHours, Now: now}
	if c.riskWeight == 0 {
		opts.RiskWeight = -1
	}
	if c.output == advisor.FormatKarpenter {
		opts.MinTypes = advisor.MinTypesKarpenter
	}
	res, err := advisor.Recommend(feed, m, c.req, ev, data, opts)
	if err != nil {
		return nil, nil, err
	}
	if ec2api != nil {
		res.Placement = c.loadPlacement(ctx, ec2api, res, warn)
	}
	res.Warnings = append(warnings, res.Warnings...)
	return res, res.Warnings, nil
}

func (c *adviseConfig) loadFeed(ctx context.Context, cacheDir string, deps adviseDeps, warn func(string)) (*advisor.Feed, error) {
	if c.data != "" {
		f, err := advisor.LoadFeedFile(c.data)
		if err != nil || c.feedDateAt.IsZero() {
			return f, err
		}
		if c.feedDateAt.After(deps.clock.Now()) {
			return nil, usagef("spot-handler advise: --feed-date %q is later than now: give the day the copy was downloaded", c.feedDate)
		}
		f.SetDate(c.feedDateAt, "--feed-date")
		return f, nil
	}
	src := advisor.FeedSource{URL: c.feedURL, CacheDir: cacheDir, MaxAge: c.maxAge, Offline: c.offline, Clock: deps.clock}
	return src.Load(ctx, warn)
}

// loadSpecs picks the specs: --instance-types, --aws (cached per region), or
// the feed with the family-name rule.
func (c *adviseConfig) loadSpecs(ctx context.Context, feed *advisor.Feed, api advisor.EC2API, cacheDir string, now time.Time, data *advisor.DataInfo, warn func(string)) (advisor.Catalog, error) {
	switch {
	case c.instanceTypes != "":
		data.Specs = c.instanceTypes
		return advisor.LoadInstanceTypesFile(c.instanceTypes)
	case api != nil:
		data.Specs = advisor.SpecsFromEC2API + " (" + c.req.Region + ")"
		return ec2Specs(ctx, api, c.req.Region, cacheDir, now, warn)
	}
	data.Specs = advisor.SpecsFromFeedRule
	return advisor.SpecsFromFeed(feed), nil
}

// ec2Specs asks EC2 for every instance type of the region, reusing a cached
// answer younger than specsCacheAge.
func ec2Specs(ctx context.Context, api advisor.EC2API, region, cacheDir string, now time.Time, warn func(string)) (advisor.Catalog, error) {
	path := ""
	if cacheDir != "" {
		path = filepath.Join(cacheDir, "instance-types-"+region+".json")
		if st, err := os.Stat(path); err == nil && now.Sub(st.ModTime()) < specsCacheAge {
			if cat, err := advisor.LoadInstanceTypesFile(path); err == nil {
				return cat, nil
			}
		}
	}
	infos, err := advisor.DescribeInstanceTypes(ctx, api)
	if err != nil {
		return nil, err
	}
	if path != "" {
		if err := writeCacheFile(path, infos); err != nil {
			warn(fmt.Sprintf("caching the instance specs in %s: %v", path, err))
		}
	}
	return advisor.CatalogFromEC2(infos), nil
}

func writeCacheFile(path string, infos []ec2types.InstanceTypeInfo) error {
	b, err := advisor.MarshalInstanceTypesJSON(infos)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// loadPrices reads --spot-prices, or asks EC2 with --aws for the best
// candidates; nil when neither is given.
func (c *adviseConfig) loadPrices(ctx context.Context, api advisor.EC2API, cands []advisor.Candidate, now time.Time, data *advisor.DataInfo, warn func(string)) (advisor.Prices, error) {
	switch {
	case c.spotPrices != "":
		data.Prices = c.spotPrices
		return advisor.LoadSpotPricesFile(c.spotPrices, c.req.OS)
	case api == nil:
		return nil, nil
	}
	// Ask for the most promising first: best bucket, then most savings.
	sorted := append([]advisor.Candidate(nil), cands...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Bucket != sorted[j].Bucket {
			return sorted[i].Bucket < sorted[j].Bucket
		}
		return sorted[i].Savings > sorted[j].Savings
	})
	types := make([]string, 0, len(sorted))
	for _, cd := range sorted {
		types = append(types, cd.Type)
	}
	if len(types) > maxPricedTypes {
		warn(fmt.Sprintf("%d candidates: Spot prices are asked for the %d with the best bucket and savings only; narrow the requirements", len(types), maxPricedTypes))
		types = types[:maxPricedTypes]
	}
	prices, err := advisor.DescribeSpotPrices(ctx, api, types, c.req.OS, now)
	if err != nil {
		warn(fmt.Sprintf("%v: ranking without prices", err))
		return nil, nil
	}
	data.Prices = "EC2 DescribeSpotPriceHistory, 30-day time-weighted average"
	return prices, nil
}

// loadPlacement asks EC2 for the chosen set's Spot placement scores; a
// failure is a warning, the advice stands without them.
func (c *adviseConfig) loadPlacement(ctx context.Context, api advisor.EC2API, res *advisor.Result, warn func(string)) *advisor.Placement {
	pl, err := advisor.SpotPlacementScores(ctx, api, res.Types(), c.req.Region, c.nodes, c.placement == "zone")
	if err != nil {
		warn(fmt.Sprintf("%v: the set is shown without placement scores (the IAM policy needs ec2:GetSpotPlacementScores)", err))
		return nil
	}
	return pl
}

// loadObserved reads the cluster's history; an unreachable Prometheus is a
// warning, and the ranking falls back to the feed.
func (c *adviseConfig) loadObserved(ctx context.Context, now time.Time, data *advisor.DataInfo, warn func(string)) advisor.Observed {
	if c.prometheusURL == "" {
		return nil
	}
	client, err := api.NewClient(api.Config{Address: c.prometheusURL})
	if err != nil {
		data.Observed = "unavailable (bad --prometheus-url)"
		warn(fmt.Sprintf("--prometheus-url %q: %v; ranking on the Spot Advisor feed alone", c.prometheusURL, err))
		return nil
	}
	qctx, cancel := context.WithTimeout(ctx, promTimeout)
	defer cancel()
	obs, notes, err := advisor.QueryObserved(qctx, v1.NewAPI(client), time.Duration(c.lookback), now)
	for _, n := range notes {
		warn(n)
	}
	if err != nil {
		data.Observed = "unavailable (Prometheus did not answer)"
		warn(fmt.Sprintf("reading the cluster's interruptions from %s failed (%v); ranking on the Spot Advisor feed alone", c.prometheusURL, err))
		return nil
	}
	data.Observed = fmt.Sprintf("%s over %s (%d types seen)", c.prometheusURL, c.lookback, len(obs))
	return obs
}

// newEC2Client builds an EC2 client for region from the default credential
// chain (environment, shared config, SSO, instance role).
func newEC2Client(ctx context.Context, region string) (advisor.EC2API, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return ec2.NewFromConfig(cfg), nil
}
