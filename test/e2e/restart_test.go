package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// quietAEMM is an AEMM whose Spot and rebalance paths answer 404 for the
// length of any test.
func quietAEMM(t *testing.T) *testenv.AEMM {
	return testenv.StartAEMM(t, "spot", "--imdsv2", "-d", "100000", "--rebalance-delay-sec", "100000")
}

// TestAgentSpotNoticeMissingForAPollStays (issue #12, case 5): the Spot
// notice's path answers 404 for a few polls mid-drain; a Spot interruption
// is final for the life of the instance, so the node stays cordoned.
func TestAgentSpotNoticeMissingForAPollStays(t *testing.T) {
	const name = "e2e-spot-404"
	spotTest(t, name, 3, 1)
	spotting := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", time.Now().Add(2*time.Minute).UTC().Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	proxy, url := newSwitchingProxy(t, spotting.URL, quietAEMM(t).URL)
	a := startAgent(t, name, url)
	waitUntil(t, 30*time.Second, "node drained", func() bool { return node(t, name).Spec.Unschedulable && podsOn(t, name) == 0 })
	proxy.cur.Store(1)
	a.WaitLog(t, 10*time.Second, "the withdrawal seen", "notice withdrawn")
	time.Sleep(2 * time.Second)
	proxy.cur.Store(0)
	time.Sleep(2 * time.Second)
	if n := node(t, name); !n.Spec.Unschedulable || taintCount(n) != 1 || n.Annotations[drain.NoticeAnnotation] == "" {
		t.Errorf("node uncordoned (%v), taints %v or record %q lost after a Spot notice missed a poll",
			!n.Spec.Unschedulable, n.Spec.Taints, n.Annotations[drain.NoticeAnnotation])
	}
	if strings.Contains(a.logs(), "uncordoning") {
		t.Error("the agent uncordoned on a Spot notice's 404")
	}
}

// TestAgentRestartKeepsChosenDeadline (issue #12, case 7): an ASG
// Terminated state carries no time; the agent chooses detection + 2 min
// once, records it on the node, and a restarted agent keeps it instead of
// choosing again from its own detection.
func TestAgentRestartKeepsChosenDeadline(t *testing.T) {
	const name = "e2e-asg-restart"
	spotTest(t, name, 4, 30) // pods take up to 30s to go: the drain is still running at the restart
	aemm := testenv.StartAEMM(t, "asglifecycle", "--imdsv2", "--asg-termination-delay-sec", "1")
	first := startAgent(t, name, aemm.URL)
	waitUntil(t, 20*time.Second, "cordon", func() bool { return node(t, name).Spec.Unschedulable })
	rec := recordedNotice(t, node(t, name))
	if rec == nil || rec.Kind != "ASGTermination" {
		t.Fatalf("record %+v, want the ASG notice", rec)
	}
	first.kill()
	time.Sleep(2 * time.Second) // a restarted agent detects the notice anew, seconds later
	second := startAgent(t, name, aemm.URL)
	waitUntil(t, 20*time.Second, "the resumed drain", func() bool {
		return second.metric(t, "spot_handler_termination_deadline_timestamp_seconds") != 0
	})
	if got, want := second.metric(t, "spot_handler_termination_deadline_timestamp_seconds"), float64(rec.Deadline.Unix()); got != want {
		t.Errorf("restarted agent drains to %v, want the recorded deadline %v (%s)", time.Unix(int64(got), 0).UTC(), rec.Deadline, rec.Deadline.Sub(time.Unix(int64(got), 0)))
	}
	if v := second.metric(t, "spot_handler_notices_total"); v != 0 {
		t.Errorf("the restarted agent announced the recorded notice again (%v notices counted), want it resumed", v)
	}
	if again := recordedNotice(t, node(t, name)); again == nil || !again.Deadline.Equal(rec.Deadline) {
		t.Errorf("record after the restart %+v, want deadline %v", again, rec.Deadline)
	}
}

// TestAgentCleansUnreadableRecord (issue #12, case 8): a notice annotation
// that cannot be parsed, with no notice in force, is cleaned up once IMDS
// has answered: the node is uncordoned and the record removed.
func TestAgentCleansUnreadableRecord(t *testing.T) {
	const name = "e2e-bad-record"
	spotTest(t, name, 1, 1)
	patch := fmt.Sprintf(`{"spec":{"unschedulable":true},"metadata":{"annotations":{%q:"{not json",%q:"unschedulable"}}}`,
		drain.NoticeAnnotation, drain.AddedAnnotation)
	if _, err := plane.Client.CoreV1().Nodes().Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, name, quietAEMM(t).URL)
	waitUntil(t, 20*time.Second, "the unreadable record cleaned up", func() bool {
		n := node(t, name)
		return !n.Spec.Unschedulable && n.Annotations[drain.NoticeAnnotation] == "" && n.Annotations[drain.AddedAnnotation] == ""
	})
	if !strings.Contains(a.logs(), "unreadable") {
		t.Error("the agent did not say the record was unreadable")
	}
}
