package advisor

import (
	"fmt"
	"sort"
	"strings"
)

// Category returns a family's instance category as Karpenter's
// karpenter.k8s.aws/instance-category label names it: the class letters
// before the generation ("m" for m6i, "im" for im4gn, "hpc" for hpc7a, "mac"
// for mac2), and "u" for the u-* high-memory names; "" when the name has no
// class.
func Category(family string) string {
	if strings.HasPrefix(family, "u-") {
		return "u"
	}
	if m := familyName.FindStringSubmatch(family); m != nil {
		return m[1]
	}
	return ""
}

// ExclusionGroup is a kind of hardware a node group leaves out unless asked
// for; see DefaultExclusions.
type ExclusionGroup struct {
	// Name says what the group is ("burstable").
	Name string
	// Categories are the Karpenter instance categories in the group.
	Categories []string
	// accelerated groups also hold every Spec marked Accelerated.
	accelerated bool
	// metal groups hold the bare-metal sizes ("metal", "metal-48xl") of any
	// category; a type belongs to it before its category's group.
	metal bool
}

// DefaultExclusions are left out of a node group unless asked for: by
// --metal (bare metal), --burstable (burstable), --gpus (accelerators), or a
// --families regexp that matches the family or a --category that lists its
// category. Bare-metal sizes boot slowly and are the largest of their family;
// burstable types throttle a busy node or bill it for CPU credits; the others
// are special-purpose hardware whose price buys something a general node
// group does not use (storage-optimized: the local NVMe or HDD arrays of the
// i, im, is, d and h families, as EC2's "storage optimized" class lists them).
var DefaultExclusions = []ExclusionGroup{
	{Name: "bare metal", metal: true},
	{Name: "burstable", Categories: []string{"t"}},
	{Name: "GPU and accelerator", Categories: []string{"g", "gr", "p", "inf", "trn", "dl"}, accelerated: true},
	{Name: "FPGA and video", Categories: []string{"f", "vt"}},
	{Name: "storage-optimized", Categories: []string{"d", "h", "i", "im", "is"}},
	{Name: "high-memory", Categories: []string{"u", "x"}},
	{Name: "HPC", Categories: []string{"hpc"}},
	{Name: "Mac", Categories: []string{"mac"}},
}

// Exclusion says which candidates one group of DefaultExclusions left out
// and how to include them.
type Exclusion struct {
	Group string   `json:"group"`
	Types []string `json:"types"`
	// Include is the flag that brings them back.
	Include string `json:"include"`
}

// String prints "3 burstable (t2.xlarge, t3.xlarge, t3a.xlarge; --burstable)".
func (e Exclusion) String() string {
	return fmt.Sprintf("%d %s (%s; %s)", len(e.Types), e.Group, shortList(e.Types, 4), e.Include)
}

// groupOf returns the index in DefaultExclusions of the group s belongs to,
// or -1.
func groupOf(s Spec) int {
	cat := Category(s.Family)
	for i, g := range DefaultExclusions {
		if g.metal && IsMetal(s.Size) {
			return i
		}
	}
	for i, g := range DefaultExclusions {
		for _, c := range g.Categories {
			if c == cat {
				return i
			}
		}
	}
	for i, g := range DefaultExclusions {
		if g.accelerated && s.Accelerated {
			return i
		}
	}
	return -1
}

// askedFor reports whether req names s's family, category or group, which
// overrides the default exclusion of group g.
func (r Requirements) askedFor(s Spec, g ExclusionGroup) bool {
	if g.metal {
		return r.Metal
	}
	switch {
	case g.Name == "burstable" && r.Burstable, g.accelerated && r.GPUs.Set:
		return true
	case r.Families != nil && r.Families.MatchString(s.Family):
		return true
	}
	return r.hasCategory(Category(s.Family))
}

func (r Requirements) hasCategory(cat string) bool {
	for _, c := range r.Categories {
		if c == cat {
			return true
		}
	}
	return false
}

// applyDefaults splits cands into those kept and, per group, those the
// defaults left out.
func applyDefaults(cands []Candidate, req Requirements) (kept []Candidate, out []Exclusion) {
	byGroup := map[int][]string{}
	cats := map[int]map[string]bool{}
	for _, c := range cands {
		g := groupOf(c.Spec)
		if g < 0 || req.askedFor(c.Spec, DefaultExclusions[g]) {
			kept = append(kept, c)
			continue
		}
		byGroup[g] = append(byGroup[g], c.Type)
		if cats[g] == nil {
			cats[g] = map[string]bool{}
		}
		cats[g][Category(c.Family)] = true
	}
	for i, g := range DefaultExclusions {
		types := byGroup[i]
		if len(types) == 0 {
			continue
		}
		sort.Strings(types)
		e := Exclusion{Group: g.Name, Types: types}
		var cs []string
		for c := range cats[i] {
			cs = append(cs, c)
		}
		sort.Strings(cs)
		switch {
		case g.metal:
			e.Include = "--metal"
		case g.Name == "burstable":
			e.Include = "--burstable"
		case g.accelerated:
			e.Include = "--category " + strings.Join(cs, ",") + " or --gpus N"
		default:
			e.Include = "--category " + strings.Join(cs, ",")
		}
		out = append(out, e)
	}
	return kept, out
}

// IsMetal reports whether size is a bare-metal size: "metal" or
// "metal-48xl" (EC2's names for the whole host).
func IsMetal(size string) bool { return size == "metal" || strings.HasPrefix(size, "metal-") }
