package controller

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestAgentRecordNotInForceNotLeftToAgent (issue #20, item 3): the
// controller steps aside only for the agent's drain of an interruption in
// force. A node whose agent recorded a rehearsal, or a maintenance drain
// two weeks away, gets a Spot warning from the queue: the controller
// drains it itself (the agent's drain would not empty it in time), and
// the node's record keeps the agent's notice beside the controller's.
func TestAgentRecordNotInForceNotLeftToAgent(t *testing.T) {
	soon := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	far := time.Now().Add(14 * 24 * time.Hour).UTC().Format(time.RFC3339)
	now := time.Now().UTC().Format(time.RFC3339)
	for _, c := range []struct{ name, record string }{
		{"rehearsal", fmt.Sprintf(`{"kind":"SpotInterruption","action":"terminate","id":"rehearsal-%s","deadline":%q,"detected":%q,"source":"rehearsal"}`, soon, soon, now)},
		{"maintenance weeks away", fmt.Sprintf(`{"kind":"ScheduledMaintenance","action":"system-reboot","id":"ScheduledMaintenance/e-1/%s","deadline":%q,"detected":%q,"source":"imds"}`, far, far, now)},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, in := envWithNode(t, 30, 1)
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, drain.NoticeAnnotation, c.record)
			if _, err := plane.Client.CoreV1().Nodes().Patch(e.ctx, in.node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			agent := e.notice(in.node)
			ctl := e.controller("")
			e.send(spotEvent(in.id, time.Now()))
			waitUntil(t, 60*time.Second, "the controller drains the node itself", func() bool {
				return ctl.metric("spot_handler_queue_messages_total", `outcome="handled"`) == 1 && e.inQueue() == 0 &&
					e.node(in.node).Spec.Unschedulable && e.podsOn(in.node) == 0
			})
			if got := ctl.metric("spot_handler_queue_messages_total", `outcome="agent_draining"`); got != 0 {
				t.Errorf("%v messages left to the agent, want 0", got)
			}
			rec := e.notice(in.node)
			if own, kept := rec.Held(drain.SourceQueue), rec.Held(drain.SourceIMDS); own == nil || kept == nil || kept.ID != agent.ID {
				t.Errorf("record %+v: want the controller's notice and the agent's %s beside it", rec, agent.ID)
			}
		})
	}
}
