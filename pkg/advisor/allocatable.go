package advisor

import "math"

// What a node keeps for itself, as the EKS-optimized AMIs configure the
// kubelet (awslabs/amazon-eks-ami: kube-reserved CPU and memory, hard
// eviction at memory.available<100Mi) and as Karpenter estimates the memory
// the kernel and hypervisor take (its vmMemoryOverheadPercent default, 7.5 %).
// kops nodes reserve no more than this by default. These are facts restated,
// not code carried over.
const (
	// vmMemoryOverhead is the share of nominal memory the OS never sees.
	vmMemoryOverhead = 0.075
	// evictionHardMiB is the kubelet's hard eviction threshold.
	evictionHardMiB = 100
	// kubeReservedMiBPerPod and kubeReservedMiBBase: kube-reserved memory
	// is 11 MiB per pod the node may run plus 255 MiB.
	kubeReservedMiBPerPod = 11
	kubeReservedMiBBase   = 255
)

// kubeReservedMilliCPU is the CPU the kubelet reserves on n vCPUs: 6 % of
// the first core, 1 % of the second, 0.5 % of the third and fourth and
// 0.25 % of every core above four.
func kubeReservedMilliCPU(n int) float64 {
	m := 0.0
	for i := range n {
		switch {
		case i == 0:
			m += 60
		case i == 1:
			m += 10
		case i < 4:
			m += 5
		default:
			m += 2.5
		}
	}
	return m
}

// maxPods estimates how many pods the VPC CNI lets a node of n vCPUs run
// (ENIs × (IPs per ENI − 1) + 2 for the common Nitro sizes: 29 for large, 58
// for xlarge and 2xlarge, 234 up to 12xlarge, 737 above). The feed has no ENI
// limits; this is what the memory reserve is sized by.
func maxPods(n int) int {
	switch {
	case n <= 2:
		return 29
	case n <= 8:
		return 58
	case n <= 48:
		return 234
	}
	return 737
}

// Allocatable returns the vCPUs and GiB of memory a node of spec s offers
// to pods: its capacity less kube-reserved, the eviction threshold and (for
// memory) the OS's share. Both are 0 for an empty spec and never negative.
func Allocatable(s Spec) (vcpus, gib float64) {
	if s.VCPUs <= 0 {
		return 0, 0
	}
	vcpus = (float64(s.VCPUs)*1000 - kubeReservedMilliCPU(s.VCPUs)) / 1000
	mib := math.Floor(s.MemoryGiB*1024*(1-vmMemoryOverhead)) -
		float64(kubeReservedMiBPerPod*maxPods(s.VCPUs)+kubeReservedMiBBase) - evictionHardMiB
	return vcpus, math.Max(mib, 0) / 1024
}

// UnitShape is the capacity unit cost is counted in: one vCPU and GiBPerVCPU
// GiB of memory. A node holds min(allocatable vCPUs, allocatable GiB ÷
// GiBPerVCPU) units, so the resource that runs out first sets the count.
// GiBPerVCPU 0 counts vCPUs alone; PerGiB counts GiB alone.
type UnitShape struct {
	// GiBPerVCPU is the memory that comes with each vCPU of a unit; 0
	// counts vCPUs alone.
	GiBPerVCPU float64
	// PerGiB counts GiB alone (only --memory was asked for).
	PerGiB bool
}

// ShapeOf derives the unit from the requirements: the asked memory per vCPU
// when both are set (the middles of the ranges), memory alone when only
// --memory is set, vCPUs otherwise.
func ShapeOf(req Requirements) UnitShape {
	switch {
	case req.VCPUs.Set && req.MemoryGiB.Set && middle(req.VCPUs) > 0:
		return UnitShape{GiBPerVCPU: middle(req.MemoryGiB) / middle(req.VCPUs)}
	case req.MemoryGiB.Set:
		return UnitShape{PerGiB: true}
	}
	return UnitShape{}
}

// middle is the middle of a range, or its minimum when it is open above.
func middle(r Range) float64 {
	if math.IsInf(r.Max, 1) {
		return r.Min
	}
	return (r.Min + r.Max) / 2
}

// Units is how many units of shape u a node with the given allocatable
// capacity holds.
func (u UnitShape) Units(vcpus, gib float64) float64 {
	switch {
	case u.PerGiB:
		return gib
	case u.GiBPerVCPU > 0:
		return math.Min(vcpus, gib/u.GiBPerVCPU)
	}
	return vcpus
}
