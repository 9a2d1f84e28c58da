package advisor

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

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
	// history (equal to Prior without one).
	Posterior float64 `json:"posterior"`
	// Tier and TierLabel are the bucket Posterior falls in; the set is
	// filled tier by tier, best first.
	Tier      int    `json:"tier"`
	TierLabel string `json:"tierLabel"`
	// Price is the mean over zones of the 30-day time-weighted Spot price in
	// USD per hour, and PricePerVCPU that divided by VCPUs; both 0 when
	// HasPrice is false.
	Price        float64 `json:"price,omitempty"`
	PricePerVCPU float64 `json:"pricePerVCPU,omitempty"`
	HasPrice     bool    `json:"hasPrice"`
	// Zones are the availability zones the type is known in (from prices or
	// --zones); empty when unknown.
	Zones []string `json:"zones,omitempty"`
	// Score orders candidates within a tier; see Score.
	Score float64 `json:"score"`
}

// filter is one requirement, applied in order by Match.
type filter struct {
	flag string // the flag that sets it, as the error names it
	keep func(Spec) bool
}

func (r Requirements) filters() []filter {
	var fs []filter
	if r.Arch != ArchUnknown {
		fs = append(fs, filter{"--arch " + string(r.Arch), func(s Spec) bool { return s.Arch == r.Arch }})
	}
	if r.GPUs.Set {
		fs = append(fs, filter{"--gpus " + r.GPUs.String(), func(s Spec) bool { return s.GPUs != GPUsUnknown && r.GPUs.Contains(float64(s.GPUs)) }})
	} else {
		fs = append(fs, filter{"no accelerators (set --gpus to allow them)", func(s Spec) bool { return !s.Accelerated }})
	}
	if r.VCPUs.Set {
		fs = append(fs, filter{"--vcpus " + r.VCPUs.String(), func(s Spec) bool { return r.VCPUs.Contains(float64(s.VCPUs)) }})
	}
	if r.MemoryGiB.Set {
		fs = append(fs, filter{"--memory " + r.MemoryGiB.String(), func(s Spec) bool { return r.MemoryGiB.Contains(s.MemoryGiB) }})
	}
	if r.Families != nil {
		fs = append(fs, filter{"--families " + r.Families.String(), func(s Spec) bool { return r.Families.MatchString(s.Family) }})
	}
	if r.Exclude != nil {
		fs = append(fs, filter{"--exclude " + r.Exclude.String(), func(s Spec) bool { return !r.Exclude.MatchString(s.Type) }})
	}
	if r.MinGeneration > 0 {
		fs = append(fs, filter{fmt.Sprintf("--min-generation %d", r.MinGeneration), func(s Spec) bool { return s.Generation >= r.MinGeneration }})
	}
	return fs
}

// NoMatchError says which requirement removed the last candidates and which
// types came nearest.
type NoMatchError struct {
	Region, OS string
	// Requirement is the flag that removed the last candidates.
	Requirement string
	// Removed is how many candidates it removed.
	Removed int
	// Nearest are the closest types it removed, best first.
	Nearest []Candidate
	// Hint, when set, says what else to try.
	Hint string
}

// Error says which requirement removed the last candidates, and names the
// nearest types it removed and the hint, when there are any.
func (e *NoMatchError) Error() string {
	var near []string
	for _, c := range e.Nearest {
		near = append(near, fmt.Sprintf("%s (%d vCPU, %s GiB, %s, %s, interruptions %s)", c.Type, c.VCPUs, fmtNum(c.MemoryGiB), archText(c.Arch), c.Family, c.BucketLabel))
	}
	msg := fmt.Sprintf("no instance type in %s (%s) matches: %s removed the last %s", e.Region, e.OS, e.Requirement, plural(e.Removed, "candidate"))
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	if len(near) > 0 {
		msg += "; nearest: " + strings.Join(near, ", ")
	}
	return msg
}

// maxNearest is how many near misses a NoMatchError lists.
const maxNearest = 5

// Match returns the types of req.Region and req.OS that meet req, in no
// particular order, with the feed's bucket and savings filled in. Types the
// catalog does not know are skipped (EC2 does not offer them, or the specs
// are from another region). When nothing is left the error is a
// *NoMatchError. notes says what was left out that a reader may not expect.
func Match(f *Feed, specs Catalog, req Requirements) (cands []Candidate, notes []string, err error) {
	if err := req.Check(); err != nil {
		return nil, nil, err
	}
	advice, err := f.Region(req.Region, req.OS)
	if err != nil {
		return nil, nil, err
	}
	for typ, a := range advice {
		s, ok := specs[typ]
		if !ok {
			continue
		}
		cands = append(cands, Candidate{Spec: s, Savings: a.Savings, Bucket: a.Range, BucketLabel: f.BucketLabel(a.Range),
			Prior: f.BucketMidpoint(a.Range)})
	}
	if len(cands) == 0 {
		return nil, nil, fmt.Errorf("none of the %d types the feed lists for %s (%s) is in the instance specs: are the specs from another region?", len(advice), req.Region, req.OS)
	}
	sortByName(cands)
	var unknownArch []string
	for _, fl := range req.filters() {
		kept := cands[:0:0]
		for _, c := range cands {
			if fl.keep(c.Spec) {
				kept = append(kept, c)
			} else if req.Arch != ArchUnknown && c.Arch == ArchUnknown && strings.HasPrefix(fl.flag, "--arch") {
				unknownArch = append(unknownArch, c.Type)
			}
		}
		if len(kept) == 0 {
			e := &NoMatchError{Region: req.Region, OS: req.OS, Requirement: fl.flag, Removed: len(cands), Nearest: nearest(cands, req)}
			for _, c := range cands {
				if req.GPUs.Set && c.GPUs == GPUsUnknown {
					e.Hint = "the feed does not give GPU counts: pass --instance-types or --aws"
				}
			}
			return nil, nil, e
		}
		cands = kept
	}
	if len(unknownArch) > 0 {
		notes = append(notes, fmt.Sprintf("%s whose architecture the family-name rule cannot tell left out (%s); pass --instance-types or --aws for EC2's own specs",
			plural(len(unknownArch), "type"), shortList(unknownArch, 5)))
	}
	return cands, notes, nil
}

// nearest returns the candidates closest in size to req (log-distance of
// vCPUs and memory from the asked ranges), then best bucket, then savings.
func nearest(cands []Candidate, req Requirements) []Candidate {
	type scored struct {
		c Candidate
		d float64
	}
	all := make([]scored, len(cands))
	for i, c := range cands {
		all[i] = scored{c, logDistance(float64(c.VCPUs), req.VCPUs) + logDistance(c.MemoryGiB, req.MemoryGiB)}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.d != b.d {
			return a.d < b.d
		}
		if a.c.Bucket != b.c.Bucket {
			return a.c.Bucket < b.c.Bucket
		}
		return a.c.Savings > b.c.Savings
	})
	var out []Candidate
	for i := 0; i < len(all) && i < maxNearest; i++ {
		out = append(out, all[i].c)
	}
	return out
}

// logDistance is how many factors of e v lies outside r (0 inside it).
func logDistance(v float64, r Range) float64 {
	if !r.Set || r.Contains(v) {
		return 0
	}
	v = math.Max(v, 0.5)
	if v < r.Min {
		return math.Log(math.Max(r.Min, 0.5) / v)
	}
	return math.Log(v / math.Max(r.Max, 0.5))
}

func sortByName(cs []Candidate) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Type < cs[j].Type })
}

// shortList prints up to n items and "… and k more".
func shortList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

func archText(a Arch) string {
	if a == ArchUnknown {
		return "arch ?"
	}
	return string(a)
}
