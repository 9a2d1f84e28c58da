package queue

import (
	"encoding/json"
	"fmt"
	"time"
)

// Lifecycle is what an Auto Scaling lifecycle action event carries: what a
// handler needs to send heartbeats and complete the action.
type Lifecycle struct {
	// Transition is autoscaling:EC2_INSTANCE_TERMINATING or
	// autoscaling:EC2_INSTANCE_LAUNCHING.
	Transition string
	// Token, Hook and Group identify the action for CompleteLifecycleAction.
	Token, Hook, Group string
}

// lifecycleDetail is the detail of "EC2 Instance-terminate Lifecycle Action"
// and "EC2 Instance-launch Lifecycle Action". Shape from the Amazon EC2 Auto
// Scaling User Guide, "Amazon EC2 Auto Scaling event reference".
type lifecycleDetail struct {
	LifecycleActionToken string `json:"LifecycleActionToken"`
	AutoScalingGroupName string `json:"AutoScalingGroupName"`
	LifecycleHookName    string `json:"LifecycleHookName"`
	EC2InstanceID        string `json:"EC2InstanceId"`
	LifecycleTransition  string `json:"LifecycleTransition"`
}

// transitions are the lifecycle transitions a hook can hold.
var transitions = map[string]bool{"autoscaling:EC2_INSTANCE_TERMINATING": true, "autoscaling:EC2_INSTANCE_LAUNCHING": true}

// parseLifecycle: an ASG lifecycle action, one notice without deadline (the
// hook's heartbeat timeout is not in the event).
func parseLifecycle(e *envelope, _ time.Time) ([]Notice, error) {
	var d lifecycleDetail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return nil, fmt.Errorf("detail is not a lifecycle action (LifecycleActionToken, AutoScalingGroupName, LifecycleHookName, EC2InstanceId): %v", err)
	}
	return d.notices()
}

// notices checks a lifecycle action, from EventBridge's detail or a direct
// notification (asgdirect.go), and returns its one notice.
func (d lifecycleDetail) notices() ([]Notice, error) {
	if err := checkInstance("detail.EC2InstanceId", d.EC2InstanceID); err != nil {
		return nil, err
	}
	if !transitions[d.LifecycleTransition] {
		return nil, fmt.Errorf("detail.LifecycleTransition %q is not autoscaling:EC2_INSTANCE_TERMINATING or _LAUNCHING", clip(d.LifecycleTransition))
	}
	if d.LifecycleActionToken == "" || d.AutoScalingGroupName == "" || d.LifecycleHookName == "" {
		return nil, fmt.Errorf("lifecycle action without LifecycleActionToken, AutoScalingGroupName or LifecycleHookName")
	}
	lc := &Lifecycle{Transition: d.LifecycleTransition, Token: clip(d.LifecycleActionToken),
		Hook: clip(d.LifecycleHookName), Group: clip(d.AutoScalingGroupName)}
	return []Notice{{InstanceID: d.EC2InstanceID, Kind: LifecycleAction, Action: d.LifecycleTransition,
		ID: noticeID(LifecycleAction, d.EC2InstanceID, d.LifecycleActionToken), Lifecycle: lc}}, nil
}
