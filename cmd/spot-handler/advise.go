package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"k8s.io/utils/clock"

	"github.com/spot-handler/spot-handler/internal/flagenv"
	"github.com/spot-handler/spot-handler/pkg/advisor"
)

const adviseDescription = `Rank and diversify Spot instance types for a node group, and print the set
as a table or as kops, eksctl or Karpenter config.

Types are ranked by the estimated Spot price of the capacity pods can use,
weighted by the expected interruption rate. Burstable (t*), accelerated,
storage-optimized, high-memory, HPC, Mac, FPGA/video and bare-metal types are
left out unless asked for (--burstable, --gpus, --category, --families,
--metal); the output says what was left out.

Data: the AWS Spot Instance Advisor feed (fetched and cached, or --data FILE);
On-Demand list prices built in (us-east-1's, an estimate elsewhere); instance
specs from --instance-types FILE, --aws, or the feed plus the family-name rule;
Spot prices and placement scores from --aws, or prices from --spot-prices
FILE; the cluster's own interruptions from --prometheus-url.

Example:
  spot-handler advise --region us-east-1 --vcpus 4 --memory 16 --output karpenter`

// adviseConfig is the advise subcommand's flags.
type adviseConfig struct {
	region, os, arch, output  string
	vcpus, memory, gpus       string
	families, exclude         string
	categories                string
	burstable, metal          bool
	pinTypes                  bool
	eksctlNodeGroup           string
	capacityRebalance         bool
	nodes                     int
	placement                 string
	minGeneration, count      int
	countSet                  bool
	maxInterruption           string
	data, feedURL, cacheDir   string
	feedDate                  string
	feedDateAt                time.Time
	offline                   bool
	maxAge                    time.Duration
	instanceTypes, spotPrices string
	useAWS                    bool
	prometheusURL             string
	lookback                  model.Duration
	priorNodeHours            float64
	riskWeight                float64
	zones                     string
	name, cluster, nodeClass  string
	minSize, maxSize          int
	req                       advisor.Requirements
	target                    advisor.Target
}

// adviseDeps are the advise subcommand's ties to the world; tests replace them.
type adviseDeps struct {
	clock clock.PassiveClock
	// newEC2 returns an EC2 client for a region (for --aws).
	newEC2 func(ctx context.Context, region string) (advisor.EC2API, error)
}

var defaultAdviseDeps = adviseDeps{clock: clock.RealClock{}, newEC2: newEC2Client}

// runAdvise implements `spot-handler advise`.
func runAdvise(ctx context.Context, args []string, io stdio) error {
	return advise(ctx, args, io, defaultAdviseDeps)
}

func advise(ctx context.Context, args []string, io stdio, deps adviseDeps) error {
	cfg, err := parseAdviseFlags(args, io)
	if err != nil {
		return err
	}
	res, warnings, err := cfg.recommend(ctx, io, deps)
	if err != nil {
		return err
	}
	if cfg.output != advisor.FormatTable {
		for _, w := range warnings {
			fmt.Fprintf(io.err, "spot-handler advise: warning: %s\n", w)
		}
	}
	return advisor.Render(io.out, res, cfg.output, cfg.target)
}

func parseAdviseFlags(args []string, io stdio) (*adviseConfig, error) {
	c := &adviseConfig{lookback: model.Duration(30 * 24 * time.Hour)}
	fs := flag.NewFlagSet("advise", flag.ContinueOnError)
	fs.Usage = flagenv.Usage(fs, "spot-handler advise --region REGION [flags]", adviseDescription, envPrefix)
	fs.StringVar(&c.region, "region", "", "AWS region, e.g. us-east-1 (default $AWS_REGION)")
	fs.StringVar(&c.os, "os", advisor.Linux, "operating system: Linux or Windows")
	fs.StringVar(&c.vcpus, "vcpus", "", "vCPUs per node: N, MIN-MAX or MIN+ (default any)")
	fs.StringVar(&c.memory, "memory", "", "memory per node in GiB: N, MIN-MAX or MIN+ (default any)")
	fs.StringVar(&c.arch, "arch", string(advisor.AMD64), "architecture: amd64, arm64 or any")
	fs.StringVar(&c.gpus, "gpus", "", "GPUs per node: N or MIN-MAX; unset leaves out every accelerated type")
	fs.StringVar(&c.families, "families", "", "keep only families matching this regexp, e.g. '^(m|c|r)[5-8]'")
	fs.StringVar(&c.categories, "category", "", "keep only these Karpenter instance categories, comma-separated (m,c,r,t,d,i,x,…); naming one\nthat the node-group defaults leave out asks for it")
	fs.BoolVar(&c.burstable, "burstable", false, "allow burstable families (t*), which throttle busy nodes or bill CPU credits")
	fs.BoolVar(&c.metal, "metal", false, "allow bare-metal sizes (*.metal, *.metal-48xl), left out by default")
	fs.StringVar(&c.exclude, "exclude", "", "drop types whose name matches this regexp, e.g. '^t|metal'")
	fs.IntVar(&c.minGeneration, "min-generation", 0, "drop families of an older generation (m5 is 5)")
	fs.StringVar(&c.maxInterruption, "max-interruption", "", "drop types expected to be interrupted more often, in percent per month (e.g. 10, or a feed label like 5-10%);\nby default risk is weighed, not cut: a smaller pool is interrupted more")
	fs.IntVar(&c.count, "count", 10, fmt.Sprintf("how many types to choose, 1-%d (15 for --output karpenter unless set)", advisor.MaxCount))
	fs.StringVar(&c.output, "output", advisor.FormatTable, "output: "+strings.Join(advisor.Formats, ", "))
	fs.StringVar(&c.data, "data", "", "read the Spot Advisor feed from this file instead of fetching it")
	fs.StringVar(&c.feedDate, "feed-date", "", "the day the --data copy was downloaded (2025-06-28 or RFC 3339): the feed carries no date, so without this\n(or a NAME.meta.json beside it, as the cache writes) its age is unknown")
	fs.StringVar(&c.feedURL, "feed-url", advisor.DefaultFeedURL, "where to fetch the Spot Advisor feed")
	fs.StringVar(&c.cacheDir, "cache-dir", "", "where fetched data is cached (default $XDG_CACHE_HOME/spot-handler)")
	fs.BoolVar(&c.offline, "offline", false, "never fetch: use the cache or --data")
	fs.DurationVar(&c.maxAge, "max-age", 24*time.Hour, "refetch the feed when the cached copy is older")
	fs.StringVar(&c.instanceTypes, "instance-types", "", "instance specs from this file ('aws ec2 describe-instance-types --output json')")
	fs.BoolVar(&c.useAWS, "aws", false, "ask EC2 for instance specs and 30-day Spot prices (credentials from the default chain)")
	fs.StringVar(&c.spotPrices, "spot-prices", "", "Spot prices from this file ('aws ec2 describe-spot-price-history --output json')")
	fs.StringVar(&c.prometheusURL, "prometheus-url", "", "learn from the cluster's own interruptions in this Prometheus")
	fs.Var((*promDuration)(&c.lookback), "lookback", "how far back to read the cluster's history (Prometheus durations: 30d, 2w)")
	fs.Float64Var(&c.priorNodeHours, "prior-node-hours", advisor.DefaultPriorNodeHours, "how many node-hours of history the feed's bucket is worth")
	fs.Float64Var(&c.riskWeight, "risk-weight", advisor.DefaultRiskWeight, "w in the risk factor 1 + w × monthly interruption rate that multiplies the cost of usable capacity (0: price alone)")
	fs.IntVar(&c.nodes, "nodes", 10, "nodes the Spot placement scores ask about (--aws)")
	fs.StringVar(&c.placement, "placement", "region", "Spot placement scores (--aws) for the region as a whole or per zone: region or zone")
	fs.StringVar(&c.zones, "zones", "", "comma-separated availability zones of the node group (kops subnets, eksctl zones)")
	fs.StringVar(&c.name, "name", "spot-nodes", "name of the InstanceGroup, node group or NodePool")
	fs.StringVar(&c.cluster, "cluster", "my-cluster", "cluster name for kops (label) and eksctl (metadata.name)")
	fs.BoolVar(&c.pinTypes, "karpenter-pin-types", false, "also pin the ranked set in the Karpenter NodePool (node.kubernetes.io/instance-type);\nby default it constrains by category, generation, size and architecture and lets Karpenter choose")
	fs.StringVar(&c.eksctlNodeGroup, "eksctl-nodegroup", advisor.EksctlManaged, "eksctl node group: managed (EKS managed, spot: true) or self (self-managed, instancesDistribution)")
	fs.BoolVar(&c.capacityRebalance, "capacity-rebalance", true, "turn on capacityRebalance in the kops and self-managed eksctl groups; the output says which\ntermination lifecycle hook drains its terminations")
	fs.StringVar(&c.nodeClass, "node-class", "default", "Karpenter EC2NodeClass the NodePool refers to")
	fs.IntVar(&c.minSize, "min-size", 0, "minimum size of the kops or eksctl group")
	fs.IntVar(&c.maxSize, "max-size", 10, "maximum size of the kops or eksctl group")
	if err := parseFlags(fs, args, io); err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) { c.countSet = c.countSet || f.Name == "count" })
	if err := c.check(io); err != nil {
		return nil, err
	}
	return c, nil
}

// check validates the flags and fills req and target; every error is a
// usage error naming the flag and what it takes.
func (c *adviseConfig) check(io stdio) error {
	if c.region == "" {
		c.region = firstNonEmpty(io.getenv("AWS_REGION"), io.getenv("AWS_DEFAULT_REGION"))
	}
	if c.region == "" {
		return usagef("spot-handler advise: --region is required (e.g. --region us-east-1)")
	}
	switch strings.ToLower(c.os) {
	case "linux":
		c.os = advisor.Linux
	case "windows":
		c.os = advisor.Windows
	default:
		return usagef("spot-handler advise: --os %q: want Linux or Windows", c.os)
	}
	valid := false
	for _, f := range advisor.Formats {
		valid = valid || f == c.output
	}
	if !valid {
		return usagef("spot-handler advise: --output %q: want one of %s", c.output, strings.Join(advisor.Formats, ", "))
	}
	if !c.countSet && c.output == advisor.FormatKarpenter {
		c.count = advisor.MinTypesKarpenter
	}
	if c.count < 1 || c.count > advisor.MaxCount {
		return usagef("spot-handler advise: --count %d: want 1-%d (an Auto Scaling group takes at most %d types)", c.count, advisor.MaxCount, advisor.MaxCount)
	}
	if c.output == advisor.FormatEksctl && c.count > advisor.EksctlMaxTypes {
		return usagef("spot-handler advise: --count %d: eksctl takes at most %d instance types in a mixed node group", c.count, advisor.EksctlMaxTypes)
	}
	req := advisor.Requirements{Region: c.region, OS: c.os, MinGeneration: c.minGeneration, MaxBucket: -1, Count: c.count, Burstable: c.burstable, Metal: c.metal}
	for _, cat := range splitList(strings.ToLower(c.categories)) {
		if !validCategory.MatchString(cat) {
			return usagef("spot-handler advise: --category %q: want Karpenter instance categories such as m,c,r,t,d", cat)
		}
		req.Categories = append(req.Categories, cat)
	}
	if c.nodes < 1 {
		return usagef("spot-handler advise: --nodes %d: want 1 or more", c.nodes)
	}
	if c.placement != "region" && c.placement != "zone" {
		return usagef("spot-handler advise: --placement %q: want region or zone", c.placement)
	}
	switch c.arch {
	case "amd64", "x86_64":
		req.Arch = advisor.AMD64
	case "arm64", "aarch64":
		req.Arch = advisor.ARM64
	case "any", "":
	default:
		return usagef("spot-handler advise: --arch %q: want amd64, arm64 or any", c.arch)
	}
	for _, r := range []struct {
		flag, val string
		dst       *advisor.Range
	}{{"vcpus", c.vcpus, &req.VCPUs}, {"memory", c.memory, &req.MemoryGiB}, {"gpus", c.gpus, &req.GPUs}} {
		v, err := advisor.ParseRange(r.val)
		if err != nil {
			return usagef("spot-handler advise: --%s %v", r.flag, err)
		}
		*r.dst = v
	}
	for _, r := range []struct {
		flag, val string
		dst       **regexp.Regexp
	}{{"families", c.families, &req.Families}, {"exclude", c.exclude, &req.Exclude}} {
		if r.val == "" {
			continue
		}
		re, err := regexp.Compile(r.val)
		if err != nil {
			return usagef("spot-handler advise: --%s %q is not a regular expression: %v", r.flag, r.val, err)
		}
		*r.dst = re
	}
	if c.minGeneration < 0 {
		return usagef("spot-handler advise: --min-generation %d: want 0 or more", c.minGeneration)
	}
	if c.useAWS && c.instanceTypes != "" {
		return usagef("spot-handler advise: --aws and --instance-types both give instance specs: pass one")
	}
	if c.lookback <= 0 {
		return usagef("spot-handler advise: --lookback must be positive")
	}
	if c.feedDate != "" {
		if c.data == "" {
			return usagef("spot-handler advise: --feed-date dates a --data file: pass --data FILE too (a fetched feed is dated by its fetch)")
		}
		at, err := parseFeedDate(c.feedDate)
		if err != nil {
			return usagef("spot-handler advise: --feed-date %q: want a date like 2025-06-28 or 2025-06-28T10:00:00Z", c.feedDate)
		}
		c.feedDateAt = at
	}
	if err := c.checkSources(); err != nil {
		return err
	}
	if c.eksctlNodeGroup != advisor.EksctlManaged && c.eksctlNodeGroup != advisor.EksctlSelfManaged {
		return usagef("spot-handler advise: --eksctl-nodegroup %q: want %s or %s", c.eksctlNodeGroup, advisor.EksctlManaged, advisor.EksctlSelfManaged)
	}
	if c.minSize < 0 || c.maxSize < c.minSize {
		return usagef("spot-handler advise: --min-size %d, --max-size %d: want 0 ≤ min ≤ max", c.minSize, c.maxSize)
	}
	c.req = req
	c.target = advisor.Target{Name: c.name, Cluster: c.cluster, NodeClass: c.nodeClass, MinSize: c.minSize, MaxSize: c.maxSize, Zones: splitList(c.zones), PinTypes: c.pinTypes,
		EksctlNodeGroup: c.eksctlNodeGroup, NoCapacityRebalance: !c.capacityRebalance}
	if err := checkZones(c.target.Zones, c.region); err != nil {
		return usagef("spot-handler advise: %v", err)
	}
	return nil
}

// parseFeedDate reads --feed-date: a day (UTC midnight) or an RFC 3339 time.
func parseFeedDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// validCategory is what a Karpenter instance category looks like: the class
// letters of a family name (m, c, im, hpc, mac).
var validCategory = regexp.MustCompile(`^[a-z]{1,4}$`)

// maxBucket applies --max-interruption once the feed's buckets are known.
func (c *adviseConfig) maxBucket(f *advisor.Feed) (int, error) {
	s := strings.TrimSpace(c.maxInterruption)
	if s == "" {
		return -1, nil
	}
	for i, b := range f.Ranges {
		if strings.EqualFold(b.Label, s) {
			return i, nil
		}
	}
	pct, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		var labels []string
		for _, b := range f.Ranges {
			labels = append(labels, b.Label)
		}
		return 0, usagef("spot-handler advise: --max-interruption %q: want a percentage or one of %s", s, strings.Join(labels, ", "))
	}
	i, err := f.MaxBucketFor(pct)
	if err != nil {
		return 0, usagef("spot-handler advise: --max-interruption: %v", err)
	}
	return i, nil
}

// cacheDirFor returns --cache-dir or $XDG_CACHE_HOME/spot-handler
// ($HOME/.cache/spot-handler); "" when neither variable is set.
func (c *adviseConfig) cacheDirFor(io stdio) string {
	switch {
	case c.cacheDir != "":
		return c.cacheDir
	case io.getenv("XDG_CACHE_HOME") != "":
		return filepath.Join(io.getenv("XDG_CACHE_HOME"), "spot-handler")
	case io.getenv("HOME") != "":
		return filepath.Join(io.getenv("HOME"), ".cache", "spot-handler")
	}
	return ""
}

// promDuration is a flag.Value for Prometheus-style durations ("30d").
type promDuration model.Duration

func (d *promDuration) String() string { return model.Duration(*d).String() }

func (d *promDuration) Set(s string) error {
	v, err := model.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration like 30d, 2w or 12h")
	}
	*d = promDuration(v)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
