package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestSpotWarningDrainsNode: a Spot warning put on the default event bus
// reaches the queue through an EventBridge rule; the controller maps the
// instance to its node by providerID, records the notice (deadline = event
// time + 2 min), cordons, taints and drains the node, and deletes the
// message; one Event announces the notice.
func TestSpotWarningDrainsNode(t *testing.T) {
	e, in := envWithNode(t, 30, 3)
	e.ruleToQueue("EC2 Spot Instance Interruption Warning")
	c := e.controller("")
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	e.putEvent("EC2 Spot Instance Interruption Warning", fmt.Sprintf(`{"instance-id":%q,"instance-action":"terminate"}`, in.id))

	waitUntil(t, 60*time.Second, "node cordoned and empty, message deleted", func() bool {
		return cordoned(e.node(in.node)) && e.podsOn(in.node) == 0 && e.inQueue() == 0
	})
	n := e.notice(in.node)
	if n == nil || n.ID != "queue/SpotInterruption/"+in.id || n.Kind != "SpotInterruption" || n.Action != "terminate" {
		t.Fatalf("notice record %+v", n)
	}
	if d := n.Deadline.Sub(before); d < 2*time.Minute || d > 2*time.Minute+5*time.Second {
		t.Errorf("deadline %v is not the event's time + 2 min (event put at about %v)", n.Deadline, before)
	}
	waitUntil(t, 30*time.Second, "Events recorded", func() bool { return e.events(in.node, "Drained") == 1 })
	if got := e.events(in.node, "SpotInterruption"); got != 1 {
		t.Errorf("%d SpotInterruption Events, want 1", got)
	}
	if got := c.metric("spot_handler_queue_messages_total", `type="spot_interruption"`, `outcome="handled"`); got != 1 {
		t.Errorf("handled messages %v, want 1", got)
	}
	if got := c.metric("spot_handler_queue_instance_lookups_total", `via="index"`); got != 1 {
		t.Errorf("index lookups %v, want 1 (no EC2 call on the hot path)", got)
	}
}

// TestMessageDeletedOnlyAfterRecord: while the API refuses the node's
// patch, the message stays on the queue; once the node carries the notice
// record, and only then, it is deleted.
func TestMessageDeletedOnlyAfterRecord(t *testing.T) {
	e, in := envWithNode(t, 3, 1)
	faults := plane.Faults(t)
	refuse := faults.Add(testenv.Rule{Match: testenv.Match{Method: "PATCH", Path: "^/api/v1/nodes/" + in.node + "$"}, Status: 503})
	c := e.controller(faults.Kubeconfig)
	e.send(spotEvent(in.id, time.Now()))
	waitUntil(t, 30*time.Second, "a failed attempt", func() bool {
		return c.metric("spot_handler_queue_messages_total", `outcome="failed"`) >= 1
	})
	for range 30 { // 3s: the message comes back every 3s and still cannot go
		if e.notice(in.node) != nil {
			t.Fatal("node marked although every patch was refused")
		}
		if got := e.inQueue(); got != 1 {
			t.Fatalf("%d messages on the queue while the node carries no record, want 1", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	refuse.Remove()
	waitUntil(t, 60*time.Second, "record written, then message deleted", func() bool {
		rec := e.notice(in.node)
		q := e.inQueue()
		if q == 0 && rec == nil {
			t.Fatal("message deleted before the node carried the record")
		}
		return rec != nil && q == 0
	})
	waitUntil(t, 60*time.Second, "node empty", func() bool { return e.podsOn(in.node) == 0 })
}

// TestDuplicatesAreUpdates: the same event delivered three times (SQS
// delivers at least once), and once more after the drain began, drains the
// node once: one notice counted, one SpotInterruption Event, every message
// deleted; a state change to running is a counted no-op.
func TestDuplicatesAreUpdates(t *testing.T) {
	e, in := envWithNode(t, 30, 2)
	c := e.controller("")
	body := spotEvent(in.id, time.Now())
	e.send(body, body, body)
	waitUntil(t, 60*time.Second, "three messages handled", func() bool {
		return c.metric("spot_handler_queue_messages_total", `outcome="handled"`) == 3 && e.inQueue() == 0
	})
	// An instance "running" message is a withdrawal of a stop's notice: it
	// reaches the node's actor, which keeps the Spot interruption (final).
	e.send(body, stateEvent(in.id, "running", time.Now()))
	waitUntil(t, 60*time.Second, "node empty, all messages gone", func() bool {
		return e.podsOn(in.node) == 0 && e.inQueue() == 0 && c.metric("spot_handler_queue_messages_total", `outcome="handled"`) == 5
	})
	if !cordoned(e.node(in.node)) {
		t.Error("an instance running message undid the Spot interruption's cordon")
	}
	if got := c.metric("spot_handler_notices_total", `kind="SpotInterruption"`); got != 1 {
		t.Errorf("notices counted %v, want 1", got)
	}
	if got := e.events(in.node, "SpotInterruption"); got != 1 {
		t.Errorf("%d SpotInterruption Events, want 1", got)
	}
}

// TestAgentDrainingNodeLeftToAgent: a node whose DaemonSet agent already
// recorded a notice is not drained a second time by the controller; the
// message is deleted and counted.
func TestAgentDrainingNodeLeftToAgent(t *testing.T) {
	e, in := envWithNode(t, 30, 1)
	deadline := time.Now().Add(2 * time.Minute).UTC().Format(time.RFC3339)
	agentNotice := fmt.Sprintf(`{"kind":"SpotInterruption","action":"terminate","id":"SpotInterruption/terminate/%s","deadline":%q,"detected":%q}`,
		deadline, deadline, time.Now().UTC().Format(time.RFC3339))
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, drain.NoticeAnnotation, agentNotice)
	if _, err := plane.Client.CoreV1().Nodes().Patch(e.ctx, in.node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	c := e.controller("")
	e.send(spotEvent(in.id, time.Now()))
	waitUntil(t, 30*time.Second, "message left to the agent and deleted", func() bool {
		return c.metric("spot_handler_queue_messages_total", `outcome="agent_draining"`) == 1 && e.inQueue() == 0
	})
	time.Sleep(2 * time.Second)
	if n := e.node(in.node); n.Spec.Unschedulable || e.podsOn(in.node) != 1 {
		t.Errorf("the controller drained a node the agent handles: unschedulable=%v, pods %d", n.Spec.Unschedulable, e.podsOn(in.node))
	}
	if n := e.notice(in.node); n == nil || strings.HasPrefix(n.ID, "queue/") {
		t.Errorf("the agent's record was replaced: %+v", n)
	}
}

// TestUnknownInstance: a message for an instance that is no node of the
// cluster is re-checked once and then deleted (and counted), or, with
// --delete-unknown=false, left on the queue.
func TestUnknownInstance(t *testing.T) {
	for _, del := range []bool{true, false} {
		t.Run(fmt.Sprintf("delete-unknown=%v", del), func(t *testing.T) {
			e := newEnv(t, 30)
			c := e.controller("", "--unknown-recheck=1s",
				fmt.Sprintf("--delete-unknown=%v", del))
			e.send(spotEvent("i-0123456789abcdef0", time.Now()))
			if del {
				waitUntil(t, 30*time.Second, "message re-checked, then deleted", func() bool {
					return c.metric("spot_handler_queue_messages_total", `outcome="recheck"`) == 1 &&
						c.metric("spot_handler_queue_messages_total", `outcome="unknown_instance"`) == 1 && e.inQueue() == 0
				})
				return
			}
			waitUntil(t, 30*time.Second, "message re-checked, then kept", func() bool {
				return c.metric("spot_handler_queue_messages_total", `outcome="recheck"`) == 1 &&
					c.metric("spot_handler_queue_messages_total", `outcome="unknown_kept"`) == 1
			})
			if got := e.inQueue(); got != 1 {
				t.Errorf("%d messages on the queue, want the unknown one kept", got)
			}
		})
	}
}

// TestDescribeInstancesFallback: a node without a providerID, named by
// its instance's private DNS name (as on EKS), is found through
// DescribeInstances, and drained.
func TestDescribeInstancesFallback(t *testing.T) {
	e := newEnv(t, 30)
	in := e.instances(1)[0]
	if err := e.addNode(in.dns, "", 1, 5, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plane.Client.CoreV1().Nodes().Delete(e.ctx, in.dns, metav1.DeleteOptions{}) })
	c := e.controller("")
	e.send(spotEvent(in.id, time.Now()))
	waitUntil(t, 60*time.Second, "node found by its DNS name and drained", func() bool {
		return cordoned(e.node(in.dns)) && e.podsOn(in.dns) == 0 && e.inQueue() == 0
	})
	if got := c.metric("spot_handler_queue_instance_lookups_total", `via="describe_instances"`); got != 1 {
		t.Errorf("DescribeInstances lookups %v, want 1", got)
	}
}

// TestMalformedAndUnknownKinds: a body that is no event and an event of a
// kind the controller does not handle are counted and deleted; the next
// message is handled as usual.
func TestMalformedAndUnknownKinds(t *testing.T) {
	e, in := envWithNode(t, 30, 1)
	c := e.controller("")
	e.send("not an event", `{"source":"aws.ec2"}`, event("EBS Snapshot Notification", "aws.ec2", time.Now(), `{"result":"succeeded"}`),
		event("EC2 Spot Instance Interruption Warning", "aws.ec2", time.Now(), `{"instance-id":"node-1"}`))
	waitUntil(t, 30*time.Second, "bad messages counted and deleted", func() bool {
		return c.metric("spot_handler_queue_messages_total", `outcome="malformed"`) == 3 &&
			c.metric("spot_handler_queue_messages_total", `type="unknown"`, `outcome="ignored"`) == 1 && e.inQueue() == 0
	})
	e.send(spotEvent(in.id, time.Now()))
	waitUntil(t, 60*time.Second, "node drained after the bad messages", func() bool {
		return cordoned(e.node(in.node)) && e.podsOn(in.node) == 0 && e.inQueue() == 0
	})
	if c.exited() {
		t.Fatal("controller exited")
	}
	if got := strings.Count(c.logs(), "malformed queue message"); got != 2 {
		t.Errorf("malformed messages logged %d times, want once per type (2 types)", got)
	}
}
