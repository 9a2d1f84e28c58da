package advisor

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

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
	if len(r.Categories) > 0 {
		fs = append(fs, filter{"--category " + strings.Join(r.Categories, ","), func(s Spec) bool { return r.hasCategory(Category(s.Family)) }})
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

// Matched is what Match found.
type Matched struct {
	// Candidates meet the requirements, sorted by name.
	Candidates []Candidate
	// Notes say what was left out that a reader may not expect; they are
	// shown as warnings.
	Notes []string
	// Excluded are the types that met the requirements but the node-group
	// defaults left out, by group (DefaultExclusions).
	Excluded []Exclusion
}

// defaultsRequirement is how a NoMatchError names the node-group defaults.
const defaultsRequirement = "the node-group defaults (no bare-metal, burstable, accelerated, storage-optimized, high-memory, HPC or Mac types: pass --metal, --burstable, --gpus, --category or --families to ask for them)"

// Match returns the types of req.Region and req.OS that meet req, with the
// feed's bucket and savings filled in, and then applies the node-group
// defaults (DefaultExclusions). Types the catalog does not know are skipped
// (EC2 does not offer them, or the specs are from another region). When
// nothing is left the error is a *NoMatchError.
func Match(f *Feed, specs Catalog, req Requirements) (*Matched, error) {
	if err := req.Check(); err != nil {
		return nil, err
	}
	advice, err := f.Region(req.Region, req.OS)
	if err != nil {
		return nil, err
	}
	var cands []Candidate
	for typ, a := range advice {
		s, ok := specs[typ]
		if !ok {
			continue
		}
		cands = append(cands, Candidate{Spec: s, Savings: a.Savings, Bucket: a.Range, BucketLabel: f.BucketLabel(a.Range),
			Prior: f.BucketMidpoint(a.Range)})
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("none of the %d types the feed lists for %s (%s) is in the instance specs: are the specs from another region?", len(advice), req.Region, req.OS)
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
			return nil, e
		}
		cands = kept
	}
	m := &Matched{}
	if len(unknownArch) > 0 {
		m.Notes = append(m.Notes, fmt.Sprintf("%s whose architecture the family-name rule cannot tell left out (%s); pass --instance-types or --aws for EC2's own specs",
			plural(len(unknownArch), "type"), shortList(unknownArch, 5)))
	}
	kept, excluded := applyDefaults(cands, req)
	if len(kept) == 0 {
		return nil, &NoMatchError{Region: req.Region, OS: req.OS, Requirement: defaultsRequirement, Removed: len(cands), Nearest: nearest(cands, req)}
	}
	m.Candidates, m.Excluded = kept, excluded
	return m, nil
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
	sortCandidates(cs, func(a, b Candidate) bool { return a.Type < b.Type })
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
