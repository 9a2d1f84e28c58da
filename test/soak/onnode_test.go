package soak

import (
	"slices"
	"testing"
	"time"
)

// TestOnNodeAt: a lifecycle completion is early only if a pod that had to
// leave was on the node at that moment; a pod that reached the node after
// it (the drain watches on and drains it) or a DaemonSet pod is not one.
func TestOnNodeAt(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	pods := []podSeen{
		{Namespace: "ns", Name: "early", Bound: at(0), Gone: at(10)},
		{Namespace: "ns", Name: "late", Bound: at(20), Gone: at(30)},
		{Namespace: "ns", Name: "stays", Bound: at(0)},
		{Namespace: "ns", Name: "ds", Bound: at(0), DaemonSet: true},
	}
	for _, c := range []struct {
		at   int
		want []string
	}{
		{5, []string{"ns/early", "ns/stays"}},
		{15, []string{"ns/stays"}},
		{25, []string{"ns/late", "ns/stays"}},
	} {
		if got := onNodeAt(pods, at(c.at)); !slices.Equal(got, c.want) {
			t.Errorf("at +%ds: %v, want %v", c.at, got, c.want)
		}
	}
	if got := onNodeAt(pods[:2], at(15)); len(got) != 0 {
		t.Errorf("between the first empty moment and a late pod: %v, want none", got)
	}
}
