package setup

import (
	"fmt"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/pkg/queue"
)

// sampleInstance is the instance every sample event names.
const sampleInstance = "i-0123456789abcdef0"

// samples holds, per detail-type, the detail of one event of that kind that
// yields a notice (shapes as AWS documents them, see pkg/queue). A kind that
// pkg/queue adds without a sample here fails TestRulesCoverParsers.
var samples = map[string]string{
	"EC2 Spot Instance Interruption Warning": `{"instance-id":"` + sampleInstance + `","instance-action":"terminate"}`,
	"EC2 Instance Rebalance Recommendation":  `{"instance-id":"` + sampleInstance + `"}`,
	"EC2 Instance State-change Notification": `{"instance-id":"` + sampleInstance + `","state":"shutting-down"}`,
	"AWS Health Event": `{"eventArn":"arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/abc",` +
		`"service":"EC2","eventTypeCode":"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED","eventTypeCategory":"scheduledChange",` +
		`"startTime":"Sat, 05 Dec 2026 15:10:09 GMT","affectedEntities":[{"entityValue":"` + sampleInstance + `"}]}`,
	"EC2 Instance-terminate Lifecycle Action": lifecycleSample("autoscaling:EC2_INSTANCE_TERMINATING"),
	"EC2 Instance-launch Lifecycle Action":    lifecycleSample("autoscaling:EC2_INSTANCE_LAUNCHING"),
}

func lifecycleSample(transition string) string {
	return fmt.Sprintf(`{"LifecycleActionToken":"87654321-4321-4321-4321-210987654321","AutoScalingGroupName":"nodes",`+
		`"LifecycleHookName":"drain","EC2InstanceId":%q,"LifecycleTransition":%q}`, sampleInstance, transition)
}

// outside holds, per message type, details of events of that kind that a
// rule's narrowing keeps out of the queue: pkg/queue must parse each into no
// notice, or the narrowing would lose a signal.
var outside = map[string][]string{
	queue.TypeStateChange: {
		`{"instance-id":"` + sampleInstance + `","state":"pending"}`,
		`{"instance-id":"` + sampleInstance + `","state":"running"}`,
	},
	queue.TypeHealth: {
		`{"eventArn":"arn:aws:health:us-east-1::event/RDS/X/abc","service":"RDS","eventTypeCode":"AWS_RDS_MAINTENANCE_SCHEDULED",` +
			`"eventTypeCategory":"scheduledChange","startTime":"Sat, 05 Dec 2026 15:10:09 GMT","affectedEntities":[{"entityValue":"` + sampleInstance + `"}]}`,
		`{"eventArn":"arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/abc","service":"EC2","eventTypeCode":"AWS_EC2_OPERATIONAL_ISSUE",` +
			`"eventTypeCategory":"issue","startTime":"Sat, 05 Dec 2026 15:10:09 GMT","affectedEntities":[{"entityValue":"` + sampleInstance + `"}]}`,
	},
}

// envelope wraps a detail as EventBridge delivers it to SQS.
func envelope(source, detailType, detail string) []byte {
	return fmt.Appendf(nil, `{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":%q,"source":%q,`+
		`"account":"123456789012","time":%q,"region":"us-east-1","resources":[],"detail":%s}`,
		detailType, source, time.Now().UTC().Format(time.RFC3339), detail)
}

// mustParse parses body and fails the test on an error.
func mustParse(t *testing.T, body []byte) queue.Message {
	t.Helper()
	m, err := queue.Parse(body)
	if err != nil {
		t.Fatalf("queue.Parse: %v\n%s", err, body)
	}
	return m
}
