package e2e

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// TestAgentSIGTERMThenSpotNotice (issue #20, item 5): the agent gets
// SIGTERM (a DaemonSet rollout) while it drains the node for scheduled
// maintenance ten minutes away, pods taking their full 300 s of grace; its
// successor cannot start until it exits. A Spot notice comes in that
// window. The agent still watches instance metadata until it exits, so it
// acts on the notice: the node's record and taint say SpotInterruption and
// the pods' grace is cut so the node is empty before the Spot deadline −
// margin; then the agent exits. Before the fix the agent stopped polling
// at SIGTERM: the record stayed ScheduledMaintenance and the pods kept
// their 300 s.
func TestAgentSIGTERMThenSpotNotice(t *testing.T) {
	const name = "e2e-sigterm-spot"
	needPlane(t)
	t.Parallel()
	ctx := context.Background()
	if _, err := plane.NewNode(ctx, name, map[string]string{"spot": "true"}); err != nil {
		t.Fatal(err)
	}
	ns := plane.NewNamespace(t)
	if err := plane.PinnedReplicaSet(ctx, ns, "slow", name, 4, 300, 100000*time.Second); err != nil {
		t.Fatal(err)
	}
	notBefore := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	maintenance := testenv.StartAEMM(t, "events", "--imdsv2", "-o", "system-reboot", "-b", notBefore, "-t", "active")
	deadline := time.Now().Add(75 * time.Second).UTC().Truncate(time.Second)
	spot := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", deadline.Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	proxy, url := newSwitchingProxy(t, maintenance.URL, spot.URL)
	a := startAgent(t, name, url)
	waitUntil(t, 30*time.Second, "the maintenance drain's evictions (pods terminating with their grace)", func() bool {
		pods, err := plane.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		terminating := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName == name && p.DeletionTimestamp != nil {
				terminating++
			}
		}
		return err == nil && terminating == 4
	})
	if rec := recordedNotice(t, node(t, name)); rec == nil || rec.Kind != "ScheduledMaintenance" {
		t.Fatalf("record %+v before SIGTERM, want the maintenance notice", rec)
	}
	if err := a.Signal(sigterm); err != nil {
		t.Fatal(err)
	}
	a.WaitLog(t, 10*time.Second, "SIGTERM seen while draining", "finishing the drain first")
	if podsOn(t, name) == 0 {
		t.Fatal("the maintenance drain emptied the node before the Spot notice: the test exercises nothing")
	}
	proxy.cur.Store(1)
	waitUntil(t, 20*time.Second, "the Spot notice acted on after SIGTERM (record and taint say SpotInterruption)", func() bool {
		n := node(t, name)
		rec, tn := recordedNotice(t, n), drainTaint(n)
		return rec != nil && rec.Kind == "SpotInterruption" && tn != nil && tn.Value == "SpotInterruption"
	})
	waitUntil(t, time.Until(deadline), "node empty", func() bool { return podsOn(t, name) == 0 })
	if emptied, by := time.Now(), deadline.Add(-15*time.Second); emptied.After(by) {
		t.Errorf("node emptied at %v, after the Spot deadline − margin %v", emptied.Format(time.RFC3339), by.Format(time.RFC3339))
	}
	select {
	case <-a.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not exit after the Spot drain")
	}
}
