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

// Watcher polls instance metadata for notices. Create it with [NewWatcher];
// its accessors are safe to call while Run runs.
type Watcher struct {
	c       *Client
	state   tracker
	running atomic.Bool
	poll    atomic.Int64 // LastPoll, Unix nanoseconds; 0 = never
	success atomic.Int64 // LastSuccess, Unix nanoseconds; 0 = never
	cycles  atomic.Int64 // completed poll cycles
	last    map[string]string
}

// NewWatcher returns a watcher that polls through c with c's Config.
func NewWatcher(c *Client) *Watcher {
	return &Watcher{c: c, last: map[string]string{}}
}

// Run polls the four notice paths every PollInterval until ctx ends, and
// sends each new notice, and each withdrawal, to out once. It returns
// ctx.Err() when ctx ends. IMDS faults never end it: they are observed,
// logged when a path's outcome changes, and, when they say IMDS is
// unavailable, stretch the wait between cycles (doubling up to MaxBackoff).
// A 404 means "no notice"; a fault leaves a path's notices as they were.
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
	failures := 0
	for {
		down, err := w.cycle(ctx, out)
		if err != nil {
			return err
		}
		if down {
			failures++
		} else {
			failures = 0
		}
		if err := sleep(ctx, w.c.cfg.Clock, backoff(w.c.cfg, failures)); err != nil {
			return err
		}
	}
}

// LastSuccess returns when a request last got an HTTP answer that says IMDS
// serves us (a 2xx whose body parsed, or a 404), or zero if none has.
func (w *Watcher) LastSuccess() time.Time { return unixTime(w.success.Load()) }

// LastPoll returns when the last poll cycle ended, or zero if none has; the
// liveness probe compares it with now.
func (w *Watcher) LastPoll() time.Time { return unixTime(w.poll.Load()) }

// Current returns the notices present now (none Canceled), in the order
// they were detected. The agent uses it after a restart to ask whether a
// notice it acted on is still there.
func (w *Watcher) Current() []Notice { return w.state.snapshot() }

// cycle polls every source once and delivers what changed. down reports
// whether any request found IMDS unavailable. err is ctx.Err() if ctx ended.
func (w *Watcher) cycle(ctx context.Context, out chan<- Notice) (down bool, err error) {
	for i := range sources {
		s := &sources[i]
		ns, outcome, now := w.read(ctx, s)
		if err := ctx.Err(); err != nil {
			return down, err
		}
		down = down || unavailable(outcome)
		if !reachable(outcome) {
			continue
		}
		for _, n := range w.state.update(s, ns, now) {
			select {
			case out <- n:
			case <-ctx.Done():
				return down, ctx.Err()
			}
		}
	}
	w.poll.Store(w.c.cfg.Clock.Now().UnixNano())
	w.cycles.Add(1)
	return down, nil
}

// read fetches and parses one source, reports the outcome and logs a change
// of outcome. The notices are meaningful only when the outcome is reachable.
func (w *Watcher) read(ctx context.Context, s *source) ([]Notice, string, time.Time) {
	body, outcome, err := w.c.get(ctx, s.path)
	var ns []Notice
	if err == nil {
		if ns, err = s.parse(body); err != nil {
			outcome = OutcomeParseError
		}
	}
	now := w.c.observe(ctx, s.path, outcome)
	if ctx.Err() != nil {
		return nil, outcome, now
	}
	if reachable(outcome) {
		w.success.Store(now.UnixNano())
	}
	w.logChange(s.path, outcome, err)
	return ns, outcome, now
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

// backoff returns the wait before the next cycle after failures consecutive
// cycles with IMDS unavailable: PollInterval doubled failures times, capped
// at MaxBackoff.
func backoff(cfg Config, failures int) time.Duration {
	d := cfg.PollInterval
	for i := 0; i < failures && d < cfg.MaxBackoff; i++ {
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
