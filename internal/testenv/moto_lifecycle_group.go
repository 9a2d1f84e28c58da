package testenv

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// GroupInstance is one instance of an Auto Scaling group in moto.
type GroupInstance struct {
	// ID is the EC2 instance ID.
	ID string
	// Zone is its availability zone.
	Zone string
}

// ProviderID is the node's spec.providerID for the instance, as the AWS
// cloud provider sets it: aws:///<zone>/<instance-id>.
func (g GroupInstance) ProviderID() string { return "aws:///" + g.Zone + "/" + g.ID }

// CreateGroup creates an Auto Scaling group of size instances in moto (a
// launch configuration of the same name, zone us-east-1a) and returns them.
func (m *Moto) CreateGroup(ctx context.Context, name string, size int) ([]GroupInstance, error) {
	asg := autoscaling.NewFromConfig(m.Config())
	if _, err := asg.CreateLaunchConfiguration(ctx, &autoscaling.CreateLaunchConfigurationInput{LaunchConfigurationName: &name,
		ImageId: aws.String("ami-12c6146b"), InstanceType: aws.String("m5.large")}); err != nil {
		return nil, fmt.Errorf("creating launch configuration %s in moto: %w", name, err)
	}
	if _, err := asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: &name,
		LaunchConfigurationName: &name, MinSize: aws.Int32(0), MaxSize: aws.Int32(int32(size) + 10),
		DesiredCapacity: aws.Int32(int32(size)), AvailabilityZones: []string{MotoRegion + "a"}}); err != nil {
		return nil, fmt.Errorf("creating Auto Scaling group %s in moto: %w", name, err)
	}
	out, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describing Auto Scaling group %s in moto: %w", name, err)
	}
	var got []GroupInstance
	for _, g := range out.AutoScalingGroups {
		for _, i := range g.Instances {
			got = append(got, GroupInstance{ID: aws.ToString(i.InstanceId), Zone: aws.ToString(i.AvailabilityZone)})
		}
	}
	if len(got) != size {
		return nil, fmt.Errorf("moto's group %s has %d instances, want %d", name, len(got), size)
	}
	return got, nil
}

// TagGroup puts tags on the Auto Scaling group name in moto (as kops,
// eksctl and EKS tag a cluster's groups kubernetes.io/cluster/<name>).
func (m *Moto) TagGroup(ctx context.Context, name string, tags map[string]string) error {
	in := &autoscaling.CreateOrUpdateTagsInput{}
	for k, v := range tags {
		in.Tags = append(in.Tags, astypes.Tag{Key: aws.String(k), Value: aws.String(v), ResourceId: aws.String(name),
			ResourceType: aws.String("auto-scaling-group"), PropagateAtLaunch: aws.Bool(false)})
	}
	if _, err := autoscaling.NewFromConfig(m.Config()).CreateOrUpdateTags(ctx, in); err != nil {
		return fmt.Errorf("tagging Auto Scaling group %s in moto: %w", name, err)
	}
	return nil
}
