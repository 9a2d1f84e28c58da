package imds

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// Metadata paths the watcher polls, as passed to [Observer].
const (
	// PathSpotInstanceAction yields SpotInterruption notices.
	PathSpotInstanceAction = "meta-data/spot/instance-action"
	// PathRebalance yields RebalanceRecommendation notices.
	PathRebalance = "meta-data/events/recommendations/rebalance"
	// PathScheduledMaintenance yields ScheduledMaintenance notices.
	PathScheduledMaintenance = "meta-data/events/maintenance/scheduled"
	// PathTargetLifecycleState yields ASGTermination notices.
	PathTargetLifecycleState = "meta-data/autoscaling/target-lifecycle-state"
)

// source is one polled path: the kind it yields, its parser, and whether a
// notice that disappears is delivered again as Canceled.
type source struct {
	kind    Kind
	path    string
	parse   func([]byte) ([]Notice, error)
	cancels bool
}

// sources are polled in this order each cycle, the most urgent first.
var sources = [...]source{
	{SpotInterruption, PathSpotInstanceAction, parseInstanceAction, true},
	{RebalanceRecommendation, PathRebalance, parseRebalance, false},
	{ScheduledMaintenance, PathScheduledMaintenance, parseMaintenance, true},
	{ASGTermination, PathTargetLifecycleState, parseTargetLifecycleState, false},
}

// Kinds returns the kinds of notice the watcher polls for, one path each,
// most urgent first.
func Kinds() []Kind {
	out := make([]Kind, len(sources))
	for i := range sources {
		out[i] = sources[i].kind
	}
	return out
}

// Watcher polls instance metadata for notices. Create it with [NewWatcher];
// its accessors are safe to call while Run runs.
type Watcher struct {
	c       *Client
	state   tracker
	running atomic.Bool
	poll    atomic.Int64 // LastPoll, Unix nanoseconds; 0 = never
	success atomic.Int64 // LastSuccess, Unix nanoseconds; 0 = never
	// answered is Answered per source, Unix nanoseconds; 0 = never.
	answered [len(sources)]atomic.Int64
	cycles   atomic.Int64 // completed poll cycles
	// unapplied counts reads started and not yet logged and delivered, so
	// a test can tell when the watcher is quiet.
	unapplied atomic.Int64
	last      map[string]string
}

// NewWatcher returns a watcher that polls through c with c's Config.
func NewWatcher(c *Client) *Watcher {
	return &Watcher{c: c, last: map[string]string{}}
}

// Run polls the four notice paths until ctx ends, and sends each new
// notice, and each withdrawal, to out once. It returns ctx.Err() when ctx
// ends. IMDS faults never end it: they are observed and logged when a
// path's outcome changes. A 404 means "no notice"; a fault leaves a path's
// notices as they were.
//
// A cycle starts every PollInterval, whatever its requests take, and reads
// the four paths at once, each request with its own RequestTimeout: a path
// that hangs delays no other, and one still in flight when a cycle starts is
// read again as soon as it returns. Only a 429 slows polling (see
// MaxBackoff); 5xx, 401, 403, timeouts and failed connections keep the
// rhythm, so a notice served after a fault ends is seen within one poll.
// A failing IMDS gets at most one request per path per cycle (plus the
// token request and the one retry after a 401).
//
// Sending blocks until out takes the notice or ctx ends, so a slow reader
// delays polling; give out a buffer. Run must not be called again while it
// runs.
func (w *Watcher) Run(ctx context.Context, out chan<- Notice) error {
	if out == nil {
		return errors.New("running IMDS watcher: the notice channel is nil")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("running IMDS watcher: it is already running")
	}
	defer w.running.Store(false)
	p := newPoller(w, out)
	defer p.inflight.Wait()
	for {
		start := w.c.cfg.Clock.Now()
		if err := p.cycle(ctx); err != nil {
			return err
		}
		w.poll.Store(w.c.cfg.Clock.Now().UnixNano())
		w.cycles.Add(1)
		if err := p.waitUntil(ctx, start.Add(p.pace())); err != nil {
			return err
		}
	}
}

// LastSuccess returns when a request last got an HTTP answer that says IMDS
// serves us (a 2xx whose body parsed, or a 404), or zero if none has.
func (w *Watcher) LastSuccess() time.Time { return unixTime(w.success.Load()) }

// Answered returns when the path that yields notices of kind k last
// answered (a 2xx whose body parsed, or a 404) and the notices of that
// answer had been sent to Run's channel; zero if it never has. Unlike
// LastSuccess it is the path's own: a restarted agent takes a path's
// silence about a recorded notice as its withdrawal only once that path
// has answered, not when another path has.
func (w *Watcher) Answered(k Kind) time.Time {
	for i := range sources {
		if sources[i].kind == k {
			return unixTime(w.answered[i].Load())
		}
	}
	return time.Time{}
}

// LastPoll returns when the last poll cycle ended, or zero if none has; the
// liveness probe compares it with now.
func (w *Watcher) LastPoll() time.Time { return unixTime(w.poll.Load()) }

// Current returns the notices present now (none Canceled), in the order
// they were detected. The agent uses it after a restart to ask whether a
// notice it acted on is still there.
func (w *Watcher) Current() []Notice { return w.state.snapshot() }

// reading is the result of one read of a source.
type reading struct {
	src     int // index in sources
	round   int64
	notices []Notice // meaningful only when the outcome is reachable
	outcome string
	err     error
	at      time.Time
}

// read fetches and parses sources[i] and reports the outcome. It is called
// on its own goroutine; logging and delivery are the poller's.
func (w *Watcher) read(ctx context.Context, i int) reading {
	s := &sources[i]
	body, outcome, err := w.c.get(ctx, s.path)
	var ns []Notice
	if err == nil {
		if ns, err = s.parse(body); err != nil {
			outcome = OutcomeParseError
		}
	}
	now := w.c.observe(ctx, s.path, outcome)
	if ctx.Err() == nil && reachable(outcome) {
		w.success.Store(now.UnixNano())
	}
	return reading{src: i, notices: ns, outcome: outcome, err: err, at: now}
}

// logChange logs when a path's outcome changes: a warning when it starts
// failing (or fails differently), an info when it recovers.
func (w *Watcher) logChange(path, outcome string, err error) {
	prev := w.last[path]
	if prev == outcome {
		return
	}
	w.last[path] = outcome
	switch {
	case !reachable(outcome):
		w.c.log.Warn("IMDS request failed", zap.String("path", path),
			zap.String("outcome", outcome), zap.String("previous", prev), zap.Error(err))
	case prev != "" && !reachable(prev):
		w.c.log.Info("IMDS request recovered", zap.String("path", path),
			zap.String("outcome", outcome), zap.String("previous", prev))
	}
}

// backoff returns the wait after n consecutive failed attempts:
// PollInterval doubled n times, capped at MaxBackoff.
func backoff(cfg Config, n int) time.Duration {
	d := cfg.PollInterval
	for i := 0; i < n && d < cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, cfg.MaxBackoff)
}

// sleep waits d on clk, or returns ctx.Err() if ctx ends first.
func sleep(ctx context.Context, clk clock.WithTicker, d time.Duration) error {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// unixTime converts Unix nanoseconds to a time, 0 to the zero time.
func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
