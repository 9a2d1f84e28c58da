package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/metrics"
)

// ClusterTagPrefix starts the tag kops, eksctl and EKS put on a cluster's
// Auto Scaling groups: kubernetes.io/cluster/<name>, any value ("owned",
// "shared", "1").
const ClusterTagPrefix = "kubernetes.io/cluster/"

// GroupsAPI is the Auto Scaling call that reads a group's tags;
// *autoscaling.Client has it.
type GroupsAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

// owner says whose an instance is.
type owner int

const (
	// ownerUnknown: the instance is no node here and its group's tags could
	// not be read. Never taken for ours: nothing is written to AWS for it.
	ownerUnknown owner = iota
	// ownerNode: the instance is a node of this cluster.
	ownerNode
	// ownerGroup: no node here, but its group is this cluster's (tagged
	// kubernetes.io/cluster/<name>, or named in --asg-names): an instance
	// that never joined (a failed boot) or has not joined yet.
	ownerGroup
	// ownerOther: another cluster's instance, or no cluster's.
	ownerOther
)

func (o owner) String() string {
	switch o {
	case ownerNode:
		return "node"
	case ownerGroup:
		return "cluster_group"
	case ownerOther:
		return "other"
	}
	return "unknown"
}

// groupFacts is what is known of an instance's Auto Scaling group.
type groupFacts struct {
	// name is the group's name; "" when the instance has none (no ASG).
	name string
	// listed is true when --asg-names names the group.
	listed bool
	// read is true once the group's tags were read; tagged then says
	// whether they hold kubernetes.io/cluster/<this cluster>.
	read, tagged bool
}

// ownerOf is the ownership rule: an instance is this cluster's when it is
// a node here, or when its group is named in --asg-names or carries the
// cluster's tag. A group whose tags could not be read leaves the instance
// unknown, never ours.
func ownerOf(isNode bool, g groupFacts) owner {
	switch {
	case isNode:
		return ownerNode
	case g.name == "":
		return ownerOther
	case g.listed:
		return ownerGroup
	case !g.read:
		return ownerUnknown
	case g.tagged:
		return ownerGroup
	}
	return ownerOther
}

// hasClusterTag reports whether tags hold kubernetes.io/cluster/<cluster>,
// whatever its value.
func hasClusterTag(tags []astypes.TagDescription, cluster string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == ClusterTagPrefix+cluster {
			return true
		}
	}
	return false
}

// groupTagTTL is how long a group's tags are remembered; an error is never
// remembered.
const groupTagTTL = 5 * time.Minute

// ownership answers whose an instance is, reading group tags through asg
// (cached for groupTagTTL).
type ownership struct {
	cluster string
	listed  map[string]bool
	asg     GroupsAPI // nil: only listed groups are known
	clock   clock.Clock

	mu     sync.Mutex
	groups map[string]taggedAt
}

type taggedAt struct {
	tagged bool
	at     time.Time
}

func newOwnership(cluster string, listed []string, asg GroupsAPI, clk clock.Clock) *ownership {
	o := &ownership{cluster: cluster, listed: map[string]bool{}, asg: asg, clock: clk, groups: map[string]taggedAt{}}
	for _, g := range listed {
		o.listed[g] = true
	}
	return o
}

// errNoGroupsAPI is the error of a lookup without an Auto Scaling client.
var errNoGroupsAPI = errors.New("no Auto Scaling client to read the group's tags")

// of returns whose the instance of group is that is a node here (isNode)
// or not; the error says why the group's tags could not be read (the owner
// is then ownerUnknown).
func (o *ownership) of(ctx context.Context, isNode bool, group string) (owner, error) {
	g := groupFacts{name: group, listed: o.listed[group]}
	if isNode || group == "" || g.listed {
		return ownerOf(isNode, g), nil
	}
	var err error
	g.tagged, err = o.tagged(ctx, group)
	g.read = err == nil
	return ownerOf(isNode, g), err
}

// tagged reports whether group carries the cluster's tag, from the cache
// or from DescribeAutoScalingGroups (retried briefly). A group that does
// not exist (any more) carries no tag.
func (o *ownership) tagged(ctx context.Context, group string) (bool, error) {
	now := o.clock.Now()
	o.mu.Lock()
	c, ok := o.groups[group]
	o.mu.Unlock()
	if ok && now.Sub(c.at) < groupTagTTL {
		return c.tagged, nil
	}
	if o.asg == nil {
		return false, errNoGroupsAPI
	}
	var err error
	for attempt, wait := 0, 200*time.Millisecond; attempt < 3; attempt, wait = attempt+1, wait*2 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case <-o.clock.After(wait):
			}
		}
		var out *autoscaling.DescribeAutoScalingGroupsOutput
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err = o.asg.DescribeAutoScalingGroups(dctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{group}})
		cancel()
		if err != nil {
			if denied(err) {
				break
			}
			continue
		}
		tagged := false
		for _, g := range out.AutoScalingGroups {
			tagged = tagged || (aws.ToString(g.AutoScalingGroupName) == group && hasClusterTag(g.Tags, o.cluster))
		}
		o.mu.Lock()
		for k, v := range o.groups { // drop what has expired: the map holds only live entries
			if now.Sub(v.at) >= groupTagTTL {
				delete(o.groups, k)
			}
		}
		o.groups[group] = taggedAt{tagged: tagged, at: now}
		o.mu.Unlock()
		return tagged, nil
	}
	return false, err
}

// denied reports whether err is an authorization error, not worth an
// immediate retry.
func denied(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		return strings.Contains(code, "AccessDenied") || code == "UnauthorizedOperation" || code == "UnrecognizedClientException"
	}
	return false
}

// groupLookupFailed says, for the log, what a failed tag lookup means and
// what to check.
func groupLookupFailed(group string, err error) string {
	what := "reading the tags of the Auto Scaling group failed"
	if denied(err) {
		what = "reading the tags of the Auto Scaling group was denied"
	}
	return fmt.Sprintf("%s (group %s): whether the instance is this cluster's is unknown, so nothing is done and the message stays and comes back "+
		"(check the role's autoscaling:DescribeAutoScalingGroups permission)", what, group)
}

// terminateNoNode handles a termination action of an instance that is no
// node here. Of one of this cluster's groups (it never joined: a failed
// boot), the action is completed CONTINUE at once. Of another cluster's (or
// no cluster's) group, nothing is written to AWS: after one re-check (the
// node may not be in the index yet) the message is deleted or left per
// --delete-unknown. When the group's tags cannot be read, nothing is done
// and the message comes back.
func (c *Controller) terminateNoNode(ctx context.Context, as *actors, a lifecycle.Action, count int, log *zap.Logger) (string, bool) {
	own, err := c.own.of(ctx, false, a.Group)
	switch {
	case own == ownerUnknown:
		log.Error(groupLookupFailed(a.Group, err), zap.Error(err))
		return metrics.QueueFailed, false
	case own == ownerGroup && c.cfg.DryRun:
		log.Info("dry-run: instance of this cluster's group never became a node here: would complete its lifecycle action (CONTINUE) at once")
		return metrics.QueueUnknownInstance, true
	case own == ownerGroup:
		if err := c.lc.manager().CompleteUnknown(as.ctx, a); err != nil {
			log.Error("completing the lifecycle action of an instance of this cluster's group that is no node here failed; the message stays", zap.Error(err))
			return metrics.QueueFailed, false
		}
		log.Info("instance of this cluster's group never became a node here (a failed boot?): lifecycle action completed (CONTINUE) at once, message deleted")
		return metrics.QueueUnknownInstance, true
	}
	return c.foreign(count, "lifecycle action left to its cluster", log)
}

// foreign is the outcome of a message about an instance that is not this
// cluster's: one re-check (its node may not be in the index yet), then
// deleted or left per --delete-unknown. Nothing is written to AWS for it.
func (c *Controller) foreign(count int, what string, log *zap.Logger) (string, bool) {
	if count < 2 {
		log.Info("instance is not this cluster's (no node here, group not tagged "+ClusterTagPrefix+c.cfg.ClusterName+" nor in --asg-names): re-checking once",
			zap.Duration("recheck_in", c.cfg.RecheckDelay))
		return metrics.QueueRecheck, false
	}
	return c.leaveForeign(what, log)
}

// leaveForeign deletes or leaves, per --delete-unknown, a message about an
// instance that is not this cluster's.
func (c *Controller) leaveForeign(what string, log *zap.Logger) (string, bool) {
	if c.cfg.DeleteUnknown {
		log.Info("instance is not this cluster's: " + what + ", message deleted (--delete-unknown)")
		return metrics.QueueUnknownInstance, true
	}
	log.Info("instance is not this cluster's: " + what + ", message left on the queue (--delete-unknown=false)")
	return metrics.QueueUnknownKept, false
}

// launchOwned reports whether the launch action a is this cluster's to
// hold: its instance is a node here, or its group is this cluster's. When
// it is not (or that is unknown), the message is finished here, with no
// AWS write.
func (c *Controller) launchOwned(ctx context.Context, msg sqstypes.Message, typ string, a lifecycle.Action, log *zap.Logger) bool {
	own, err := c.own.of(ctx, c.nodes.fromIndex(a.InstanceID) != nil, a.Group)
	switch own {
	case ownerNode, ownerGroup:
		return true
	case ownerUnknown:
		log.Error(groupLookupFailed(a.Group, err), zap.Error(err))
		c.finish(ctx, msg, typ, metrics.QueueFailed, false, log)
		return false
	}
	outcome, del := c.leaveForeign("launch action left to its cluster", log)
	c.finish(ctx, msg, typ, outcome, del, log)
	return false
}
