package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/internal/timeline"
)

// eventBody is an EventBridge event as EventBridge delivers it to an SQS
// queue (the envelope's shape from AWS's EventBridge documentation).
func eventBody(detailType, source string, at time.Time, detail string) string {
	return fmt.Sprintf(`{"version":"0","id":"demo-%d","detail-type":%q,"source":%q,"account":"123456789012","time":%q,"region":%q,"resources":[],"detail":%s}`,
		at.UnixNano(), detailType, source, at.UTC().Format(time.RFC3339), testenv.MotoRegion, detail)
}

// spotWarning is EC2's Spot interruption warning for instance, sent at at
// (the instance goes 2 minutes later).
func spotWarning(instance string, at time.Time) string {
	return eventBody("EC2 Spot Instance Interruption Warning", "aws.ec2", at,
		fmt.Sprintf(`{"instance-id":%q,"instance-action":"terminate"}`, instance))
}

// terminateAction is Auto Scaling's terminate lifecycle action event for
// instance, with the action's token.
func terminateAction(instance, token string, at time.Time) string {
	return eventBody("EC2 Instance-terminate Lifecycle Action", "aws.autoscaling", at,
		fmt.Sprintf(`{"Origin":"AutoScalingGroup","Destination":"EC2","LifecycleActionToken":%q,"AutoScalingGroupName":%q,`+
			`"LifecycleHookName":%q,"EC2InstanceId":%q,"LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING"}`,
			token, groupName, hookName, instance))
}

// completion is how the lifecycle action ended, as moto recorded it.
type completion struct {
	Time          time.Time // of the CompleteLifecycleAction call; zero if none
	State, Result string    // moto's action state and result
}

// watchAction prints the heartbeats and the completion moto records for the
// action with token, polling until it is no longer pending or until; the
// channel then yields how it ended.
func watchAction(ctx context.Context, moto *testenv.Moto, token string, p *timeline.Printer, node string, until time.Time) <-chan completion {
	out := make(chan completion, 1)
	go func() {
		var end completion
		seen := 0
		for time.Now().Before(until) && ctx.Err() == nil {
			calls, err := moto.LifecycleCalls()
			if err == nil {
				for _, c := range calls[min(seen, len(calls)):] {
					if c.Token != token || c.Error != "" {
						continue
					}
					if c.Action == "RecordLifecycleActionHeartbeat" {
						p.Line(c.Time, "[%s] lifecycle heartbeat: the instance stays held %ds more", node, hookBeat)
					} else {
						end.Time = c.Time
						p.Line(c.Time, "[%s] lifecycle action completed: %s (Auto Scaling terminates the instance now)", node, c.Result)
					}
				}
				seen = len(calls)
			}
			if acts, err := moto.LifecycleActions(); err == nil {
				for _, a := range acts {
					if a.Token == token {
						end.State, end.Result = a.State, a.Result
					}
				}
			}
			if end.State != "" && end.State != "pending" {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		out <- end
	}()
	return out
}

// lines serializes the timelines of several nodes onto stdout.
type lines struct{ mu sync.Mutex }

// labeled returns a writer for a timeline.Printer whose lines get "[label]"
// after their time column ("" for none); the follower's "detected by the
// agent" reads "by the controller" here.
func (l *lines) labeled(label string) *labeledWriter { return &labeledWriter{l: l, label: label} }

type labeledWriter struct {
	l     *lines
	label string
}

func (w *labeledWriter) Write(b []byte) (int, error) {
	n := len(b)
	if w.label != "" {
		if i := bytes.Index(b, []byte("s  ")); i >= 0 { // after "%+9.3fs  "
			b = append(append(append([]byte{}, b[:i+3]...), "["+w.label+"] "...), b[i+3:]...)
		}
	}
	b = bytes.Replace(b, []byte("detected by the agent"), []byte("received by the controller"), 1)
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	_, err := os.Stdout.Write(b)
	return n, err
}
