package drain

import (
	"testing"
	"time"
)

func TestGracePeriod(t *testing.T) {
	p := DefaultPolicy() // margin 15s, kill slack 2s, min grace 1s
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		own      time.Duration
		deadline time.Duration // from now
		want     int64
	}{
		{"own fits", 30 * time.Second, 120 * time.Second, 30},
		{"capped by time left minus margin and kill slack", 600 * time.Second, 90 * time.Second, 73},
		{"fraction of a second rounds down", 600 * time.Second, 90*time.Second + 900*time.Millisecond, 73},
		{"deadline inside margin gets minimum", 30 * time.Second, 10 * time.Second, 1},
		{"deadline passed gets minimum", 30 * time.Second, -time.Minute, 1},
		{"zero own grace raised to minimum", 0, 120 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gracePeriod(tt.own, now, now.Add(tt.deadline), p); got != tt.want {
				t.Errorf("gracePeriod = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCutoff(t *testing.T) {
	p := DefaultPolicy()
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	deadline := start.Add(120 * time.Second) // grace periods must end by +103s
	tests := []struct {
		name string
		own  time.Duration
		want time.Duration // from start
	}{
		{"30s pod may wait until 73s", 30 * time.Second, 73 * time.Second},
		{"600s pod waits half the budget", 600 * time.Second, 51500 * time.Millisecond},
		{"0s pod waits until end minus minimum", 0, 102 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cutoff(tt.own, start, deadline, p).Sub(start); got != tt.want {
				t.Errorf("cutoff at +%v, want +%v", got, tt.want)
			}
		})
	}
}

func TestOwnGrace(t *testing.T) {
	s := int64(45)
	if ownGrace(nil) != 30*time.Second || ownGrace(&s) != 45*time.Second {
		t.Fatal("ownGrace: wrong default or conversion")
	}
}

func TestWaitEnd(t *testing.T) {
	p := DefaultPolicy()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	if got := waitEnd(now.Add(2*time.Minute), now, p); !got.Equal(now.Add(105 * time.Second)) {
		t.Errorf("normal notice: wait ends at +%v, want +105s (deadline - margin)", got.Sub(now))
	}
	if got := waitEnd(now.Add(5*time.Second), now, p); !got.Equal(now.Add(4 * time.Second)) {
		t.Errorf("late notice: wait ends at +%v, want +4s (min grace + kill slack + 1s)", got.Sub(now))
	}
}

func TestShortenTo(t *testing.T) {
	p := DefaultPolicy() // margin 15s, kill slack 2s, min grace 1s
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	deadline := now.Add(120 * time.Second) // grace periods must end by +103s
	secs := func(s int64) *int64 { return &s }
	tests := []struct {
		name  string
		at    time.Duration // deletionTimestamp, from now
		grace *int64        // deletionGracePeriodSeconds
		want  int64
		cut   bool
	}{
		{"600s deletion just begun: cut to what is left", 600 * time.Second, secs(600), 103, true},
		{"600s deletion begun 500s ago: 100s left fit", 100 * time.Second, secs(600), 0, false},
		{"ends exactly at the latest moment: kept", 103 * time.Second, secs(600), 0, false},
		{"ends a second late: cut by what is left", 104 * time.Second, secs(600), 103, true},
		{"forced deletion (0s): left alone", 600 * time.Second, secs(0), 0, false},
		{"no period recorded: left alone", 600 * time.Second, nil, 0, false},
		{"already cut to the minimum: the API would refuse a longer one", 200 * time.Second, secs(1), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, cut := shortenTo(now.Add(tt.at), tt.grace, now, deadline, p)
			if g != tt.want || cut != tt.cut {
				t.Errorf("shortenTo = %d, %v; want %d, %v", g, cut, tt.want, tt.cut)
			}
		})
	}
	// Late: the deadline is inside the margin; the shortest grace is all
	// there is, and once given the pod is not cut again (no loop of DELETEs).
	late := now.Add(10 * time.Second)
	if g, cut := shortenTo(now.Add(30*time.Second), secs(30), now, late, p); g != 1 || !cut {
		t.Errorf("late notice: %d %v, want cut to 1s", g, cut)
	}
	if _, cut := shortenTo(now.Add(time.Second), secs(1), now, late, p); cut {
		t.Error("late notice: a pod already at the minimum grace is cut again")
	}
}
