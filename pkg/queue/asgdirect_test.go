package queue

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestParseDirectNotifications: an ASG → SQS notification without the
// EventBridge envelope gives the notice its EventBridge event would (same
// ID, so the two routes dedupe); the test notification is a lifecycle
// message with no notices; broken ones are malformed, saying what is wrong.
func TestParseDirectNotifications(t *testing.T) {
	const token = "87654321-4321-4321-4321-210987654321"
	eventBridge, err := Parse(fixture(t, "asg-terminate.json"))
	if err != nil {
		t.Fatal(err)
	}
	direct := func(fields string) string {
		return `{"Service":"AWS Auto Scaling","AccountId":"123456789012","RequestId":"r-1","AutoScalingGroupName":"my-asg",` + fields + `}`
	}
	for _, tc := range []struct {
		name, body string
		want       Message
		wantErr    string
	}{
		{name: "terminate fixture", body: string(fixture(t, "asg-direct-terminate.json")), want: Message{Type: TypeLifecycle, Source: "aws.autoscaling",
			DetailType: "autoscaling:EC2_INSTANCE_TERMINATING", EventID: "6a1b3c5d-2e4f-4a6b-8c0d-1e2f3a4b5c6d", Time: at("2026-12-01T12:10:00.412Z"),
			Notices: []Notice{{InstanceID: inst, Kind: LifecycleAction, Action: "autoscaling:EC2_INSTANCE_TERMINATING",
				ID: eventBridge.Notices[0].ID, EventTime: at("2026-12-01T12:10:00.412Z"),
				Lifecycle: &Lifecycle{Transition: "autoscaling:EC2_INSTANCE_TERMINATING", Token: token, Hook: "my-lifecycle-hook", Group: "my-asg"}}}}},
		{name: "test fixture", body: string(fixture(t, "asg-test-notification.json")), want: Message{Type: TypeLifecycle, Source: "aws.autoscaling",
			DetailType: ASGTestNotification, EventID: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", Time: at("2026-12-01T12:00:00.962Z")}},
		{name: "test with transition and no time", body: `{"Event":"autoscaling:TEST_NOTIFICATION","LifecycleTransition":"autoscaling:TEST_NOTIFICATION"}`,
			want: Message{Type: TypeLifecycle, Source: "aws.autoscaling", DetailType: ASGTestNotification}},
		{name: "launch", body: direct(`"Time":"2026-12-01T12:00:00Z","LifecycleHookName":"join","EC2InstanceId":"i-12345678",` +
			`"LifecycleTransition":"autoscaling:EC2_INSTANCE_LAUNCHING","LifecycleActionToken":"t-1"`),
			want: Message{Type: TypeLifecycle, Source: "aws.autoscaling", DetailType: "autoscaling:EC2_INSTANCE_LAUNCHING", EventID: "r-1",
				Time: at("2026-12-01T12:00:00Z"), Notices: []Notice{{InstanceID: "i-12345678", Kind: LifecycleAction,
					Action: "autoscaling:EC2_INSTANCE_LAUNCHING", ID: "queue/LifecycleAction/i-12345678/t-1", EventTime: at("2026-12-01T12:00:00Z"),
					Lifecycle: &Lifecycle{Transition: "autoscaling:EC2_INSTANCE_LAUNCHING", Token: "t-1", Hook: "join", Group: "my-asg"}}}}},
		{name: "no token", body: direct(`"Time":"2026-12-01T12:00:00Z","LifecycleHookName":"h","EC2InstanceId":"i-12345678",` +
			`"LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING"`), wantErr: "without LifecycleActionToken"},
		{name: "bad instance", body: direct(`"Time":"2026-12-01T12:00:00Z","LifecycleHookName":"h","EC2InstanceId":"web-1",` +
			`"LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING","LifecycleActionToken":"t"`), wantErr: "not an EC2 instance ID"},
		{name: "bad time", body: direct(`"Time":"yesterday","LifecycleHookName":"h","EC2InstanceId":"i-12345678",` +
			`"LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING","LifecycleActionToken":"t"`), wantErr: "Time \"yesterday\" is not RFC 3339"},
		{name: "other transition", body: direct(`"Time":"2026-12-01T12:00:00Z","LifecycleHookName":"h","EC2InstanceId":"i-12345678",` +
			`"LifecycleTransition":"autoscaling:EC2_INSTANCE_WARMING","LifecycleActionToken":"t"`), wantErr: "is not autoscaling:EC2_INSTANCE_TERMINATING"},
		{name: "other event", body: direct(`"Event":"autoscaling:EC2_INSTANCE_LAUNCH","Time":"2026-12-01T12:00:00Z"`), wantErr: "the only one a lifecycle hook sends"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.body))
			if tc.wantErr != "" {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) || m.Type != TypeLifecycle || m.Notices != nil {
					t.Fatalf("Parse: %+v, %v; want a malformed lifecycle message saying %q", m, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("Parse:\n got %+v, %v\nwant %+v", m, err, tc.want)
			}
		})
	}
}

// TestParseNotDirect: a body that is neither an EventBridge event nor an
// Auto Scaling notification is still malformed as before.
func TestParseNotDirect(t *testing.T) {
	for _, body := range []string{`{}`, `{"Time":"2026-12-01T12:00:00Z"}`, `{"Service":"Amazon S3","Event":"s3:TestEvent"}`,
		`{"Service":"AWS Auto Scaling","source":"aws.autoscaling"}`} {
		if m, err := Parse([]byte(body)); !errors.Is(err, ErrMalformed) || m.Type != TypeMalformed {
			t.Errorf("%s: %+v, %v; want TypeMalformed", body, m, err)
		}
	}
}
