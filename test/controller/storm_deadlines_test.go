package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestStormMixedDeadlines: four nodes with different deadlines (an AWS
// Health scheduled change 10 min away and Spot warnings whose event times
// leave 100, 90 and 80 s) arrive, least urgent first, while the only drain
// worker (--workers=1) is busy with a fifth node (its eviction request
// hangs: a drain whose pods only wait would give the worker back): once it
// is free they take it most urgent deadline first, and each is empty
// before its deadline − margin.
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
	faults := plane.Faults(t)
	hang := faults.Add(testenv.Rule{Match: testenv.Match{Method: "POST",
		Path: "^/api/v1/namespaces/" + e.ns + "/pods/rs-" + strings.TrimPrefix(blocker.node, "q-") + "-[^/]+/eviction$"}, Hang: true})
	c := e.controller(faults.Kubeconfig, "--workers=1")

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
	hang.Release()
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
	for _, d := range got {
		t.Logf("%s: deadline in %v, empty after %v", d.node, d.deadline.Sub(now).Round(time.Second), d.empty.Sub(now).Round(time.Millisecond))
	}
	// The worker takes them most urgent first: their drains are planned
	// (the first step on a worker) in that order. Each gives the worker back
	// once its pods only wait to go, so they empty as their pods go.
	var planned []string
	for _, line := range strings.Split(c.logs(), "\n") {
		if !strings.Contains(line, "drain planned") {
			continue
		}
		for _, in := range batch {
			if strings.Contains(line, `"node": "`+in.node+`"`) {
				planned = append(planned, in.node)
			}
		}
	}
	if want := []string{batch[3].node, batch[2].node, batch[1].node, batch[0].node}; strings.Join(planned, " ") != strings.Join(want, " ") {
		t.Errorf("drains planned in order %v, want most urgent first %v", planned, want)
	}
}
