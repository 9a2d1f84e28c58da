package advisor

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// MaxCount is the largest set the advisor chooses: an EC2 Auto Scaling group
// takes at most 40 instance-type overrides.
const MaxCount = 40

// Range is an inclusive range of numbers; Max 0 with Set false means "any".
type Range struct {
	// Min and Max bound the range, inclusive.
	Min, Max float64
	// Set is false for the zero Range, which matches anything.
	Set bool
}

// Contains reports whether v is in r (always true when r is not Set).
func (r Range) Contains(v float64) bool {
	return !r.Set || (v >= r.Min && v <= r.Max)
}

// String prints "4", "4-8" or "any".
func (r Range) String() string {
	switch {
	case !r.Set:
		return "any"
	case r.Min == r.Max:
		return fmtNum(r.Min)
	case math.IsInf(r.Max, 1):
		return fmtNum(r.Min) + "+"
	}
	return fmtNum(r.Min) + "-" + fmtNum(r.Max)
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// ParseRange reads "4", "4-8", "4+" or "" (any). Numbers must be finite and
// not negative, and Min ≤ Max.
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Range{}, nil
	}
	num := func(t string) (float64, error) {
		v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("%q is not a number ≥ 0 (want N, MIN-MAX or MIN+)", s)
		}
		return v, nil
	}
	if lo, ok := strings.CutSuffix(s, "+"); ok {
		v, err := num(lo)
		return Range{Min: v, Max: math.Inf(1), Set: true}, err
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, err := num(lo)
		if err != nil {
			return Range{}, err
		}
		b, err := num(hi)
		if err != nil {
			return Range{}, err
		}
		if a > b {
			return Range{}, fmt.Errorf("%q: the minimum is larger than the maximum", s)
		}
		return Range{Min: a, Max: b, Set: true}, nil
	}
	v, err := num(s)
	return Range{Min: v, Max: v, Set: true}, err
}

// Requirements say which instance types may join the set.
type Requirements struct {
	// Region is the AWS region, e.g. "us-east-1".
	Region string `json:"region"`
	// OS is Linux or Windows.
	OS string `json:"os"`
	// VCPUs and MemoryGiB bound the size; unset means any.
	VCPUs     Range `json:"-"`
	MemoryGiB Range `json:"-"`
	// Arch is required unless ArchUnknown ("any").
	Arch Arch `json:"arch,omitempty"`
	// GPUs bounds the GPU count. Unset means no accelerators: types with
	// GPUs, Inferentia, Trainium or Gaudi are left out (DefaultExclusions)
	// unless Families or Categories name them.
	GPUs Range `json:"-"`
	// Burstable keeps the burstable families (t*), which DefaultExclusions
	// leave out.
	Burstable bool `json:"burstable,omitempty"`
	// Metal keeps the bare-metal sizes, which DefaultExclusions leave out.
	Metal bool `json:"metal,omitempty"`
	// Categories, when set, keeps only these Karpenter instance categories
	// ("m", "c", "r", "t", "d", …); a category listed here is asked for, so
	// DefaultExclusions do not leave it out.
	Categories []string `json:"categories,omitempty"`
	// Families keeps only families matching it; Exclude drops types (their
	// full name, e.g. "t3.xlarge") matching it. nil means no filter.
	Families, Exclude *regexp.Regexp `json:"-"`
	// MinGeneration drops families with a lower generation number; 0 keeps all.
	MinGeneration int `json:"minGeneration,omitempty"`
	// MaxBucket, when ≥ 0, drops types whose (posterior) interruption bucket
	// is worse. -1 (the default) cuts nothing: risk is weighed, not excluded.
	MaxBucket int `json:"maxBucket"`
	// Count is how many types to choose, 1..MaxCount.
	Count int `json:"count"`
}

// Check reports a requirement that cannot work, with what would.
func (r Requirements) Check() error {
	if r.Region == "" {
		return errors.New("a region is required, e.g. us-east-1")
	}
	if r.OS != Linux && r.OS != Windows {
		return fmt.Errorf("OS %q is not Linux or Windows", r.OS)
	}
	if r.Count < 1 || r.Count > MaxCount {
		return fmt.Errorf("count %d is outside 1–%d", r.Count, MaxCount)
	}
	if r.Arch != ArchUnknown && r.Arch != AMD64 && r.Arch != ARM64 {
		return fmt.Errorf("architecture %q is not amd64 or arm64", r.Arch)
	}
	return nil
}

// describe prints the requirements for a table header: "4 vCPU, 16 GiB, amd64".
func (r Requirements) describe() string {
	var p []string
	if r.VCPUs.Set {
		p = append(p, r.VCPUs.String()+" vCPU")
	}
	if r.MemoryGiB.Set {
		p = append(p, r.MemoryGiB.String()+" GiB")
	}
	if r.Arch != ArchUnknown {
		p = append(p, string(r.Arch))
	}
	if r.GPUs.Set {
		p = append(p, r.GPUs.String()+" GPU")
	}
	if r.Families != nil {
		p = append(p, "families /"+r.Families.String()+"/")
	}
	if len(r.Categories) > 0 {
		p = append(p, "categories "+strings.Join(r.Categories, ","))
	}
	if r.Burstable {
		p = append(p, "burstable allowed")
	}
	if r.Exclude != nil {
		p = append(p, "excluding /"+r.Exclude.String()+"/")
	}
	if r.MinGeneration > 0 {
		p = append(p, "generation ≥ "+strconv.Itoa(r.MinGeneration))
	}
	if len(p) == 0 {
		return "any size"
	}
	return strings.Join(p, ", ")
}
