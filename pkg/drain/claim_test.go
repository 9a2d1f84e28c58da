package drain

import (
	"encoding/json"
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
