package advisor

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestFamilyTraits(t *testing.T) {
	tests := []struct {
		family      string
		gen         int
		arch        Arch
		vendor      string
		accel, gpus bool
	}{
		{"m5", 5, AMD64, VendorIntel, false, false},
		{"m5a", 5, AMD64, VendorAMD, false, false},
		{"m6i", 6, AMD64, VendorIntel, false, false},
		{"m7g", 7, ARM64, VendorAWS, false, false},
		{"c6gn", 6, ARM64, VendorAWS, false, false},
		{"im4gn", 4, ARM64, VendorAWS, false, false},
		{"is4gen", 4, ARM64, VendorAWS, false, false},
		{"x2gd", 2, ARM64, VendorAWS, false, false},
		{"x2iedn", 2, AMD64, VendorIntel, false, false},
		{"a1", 1, ARM64, VendorAWS, false, false},
		{"c7i-flex", 7, AMD64, VendorIntel, false, false},
		{"t3", 3, AMD64, VendorIntel, false, false},
		{"t3a", 3, AMD64, VendorAMD, false, false},
		{"z1d", 1, AMD64, VendorIntel, false, false},
		{"g5", 5, AMD64, "", true, true},
		{"g4dn", 4, AMD64, "", true, true},
		{"g4ad", 4, AMD64, VendorAMD, true, true},
		{"g5g", 5, ARM64, VendorAWS, true, true},
		{"p6-b200", 6, AMD64, "", true, true},
		{"inf2", 2, AMD64, "", true, false},
		{"trn1n", 1, AMD64, "", true, false},
		{"u7i-8tb", 7, AMD64, VendorIntel, false, false},
		{"u-6tb1", 0, ArchUnknown, "", false, false},
		{"", 0, ArchUnknown, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.family, func(t *testing.T) {
			got := FamilyTraits(tt.family)
			want := Traits{Generation: tt.gen, Arch: tt.arch, CPUVendor: tt.vendor, Accelerated: tt.accel, GPU: tt.gpus}
			if got != want {
				t.Errorf("FamilyTraits(%q) = %+v, want %+v", tt.family, got, want)
			}
		})
	}
}

// The family-name rule agrees with spotinfo's reviewed architecture map and
// with Karpenter's generated labels for every family of the real feed that
// they know; where the rule says unknown it says so, never a wrong guess.
func TestFamilyTraitsAgreeWithRealData(t *testing.T) {
	f := realFeed(t)
	var snap struct{ Families map[string]string }
	if err := json.Unmarshal(mustRead(t, sharedFile(t, "spotinfo-architecture-snapshot.json")), &snap); err != nil {
		t.Fatal(err)
	}
	var kt map[string]struct {
		Arch            string `json:"arch"`
		Family          string `json:"family"`
		Generation      string `json:"generation"`
		CPUManufacturer string `json:"cpu_manufacturer"`
		VCPU            int    `json:"vcpu"`
		MemoryMiB       int    `json:"memory_mib"`
		GPUCount        int    `json:"gpu_count"`
	}
	if err := json.Unmarshal(mustRead(t, sharedFile(t, "karpenter-instance-types.json")), &kt); err != nil {
		t.Fatal(err)
	}
	archOf := map[string]Arch{"x86_64": AMD64, "amd64": AMD64, "arm64": ARM64}
	families, unknown, checked := map[string]bool{}, 0, 0
	for typ := range f.InstanceTypes {
		fam, _ := splitType(typ)
		families[fam] = true
	}
	for fam := range families {
		tr := FamilyTraits(fam)
		if tr.Arch == ArchUnknown {
			unknown++
			continue
		}
		if want, ok := snap.Families[fam]; ok && archOf[want] != tr.Arch {
			t.Errorf("%s: rule says %s, spotinfo says %s", fam, tr.Arch, want)
		}
		checked++
	}
	for typ, k := range kt {
		fam, _ := splitType(typ)
		if !families[fam] {
			continue
		}
		tr := FamilyTraits(fam)
		if tr.Arch != ArchUnknown && archOf[k.Arch] != tr.Arch {
			t.Errorf("%s: rule says %s, Karpenter says %s", typ, tr.Arch, k.Arch)
		}
		if tr.CPUVendor != "" && tr.CPUVendor != k.CPUManufacturer {
			t.Errorf("%s: rule says vendor %s, Karpenter says %s", typ, tr.CPUVendor, k.CPUManufacturer)
		}
		if tr.Generation != 0 && k.Generation != "" && k.Generation != itoa(tr.Generation) {
			t.Errorf("%s: rule says generation %d, Karpenter says %s", typ, tr.Generation, k.Generation)
		}
		if (k.GPUCount > 0) && !tr.GPU {
			t.Errorf("%s: Karpenter lists %d GPUs, the rule none", typ, k.GPUCount)
		}
	}
	if checked < 130 || unknown > 10 {
		t.Errorf("checked %d families, %d unknown: the rule covers too little", checked, unknown)
	}
	t.Logf("family rule: %d families classified, %d unknown", checked, unknown)
}

func itoa(i int) string { return strings.TrimSpace(fmtNum(float64(i))) }

func TestSpecsFromFeed(t *testing.T) {
	c := SpecsFromFeed(smallFeed(t))
	tests := []Spec{
		{Type: "m5.xlarge", Family: "m5", Size: "xlarge", Generation: 5, VCPUs: 4, MemoryGiB: 16, Arch: AMD64, CPUVendor: VendorIntel, CurrentGeneration: true},
		{Type: "m7g.xlarge", Family: "m7g", Size: "xlarge", Generation: 7, VCPUs: 4, MemoryGiB: 16, Arch: ARM64, CPUVendor: VendorAWS, CurrentGeneration: true},
		{Type: "g5.xlarge", Family: "g5", Size: "xlarge", Generation: 5, VCPUs: 4, MemoryGiB: 16, Arch: AMD64, GPUs: GPUsUnknown, Accelerated: true, CurrentGeneration: true},
		{Type: "u-6tb1.56xlarge", Family: "u-6tb1", Size: "56xlarge", VCPUs: 224, MemoryGiB: 6144, CurrentGeneration: true},
	}
	for _, want := range tests {
		if got := c[want.Type]; got != want {
			t.Errorf("spec %s = %+v, want %+v", want.Type, got, want)
		}
	}
}

func TestSpecsFromEC2Fixture(t *testing.T) {
	c, err := LoadInstanceTypesFile(filepath.Join("testdata", "instance-types-small.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []Spec{
		{Type: "m5.xlarge", Family: "m5", Size: "xlarge", Generation: 5, VCPUs: 4, MemoryGiB: 16, Arch: AMD64, CPUVendor: VendorIntel, CurrentGeneration: true},
		{Type: "m6g.xlarge", Family: "m6g", Size: "xlarge", Generation: 6, VCPUs: 4, MemoryGiB: 16, Arch: ARM64, CPUVendor: VendorAWS, CurrentGeneration: true},
		// EC2 knows what the name does not: g5 is AMD with one GPU.
		{Type: "g5.xlarge", Family: "g5", Size: "xlarge", Generation: 5, VCPUs: 4, MemoryGiB: 16, Arch: AMD64, CPUVendor: VendorAMD, GPUs: 1, Accelerated: true, CurrentGeneration: true},
		{Type: "c3.large", Family: "c3", Size: "large", Generation: 3, VCPUs: 2, MemoryGiB: 3.75, Arch: AMD64, CPUVendor: VendorIntel},
		{Type: "u-6tb1.56xlarge", Family: "u-6tb1", Size: "56xlarge", VCPUs: 224, MemoryGiB: 6144, Arch: AMD64, CPUVendor: VendorIntel, CurrentGeneration: true},
	}
	for _, want := range tests {
		if got := c[want.Type]; got != want {
			t.Errorf("spec %s = %+v, want %+v", want.Type, got, want)
		}
	}
}

func TestSpecsFromRealDescribeInstanceTypes(t *testing.T) {
	c, err := LoadInstanceTypesFile(sharedFile(t, "ec2-instance-selector_DescribeInstanceTypes_25_instances.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 25 {
		t.Fatalf("decoded %d types, want 25", len(c))
	}
	for _, tt := range []struct {
		typ   string
		vcpus int
		gib   float64
		arch  Arch
		cur   bool
	}{{"a1.2xlarge", 8, 16, ARM64, true}, {"c1.medium", 2, 1740.0 / 1024, AMD64, false}, {"c5.24xlarge", 96, 192, AMD64, true}} {
		s := c[tt.typ]
		if s.VCPUs != tt.vcpus || s.MemoryGiB != tt.gib || s.Arch != tt.arch || s.CurrentGeneration != tt.cur {
			t.Errorf("%s = %+v", tt.typ, s)
		}
	}
}

func TestParseInstanceTypesJSONRejects(t *testing.T) {
	for _, in := range []string{`{`, `{}`, `{"InstanceTypes":[]}`} {
		if _, err := ParseInstanceTypesJSON([]byte(in)); err == nil || !strings.Contains(err.Error(), "DescribeInstanceTypes JSON") {
			t.Errorf("ParseInstanceTypesJSON(%s) error = %v", in, err)
		}
	}
}
