package controller

import (
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// TestStateChangeUnderListFaults (issue #24 item 7): an instance is
// stopping, so the drain's deadline has passed when the message arrives,
// and every LIST of the node's pods is answered 503 for the first 5 s: the
// drain keeps trying past those seconds (drain.Policy.LateWindow) and
// every pod is removed.
func TestStateChangeUnderListFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e, in := envWithNode(t, 30, 3)
	faults := plane.Faults(t)
	refuse := faults.Add(testenv.Rule{Match: testenv.Match{Method: "GET", Path: "^/api/v1/pods$",
		Query: "fieldSelector=spec.nodeName=" + in.node}, Status: 503})
	c := e.controller(faults.Kubeconfig)
	e.send(stateEvent(in.id, "stopping", time.Now().Add(-time.Second)))
	waitUntil(t, 30*time.Second, "the node cordoned", func() bool { return cordoned(e.node(in.node)) })
	time.Sleep(5 * time.Second)
	refuse.Remove()
	waitUntil(t, 90*time.Second, "every pod removed", func() bool { return e.podsOn(in.node) == 0 })
	if got := c.metric("spot_handler_queue_messages_total", `outcome="handled"`); got != 1 {
		t.Errorf("handled messages %v, want 1", got)
	}
}
