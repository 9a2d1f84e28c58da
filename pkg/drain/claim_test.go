package drain

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestClaimPatch(t *testing.T) {
	now := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	live := claim{holder: "other", until: now.Add(5 * time.Second)}.String()
	lapsed := claim{holder: "other", until: now.Add(-time.Second)}.String()
	mine := claim{holder: "me", until: now.Add(5 * time.Second)}.String()
	for _, c := range []struct {
		name    string
		current *string
		want    bool
		guard   any
	}{
		{"unclaimed", nil, true, nil},
		{"live claim by another", &live, false, nil},
		{"lapsed claim by another: take over", &lapsed, true, lapsed},
		{"my own claim: renew", &mine, true, mine},
		{"garbage: take over", ptr("???"), true, "???"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Annotations: map[string]string{}}}
			if c.current != nil {
				n.Annotations[ClaimAnnotation] = *c.current
			}
			ops, ok := claimPatch(n, "me", now)
			if ok != c.want {
				t.Fatalf("claimed = %v, want %v", ok, c.want)
			}
			if !ok {
				if ops != nil {
					t.Errorf("ops %v for a claim not taken", ops)
				}
				return
			}
			if len(ops) != 2 || ops[0].Op != "test" || ops[0].Value != c.guard || ops[1].Op != "add" {
				b, _ := json.Marshal(ops)
				t.Fatalf("ops %s, want a guard on the current value then add", b)
			}
			got, ok := parseClaim(ops[1].Value.(string))
			if !ok || got.holder != "me" || !got.until.Equal(now.Add(claimTTL)) {
				t.Errorf("new claim %q", ops[1].Value)
			}
		})
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{ClaimAnnotation: live}}}
	if ops := unclaimPatch(n, "me"); ops != nil {
		t.Errorf("unclaim removed another's claim: %v", ops)
	}
	n.Annotations[ClaimAnnotation] = mine
	if ops := unclaimPatch(n, "me"); len(ops) != 2 || ops[1].Op != "remove" {
		t.Errorf("unclaim of my claim: %v", ops)
	}
}

func ptr[T any](v T) *T { return &v }

func TestPlanLeaves(t *testing.T) {
	d := &Drainer{policy: Policy{SelfNamespace: "kube-system", SelfName: "agent"}}
	yes := true
	ds := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "logs", Controller: &yes}
	rs := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", Controller: &yes}
	pod := func(ns, name string, prio int32, owner *metav1.OwnerReference, phase corev1.PodPhase, ann map[string]string) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann}, Status: corev1.PodStatus{Phase: phase}}
		p.Spec.Priority = &prio
		if owner != nil {
			p.OwnerReferences = []metav1.OwnerReference{*owner}
		}
		return p
	}
	pods, skipped := d.plan([]corev1.Pod{
		pod("a", "web-2", 0, &rs, corev1.PodRunning, nil),
		pod("a", "db", 1000, &rs, corev1.PodRunning, nil),
		pod("a", "batch", -10, nil, corev1.PodRunning, nil),
		pod("a", "web-1", 0, &rs, corev1.PodRunning, nil),
		pod("a", "logs-x", 0, &ds, corev1.PodRunning, nil),
		pod("a", "etcd", 0, nil, corev1.PodRunning, map[string]string{corev1.MirrorPodAnnotationKey: "x"}),
		pod("kube-system", "agent", 0, nil, corev1.PodRunning, nil),
		pod("a", "done", 0, &rs, corev1.PodSucceeded, nil),
	})
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	if got, want := strings.Join(names, " "), "batch web-1 web-2 db"; got != want {
		t.Errorf("plan %q, want %q (priority, then name; finished pods out)", got, want)
	}
	if len(skipped) != 3 {
		t.Errorf("skipped %+v, want the DaemonSet, mirror and agent pods", skipped)
	}
}
