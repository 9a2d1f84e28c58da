package drain

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBudgetOrder(t *testing.T) {
	pod := func(ns, name, app string, prio int32) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": app}}}
		p.Spec.Priority = &prio
		return p
	}
	pdb := func(ns, app string, allowed int32) policyv1.PodDisruptionBudget {
		return policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app},
			Spec:   policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed}}
	}
	plan := []corev1.Pod{ // in plan order: priority, then name
		pod("a", "blocked-1", "db", 0), pod("a", "blocked-2", "db", 0), pod("a", "free-1", "web", 0),
		pod("b", "other-ns", "db", 0), pod("a", "zz-allowed", "api", 0), pod("a", "high-blocked", "db", 10), pod("a", "high-free", "web", 10),
	}
	for _, c := range []struct {
		name string
		pdbs []policyv1.PodDisruptionBudget
		want string
	}{
		{"no PDBs: plan order", nil, "blocked-1 blocked-2 free-1 other-ns zz-allowed high-blocked high-free"},
		{"refusing PDB: its pods last within each priority", []policyv1.PodDisruptionBudget{pdb("a", "db", 0), pdb("a", "api", 1)},
			"free-1 other-ns zz-allowed blocked-1! blocked-2! high-free high-blocked!"},
		{"allowing PDB: no change", []policyv1.PodDisruptionBudget{pdb("a", "db", 2)}, "blocked-1 blocked-2 free-1 other-ns zz-allowed high-blocked high-free"},
		{"nil selector selects nothing", []policyv1.PodDisruptionBudget{{ObjectMeta: metav1.ObjectMeta{Namespace: "a"}}}, "blocked-1 blocked-2 free-1 other-ns zz-allowed high-blocked high-free"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var names []string
			pods, held := budgetOrder(plan, c.pdbs)
			for i, p := range pods {
				if held[i] != strings.Contains(c.want, p.Name+"!") {
					names = append(names, p.Name+"?")
					continue
				}
				names = append(names, p.Name)
			}
			c.want = strings.ReplaceAll(c.want, "!", "")
			if got := strings.Join(names, " "); got != c.want {
				t.Errorf("order %q, want %q", got, c.want)
			}
		})
	}
}
