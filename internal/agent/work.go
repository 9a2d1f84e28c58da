package agent

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// Retries of node writes: a failed attempt is retried after a backoff from
// retryFirst doubling to retryCap; an attempt that has not answered after
// hedgeAfter gets another alongside it, up to maxAttempts in flight, so the
// first request a recovering API server answers does the work. Every
// attempt is bounded by the client's per-call timeout (BoundCalls).
const (
	retryFirst  = 250 * time.Millisecond
	retryCap    = 2 * time.Second
	hedgeAfter  = time.Second
	maxAttempts = 8
)

// job is work running off the loop: a drain or a node write.
type job struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// nodeWork carries out the actions that touch the node, off the loop. Its
// methods are called by the loop goroutine only; the goroutines they start
// report back through the agent's inbox. Node writes are ordered: each
// waits for the drains stopped before it and for the write before it, or
// supersedes that write (a newer taint, an uncordon, a drain's cordon).
//
// A drain that empties the node reports its end then (DrainEnded: the
// machine's drain is over) and watches the node on until deadline − margin
// (drain.Request.OnEmpty), draining any pod that lands there; the next
// node write or drain stops such a watch first, and so does SIGTERM (the
// next agent resumes the drain, and its watch, from the node's record).
type nodeWork struct {
	a        *Agent
	ctx      context.Context // the agent's: node writes end with it; drains do not
	drains   map[int]*job    // running drains by Seq
	watches  []*job          // drains that ended with the node empty and watch it on
	stopping []*job          // drains stopped since the last write or drain start
	write    *job            // the last node write
	taint    bool            // the last write is a taint
}

func newNodeWork(ctx context.Context, a *Agent) *nodeWork {
	return &nodeWork{a: a, ctx: ctx, drains: map[int]*job{}}
}

// startDrain stops drain stop (0: none) and starts d once the drains and
// node writes before it have stopped; a pending write is superseded by the
// drain's cordon. The drain outlives the agent's context: SIGTERM must not
// stop it.
func (w *nodeWork) startDrain(d interrupt.Drain, stop int) {
	if stop != 0 {
		w.stopDrain(stop)
	}
	prev := w.takePrevious(true)
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{cancel: cancel, done: make(chan struct{})}
	w.drains[d.Seq] = j
	log := w.a.noticeLog(d.Notice).With(zap.Int("drain", d.Seq))
	w.a.busy.Add(1)
	go func() {
		defer w.a.busy.Done()
		defer close(j.done)
		defer cancel()
		defer func() { w.a.drainSurvived(recover(), d.Seq, log) }()
		waitAll(prev)
		ended, unwatch := false, func() bool { return false } // OnEmpty runs on this goroutine
		end := func(out interrupt.Outcome, err error) {
			if !ended {
				ended = true
				w.a.inbox <- interrupt.DrainEnded{Seq: d.Seq, Outcome: out, Err: err}
			}
		}
		out, err := w.a.runDrain(ctx, d, log, func(out interrupt.Outcome) {
			unwatch = context.AfterFunc(w.ctx, cancel) // SIGTERM ends the watch, not a drain
			end(out, nil)
		})
		unwatch()
		end(out, err)
	}()
}

// stopDrain stops drain seq; writes after it wait for it to end.
func (w *nodeWork) stopDrain(seq int) {
	if j := w.drains[seq]; j != nil {
		j.cancel()
		w.stopping = append(w.stopping, j)
		delete(w.drains, seq)
	}
}

// forget drops an ended drain; one still running (it emptied the node and
// watches it) is stopped by the next node write or drain.
func (w *nodeWork) forget(seq int) {
	if j := w.drains[seq]; j != nil {
		select {
		case <-j.done:
		default:
			w.watches = append(w.watches, j)
		}
	}
	delete(w.drains, seq)
}

// running reports whether a drain runs.
func (w *nodeWork) running() bool { return len(w.drains) > 0 }

// takePrevious returns what the next write must wait for, cancelling the
// last write if the next one supersedes it, and the watches of drains that
// emptied the node.
func (w *nodeWork) takePrevious(supersede bool) []*job {
	prev := w.stopping
	w.stopping = nil
	for _, j := range w.watches {
		j.cancel()
		prev = append(prev, j)
	}
	w.watches = nil
	if w.write != nil {
		if supersede {
			w.write.cancel()
		}
		prev = append(prev, w.write)
		w.write = nil
	}
	return prev
}

// nodeWrite runs f (retried until it succeeds or is superseded) after the
// work before it, then done.
func (w *nodeWork) nodeWrite(taint bool, f func(context.Context) error, done func(), log *zap.Logger) {
	prev := w.takePrevious(!taint || w.taint)
	ctx, cancel := context.WithCancel(w.ctx)
	j := &job{cancel: cancel, done: make(chan struct{})}
	w.write, w.taint = j, taint
	w.a.busy.Add(1)
	go func() {
		defer w.a.busy.Done()
		defer close(j.done)
		defer cancel()
		defer func() { w.a.survived(recover(), "node write", log) }()
		waitAll(prev)
		if err := w.a.persist(ctx, time.Time{}, true, f, log); err != nil {
			if ctx.Err() == nil {
				log.Error("writing the node failed", zap.Error(err))
			}
			return
		}
		done()
	}()
}

func waitAll(jobs []*job) {
	for _, j := range jobs {
		<-j.done
	}
}

// runDrain cordons (retried, hedged: the first request a recovering API
// server answers marks the node) and then drains, or only cordons with
// CordonOnly, and reports how it ended. A drain that empties the node is
// reported at that moment, and emptied is called with its outcome; the
// drain then watches the node until deadline − margin (or ctx ends), and
// runDrain reports the watch's end before it returns.
func (a *Agent) runDrain(ctx context.Context, d interrupt.Drain, log *zap.Logger, emptied func(interrupt.Outcome)) (interrupt.Outcome, error) {
	req := a.request(d.Notice, d.Deadline)
	// A cordon the API forbids (RBAC, or an admission policy such as the
	// chart's node-bound one, misconfigured) is not retried until the
	// deadline: no retry mends it, and evictions may still be allowed.
	// The drain goes on without the mark (pkg/drain does the same).
	var forbidden atomic.Pointer[error]
	err := a.persist(ctx, d.Deadline, true, func(ctx context.Context) error {
		err := a.actor.Cordon(ctx, req)
		if apierrors.IsForbidden(err) {
			forbidden.Store(&err)
			return nil
		}
		return err
	}, log)
	if f := forbidden.Load(); f != nil && err == nil {
		told := false
		a.deniedByPolicy(*f, &told, log)
		log.Error("the API forbids cordoning this node; draining it anyway", zap.Error(*f))
		if a.cfg.CordonOnly {
			err = *f
		}
	}
	switch {
	case ctx.Err() != nil:
		log.Info("drain stopped: its notice was withdrawn or replaced")
		return interrupt.Stopped, nil
	case err != nil:
		return a.out.notCordoned(d, err, log), err
	case a.cfg.CordonOnly:
		return a.out.cordoned(d, log), nil
	}
	// The drain retries passing API failures itself while time is left;
	// its Report says what ended it.
	watching := false
	req.OnEmpty = func(first *drain.Report) {
		watching = true
		emptied(a.out.drained(d, first, d.Resumed, log))
	}
	rep, err := a.actor.Drain(ctx, req)
	if watching {
		a.out.watched(d, rep, log)
		return interrupt.Emptied, nil
	}
	if ctx.Err() != nil {
		log.Info("drain stopped: its notice was withdrawn or replaced")
		return interrupt.Stopped, nil
	}
	if rep == nil {
		return a.out.notCordoned(d, err, log), err
	}
	if rep.Err == nil {
		rep.Err = err
	}
	// The machine knows of a drain a previous agent recorded; the drain's
	// report also of one it finds recorded by another process (seen only
	// once the node was read) or that this agent ran before (a panic).
	return a.out.drained(d, rep, d.Resumed, log), rep.Err
}

// persist calls f until it succeeds, ctx ends or until (if not zero)
// passes. See retryFirst for the backoff and, if hedged, the attempts
// alongside a slow one (only for idempotent calls).
func (a *Agent) persist(ctx context.Context, until time.Time, hedged bool, f func(context.Context) error, log *zap.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan error, maxAttempts)
	inFlight := 0
	launch := func() {
		inFlight++
		go func() {
			defer func() {
				if r := recover(); r != nil {
					results <- attemptPanic{value: r, stack: string(debug.Stack())}
				}
			}()
			results <- f(ctx)
		}()
	}
	launch()
	backoff := wait.Backoff{Duration: retryFirst, Factor: 2, Steps: 1 << 30, Cap: retryCap}
	var last error
	told := false // a policy's refusal is logged once (deniedByPolicy)
	for {
		var hedge <-chan time.Time
		if hedged && inFlight < maxAttempts {
			hedge = a.clock.After(hedgeAfter)
		}
		select {
		case err := <-results:
			inFlight--
			if p, ok := err.(attemptPanic); ok {
				panic(p) // in the caller's goroutine, where it is survived
			}
			if err == nil {
				return nil
			}
			last = err
			denied := a.deniedByPolicy(err, &told, log)
			if ctx.Err() != nil || (!until.IsZero() && a.clock.Now().After(until)) {
				return last
			}
			if inFlight > 0 {
				continue // another attempt is still out
			}
			if !denied {
				log.Warn("retrying: the API server did not accept the change", zap.Error(err))
			}
			select {
			case <-ctx.Done():
				return last
			case <-a.clock.After(backoff.Step()):
			}
			launch()
		case <-hedge:
			if !until.IsZero() && a.clock.Now().After(until) {
				continue
			}
			launch()
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return last
		}
	}
}

// attemptPanic carries a panic in an attempt to the goroutine that waits
// for it.
type attemptPanic struct {
	value any
	stack string
}

func (p attemptPanic) Error() string { return fmt.Sprintf("panic: %v\n%s", p.value, p.stack) }

// inflight counts the work running off the loop. Unlike a WaitGroup it may
// go from zero to one while someone waits for it to be idle.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0
}

// Add counts one more piece of work.
func (f *inflight) Add(int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 || f.idle == nil {
		f.idle = make(chan struct{})
	}
	f.n++
}

// Done counts one piece of work as ended.
func (f *inflight) Done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.idle)
	}
}

// Idle returns a channel closed once no work is in flight.
func (f *inflight) Idle() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return f.idle
}
