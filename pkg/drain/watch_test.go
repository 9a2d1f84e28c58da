package drain

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// TestDrainCutsGraceOfPodDeletedAfterThePlan (issue 20, item 1): a pod
// someone else deletes after the drain planned, with its own 600 s grace
// and using all of it, would outlive deadline − margin; the drain cuts its
// grace as it cuts its evictions' and says who started the termination.
// The drain's one LIST of PodDisruptionBudgets comes between its plan and
// its first eviction: the fault proxy holds it (the drain gives it up after
// its 2 s bound) while the test deletes the pod, as a NoExecute taint
// manager, a namespace deletion or a person would. Before the fix the pod
// was "watched, not evicted again" and ran past the deadline.
func TestDrainCutsGraceOfPodDeletedAfterThePlan(t *testing.T) {
	node := "drain-deleted-after-plan"
	p, ns := nodeTest(t, node, workload{name: "slow", replicas: 1, grace: 600, delay: 100000 * time.Second},
		workload{name: "ok", replicas: 1, grace: 1})
	slow := podsOfApp(t, p, ns, "slow")[0]
	f := p.Faults(t)
	held := f.Add(testenv.Rule{Match: testenv.Match{Method: "GET", Path: `^/apis/policy/v1/poddisruptionbudgets$`}, Times: 1, Hang: true})
	deleted := make(chan error, 1)
	go func() {
		err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 60*time.Second, true,
			func(context.Context) (bool, error) { return held.Hits() == 1, nil })
		if err == nil {
			err = p.Client.CoreV1().Pods(ns).Delete(context.Background(), slow.Name, metav1.DeleteOptions{})
		}
		deleted <- err
	}()
	d := drainerOn(t, f.Client, func(pol *Policy) { pol.Margin = 10 * time.Second })
	rep := drainToEmpty(t, p, d, Request{Node: node, Kind: "SpotInterruption", NoticeID: "after-plan", Deadline: time.Now().Add(30 * time.Second)})
	if err := <-deleted; err != nil {
		t.Fatalf("deleting the pod after the plan: %v", err)
	}
	for _, r := range rep.Pods {
		if r.UID != slow.UID {
			continue
		}
		if r.TerminatedBy != ByOtherAfterPlan || r.Outcome != GoneBeforeEviction || r.Grace < 1 || r.Grace > 20 ||
			!strings.Contains(r.Reason, "after the drain planned") || !strings.Contains(r.Reason, "grace shortened from 600s") {
			t.Errorf("pod deleted after the plan: by %q, %s, grace %d (%s); want by %q, its grace cut below 20s, the reason saying so",
				r.TerminatedBy, r.Outcome, r.Grace, r.Reason, ByOtherAfterPlan)
		}
		if !strings.Contains(rep.Summary(), "1 terminated by someone else") {
			t.Errorf("summary %q does not count the pod terminated by someone else", rep.Summary())
		}
		return
	}
	t.Fatalf("the pod deleted after the plan is not in the report: %s", rep.Summary())
}

// TestDrainWatchesTheNodeAfterItIsEmpty (issue 20, item 2): a pod that
// tolerates every taint (no DaemonSet's) created on the node after the
// drain saw it empty and before deadline − margin is drained too: with
// Request.OnEmpty the drain reports the first empty moment and keeps the
// node under watch until deadline − margin. Before the fix the drain had
// returned at the first empty moment and the pod stayed.
func TestDrainWatchesTheNodeAfterItIsEmpty(t *testing.T) {
	node := "drain-watch-after-empty"
	p, ns := nodeTest(t, node, workload{name: "web", replicas: 2, grace: 1})
	d := newDrainer(t, p, func(pol *Policy) { pol.Margin = 5 * time.Second })
	emptied := make(chan *Report, 1)
	req := Request{Node: node, Kind: "SpotInterruption", NoticeID: "watch", Deadline: time.Now().Add(40 * time.Second),
		OnEmpty: func(r *Report) { emptied <- r }}
	type result struct {
		rep *Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := d.Drain(context.Background(), req)
		done <- result{rep, err}
	}()
	var first *Report
	select {
	case first = <-emptied:
	case r := <-done:
		t.Fatalf("the drain ended without reporting the node empty: %v (%s)", r.err, r.rep.Summary())
	}
	t.Logf("first empty: %s", first.Summary())
	if !first.Empty || first.Emptied.IsZero() || len(first.Pods) != 2 || len(first.Late()) != 0 {
		t.Fatalf("first empty report: %s, want the 2 web pods gone and nothing late", first.Summary())
	}
	grace := int64(1)
	late := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "typha-like", Namespace: ns},
		Spec: corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: &grace,
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers:  []corev1.Container{{Name: "c", Image: "registry.local/fake:1"}}}}
	late, err := p.Client.CoreV1().Pods(ns).Create(context.Background(), late, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("drain: %v (%s)", r.err, r.rep.Summary())
	}
	rep := r.rep
	t.Log(rep.Summary())
	checkEmptyInTime(t, p, rep, node)
	if end := rep.Deadline.Add(-rep.Margin); rep.Finished.Before(end) {
		t.Errorf("the drain stopped watching at %v, before deadline-margin %v", rep.Finished, end)
	}
	if !rep.Emptied.Equal(first.Emptied) {
		t.Errorf("Emptied %v, want the first empty moment %v", rep.Emptied, first.Emptied)
	}
	lates := rep.Late()
	if len(lates) != 1 || lates[0].UID != late.UID || lates[0].Outcome != Evicted || lates[0].TerminatedBy != ByDrain {
		t.Fatalf("late pods %+v, want the typha-like pod evicted by the drain", lates)
	}
	if !strings.Contains(rep.Summary(), "1 pods reached the node after it was empty") {
		t.Errorf("summary %q does not say a pod reached the node after it was empty", rep.Summary())
	}
}

// TestDrainNotEmptyWhileAPodIsUndecided (issue 20, item 2): a DaemonSet
// pod whose DaemonSet cannot be read (every GET answered 503 by the fault
// proxy) is undecided: it may be an orphan that must leave. The report
// does not call the node empty while it is there, and names it. Before the
// fix the drain reported Empty as soon as the other pod was gone.
func TestDrainNotEmptyWhileAPodIsUndecided(t *testing.T) {
	node := "drain-undecided"
	p, ns := nodeTest(t, node, workload{name: "web", replicas: 1, grace: 1})
	daemonSetOn(t, p, ns, "logs", node)
	f := p.Faults(t)
	unreadable := f.Add(testenv.Rule{Match: testenv.Match{Method: "GET", Path: "^/apis/apps/v1/namespaces/" + ns + "/daemonsets/logs$"},
		Status: 503, Message: "etcd leader changed"})
	d := drainerOn(t, f.Client, func(pol *Policy) { pol.Margin = 5 * time.Second })
	rep, err := d.Drain(context.Background(), Request{Node: node, Kind: "SpotInterruption", NoticeID: "undecided", Deadline: time.Now().Add(20 * time.Second)})
	if err != nil {
		t.Fatalf("drain: %v", err)
	}
	t.Log(rep.Summary())
	if rep.Empty || !errors.Is(rep.Err, ErrDeadline) || !strings.Contains(rep.Err.Error(), "etcd leader changed") {
		t.Errorf("report Empty=%v, Err=%v; want not empty, ErrDeadline with the DaemonSet read's failure", rep.Empty, rep.Err)
	}
	if len(rep.Undecided) != 1 || !strings.HasPrefix(rep.Undecided[0].Name, "logs-") || !strings.Contains(rep.Summary(), "undecided") {
		t.Errorf("undecided %+v, summary %q; want the logs pod named as undecided", rep.Undecided, rep.Summary())
	}
	if rep.Counts()[Evicted] != 1 {
		t.Errorf("evicted %v, want the web pod", rep.Counts())
	}
	if unreadable.Hits() < 2 {
		t.Errorf("the DaemonSet was read %d times, want retries", unreadable.Hits())
	}
}

// TestDrainNoExecuteTaintLongGrace (issue 20, item 1): with
// --taint-effect=NoExecute the cluster's taint manager deletes the node's
// pods with their own grace right after the cordon, around the drain's
// plan. Pods asking 600 s (and using it all) are still gone before
// deadline − margin: whoever started each termination, its grace fits.
// Before the fix the 5 pods were "terminating before the drain" and still
// running at the deadline.
func TestDrainNoExecuteTaintLongGrace(t *testing.T) {
	node := "drain-noexecute"
	p, _ := nodeTest(t, node, workload{name: "slow", replicas: 5, grace: 600, delay: 100000 * time.Second})
	d := newDrainer(t, p, func(pol *Policy) { pol.Margin = 10 * time.Second; pol.TaintEffect = corev1.TaintEffectNoExecute })
	rep := drainToEmpty(t, p, d, Request{Node: node, Kind: "SpotInterruption", NoticeID: "noexec", Deadline: time.Now().Add(30 * time.Second)})
	by := map[Starter]int{}
	for _, r := range rep.Pods {
		by[r.TerminatedBy]++
		if r.Grace < 1 || r.Grace > 20 {
			t.Errorf("pod %s: grace %d (%s), want it cut to end before deadline-margin", r.Name, r.Grace, r.Reason)
		}
	}
	t.Logf("terminations started by: %v", by)
	if len(rep.Pods) != 5 {
		t.Errorf("%d pods in the report, want 5", len(rep.Pods))
	}
}
