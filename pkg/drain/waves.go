package drain

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// OrderAnnotation, on a pod, names its eviction wave: an integer in the
// range of a priority (−2147483648 to 2147483647), compared with the other
// pods' priorities. It takes the place of the pod's priority for the order
// of eviction only (scheduling and preemption still use the priority), so a
// log shipper without a PriorityClass can leave with the node-critical
// pods: spot-handler.io/drain-order: "2000001000". A value that is not such
// an integer is ignored (the pod's priority counts).
const OrderAnnotation = "spot-handler.io/drain-order"

// Order says in what order a drain's pods leave.
type Order string

// The orders of eviction.
const (
	// OrderPriority evicts in waves, lowest drain order (see DrainOrderOf)
	// first; each wave starts when the waves before it are gone, or at its
	// latest start (see latestStarts) if they are not.
	OrderPriority Order = "priority"
	// OrderNone evicts every pod at once (the pods a PodDisruptionBudget
	// refuses right now just after the others).
	OrderNone Order = "none"
)

// ParseOrder reads a --drain-order value; "" is OrderPriority.
func ParseOrder(s string) (Order, error) {
	switch Order(s) {
	case "", OrderPriority:
		return OrderPriority, nil
	case OrderNone:
		return OrderNone, nil
	}
	return "", fmt.Errorf("drain order %q: use %s or %s", s, OrderPriority, OrderNone)
}

// DrainOrderOf is p's place in the order of eviction: the integer of its
// OrderAnnotation if it has a valid one, else its priority (0 without).
func DrainOrderOf(p *corev1.Pod) int32 {
	if s, ok := p.Annotations[OrderAnnotation]; ok {
		if v, err := strconv.ParseInt(s, 10, 32); err == nil {
			return int32(v)
		}
	}
	return priority(p)
}

// latestStarts is, for waves whose pods need needs[i] each (the longest
// grace period a pod of wave i asks), the latest moment each wave can
// start so that it and every wave after it, one after the other, are gone
// by deadline − margin: a wave is gone its need plus the kill slack after
// it starts. A latest start before now means the waves cannot all have
// their time one after the other: that wave starts as soon as the one
// before it has, and every pod's grace is cut to fit as always (the
// deadline wins over the order).
func latestStarts(needs []time.Duration, deadline time.Time, p Policy) []time.Time {
	out := make([]time.Time, len(needs))
	at := deadline.Add(-p.Margin)
	for i := len(needs) - 1; i >= 0; i-- {
		need := needs[i]
		if need < p.MinGrace {
			need = p.MinGrace
		}
		at = at.Add(-need - p.KillSlack)
		out[i] = at
	}
	return out
}

// step is one group of evictions started together: a wave, or the part of
// it a PodDisruptionBudget refuses right now (started after the rest).
type step struct {
	wave  int
	order int32
	jobs  []*podJob
	at    time.Time // when it started; zero until then
}

// stepState is what decides whether the next step is due (see due).
type stepState struct {
	now          time.Time
	sameWave     bool      // the next step is the rest of the wave the last one began
	lastAt       time.Time // when the last step started
	lastAnswered bool      // every eviction of the last step has its first answer
	earlierGone  bool      // every pod of the waves before the next one is gone
	latest       time.Time // the next step's wave's latest start
	gap          time.Duration
}

// due reports whether the next step starts now, and if not, when to look
// again (zero: at the next change on the node). A step never starts before
// the last step's first requests are answered or gap has passed (the API
// sees the waves in order); then it starts if it completes the wave begun,
// if the waves before it are gone, or if its wave's latest start has come.
func due(s stepState) (bool, time.Time) {
	if !s.lastAnswered && s.now.Before(s.lastAt.Add(s.gap)) {
		return false, s.lastAt.Add(s.gap) // answers do not always change the node: look again then
	}
	if s.sameWave || s.earlierGone || !s.now.Before(s.latest) {
		return true, time.Time{}
	}
	return false, s.latest
}

// schedule is a drain's order of eviction: the planned pods' steps, each
// wave's latest start, and how far the drain has got.
type schedule struct {
	steps  []*step
	latest []time.Time
	next   int // the first step not started
}

// newSchedule groups jobs into steps by drain order (one wave for all with
// OrderNone), the pods a PDB holds back after the others of their wave,
// and computes each wave's latest start.
func newSchedule(jobs []*podJob, deadline time.Time, p Policy) *schedule {
	js := append([]*podJob(nil), jobs...)
	key := func(j *podJob) int32 {
		if p.Order == OrderNone {
			return 0
		}
		return DrainOrderOf(&j.pod)
	}
	sort.SliceStable(js, func(a, b int) bool {
		ka, kb := key(js[a]), key(js[b])
		if ka != kb {
			return ka < kb
		}
		return !js[a].held && js[b].held
	})
	s := &schedule{}
	var needs []time.Duration
	for _, j := range js {
		k := key(j)
		last := len(s.steps) - 1
		if last < 0 || s.steps[last].order != k {
			needs = append(needs, 0)
			s.steps = append(s.steps, &step{wave: len(needs) - 1, order: k})
			last++
		} else if s.steps[last].jobs[0].held != j.held {
			s.steps = append(s.steps, &step{wave: len(needs) - 1, order: k})
			last++
		}
		s.steps[last].jobs = append(s.steps[last].jobs, j)
		if g := ownGrace(j.pod.Spec.TerminationGracePeriodSeconds); g > needs[len(needs)-1] {
			needs[len(needs)-1] = g
		}
	}
	s.latest = latestStarts(needs, deadline, p)
	return s
}

// waves starts the planned evictions that are due, lowest drain order first
// (see schedule), when the drain holds the node's claim; the drain's loop
// calls advance for the rest. It also starts, at once, every eviction not
// in the schedule and not started: pods adopted after the plan while the
// drain did not hold the claim (another drain held it while this one
// rested on an empty node), which an owner would have evicted as they came.
func (r *drainRun) waves(_, jobCtx context.Context) {
	if r.order == nil {
		r.order = newSchedule(r.jobs, r.deadline, r.d.policy)
		if n := len(r.order.latest); n > 1 {
			r.d.log.Info("evicting in waves by drain order", zap.String("node", r.node), zap.Int("waves", n),
				zap.Time("last_wave_latest_start", r.order.latest[n-1]))
		}
	}
	if t := r.advance(jobCtx); t != nil {
		t.Stop()
	}
	scheduled := map[*podJob]bool{}
	for _, st := range r.order.steps {
		for _, j := range st.jobs {
			scheduled[j] = true
		}
	}
	for _, j := range r.jobs {
		if !j.started && !scheduled[j] {
			r.start(jobCtx, j)
		}
	}
}

// advance starts the steps that are due and returns a timer for when to
// look again, or nil if nothing waits for a time (or the drain does not
// evict).
func (r *drainRun) advance(jobCtx context.Context) clock.Timer {
	s := r.order
	if s == nil || !r.owner {
		return nil
	}
	for s.next < len(s.steps) {
		st := s.steps[s.next]
		now := r.d.clock.Now()
		if s.next > 0 {
			last := s.steps[s.next-1]
			ok, wake := due(stepState{now: now, sameWave: last.wave == st.wave, lastAt: last.at,
				lastAnswered: allAnswered(last.jobs), earlierGone: r.goneBefore(st.wave),
				latest: s.latest[st.wave], gap: r.d.policy.WaveGap})
			if !ok {
				if wake.IsZero() {
					return nil
				}
				return r.d.clock.NewTimer(wake.Sub(now))
			}
			if last.wave != st.wave {
				why := "the waves before it are gone"
				if !r.goneBefore(st.wave) {
					why = "its latest start: the time left demands it"
				}
				r.d.log.Info("eviction wave started", zap.String("node", r.node), zap.Int("wave", st.wave+1),
					zap.Int32("drain_order", st.order), zap.Int("pods", len(st.jobs)), zap.String("why", why))
			}
		}
		st.at = now
		for _, j := range st.jobs {
			r.start(jobCtx, j)
		}
		s.next++
	}
	return nil
}

// goneBefore reports whether every pod of the waves before wave is gone.
func (r *drainRun) goneBefore(wave int) bool {
	for _, st := range r.order.steps {
		if st.wave >= wave {
			break
		}
		for _, j := range st.jobs {
			if _, gone := r.tr.gone(j.pod.UID); !gone {
				return false
			}
		}
	}
	return true
}

func allAnswered(jobs []*podJob) bool {
	for _, j := range jobs {
		select {
		case <-j.answered:
		default:
			return false
		}
	}
	return true
}
