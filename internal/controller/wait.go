package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/spot-handler/spot-handler/internal/interrupt"
)

// DefaultMaintenanceLead is --maintenance-lead's default. An hour covers a
// slow drain (long grace periods, PDBs that let one pod go at a time) and
// a replacement node joining, while the node serves all but the last hour
// before its window, instead of being emptied the day (often two weeks
// before) the event is announced.
const DefaultMaintenanceLead = time.Hour

// DefaultRebalanceTaintTTL is --rebalance-taint-ttl's default. A
// recommendation is a risk, not a notice: most instances that get one run
// on for hours. Two hours keep new pods off the node while the risk is
// fresh (EC2 interrupts most at-risk instances within that time, if at
// all), then let the node be used in full again.
const DefaultRebalanceTaintTTL = 2 * time.Hour

// WaitAnnotation records on a node the Health scheduled changes whose
// drain waits for its lead time (a JSON list of waitRecord). The message
// is deleted once it is written; a new leader holds them again (resume),
// so the wait outlives the message and the process. It is removed once
// nothing waits (the drain began, or the event was closed).
const WaitAnnotation = "spot-handler.io/maintenance-wait"

// waitRecord is one waiting notice in WaitAnnotation.
type waitRecord struct {
	Kind        string    `json:"kind"`
	ID          string    `json:"id"`
	Action      string    `json:"action,omitempty"`
	Instance    string    `json:"instance,omitempty"`
	Description string    `json:"description,omitempty"`
	Deadline    time.Time `json:"deadline"`
	Detected    time.Time `json:"detected"`
}

// afterApply runs on a's goroutine after each event: it records on the
// node the notices whose drain waits (or removes the record), and sets the
// actor's one timer to the machine's next wake. An error means the wait is
// not recorded: the message stays.
func (as *actors) afterApply(a *actor) error {
	now := as.c.clock.Now()
	as.schedule(a, now)
	var recs []waitRecord
	for _, n := range a.m.Waiting(now) {
		recs = append(recs, waitRecord{Kind: string(n.Kind), ID: n.ID, Action: n.Action, Instance: n.Data["instance"],
			Description: n.Description, Deadline: n.Deadline.UTC(), Detected: n.Detected.UTC()})
	}
	want := ""
	if len(recs) > 0 {
		b, err := json.Marshal(recs)
		if err != nil {
			return err
		}
		want = string(b)
	}
	if want == a.waits || as.c.cfg.DryRun {
		a.waits = want
		return nil
	}
	var value any
	if want != "" {
		value = want
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{WaitAnnotation: value}}})
	ctx, cancel := context.WithTimeout(as.ctx, markTimeout)
	defer cancel()
	_, err := as.c.kube.CoreV1().Nodes().Patch(ctx, a.node, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		a.log.Error("recording the maintenance wait on the node failed", zap.Error(err))
		return fmt.Errorf("recording the maintenance wait on node %s: %w", a.node, err)
	}
	if want != "" && a.waits == "" {
		a.log.Info("Health scheduled change recorded: the node is cordoned and drained at its start less --maintenance-lead",
			zap.Time("drain_at", recs[0].Deadline.Add(-as.c.cfg.MaintenanceLead)), zap.Time("start", recs[0].Deadline))
	}
	a.waits = want
	return nil
}

// schedule sets a's timer to the machine's next wake (a maintenance lead
// beginning, a rebalance taint expiring): one timer per actor, no goroutine
// while it waits; it posts Woke.
func (as *actors) schedule(a *actor, now time.Time) {
	at, ok := a.m.Wake()
	if ok && a.wake != nil && at.Equal(a.wakeAt) {
		return
	}
	if a.wake != nil {
		a.wake.Stop()
		a.wake = nil
	}
	if !ok {
		return
	}
	a.wakeAt = at
	post := func() {
		if as.ctx.Err() == nil && as.has(a.node) {
			as.post(a.node, interrupt.Woke{})
		}
	}
	if dc, isDC := as.c.clock.(clock.WithDelayedExecution); isDC {
		a.wake = dc.AfterFunc(max(at.Sub(now), 0), post)
		return
	}
	a.wake = clock.RealClock{}.AfterFunc(max(at.Sub(now), 0), post)
}

// recordedWaits returns node's WaitAnnotation as the node index holds it:
// a new actor starts from what a previous leader wrote, so that it removes
// the record once nothing waits (afterApply writes only changes).
func (c *Controller) recordedWaits(node string) string {
	obj, ok, err := c.inf.GetIndexer().GetByKey(node)
	if err != nil || !ok {
		return ""
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return ""
	}
	return n.Annotations[WaitAnnotation]
}

// resumeWaits holds again, in each node's actor, the Health scheduled
// changes a leader recorded as waiting on the node (WaitAnnotation). A
// record whose start has passed is not held (the event is over, draining
// for it now serves nothing) and is removed from the node.
func (c *Controller) resumeWaits(as *actors) {
	now := c.clock.Now()
	for _, obj := range c.inf.GetIndexer().List() {
		node, ok := obj.(*corev1.Node)
		if !ok || node.Annotations[WaitAnnotation] == "" {
			continue
		}
		var all []waitRecord
		if err := json.Unmarshal([]byte(node.Annotations[WaitAnnotation]), &all); err != nil {
			c.log.Error("a node's maintenance wait record is unreadable; leaving it", zap.String("node", node.Name), zap.Error(err))
			continue
		}
		var recs []waitRecord
		for _, r := range all {
			if !r.Deadline.After(now) {
				c.log.Info("dropping the Health scheduled change recorded on the node: its start has passed", zap.String("node", node.Name),
					zap.String("notice_id", r.ID), zap.Time("start", r.Deadline))
				continue
			}
			recs = append(recs, r)
		}
		if len(recs) < len(all) {
			c.dropPastWaits(as.ctx, node.Name, recs)
		}
		for _, r := range recs {
			c.log.Info("holding again the Health scheduled change recorded on the node", zap.String("node", node.Name), zap.String("notice_id", r.ID),
				zap.Time("start", r.Deadline))
			as.post(node.Name, interrupt.Received{Notice: interrupt.Notice{Kind: interrupt.Kind(r.Kind), ID: r.ID, Action: r.Action,
				Deadline: r.Deadline, Detected: r.Detected, Source: interrupt.SourceQueue, Description: r.Description,
				Data: map[string]string{"instance": r.Instance}}})
		}
	}
}

// dropPastWaits writes left (the records still to come) as node's
// WaitAnnotation, or removes it if none is left. A failure is logged: the
// next leader drops the past records again.
func (c *Controller) dropPastWaits(ctx context.Context, node string, left []waitRecord) {
	if c.cfg.DryRun {
		return
	}
	var value any
	if len(left) > 0 {
		b, err := json.Marshal(left)
		if err != nil {
			return
		}
		value = string(b)
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{WaitAnnotation: value}}})
	ctx, cancel := context.WithTimeout(ctx, markTimeout)
	defer cancel()
	if _, err := c.kube.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
		c.log.Error("removing past maintenance waits from the node failed", zap.String("node", node), zap.Error(err))
	}
}
