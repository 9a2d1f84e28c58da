package queue

import (
	"fmt"
	"testing"
)

// TestParseWithdrawals: a Health event whose status is closed, and an
// instance pending or running, end notices (Withdrawals, Ends set, the IDs
// of the notices they end for Health); an open or upcoming event is a
// notice as before.
func TestParseWithdrawals(t *testing.T) {
	const now = "2026-12-01T12:00:00Z"
	health := func(field, status string) []byte {
		return event("aws.health", "AWS Health Event", now, fmt.Sprintf(`{"eventArn":"arn:x","service":"EC2","eventTypeCode":"AWS_EC2_MAINTENANCE_SCHEDULED",`+
			`"eventTypeCategory":"scheduledChange","startTime":"2026-12-03T00:00:00Z",%q:%q,"affectedEntities":[{"entityValue":"i-1234abcd"},{"entityValue":"i-1234abce"}]}`,
			field, status))
	}
	for _, tc := range []struct {
		name               string
		body               []byte
		notices, withdrawn int
	}{
		{"upcoming", health("statusCode", "upcoming"), 2, 0},
		{"open", health("statusCode", "open"), 2, 0},
		{"closed", health("statusCode", "closed"), 0, 2},
		{"closed (eventStatusCode)", health("eventStatusCode", "closed"), 0, 2},
		{"no status", health("other", "x"), 2, 0},
		{"running", event("aws.ec2", "EC2 Instance State-change Notification", now, `{"instance-id":"i-12345678","state":"running"}`), 0, 1},
		{"pending", event("aws.ec2", "EC2 Instance State-change Notification", now, `{"instance-id":"i-12345678","state":"pending"}`), 0, 1},
		{"stopping", event("aws.ec2", "EC2 Instance State-change Notification", now, `{"instance-id":"i-12345678","state":"stopping"}`), 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Notices) != tc.notices || len(m.Withdrawals) != tc.withdrawn {
				t.Fatalf("%d notices, %d withdrawals; want %d, %d", len(m.Notices), len(m.Withdrawals), tc.notices, tc.withdrawn)
			}
			for _, w := range m.Withdrawals {
				if !w.Ends || w.EventTime.IsZero() {
					t.Errorf("withdrawal %+v: want Ends and the event time", w)
				}
			}
		})
	}
	open, _ := Parse(health("statusCode", "upcoming"))
	closed, _ := Parse(health("statusCode", "closed"))
	if open.Notices[0].ID != closed.Withdrawals[0].ID {
		t.Errorf("closed event's ID %q is not the scheduled change's %q", closed.Withdrawals[0].ID, open.Notices[0].ID)
	}
}
