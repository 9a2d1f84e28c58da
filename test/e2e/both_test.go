package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// controllerHolder is the claim holder of the test's stand-in controller.
const controllerHolder = "kube-system/spot-handler-controller-0"

// controllerDrain cordons node and drains it in the background as the
// queue-mode controller does for req (its claim holder, its Request with
// Source SourceQueue, Cordon first and then Drain); the drain's report
// comes on the channel.
func controllerDrain(t *testing.T, req drain.Request) <-chan *drain.Report {
	t.Helper()
	pol := drain.DefaultPolicy()
	pol.SelfNamespace, pol.SelfName, _ = strings.Cut(controllerHolder, "/")
	d, err := drain.New(plane.Client, pol, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := d.Cordon(ctx, req); err != nil {
		t.Fatal(err)
	}
	out := make(chan *drain.Report, 1)
	go func() {
		rep, _ := d.Drain(ctx, req)
		out <- rep
	}()
	return out
}

// stripRecordedSource removes the source from the notice recorded on
// node, as a controller from before recorded sources wrote it.
func stripRecordedSource(t *testing.T, name string) {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal([]byte(node(t, name).Annotations[drain.NoticeAnnotation]), &rec); err != nil {
		t.Fatalf("reading the record: %v", err)
	}
	delete(rec, "source")
	b, _ := json.Marshal(rec)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{drain.NoticeAnnotation: string(b)}}})
	if _, err := plane.Client.CoreV1().Nodes().Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("writing the record without its source: %v", err)
	}
}

// TestAgentRestartLeavesControllerDrain (issue #20, item 3): mode both. The
// controller drains a node for a notice instance metadata never shows (an
// instance state change, an ASG terminate lifecycle action); the node's
// agent is killed and restarted mid-drain and finds every IMDS path
// answering 404. The notice on the node is the controller's, so the
// restarted agent leaves it: the node stays cordoned, the record and the
// controller's claim stay, and the controller's drain empties the node in
// time. A record from a controller that predates recorded sources is told
// by its queue ID and left alike.
func TestAgentRestartLeavesControllerDrain(t *testing.T) {
	for _, c := range []struct {
		name, node, kind, action, id string
		source                       string
	}{
		{"state change", "e2e-both-state", "InstanceStateChange", "shutting-down", "queue/InstanceStateChange/i-0b0th0000000001/shutting-down", drain.SourceQueue},
		{"ASG terminate action", "e2e-both-asg", "ASGTermination", "Terminating", "queue/LifecycleAction/i-0b0th0000000002/token-2", drain.SourceQueue},
		{"state change recorded before sources", "e2e-both-legacy", "InstanceStateChange", "stopping", "queue/InstanceStateChange/i-0b0th0000000003/stopping", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			spotTest(t, c.node, 4, 20) // pods take up to 20s to go: the drain still runs at the restart
			aemm := quietAEMM(t)
			first := startAgent(t, c.node, aemm.URL)
			deadline := time.Now().Add(90 * time.Second).UTC().Truncate(time.Second)
			done := controllerDrain(t, drain.Request{Node: c.node, Kind: c.kind, Action: c.action, NoticeID: c.id,
				Deadline: deadline, Source: c.source})
			waitUntil(t, 20*time.Second, "the controller's drain claims the node", func() bool {
				return strings.HasPrefix(node(t, c.node).Annotations[drain.ClaimAnnotation], controllerHolder+" ")
			})
			if c.source == "" {
				// Today's drain records its source (told by the queue ID):
				// make the record what a controller from before sources wrote.
				stripRecordedSource(t, c.node)
			}
			first.kill()

			second := startAgent(t, c.node, aemm.URL)
			waitUntil(t, 30*time.Second, "three polls of every IMDS path, all 404", func() bool {
				for _, p := range []string{imds.PathSpotInstanceAction, imds.PathRebalance, imds.PathScheduledMaintenance, imds.PathTargetLifecycleState} {
					if imdsAnswers(t, second, p, "not_found") < 3 {
						return false
					}
				}
				return true
			})
			n := node(t, c.node)
			rec := recordedNotice(t, n)
			if !n.Spec.Unschedulable || taintCount(n) != 1 || rec == nil || rec.ID != c.id || rec.Source != c.source {
				t.Errorf("after the agent's restart: unschedulable %v, taints %v, record %+v; want the node cordoned for the controller's %s",
					n.Spec.Unschedulable, n.Spec.Taints, rec, c.id)
			}
			if claim := n.Annotations[drain.ClaimAnnotation]; !strings.HasPrefix(claim, controllerHolder+" ") {
				t.Errorf("claim %q after the agent's restart, want the controller's", claim)
			}
			if strings.Contains(second.logs(), "uncordoning") {
				t.Error("the restarted agent uncordoned the controller's drain")
			}
			by := deadline.Add(-drain.DefaultPolicy().Margin)
			waitUntil(t, time.Until(by), "the controller's drain empties the node by deadline − margin", func() bool { return podsOn(t, c.node) == 0 })
			select {
			case rep := <-done:
				if !rep.Empty {
					t.Errorf("the controller's drain reports the node not empty (err %v)", rep.Err)
				}
			case <-time.After(time.Until(deadline)):
				t.Fatal("the controller's drain did not end by the deadline")
			}
			if n := node(t, c.node); !n.Spec.Unschedulable {
				t.Error("the node was uncordoned after the controller's drain")
			}
		})
	}
}
