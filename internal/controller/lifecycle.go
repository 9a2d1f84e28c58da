package controller

import (
	"context"
	"sync"
	"time"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/queue"
)

// lifecycles is the controller's side of ASG lifecycle actions: the
// process's lifecycle.Manager (its holds end with the leadership that
// started them; the next leadership, of this process or another, resumes
// them from the nodes' records), and which nodes wait for the end of their
// drain to complete an action.
type lifecycles struct {
	asg     lifecycle.AutoScaling
	cfg     lifecycle.Config
	metrics *lifecycle.Metrics
	log     *zap.Logger
	clock   clock.WithTicker

	mu      sync.Mutex
	m       *lifecycle.Manager           // made at the first leadership
	pending map[string]bool              // node → a termination action waits for its drain to end
	last    map[string]interrupt.Outcome // node → how its last drain ended (this leadership)
	wg      sync.WaitGroup               // completions and launch waits of this leadership
}

// newLifecycles returns the wiring, or nil when no Auto Scaling client is
// given (lifecycle messages are then counted ignored).
func newLifecycles(cfg lifecycle.Config, asg lifecycle.AutoScaling, m *lifecycle.Metrics, log *zap.Logger, clk clock.WithTicker) (*lifecycles, error) {
	if asg == nil {
		return nil, nil
	}
	def := lifecycle.DefaultConfig()
	if cfg.HeartbeatFraction == 0 {
		cfg.HeartbeatFraction = def.HeartbeatFraction
	}
	if cfg.LaunchPoll == 0 {
		cfg.LaunchPoll = def.LaunchPoll
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &lifecycles{asg: asg, cfg: cfg, metrics: m, log: log, clock: clk}, nil
}

// leadLifecycles makes the Manager at the first leadership and takes over
// every termination action recorded on a node (heartbeats at once),
// including those this process held in a leadership that ended. A node whose
// drain the controller recorded is resumed by resume; one without such a
// record (the previous leader died between recording the action and the
// cordon) gets its lifecycle notice again. Call it before resume, so each
// resumed drain's end completes its action.
func (c *Controller) leadLifecycles(ctx context.Context, as *actors) {
	l := c.lc
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.m == nil {
		var err error
		if l.m, err = lifecycle.New(l.cfg, l.asg, c.kube, l.clock, l.log, l.metrics); err != nil { // checked in New; never here
			l.mu.Unlock()
			c.log.Error("bug: the lifecycle manager cannot start", zap.Error(err))
			return
		}
	}
	m := l.m
	l.pending, l.last = map[string]bool{}, map[string]interrupt.Outcome{}
	l.mu.Unlock()
	for _, obj := range c.inf.GetIndexer().List() {
		node, ok := obj.(*corev1.Node)
		if !ok || node.Annotations[lifecycle.ActionAnnotation] == "" {
			continue
		}
		rec, err := m.Resume(ctx, node)
		if err != nil || rec == nil {
			c.log.Error("a node's lifecycle record is unreadable; leaving it (the hook's timeout applies)", zap.String("node", node.Name), zap.Error(err))
			continue
		}
		notice, _ := drain.ReadNotice(node)
		term := terminateNotice(rec.Instance, queue.IDPrefix+string(queue.LifecycleAction)+"/"+rec.Instance+"/"+rec.Token, *rec, c.clock.Now())
		own := notice.Held(drain.SourceQueue)
		switch agent := agentDrain(notice, term, c.clock.Now()); {
		case agent != nil:
			c.completeAfterAgent(ctx, node.Name, agent.Deadline, *rec)
		case own != nil && !own.TaintOnly:
			l.setPending(node.Name)
		default:
			l.setPending(node.Name)
			as.post(node.Name, interrupt.Received{Notice: term})
		}
	}
}

// waitLifecycles returns once this leadership's completions and launch
// waits have returned (they end with the leader's context).
func (c *Controller) waitLifecycles() {
	if c.lc != nil {
		c.lc.wg.Wait()
	}
}

func (l *lifecycles) manager() *lifecycle.Manager {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m
}

func (l *lifecycles) setPending(node string) {
	l.mu.Lock()
	l.pending[node] = true
	l.mu.Unlock()
}

// terminateNotice is the machine's notice for a termination action: the
// instance is going away (ASGTermination, always drained in queue mode)
// by the action's deadline.
func terminateNotice(instance, id string, rec lifecycle.Record, received time.Time) interrupt.Notice {
	return interrupt.Notice{Kind: interrupt.ASGTermination, ID: id, Action: "Terminating", Deadline: rec.Deadline, Detected: received,
		Source: interrupt.SourceQueue, Description: "Auto Scaling lifecycle hook " + rec.Hook + " of group " + rec.Group,
		Data: map[string]string{"instance": instance}}
}

// lifecycleMessage handles a lifecycle message and reports true, or
// reports false for any other message (or when lifecycle actions are not
// wired: then they are counted ignored).
func (c *Controller) lifecycleMessage(ctx context.Context, as *actors, msg sqstypes.Message, m queue.Message, received time.Time, log *zap.Logger) bool {
	if c.lc == nil || m.Type != queue.TypeLifecycle || len(m.Notices) != 1 {
		return false
	}
	n := m.Notices[0]
	a, ok := lifecycle.ActionOf(n)
	if !ok {
		return false
	}
	log = log.With(zap.String("instance", a.InstanceID), zap.String("group", a.Group), zap.String("hook", a.Hook), zap.String("notice_id", n.ID))
	if a.Transition == lifecycle.Launching {
		c.launch(ctx, as, msg, m.Type, a, log)
		return true
	}
	outcome, del := c.terminate(ctx, as, n, a, received, receiveCount(msg), log)
	c.finish(ctx, msg, m.Type, outcome, del, log)
	return true
}

// terminate holds a termination action for its node's drain. The action
// is recorded on the node (Start) before the message may go; the drain's
// end completes it (afterDrain).
func (c *Controller) terminate(ctx context.Context, as *actors, n queue.Notice, a lifecycle.Action, received time.Time, count int, log *zap.Logger) (string, bool) {
	node, via, err := c.nodes.node(ctx, a.InstanceID)
	c.qm.Lookups.WithLabelValues(via).Inc()
	switch {
	case err != nil:
		log.Error("looking the instance up in EC2 failed; the message stays (check ec2:DescribeInstances)", zap.Error(err))
		return metrics.QueueFailed, false
	case node == nil:
		return c.terminateNoNode(ctx, as, a, count, log) // ownership.go
	}
	log = log.With(zap.String("node", node.Name))
	if c.cfg.DryRun {
		log.Info("dry-run: would record the lifecycle action on the node, heartbeat through the drain and complete it (CONTINUE)")
		hold := c.lc.cfg.MaxDrain
		if hold == 0 {
			hold = lifecycle.DefaultConfig().MaxDrain
		}
		r := as.deliver(node.Name, interrupt.Received{Notice: terminateNotice(a.InstanceID, n.ID,
			lifecycle.Record{Hook: a.Hook, Group: a.Group, Deadline: a.EventTime.Add(hold)}, received)})
		if !r.durable {
			return metrics.QueueFailed, false
		}
		return metrics.QueueHandled, true
	}
	rec, err := c.lc.manager().Start(as.ctx, node.Name, a)
	if err != nil {
		log.Error("recording the lifecycle action on the node failed; the message stays and comes back", zap.Error(err))
		return metrics.QueueFailed, false
	}
	term := terminateNotice(a.InstanceID, n.ID, rec, received)
	if notice, err := drain.ReadNotice(node); err == nil {
		if agent := agentDrain(notice, term, received); agent != nil {
			log.Info("the node's DaemonSet agent is already draining it for an interruption in force: the action is held and completed at the agent's deadline",
				zap.String("agent_notice_id", agent.ID), zap.Time("agent_deadline", agent.Deadline))
			c.completeAfterAgent(as.ctx, node.Name, agent.Deadline, rec)
			return metrics.QueueAgentDraining, true
		}
	}
	c.lc.setPending(node.Name)
	r := as.deliver(node.Name, interrupt.Received{Notice: term})
	if !r.durable {
		log.Warn("the notice is not recorded on the node yet: the message stays and comes back (the action is held meanwhile)", zap.Error(r.err))
		return metrics.QueueFailed, false
	}
	return metrics.QueueHandled, true
}

// forget drops what l remembers of node's last drain when its actor
// retires (node gone, or idle with nothing in force), unless a termination
// action still waits for it; a nil l has nothing to forget.
func (l *lifecycles) forget(node string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.pending[node] {
		delete(l.last, node)
	}
}

// afterDrain runs on a's goroutine after each event: it remembers how the
// node's drain ended and, once the node is drained (no drain running), completes the
// termination action waiting for it: at once if the node is empty, at the
// action's deadline otherwise (also after a --cordon-only "drain").
func (c *Controller) afterDrain(as *actors, a *actor, ev interrupt.Event) {
	l := c.lc
	if l == nil {
		return
	}
	l.mu.Lock()
	if e, ok := ev.(interrupt.DrainEnded); ok && e.Outcome != interrupt.Stopped && l.last != nil {
		l.last[a.node] = e.Outcome
	}
	last, seen := l.last[a.node]
	result, now := completion(l.pending[a.node], a.m.Phase(), last, seen)
	m := l.m
	if now {
		delete(l.pending, a.node)
	}
	l.mu.Unlock()
	if !now {
		return
	}
	l.wg.Go(func() {
		if err := m.Complete(as.ctx, a.node, result); err != nil && as.ctx.Err() == nil {
			a.log.Error("completing the lifecycle action after the drain failed (the hook's timeout applies)", zap.Error(err))
		}
	})
}

// completion decides, after an event of a node's machine, whether the
// termination action waiting for the node (pending) is completed now: once
// no drain runs and the node is drained. The drain's last outcome says how:
// Drained if it emptied the node, DrainFailed (at the deadline) for any
// other end, or none seen.
func completion(pending bool, phase interrupt.Phase, last interrupt.Outcome, seen bool) (lifecycle.Outcome, bool) {
	if !pending || phase != interrupt.PhaseDrained {
		return 0, false
	}
	if seen && last == interrupt.Emptied {
		return lifecycle.Drained, true
	}
	return lifecycle.DrainFailed, true
}

// completeAfterAgent completes the action held for a node the DaemonSet
// agent drains once the agent's deadline (by which its drain has ended) or
// the action's, whichever is first, has passed.
func (c *Controller) completeAfterAgent(ctx context.Context, node string, agentDeadline time.Time, rec lifecycle.Record) {
	l := c.lc
	m := l.manager()
	at := rec.Deadline
	if !agentDeadline.IsZero() && agentDeadline.Before(at) {
		at = agentDeadline
	}
	l.wg.Go(func() {
		if d := at.Sub(c.clock.Now()); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-c.clock.After(d):
			}
		}
		if err := m.Complete(ctx, node, lifecycle.Drained); err != nil && ctx.Err() == nil {
			c.log.Error("completing the lifecycle action of a node the agent drained failed (the hook's timeout applies)",
				zap.String("node", node), zap.Error(err))
		}
	})
}
