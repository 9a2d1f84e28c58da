package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestOwnerOf is the ownership rule: a node here is ours whatever its
// group; otherwise the group decides (listed, or tagged for this cluster),
// and a group whose tags could not be read is never taken for ours.
func TestOwnerOf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		isNode bool
		g      groupFacts
		want   owner
	}{
		{"node, other cluster's group", true, groupFacts{name: "g", read: true}, ownerNode},
		{"node, tags unreadable", true, groupFacts{name: "g"}, ownerNode},
		{"node, no group", true, groupFacts{}, ownerNode},
		{"no node, no group", false, groupFacts{}, ownerOther},
		{"no node, tagged group", false, groupFacts{name: "g", read: true, tagged: true}, ownerGroup},
		{"no node, listed untagged group", false, groupFacts{name: "g", listed: true, read: true}, ownerGroup},
		{"no node, listed, tags unreadable", false, groupFacts{name: "g", listed: true}, ownerGroup},
		{"no node, untagged group", false, groupFacts{name: "g", read: true}, ownerOther},
		{"no node, tags unreadable", false, groupFacts{name: "g"}, ownerUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ownerOf(tc.isNode, tc.g); got != tc.want {
				t.Errorf("ownerOf(%v, %+v) = %v, want %v", tc.isNode, tc.g, got, tc.want)
			}
		})
	}
}

func TestHasClusterTag(t *testing.T) {
	tag := func(k, v string) astypes.TagDescription {
		return astypes.TagDescription{Key: aws.String(k), Value: aws.String(v)}
	}
	for _, tc := range []struct {
		name string
		tags []astypes.TagDescription
		want bool
	}{
		{"owned", []astypes.TagDescription{tag("Name", "x"), tag("kubernetes.io/cluster/prod", "owned")}, true},
		{"shared", []astypes.TagDescription{tag("kubernetes.io/cluster/prod", "shared")}, true},
		{"empty value", []astypes.TagDescription{tag("kubernetes.io/cluster/prod", "")}, true},
		{"other cluster", []astypes.TagDescription{tag("kubernetes.io/cluster/stage", "owned")}, false},
		{"prefix of the name", []astypes.TagDescription{tag("kubernetes.io/cluster/prod-2", "owned")}, false},
		{"name as value", []astypes.TagDescription{tag("kubernetes.io/cluster-name", "prod")}, false},
		{"none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasClusterTag(tc.tags, "prod"); got != tc.want {
				t.Errorf("hasClusterTag = %v, want %v", got, tc.want)
			}
		})
	}
}

// fakeGroups answers DescribeAutoScalingGroups from tags, or with err.
type fakeGroups struct {
	tags  map[string][]astypes.TagDescription
	err   error
	calls int
}

func (f *fakeGroups) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	out := &autoscaling.DescribeAutoScalingGroupsOutput{}
	for _, name := range in.AutoScalingGroupNames {
		if tags, ok := f.tags[name]; ok {
			out.AutoScalingGroups = append(out.AutoScalingGroups, astypes.AutoScalingGroup{AutoScalingGroupName: aws.String(name), Tags: tags})
		}
	}
	return out, nil
}

// TestOwnershipLookup: tags are read once per TTL; a listed group and a
// node need no lookup; a denied lookup leaves the owner unknown, is not
// retried at once nor remembered, and names the permission.
func TestOwnershipLookup(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Now())
	f := &fakeGroups{tags: map[string][]astypes.TagDescription{
		"ours":   {{Key: aws.String("kubernetes.io/cluster/prod"), Value: aws.String("owned")}},
		"theirs": {{Key: aws.String("kubernetes.io/cluster/stage"), Value: aws.String("owned")}},
	}}
	o := newOwnership("prod", []string{"listed"}, f, clk)
	check := func(isNode bool, group string, want owner, calls int) {
		t.Helper()
		got, err := o.of(ctx, isNode, group)
		if got != want || err != nil || f.calls != calls {
			t.Errorf("of(%v, %q) = %v, %v after %d calls; want %v, nil after %d", isNode, group, got, err, f.calls, want, calls)
		}
	}
	check(false, "ours", ownerGroup, 1)
	check(false, "ours", ownerGroup, 1) // cached
	check(false, "theirs", ownerOther, 2)
	check(false, "gone", ownerOther, 3) // no such group: no tag
	check(false, "listed", ownerGroup, 3)
	check(true, "theirs", ownerNode, 3)
	clk.Step(groupTagTTL)
	check(false, "ours", ownerGroup, 4) // expired

	f.err = &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: autoscaling:DescribeAutoScalingGroups"}
	clk.Step(groupTagTTL)
	got, err := o.of(ctx, false, "ours")
	if got != ownerUnknown || err == nil || f.calls != 5 {
		t.Errorf("denied: %v, %v after %d calls; want unknown, the error, one call", got, err, f.calls)
	}
	if msg := groupLookupFailed("ours", err); !strings.Contains(msg, "autoscaling:DescribeAutoScalingGroups") || !strings.Contains(msg, "denied") {
		t.Errorf("log line %q does not name the permission", msg)
	}
	f.err = nil
	check(false, "ours", ownerGroup, 6) // the error was not remembered

	none := newOwnership("prod", nil, nil, clk)
	if got, err := none.of(ctx, false, "ours"); got != ownerUnknown || !errors.Is(err, errNoGroupsAPI) {
		t.Errorf("without a client: %v, %v; want unknown", got, err)
	}
}
