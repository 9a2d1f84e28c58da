package controller

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/metrics"
)

// While a launch action waits for its node, its message is kept invisible
// for launchVisibility, renewed every launchRenew: the message is the wait's
// only record, so a leader that dies leaves it to come back to the next
// one within launchVisibility.
const (
	launchVisibility = 60 * time.Second
	launchRenew      = 20 * time.Second
)

// launch holds a launch action of this cluster's until the instance's node
// is Ready (CONTINUE) or the launch timeout (ABANDON), off the message
// handlers (another cluster's is never touched): a
// wait of minutes must not take a handler's place. The message is deleted
// once the action is completed; while it waits, it is kept invisible.
func (c *Controller) launch(ctx context.Context, as *actors, msg sqstypes.Message, typ string, a lifecycle.Action, log *zap.Logger) {
	if !c.launchOwned(ctx, msg, typ, a, log) { // ownership.go
		return
	}
	if c.cfg.DryRun {
		log.Info("dry-run: would hold the launch action until the instance's node is Ready (CONTINUE) or the launch timeout (ABANDON)")
		c.finish(ctx, msg, typ, metrics.QueueIgnored, true, log)
		return
	}
	m := c.lc.manager()
	find := func(instance string) (*corev1.Node, bool) {
		n := c.nodes.fromIndex(instance)
		return n, n != nil
	}
	c.lc.wg.Go(func() {
		wctx, stop := context.WithCancel(as.ctx)
		renewed := make(chan struct{})
		go func() {
			defer close(renewed)
			c.keepInvisible(wctx, msg, log)
		}()
		result, err := m.Launch(as.ctx, a, find)
		stop()
		<-renewed
		if err != nil {
			if as.ctx.Err() == nil {
				log.Error("completing the launch action failed; the message comes back", zap.Error(err))
				c.finish(ctx, msg, typ, metrics.QueueFailed, false, log)
			}
			return
		}
		log.Info("launch action completed", zap.String("result", string(result)))
		c.finish(ctx, msg, typ, metrics.QueueHandled, true, log)
	})
}

// keepInvisible renews msg's visibility timeout until ctx ends.
func (c *Controller) keepInvisible(ctx context.Context, msg sqstypes.Message, log *zap.Logger) {
	for {
		vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.sqs.ChangeMessageVisibility(vctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &c.cfg.QueueURL,
			ReceiptHandle: msg.ReceiptHandle, VisibilityTimeout: int32(launchVisibility / time.Second)})
		cancel()
		if err != nil && ctx.Err() == nil {
			c.qm.ReceiveErrors.WithLabelValues("change_visibility").Inc()
			log.Warn("keeping the launch message invisible failed; if it comes back, its second delivery joins the wait", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-c.clock.After(launchRenew):
		}
	}
}
