package drain

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// checkEmptyInTime asserts the report says empty, that no planned pod is on
// the node, and that the node first emptied before deadline − margin (and,
// for a drain that watched on, was empty when it stopped).
func checkEmptyInTime(t *testing.T, p *testenv.Plane, rep *Report, node string) {
	t.Helper()
	if !rep.Empty || rep.MissedDeadline() {
		t.Fatalf("node not empty: %s", rep.Summary())
	}
	if rep.Emptied.After(rep.Deadline.Add(-rep.Margin)) {
		t.Fatalf("emptied at %v, after deadline-margin %v", rep.Emptied, rep.Deadline.Add(-rep.Margin))
	}
	for _, pod := range podsOn(t, p, node) {
		if metav1.GetControllerOf(&pod) == nil || metav1.GetControllerOf(&pod).Kind != "DaemonSet" {
			t.Errorf("pod %s/%s still on node %s", pod.Namespace, pod.Name, node)
		}
	}
}

// drainToEmpty runs d's drain for req, fails the test if Drain errs or
// req.Node is not empty before deadline − margin (checkEmptyInTime), and
// logs the report.
func drainToEmpty(t *testing.T, p *testenv.Plane, d *Drainer, req Request) *Report {
	t.Helper()
	rep, err := d.Drain(context.Background(), req)
	if err != nil {
		t.Fatalf("drain: %v (%s)", err, rep.Summary())
	}
	t.Log(rep.Summary())
	checkEmptyInTime(t, p, rep, req.Node)
	return rep
}

func TestDrain110PodsByPriority(t *testing.T) {
	p := needPlane(t)
	t.Parallel()
	ctx := context.Background()
	for name, v := range map[string]int32{"drain-test-low": -10, "drain-test-high": 1000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: v}
		if _, err := p.Client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	ns := p.NewNamespace(t)
	node := "drain-110"
	nodeWith(t, p, ns, node,
		workload{name: "batch", replicas: 30, grace: 30, priority: "drain-test-low"},
		workload{name: "web", replicas: 40, grace: 30},
		workload{name: "api", replicas: 30, grace: 30},
		workload{name: "db", replicas: 10, grace: 30, priority: "drain-test-high"})
	d := newDrainer(t, p, nil)
	req := Request{Node: node, Kind: "SpotInterruption", Action: "terminate", NoticeID: "n1", Deadline: time.Now().Add(2 * time.Minute)}
	rep := drainToEmpty(t, p, d, req)
	if len(rep.Pods) != 110 || rep.Counts()[Evicted] != 110 {
		t.Fatalf("want 110 evicted, got %d pods %v", len(rep.Pods), rep.Counts())
	}
	// Lowest priority first: the plan's order and the acceptance times.
	for i := 1; i < len(rep.Pods); i++ {
		if rep.Pods[i].Priority < rep.Pods[i-1].Priority {
			t.Fatalf("pod %d priority %d after %d", i, rep.Pods[i].Priority, rep.Pods[i-1].Priority)
		}
	}
	var lastLow, firstHigh time.Time
	for _, r := range rep.Pods {
		if r.Priority == -10 && r.Accepted.After(lastLow) {
			lastLow = r.Accepted
		}
		if r.Priority == 1000 && (firstHigh.IsZero() || r.Accepted.Before(firstHigh)) {
			firstHigh = r.Accepted
		}
		if r.Grace != 30 {
			t.Errorf("pod %s grace %d, want its own 30", r.Name, r.Grace)
		}
	}
	if firstHigh.Before(lastLow) {
		t.Errorf("a high-priority pod was evicted (%v) before the last low-priority one (%v)", firstHigh, lastLow)
	}
	n := getNode(t, p, node)
	if !n.Spec.Unschedulable || countTaint(n) != 1 || n.Labels[DefaultExcludeLabel] != "true" || n.Annotations[NoticeAnnotation] == "" {
		t.Errorf("node not marked: unschedulable=%v taints=%v labels=%v", n.Spec.Unschedulable, n.Spec.Taints, n.Labels)
	}
	t.Logf("cordon %v, all evictions accepted %v, empty %v after start",
		rep.Cordoned.Sub(rep.Started), rep.AllAccepted.Sub(rep.Started), rep.Finished.Sub(rep.Started))
}

func TestDrainCapsLongGracePeriods(t *testing.T) {
	node := "drain-long-grace"
	// The pods ask 600s and would use all of it (kwok delay above grace).
	p, _ := nodeTest(t, node, workload{name: "slow", replicas: 5, grace: 600, delay: 100000 * time.Second})
	// A 90s notice; the margin is wide so the test is short: 15s are left,
	// less the 2s kill slack.
	d := newDrainer(t, p, func(pol *Policy) { pol.Margin = 75 * time.Second })
	start := time.Now()
	rep := drainToEmpty(t, p, d, Request{Node: node, Kind: "SpotInterruption", NoticeID: "g", Deadline: start.Add(90 * time.Second)})
	for _, r := range rep.Pods {
		if r.Outcome != Evicted || r.Grace > 13 || r.Grace < 11 {
			t.Errorf("pod %s: outcome %s grace %d, want evicted with grace capped to ~13s", r.Name, r.Outcome, r.Grace)
		}
	}
}

func pdbFor(t *testing.T, p *testenv.Plane, ns, app string, maxUnavailable int32) {
	t.Helper()
	mu := intstr.FromInt32(maxUnavailable)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: app + "-pdb", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &mu, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}
	if _, err := p.Client.PolicyV1().PodDisruptionBudgets(ns).Create(context.Background(), pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got, err := p.Client.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), app+"-pdb", metav1.GetOptions{})
		if err == nil && got.Status.ObservedGeneration == got.Generation && got.Status.ExpectedPods > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("PDB status never computed: is the controller-manager running?")
}

// drainGuarded drains node on a notice 30s out, fails the test if Drain
// errs or a pod not named guarded* was not evicted, logs the report, and
// returns it with the guarded* pods' results for the caller to check.
func drainGuarded(t *testing.T, d *Drainer, node, noticeID string) (*Report, []PodResult) {
	t.Helper()
	rep, err := d.Drain(context.Background(), Request{Node: node, Kind: "SpotInterruption", NoticeID: noticeID, Deadline: time.Now().Add(30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	var guarded []PodResult
	for _, r := range rep.Pods {
		if strings.HasPrefix(r.Name, "guarded") {
			guarded = append(guarded, r)
		} else if r.Outcome != Evicted {
			t.Errorf("unguarded pod %s: %s (%s)", r.Name, r.Outcome, r.Reason)
		}
	}
	return rep, guarded
}

func TestDrainPDBBlocked(t *testing.T) {
	for _, fb := range []PDBFallback{FallbackDelete, FallbackWait} {
		t.Run(string(fb), func(t *testing.T) {
			node := "drain-pdb-" + string(fb)
			p, ns := nodeTest(t, node, workload{name: "guarded", replicas: 2, grace: 3}, workload{name: "free", replicas: 3, grace: 3})
			pdbFor(t, p, ns, "guarded", 0)
			d := newDrainer(t, p, func(pol *Policy) { pol.PDBFallback = fb; pol.Margin = 10 * time.Second })
			// 30s notice: the drain ends at +20s; a 3s pod's cut-off is at +17s.
			rep, guarded := drainGuarded(t, d, node, "p")
			for _, r := range guarded {
				if r.PDB != ns+"/guarded-pdb" || r.Attempts < 2 {
					t.Errorf("pod %s: PDB %q after %d attempts, want %s/guarded-pdb named after retries", r.Name, r.PDB, r.Attempts, ns)
				}
				want := DeletedAfterCutoff
				if fb == FallbackWait {
					want = RunningAtDeadline
				}
				if r.Outcome != want || !strings.Contains(r.Reason, "guarded-pdb") {
					t.Errorf("pod %s: %s (%s), want %s naming the PDB", r.Name, r.Outcome, r.Reason, want)
				}
			}
			if fb == FallbackDelete {
				checkEmptyInTime(t, p, rep, node)
			} else if rep.Empty || len(rep.Blocking()) != 2 || !strings.Contains(rep.Summary(), "guarded-pdb") {
				t.Errorf("wait policy: want 2 blocking pods named in the summary, got %s", rep.Summary())
			}
		})
	}
}

func TestDrainLeavesDaemonSetMirrorAndSelf(t *testing.T) {
	node := "drain-keep"
	p, ns := nodeTest(t, node, workload{name: "app", replicas: 2, grace: 1})
	ctx := context.Background()
	daemonSetOn(t, p, ns, "logs", node)
	grace := int64(1)
	for _, pod := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "static-etcd", Namespace: ns, Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "spot-handler-agent", Namespace: ns}},
		{ObjectMeta: metav1.ObjectMeta{Name: "lonely", Namespace: ns}},
	} {
		pod.Spec = corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "c", Image: "registry.local/fake:1"}}}
		if pod.Name == "lonely" {
			pod.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}
		if _, err := p.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	d := newDrainer(t, p, func(pol *Policy) { pol.SelfNamespace, pol.SelfName = ns, "spot-handler-agent" })
	rep, err := d.Drain(ctx, Request{Node: node, Kind: "SpotInterruption", NoticeID: "k", Deadline: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	if !rep.Empty || len(rep.Pods) != 3 {
		t.Fatalf("want the 2 app pods and the lonely pod drained, got %d: %s", len(rep.Pods), rep.Summary())
	}
	for _, r := range rep.Pods {
		if r.Name == "lonely" && !strings.Contains(r.Warning, "emptyDir") {
			t.Errorf("lonely pod warning %q, want emptyDir data loss named", r.Warning)
		}
	}
	left := map[string]bool{}
	for _, pod := range podsOn(t, p, node) {
		left[pod.Name] = true
	}
	if !left["static-etcd"] || !left["spot-handler-agent"] || len(left) != 3 {
		t.Errorf("pods left on node: %v, want the DaemonSet pod, static-etcd and spot-handler-agent", left)
	}
	reasons := map[string]string{}
	for _, s := range rep.Skipped {
		reasons[s.Name] = s.Reason
	}
	if !strings.Contains(reasons["static-etcd"], "mirror") || !strings.Contains(reasons["spot-handler-agent"], "agent") || len(reasons) != 3 {
		t.Errorf("skipped with reasons %v", reasons)
	}
}

func TestDrainTerminatingFinishingAndEmpty(t *testing.T) {
	node := "drain-misc"
	p, ns := nodeTest(t, node, workload{name: "slow", replicas: 1, grace: 20, delay: 100000 * time.Second}, workload{name: "ok", replicas: 2, grace: 1})
	ctx := context.Background()
	slow := podsOfApp(t, p, ns, "slow")[0]
	// Terminating before the drain, with a grace that outlasts the deadline.
	if err := p.Client.CoreV1().Pods(ns).Delete(ctx, slow.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	d := newDrainer(t, p, func(pol *Policy) { pol.Margin = 5 * time.Second })
	rep := drainToEmpty(t, p, d, Request{Node: node, Kind: "SpotInterruption", NoticeID: "m", Deadline: time.Now().Add(15 * time.Second)})
	for _, r := range rep.Pods {
		if r.Name == slow.Name && (r.Outcome != GoneBeforeEviction || !strings.Contains(r.Reason, "shortened")) {
			t.Errorf("terminating pod: %s %q, want gone_before_eviction with its grace shortened", r.Outcome, r.Reason)
		}
	}

	// An empty node drains at once.
	if _, err := p.NewNode(ctx, "drain-empty", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := d.Drain(ctx, Request{Node: "drain-empty", Kind: "SpotInterruption", Deadline: time.Now().Add(time.Minute)})
	if err != nil || !rep.Empty || len(rep.Pods) != 0 {
		t.Fatalf("empty node: %v %+v", err, rep)
	}
}

func TestDrainPodFinishingOnItsOwn(t *testing.T) {
	node := "drain-finish"
	// A PDB blocks the pod; while the drain retries, the pod completes.
	p, ns := nodeTest(t, node, workload{name: "job", replicas: 1, grace: 1})
	ctx := context.Background()
	pdbFor(t, p, ns, "job", 0)
	pod := podsOfApp(t, p, ns, "job")[0]
	go func() {
		time.Sleep(2 * time.Second)
		cur, err := p.Client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err == nil {
			cur.Status.Phase = corev1.PodSucceeded
			_, _ = p.Client.CoreV1().Pods(ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		}
	}()
	d := newDrainer(t, p, func(pol *Policy) { pol.PDBFallback = FallbackWait; pol.Margin = 5 * time.Second })
	rep, err := d.Drain(ctx, Request{Node: node, Kind: "SpotInterruption", Deadline: time.Now().Add(40 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	if !rep.Empty || rep.Pods[0].Outcome != GoneBeforeEviction {
		t.Fatalf("pod that completed: %s", rep.Summary())
	}
	if rep.Finished.Sub(rep.Started) > 20*time.Second {
		t.Errorf("drain waited %v after the pod completed, want it to end when the pod did", rep.Finished.Sub(rep.Started))
	}
}

func podsOfApp(t *testing.T, p *testenv.Plane, ns, app string) []corev1.Pod {
	t.Helper()
	l, err := p.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil || len(l.Items) == 0 {
		t.Fatalf("pods of %s: %v", app, err)
	}
	return l.Items
}

// TestDrainTwiceAtOnce: two drains of one node at the same moment (two
// agents, or the agent and a queue processor). Each pod is evicted once:
// the proxy's log counts eviction requests per pod UID.
func TestDrainTwiceAtOnce(t *testing.T) {
	node := "drain-twice"
	p, ns := nodeTest(t, node, workload{name: "web", replicas: 20, grace: 2})
	planned := podsOfApp(t, p, ns, "web")
	f := p.Faults(t)
	d1, d2 := drainerOn(t, f.Client, nil), drainerOn(t, f.Client, nil)
	req := Request{Node: node, Kind: "SpotInterruption", NoticeID: "same", Deadline: time.Now().Add(time.Minute)}
	var wg sync.WaitGroup
	reps := make([]*Report, 2)
	for i, d := range []*Drainer{d1, d2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if reps[i], err = d.Drain(context.Background(), req); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, rep := range reps {
		if rep != nil && !rep.Empty {
			t.Errorf("a drain did not see the node empty: %s", rep.Summary())
		}
	}
	if c := countTaint(getNode(t, p, node)); c != 1 {
		t.Errorf("taint present %d times, want once", c)
	}
	perPod := f.Evictions()
	for _, pod := range planned {
		if n := perPod[pod.UID]; n != 1 {
			t.Errorf("pod %s: %d eviction requests, want 1", pod.Name, n)
		}
	}
	if _, ok := getNode(t, p, node).Annotations[ClaimAnnotation]; ok {
		t.Error("the drain's claim was left on the node")
	}
}

func TestDrainNodeNotFound(t *testing.T) {
	p := needPlane(t)
	t.Parallel()
	d := newDrainer(t, p, nil)
	rep, err := d.Drain(context.Background(), Request{Node: "no-such-node", Kind: "SpotInterruption", Deadline: time.Now().Add(time.Minute)})
	if err == nil || !strings.Contains(err.Error(), `node "no-such-node" not found`) || !strings.Contains(err.Error(), "--node-name") {
		t.Fatalf("err = %v, want a clear not-found error naming --node-name", err)
	}
	if len(rep.Pods) != 0 {
		t.Errorf("touched pods: %+v", rep.Pods)
	}
}

func TestUncordonRemovesOnlyWhatWeAdded(t *testing.T) {
	p := needPlane(t)
	t.Parallel()
	ctx := context.Background()
	node := "drain-uncordon"
	if _, err := p.NewNode(ctx, node, map[string]string{DefaultExcludeLabel: "true"}); err != nil {
		t.Fatal(err)
	}
	// The operator's own taint must survive.
	n := getNode(t, p, node)
	n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "team", Value: "x", Effect: corev1.TaintEffectNoSchedule})
	if _, err := p.Client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := newDrainer(t, p, nil)
	req := Request{Node: node, Kind: "ScheduledMaintenance", NoticeID: "e1", Deadline: time.Now().Add(time.Hour)}
	if err := d.Cordon(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := d.Cordon(ctx, req); err != nil { // idempotent
		t.Fatal(err)
	}
	n = getNode(t, p, node)
	if countTaint(n) != 1 || !n.Spec.Unschedulable {
		t.Fatalf("after cordon twice: taints %v unschedulable %v", n.Spec.Taints, n.Spec.Unschedulable)
	}
	notice, err := d.Notice(ctx, node)
	if err != nil || notice == nil || notice.Kind != "ScheduledMaintenance" || notice.ID != "e1" {
		t.Fatalf("notice annotation = %+v, %v", notice, err)
	}
	if _, err := d.Uncordon(ctx, node, SourceIMDS); err != nil {
		t.Fatal(err)
	}
	n = getNode(t, p, node)
	team := slices.IndexFunc(n.Spec.Taints, func(tn corev1.Taint) bool { return tn.Key == "team" })
	if countTaint(n) != 0 || n.Spec.Unschedulable || team < 0 {
		t.Errorf("after uncordon: taints %v unschedulable %v", n.Spec.Taints, n.Spec.Unschedulable)
	}
	if n.Labels[DefaultExcludeLabel] != "true" {
		t.Errorf("uncordon removed the exclude label the operator had set")
	}
	if _, ok := n.Annotations[NoticeAnnotation]; ok {
		t.Errorf("notice annotation left behind")
	}
}
