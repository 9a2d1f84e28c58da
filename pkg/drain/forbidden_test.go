package drain

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// TestDrainWhenTheMarkIsForbidden: the API refuses every write to the node
// (403, in the words of a ValidatingAdmissionPolicy, as the chart's
// node-bound policy answers when it is misconfigured), while evictions are
// allowed. The drain must still empty the node before deadline − margin,
// without the cordon, the taint or the claim, and say why in the report;
// before the fix it gave up at the refused cordon and every pod stayed.
// The pods are bare (a ReplicaSet here pins its pods to the node by its
// hostname, so with no cordon its replacements would land there again).
func TestDrainWhenTheMarkIsForbidden(t *testing.T) {
	const node = "drain-mark-forbidden"
	p, ns := nodeTest(t, node)
	for _, name := range []string{"a", "b", "c"} {
		if _, err := p.Client.CoreV1().Pods(ns).Create(context.Background(), runningPodOn(node, ns, name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "the bare pods running", func() bool { return len(podsOn(t, p, node)) == 3 })
	f := p.Faults(t)
	f.Add(testenv.Rule{Match: testenv.Match{Method: "PATCH", Path: "^/api/v1/nodes/" + node + "$"}, Status: 403,
		Message: `nodes "` + node + `" is forbidden: ValidatingAdmissionPolicy 'spot-handler-node-bound' with binding 'spot-handler-node-bound' denied request: the agent may change only its own node`})
	d := drainerOn(t, f.Client, func(pol *Policy) { pol.Margin = 10 * time.Second })
	rep, err := d.Drain(context.Background(), Request{Node: node, Kind: "SpotInterruption", NoticeID: "forbidden-1", Deadline: time.Now().Add(40 * time.Second)})
	if err != nil {
		t.Fatalf("drain: %v\n%s", err, rep.Summary())
	}
	t.Log(rep.Summary())
	checkEmptyInTime(t, p, rep, node)
	if rep.Unmarked == "" || !rep.Cordoned.IsZero() {
		t.Errorf("report: unmarked %q, cordoned %v; want the refusal and no cordon time", rep.Unmarked, rep.Cordoned)
	}
	if n := getNode(t, p, node); n.Spec.Unschedulable {
		t.Error("the node is cordoned though every write to it was refused")
	}
}
