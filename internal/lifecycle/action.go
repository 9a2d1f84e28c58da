package lifecycle

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/spot-handler/spot-handler/pkg/queue"
)

// The lifecycle transitions a hook holds.
const (
	Terminating = "autoscaling:EC2_INSTANCE_TERMINATING"
	Launching   = "autoscaling:EC2_INSTANCE_LAUNCHING"
)

// Result is the result of a completed lifecycle action.
type Result string

// The results CompleteLifecycleAction takes.
const (
	// Continue lets Auto Scaling go on: terminate the drained instance, or
	// keep the launched one.
	Continue Result = "CONTINUE"
	// Abandon tells Auto Scaling to give up the launched instance.
	Abandon Result = "ABANDON"
)

// Action is one lifecycle action, as the lifecycle event names it.
type Action struct {
	// InstanceID is the EC2 instance the hook holds.
	InstanceID string
	// Transition is Terminating or Launching.
	Transition string
	// Token, Hook and Group identify the action for Auto Scaling.
	Token, Hook, Group string
	// EventTime is when Auto Scaling put the instance on hold (the event's
	// time): the hook's heartbeat timeout runs from it.
	EventTime time.Time
}

// ActionOf returns the lifecycle action a queue notice carries, and false
// for a notice of another kind.
func ActionOf(n queue.Notice) (Action, bool) {
	if n.Kind != queue.LifecycleAction || n.Lifecycle == nil {
		return Action{}, false
	}
	return Action{InstanceID: n.InstanceID, Transition: n.Lifecycle.Transition, Token: n.Lifecycle.Token,
		Hook: n.Lifecycle.Hook, Group: n.Lifecycle.Group, EventTime: n.EventTime}, true
}

// AutoScaling is the part of the Auto Scaling API the package calls;
// *autoscaling.Client has it.
type AutoScaling interface {
	// CompleteLifecycleAction releases the instance with a result.
	CompleteLifecycleAction(ctx context.Context, in *autoscaling.CompleteLifecycleActionInput, opts ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error)
	// RecordLifecycleActionHeartbeat restarts the hook's heartbeat timeout.
	RecordLifecycleActionHeartbeat(ctx context.Context, in *autoscaling.RecordLifecycleActionHeartbeatInput, opts ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error)
	// DescribeLifecycleHooks reads a hook's timeouts (once per hook).
	DescribeLifecycleHooks(ctx context.Context, in *autoscaling.DescribeLifecycleHooksInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeLifecycleHooksOutput, error)
}
