package advisor

import (
	"encoding/json"
	"testing"
)

// karpenterCatalog builds a Catalog from Karpenter's generated instance-type
// table in the shared data: EC2's own specs, in another format, for tests
// that want real vendors and GPU counts without calling AWS.
func karpenterCatalog(tb testing.TB) Catalog {
	tb.Helper()
	var kt map[string]struct {
		Arch            string `json:"arch"`
		Family          string `json:"family"`
		Generation      string `json:"generation"`
		Size            string `json:"size"`
		CPUManufacturer string `json:"cpu_manufacturer"`
		VCPU            int    `json:"vcpu"`
		MemoryMiB       int    `json:"memory_mib"`
		GPUCount        int    `json:"gpu_count"`
	}
	if err := json.Unmarshal(mustRead(tb, sharedFile(tb, "karpenter-instance-types.json")), &kt); err != nil {
		tb.Fatal(err)
	}
	c := Catalog{}
	for typ, k := range kt {
		tr := FamilyTraits(k.Family)
		c[typ] = Spec{Type: typ, Family: k.Family, Size: k.Size, Generation: tr.Generation, VCPUs: k.VCPU,
			MemoryGiB: float64(k.MemoryMiB) / 1024, Arch: Arch(k.Arch), GPUs: k.GPUCount,
			Accelerated: tr.Accelerated || k.GPUCount > 0, CPUVendor: k.CPUManufacturer, CurrentGeneration: true}
	}
	return c
}
