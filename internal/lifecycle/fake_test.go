package lifecycle

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

// call is one Auto Scaling call the fake received.
type call struct {
	api, token, result string
	at                 time.Duration // after t0 on the fake clock
}

// fakeASG records calls on the fake clock; fail, if set, answers a call
// with an error instead (n counts the earlier attempts of that api).
type fakeASG struct {
	clock    *clocktesting.FakeClock
	timeout  int32
	mu       sync.Mutex
	calls    []call
	attempts map[string]int
	describe int
	fail     func(api string, n int) error
}

func (f *fakeASG) record(api, token, result string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.attempts == nil {
		f.attempts = map[string]int{}
	}
	n := f.attempts[api]
	f.attempts[api]++
	if f.fail != nil {
		if err := f.fail(api, n); err != nil {
			return err
		}
	}
	f.calls = append(f.calls, call{api: api, token: token, result: result, at: f.clock.Now().Sub(t0)})
	return nil
}

func (f *fakeASG) CompleteLifecycleAction(_ context.Context, in *autoscaling.CompleteLifecycleActionInput, _ ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error) {
	return &autoscaling.CompleteLifecycleActionOutput{}, f.record("complete", aws.ToString(in.LifecycleActionToken), aws.ToString(in.LifecycleActionResult))
}

func (f *fakeASG) RecordLifecycleActionHeartbeat(_ context.Context, in *autoscaling.RecordLifecycleActionHeartbeatInput, _ ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error) {
	return &autoscaling.RecordLifecycleActionHeartbeatOutput{}, f.record("heartbeat", aws.ToString(in.LifecycleActionToken), "")
}

func (f *fakeASG) DescribeLifecycleHooks(_ context.Context, in *autoscaling.DescribeLifecycleHooksInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeLifecycleHooksOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.describe++
	return &autoscaling.DescribeLifecycleHooksOutput{LifecycleHooks: []astypes.LifecycleHook{{LifecycleHookName: aws.String(in.LifecycleHookNames[0]),
		AutoScalingGroupName: in.AutoScalingGroupName, HeartbeatTimeout: aws.Int32(f.timeout), GlobalTimeout: aws.Int32(172800)}}}, nil
}

// seen returns the calls so far, as "api@offset" ("complete:CONTINUE@5m0s").
func (f *fakeASG) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		s := c.api
		if c.result != "" {
			s += ":" + c.result
		}
		out = append(out, s+"@"+c.at.String())
	}
	return out
}

var validation = &smithy.GenericAPIError{Code: "ValidationError", Message: "No active Lifecycle Action found with token t"}

type rig struct {
	m    *Manager
	asg  *fakeASG
	kube *fake.Clientset
	fc   *clocktesting.FakeClock
}

func newRig(t *testing.T, timeout int32, cfg Config) *rig {
	t.Helper()
	fc := clocktesting.NewFakeClock(t0)
	asg := &fakeASG{clock: fc, timeout: timeout}
	kube := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	m, err := New(cfg, asg, kube, fc, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{m: m, asg: asg, kube: kube, fc: fc}
}

// runTo steps the fake clock one second at a time to t0 + d, letting the
// goroutines waiting on it run between steps.
func (r *rig) runTo(t *testing.T, d time.Duration) {
	t.Helper()
	for r.fc.Now().Before(t0.Add(d)) {
		settle(r.fc)
		r.fc.Step(time.Second)
	}
	settle(r.fc)
}

// settle gives goroutines woken by the fake clock time to call and wait again.
func settle(fc *clocktesting.FakeClock) {
	for i := 0; i < 20 && !fc.HasWaiters(); i++ {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(2 * time.Millisecond)
}

func action(transition string) Action {
	return Action{InstanceID: "i-0123456789abcdef0", Transition: transition, Token: "t", Hook: "drain", Group: "nodes", EventTime: t0}
}
