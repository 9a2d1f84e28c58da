package lifecycle

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func TestHookDeadline(t *testing.T) {
	tests := []struct {
		name string
		hook Hook
		wait time.Duration
		want time.Duration
	}{
		{"max drain below the hook's hold", Hook{time.Hour, MaxGlobalTimeout}, 15 * time.Minute, 15 * time.Minute},
		{"no max: the global timeout", Hook{time.Hour, MaxGlobalTimeout}, 0, MaxGlobalTimeout},
		{"100 × heartbeat timeout below the reported global", Hook{30 * time.Second, MaxGlobalTimeout}, time.Hour, 50 * time.Minute},
		{"reported global below both", Hook{time.Hour, 20 * time.Minute}, time.Hour, 20 * time.Minute},
		{"no global reported", Hook{time.Minute, 0}, 0, 100 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.hook.deadline(t0, tt.wait); !got.Equal(t0.Add(tt.want)) {
				t.Errorf("deadline = start + %v, want + %v", got.Sub(t0), tt.want)
			}
		})
	}
}

// TestScheduleSequence walks the heartbeats of whole actions: each is due an
// interval after the last, never lets the hold lapse before the deadline,
// and stops once the hold covers the deadline plus an interval.
func TestScheduleSequence(t *testing.T) {
	tests := []struct {
		name     string
		hook     Hook
		deadline time.Duration
		fraction float64
		want     []time.Duration // heartbeat times after start
	}{
		{"hold covers the drain: none", Hook{time.Hour, MaxGlobalTimeout}, 15 * time.Minute, 1.0 / 3, nil},
		{"5 min hook, 15 min drain", Hook{5 * time.Minute, MaxGlobalTimeout}, 15 * time.Minute, 1.0 / 3,
			[]time.Duration{100 * time.Second, 200 * time.Second, 300 * time.Second, 400 * time.Second, 500 * time.Second,
				600 * time.Second, 700 * time.Second}},
		{"6 s test hook, 10 s", Hook{6 * time.Second, 0}, 10 * time.Second, 1.0 / 3,
			[]time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second}},
		{"tiny hook: one-second floor", Hook{2 * time.Second, 0}, 3 * time.Second, 0.25,
			[]time.Duration{time.Second, 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSchedule(tt.hook, t0, t0.Add(tt.deadline), tt.fraction)
			var got []time.Duration
			last := t0
			for {
				next, ok := s.Next(last)
				if !ok {
					break
				}
				if !next.Before(s.Expires(last)) {
					t.Fatalf("heartbeat due at %v, after the hold expires at %v", next.Sub(t0), s.Expires(last).Sub(t0))
				}
				got = append(got, next.Sub(t0))
				last = next
				if len(got) > 1000 {
					t.Fatal("endless heartbeats")
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("heartbeats at %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("heartbeats at %v, want %v", got, tt.want)
				}
			}
			if end := s.Expires(last); end.Before(s.Deadline.Add(s.Interval)) {
				t.Errorf("hold expires at %v, before the deadline %v", end.Sub(t0), tt.deadline)
			}
		})
	}
}

func TestScheduleAfterLateStartAndRetry(t *testing.T) {
	s := newSchedule(Hook{time.Minute, 0}, t0, t0.Add(10*time.Minute), 1.0/3)
	// A message received 50 s after the event: the first heartbeat is overdue.
	if next, _ := s.Next(t0); !next.Before(t0.Add(50 * time.Second)) {
		t.Errorf("first heartbeat due at %v: should be overdue for a late start", next.Sub(t0))
	}
	if r := s.Retry(t0); r.Sub(t0) != 3333333333*time.Nanosecond {
		t.Errorf("retry after %v, want interval/6", r.Sub(t0))
	}
	// The global timeout caps the hold.
	g := newSchedule(Hook{time.Minute, 2 * time.Minute}, t0, t0.Add(2*time.Minute), 0.5)
	if e := g.Expires(t0.Add(110 * time.Second)); !e.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("hold expires at %v, want the global timeout 2m", e.Sub(t0))
	}
}
