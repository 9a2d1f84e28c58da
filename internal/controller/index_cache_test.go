package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeEC2 answers DescribeInstances from names (instance → private DNS
// name); an instance it does not know is InvalidInstanceID.NotFound.
type fakeEC2 struct {
	names map[string]string
	calls int
}

func (f *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.calls++
	id := in.InstanceIds[0]
	dns, ok := f.names[id]
	if !ok {
		return nil, fmt.Errorf("api error InvalidInstanceID.NotFound: The instance ID '%s' does not exist", id)
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: []ec2types.Instance{{
		InstanceId: aws.String(id), PrivateDnsName: aws.String(dns)}}}}}, nil
}

// TestFallbackCacheForgets: the DescribeInstances answers for instances
// that come and go are dropped once expired, so the cache holds about the
// instances of the last TTL, not every instance ever looked up; answers
// still fresh are kept and not asked again.
func TestFallbackCacheForgets(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	f := &fakeEC2{names: map[string]string{}}
	r := &resolver{nodes: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{providerIDIndex: indexByInstance}),
		ec2: f, clock: clk, cache: map[string]cached{}}
	const perRound, rounds = 500, 10
	for round := range rounds {
		for i := range perRound {
			id := fmt.Sprintf("i-%04d%04d", round, i)
			if i%2 == 0 {
				f.names[id] = "ip-" + id + ".ec2.internal"
			}
			if _, _, err := r.node(context.Background(), id); err != nil {
				t.Fatal(err)
			}
		}
		clk.Step(positiveTTL + time.Second) // every answer so far expires
	}
	if got := len(r.cache); got > 2*perRound {
		t.Errorf("cache holds %d answers after %d instances came and went, want at most %d (the last round's, twice)", got, perRound*rounds, 2*perRound)
	}
	// A fresh answer is kept and used.
	calls := f.calls
	id := "i-fresh"
	f.names[id] = "ip-fresh.ec2.internal"
	for range 3 {
		if _, err := r.privateDNS(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if f.calls != calls+1 {
		t.Errorf("%d DescribeInstances calls for one instance looked up 3 times, want 1", f.calls-calls)
	}
	if !strings.HasPrefix(r.cache[id].dns, "ip-fresh") {
		t.Errorf("cache entry %+v", r.cache[id])
	}
}

// TestFallbackRejectsNodeOfAnotherInstance: another cluster's instance,
// in a VPC whose CIDR overlaps ours, has the same private DNS name as one
// of our nodes. The DescribeInstances fallback must not take our node for
// it when the node's providerID names a different instance; a node without
// a providerID, or naming the instance, is still found by its name.
func TestFallbackRejectsNodeOfAnotherInstance(t *testing.T) {
	nodes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{providerIDIndex: indexByInstance})
	for _, n := range []*corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-0-1.ec2.internal"}, Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-ours0001"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-0-2.ec2.internal"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-0-3.ec2.internal"}, Spec: corev1.NodeSpec{ProviderID: "gce://project/zone/ip-10-0-0-3"}},
	} {
		if err := nodes.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeEC2{names: map[string]string{
		"i-foreign01": "ip-10-0-0-1.ec2.internal", // our i-ours0001's name
		"i-noprovid":  "ip-10-0-0-2.ec2.internal",
		"i-foreign03": "ip-10-0-0-3.ec2.internal",
	}}
	r := &resolver{nodes: nodes, ec2: f, clock: clocktesting.NewFakeClock(t0), cache: map[string]cached{}}
	for _, c := range []struct {
		instance, want, via string
	}{
		{"i-foreign01", "", viaNone},
		{"i-foreign03", "", viaNone},
		{"i-noprovid", "ip-10-0-0-2.ec2.internal", viaEC2},
		{"i-ours0001", "ip-10-0-0-1.ec2.internal", viaIndex},
	} {
		n, via, err := r.node(context.Background(), c.instance)
		if err != nil {
			t.Fatalf("%s: %v", c.instance, err)
		}
		got := ""
		if n != nil {
			got = n.Name
		}
		if got != c.want || via != c.via {
			t.Errorf("node(%s) = %q via %s, want %q via %s", c.instance, got, via, c.want, c.via)
		}
	}
}
