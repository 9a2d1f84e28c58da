package controller

import (
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/spot-handler/spot-handler/internal/interrupt"
)

// An actor retires (its goroutine ends, its machine is dropped) once it has
// nothing left to do and no drain of its runs or is still to report:
//   - its node object is gone from the node index (or was made again under
//     the same name: another UID), or
//   - its machine is idle with no notice in force and had no event for
//     gcConfig.idle.
//
// A later event for the node starts a new actor, so a cluster that replaces
// nodes all week keeps actors only for the nodes that exist. A node deleted
// while its drain runs keeps its actor until the drain has ended.

// gcConfig says when actors are checked and how long an idle one is kept.
type gcConfig struct {
	idle  time.Duration // an idle machine with nothing in force retires after this
	sweep time.Duration // every actor is checked this often
}

// defaultGC checks every minute and keeps an idle actor 10 minutes: long
// enough to see SQS deliver a duplicate, short against a node's life.
var defaultGC = gcConfig{idle: 10 * time.Minute, sweep: time.Minute}

// nodeUID is the UID of node in the node index, or "" if it has none.
func (c *Controller) nodeUID(node string) types.UID {
	obj, ok, err := c.inf.GetIndexer().GetByKey(node)
	if err != nil || !ok {
		return ""
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return ""
	}
	return n.UID
}

// forgetter is a drainer that remembers each node's drains (the
// Drainer: see drain.Drainer.Forget) until told the node is gone.
type forgetter interface{ Forget(node string) }

// forgetDrains tells the drainer that node is gone, so that what it
// remembers of the node's drains does not outlive the node.
func (c *Controller) forgetDrains(node string) {
	if f, ok := c.actor.(forgetter); ok {
		f.Forget(node)
	}
}

// renew runs on a's goroutine before an event: if the node was deleted and
// made again under the same name, the new node starts afresh (a new
// machine: its notices are not updates of the old node's). A drain of the
// old node still queued or running is canceled (the new machine drains the
// new node); its end, when reported, is dropped as stale, never taken for
// the end of the new machine's drain of the same Seq.
func (as *actors) renew(a *actor, ev interrupt.Event) {
	if _, ok := ev.(interrupt.DrainEnded); ok {
		return
	}
	uid := as.c.nodeUID(a.node)
	switch {
	case uid == "" || uid == a.uid:
		return
	case a.uid == "":
		a.uid = uid
		return
	}
	a.log.Info("node made again under the same name: its notices start afresh", zap.String("old_uid", string(a.uid)),
		zap.String("uid", string(uid)), zap.Int("old_drains_stopped", len(a.jobs)))
	for seq, j := range a.jobs {
		j.cancel()
		a.stale[seq]++
		delete(a.jobs, seq)
	}
	a.stopWatches(false)
	a.m, a.marked, a.uid = interrupt.New(as.c.cfg.machineConfig()), false, uid
	a.waits = as.c.recordedWaits(a.node)
}

// staleEnd reports whether e ends a drain of a node made again since
// (renew), and forgets it if so.
func (a *actor) staleEnd(e interrupt.DrainEnded) bool {
	if a.stale[e.Seq] == 0 {
		return false
	}
	if a.stale[e.Seq]--; a.stale[e.Seq] == 0 {
		delete(a.stale, e.Seq)
	}
	return true
}

// retire runs on a's goroutine after each delivery: it reports whether a
// has nothing left to do and, if so, forgets it so the next event for the
// node starts a new actor.
func (as *actors) retire(a *actor) bool {
	if !a.applied || len(a.jobs) > 0 || len(a.stale) > 0 {
		return false
	}
	uid := as.c.nodeUID(a.node)
	gone := uid == "" || a.uid != "" && uid != a.uid
	idle := a.m.Phase() == interrupt.PhaseIdle && len(a.m.InForce()) == 0 && as.c.clock.Since(a.last) >= as.gc.idle
	if !gone && !idle {
		return false
	}
	a.stopWatches(false) // a gone node needs no watch; an idle one has none
	as.mu.Lock()
	if a.users > 0 || len(a.in) > 0 {
		// An event is on its way: handle it first. A sender that already
		// sent (and whose event this was) checks again when it releases.
		a.recheck = a.recheck || a.users > 0
		as.mu.Unlock()
		return false
	}
	as.forgetLocked(a)
	as.mu.Unlock()
	as.c.lc.forget(a.node)
	if gone {
		as.c.forgetDrains(a.node)
	}
	a.log.Debug("node actor retired: nothing left to do", zap.Bool("node_gone", gone), zap.Bool("idle", idle))
	return true
}

// forget removes a from the actors (a stopping actor).
func (as *actors) forget(a *actor) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.forgetLocked(a)
}

func (as *actors) forgetLocked(a *actor) {
	if as.all[a.node] == a {
		delete(as.all, a.node)
		as.c.qm.NodeActors.Dec()
	}
}

// check asks node's actor, if any, whether it can retire. It never blocks:
// an actor with a full queue is checked after its next event anyway.
func (as *actors) check(node string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if a, ok := as.all[node]; ok {
		select {
		case a.in <- delivery{}:
		default:
		}
	}
}

// collect checks an actor when its node is deleted (or made again), and
// every actor each sweep, until the leader's context ends.
func (as *actors) collect() {
	h, err := as.c.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*corev1.Node)
			n, ok2 := cur.(*corev1.Node)
			if ok1 && ok2 && o.UID != n.UID {
				as.check(n.Name)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				as.check(n.Name)
			}
		},
	})
	if err != nil {
		as.c.log.Warn("watching node deletions failed; node actors are only checked every sweep", zap.Error(err))
	} else {
		defer func() { _ = as.c.inf.RemoveEventHandler(h) }()
	}
	t := as.c.clock.NewTicker(as.gc.sweep)
	defer t.Stop()
	for {
		select {
		case <-as.ctx.Done():
			return
		case <-t.C():
			as.mu.Lock()
			nodes := make([]string, 0, len(as.all))
			for n := range as.all {
				nodes = append(nodes, n)
			}
			as.mu.Unlock()
			for _, n := range nodes {
				as.check(n)
			}
		}
	}
}
