package controller

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestStormMixedDeadlines: four nodes with different deadlines (an AWS
// Health scheduled change 10 min away and Spot warnings whose event times
// leave 100, 90 and 80 s) arrive, least urgent first, while the only drain
// worker (--workers=1) is busy with a fifth node: once it is free they are
// drained most urgent deadline first, and each is empty before its
// deadline − margin.
func TestStormMixedDeadlines(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e := newEnv(t, 60)
	blocker := e.nodes(1, 1, 30, 15*time.Second)[0]
	batch := e.nodes(4, 1, 10, 2*time.Second)
	names := []string{blocker.node}
	for _, in := range batch {
		names = append(names, in.node)
	}
	o := observe(t, e.ns, names)
	c := e.controller("", "--workers=1")

	now := time.Now()
	e.send(spotEvent(blocker.id, now))
	waitUntil(t, 60*time.Second, "the blocker's drain on the only worker", func() bool {
		return c.metric("spot_handler_drains_in_flight") == 1
	})
	start := now.Add(10 * time.Minute).UTC().Truncate(time.Second)
	bodies := []string{
		event("AWS Health Event", "aws.health", now, fmt.Sprintf(`{"eventArn":"arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/M1",`+
			`"service":"EC2","eventTypeCode":"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED","eventTypeCategory":"scheduledChange","startTime":%q,`+
			`"eventDescription":[{"language":"en_US","latestDescription":"retirement"}],"affectedEntities":[{"entityValue":%q}]}`,
			start.Format(time.RFC1123), batch[0].id)),
		spotEvent(batch[1].id, now.Add(-20*time.Second)),
		spotEvent(batch[2].id, now.Add(-30*time.Second)),
		spotEvent(batch[3].id, now.Add(-40*time.Second)),
	}
	// One at a time, so the drains are queued least urgent first: a pool
	// that ignored deadlines would drain them in that order.
	for i, b := range bodies {
		e.send(b)
		waitUntil(t, 60*time.Second, fmt.Sprintf("%d drains waiting", i+1), func() bool {
			return c.metric("spot_handler_drains_waiting") >= float64(i+1)
		})
	}
	if _, empty := o.times(blocker.node); !empty.IsZero() {
		t.Fatalf("the blocker emptied before the batch was queued (a slow machine?): the order is not tested")
	}
	waitUntil(t, 3*time.Minute, "every node empty", o.allEmpty)

	margin := drain.DefaultPolicy().Margin
	type drained struct {
		node            string
		deadline, empty time.Time
	}
	var got []drained
	for _, in := range batch {
		n := e.notice(in.node)
		if n == nil {
			t.Fatalf("node %s has no notice record", in.node)
			return
		}
		_, em := o.times(in.node)
		got = append(got, drained{in.node, n.Deadline, em})
		if spare := n.Deadline.Add(-margin).Sub(em); spare < 0 {
			t.Errorf("node %s (%s) empty %v after its deadline − margin", in.node, n.Kind, -spare)
		}
	}
	byEmpty := append([]drained(nil), got...)
	sort.Slice(byEmpty, func(i, j int) bool { return byEmpty[i].empty.Before(byEmpty[j].empty) })
	for _, d := range byEmpty {
		t.Logf("%s: deadline in %v, empty after %v", d.node, d.deadline.Sub(now).Round(time.Second), d.empty.Sub(now).Round(time.Millisecond))
	}
	for i := 1; i < len(byEmpty); i++ {
		if byEmpty[i].deadline.Before(byEmpty[i-1].deadline) {
			t.Fatalf("%s (deadline %v) emptied before %s (deadline %v): not most urgent first", byEmpty[i-1].node,
				byEmpty[i-1].deadline.Format(time.TimeOnly), byEmpty[i].node, byEmpty[i].deadline.Format(time.TimeOnly))
		}
	}
	if want := []string{batch[3].node, batch[2].node, batch[1].node, batch[0].node}; byEmpty[0].node != want[0] || byEmpty[3].node != want[3] {
		t.Errorf("emptied in order %v, want %v", byEmpty, want)
	}
}
