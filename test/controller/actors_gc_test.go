package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNodeActorsCollected: the leader keeps one actor per node with a
// notice (spot_handler_node_actors) only while the node exists: after
// three nodes are drained and deleted the gauge returns to 0, and a node
// made again under one of the names, with pods, is drained by its next
// notice (a new actor, not an update of the old node's).
func TestNodeActorsCollected(t *testing.T) {
	e := newEnv(t, 30)
	nodes := e.nodes(3, 1, 5, 0)
	c := e.controller("")
	now := time.Now()
	var bodies []string
	for _, in := range nodes {
		bodies = append(bodies, spotEvent(in.id, now))
	}
	e.send(bodies...)
	waitUntil(t, 90*time.Second, "every node cordoned and empty, every message deleted", func() bool {
		for _, in := range nodes {
			if !cordoned(e.node(in.node)) || e.podsOn(in.node) != 0 {
				return false
			}
		}
		return e.inQueue() == 0
	})
	waitUntil(t, 30*time.Second, "the drains reported ended", func() bool {
		return c.metric("spot_handler_drains_in_flight") == 0
	})
	if got := c.metric("spot_handler_node_actors"); got != 3 {
		t.Fatalf("spot_handler_node_actors %v with three nodes drained, want 3", got)
	}
	for _, in := range nodes {
		if err := plane.Client.CoreV1().Nodes().Delete(e.ctx, in.node, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 60*time.Second, "spot_handler_node_actors back to 0 after the nodes were deleted", func() bool {
		return c.metric("spot_handler_node_actors") == 0
	})

	// The first node comes back under its name; its ReplicaSet's pod,
	// pending since the drain, lands on it.
	in := nodes[0]
	if err := e.addNode(in.node, "aws:///"+in.zone+"/"+in.id, 0, 5, 0); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the pod back on the new node", func() bool { return e.podsOn(in.node) == 1 })
	if cordoned(e.node(in.node)) {
		t.Fatal("the new node is cordoned before any notice")
	}
	e.send(spotEvent(in.id, time.Now()))
	waitUntil(t, 90*time.Second, "the new node cordoned and empty, the message deleted", func() bool {
		return cordoned(e.node(in.node)) && e.podsOn(in.node) == 0 && e.inQueue() == 0
	})
	if got := c.metric("spot_handler_node_actors"); got != 1 {
		t.Errorf("spot_handler_node_actors %v with the new node drained, want 1", got)
	}
	if got := c.metric("spot_handler_notices_total", `kind="SpotInterruption"`); got != 4 {
		t.Errorf("%v interruptions counted, want 4 (three nodes, then the new one)", got)
	}
}
