package controller

import (
	"fmt"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// stormResult is what a storm measured, per node and overall.
type stormResult struct {
	cordon, empty []time.Duration // message received → node cordoned / empty
	slowestSpare  time.Duration   // least time left before deadline − margin when a node emptied
	allInTime     bool            // every node empty before its deadline − margin
	late          []string        // nodes that missed it
}

// storm interrupts every node at once (one Spot message each, sent in
// batches of ten) and waits until all are empty or their deadlines pass.
func storm(tb testing.TB, e *env, nodes []instNode, o *observer, margin time.Duration) stormResult {
	tb.Helper()
	var bodies []string
	now := time.Now()
	for _, in := range nodes {
		bodies = append(bodies, spotEvent(in.id, now))
	}
	e.send(bodies...)
	// Until every node is empty or every deadline has passed: a node still
	// holding pods then counts as late (not a fatal error, so a benchmark
	// reports how many made it).
	for end := now.Add(3 * time.Minute); !o.allEmpty() && time.Now().Before(end); {
		time.Sleep(200 * time.Millisecond)
	}
	r := stormResult{allInTime: true, slowestSpare: time.Hour}
	for _, in := range nodes {
		n := e.notice(in.node)
		c, em := o.times(in.node)
		if n == nil || c.IsZero() || em.IsZero() {
			r.allInTime = false
			r.late = append(r.late, fmt.Sprintf("%s (record %v, cordoned %v, empty %v)", in.node, n != nil, !c.IsZero(), !em.IsZero()))
			continue
		}
		r.cordon = append(r.cordon, c.Sub(n.Detected))
		r.empty = append(r.empty, em.Sub(n.Detected))
		spare := n.Deadline.Add(-margin).Sub(em)
		r.slowestSpare = min(r.slowestSpare, spare)
		if spare < 0 {
			r.allInTime = false
			r.late = append(r.late, fmt.Sprintf("%s (%v late)", in.node, -spare))
		}
	}
	return r
}

// TestStorm100: 100 nodes as large as a kubelet's (50 images each: the
// controller's index keeps none of it) interrupted at once by 100
// messages, drained by 10 workers in deadline order: each is cordoned
// within seconds of its message being received (the cordon does not wait
// for a drain worker) and empty before deadline − margin, and every node
// keeps its status (no write built from the slim index).
func TestStorm100(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e := newEnv(t, 30)
	e.images = 50
	nodes := e.nodes(100, 2, 10, 2*time.Second)
	var names []string
	for _, in := range nodes {
		names = append(names, in.node)
	}
	o := observe(t, e.ns, names)
	// 10 workers for 100 nodes: the cordon must not wait for one.
	c := e.controller("", "--workers=10")
	r := storm(t, e, nodes, o, drain.DefaultPolicy().Margin)
	t.Logf("100 nodes: received → cordoned p50 %v p99 %v max %v; → empty p50 %v p99 %v; slowest spare %v",
		percentile(r.cordon, 50), percentile(r.cordon, 99), percentile(r.cordon, 100),
		percentile(r.empty, 50), percentile(r.empty, 99), r.slowestSpare)
	if !r.allInTime {
		t.Errorf("nodes not empty before deadline − margin: %v", r.late)
	}
	// ~2 s is the target (see make bench); 10 s catches a cordon that
	// waits for a worker or for the message batch's other drains.
	if worst := percentile(r.cordon, 100); worst > 10*time.Second {
		t.Errorf("slowest cordon %v after its message was received", worst)
	}
	waitUntil(t, 30*time.Second, "every message deleted", func() bool { return e.inQueue() == 0 })
	// SQS (and moto) deliver at least once: a message may be handled twice,
	// but each interruption is announced, counted and drained once.
	if got := c.metric("spot_handler_queue_messages_total", `outcome="handled"`); got < 100 {
		t.Errorf("handled %v messages, want 100 or more", got)
	}
	if got := c.metric("spot_handler_notices_total", `kind="SpotInterruption"`); got != 100 {
		t.Errorf("%v interruptions counted, want 100", got)
	}
	for _, in := range nodes {
		if n := e.node(in.node); len(n.Status.Images) != 50 || len(n.Status.Conditions) == 0 || n.Spec.ProviderID == "" {
			t.Errorf("node %s lost fields after its drain: %d images, %d conditions, providerID %q", in.node,
				len(n.Status.Images), len(n.Status.Conditions), n.Spec.ProviderID)
		}
	}
}

// TestSQSUnreachable30s: with SQS unreachable for 30 s (moto stopped,
// connections hang), the controller keeps running, counts the failed
// receives, and handles the next message once SQS is back.
func TestSQSUnreachable30s(t *testing.T) {
	e, in := envWithNode(t, 30, 1)
	c := e.controller("")
	if err := moto.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = moto.Resume()
		}
	}()
	time.Sleep(30 * time.Second)
	if err := moto.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	if c.exited() {
		t.Fatalf("controller exited while SQS was unreachable: %v", c.ExitErr())
	}
	e.send(spotEvent(in.id, time.Now()))
	waitUntil(t, 60*time.Second, "node drained after SQS came back", func() bool {
		return cordoned(e.node(in.node)) && e.podsOn(in.node) == 0 && e.inQueue() == 0
	})
	if got := c.metric("spot_handler_queue_api_errors_total", `operation="receive"`); got < 1 {
		t.Errorf("receive errors %v, want the outage counted", got)
	}
}
