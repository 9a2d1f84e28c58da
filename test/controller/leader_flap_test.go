package controller

import (
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestLeadershipFlapMidDrain: the only replica is draining a node whose pods
// take 25 s to go when an API brownout starts: its Lease requests hang at
// the fault proxy until it steps down, and so do the node's PATCHes (the
// drain's last unclaim, as the term winds down, waits for its 5 s timeout).
// The Lease requests go through 2 s after it stepped down; it leads again.
// Its new term must be the only one: the interrupted drain resumes and
// empties the node, a Spot warning sent afterwards is drained to empty
// before deadline − margin (not stopped by the ended term), and
// spot_handler_leader is 1. SIGTERM then stops it.
func TestLeadershipFlapMidDrain(t *testing.T) {
	e := newEnv(t, 30)
	slow := e.nodes(1, 3, 40, 25*time.Second)[0]
	later := e.nodes(1, 3, 5, 0)[0]
	o := observe(t, e.ns, []string{slow.node, later.node})
	margin := drain.DefaultPolicy().Margin
	faults := plane.Faults(t)
	c := e.controller(faults.Kubeconfig, leaseFlags...)
	waitUntil(t, 30*time.Second, "the controller leads", func() bool { return c.metric("spot_handler_leader") == 1 })
	e.send(spotEvent(slow.id, time.Now()))
	waitUntil(t, 30*time.Second, "the drain evicting", func() bool { return e.terminating(slow.node) > 0 })

	lease := faults.Add(testenv.Rule{Match: testenv.Match{Path: "^/apis/coordination.k8s.io/v1/namespaces/[^/]+/leases/" + e.lease + "$"}, Hang: true})
	patches := faults.Add(testenv.Rule{Match: testenv.Match{Method: "PATCH", Path: "^/api/v1/nodes/" + slow.node + "$"}, Hang: true})
	waitUntil(t, 30*time.Second, "leadership ended", func() bool { return strings.Contains(c.logs(), "leadership ended") })
	time.Sleep(2 * time.Second)
	lease.Release()
	waitUntil(t, 30*time.Second, "leading again", func() bool { return strings.Count(c.logs(), "leading: receiving messages") >= 2 })
	patches.Release()
	if _, empty := o.times(slow.node); !empty.IsZero() {
		t.Fatal("the node emptied before the leadership came back; make its pods slower")
	}
	waitUntil(t, 90*time.Second, "the interrupted drain's node empty", func() bool { return e.podsOn(slow.node) == 0 })
	inTime(t, e, o, slow.node, margin)

	sent := time.Now()
	e.send(spotEvent(later.id, sent))
	limit := sent.Truncate(time.Second).Add(2*time.Minute - margin) // the warning's deadline − margin
	for e.podsOn(later.node) != 0 && time.Now().Before(limit) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := e.podsOn(later.node); n != 0 {
		t.Errorf("the Spot warning after the flap left %d pods on its node by deadline − margin (the ended term stopped the new term's pool?)", n)
	} else {
		inTime(t, e, o, later.node, margin)
	}
	if v := c.metric("spot_handler_leader"); v != 1 {
		t.Errorf("spot_handler_leader = %v while the replica leads, want 1", v)
	}

	sigterm := time.Now()
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the controller stopped after SIGTERM", c.exited)
	if !strings.Contains(c.logs(), "controller stopped") {
		t.Error("the controller exited without stopping cleanly")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(sigterm).Round(time.Millisecond))
}

// inTime fails t unless node emptied before its recorded deadline − margin.
func inTime(t *testing.T, e *env, o *observer, node string, margin time.Duration) {
	t.Helper()
	n := e.notice(node)
	_, empty := o.times(node)
	if n == nil || empty.IsZero() {
		t.Fatalf("node %s: notice record %v, emptied at %v", node, n, empty)
		return // Fatalf does not return; this tells staticcheck so
	}
	if spare := n.Deadline.Add(-margin).Sub(empty); spare < 0 {
		t.Errorf("node %s emptied %v after deadline − margin", node, -spare)
	} else {
		t.Logf("node %s emptied %v before deadline − margin", node, spare.Round(time.Millisecond))
	}
}

// terminating counts the pods bound to node that are being deleted.
func (e *env) terminating(node string) int {
	e.t.Helper()
	pods, err := plane.Client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			n++
		}
	}
	return n
}
