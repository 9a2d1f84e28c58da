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
