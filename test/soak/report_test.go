package soak

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3}
	for p, want := range map[float64]time.Duration{50: 3, 99: 5, 1: 1, 100: 5} {
		if got := Percentile(ds, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty: want 0")
	}
}

// TestSummarizeCountsLeftAndSpare: pods left and failures add up; the
// least spare time ignores scenarios that left pods or were withdrawn.
func TestSummarizeCountsLeftAndSpare(t *testing.T) {
	outs := []Outcome{
		{Scenario: Scenario{Signal: Spot}, MustLeave: 10, Cordon: time.Second, Spare: 40 * time.Second},
		{Scenario: Scenario{Signal: Spot}, MustLeave: 5, Left: []string{"a/b"}, Cordon: 2 * time.Second, Spare: -3 * time.Second},
		{Scenario: Scenario{Signal: MaintenanceCanceled}, Cordon: 3 * time.Second, Spare: time.Second},
		{Scenario: Scenario{Signal: SpotWarning}, MustLeave: 1, Cordon: -1, Spare: 20 * time.Second, Failures: []string{"x"}},
	}
	s := Summarize(1, 1, outs, nil, 0, time.Minute)
	if s.MustLeave != 16 || s.Left != 1 || s.Failed != 2 || s.LeastSpare != 20*time.Second || s.CordonP99 != 2*time.Second {
		t.Errorf("got %+v", s)
	}
	if !strings.Contains(outs[1].Report(), "replay: make soak SEED=0 ONLY=0:0") {
		t.Errorf("report lacks the replay line:\n%s", outs[1].Report())
	}
}

func TestFootprintGrowth(t *testing.T) {
	flat := []Footprint{{0, "c1", 1, 100, 10, true}, {1, "c1", 1, 104, 11, true}, {2, "c1", 1, 101, 12, true}}
	if got := FootprintGrowth(flat, 50, 32); len(got) != 0 {
		t.Errorf("flat: %v", got)
	}
	grew := append(flat, Footprint{3, "c1", 1, 400, 12, true})
	if got := FootprintGrowth(grew, 50, 32); len(got) != 1 {
		t.Errorf("grew: %v", got)
	}
	restarted := []Footprint{{0, "c1", 1, 100, 10, false}, {1, "c1", 2, 400, 60, false}, {2, "c1", 2, 401, 60, false}}
	if got := FootprintGrowth(restarted, 50, 32); len(got) != 0 {
		t.Errorf("a restart is not growth: %v", got)
	}
	promoted := []Footprint{{0, "c2", 3, 27, 8, false}, {1, "c2", 3, 27, 8, false}, {2, "c2", 3, 215, 13, true}}
	if got := FootprintGrowth(promoted, 50, 32); len(got) != 0 {
		t.Errorf("a standby that became the leader did not grow: %v", got)
	}
}

// TestGoneAt: a pod is gone when its object is deleted or, if earlier,
// once its deletion timestamp (its kill time) has passed.
func TestGoneAt(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, c := range []struct {
		name      string
		p         podSeen
		now, want time.Time
	}{
		{"running", podSeen{}, at(10), time.Time{}},
		{"deleted", podSeen{Gone: at(5)}, at(10), at(5)},
		{"killed, object still there", podSeen{KillBy: at(4)}, at(10), at(4)},
		{"kill time ahead", podSeen{KillBy: at(20)}, at(10), time.Time{}},
		{"object deleted before its kill time", podSeen{KillBy: at(8), Gone: at(3)}, at(10), at(3)},
		{"object deleted after its kill time", podSeen{KillBy: at(3), Gone: at(8)}, at(10), at(3)},
	} {
		if got := c.p.GoneAt(c.now); !got.Equal(c.want) {
			t.Errorf("%s: GoneAt = %v, want %v", c.name, got, c.want)
		}
	}
}
