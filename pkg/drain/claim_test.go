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
			ops, ok := claimPatch(n, "me", now, time.Time{})
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

// TestClaimPatchYieldsToAnEarlierDeadline: a live claim by another holder
// gives way only to a drain whose deadline is more than preemptLead earlier
// than the holder's; a claim that records no deadline (written before
// claims did) never does, and neither does a drain that names none.
func TestClaimPatchYieldsToAnEarlierDeadline(t *testing.T) {
	now := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	spot := now.Add(2 * time.Minute)
	held := func(deadline time.Time) string {
		return claim{holder: "other", until: now.Add(5 * time.Second), deadline: deadline}.String()
	}
	for _, c := range []struct {
		name     string
		current  string
		deadline time.Time
		want     bool
	}{
		{"holder works to a window two weeks out", held(now.Add(14 * 24 * time.Hour)), spot, true},
		{"holder works to the same interruption", held(spot), spot, false},
		{"holder's deadline a few seconds later", held(spot.Add(10 * time.Second)), spot, false},
		{"holder's deadline just over the lead later", held(spot.Add(preemptLead + time.Second)), spot, true},
		{"holder's deadline earlier", held(now.Add(time.Minute)), spot, false},
		{"holder recorded no deadline", held(time.Time{}), spot, false},
		{"this drain names no deadline", held(now.Add(time.Hour)), time.Time{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Annotations: map[string]string{ClaimAnnotation: c.current}}}
			ops, ok := claimPatch(n, "me", now, c.deadline)
			if ok != c.want {
				t.Fatalf("claimed = %v, want %v", ok, c.want)
			}
			if !ok {
				return
			}
			got, parsed := parseClaim(ops[1].Value.(string))
			if !parsed || got.holder != "me" || !got.deadline.Equal(c.deadline) || ops[0].Value != c.current {
				t.Errorf("new claim %q guarded by %v; want me, deadline %v, guarded by the current claim", ops[1].Value, ops[0].Value, c.deadline)
			}
		})
	}
	if c, ok := parseClaim("other 2026-12-06T22:00:05Z"); !ok || !c.deadline.IsZero() {
		t.Errorf("a claim without a deadline parses as %+v, %v", c, ok)
	}
	if _, ok := parseClaim("other 2026-12-06T22:00:05Z soon"); ok {
		t.Error("a claim with an unreadable deadline parsed")
	}
}
