package testenv

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// motoForTest starts moto for a test (skipped under -short), resets it
// for the test, and returns it with a context that ends after a minute or
// with the test.
func motoForTest(t *testing.T) (*Moto, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts moto")
	}
	m := StartMoto(t)
	m.Use(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return m, ctx
}

// TestMoto checks what the controller's tests rely on in moto, with the
// SDK the controller uses: SQS's JSON protocol, EC2 instances with private
// DNS names and zones, an EventBridge rule delivering to SQS, and a reset
// that drops everything.
func TestMoto(t *testing.T) {
	m, ctx := motoForTest(t)
	cfg := m.Config()
	q, eb, e := sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg), ec2.NewFromConfig(cfg)

	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("events")})
	if err != nil {
		t.Fatalf("CreateQueue (SQS JSON protocol): %v", err)
	}
	url := aws.ToString(created.QueueUrl)
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}

	run, err := e.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		InstanceType: ec2types.InstanceTypeM5Large, Placement: &ec2types.Placement{AvailabilityZone: aws.String("us-east-1b")},
		InstanceMarketOptions: &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot}})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	desc, err := e.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	got := desc.Reservations[0].Instances[0]
	if dns := aws.ToString(got.PrivateDnsName); !strings.HasPrefix(dns, "ip-") || aws.ToString(got.Placement.AvailabilityZone) != "us-east-1b" {
		t.Errorf("instance %s: private DNS %q, zone %q", id, dns, aws.ToString(got.Placement.AvailabilityZone))
	}
	t.Logf("instance %s: %s in %s, lifecycle %q", id, aws.ToString(got.PrivateDnsName), aws.ToString(got.Placement.AvailabilityZone), got.InstanceLifecycle)

	pattern := `{"source":["aws.ec2"],"detail-type":["EC2 Spot Instance Interruption Warning"]}`
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("spot"), EventPattern: &pattern}); err != nil {
		t.Fatalf("PutRule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("spot"),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatalf("PutTargets: %v", err)
	}
	detail := `{"instance-id":"` + id + `","instance-action":"terminate"}`
	put, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("aws.ec2"), DetailType: aws.String("EC2 Spot Instance Interruption Warning"), Detail: &detail}}})
	if err != nil || put.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %v %+v", err, put)
	}
	recv, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 5, MaxNumberOfMessages: 10})
	if err != nil || len(recv.Messages) != 1 {
		t.Fatalf("ReceiveMessage: %v, %d messages", err, len(recv.Messages))
	}
	var ev struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Time       string          `json:"time"`
		Detail     json.RawMessage `json:"detail"`
	}
	body := aws.ToString(recv.Messages[0].Body)
	if err := json.Unmarshal([]byte(body), &ev); err != nil || ev.Source != "aws.ec2" || !strings.Contains(string(ev.Detail), id) {
		t.Errorf("delivered event %s: %v", body, err)
	}
	t.Logf("EventBridge delivered: %s", body)
	if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: recv.Messages[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}

	m.Use(t)
	if list, err := q.ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil || len(list.QueueUrls) != 0 {
		t.Errorf("after reset: queues %v, %v", list, err)
	}
}
