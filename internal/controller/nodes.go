package controller

import (
	"context"
	"sync"

	"go.uber.org/zap"

	"github.com/spot-handler/spot-handler/internal/interrupt"
)

// actor owns one node's state machine: every event for the node goes
// through its channel, and only its goroutine applies events and carries
// out the actions.
type actor struct {
	node string
	in   chan delivery
	m    *interrupt.Machine
	// marked is true once the node carries the notice record of a notice in
	// force (cordon or taint written): a message for it may be deleted.
	marked bool
	jobs   map[int]*job // drains submitted and not ended, by Seq
	log    *zap.Logger
}

// delivery is one event for an actor; reply, if not nil, gets the result.
type delivery struct {
	ev    interrupt.Event
	reply chan result
}

// result says whether the notice is durable on the node (the message may
// go) and, if not, why.
type result struct {
	durable bool
	err     error
}

// actors holds the leader's actors, one per node that had a notice.
type actors struct {
	c   *Controller
	ctx context.Context // the leader's: ends when leadership does

	mu  sync.Mutex
	all map[string]*actor
	wg  sync.WaitGroup
}

func newActors(ctx context.Context, c *Controller) *actors {
	return &actors{c: c, ctx: ctx, all: map[string]*actor{}}
}

// get returns node's actor, starting it if needed.
func (as *actors) get(node string) *actor {
	as.mu.Lock()
	defer as.mu.Unlock()
	a, ok := as.all[node]
	if !ok {
		a = &actor{node: node, in: make(chan delivery, 64), m: interrupt.New(as.c.cfg.machineConfig()),
			jobs: map[int]*job{}, log: as.c.log.With(zap.String("node", node))}
		as.all[node] = a
		as.wg.Go(func() { as.loop(a) })
	}
	return a
}

// deliver hands ev to node's actor and waits for the result (or the end of
// leadership).
func (as *actors) deliver(node string, ev interrupt.Event) result {
	a := as.get(node)
	d := delivery{ev: ev, reply: make(chan result, 1)}
	select {
	case a.in <- d:
	case <-as.ctx.Done():
		return result{err: as.ctx.Err()}
	}
	select {
	case r := <-d.reply:
		return r
	case <-as.ctx.Done():
		return result{err: as.ctx.Err()}
	}
}

// post hands ev to node's actor without waiting (a drain reporting its end).
func (as *actors) post(node string, ev interrupt.Event) {
	a := as.get(node)
	select {
	case a.in <- delivery{ev: ev}:
	case <-as.ctx.Done():
	}
}

// wait returns once every actor has stopped (after the leader's context
// ended and their drains returned).
func (as *actors) wait() { as.wg.Wait() }

func (as *actors) loop(a *actor) {
	defer func() {
		for _, j := range a.jobs {
			j.cancel()
			<-j.done
		}
	}()
	for {
		select {
		case <-as.ctx.Done():
			return
		case d := <-a.in:
			r := as.apply(a, d.ev)
			if d.reply != nil {
				d.reply <- r
			}
		}
	}
}

// apply runs one event through the machine and carries out its actions,
// surviving a panic in either (logged, counted; the actor goes on).
func (as *actors) apply(a *actor, ev interrupt.Event) (r result) {
	defer func() {
		if p := recover(); p != nil {
			as.c.m.MissedDeadline.Inc()
			a.log.Error("bug: recovered from a panic; the controller keeps running", zap.Any("panic", p), zap.Stack("stack"))
			r = result{err: errPanic}
		}
	}()
	if e, ok := ev.(interrupt.DrainEnded); ok {
		delete(a.jobs, e.Seq)
	}
	now := as.c.clock.Now()
	var err error
	for _, act := range a.m.Apply(ev, now) {
		if e := as.c.carryOut(as, a, act); e != nil && err == nil {
			err = e
		}
	}
	as.c.afterDrain(as, a, ev) // lifecycle.go
	durable := a.marked || !needsMarks(a.m) || as.c.recordedOn(a.node)
	return result{durable: err == nil && durable, err: err}
}

// needsMarks reports whether a notice in force needs the node marked.
func needsMarks(m *interrupt.Machine) bool {
	switch m.Phase() {
	case interrupt.PhaseDraining, interrupt.PhaseDrained, interrupt.PhaseTainted, interrupt.PhaseResuming:
		return true
	}
	return false
}

// stopJob cancels drain seq and waits for it to return.
func (a *actor) stopJob(seq int) {
	if j, ok := a.jobs[seq]; ok {
		j.cancel()
		<-j.done
	}
}
