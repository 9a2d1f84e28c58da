package advisor

import (
	"math"
	"slices"
	"sort"
)

// Karpenter's well-known labels the NodePool constrains by. The AWS names
// are those of Karpenter's generated instance-type reference
// (aws/karpenter-provider-aws website/content/en/docs/reference/
// instance-types.md, in the shared data as karpenter-instance-types.json).
const (
	labelCapacityType = "karpenter.sh/capacity-type"
	labelOS           = "kubernetes.io/os"
	labelArch         = "kubernetes.io/arch"
	labelZone         = "topology.kubernetes.io/zone"
	labelType         = "node.kubernetes.io/instance-type"
	labelCategory     = "karpenter.k8s.aws/instance-category"
	labelFamily       = "karpenter.k8s.aws/instance-family"
	labelGeneration   = "karpenter.k8s.aws/instance-generation"
	labelSize         = "karpenter.k8s.aws/instance-size"
	labelCPU          = "karpenter.k8s.aws/instance-cpu"
	labelMemory       = "karpenter.k8s.aws/instance-memory"
)

// maxMinValues is the largest minValues Karpenter's v1 NodePool CRD accepts.
const maxMinValues = 50

// nodePoolPlan is what a NodePool says, worked out from the advice before
// it is written: constraints by category, generation, size and architecture
// that Karpenter chooses within (as Karpenter's own guidance prefers to
// pinning types), the ranked set as an optional pinned list, and minValues
// that the constraints can meet.
type nodePoolPlan struct {
	archs      []string
	categories []string
	// minGeneration is the oldest generation admitted; 0: no constraint.
	minGeneration int
	// sizes bound the size (instance-size names, smallest first).
	sizes []string
	// memLo and memHi bound instance-memory in MiB (with --memory); 0: none.
	memLo, memHi int
	// families is set when --families or --exclude narrowed them in ways
	// categories cannot say.
	families []string
	pinned   []string
	// familyMin and typeMin are the minValues on instance-family and on the
	// pinned types; 0 leaves minValues out.
	familyMin, typeMin int
	// admitted are the ranked candidates the constraints let in: what the
	// minValues are counted over.
	admitted []Candidate
}

// planNodePool works out the NodePool for r.
//
// The constraints come from the chosen set: its categories, its oldest
// generation, its architectures, and its size: --vcpus, or without --vcpus
// (and --memory) the range of the set's vCPU counts from 2 vCPUs up
// (minDefaultVCPUs) less a lone extreme (a smallest or largest size only one
// type of the set has: one 48xlarge in a set of xlarges says nothing about
// what the group wants). The size is said as instance-size names: those the ranked candidates that
// meet the other constraints have within that vCPU range (so bare metal,
// which Match leaves out unless --metal, never gets in by its vCPU count).
// Storage-optimized and accelerated types are in no constraint
// unless asked for, since Match leaves them out of the set.
//
// minValues are counted over the ranked candidates the constraints admit,
// and only among those of the largest vCPU count: a pod that fits only the
// largest size can be placed on nothing smaller, so a minValues above what
// that size offers would leave it pending for good. Karpenter sees more
// types than the feed lists; counting the feed's alone errs on the safe side.
func planNodePool(r *Result, pin bool) nodePoolPlan {
	req := r.Requirements
	base := r.Set
	if !req.VCPUs.Set && !req.MemoryGiB.Set {
		base = dropLoneExtremes(dropTiny(base))
	}
	p := nodePoolPlan{archs: archsOf(base)}
	cats, gens := map[string]bool{}, map[int]bool{}
	for _, c := range base {
		cats[Category(c.Family)] = true
		gens[c.Generation] = true
	}
	p.categories = sortedKeys(cats)
	if !gens[0] {
		for g := range gens {
			if p.minGeneration == 0 || g < p.minGeneration {
				p.minGeneration = g
			}
		}
	}
	if req.MemoryGiB.Set {
		p.memLo = int(req.MemoryGiB.Min * 1024)
		if req.MemoryGiB.Max < 1e9 {
			p.memHi = int(req.MemoryGiB.Max * 1024)
		}
	}
	lo, hi := req.VCPUs.Min, req.VCPUs.Max
	if !req.VCPUs.Set {
		lo, hi = math.Inf(1), 0
		for _, c := range base {
			lo, hi = math.Min(lo, float64(c.VCPUs)), math.Max(hi, float64(c.VCPUs))
		}
	}
	if pin {
		for _, c := range base {
			p.pinned = append(p.pinned, c.Type)
		}
	}
	// The sizes: every size name the ranked candidates that meet the other
	// constraints have within the vCPU range, smallest first.
	sizeCPUs := map[string]int{}
	for _, c := range r.Ranked {
		if v := float64(c.VCPUs); v >= lo && v <= hi && p.admits(c) {
			if n, ok := sizeCPUs[c.Size]; !ok || c.VCPUs < n {
				sizeCPUs[c.Size] = c.VCPUs
			}
		}
	}
	for sz := range sizeCPUs {
		p.sizes = append(p.sizes, sz)
	}
	sort.Slice(p.sizes, func(i, j int) bool {
		a, b := p.sizes[i], p.sizes[j]
		return sizeCPUs[a] < sizeCPUs[b] || sizeCPUs[a] == sizeCPUs[b] && a < b
	})
	for _, c := range r.Ranked {
		if p.admits(c) {
			p.admitted = append(p.admitted, c)
		}
	}
	if req.Families != nil || req.Exclude != nil {
		fams := map[string]bool{}
		for _, c := range p.admitted {
			fams[c.Family] = true
		}
		p.families = sortedKeys(fams)
	}
	top := largestSize(p.admitted)
	p.familyMin = min(familyMinValues(distinct(p.admitted, func(c Candidate) string { return c.Family })),
		distinct(top, func(c Candidate) string { return c.Family }))
	if pin {
		p.typeMin = min(typeMinValues(len(p.pinned)), distinct(top, func(c Candidate) string { return c.Type }))
	}
	for _, m := range []*int{&p.familyMin, &p.typeMin} {
		if *m <= 1 {
			*m = 0 // one value is no flexibility to ask for
		}
		*m = min(*m, maxMinValues)
	}
	return p
}

// admits reports whether the plan's category, generation, size, memory,
// architecture and pinned-type constraints let c in.
func (p nodePoolPlan) admits(c Candidate) bool {
	switch {
	case !slices.Contains(p.categories, Category(c.Family)),
		p.minGeneration > 0 && c.Generation < p.minGeneration,
		len(p.archs) > 0 && !slices.Contains(p.archs, string(c.Arch)),
		len(p.sizes) > 0 && !slices.Contains(p.sizes, c.Size),
		p.memLo > 0 && c.MemoryGiB*1024 < float64(p.memLo),
		p.memHi > 0 && c.MemoryGiB*1024 > float64(p.memHi),
		len(p.pinned) > 0 && !slices.Contains(p.pinned, c.Type):
		return false
	}
	return true
}

// minDefaultVCPUs is the smallest node a NodePool gets when no size is
// asked for. Below it (nano to medium) a node holds few pods (8 on a
// c8gd.medium in Karpenter's table) and the kubelet's reservation and the
// DaemonSets take much of it.
const minDefaultVCPUs = 2

// dropTiny removes the types under minDefaultVCPUs, unless nothing else is
// left.
func dropTiny(set []Candidate) []Candidate {
	out := slices.DeleteFunc(append([]Candidate(nil), set...), func(c Candidate) bool { return c.VCPUs < minDefaultVCPUs })
	if len(out) == 0 {
		return set
	}
	return out
}

// dropLoneExtremes removes, from each end of the set's range of vCPU
// counts, a size only one type of the set has, as long as another size
// remains.
func dropLoneExtremes(set []Candidate) []Candidate {
	out := append([]Candidate(nil), set...)
	for {
		counts := map[int]int{}
		for _, c := range out {
			counts[c.VCPUs]++
		}
		ns := sortedInts(counts)
		if len(ns) < 2 {
			return out
		}
		drop := -1
		switch {
		case counts[ns[0]] == 1:
			drop = ns[0]
		case counts[ns[len(ns)-1]] == 1:
			drop = ns[len(ns)-1]
		default:
			return out
		}
		out = slices.DeleteFunc(out, func(c Candidate) bool { return c.VCPUs == drop })
	}
}

// largestSize returns the candidates with the most vCPUs.
func largestSize(cs []Candidate) []Candidate {
	most := 0
	for _, c := range cs {
		most = max(most, c.VCPUs)
	}
	var out []Candidate
	for _, c := range cs {
		if c.VCPUs == most {
			out = append(out, c)
		}
	}
	return out
}

// distinct counts the different values of key over cs.
func distinct(cs []Candidate, key func(Candidate) string) int {
	seen := map[string]bool{}
	for _, c := range cs {
		seen[key(c)] = true
	}
	return len(seen)
}

// archsOf returns the known architectures of cs, sorted.
func archsOf(cs []Candidate) []string {
	seen := map[string]bool{}
	for _, c := range cs {
		if c.Arch != ArchUnknown {
			seen[string(c.Arch)] = true
		}
	}
	return sortedKeys(seen)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedInts[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
