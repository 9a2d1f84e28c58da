package controller

import (
	"testing"
	"time"
)

// TestHealthManyInstancesOneForeign: a Health event names 20 instances of
// this cluster and one that is no node here (another cluster's); under
// --delete-unknown=false the message is deleted once this cluster's nodes
// are handled, not redelivered for good (issue 24 item 6).
func TestHealthManyInstancesOneForeign(t *testing.T) {
	e := newEnv(t, 5)
	ours := e.nodes(20, 0, 5, 0)
	foreign := e.instances(1)[0]
	e.controller("", "--delete-unknown=false", "--unknown-recheck=1s")
	ids := []string{foreign.id}
	for _, in := range ours {
		ids = append(ids, in.id)
	}
	const arn = "arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/M1"
	e.send(healthChange(arn, "upcoming", time.Now().Add(10*time.Minute), ids...))
	for _, in := range ours {
		waitUntil(t, 60*time.Second, "node "+in.node+" cordoned", func() bool { return cordoned(e.node(in.node)) })
	}
	waitUntil(t, 60*time.Second, "message deleted", func() bool { return e.inQueue() == 0 })
}
