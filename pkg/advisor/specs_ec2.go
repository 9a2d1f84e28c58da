package advisor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EC2API is the part of the EC2 client the advisor uses; *ec2.Client has it,
// and tests give a fake.
type EC2API interface {
	DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)
	DescribeSpotPriceHistory(ctx context.Context, in *ec2.DescribeSpotPriceHistoryInput, opts ...func(*ec2.Options)) (*ec2.DescribeSpotPriceHistoryOutput, error)
	GetSpotPlacementScores(ctx context.Context, in *ec2.GetSpotPlacementScoresInput, opts ...func(*ec2.Options)) (*ec2.GetSpotPlacementScoresOutput, error)
}

// instanceTypesDoc is the JSON of `aws ec2 describe-instance-types --output
// json` and of the cache the --aws path writes.
type instanceTypesDoc struct {
	InstanceTypes []ec2types.InstanceTypeInfo
}

// DescribeInstanceTypes pages through EC2 DescribeInstanceTypes and returns
// every type's description, in the order EC2 gave them.
func DescribeInstanceTypes(ctx context.Context, api EC2API) ([]ec2types.InstanceTypeInfo, error) {
	var out []ec2types.InstanceTypeInfo
	p := ec2.NewDescribeInstanceTypesPaginator(api, &ec2.DescribeInstanceTypesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing EC2 instance types: %w", err)
		}
		out = append(out, page.InstanceTypes...)
	}
	return out, nil
}

// ParseInstanceTypesJSON decodes the output of `aws ec2
// describe-instance-types --output json` ({"InstanceTypes": [...]}).
func ParseInstanceTypesJSON(data []byte) ([]ec2types.InstanceTypeInfo, error) {
	var doc instanceTypesDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decoding DescribeInstanceTypes JSON: %w", err)
	}
	if len(doc.InstanceTypes) == 0 {
		return nil, fmt.Errorf("decoding DescribeInstanceTypes JSON: no InstanceTypes (want the output of 'aws ec2 describe-instance-types --output json')")
	}
	return doc.InstanceTypes, nil
}

// MarshalInstanceTypesJSON encodes infos in the format ParseInstanceTypesJSON
// reads, for the cache.
func MarshalInstanceTypesJSON(infos []ec2types.InstanceTypeInfo) ([]byte, error) {
	return json.Marshal(instanceTypesDoc{InstanceTypes: infos})
}

// LoadInstanceTypesFile reads a DescribeInstanceTypes JSON file into a
// Catalog (--instance-types).
func LoadInstanceTypesFile(path string) (Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading instance types: %w", err)
	}
	infos, err := ParseInstanceTypesJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return CatalogFromEC2(infos), nil
}

// CatalogFromEC2 turns DescribeInstanceTypes answers into a Catalog.
func CatalogFromEC2(infos []ec2types.InstanceTypeInfo) Catalog {
	c := make(Catalog, len(infos))
	for _, info := range infos {
		s := SpecFromEC2(info)
		if s.Type != "" {
			c[s.Type] = s
		}
	}
	return c
}

// SpecFromEC2 describes one type from its DescribeInstanceTypes answer. The
// architecture is x86_64 → amd64 or arm64 as EC2 lists it; the CPU vendor is
// ProcessorInfo.Manufacturer when EC2 gives it, else the family-name rule.
func SpecFromEC2(info ec2types.InstanceTypeInfo) Spec {
	typ := string(info.InstanceType)
	family, size := splitType(typ)
	tr := FamilyTraits(family)
	s := Spec{Type: typ, Family: family, Size: size, Generation: tr.Generation, CPUVendor: tr.CPUVendor,
		CurrentGeneration: info.CurrentGeneration == nil || *info.CurrentGeneration}
	if info.VCpuInfo != nil && info.VCpuInfo.DefaultVCpus != nil {
		s.VCPUs = int(*info.VCpuInfo.DefaultVCpus)
	}
	if info.MemoryInfo != nil && info.MemoryInfo.SizeInMiB != nil {
		s.MemoryGiB = float64(*info.MemoryInfo.SizeInMiB) / 1024
	}
	if info.ProcessorInfo != nil {
		for _, a := range info.ProcessorInfo.SupportedArchitectures {
			switch a {
			case ec2types.ArchitectureTypeX8664:
				s.Arch = AMD64
			case ec2types.ArchitectureTypeArm64:
				s.Arch = ARM64
			}
		}
		if m := info.ProcessorInfo.Manufacturer; m != nil && *m != "" {
			s.CPUVendor = strings.ToLower(*m)
		}
	}
	if info.GpuInfo != nil {
		for _, g := range info.GpuInfo.Gpus {
			if g.Count != nil {
				s.GPUs += int(*g.Count)
			}
		}
	}
	s.Accelerated = s.GPUs > 0 || info.FpgaInfo != nil || info.InferenceAcceleratorInfo != nil ||
		info.NeuronInfo != nil || info.MediaAcceleratorInfo != nil
	return s
}
