package lifecycle

import (
	"context"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
)

// NodeFinder returns the node of an EC2 instance (the controller's
// spec.providerID index), and false if no node has it yet.
type NodeFinder func(instanceID string) (*corev1.Node, bool)

// launchWait is a Launch in progress, which later calls for the same token
// join.
type launchWait struct {
	ended  <-chan struct{} // the waiting call's ctx.Done(): a wait whose context ended is not joined
	done   chan struct{}
	result Result
	err    error
}

// Launch holds a launch action until the instance's node is Ready, then
// completes it with CONTINUE; if the node is not Ready by the event time
// plus the launch timeout, with ABANDON, so Auto Scaling replaces the
// instance instead of waiting for the hook's timeout. Heartbeats keep the
// instance held meanwhile if the hook's timeout is shorter. It blocks; a
// call for an action already waiting waits for the same result. If ctx
// ends first, it returns ctx's error and completes nothing; a later call
// with a live context (a new leadership) waits anew.
//
// Nothing is recorded on a node (there is none yet): keep the message
// until Launch returns if a new leader should take over the wait.
func (m *Manager) Launch(ctx context.Context, a Action, find NodeFinder) (Result, error) {
	if err := checkAction(a, Launching); err != nil {
		return "", err
	}
	m.mu.Lock()
	if w := m.launches[a.Token]; w != nil && !closed(w.ended) {
		m.mu.Unlock()
		select {
		case <-w.done:
			return w.result, w.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	w := &launchWait{ended: ctx.Done(), done: make(chan struct{})}
	m.launches[a.Token] = w // replaces a wait of an ended leadership
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if m.launches[a.Token] == w {
			delete(m.launches, a.Token)
		}
		m.mu.Unlock()
		close(w.done)
	}()
	w.result, w.err = m.launch(ctx, a, find)
	return w.result, w.err
}

func (m *Manager) launch(ctx context.Context, a Action, find NodeFinder) (Result, error) {
	hk := m.hookTimeouts(ctx, a.Group, a.Hook)
	deadline := hk.deadline(a.EventTime, m.cfg.LaunchTimeout)
	key := "launch/" + a.Token
	h := m.hold(ctx, key, newRecord(a, hk, deadline))
	defer m.release(key, h)
	log := m.log.With(zap.String("instance", a.InstanceID), zap.String("group", a.Group), zap.String("hook", a.Hook))
	log.Info("launch held until the instance's node is Ready", zap.Time("deadline", deadline))
	result, reason := Abandon, ReasonLaunchTimeout
	for {
		if n, ok := find(a.InstanceID); ok && nodeReady(n) {
			result, reason = Continue, ReasonNodeReady
			log = log.With(zap.String("node", n.Name))
			break
		}
		now := m.clock.Now()
		if !now.Before(deadline) {
			break
		}
		if !m.sleepUntil(ctx, minTime(now.Add(m.cfg.LaunchPoll), deadline)) {
			return "", ctx.Err()
		}
	}
	if h.isGone() {
		log.Warn("launch action no longer pending (completed elsewhere or timed out)", zap.String("result", string(result)))
		return result, nil
	}
	return result, m.complete(ctx, log, a, result, reason, h.sched.Expires(h.lastBeat()))
}

// nodeReady reports whether the node's Ready condition is True.
func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
