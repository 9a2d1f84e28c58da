package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// scenarioLabel marks every pod of a scenario with its wave and node.
const scenarioLabel = "soak.spot-handler.io/scenario"

// priorityClasses are the soak's PriorityClasses (Deployment.Priority).
var priorityClasses = map[string]int32{"soak-batch": -10, "soak-web": 1000, "soak-critical": 1000000}

// ensurePriorityClasses creates the soak's PriorityClasses once.
func ensurePriorityClasses(ctx context.Context) error {
	for name, v := range priorityClasses {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: v}
		if _, err := plane.Client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating PriorityClass %s: %w", name, err)
		}
	}
	return nil
}

// homeKey is the label that draws a scenario's pods to its node (and, with
// room elsewhere, afterwards to the stable nodes too).
func homeKey(node string) string { return "home.soak.spot-handler.io/" + node }

// template is a pod template of the scenario: its label, grace, a kwok
// delay making the pod use all its grace, drawn to the node by homeKey.
func template(sc Scenario, node, app string, grace int, priority string) corev1.PodTemplateSpec {
	labels := map[string]string{"app": app, scenarioLabel: fmt.Sprintf("w%d-n%d", sc.Wave, sc.Node)}
	pt := testenv.PodTemplate(labels, map[string]string{homeKey(node): "true"}, int64(grace), 100000*time.Second)
	pt.Spec.PriorityClassName = priority
	return pt
}

// buildWorkload creates the scenario's workload in ns on node and waits
// until every pod runs there.
func buildWorkload(ctx context.Context, sc Scenario, ns, node string) error {
	w := sc.Workload
	client := plane.Client
	want := 0
	for i, d := range w.Deployments {
		app := fmt.Sprintf("dep%d", i)
		reps := int32(d.Replicas)
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
			Spec: appsv1.DeploymentSpec{Replicas: &reps, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
				Template: template(sc, node, app, d.Grace, d.Priority)}}
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Deployment %s/%s: %w", ns, app, err)
		}
		if err := createPDBs(ctx, ns, app, d); err != nil {
			return err
		}
		want += d.Replicas
	}
	for i := range w.BarePods {
		pt := template(sc, node, "bare", 30, "")
		pt.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		pod := &corev1.Pod{ObjectMeta: pt.ObjectMeta, Spec: pt.Spec}
		pod.Name = fmt.Sprintf("bare-%d", i)
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating pod %s/%s: %w", ns, pod.Name, err)
		}
		want++
	}
	if w.StatefulSet > 0 {
		reps := int32(w.StatefulSet)
		sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
			Spec: appsv1.StatefulSetSpec{Replicas: &reps, ServiceName: "db", PodManagementPolicy: appsv1.ParallelPodManagement,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, Template: template(sc, node, "db", 30, "")}}
		if _, err := client.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating StatefulSet %s/db: %w", ns, err)
		}
		want += w.StatefulSet
	}
	if w.DaemonSet {
		if err := plane.PinnedDaemonSet(ctx, ns, "agentlike", node); err != nil {
			return err
		}
		want++
	}
	return waitRunningOn(ctx, ns, node, want)
}

// createPDBs gives Deployment app its drawn budget(s).
func createPDBs(ctx context.Context, ns, app string, d Deployment) error {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	one, zero, all := intstr.FromInt32(1), intstr.FromInt32(0), intstr.FromInt32(int32(d.Replicas))
	var specs []policyv1.PodDisruptionBudgetSpec
	switch d.PDB {
	case MaxUnavailable0:
		specs = append(specs, policyv1.PodDisruptionBudgetSpec{Selector: sel, MaxUnavailable: &zero})
	case MaxUnavailable1:
		specs = append(specs, policyv1.PodDisruptionBudgetSpec{Selector: sel, MaxUnavailable: &one})
	case MinAvailableAll:
		specs = append(specs, policyv1.PodDisruptionBudgetSpec{Selector: sel, MinAvailable: &all})
	case TwoPDBs:
		specs = append(specs, policyv1.PodDisruptionBudgetSpec{Selector: sel, MaxUnavailable: &one},
			policyv1.PodDisruptionBudgetSpec{Selector: sel, MaxUnavailable: &one})
	}
	for i, spec := range specs {
		pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", app, i), Namespace: ns}, Spec: spec}
		if _, err := plane.Client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating PDB %s/%s: %w", ns, pdb.Name, err)
		}
	}
	return nil
}

// waitRunningOn waits until want pods of ns run on node.
func waitRunningOn(ctx context.Context, ns, node string, want int) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := plane.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				running++
			}
		}
		last = fmt.Sprintf("%d of %d running", running, want)
		return running == want, nil
	})
	if err != nil {
		return fmt.Errorf("workload of %s in %s not running (%s): %w", node, ns, last, err)
	}
	return nil
}

// makeRoom lets the scenario's replacements schedule on the stable nodes.
func makeRoom(ctx context.Context, node string, stable []string) error {
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:"true"}}}`, homeKey(node))
	for _, s := range stable {
		if _, err := plane.Client.CoreV1().Nodes().Patch(ctx, s, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("labelling stable node %s for %s's replacements: %w", s, node, err)
		}
	}
	return nil
}

// dropRoom removes makeRoom's labels (best effort: the soak goes on).
func dropRoom(ctx context.Context, node string, stable []string) {
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, homeKey(node))
	for _, s := range stable {
		_, _ = plane.Client.CoreV1().Nodes().Patch(ctx, s, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	}
}

// latePod binds a bare pod straight to node (no scheduler), as a
// controller that sets nodeName does: it arrives after the notice and
// must leave too.
func latePod(ctx context.Context, sc Scenario, ns, node string, i int) error {
	pt := template(sc, node, "late", 30, "")
	pod := &corev1.Pod{ObjectMeta: pt.ObjectMeta, Spec: pt.Spec}
	pod.Name = fmt.Sprintf("late-%d", i)
	pod.Spec.NodeSelector = nil
	pod.Spec.NodeName = node
	_, err := plane.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	return err
}

// deleteSome deletes n running pods of ns on node, with their own grace,
// as someone else (a rollout, a human) would mid-drain; it returns their
// names.
func deleteSome(ctx context.Context, r *rand.Rand, ns, node string, n int) ([]string, error) {
	pods, err := plane.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return nil, err
	}
	var cands []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && !ownedBy(&p, "DaemonSet") {
			cands = append(cands, p)
		}
	}
	// The apiserver lists by name, and a ReplicaSet's pod names are
	// random: order by what a replay draws the same (the generator of the
	// name, a bare pod's or StatefulSet pod's own name) before the seeded
	// shuffle, so a replay deletes pods of the same workloads. Pods of one
	// ReplicaSet are alike, whichever of them goes.
	sort.SliceStable(cands, func(i, j int) bool { return podKind(&cands[i]) < podKind(&cands[j]) })
	r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	var out []string
	for _, p := range cands[:min(n, len(cands))] {
		if err := plane.Client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return out, err
		}
		out = append(out, p.Name)
	}
	return out, nil
}

// podKind is what tells pod's workload the same way in every run: the
// prefix its name was generated from, or its name.
func podKind(pod *corev1.Pod) string {
	if pod.GenerateName != "" {
		return pod.GenerateName
	}
	return pod.Name
}

// ownedBy reports whether pod's controller is of kind.
func ownedBy(pod *corev1.Pod, kind string) bool {
	for _, o := range pod.OwnerReferences {
		if o.Controller != nil && *o.Controller && o.Kind == kind {
			return true
		}
	}
	return false
}
