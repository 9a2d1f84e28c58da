package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// Short leader-election timings for the tests: a lease of 4 s.
var leaseFlags = []string{"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms"}

// failoverResult is what a leader failover measured.
type failoverResult struct {
	failover time.Duration // leader killed → the other replica leads
	storm    stormResult
}

// killLeaderMidStorm runs two replicas, interrupts every node, kills the
// leader (SIGKILL: no lease release) once every node is cordoned and every
// message deleted, and waits until all nodes are empty.
func killLeaderMidStorm(tb testing.TB, e *env, nodes []instNode, extra ...string) failoverResult {
	tb.Helper()
	var names []string
	for _, in := range nodes {
		names = append(names, in.node)
	}
	o := observe(tb, e.ns, names)
	flags := append(append([]string{"--leader-elect-name", e.lease}, leaseFlags...), extra...)
	a := startController(tb, "replica-a", e.queueURL, "", flags...)
	waitUntil(tb, 30*time.Second, "replica-a leads", func() bool { return a.metric("spot_handler_leader") == 1 })
	b := startController(tb, "replica-b", e.queueURL, "", flags...)
	if b.metric("spot_handler_leader") != 0 {
		tb.Fatal("two leaders")
	}
	var res failoverResult
	var problem string
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		limit := time.Now().Add(60 * time.Second)
		for !allCordoned(o, names) || e.inQueue() != 0 {
			if time.Now().After(limit) {
				problem = "not every node cordoned and message deleted within 60s"
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		lease, err := plane.Client.CoordinationV1().Leases("kube-system").Get(context.Background(), e.lease, metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "replica-a" {
			problem = "the lease is not held by replica-a"
			return
		}
		if got := b.metric("spot_handler_queue_messages_total", `outcome="handled"`); got != 0 {
			problem = fmt.Sprintf("the follower handled %v messages; only the leader receives", got)
			return
		}
		a.kill()
		at := time.Now()
		for b.metric("spot_handler_leader") != 1 {
			if time.Since(at) > time.Minute {
				problem = "replica-b did not lead within a minute of the leader's death"
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		res.failover = time.Since(at)
	}()
	res.storm = storm(tb, e, nodes, o, drain.DefaultPolicy().Margin)
	<-killed
	if problem != "" {
		tb.Fatal(problem)
	}
	for _, n := range names {
		// At most one: the killed leader's last Events may die with it
		// (they are sent asynchronously), but the new leader resumes, it
		// does not announce the interruption again.
		if got := e.events(n, "SpotInterruption"); got > 1 {
			tb.Errorf("node %s: %d SpotInterruption Events, want at most 1", n, got)
		}
	}
	return res
}

// TestLeaderKilledMidDrains: 20 nodes drain on 10 workers; the leader is
// killed once all are cordoned. The other replica takes the Lease within
// the lease duration (plus a retry), resumes every drain from the nodes'
// records with the recorded deadline, and every node empties before
// deadline − margin.
func TestLeaderKilledMidDrains(t *testing.T) {
	e := newEnv(t, 30)
	nodes := e.nodes(20, 2, 30, 5*time.Second)
	r := killLeaderMidStorm(t, e, nodes, "--workers=10")
	t.Logf("failover %v; slowest spare %v; received → empty p50 %v max %v", r.failover, r.storm.slowestSpare,
		percentile(r.storm.empty, 50), percentile(r.storm.empty, 100))
	if !r.storm.allInTime {
		t.Errorf("nodes not empty before deadline − margin: %v", r.storm.late)
	}
	if r.failover > 3*4*time.Second {
		t.Errorf("failover took %v, want about the 4s lease duration", r.failover)
	}
}

func allCordoned(o *observer, names []string) bool {
	for _, n := range names {
		if c, _ := o.times(n); c.IsZero() {
			return false
		}
	}
	return true
}
