package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Outcome is how a node's drain ended, for Complete.
type Outcome int

// The outcomes of a drain.
const (
	// Drained: the node is empty; the action is completed at once.
	Drained Outcome = iota
	// DrainFailed: the drain ended with pods left; the action is completed
	// at its deadline (the instance is going anyway), logged and counted.
	DrainFailed
)

// Manager holds and completes the lifecycle actions of the controller's
// nodes. Its methods are safe for concurrent use. One Manager serves the
// process across leaderships: heartbeats end with the context they were
// started with (the leadership's), and a later Start or Resume of the same
// action, with a live context, starts them again.
type Manager struct {
	cfg     Config
	asg     AutoScaling
	kube    kubernetes.Interface
	clock   clock.Clock
	log     *zap.Logger
	metrics *Metrics

	mu       sync.Mutex
	hooks    map[hookKey]Hook
	held     map[string]*hold       // by node name, or "launch/" + token
	launches map[string]*launchWait // by token
}

type hookKey struct{ group, hook string }

// New returns a Manager. metrics may be nil (then nothing is exported).
func New(cfg Config, asg AutoScaling, kube kubernetes.Interface, clk clock.Clock, log *zap.Logger, metrics *Metrics) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if asg == nil || kube == nil || clk == nil || log == nil {
		return nil, errors.New("lifecycle.New: the Auto Scaling client, Kubernetes client, clock and logger are required")
	}
	if metrics == nil {
		metrics = NewMetrics(prometheus.NewRegistry())
	}
	return &Manager{cfg: cfg, asg: asg, kube: kube, clock: clk, log: log, metrics: metrics,
		hooks: map[hookKey]Hook{}, held: map[string]*hold{}, launches: map[string]*launchWait{}}, nil
}

func checkAction(a Action, transition string) error {
	if a.Transition != transition {
		return fmt.Errorf("lifecycle action for %s is %q, not %s", a.InstanceID, a.Transition, transition)
	}
	if a.Token == "" || a.Hook == "" || a.Group == "" || a.EventTime.IsZero() {
		return fmt.Errorf("lifecycle action for %s lacks its token, hook, group or event time", a.InstanceID)
	}
	return nil
}

// Start takes over a termination action for node: it reads the hook's
// timeouts (once per hook), records the action on the node
// (ActionAnnotation) and starts its heartbeats. The returned record's
// Deadline is the drain's deadline. Call it before deleting the message: on
// error nothing is recorded, and the message should come back. Starting the
// same action again returns the running one.
//
// ctx bounds the heartbeats: pass the leadership's context, not a
// message's. They stop at Complete, at ctx's end, or once the hook holds
// the instance past the deadline.
func (m *Manager) Start(ctx context.Context, node string, a Action) (Record, error) {
	if err := checkAction(a, Terminating); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	if h := m.live(node); h != nil && h.rec.Token == a.Token {
		m.mu.Unlock()
		return h.rec, nil
	}
	m.mu.Unlock()
	hk := m.hookTimeouts(ctx, a.Group, a.Hook)
	rec := newRecord(a, hk, hk.deadline(a.EventTime, m.cfg.MaxDrain))
	if err := writeRecord(ctx, m.kube, node, &rec); err != nil {
		return Record{}, err
	}
	m.log.Info("lifecycle action held for the drain", zap.String("node", node), zap.String("instance", a.InstanceID),
		zap.String("group", a.Group), zap.String("hook", a.Hook), zap.Duration("heartbeat_timeout", hk.HeartbeatTimeout),
		zap.Time("deadline", rec.Deadline))
	m.hold(ctx, node, rec)
	return rec, nil
}

// Resume takes over the termination action recorded on node by an earlier
// leader (another process, or this one in a leadership that ended), if
// any: it sends a heartbeat at once if an interval has passed since the
// action began (the last one's time is not recorded) and keeps them going
// as Start does. An action whose heartbeats this Manager runs for a live
// context is left as it is. It returns nil without error for a node with
// no record. The caller resumes the drain with the record's Deadline and
// calls Complete.
func (m *Manager) Resume(ctx context.Context, node *corev1.Node) (*Record, error) {
	rec, err := ReadRecord(node)
	if err != nil || rec == nil {
		return nil, err
	}
	m.mu.Lock()
	if h := m.live(node.Name); h != nil && h.rec.Token == rec.Token {
		m.mu.Unlock()
		return rec, nil
	}
	m.mu.Unlock()
	m.log.Info("lifecycle action resumed from the node", zap.String("node", node.Name), zap.String("instance", rec.Instance),
		zap.String("group", rec.Group), zap.String("hook", rec.Hook), zap.Time("deadline", rec.Deadline))
	m.hold(ctx, node.Name, *rec)
	return rec, nil
}

// Complete ends the termination action of node with CONTINUE: at once if
// the node was drained, at the record's deadline if the drain failed. It
// stops the heartbeats and removes the record from the node. A node with
// no action (held or recorded) is no error; an action held by an ended
// leadership counts only if it is still recorded on the node. If ctx ends
// first, the record stays for the next leader.
func (m *Manager) Complete(ctx context.Context, node string, outcome Outcome) error {
	m.mu.Lock()
	h := m.live(node)
	m.mu.Unlock()
	var rec Record
	if h != nil {
		rec = h.rec
	} else {
		n, err := m.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading node %s for its lifecycle action: %w", node, err)
		}
		r, err := ReadRecord(n)
		if err != nil || r == nil {
			return err
		}
		rec = *r
	}
	log := m.log.With(zap.String("node", node), zap.String("instance", rec.Instance), zap.String("group", rec.Group), zap.String("hook", rec.Hook))
	reason := ReasonDrained
	if outcome == DrainFailed {
		reason = ReasonDrainFailed
		log.Warn("drain failed: completing the lifecycle action at its deadline (the instance goes anyway)", zap.Time("deadline", rec.Deadline))
		if !m.sleepUntil(ctx, rec.Deadline) {
			return ctx.Err()
		}
	}
	var err error
	if h == nil || !h.isGone() {
		until := m.clock.Now().Add(2 * time.Minute)
		if h != nil {
			until = h.sched.Expires(h.lastBeat())
		}
		err = m.complete(ctx, log, rec.Action(), Continue, reason, until)
	}
	m.release(node, h)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if werr := writeRecord(ctx, m.kube, node, nil); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// CompleteUnknown completes a termination action at once (CONTINUE) for an
// instance that is no node of this cluster, so its group does not wait for
// the hook's timeout.
func (m *Manager) CompleteUnknown(ctx context.Context, a Action) error {
	if err := checkAction(a, Terminating); err != nil {
		return err
	}
	log := m.log.With(zap.String("instance", a.InstanceID), zap.String("group", a.Group), zap.String("hook", a.Hook))
	return m.complete(ctx, log, a, Continue, ReasonUnknownInstance, m.clock.Now().Add(2*time.Minute))
}

// complete calls CompleteLifecycleAction, retrying other failures than a
// ValidationError until the time until; a ValidationError (no such action
// pending any more: completed, timed out) ends it without error.
func (m *Manager) complete(ctx context.Context, log *zap.Logger, a Action, result Result, reason string, until time.Time) error {
	in := &autoscaling.CompleteLifecycleActionInput{AutoScalingGroupName: aws.String(a.Group), LifecycleHookName: aws.String(a.Hook),
		LifecycleActionToken: aws.String(a.Token), LifecycleActionResult: aws.String(string(result)), InstanceId: aws.String(a.InstanceID)}
	labels := []string{transitionLabel(a.Transition), string(result), reason}
	wait := time.Second
	for {
		_, err := m.asg.CompleteLifecycleAction(ctx, in)
		switch {
		case err == nil:
			m.metrics.Completions.WithLabelValues(append(labels, OutcomeOK)...).Inc()
			log.Info("lifecycle action completed", zap.String("result", string(result)), zap.String("reason", reason))
			return nil
		case isGone(err):
			m.metrics.Completions.WithLabelValues(append(labels, OutcomeGone)...).Inc()
			log.Warn("lifecycle action no longer pending (completed elsewhere or timed out)", zap.String("reason", reason), zap.Error(err))
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		m.metrics.Completions.WithLabelValues(append(labels, OutcomeError)...).Inc()
		if !m.clock.Now().Add(wait).Before(until) {
			log.Error("completing the lifecycle action failed; giving up: the hook's timeout applies", zap.Error(err))
			return fmt.Errorf("completing lifecycle action of %s (group %s, hook %s): %w", a.InstanceID, a.Group, a.Hook, err)
		}
		log.Error("completing the lifecycle action failed; retrying", zap.Duration("in", wait), zap.Error(err))
		if !m.sleepUntil(ctx, m.clock.Now().Add(wait)) {
			return ctx.Err()
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// isGone reports whether err is Auto Scaling's ValidationError: the action
// is not pending (completed, timed out) or does not exist; trying again
// does not help.
func isGone(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError"
}

// hookTimeouts returns the hook's timeouts, read once per hook. If they
// cannot be read, it assumes the shortest heartbeat timeout (heartbeats come
// more often than needed, never too rarely) and tries again next time.
func (m *Manager) hookTimeouts(ctx context.Context, group, hook string) Hook {
	k := hookKey{group, hook}
	m.mu.Lock()
	h, ok := m.hooks[k]
	m.mu.Unlock()
	if ok {
		return h
	}
	out, err := m.asg.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String(group),
		LifecycleHookNames: []string{hook}})
	if err == nil {
		for _, d := range out.LifecycleHooks {
			if aws.ToString(d.LifecycleHookName) == hook && aws.ToInt32(d.HeartbeatTimeout) > 0 {
				h = Hook{HeartbeatTimeout: time.Duration(aws.ToInt32(d.HeartbeatTimeout)) * time.Second,
					GlobalTimeout: time.Duration(aws.ToInt32(d.GlobalTimeout)) * time.Second}
				m.mu.Lock()
				m.hooks[k] = h
				m.mu.Unlock()
				return h
			}
		}
		err = errors.New("no such hook on the group")
	}
	m.log.Error("cannot read the lifecycle hook's timeouts (check autoscaling:DescribeLifecycleHooks in the role's policy); assuming a 30s heartbeat timeout",
		zap.String("group", group), zap.String("hook", hook), zap.Error(err))
	return unknownHook
}

// sleepUntil waits on the clock until t; false if ctx ended first.
func (m *Manager) sleepUntil(ctx context.Context, t time.Time) bool {
	d := t.Sub(m.clock.Now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-m.clock.After(d):
		return true
	}
}
