package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// healthChange is an AWS Health EC2 scheduled change starting at start, with
// statusCode status, for instances.
func healthChange(arn, status string, start time.Time, instances ...string) string {
	var ents []string
	for _, in := range instances {
		ents = append(ents, fmt.Sprintf(`{"entityValue":%q}`, in))
	}
	detail := fmt.Sprintf(`{"eventArn":%q,"service":"EC2","eventTypeCode":"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED","eventTypeCategory":"scheduledChange",`+
		`"startTime":%q,"statusCode":%q,"eventDescription":[{"language":"en_US","latestDescription":"retirement"}],"affectedEntities":[%s]}`,
		arn, start.UTC().Format(time.RFC1123), status, strings.Join(ents, ","))
	return event("AWS Health Event", "aws.health", time.Now(), detail)
}

// unmarked reports whether the node carries none of the handler's marks:
// not cordoned, no interruption taint, no notice record.
func (e *env) unmarked(name string) bool {
	n := e.node(name)
	if n.Spec.Unschedulable || n.Annotations[drain.NoticeAnnotation] != "" {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Key == drain.TaintKey {
			return false
		}
	}
	return true
}

// TestHealthClosedUncordons: a Health scheduled change drains the node; the
// same event closed (canceled) withdraws the notice: uncordoned, untainted,
// record removed, both messages deleted (issue 24 item 4).
func TestHealthClosedUncordons(t *testing.T) {
	e, in := envWithNode(t, 30, 1)
	e.controller("")
	const arn = "arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/C1"
	start := time.Now().Add(10 * time.Minute)
	e.send(healthChange(arn, "upcoming", start, in.id))
	waitUntil(t, 60*time.Second, "node cordoned", func() bool { return cordoned(e.node(in.node)) && e.inQueue() == 0 })
	e.send(healthChange(arn, "closed", start, in.id))
	waitUntil(t, 60*time.Second, "node uncordoned, untainted, record removed, message deleted", func() bool {
		return e.unmarked(in.node) && e.inQueue() == 0
	})
}

// TestRunningAgainUncordons: an instance stopping drains its node; the same
// instance running again withdraws the stop's notice (issue 24 item 4).
func TestRunningAgainUncordons(t *testing.T) {
	e, in := envWithNode(t, 30, 1)
	e.controller("")
	e.send(stateEvent(in.id, "stopping", time.Now()))
	waitUntil(t, 60*time.Second, "node cordoned", func() bool { return cordoned(e.node(in.node)) && e.inQueue() == 0 })
	e.send(stateEvent(in.id, "running", time.Now()))
	waitUntil(t, 60*time.Second, "node uncordoned, untainted, record removed, message deleted", func() bool {
		return e.unmarked(in.node) && e.inQueue() == 0
	})
}
