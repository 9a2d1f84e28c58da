package controller

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spot-handler/spot-handler/internal/interrupt"
)

// maintenanceWait is a waiting Health scheduled change for node starting
// at start, as a leader records it in WaitAnnotation.
func maintenanceWait(node, id string, start time.Time) waitRecord {
	return waitRecord{Kind: string(interrupt.ScheduledMaintenance), ID: "queue/ScheduledMaintenance/i-" + node + "/" + id,
		Action: "EC2_INSTANCE_REBOOT", Instance: "i-" + node, Deadline: start, Detected: start.Add(-14 * 24 * time.Hour)}
}

// recordWaits writes recs on node as a previous leader did, and waits until
// the node index holds them.
func (r *gcRig) recordWaits(node string, recs ...waitRecord) {
	r.t.Helper()
	b, err := json.Marshal(recs)
	if err != nil {
		r.t.Fatal(err)
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{WaitAnnotation: string(b)}}})
	if _, err := r.kube.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.c.recordedWaits(node) != string(b) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the node index never saw %s's wait record", node)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitAnnotation is node's WaitAnnotation as the API server holds it.
func (r *gcRig) waitAnnotation(node string) string {
	r.t.Helper()
	n, err := r.kube.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return n.Annotations[WaitAnnotation]
}

// TestResumeInsideLeadRemovesWaitRecord: a leader recorded a maintenance
// wait and died 30 minutes before the event's start, inside the lead time.
// The new leader's actor drains the node at once, so nothing waits any
// more: it must remove the record it did not write itself, or every later
// leader drains the node again for an event long over.
func TestResumeInsideLeadRemovesWaitRecord(t *testing.T) {
	r := newGCRig(t, false, "n1")
	r.c.cfg.MaintenanceLead = time.Hour
	r.recordWaits("n1", maintenanceWait("n1", "arn-1", t0.Add(30*time.Minute)))
	r.c.resumeWaits(r.as)
	deadline := time.Now().Add(10 * time.Second)
	for r.waitAnnotation("n1") != "" || !r.unschedulable("n1") {
		if time.Now().After(deadline) {
			t.Fatalf("after resuming inside the lead time: unschedulable=%v, wait record %q; want the node cordoned and the record removed",
				r.unschedulable("n1"), r.waitAnnotation("n1"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestResumeWaitsDropsPastRecords: a wait record whose event started a
// week ago is neither held again (no actor, no cordon) nor left on the
// node; one still to come is kept and held.
func TestResumeWaitsDropsPastRecords(t *testing.T) {
	r := newGCRig(t, false, "n1", "n2")
	r.c.cfg.MaintenanceLead = time.Hour
	past := maintenanceWait("n1", "arn-past", t0.Add(-7*24*time.Hour))
	later := maintenanceWait("n2", "arn-later", t0.Add(3*24*time.Hour))
	r.recordWaits("n1", past)
	r.recordWaits("n2", maintenanceWait("n2", "arn-past", t0.Add(-7*24*time.Hour)), later)
	r.c.resumeWaits(r.as)
	if got := r.waitAnnotation("n1"); got != "" {
		t.Errorf("n1's wait record after resume = %q, want the past event's record removed", got)
	}
	if got := r.waitAnnotation("n2"); strings.Contains(got, "arn-past") || !strings.Contains(got, later.ID) {
		t.Errorf("n2's wait record after resume = %q, want only %s", got, later.ID)
	}
	r.as.mu.Lock()
	_, held := r.as.all["n1"]
	r.as.mu.Unlock()
	if held {
		t.Error("n1's past event was held again: an actor was started for it")
	}
	// n2's actor applies the event still to come; it waits, n2 stays in use.
	if res := r.as.deliver("n2", interrupt.Woke{}); res.err != nil {
		t.Fatal(res.err)
	}
	if r.unschedulable("n1") || r.unschedulable("n2") {
		t.Errorf("unschedulable n1=%v n2=%v, want neither drained (one event is over, the other a lead time away)",
			r.unschedulable("n1"), r.unschedulable("n2"))
	}
}
