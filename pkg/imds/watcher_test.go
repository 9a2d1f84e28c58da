package imds

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// maintenanceBody renders a scheduled events list from (id, code, state,
// notBefore) quadruples.
func maintenanceBody(events ...[4]string) string {
	var b strings.Builder
	b.WriteString("[")
	for i, e := range events {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"EventId":"` + e[0] + `","Code":"` + e[1] + `","State":"` + e[2] +
			`","NotBefore":"` + e[3] + `","NotAfter":"1 Jan 2031 00:00:00 GMT","Description":"` + e[1] + ` ` + e[2] + `"}`)
	}
	b.WriteString("]")
	return b.String()
}

// TestDeduplication drives every kind through appearance, repetition,
// change and withdrawal, one cycle at a time.
func TestDeduplication(t *testing.T) {
	f := newFakeIMDS(t)
	h := startWatcher(t, f.URL(), nil)
	t0 := epoch.Add(2 * time.Minute)
	t1 := epoch.Add(3 * time.Minute)
	spot := "meta-data/spot/instance-action"
	maint := "meta-data/events/maintenance/scheduled"
	type step struct {
		name  string
		setup func()
		want  []string // "ID" or "-ID" for a cancellation, in delivery order
	}
	steps := []step{
		{"nothing", func() {}, nil},
		{"spot appears", func() { f.setBody(spot, 200, spotBody("terminate", t0)) },
			[]string{"SpotInterruption/terminate/2030-01-02T03:06:05Z"}},
		{"spot repeats", func() {}, nil},
		{"spot fault keeps it", func() { f.setBody(spot, 500, "oops") }, nil},
		{"spot back unchanged", func() { f.setBody(spot, 200, spotBody("terminate", t0)) }, nil},
		{"spot time changes", func() { f.setBody(spot, 200, spotBody("terminate", t1)) },
			[]string{"SpotInterruption/terminate/2030-01-02T03:07:05Z", "-SpotInterruption/terminate/2030-01-02T03:06:05Z"}},
		{"spot disappears", func() { f.set(spot, nil) },
			[]string{"-SpotInterruption/terminate/2030-01-02T03:07:05Z"}},
		{"rebalance appears", func() {
			f.setBody("meta-data/events/recommendations/rebalance", 200, `{"noticeTime":"2030-01-02T03:04:05Z"}`)
		},
			[]string{"RebalanceRecommendation/2030-01-02T03:04:05Z"}},
		{"rebalance disappears silently", func() { f.set("meta-data/events/recommendations/rebalance", nil) }, nil},
		{"two events", func() {
			f.setBody(maint, 200, maintenanceBody(
				[4]string{"ev-1", "system-reboot", "active", "3 Jan 2030 00:00:00 GMT"},
				[4]string{"ev-2", "instance-stop", "active", "4 Jan 2030 00:00:00 GMT"}))
		}, []string{"ScheduledMaintenance/ev-1/2030-01-03T00:00:00Z", "ScheduledMaintenance/ev-2/2030-01-04T00:00:00Z"}},
		{"malformed list keeps them", func() { f.setBody(maint, 200, "[{") }, nil},
		{"one canceled, one rescheduled", func() {
			f.setBody(maint, 200, maintenanceBody(
				[4]string{"ev-1", "system-reboot", "canceled", "3 Jan 2030 00:00:00 GMT"},
				[4]string{"ev-2", "instance-stop", "active", "5 Jan 2030 00:00:00 GMT"}))
		}, []string{"ScheduledMaintenance/ev-2/2030-01-05T00:00:00Z",
			"-ScheduledMaintenance/ev-1/2030-01-03T00:00:00Z", "-ScheduledMaintenance/ev-2/2030-01-04T00:00:00Z"}},
		{"canceled stays canceled", func() {}, nil},
		{"list empties", func() { f.setBody(maint, 200, "[]") },
			[]string{"-ScheduledMaintenance/ev-2/2030-01-05T00:00:00Z"}},
		{"ASG in service", func() { f.setBody("meta-data/autoscaling/target-lifecycle-state", 200, "InService") }, nil},
		{"ASG terminated", func() { f.setBody("meta-data/autoscaling/target-lifecycle-state", 200, "Terminated") },
			[]string{"ASGTermination/Terminated"}},
		{"ASG terminated again", func() {}, nil},
	}
	for _, s := range steps {
		s.setup()
		h.next()
		now := h.clock.Now()
		var got []string
		for _, n := range h.drain() {
			id := n.ID
			if n.Canceled {
				id = "-" + id
			}
			got = append(got, id)
			if !n.Detected.Equal(now) {
				t.Errorf("%s: %s detected at %v, want %v", s.name, id, n.Detected, now)
			}
		}
		if strings.Join(got, " ") != strings.Join(s.want, " ") {
			t.Errorf("%s: delivered %q, want %q", s.name, got, s.want)
		}
	}
	var current []string
	for _, n := range h.w.Current() {
		current = append(current, n.ID)
	}
	if want := "ASGTermination/Terminated"; strings.Join(current, " ") != want {
		t.Errorf("Current = %q, want %q", current, want)
	}
}

// TestCanceledDescription checks a withdrawal carries the listed
// description of a canceled event.
func TestCanceledDescription(t *testing.T) {
	f := newFakeIMDS(t)
	maint := "meta-data/events/maintenance/scheduled"
	f.setBody(maint, 200, maintenanceBody([4]string{"ev-1", "system-reboot", "active", "3 Jan 2030 00:00:00 GMT"}))
	h := startWatcher(t, f.URL(), nil)
	first := h.drain()
	f.setBody(maint, 200, maintenanceBody([4]string{"ev-1", "system-reboot", "canceled", "3 Jan 2030 00:00:00 GMT"}))
	h.next()
	got := h.drain()
	if len(first) != 1 || len(got) != 1 || !got[0].Canceled || got[0].ID != first[0].ID ||
		got[0].Description != "system-reboot canceled" || got[0].Action != "system-reboot" {
		t.Errorf("first %+v then %+v, want the same ID canceled with the new description", first, got)
	}
	if len(h.w.Current()) != 0 {
		t.Errorf("Current = %+v after cancellation, want none", h.w.Current())
	}
}

// TestBackoff checks the wait doubles from PollInterval to MaxBackoff while
// IMDS is unavailable, and returns to PollInterval once it answers.
func TestBackoff(t *testing.T) {
	f := newFakeIMDS(t)
	f.setToken(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "slow down", http.StatusTooManyRequests)
	})
	h := startWatcher(t, f.URL(), nil)
	waits := []time.Duration{2, 4, 8, 10, 10, 10}
	for i, want := range waits {
		want *= time.Second
		if h.step(want - time.Millisecond) {
			t.Fatalf("wait %d: cycle before %v", i, want)
		}
		if !h.step(time.Millisecond) {
			t.Fatalf("wait %d: no cycle at %v", i, want)
		}
		if i == len(waits)-2 {
			f.setToken(nil) // the cycle after the next wait succeeds
		}
	}
	for range 3 {
		if !h.step(time.Second) {
			t.Fatalf("after recovery the wait is not PollInterval")
		}
	}
	if got, want := h.w.LastSuccess(), h.clock.Now(); !got.Equal(want) {
		t.Errorf("LastSuccess = %v, want %v", got, want)
	}
}

// TestLastSuccess checks that 404 answers count as success and that faults
// leave LastSuccess alone while LastPoll moves on.
func TestLastSuccess(t *testing.T) {
	f := newFakeIMDS(t)
	h := startWatcher(t, f.URL(), nil)
	if got := h.w.LastSuccess(); !got.Equal(epoch) {
		t.Fatalf("LastSuccess after 404s = %v, want %v", got, epoch)
	}
	f.setToken(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	f.expireTokens()
	h.next()
	if got := h.w.LastSuccess(); !got.Equal(epoch) {
		t.Errorf("LastSuccess after 503s = %v, want %v", got, epoch)
	}
	if got := h.w.LastPoll(); !got.Equal(h.clock.Now()) || got.Equal(epoch) {
		t.Errorf("LastPoll = %v, want %v", got, h.clock.Now())
	}
}

func TestRunArguments(t *testing.T) {
	f := newFakeIMDS(t)
	h := startWatcher(t, f.URL(), nil)
	if err := h.w.Run(context.Background(), make(chan Notice)); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run = %v, want an already-running error", err)
	}
	c, err := NewClient(Config{Endpoint: f.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := NewWatcher(c).Run(context.Background(), nil); err == nil {
		t.Errorf("Run with a nil channel returned nil")
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		check   func(Config) bool
	}{
		{"defaults", Config{}, "", func(c Config) bool {
			return c.PollInterval == time.Second && c.RequestTimeout == time.Second &&
				c.MaxBackoff == 2*time.Second && c.Clock != nil && c.Logger != nil
		}},
		{"default backoff follows the poll", Config{PollInterval: 20 * time.Second}, "", func(c Config) bool {
			return c.MaxBackoff == 40*time.Second
		}},
		{"endpoint", Config{Endpoint: "http://127.0.0.1:1338"}, "", nil},
		{"endpoint without scheme", Config{Endpoint: "169.254.169.254"}, "not a URL", nil},
		{"endpoint ftp", Config{Endpoint: "ftp://x"}, "not a URL", nil},
		{"poll too short", Config{PollInterval: time.Millisecond}, "too short", nil},
		{"negative timeout", Config{RequestTimeout: -time.Second}, "negative", nil},
		{"backoff under poll", Config{PollInterval: 5 * time.Second, MaxBackoff: 2 * time.Second}, "shorter than", nil},
		{"backoff over notice", Config{MaxBackoff: 2 * time.Minute}, "2-minute", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewClient error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			if tt.check != nil && !tt.check(c.cfg) {
				t.Errorf("config after defaults = %+v", c.cfg)
			}
		})
	}
}
