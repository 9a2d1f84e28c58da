package advisor

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestAllocatable(t *testing.T) {
	tests := []struct {
		spec       Spec
		vcpus, gib float64
	}{
		// 4 vCPU: 80m reserved; 16 GiB: 15155 MiB seen, 893 kube-reserved (58 pods), 100 eviction.
		{Spec{VCPUs: 4, MemoryGiB: 16}, 3.92, 14162.0 / 1024},
		{Spec{VCPUs: 8, MemoryGiB: 32}, 7.91, (math.Floor(32768*0.925) - 893 - 100) / 1024},
		{Spec{VCPUs: 2, MemoryGiB: 0.5}, 1.93, 0},
		{Spec{}, 0, 0},
	}
	for _, tt := range tests {
		v, g := Allocatable(tt.spec)
		if math.Abs(v-tt.vcpus) > 1e-9 || math.Abs(g-tt.gib) > 1e-9 {
			t.Errorf("Allocatable(%d vCPU, %v GiB) = %v, %v; want %v, %v", tt.spec.VCPUs, tt.spec.MemoryGiB, v, g, tt.vcpus, tt.gib)
		}
	}
}

// Karpenter's generated table lists the allocatable CPU and memory of every
// type (AL2023, ENI-based max pods): for the types of the real feed, the CPU
// must agree exactly, and the memory within 5 % for the node-sized types
// (4 GiB and up) but a few, where the pod estimate by vCPU count differs
// from the type's ENI limits.
func TestAllocatableAgreesWithKarpenter(t *testing.T) {
	var kt map[string]struct {
		VCPU        int `json:"vcpu"`
		MemoryMiB   int `json:"memory_mib"`
		GPUCount    int `json:"gpu_count"`
		Allocatable struct {
			CPU    string `json:"cpu"`
			Memory string `json:"memory"`
		} `json:"allocatable"`
	}
	if err := json.Unmarshal(mustRead(t, sharedFile(t, "karpenter-instance-types.json")), &kt); err != nil {
		t.Fatal(err)
	}
	feed := realFeed(t)
	checked, off := 0, 0
	for typ, k := range kt {
		if _, inFeed := feed.InstanceTypes[typ]; !inFeed || k.GPUCount > 0 {
			continue
		}
		v, g := Allocatable(Spec{VCPUs: k.VCPU, MemoryGiB: float64(k.MemoryMiB) / 1024})
		milli, err := strconv.Atoi(strings.TrimSuffix(k.Allocatable.CPU, "m"))
		if err != nil {
			t.Fatalf("%s: cpu %q", typ, k.Allocatable.CPU)
		}
		if math.Abs(v*1000-float64(milli)) > 0.5 {
			t.Errorf("%s: allocatable CPU %.0fm, Karpenter says %dm", typ, v*1000, milli)
		}
		mib, err := strconv.Atoi(strings.TrimSuffix(k.Allocatable.Memory, "Mi"))
		if err != nil {
			t.Fatalf("%s: memory %q", typ, k.Allocatable.Memory)
		}
		if k.MemoryMiB < 4096 {
			continue
		}
		checked++
		if d := math.Abs(g*1024-float64(mib)) / float64(mib); d > 0.05 {
			off++
			t.Logf("%s: allocatable memory %.0f MiB, Karpenter %d MiB (%.1f%% off)", typ, g*1024, mib, 100*d)
		}
	}
	if checked < 700 || off > checked/50 {
		t.Errorf("%d of %d types more than 5%% off Karpenter's allocatable memory (allowed: 2%%)", off, checked)
	}
	t.Logf("allocatable memory: %d types checked, %d more than 5%% off", checked, off)
}

// Category agrees with Karpenter's instance-category label for every type
// of its table.
func TestCategoryAgreesWithKarpenter(t *testing.T) {
	var kt map[string]struct {
		Family   string `json:"family"`
		Category string `json:"category"`
	}
	if err := json.Unmarshal(mustRead(t, sharedFile(t, "karpenter-instance-types.json")), &kt); err != nil {
		t.Fatal(err)
	}
	for typ, k := range kt {
		if got := Category(k.Family); got != k.Category {
			t.Errorf("%s: Category(%q) = %q, Karpenter says %q", typ, k.Family, got, k.Category)
		}
	}
}

func TestBuiltinListPrices(t *testing.T) {
	use1 := BuiltinListPrices("us-east-1")
	euw1 := BuiltinListPrices("eu-west-1")
	for _, tt := range []struct {
		typ   string
		price float64
	}{{"m6i.xlarge", 0.192}, {"d3en.xlarge", 0.526}, {"a1.2xlarge", 0.204}} {
		if p, ok := use1.Price(tt.typ); !ok || p != tt.price {
			t.Errorf("%s = %v, %v; want %v", tt.typ, p, ok, tt.price)
		}
	}
	if _, ok := use1.Price("m99.nonsense"); ok {
		t.Error("an unknown type has a price")
	}
	if use1.Estimated || !euw1.Estimated {
		t.Errorf("estimated: us-east-1 %v, eu-west-1 %v", use1.Estimated, euw1.Estimated)
	}
	if !strings.HasPrefix(use1.Source, "built-in us-east-1 On-Demand list prices of 2026-07-20 (aws/karpenter-provider-aws") ||
		!strings.HasPrefix(euw1.Source, "estimated for eu-west-1 from the built-in us-east-1 On-Demand list prices of 2026-07-20") {
		t.Errorf("sources:\n%s\n%s", use1.Source, euw1.Source)
	}
	if p, ok := (ListPrices{}).Price("m6i.xlarge"); ok || p != 0 {
		t.Error("the zero ListPrices knows a price")
	}
}
