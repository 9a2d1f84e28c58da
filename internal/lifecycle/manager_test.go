package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func cfgWith(maxDrain, launch time.Duration) Config {
	c := DefaultConfig()
	c.MaxDrain, c.LaunchTimeout = maxDrain, launch
	return c
}

func TestTerminateHeldThenCompleted(t *testing.T) {
	tests := []struct {
		name    string
		timeout int32
		fail    func(api string, n int) error
		outcome Outcome
		stopAt  time.Duration // when Complete is called
		want    []string
	}{
		{"drained within the heartbeat timeout: no heartbeat", 3600, nil, Drained, 30 * time.Second,
			[]string{"complete:CONTINUE@30s"}},
		{"long drain: heartbeats every timeout/3", 60, nil, Drained, 70 * time.Second,
			[]string{"heartbeat@20s", "heartbeat@40s", "heartbeat@1m0s", "complete:CONTINUE@1m10s"}},
		{"a failed heartbeat is retried after interval/6", 60, func(api string, n int) error {
			if api == "heartbeat" && n == 0 {
				return errors.New("throttled")
			}
			return nil
		}, Drained, 30 * time.Second, []string{"heartbeat@24s", "complete:CONTINUE@30s"}},
		{"drain failed: completed at the deadline (2m), heartbeats until the hold covers it", 60, nil, DrainFailed, 10 * time.Second,
			[]string{"heartbeat@20s", "heartbeat@40s", "heartbeat@1m0s", "heartbeat@1m20s", "complete:CONTINUE@2m0s"}},
		{"action gone: heartbeats stop, no completion", 60, func(api string, n int) error {
			if api == "heartbeat" {
				return validation
			}
			return nil
		}, Drained, 70 * time.Second, nil},
		{"completion gone is no error", 60, func(api string, n int) error {
			if api == "complete" {
				return validation
			}
			return nil
		}, Drained, 5 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.timeout, cfgWith(2*time.Minute, 0))
			r.asg.fail = tt.fail
			ctx := context.Background()
			rec, err := r.m.Start(ctx, "n1", action(Terminating))
			if err != nil {
				t.Fatal(err)
			}
			if !rec.Deadline.Equal(t0.Add(2 * time.Minute)) {
				t.Errorf("deadline %v, want start + --lifecycle-max-drain", rec.Deadline.Sub(t0))
			}
			node, _ := r.kube.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
			if got, err := ReadRecord(node); err != nil || got == nil || got.Token != "t" || got.HeartbeatTimeout != int64(tt.timeout) {
				t.Fatalf("recorded %+v, %v", got, err)
			}
			r.runTo(t, tt.stopAt)
			done := make(chan error, 1)
			go func() { done <- r.m.Complete(ctx, "n1", tt.outcome) }()
			for {
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("Complete: %v", err)
					}
				default:
					r.runTo(t, r.fc.Now().Sub(t0)+time.Second)
					continue
				}
				break
			}
			r.runTo(t, r.fc.Now().Sub(t0)+time.Minute) // nothing more is sent
			got := r.asg.seen()
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("calls %v\nwant  %v", got, tt.want)
			}
			node, _ = r.kube.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
			if _, ok := node.Annotations[ActionAnnotation]; ok {
				t.Errorf("record left on the node after completion")
			}
		})
	}
}

func TestResumeBeatsAtOnceAndHooksReadOnce(t *testing.T) {
	r := newRig(t, 60, cfgWith(5*time.Minute, 0))
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := r.m.Start(ctx, "n1", action(Terminating)); err != nil {
		t.Fatal(err)
	}
	r.runTo(t, 25*time.Second)
	cancel() // the leader goes; its record stays on the node
	settle(r.fc)
	node, _ := r.kube.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})

	next, err := New(DefaultConfig(), r.asg, r.kube, r.fc, r.m.log, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.fc.Step(10 * time.Second) // takeover after 35s
	rec, err := next.Resume(context.Background(), node)
	if err != nil || rec == nil {
		t.Fatalf("Resume: %+v, %v", rec, err)
	}
	r.m = next
	r.runTo(t, 60*time.Second)
	if err := next.Complete(context.Background(), "n1", Drained); err != nil {
		t.Fatal(err)
	}
	want := "heartbeat@20s heartbeat@35s heartbeat@55s complete:CONTINUE@1m0s"
	if got := strings.Join(r.asg.seen(), " "); got != want {
		t.Errorf("calls %s\nwant  %s", got, want)
	}
	if r.asg.describe != 1 {
		t.Errorf("DescribeLifecycleHooks called %d times, want once (the record has the timeouts)", r.asg.describe)
	}
}

func TestCompleteUnknownAndNothingRecorded(t *testing.T) {
	r := newRig(t, 60, DefaultConfig())
	if err := r.m.CompleteUnknown(context.Background(), action(Terminating)); err != nil {
		t.Fatal(err)
	}
	if err := r.m.Complete(context.Background(), "n1", Drained); err != nil {
		t.Fatalf("Complete of a node without action: %v", err)
	}
	if got := strings.Join(r.asg.seen(), " "); got != "complete:CONTINUE@0s" {
		t.Errorf("calls %s, want one CONTINUE at once", got)
	}
	if _, err := r.m.Start(context.Background(), "n1", action(Launching)); err == nil {
		t.Error("Start took a launch action")
	}
	if err := r.m.CompleteUnknown(context.Background(), Action{InstanceID: "i-1", Transition: Terminating}); err == nil {
		t.Error("an action without token, hook and group was accepted")
	}
}

func TestLaunch(t *testing.T) {
	ready := func(at time.Duration, fc interface{ Now() time.Time }) NodeFinder {
		return func(id string) (*corev1.Node, bool) {
			if fc.Now().Before(t0.Add(at)) {
				return nil, false
			}
			return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n-" + id},
				Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}, true
		}
	}
	tests := []struct {
		name    string
		readyAt time.Duration
		result  Result
		want    string
	}{
		{"Ready after 50s: CONTINUE, heartbeats meanwhile", 50 * time.Second, Continue, "heartbeat@20s heartbeat@40s complete:CONTINUE@50s"},
		{"never Ready: ABANDON at the launch timeout", time.Hour, Abandon, "heartbeat@20s heartbeat@40s heartbeat@1m0s complete:ABANDON@1m30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 60, cfgWith(0, 90*time.Second))
			type res struct {
				r   Result
				err error
			}
			done := make(chan res, 2)
			for range 2 { // a second delivery joins the first
				go func() {
					got, err := r.m.Launch(context.Background(), action(Launching), ready(tt.readyAt, r.fc))
					done <- res{got, err}
				}()
			}
			for got := 0; got < 2; {
				select {
				case x := <-done:
					if x.err != nil || x.r != tt.result {
						t.Fatalf("Launch = %s, %v; want %s", x.r, x.err, tt.result)
					}
					got++
				default:
					r.runTo(t, r.fc.Now().Sub(t0)+time.Second)
				}
			}
			if got := strings.Join(r.asg.seen(), " "); got != tt.want {
				t.Errorf("calls %s\nwant  %s", got, tt.want)
			}
		})
	}
}
