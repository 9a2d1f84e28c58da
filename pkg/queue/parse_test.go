package queue

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

const inst = "i-0abcdef1234567890"

func TestParseFixtures(t *testing.T) {
	for _, tc := range []struct {
		file, typ string
		want      []Notice
	}{
		{"spot.json", TypeSpotInterruption, []Notice{{InstanceID: inst, Kind: SpotInterruption, Action: "terminate",
			ID: "queue/SpotInterruption/" + inst, Deadline: at("2026-12-01T12:02:00Z"), EventTime: at("2026-12-01T12:00:00Z")}}},
		{"rebalance.json", TypeRebalance, []Notice{{InstanceID: inst, Kind: RebalanceRecommendation,
			ID: "queue/RebalanceRecommendation/" + inst, EventTime: at("2026-12-01T11:58:30Z")}}},
		{"state-shutting-down.json", TypeStateChange, []Notice{{InstanceID: inst, Kind: InstanceStateChange, Action: "shutting-down",
			ID: "queue/InstanceStateChange/" + inst + "/shutting-down", Deadline: at("2026-12-01T12:02:05Z"), EventTime: at("2026-12-01T12:02:05Z")}}},
		{"state-running.json", TypeStateChange, nil},
		{"health.json", TypeHealth, []Notice{
			{InstanceID: inst, Kind: ScheduledMaintenance, Action: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
				ID: healthID(inst), Deadline: at("2026-12-02T12:00:00Z"), EventTime: at("2026-12-01T10:00:00Z"),
				Description: "EC2 has detected degradation of the underlying hardware hosting your instances."},
			{InstanceID: "i-0fedcba9876543210", Kind: ScheduledMaintenance, Action: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
				ID: healthID("i-0fedcba9876543210"), Deadline: at("2026-12-02T12:00:00Z"), EventTime: at("2026-12-01T10:00:00Z"),
				Description: "EC2 has detected degradation of the underlying hardware hosting your instances."},
		}},
		{"health-issue.json", TypeHealth, nil},
		{"asg-terminate.json", TypeLifecycle, []Notice{{InstanceID: inst, Kind: LifecycleAction, Action: "autoscaling:EC2_INSTANCE_TERMINATING",
			ID: "queue/LifecycleAction/" + inst + "/87654321-4321-4321-4321-210987654321", EventTime: at("2026-12-01T12:10:00Z"),
			Lifecycle: &Lifecycle{Transition: "autoscaling:EC2_INSTANCE_TERMINATING", Token: "87654321-4321-4321-4321-210987654321",
				Hook: "my-lifecycle-hook", Group: "my-asg"}}}},
		{"unknown.json", TypeUnknown, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, err := Parse(fixture(t, tc.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.Type != tc.typ {
				t.Errorf("type %q, want %q", m.Type, tc.typ)
			}
			if !reflect.DeepEqual(m.Notices, tc.want) {
				t.Errorf("notices\n got %+v\nwant %+v", m.Notices, tc.want)
			}
			if m.Source == "" || m.DetailType == "" || m.EventID == "" {
				t.Errorf("envelope fields missing: %+v", m)
			}
		})
	}
}

func healthID(instance string) string {
	return noticeID(ScheduledMaintenance, instance,
		"arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_90353408594353980")
}

// event builds an envelope around a detail.
func event(source, detailType, time, detail string) []byte {
	return []byte(`{"version":"0","id":"e-1","detail-type":"` + detailType + `","source":"` + source +
		`","account":"1","time":"` + time + `","region":"us-east-1","resources":[],"detail":` + detail + `}`)
}

func TestParseMalformed(t *testing.T) {
	const spotType, stateType = "EC2 Spot Instance Interruption Warning", "EC2 Instance State-change Notification"
	const now = "2026-12-01T12:00:00Z"
	for _, tc := range []struct {
		name, body, typ, want string
	}{
		{"empty", ``, TypeMalformed, "not an EventBridge event"},
		{"not JSON", `hello`, TypeMalformed, "not an EventBridge event"},
		{"array", `[1,2]`, TypeMalformed, "not an EventBridge event"},
		{"trailing data", string(event("aws.ec2", spotType, now, `{"instance-id":"i-12345678","instance-action":"stop"}`)) + `{}`, TypeMalformed, "data after"},
		{"no source", `{"detail-type":"x","time":"` + now + `","detail":{}}`, TypeMalformed, "no source or detail-type"},
		{"bad time", string(event("aws.ec2", spotType, "yesterday", `{}`)), TypeSpotInterruption, "not RFC 3339"},
		{"no detail", `{"source":"aws.ec2","detail-type":"` + spotType + `","time":"` + now + `"}`, TypeSpotInterruption, "no detail"},
		{"null detail", string(event("aws.ec2", spotType, now, `null`)), TypeSpotInterruption, "no detail"},
		{"detail string", string(event("aws.ec2", spotType, now, `"x"`)), TypeSpotInterruption, "detail is not"},
		{"bad instance", string(event("aws.ec2", spotType, now, `{"instance-id":"node-1","instance-action":"stop"}`)), TypeSpotInterruption, "not an EC2 instance ID"},
		{"upper-case instance", string(event("aws.ec2", spotType, now, `{"instance-id":"i-0ABCDEF1234567890","instance-action":"stop"}`)), TypeSpotInterruption, "not an EC2 instance ID"},
		{"bad action", string(event("aws.ec2", spotType, now, `{"instance-id":"i-12345678","instance-action":"explode"}`)), TypeSpotInterruption, "not terminate, stop or hibernate"},
		{"bad state", string(event("aws.ec2", stateType, now, `{"instance-id":"i-12345678","state":"gone"}`)), TypeStateChange, "is not one of pending"},
		{"health bad start", string(event("aws.health", "AWS Health Event", now,
			`{"eventArn":"a","service":"EC2","eventTypeCode":"X","eventTypeCategory":"scheduledChange","startTime":"soon"}`)), TypeHealth, "startTime"},
		{"lifecycle no token", string(event("aws.autoscaling", "EC2 Instance-terminate Lifecycle Action", now,
			`{"EC2InstanceId":"i-12345678","LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING"}`)), TypeLifecycle, "without LifecycleActionToken"},
		{"huge", strings.Repeat(" ", MaxBody+1), TypeMalformed, "over the"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.body))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if m.Type != tc.typ || m.Notices != nil {
				t.Errorf("message %+v, want type %q and no notices", m, tc.typ)
			}
		})
	}
}

func TestParseVariants(t *testing.T) {
	const now = "2026-12-01T12:00:00+01:00"
	// A non-UTC event time is read and stored in UTC; 8-digit instance IDs are valid.
	m, err := Parse(event("aws.ec2", "EC2 Spot Instance Interruption Warning", now, `{"instance-id":"i-1234abcd","instance-action":"hibernate"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Notices[0].Deadline; !got.Equal(at("2026-12-01T11:02:00Z")) || got.Location() != time.UTC {
		t.Errorf("deadline %v, want 11:02 UTC", got)
	}
	// A Health start time in RFC 3339, a repeated entity listed once, a
	// description in another language kept when there is no en_US one.
	m, err = Parse(event("aws.health", "AWS Health Event", now, `{"eventArn":"arn:x","service":"EC2","eventTypeCode":"AWS_EC2_MAINTENANCE_SCHEDULED",`+
		`"eventTypeCategory":"scheduledChange","startTime":"2026-12-03T00:00:00Z","eventDescription":[{"language":"de_DE","latestDescription":"Wartung"}],`+
		`"affectedEntities":[{"entityValue":"i-1234abcd"},{"entityValue":"i-1234abcd"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Notices) != 1 || !m.Notices[0].Deadline.Equal(at("2026-12-03T00:00:00Z")) || m.Notices[0].Description != "Wartung" {
		t.Errorf("notices %+v", m.Notices)
	}
	// Another service's scheduled change is no notice for us.
	m, err = Parse(event("aws.health", "AWS Health Event", now, `{"eventArn":"arn:x","service":"RDS","eventTypeCode":"AWS_RDS_MAINTENANCE_SCHEDULED",`+
		`"eventTypeCategory":"scheduledChange","startTime":"2026-12-03T00:00:00Z","affectedEntities":[{"entityValue":"i-1234abcd"}]}`))
	if err != nil || m.Notices != nil {
		t.Errorf("RDS event: %+v, %v", m, err)
	}
}

func TestNoticeID(t *testing.T) {
	if got := noticeID(InstanceStateChange, "i-12345678", "stopped"); got != "queue/InstanceStateChange/i-12345678/stopped" {
		t.Errorf("readable ID %q", got)
	}
	a, b := noticeID(ScheduledMaintenance, "i-12345678", "arn:a/b"), noticeID(ScheduledMaintenance, "i-12345678", "arn:a/c")
	if a == b || !strings.HasPrefix(a, "queue/ScheduledMaintenance/i-12345678/sha256:") || len(a) > maxIDLen {
		t.Errorf("digest IDs %q %q", a, b)
	}
}
