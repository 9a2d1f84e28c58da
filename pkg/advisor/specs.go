package advisor

import (
	"regexp"
	"strconv"
	"strings"
)

// Arch is a CPU architecture as Kubernetes names it (kubernetes.io/arch).
type Arch string

// Architectures. ArchUnknown is shown as "?" and never matches --arch.
const (
	AMD64       Arch = "amd64"
	ARM64       Arch = "arm64"
	ArchUnknown Arch = ""
)

// CPU vendors, as Karpenter's karpenter.k8s.aws/instance-cpu-manufacturer
// labels them. "" means unknown.
const (
	VendorIntel = "intel"
	VendorAMD   = "amd"
	VendorAWS   = "aws"
)

// GPUsUnknown marks a Spec whose GPU count is not known (an accelerated family
// described by the feed alone).
const GPUsUnknown = -1

// Spec describes one instance type.
type Spec struct {
	// Type is the instance type, e.g. "m6i.xlarge".
	Type string `json:"type"`
	// Family is the part before the dot, e.g. "m6i".
	Family string `json:"family"`
	// Size is the part after the dot, e.g. "xlarge".
	Size string `json:"size"`
	// Generation is the number in the family name (6 for m6i); 0 if none.
	Generation int `json:"generation"`
	// VCPUs is the default number of vCPUs.
	VCPUs int `json:"vcpus"`
	// MemoryGiB is the memory in GiB.
	MemoryGiB float64 `json:"memoryGiB"`
	// Arch is the architecture; ArchUnknown when it cannot be told.
	Arch Arch `json:"arch"`
	// GPUs is the number of GPUs; GPUsUnknown when it cannot be told.
	GPUs int `json:"gpus"`
	// Accelerated is true for types with GPUs, Inferentia, Trainium, FPGAs,
	// Gaudi or media accelerators.
	Accelerated bool `json:"accelerated,omitempty"`
	// CPUVendor is VendorIntel, VendorAMD, VendorAWS or "" when unknown.
	CPUVendor string `json:"cpuVendor"`
	// CurrentGeneration is false for types EC2 calls previous-generation;
	// the feed alone cannot tell, and then it is true.
	CurrentGeneration bool `json:"currentGeneration"`
}

// Catalog maps an instance type to its Spec.
type Catalog map[string]Spec

// familyName splits "c7i-flex" into class "c", generation 7, attributes "i"
// and suffix "flex". ok is false for names outside that grammar ("u-6tb1").
var familyName = regexp.MustCompile(`^([a-z]+?)(\d+)([a-z]*)(?:-([a-z0-9]+))?$`)

// acceleratedClasses are family classes whose types carry accelerators:
// GPUs (g, gr, p), Inferentia (inf), Trainium (trn), Gaudi/Qualcomm (dl),
// FPGAs (f) and video transcoders (vt).
var acceleratedClasses = map[string]bool{"g": true, "gr": true, "p": true, "inf": true, "trn": true, "dl": true, "f": true, "vt": true}

// gpuClasses are the accelerated classes whose accelerators are GPUs.
var gpuClasses = map[string]bool{"g": true, "gr": true, "p": true}

// intelClasses are the classes whose families without a vendor letter run on
// Intel (m5, c4, r5, t2, t3, x1, z1d, d3, h1, i3, …).
var intelClasses = map[string]bool{"c": true, "m": true, "r": true, "t": true, "x": true, "z": true, "d": true, "h": true, "i": true}

// Traits is what the family-name rule can tell about a family.
type Traits struct {
	// Generation is the family's number; 0 when the name has none.
	Generation int
	// Arch is the architecture, or ArchUnknown.
	Arch Arch
	// CPUVendor is the vendor, or "".
	CPUVendor string
	// Accelerated and GPU say whether the class carries accelerators and
	// whether those are GPUs.
	Accelerated, GPU bool
}

// FamilyTraits applies the family-name rule. A family name is a class, a
// generation number, attribute letters and an optional "-suffix"
// (c7i-flex = c · 7 · i · flex). Then:
//
//   - arm64 when the attributes contain "g" (Graviton: m7g, c6gn, im4gn,
//     x2gd, g5g) or the family is a1; otherwise amd64;
//   - the vendor is AWS for "g", AMD for "a", Intel for "i", Intel for the
//     classes c, m, r, t, x, z, d, h, i without a vendor letter (m5, t3, z1d),
//     and unknown otherwise (g5 is AMD but g4dn Intel: the name does not say);
//   - classes g, gr, p carry GPUs; inf, trn, dl, f and vt other accelerators.
//
// A name outside the grammar (u-6tb1) gets ArchUnknown and no vendor.
func FamilyTraits(family string) Traits {
	m := familyName.FindStringSubmatch(family)
	if m == nil {
		return Traits{}
	}
	class, attrs := m[1], m[3]
	gen, _ := strconv.Atoi(m[2])
	t := Traits{Generation: gen, Arch: AMD64, Accelerated: acceleratedClasses[class], GPU: gpuClasses[class]}
	switch {
	case family == "a1" || strings.Contains(attrs, "g"):
		t.Arch, t.CPUVendor = ARM64, VendorAWS
	case strings.Contains(attrs, "a"):
		t.CPUVendor = VendorAMD
	case strings.Contains(attrs, "i") || intelClasses[class]:
		t.CPUVendor = VendorIntel
	}
	return t
}

// splitType splits "m6i.xlarge" into family and size.
func splitType(typ string) (family, size string) {
	family, size, _ = strings.Cut(typ, ".")
	return family, size
}

// SpecsFromFeed builds a Catalog from the feed's own cores and ram_gb and the
// family-name rule (FamilyTraits). GPU counts are unknown for GPU families.
func SpecsFromFeed(f *Feed) Catalog {
	c := make(Catalog, len(f.InstanceTypes))
	for typ, ft := range f.InstanceTypes {
		c[typ] = specFromFeed(typ, ft)
	}
	return c
}

func specFromFeed(typ string, ft FeedType) Spec {
	family, size := splitType(typ)
	tr := FamilyTraits(family)
	s := Spec{Type: typ, Family: family, Size: size, Generation: tr.Generation, VCPUs: ft.Cores,
		MemoryGiB: ft.RAMGB, Arch: tr.Arch, CPUVendor: tr.CPUVendor, Accelerated: tr.Accelerated, CurrentGeneration: true}
	if tr.GPU {
		s.GPUs = GPUsUnknown
	}
	return s
}
