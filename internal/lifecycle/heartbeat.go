package lifecycle

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"go.uber.org/zap"
)

// hold is one action whose heartbeats run in a goroutine.
type hold struct {
	rec    Record
	sched  Schedule
	ended  <-chan struct{} // closed once the heartbeats' context ends (the caller's: a leadership)
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	last time.Time // the last accepted heartbeat, or the action's start
	gone bool      // Auto Scaling has the action no longer pending
}

func (h *hold) lastBeat() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

func (h *hold) isGone() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gone
}

// hold starts the heartbeats of rec under key, replacing any for that key.
// They are timed from the action's start, as the last heartbeat's time is
// not recorded: for a resumed action the first one is overdue and goes at
// once.
func (m *Manager) hold(ctx context.Context, key string, rec Record) *hold {
	hctx, cancel := context.WithCancel(ctx)
	h := &hold{rec: rec, sched: newSchedule(rec.hook(), rec.Started, rec.Deadline, m.cfg.HeartbeatFraction),
		ended: hctx.Done(), cancel: cancel, done: make(chan struct{}), last: rec.Started}
	m.mu.Lock()
	if old := m.held[key]; old != nil {
		old.cancel()
	}
	m.held[key] = h
	m.mu.Unlock()
	m.metrics.Held.Inc()
	go func() {
		defer close(h.done)
		defer m.metrics.Held.Dec()
		m.beat(hctx, key, h)
	}()
	return h
}

// live returns the hold under key, or nil if there is none or its
// context has ended: a hold of an ended leadership is no hold (its
// heartbeats have stopped, and the node's record may have changed since),
// and it is forgotten. Call it with m.mu held.
func (m *Manager) live(key string) *hold {
	h := m.held[key]
	if h != nil && closed(h.ended) {
		delete(m.held, key)
		return nil
	}
	return h
}

// closed reports whether c is closed.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// release stops h's heartbeats, waits for them to end, and forgets key if
// it still holds h.
func (m *Manager) release(key string, h *hold) {
	if h == nil {
		return
	}
	h.cancel()
	<-h.done
	m.mu.Lock()
	if m.held[key] == h {
		delete(m.held, key)
	}
	m.mu.Unlock()
}

// beat sends h's heartbeats on its schedule until none is needed, the
// action is gone, or ctx ends. A failed heartbeat is retried soon.
func (m *Manager) beat(ctx context.Context, key string, h *hold) {
	log := m.log.With(zap.String("key", key), zap.String("instance", h.rec.Instance), zap.String("group", h.rec.Group),
		zap.String("hook", h.rec.Hook))
	in := &autoscaling.RecordLifecycleActionHeartbeatInput{AutoScalingGroupName: aws.String(h.rec.Group),
		LifecycleHookName: aws.String(h.rec.Hook), LifecycleActionToken: aws.String(h.rec.Token), InstanceId: aws.String(h.rec.Instance)}
	due, ok := h.sched.Next(h.lastBeat())
	for ok {
		if !m.sleepUntil(ctx, due) {
			return
		}
		_, err := m.asg.RecordLifecycleActionHeartbeat(ctx, in)
		switch {
		case err == nil:
			at := m.clock.Now()
			h.mu.Lock()
			h.last = at
			h.mu.Unlock()
			m.metrics.Heartbeats.WithLabelValues(OutcomeOK).Inc()
			log.Debug("lifecycle heartbeat sent", zap.Time("holds_until", h.sched.Expires(at)))
			due, ok = h.sched.Next(at)
		case isGone(err):
			h.mu.Lock()
			h.gone = true
			h.mu.Unlock()
			m.metrics.Heartbeats.WithLabelValues(OutcomeGone).Inc()
			log.Warn("lifecycle action no longer pending (completed elsewhere or timed out): heartbeats stop", zap.Error(err))
			return
		case ctx.Err() != nil:
			return
		default:
			m.metrics.Heartbeats.WithLabelValues(OutcomeError).Inc()
			due = h.sched.Retry(m.clock.Now())
			log.Error("lifecycle heartbeat failed; retrying", zap.Time("retry_at", due),
				zap.Time("holds_until", h.sched.Expires(h.lastBeat())), zap.Error(err))
		}
	}
}
