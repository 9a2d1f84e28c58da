package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/spot-handler/spot-handler/internal/metrics"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// providerIDIndex names the informer index from instance ID to node.
const providerIDIndex = "instanceID"

// instanceOf returns the EC2 instance ID in an AWS providerID,
// aws:///us-east-1a/i-0123456789abcdef0 (also aws://<zone>/<id> and the
// bare instance form some installers write), or "".
func instanceOf(providerID string) string {
	rest, ok := strings.CutPrefix(providerID, "aws://")
	if !ok {
		return ""
	}
	id := rest[strings.LastIndexByte(rest, '/')+1:]
	if !strings.HasPrefix(id, "i-") {
		return ""
	}
	return id
}

// indexByInstance is the informer's index function.
func indexByInstance(obj any) ([]string, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return nil, nil
	}
	if id := instanceOf(n.Spec.ProviderID); id != "" {
		return []string{id}, nil
	}
	return nil, nil
}

// EC2API is the part of the EC2 client the fallback uses.
type EC2API interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// How long the fallback remembers an answer: a name for good (an instance
// keeps its private DNS name), "no such instance or node" briefly.
const (
	positiveTTL = time.Hour
	negativeTTL = 30 * time.Second
)

// resolver maps an instance to its node: the providerID index first, then
// DescribeInstances (the private DNS name, the node name on EKS and kops),
// cached.
type resolver struct {
	nodes cache.Indexer
	ec2   EC2API // nil: no fallback
	clock clock.PassiveClock

	mu    sync.Mutex
	cache map[string]cached
	// prune is the cache size at which expired answers are dropped next
	// (0 = minPrune): instances come and go, their answers must not stay.
	prune int
}

// minPrune is the smallest cache size that is pruned.
const minPrune = 256

type cached struct {
	dns string // "" = not found
	at  time.Time
}

// Lookup results, the values of spot_handler_queue_instance_lookups_total's via label.
const (
	viaIndex = metrics.LookupIndex
	viaEC2   = metrics.LookupDescribe
	viaNone  = metrics.LookupNotFound
)

// node returns the node for instance, how it was found (viaIndex, viaEC2
// or viaNone), and an error only when EC2 could not be asked. A node found
// by its name through EC2 is the instance's only if it has no providerID
// or its providerID names the instance.
func (r *resolver) node(ctx context.Context, instance string) (*corev1.Node, string, error) {
	if n := r.fromIndex(instance); n != nil {
		return n, viaIndex, nil
	}
	if r.ec2 == nil {
		return nil, viaNone, nil
	}
	dns, err := r.privateDNS(ctx, instance)
	if err != nil || dns == "" {
		return nil, viaNone, err
	}
	obj, ok, _ := r.nodes.GetByKey(dns)
	if !ok {
		if short, _, found := strings.Cut(dns, "."); found {
			obj, ok, _ = r.nodes.GetByKey(short)
		}
	}
	if !ok {
		return nil, viaNone, nil
	}
	// The name alone is not proof: another cluster's instance in a VPC
	// whose CIDR overlaps ours can share a node's private DNS name. A node
	// that names its instance must name this one.
	n := obj.(*corev1.Node)
	if n.Spec.ProviderID != "" && instanceOf(n.Spec.ProviderID) != instance {
		return nil, viaNone, nil
	}
	return n, viaEC2, nil
}

func (r *resolver) fromIndex(instance string) *corev1.Node {
	objs, err := r.nodes.ByIndex(providerIDIndex, instance)
	if err != nil || len(objs) == 0 {
		return nil
	}
	return objs[0].(*corev1.Node)
}

// privateDNS asks EC2 for the instance's private DNS name, cached.
func (r *resolver) privateDNS(ctx context.Context, instance string) (string, error) {
	now := r.clock.Now()
	r.mu.Lock()
	c, ok := r.cache[instance]
	r.mu.Unlock()
	if ok && c.fresh(now) {
		return c.dns, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := r.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instance}})
	dns := ""
	if err != nil {
		if !strings.Contains(err.Error(), "InvalidInstanceID") {
			return "", fmt.Errorf("describing instance %s: %w", instance, err)
		}
	} else {
		for _, res := range out.Reservations {
			for _, in := range res.Instances {
				if in.PrivateDnsName != nil {
					dns = *in.PrivateDnsName
				}
			}
		}
	}
	r.mu.Lock()
	r.cache[instance] = cached{dns: dns, at: now}
	if len(r.cache) >= max(r.prune, minPrune) {
		r.pruneLocked(now)
	}
	r.mu.Unlock()
	return dns, nil
}

// fresh reports whether c is still an answer at now.
func (c cached) fresh(now time.Time) bool {
	if c.dns != "" {
		return now.Sub(c.at) < positiveTTL
	}
	return now.Sub(c.at) < negativeTTL
}

// pruneLocked drops the expired answers; the next prune comes when the
// cache has doubled, so the work is constant per lookup on average.
func (r *resolver) pruneLocked(now time.Time) {
	for id, c := range r.cache {
		if !c.fresh(now) {
			delete(r.cache, id)
		}
	}
	r.prune = 2 * len(r.cache)
}
