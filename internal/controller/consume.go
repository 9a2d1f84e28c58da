package controller

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/queue"
)

// SQSAPI is the part of the SQS client the controller uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// maxHandling bounds the messages handled at once (each is a goroutine
// waiting for its node's cordon). It is sized for a whole Availability
// Zone's reclaim received at once: at 100, a 500-node storm waited up to
// 30 s on the queue behind cordons slowed by the storm's own load (sent →
// cordoned p99 42 s against received → cordoned 12.7 s, docs/performance.md).
const maxHandling = 1000

// receive runs one long-polling receiver until ctx ends. Errors (SQS
// unreachable, throttled, credentials) are logged, counted and retried with
// backoff: never fatal.
func (c *Controller) receive(ctx context.Context, as *actors, handling chan struct{}, wg *sync.WaitGroup) {
	backoff := wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 5 * time.Second}
	waitSecs := int32(c.cfg.WaitTime / time.Second)
	for ctx.Err() == nil {
		// The SDK's HTTP client has no overall timeout: bound each call, so
		// a hung connection is retried like a failed one.
		rctx, cancel := context.WithTimeout(ctx, c.cfg.WaitTime+15*time.Second)
		out, err := c.sqs.ReceiveMessage(rctx, &sqs.ReceiveMessageInput{QueueUrl: &c.cfg.QueueURL, MaxNumberOfMessages: 10,
			WaitTimeSeconds: waitSecs, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{
				sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.qm.ReceiveErrors.WithLabelValues("receive").Inc()
			d := backoff.Step()
			c.say.fail("sqs", "receiving from the queue failed; retrying", err, sqsHint, zap.String("queue_url", c.cfg.QueueURL)) // say.go
			c.log.Debug("receiving from the queue failed; retrying", zap.Duration("retry_in", d), zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-c.clock.After(d):
			}
			continue
		}
		backoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 5 * time.Second}
		c.say.ok("sqs", "receiving from the queue works again", zap.String("queue_url", c.cfg.QueueURL))
		for _, msg := range out.Messages {
			select {
			case handling <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-handling }()
				c.handleMessage(ctx, as, msg)
			})
		}
	}
}

// handleMessage parses one message, hands its notices to their nodes'
// actors and deletes it once each is recorded on its node (or needs no
// record). A message that cannot be handled yet stays; SQS delivers it
// again after its visibility timeout.
func (c *Controller) handleMessage(ctx context.Context, as *actors, msg sqstypes.Message) {
	received := c.clock.Now()
	m, err := queue.Parse([]byte(aws.ToString(msg.Body)))
	log := c.log.With(zap.String("message_id", aws.ToString(msg.MessageId)), zap.String("type", m.Type))
	if err != nil {
		c.once.log(m.Type+"/malformed", func() {
			log.Error("malformed queue message: deleted (logged once per type)", zap.String("source", m.Source),
				zap.String("detail_type", m.DetailType), zap.Error(err))
		})
		c.finish(ctx, msg, m.Type, metrics.QueueMalformed, true, log)
		return
	}
	if !m.Time.IsZero() {
		c.qm.MessageAge.Observe(received.Sub(m.Time).Seconds())
	}
	if m.Type == queue.TypeUnknown {
		c.once.log("unknown/"+m.Source+"/"+m.DetailType, func() {
			log.Warn("queue message of a kind the controller does not handle: deleted (logged once per kind); check the EventBridge rules",
				zap.String("source", m.Source), zap.String("detail_type", m.DetailType))
		})
	}
	if c.lifecycleMessage(ctx, as, msg, m, received, log) { // lifecycle.go
		return
	}
	outcome, del := metrics.QueueIgnored, true
	id := aws.ToString(msg.MessageId)
	settled := as.settled.get(id) // settle.go
	var outcomes []string
	for _, n := range m.Notices {
		o, d := settled[n.InstanceID], true
		if o == "" {
			o, d = c.handleNotice(ctx, as, n, received, receiveCount(msg), log)
		}
		if settles(o) {
			settled[n.InstanceID] = o
		}
		outcomes = append(outcomes, o)
		if rank(o) > rank(outcome) {
			outcome = o
		}
		del = del && d
	}
	if !del && othersOnly(outcomes) {
		log.Info("every instance of this cluster the message names is handled; the others are other clusters': message deleted")
		del = true
	}
	if del {
		as.settled.forget(id)
	} else if len(settled) > 0 {
		as.settled.put(id, settled)
	}
	for _, w := range m.Withdrawals { // withdraw.go
		o, d := c.handleWithdrawal(ctx, as, w, received, log)
		if rank(o) > rank(outcome) {
			outcome = o
		}
		del = del && d
	}
	c.finish(ctx, msg, m.Type, outcome, del, log)
}

// handleNotice handles one instance's notice; it returns the outcome and
// whether the message may be deleted as far as this notice goes.
func (c *Controller) handleNotice(ctx context.Context, as *actors, n queue.Notice, received time.Time, count int, log *zap.Logger) (string, bool) {
	in, ok := machineNotice(n, received)
	if !ok {
		return metrics.QueueIgnored, true // lifecycle actions: the next issue
	}
	log = log.With(zap.String("instance", n.InstanceID), zap.String("notice_id", n.ID))
	node, via, err := c.nodes.node(ctx, n.InstanceID)
	c.qm.Lookups.WithLabelValues(via).Inc()
	if err != nil {
		log.Error("looking the instance up in EC2 failed; the message stays (check ec2:DescribeInstances)", zap.Error(err))
		return metrics.QueueFailed, false
	}
	if node == nil {
		switch {
		case count < 2:
			log.Info("instance is no node of this cluster (yet): re-checking once", zap.Duration("recheck_in", c.cfg.RecheckDelay))
			return metrics.QueueRecheck, false
		case c.cfg.DeleteUnknown:
			log.Info("instance is no node of this cluster: message deleted (--delete-unknown)")
			return metrics.QueueUnknownInstance, true
		default:
			log.Info("instance is no node of this cluster: message left on the queue (--delete-unknown=false)")
			return metrics.QueueUnknownKept, false
		}
	}
	if rec, err := drain.ReadNotice(node); err == nil {
		if agent := agentDrain(rec, in, received); agent != nil {
			log.Info("the node's DaemonSet agent is already draining it for an interruption in force: leaving the drain to it",
				zap.String("node", node.Name), zap.String("agent_notice_id", agent.ID), zap.Time("agent_deadline", agent.Deadline))
			return metrics.QueueAgentDraining, true
		}
	}
	r := as.deliver(node.Name, interrupt.Received{Notice: in})
	if !r.durable {
		log.Warn("the notice is not recorded on the node yet: the message stays and comes back", zap.String("node", node.Name), zap.Error(r.err))
		return metrics.QueueFailed, false
	}
	return metrics.QueueHandled, true
}

// rank orders outcomes so a message with several notices reports the one
// that matters most.
func rank(o string) int {
	switch o {
	case metrics.QueueFailed:
		return 6
	case metrics.QueueRecheck:
		return 5
	case metrics.QueueUnknownKept:
		return 4
	case metrics.QueueUnknownInstance:
		return 3
	case metrics.QueueHandled:
		return 2
	case metrics.QueueAgentDraining:
		return 1
	}
	return 0
}

// finish counts the message and deletes it, or, for a re-check, makes it
// visible again after RecheckDelay.
func (c *Controller) finish(ctx context.Context, msg sqstypes.Message, typ, outcome string, del bool, log *zap.Logger) {
	c.qm.Messages.WithLabelValues(typ, outcome).Inc()
	if outcome == metrics.QueueRecheck {
		vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := c.sqs.ChangeMessageVisibility(vctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &c.cfg.QueueURL,
			ReceiptHandle: msg.ReceiptHandle, VisibilityTimeout: int32(c.cfg.RecheckDelay / time.Second)})
		if err != nil {
			c.qm.ReceiveErrors.WithLabelValues("change_visibility").Inc()
			log.Warn("shortening the message's visibility for its re-check failed; it comes back after the queue's visibility timeout", zap.Error(err))
		}
		return
	}
	if !del {
		return
	}
	backoff := wait.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Steps: 6, Cap: 5 * time.Second}
	for {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.sqs.DeleteMessage(dctx, &sqs.DeleteMessageInput{QueueUrl: &c.cfg.QueueURL, ReceiptHandle: msg.ReceiptHandle})
		cancel()
		if err == nil {
			return
		}
		c.qm.ReceiveErrors.WithLabelValues("delete").Inc()
		if ctx.Err() != nil || backoff.Steps <= 1 {
			log.Warn("deleting the message failed: SQS delivers it again, and it is handled as a duplicate", zap.Error(err))
			return
		}
		select {
		case <-ctx.Done():
		case <-c.clock.After(backoff.Step()):
		}
	}
}

// receiveCount is the message's ApproximateReceiveCount (1 if absent).
func receiveCount(msg sqstypes.Message) int {
	n, err := strconv.Atoi(msg.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// onceLog runs each key's log call once; past maxOnce keys it stops
// remembering (and logging) new ones.
type onceLog struct {
	mu   sync.Mutex
	seen map[string]bool
}

const maxOnce = 1000

func (o *onceLog) log(key string, f func()) {
	o.mu.Lock()
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	first := !o.seen[key] && len(o.seen) < maxOnce
	if first {
		o.seen[key] = true
	}
	o.mu.Unlock()
	if first {
		f()
	}
}
