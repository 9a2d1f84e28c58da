package drain

import (
	"context"
	"sort"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// pdbLookup bounds the one LIST of PodDisruptionBudgets a drain makes to
// order its waves: without it the drain goes on unordered.
const pdbLookup = 2 * time.Second

// budgetOrder puts, within each priority, the pods a PodDisruptionBudget
// will refuse right now (one that selects them allows no disruption) after
// the others, keeping the order otherwise, and marks them held: they are
// evicted in a wave of their own, after the pods that can leave, so the
// client's rate limit is not spent on refusals first.
func budgetOrder(pods []corev1.Pod, pdbs []policyv1.PodDisruptionBudget) ([]corev1.Pod, []bool) {
	blocked := make([]bool, len(pods))
	some := false
	for i := range pods {
		blocked[i] = refusedNow(&pods[i], pdbs)
		some = some || blocked[i]
	}
	if !some {
		return pods, blocked
	}
	idx := make([]int, len(pods))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		pa, pb := priority(&pods[idx[a]]), priority(&pods[idx[b]])
		if pa != pb {
			return pa < pb
		}
		return !blocked[idx[a]] && blocked[idx[b]]
	})
	out, held := make([]corev1.Pod, len(pods)), make([]bool, len(pods))
	for i, j := range idx {
		out[i], held[i] = pods[j], blocked[j]
	}
	return out, held
}

// refusedNow reports whether a PDB that selects p allows no disruption.
func refusedNow(p *corev1.Pod, pdbs []policyv1.PodDisruptionBudget) bool {
	for i := range pdbs {
		b := &pdbs[i]
		if b.Namespace != p.Namespace || b.Spec.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if b.Status.DisruptionsAllowed <= 0 {
			return true
		}
	}
	return false
}

// orderByBudgets lists the cluster's PodDisruptionBudgets (once, briefly)
// and applies budgetOrder; on failure it logs and keeps the plan's order.
func (d *Drainer) orderByBudgets(ctx context.Context, pods []corev1.Pod) ([]corev1.Pod, []bool) {
	none := make([]bool, len(pods))
	if len(pods) < 2 {
		return pods, none
	}
	ctx, cancel := d.until(ctx, d.clock.Now().Add(pdbLookup))
	defer cancel()
	var list *policyv1.PodDisruptionBudgetList
	err := retryTransient(ctx, d.clock, func(ctx context.Context) error {
		var err error
		list, err = d.client.PolicyV1().PodDisruptionBudgets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		d.log.Warn("listing PodDisruptionBudgets failed; evicting in plan order", zap.Error(err))
		return pods, none
	}
	return budgetOrder(pods, list.Items)
}
