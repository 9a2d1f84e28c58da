package controller

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

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
	// stale counts, by Seq, drains of a node made again since whose end is
	// still to come (gc.go).
	stale map[int]int
	// watches are drains that emptied the node and watch it on (watch.go).
	watches map[int]*job
	// wake is the timer that posts Woke at wakeAt, the machine's next
	// wake; waits is the WaitAnnotation value last written (wait.go), or
	// read from the node when the actor was made.
	wake   clock.Timer
	wakeAt time.Time
	waits  string

	// uid is the node object the machine is about (gc.go): a node deleted
	// and made again under the same name is a new node.
	uid types.UID
	// last is when the actor last applied an event (not a check); applied
	// is true once it has applied one.
	last    time.Time
	applied bool
	// users counts deliveries between get and their send (guarded by
	// actors.mu): an actor with users never retires, so no event is sent to
	// a stopped actor.
	users int
	// recheck is set (guarded by actors.mu) when the actor declined to
	// retire only because of users: the last release checks it again, since
	// the event those users sent may already have been applied.
	recheck bool
}

// delivery is one event for an actor; reply, if not nil, gets the result.
// A delivery with no event is a check: should the actor retire (gc.go)?
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
	gc  gcConfig // gc.go

	// settled are the instances handled per message (settle.go).
	settled settledLookups
}

// newActors returns the leader's actors; they are checked for retirement
// (gc.go) until ctx ends.
func newActors(ctx context.Context, c *Controller) *actors {
	return newActorsGC(ctx, c, defaultGC)
}

func newActorsGC(ctx context.Context, c *Controller, gc gcConfig) *actors {
	as := &actors{c: c, ctx: ctx, all: map[string]*actor{}, gc: gc}
	as.wg.Go(as.collect)
	return as
}

// get returns node's actor, starting it if needed. A new actor does not
// retire before it has applied an event.
func (as *actors) get(node string) *actor {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.getLocked(node)
}

// acquire is get for a send: the actor does not retire until release.
func (as *actors) acquire(node string) *actor {
	as.mu.Lock()
	defer as.mu.Unlock()
	a := as.getLocked(node)
	a.users++
	return a
}

// release ends acquire's hold, once the delivery is sent (or given up).
func (as *actors) release(a *actor) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if a.users--; a.users == 0 && a.recheck {
		a.recheck = false
		select {
		case a.in <- delivery{}: // a check
		default: // a full queue: the actor checks after its next event anyway
		}
	}
}

func (as *actors) getLocked(node string) *actor {
	a, ok := as.all[node]
	if !ok && as.ctx.Err() != nil {
		// Leadership is over: start nothing (a drain reporting its end
		// while stopping). Sends to this actor go nowhere, as before.
		return &actor{node: node, in: make(chan delivery, 1), m: interrupt.New(as.c.cfg.machineConfig()), jobs: map[int]*job{}}
	}
	if !ok {
		a = &actor{node: node, in: make(chan delivery, 64), m: interrupt.New(as.c.cfg.machineConfig()),
			jobs: map[int]*job{}, stale: map[int]int{}, log: as.c.log.With(zap.String("node", node)), uid: as.c.nodeUID(node), last: as.c.clock.Now(),
			waits: as.c.recordedWaits(node)}
		as.all[node] = a
		as.c.qm.NodeActors.Inc()
		as.wg.Go(func() { as.loop(a) })
	}
	return a
}

// deliver hands ev to node's actor and waits for the result (or the end of
// leadership).
func (as *actors) deliver(node string, ev interrupt.Event) result {
	a := as.acquire(node)
	d := delivery{ev: ev, reply: make(chan result, 1)}
	select {
	case a.in <- d:
		as.release(a)
	case <-as.ctx.Done():
		as.release(a)
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
	a := as.acquire(node)
	defer as.release(a)
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
		a.stopWatches(true)
	}()
	for {
		select {
		case <-as.ctx.Done():
			as.forget(a)
			return
		case d := <-a.in:
			if d.ev != nil {
				as.renew(a, d.ev) // gc.go
				r := as.apply(a, d.ev)
				a.last, a.applied = as.c.clock.Now(), true
				if d.reply != nil {
					d.reply <- r
				}
			}
			if as.retire(a) { // gc.go
				return
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
		if a.staleEnd(e) { // gc.go
			return result{durable: true}
		}
		a.ended(e) // watch.go
	}
	now := as.c.clock.Now()
	var err error
	for _, act := range a.m.Apply(ev, now) {
		if e := as.c.carryOut(as, a, act); e != nil && err == nil {
			err = e
		}
	}
	as.c.afterDrain(as, a, ev) // lifecycle.go
	// wait.go: record the held maintenance notices, set the wake timer.
	if e := as.afterApply(a); e != nil && err == nil {
		err = e
	}
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

// stopJob cancels drain seq without waiting for it: a queued drain is
// taken off the queue and ends at once, a running one ends on its worker.
// It returns a channel closed once the drain has returned (nil if there is
// no such drain), for a drain that replaces it to start after.
func (a *actor) stopJob(p *pool, seq int) <-chan struct{} {
	j, ok := a.jobs[seq]
	if !ok {
		return nil
	}
	j.cancel()
	p.drop(j)
	return j.done
}
