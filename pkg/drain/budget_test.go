package drain

import (
	"testing"
	"time"
)

func TestGracePeriod(t *testing.T) {
	p := DefaultPolicy() // margin 15s, min grace 1s
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		own      time.Duration
		deadline time.Duration // from now
		want     int64
	}{
		{"own fits", 30 * time.Second, 120 * time.Second, 30},
		{"capped by time left minus margin", 600 * time.Second, 90 * time.Second, 75},
		{"fraction of a second rounds down", 600 * time.Second, 90*time.Second + 900*time.Millisecond, 75},
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
	deadline := start.Add(120 * time.Second) // end of drain at +105s
	tests := []struct {
		name string
		own  time.Duration
		want time.Duration // from start
	}{
		{"30s pod may wait until 75s", 30 * time.Second, 75 * time.Second},
		{"600s pod waits half the budget", 600 * time.Second, 52500 * time.Millisecond},
		{"0s pod waits until end minus minimum", 0, 104 * time.Second},
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
