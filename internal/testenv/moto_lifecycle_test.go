package testenv

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"
)

// TestMotoLifecycleAdditions checks the calls the harness adds to moto with
// the SDK the controller uses: a begun action takes heartbeats and one
// completion, each recorded with its token; a second completion, an unknown
// token and a bad result are ValidationErrors as in AWS; DescribeLifecycleHooks
// is moto's own.
func TestMotoLifecycleAdditions(t *testing.T) {
	m, ctx := motoForTest(t)
	asg := autoscaling.NewFromConfig(m.Config())
	group, hook := "nodes", "drain"
	instances, err := m.CreateGroup(ctx, group, 1)
	if err != nil {
		t.Fatal(err)
	}
	instance := instances[0].ID
	if _, err := asg.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{AutoScalingGroupName: &group, LifecycleHookName: &hook,
		LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING"), HeartbeatTimeout: aws.Int32(2)}); err != nil {
		t.Fatalf("PutLifecycleHook: %v", err)
	}
	hooks, err := asg.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: &group})
	if err != nil || len(hooks.LifecycleHooks) != 1 || aws.ToInt32(hooks.LifecycleHooks[0].HeartbeatTimeout) != 2 {
		t.Fatalf("DescribeLifecycleHooks: %v %+v", err, hooks)
	}
	token, err := m.BeginLifecycleAction(group, hook, instance, "autoscaling:EC2_INSTANCE_TERMINATING")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asg.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{AutoScalingGroupName: &group,
		LifecycleHookName: &hook, LifecycleActionToken: &token}); err != nil {
		t.Fatalf("RecordLifecycleActionHeartbeat: %v", err)
	}
	complete := func(tok, result string) error {
		_, err := asg.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{AutoScalingGroupName: &group,
			LifecycleHookName: &hook, LifecycleActionToken: &tok, LifecycleActionResult: &result})
		return err
	}
	if err := complete(token, "MAYBE"); !isValidation(err, "is not CONTINUE or ABANDON") {
		t.Errorf("bad result: %v", err)
	}
	if err := complete(token, "CONTINUE"); err != nil {
		t.Fatalf("CompleteLifecycleAction: %v", err)
	}
	if err := complete(token, "CONTINUE"); !isValidation(err, "No active Lifecycle Action found with token") {
		t.Errorf("second completion: %v", err)
	}
	calls, err := m.LifecycleCalls()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range calls {
		got = append(got, c.Action+"/"+c.Result+"/"+map[bool]string{true: "ok", false: "error"}[c.Error == ""])
		if c.Token != token || c.Instance != instance && c.Error == "" {
			t.Errorf("call %+v: want token %s, instance %s", c, token, instance)
		}
	}
	want := "RecordLifecycleActionHeartbeat//ok CompleteLifecycleAction/MAYBE/error CompleteLifecycleAction/CONTINUE/ok CompleteLifecycleAction/CONTINUE/error"
	if strings.Join(got, " ") != want {
		t.Errorf("calls %s\nwant  %s", strings.Join(got, " "), want)
	}

	// Without heartbeats, an action times out after the hook's timeout.
	late, err := m.BeginLifecycleAction(group, hook, instance, "autoscaling:EC2_INSTANCE_TERMINATING")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if err := complete(late, "CONTINUE"); !isValidation(err, "No active Lifecycle Action") {
		t.Errorf("completion after the heartbeat timeout: %v", err)
	}
	actions, err := m.LifecycleActions()
	if err != nil || len(actions) != 2 || actions[0].State != "completed" || actions[1].State != "timed_out" || actions[1].Result != "ABANDON" {
		t.Errorf("actions %+v, %v: want completed, then timed_out with the default ABANDON", actions, err)
	}
	m.Use(t)
	if calls, _ := m.LifecycleCalls(); len(calls) != 0 {
		t.Errorf("reset left %d calls", len(calls))
	}
}

func isValidation(err error, text string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), text)
}
