package drain

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLatestStarts(t *testing.T) {
	p := DefaultPolicy() // margin 15s, kill slack 2s, min grace 1s
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s := time.Second
	tests := []struct {
		name     string
		needs    []time.Duration
		deadline time.Duration // from now
		want     []time.Duration
	}{
		{"one wave: its grace and the kill slack before deadline − margin", []time.Duration{30 * s}, 120 * s, []time.Duration{73 * s}},
		{"three waves one after the other", []time.Duration{30 * s, 30 * s, 10 * s}, 120 * s, []time.Duration{29 * s, 61 * s, 93 * s}},
		{"a wave asking 0s needs the minimum grace", []time.Duration{0, 0}, 120 * s, []time.Duration{99 * s, 102 * s}},
		{"waves that cannot have their time in turn start before now: they overlap",
			[]time.Duration{30 * s, 30 * s, 30 * s}, 40 * s, []time.Duration{-71 * s, -39 * s, -7 * s}},
		{"a 600s wave pushes the earlier ones into the past, not the later ones",
			[]time.Duration{10 * s, 600 * s, 10 * s}, 120 * s, []time.Duration{-521 * s, -509 * s, 93 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := latestStarts(tt.needs, now.Add(tt.deadline), p)
			for i := range tt.want {
				if d := got[i].Sub(now); d != tt.want[i] {
					t.Errorf("wave %d: latest start at %+v, want %+v", i, d, tt.want[i])
				}
			}
		})
	}
}

// TestDueOnFakeClock walks waves through a drain on a fake clock: a wave
// waits for the ones before it to be gone, or for its latest start.
func TestDueOnFakeClock(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	ms := time.Millisecond
	gap := 250 * ms
	tests := []struct {
		name     string
		s        stepState
		want     bool
		wantWake time.Duration // from t0; -1: at the next change
	}{
		{"previous wave gone: start", stepState{now: at(5 * time.Second), lastAt: at(0), lastAnswered: true, earlierGone: true, latest: at(60 * time.Second)}, true, -1},
		{"previous wave still there: wait for its latest start", stepState{now: at(5 * time.Second), lastAt: at(0), lastAnswered: true, latest: at(60 * time.Second)}, false, 60 * time.Second},
		{"latest start reached with the previous wave still there: start (the deadline wins)", stepState{now: at(60 * time.Second), lastAt: at(0), lastAnswered: true, latest: at(60 * time.Second)}, true, -1},
		{"latest start long past: start", stepState{now: at(time.Second), lastAt: at(0), lastAnswered: true, latest: at(-time.Minute)}, true, -1},
		{"previous requests unanswered within the gap: wait for the gap even if gone", stepState{now: at(100 * ms), lastAt: at(0), earlierGone: true, latest: at(-time.Minute)}, false, gap},
		{"previous requests unanswered past the gap: the latest start decides", stepState{now: at(300 * ms), lastAt: at(0), latest: at(-time.Minute)}, true, -1},
		{"unanswered past the gap, latest start ahead: wait", stepState{now: at(300 * ms), lastAt: at(0), latest: at(time.Minute)}, false, time.Minute},
		{"the held part of the same wave: after the gap, at once", stepState{now: at(300 * ms), lastAt: at(0), sameWave: true, latest: at(time.Minute)}, true, -1},
		{"the held part of the same wave: answered, at once", stepState{now: at(10 * ms), lastAt: at(0), lastAnswered: true, sameWave: true, latest: at(time.Minute)}, true, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.gap = gap
			ok, wake := due(tt.s)
			if ok != tt.want {
				t.Errorf("due = %v, want %v", ok, tt.want)
			}
			switch {
			case tt.wantWake < 0 && !wake.IsZero():
				t.Errorf("look again at %+v, want at the next change", wake.Sub(t0))
			case tt.wantWake >= 0 && !wake.Equal(at(tt.wantWake)):
				t.Errorf("look again at %+v, want %+v", wake.Sub(t0), tt.wantWake)
			}
		})
	}
}

func pod(name string, prio *int32, order string, grace int64, held bool) *podJob {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	p.Spec.Priority, p.Spec.TerminationGracePeriodSeconds = prio, &grace
	if order != "" {
		p.Annotations = map[string]string{OrderAnnotation: order}
	}
	j := newJob(p)
	j.held = held
	return j
}

func i32(v int32) *int32 { return &v }

func TestNewSchedule(t *testing.T) {
	p := DefaultPolicy()
	deadline := time.Date(2026, 12, 6, 12, 2, 0, 0, time.UTC)
	critical := int32(2000001000)
	jobs := []*podJob{
		pod("logs-1", i32(critical), "", 10, false),
		pod("web-1", nil, "", 30, false),
		pod("batch-1", i32(-10), "", 20, false),
		pod("shipper-1", nil, "2000001000", 5, false), // no PriorityClass: named by the annotation
		pod("web-2", nil, "", 30, true),               // a PDB refuses it now: after web-1, same wave
		pod("batch-2", i32(-10), "", 60, false),
		pod("odd-1", nil, "high", 1, false), // not an integer: its priority (0) counts
	}
	s := newSchedule(jobs, deadline, p)
	var got []string
	for _, st := range s.steps {
		var names []string
		for _, j := range st.jobs {
			names = append(names, j.pod.Name)
		}
		got = append(got, fmt.Sprintf("%d:%d:%v", st.wave, st.order, names))
	}
	want := []string{"0:-10:[batch-1 batch-2]", "1:0:[web-1 odd-1]", "1:0:[web-2]", "2:2000001000:[logs-1 shipper-1]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	// Waves need 60s, 30s and 10s (their longest grace): the last may start
	// at deadline − 15s − 12s, the one before 32s earlier, the first 62s
	// before that.
	wantLatest := []time.Duration{-121 * time.Second, -59 * time.Second, -27 * time.Second}
	for i, w := range wantLatest {
		if d := s.latest[i].Sub(deadline); d != w {
			t.Errorf("wave %d latest start deadline%+v, want deadline%+v", i, d, w)
		}
	}

	p.Order = OrderNone
	none := newSchedule(jobs, deadline, p)
	if len(none.steps) != 2 || len(none.latest) != 1 || len(none.steps[1].jobs) != 1 || none.steps[1].jobs[0].pod.Name != "web-2" {
		t.Errorf("order none: %d steps, %d waves; want every pod in one wave, the held one just after", len(none.steps), len(none.latest))
	}
}

func TestDrainOrderOf(t *testing.T) {
	for _, tt := range []struct {
		prio  *int32
		order string
		want  int32
	}{
		{nil, "", 0}, {i32(-10), "", -10}, {nil, "2000001000", 2000001000}, {i32(1000), "-5", -5},
		{i32(7), "3000000000", 7}, {i32(7), "x", 7}, {nil, " 1", 0},
	} {
		if got := DrainOrderOf(&pod("p", tt.prio, tt.order, 1, false).pod); got != tt.want {
			t.Errorf("priority %v annotation %q: drain order %d, want %d", tt.prio, tt.order, got, tt.want)
		}
	}
	for in, want := range map[string]Order{"": OrderPriority, "priority": OrderPriority, "none": OrderNone} {
		if got, err := ParseOrder(in); err != nil || got != want {
			t.Errorf("ParseOrder(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseOrder("random"); err == nil {
		t.Error("ParseOrder(random): no error")
	}
}
