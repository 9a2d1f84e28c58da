package setup

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/queue"
)

// TestTemplateRoutesEveryKindOnMoto creates a stack from the printed template
// in moto's CloudFormation, puts one event of each kind pkg/queue parses on
// the default bus, and sees each arrive in the stack's queue once and parse
// into a notice; the events a rule's narrowing keeps out do not arrive. It
// also reads back the queue's attributes and the controller policy as IAM
// stored it, attached to the role named by the template's parameter.
//
// moto's CloudFormation does not implement AWS::SQS::QueuePolicy (it skips
// it with a warning) and its EventBridge does not check queue policies, so
// the queue policy is checked by TestPolicies and the golden file only.
func TestTemplateRoutesEveryKindOnMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto")
	}
	m := testenv.StartMoto(t)
	m.Use(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := m.Config()
	cfn, eb, q, iamc := cloudformation.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg), iam.NewFromConfig(cfg)

	const role = "spot-handler-controller"
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	plan := mustNew(t, Config{Cluster: "moto-test"})
	body, err := plan.CloudFormation()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("spot-handler-moto-test"),
		TemplateBody: aws.String(string(body)), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
		Parameters: []cfntypes.Parameter{{ParameterKey: aws.String(RoleParameter), ParameterValue: aws.String(role)}}}); err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	outputs := waitStack(ctx, t, cfn, "spot-handler-moto-test")
	queueURL, queueARN, policyARN := outputs[OutputQueueURL], outputs[OutputQueueARN], outputs[OutputPolicyARN]
	if queueURL == "" || queueARN == "" || policyARN == "" {
		t.Fatalf("stack outputs %v: want %s, %s and %s", outputs, OutputQueueURL, OutputQueueARN, OutputPolicyARN)
	}

	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &queueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	if a := attrs.Attributes; a["MessageRetentionPeriod"] != "345600" || a["SqsManagedSseEnabled"] != "true" {
		t.Errorf("queue attributes %v: want retention 345600 (4 days, the longest hold) and SSE on", a)
	}
	checkStoredPolicy(ctx, t, iamc, policyARN, queueARN, role)

	var entries []ebtypes.PutEventsRequestEntry
	for _, r := range plan.Rules {
		entries = append(entries, entry(r, samples[r.Pattern.DetailType[0]]))
		for _, out := range outside[r.Type] {
			entries = append(entries, entry(r, out))
		}
	}
	put, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil || put.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %v %+v", err, put)
	}

	arrived := map[string]int{}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		recv, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		for _, msg := range recv.Messages {
			parsed := mustParse(t, []byte(aws.ToString(msg.Body)))
			if len(parsed.Notices) == 0 {
				t.Errorf("%s arrived but makes no notice (a narrowing let it in): %s", parsed.DetailType, aws.ToString(msg.Body))
			}
			arrived[parsed.DetailType]++
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &queueURL, ReceiptHandle: msg.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		}
		if len(recv.Messages) == 0 && len(arrived) == len(plan.Rules) {
			break // everything is in and a further second brought nothing
		}
	}
	for _, k := range queue.EventKinds() {
		if arrived[k.DetailType] != 1 {
			t.Errorf("%s / %s: %d messages in the queue, want 1", k.Source, k.DetailType, arrived[k.DetailType])
		}
	}
	t.Logf("routed through the stack's rules: %v", arrived)
}

func entry(r Rule, detail string) ebtypes.PutEventsRequestEntry {
	return ebtypes.PutEventsRequestEntry{Source: aws.String(r.Pattern.Source[0]), DetailType: aws.String(r.Pattern.DetailType[0]),
		Detail: aws.String(detail), EventBusName: aws.String("default")}
}

// waitStack waits for the stack to be created and returns its outputs.
func waitStack(ctx context.Context, t *testing.T, cfn *cloudformation.Client, name string) map[string]string {
	t.Helper()
	for {
		out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeStacks: %v", err)
		}
		st := out.Stacks[0]
		switch st.StackStatus {
		case cfntypes.StackStatusCreateComplete:
			outputs := map[string]string{}
			for _, o := range st.Outputs {
				outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
			}
			return outputs
		case cfntypes.StackStatusCreateInProgress:
		default:
			t.Fatalf("stack %s: %s (%s)", name, st.StackStatus, aws.ToString(st.StackStatusReason))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stack %s not created: %v", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkStoredPolicy reads the controller policy as IAM stored it: its
// actions, the queue statement naming the stack's queue, and its attachment
// to the role.
func checkStoredPolicy(ctx context.Context, t *testing.T, iamc *iam.Client, policyARN, queueARN, role string) {
	t.Helper()
	pol, err := iamc.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &policyARN})
	if err != nil {
		t.Fatalf("GetPolicy: %v", err)
	}
	ver, err := iamc.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: &policyARN, VersionId: pol.Policy.DefaultVersionId})
	if err != nil {
		t.Fatalf("GetPolicyVersion: %v", err)
	}
	raw, err := url.QueryUnescape(aws.ToString(ver.PolicyVersion.Document))
	if err != nil {
		t.Fatal(err)
	}
	var doc PolicyDocument
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("stored policy is not a policy document: %v\n%s", err, raw)
	}
	if len(doc.Statement) == 0 || doc.Statement[0].Resource != queueARN || !slices.Equal(doc.Statement[0].Action, QueueActions) {
		t.Errorf("stored policy's first statement %+v: want %v on %s", doc.Statement, QueueActions, queueARN)
	}
	attached, err := iamc.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		t.Fatalf("ListAttachedRolePolicies: %v", err)
	}
	if !slices.ContainsFunc(attached.AttachedPolicies, func(p iamtypes.AttachedPolicy) bool { return aws.ToString(p.PolicyArn) == policyARN }) {
		t.Errorf("policy %s not attached to role %s: %+v", policyARN, role, attached.AttachedPolicies)
	}
}
