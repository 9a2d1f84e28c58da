package controller

import (
	"testing"
	"time"
)

// TestMaintenanceLead: a Health scheduled change starting in 40 minutes,
// with --maintenance-lead=39m40s, is recorded on the node and its message
// deleted, but the node is not cordoned when the event arrives; the
// controller is killed and another started (the wait lives on the node,
// not in the message or the process), and the node is cordoned and drained
// when the lead time comes, 20 s after the event (issue 24 items 4, 5).
func TestMaintenanceLead(t *testing.T) {
	e, in := envWithNode(t, 30, 1)
	c := e.controller("", "--maintenance-lead=39m40s")
	const arn = "arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/L1"
	sent := time.Now()
	start := sent.Add(40 * time.Minute)
	e.send(healthChange(arn, "upcoming", start, in.id))
	waitUntil(t, 15*time.Second, "the wait recorded on the node, message deleted", func() bool {
		return e.node(in.node).Annotations["spot-handler.io/maintenance-wait"] != "" && e.inQueue() == 0
	})
	if cordoned(e.node(in.node)) && time.Since(sent) < 20*time.Second {
		t.Fatal("node cordoned when the event arrived, 40 minutes before its start")
	}
	c.kill()
	e.controller("", "--maintenance-lead=39m40s")
	waitUntil(t, 90*time.Second, "node cordoned and drained at start − lead", func() bool {
		return cordoned(e.node(in.node)) && e.podsOn(in.node) == 0
	})
	if at := time.Since(sent); at < 19*time.Second {
		t.Errorf("cordoned %v after the event; the lead time began 20 s after it", at)
	}
	if n := e.notice(in.node); n == nil || !n.Deadline.Equal(start.UTC().Truncate(time.Second)) {
		t.Errorf("record %+v, want the event's start %v as deadline", n, start)
	}
	waitUntil(t, 15*time.Second, "wait record removed", func() bool {
		return e.node(in.node).Annotations["spot-handler.io/maintenance-wait"] == ""
	})
}
