package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/testenv"
)

// signal makes the scenario's notice appear at signalAt: in the agent's
// instance metadata (a new AEMM behind its IMDS proxy), on the queue, or
// both.
func (r *run) signal(ctx context.Context, signalAt time.Time) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Until(signalAt)):
	}
	r.mu.Lock()
	notice := r.noticeAt
	r.mu.Unlock()
	deadline := r.sc.Deadline(notice)
	if r.sc.Mode != Controller {
		r.imdsNotice(deadline)
	}
	if r.sc.Mode != Agent {
		r.queueNotice(ctx, notice, deadline)
	}
	if r.sc.Signal == MaintenanceCanceled {
		r.at(ctx, notice.Add(20*time.Second), func() {
			if r.switchAEMM("events", "--imdsv2", "-o", "system-reboot", "-b", rfc3339(deadline), "-t", "canceled") {
				r.mu.Lock()
				r.withdrawnAt = time.Now()
				r.mu.Unlock()
				r.note("maintenance event canceled in IMDS")
			}
		})
	}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// imdsNotice starts the AEMM that serves the scenario's notice and points
// the agent's IMDS proxy at it.
func (r *run) imdsNotice(deadline time.Time) {
	switch r.sc.Signal {
	case Spot, SpotEverywhere:
		r.switchAEMM("spot", "--imdsv2", "-t", rfc3339(deadline), "--rebalance-delay-sec", "100000")
	case RebalanceThenSpot:
		r.switchAEMM("spot", "--imdsv2", "--rebalance-delay-sec", "0", "-d", strconv.Itoa(int(rebalanceLead.Seconds())), "-t", rfc3339(deadline))
	case Maintenance, MaintenanceCanceled:
		r.switchAEMM("events", "--imdsv2", "-o", "system-reboot", "-b", rfc3339(deadline), "-t", "active")
	case ASGTerminated:
		r.switchAEMM("asglifecycle", "--imdsv2", "--asg-termination-delay-sec", "0")
	}
}

// switchAEMM starts AEMM with args and sends the agent's metadata requests
// to it from now on.
func (r *run) switchAEMM(args ...string) bool {
	var a *testenv.AEMM
	var err error
	for range 3 { // a free port taken by another process between the probe and AEMM's bind
		if a, err = testenv.StartAEMMProcess(args...); err == nil {
			break
		}
	}
	if err != nil {
		r.note("AEMM %v did not start: %v", args, err)
		return false
	}
	r.mu.Lock()
	r.aemms = append(r.aemms, a)
	r.mu.Unlock()
	if err := r.imds.SetTarget(a.URL); err != nil {
		r.note("switching IMDS: %v", err)
		return false
	}
	r.note("IMDS now serves %v", args)
	return true
}

// queueNotice sends the scenario's EventBridge message (and its
// duplicates and rebalance recommendations) to the soak's queue.
func (r *run) queueNotice(ctx context.Context, notice, deadline time.Time) {
	var body string
	switch r.sc.Signal {
	case SpotWarning, SpotEverywhere:
		body = eventBody("EC2 Spot Instance Interruption Warning", "aws.ec2", notice,
			map[string]any{"instance-id": r.inst.ID, "instance-action": "terminate"})
	case StateChange:
		body = eventBody("EC2 Instance State-change Notification", "aws.ec2", notice,
			map[string]any{"instance-id": r.inst.ID, "state": r.sc.StateName})
	case HealthChange:
		body = eventBody("AWS Health Event", "aws.health", notice, map[string]any{
			"eventArn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/" + r.node, "service": "EC2",
			"eventTypeCode": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "eventTypeCategory": "scheduledChange",
			"startTime":        deadline.UTC().Format(time.RFC1123),
			"eventDescription": []map[string]string{{"language": "en_US", "latestDescription": "retirement"}},
			"affectedEntities": []map[string]string{{"entityValue": r.inst.ID}}})
	case ASGHook:
		token, err := moto.BeginLifecycleAction(r.group, "drain", r.inst.ID, lifecycle.Terminating)
		if err != nil {
			r.note("BeginLifecycleAction: %v", err)
			return
		}
		r.mu.Lock()
		r.token = token
		r.mu.Unlock()
		body = lifecycleBody(r.group, r.inst.ID, token, notice)
	default:
		return
	}
	r.w.send(ctx, body)
	r.note("message sent: %s", r.sc.Signal)
	q := r.sc.Queue
	for i := range q.Duplicates {
		r.at(ctx, notice.Add(time.Duration(3*(i+1))*time.Second), func() { r.w.send(ctx, body); r.note("duplicate %d sent", i+1) })
	}
	rebalance := func(at time.Time) string {
		return eventBody("EC2 Instance Rebalance Recommendation", "aws.ec2", at, map[string]any{"instance-id": r.inst.ID})
	}
	if q.OutOfOrder {
		r.at(ctx, notice.Add(time.Second), func() { r.w.send(ctx, rebalance(notice.Add(-30*time.Second))); r.note("older rebalance sent") })
	}
	if q.RebalanceAfter {
		r.at(ctx, notice.Add(5*time.Second), func() { r.w.send(ctx, rebalance(notice.Add(5*time.Second))); r.note("newer rebalance sent") })
	}
}

// eventBody is an EventBridge event as it arrives on the queue.
func eventBody(detailType, source string, at time.Time, detail any) string {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": strconv.FormatInt(time.Now().UnixNano(), 36),
		"detail-type": detailType, "source": source, "account": "123456789012", "time": rfc3339(at),
		"region": testenv.MotoRegion, "resources": []string{}, "detail": detail})
	return string(b)
}

// lifecycleBody is the terminate lifecycle action's event.
func lifecycleBody(group, instance, token string, at time.Time) string {
	return eventBody("EC2 Instance-terminate Lifecycle Action", "aws.autoscaling", at, map[string]any{
		"Origin": "AutoScalingGroup", "Destination": "EC2", "LifecycleActionToken": token, "AutoScalingGroupName": group,
		"LifecycleHookName": "drain", "EC2InstanceId": instance, "LifecycleTransition": lifecycle.Terminating})
}

// send puts body on the soak's queue (retrying while moto is paused).
func (w *world) send(ctx context.Context, body string) {
	for range 60 {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := w.sqs.SendMessage(sctx, &sqs.SendMessageInput{QueueUrl: &w.queueURL, MessageBody: aws.String(body)})
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

var _ = fmt.Sprint
