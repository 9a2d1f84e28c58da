package imds

import (
	"context"
	"slices"
	"sync"
	"time"
)

// poller carries out a Watcher's poll cycles on Run's goroutine. Reads run
// on goroutines of their own, at most one per source at a time; their
// results come back on one channel and are logged and delivered here, so
// the outcome log and the throttling count need no locks.
type poller struct {
	w        *Watcher
	out      chan<- Notice
	results  chan reading
	inflight sync.WaitGroup

	busy [len(sources)]bool // a read of the source is in flight
	due  [len(sources)]bool // the current round still wants the source read

	held       []reading // reads that wait for the cycle's spot read (see take)
	round      int64     // the current cycle's number
	collecting bool      // the current cycle waits for its reads
	pending    int       // reads launched while collecting and not yet applied

	throttled   int           // consecutive cycles in which IMDS answered 429
	sawThrottle bool          // the current cycle got a 429
	hinted      time.Duration // the longest Retry-After of the current cycle
}

// newPoller returns a poller that delivers to out.
func newPoller(w *Watcher, out chan<- Notice) *poller {
	return &poller{w: w, out: out, results: make(chan reading, len(sources))}
}

// cycle makes every source due and reads each idle one at once. It returns
// when all of those reads were applied, or after PollInterval of real time
// (a bound on real waiting, like the request timeouts), leaving slower reads
// to be applied when they return; a source still in flight is read again as
// soon as its read returns. Its error is ctx.Err() once ctx ends.
func (p *poller) cycle(ctx context.Context) error {
	p.round++
	p.pending, p.sawThrottle, p.hinted = 0, false, 0
	p.collecting = true
	for i := range sources {
		p.due[i] = true
		p.launch(ctx, i)
	}
	limit := time.NewTimer(p.w.c.cfg.PollInterval)
	defer limit.Stop()
collect:
	for p.pending > 0 {
		select {
		case r := <-p.results:
			if err := p.take(ctx, r); err != nil {
				return err
			}
		case <-limit.C:
			break collect
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.collecting = false
	if err := p.flush(ctx); err != nil {
		return err
	}
	if p.sawThrottle {
		p.throttled++
	} else {
		p.throttled = 0
	}
	return nil
}

// pace returns the time from the start of the cycle that just ended to the
// start of the next: PollInterval, or after consecutive cycles with a 429,
// that doubled once per such cycle and stretched to the longest
// Retry-After, capped at MaxBackoff.
func (p *poller) pace() time.Duration {
	cfg := p.w.c.cfg
	if p.throttled == 0 {
		return cfg.PollInterval
	}
	return min(max(backoff(cfg, p.throttled), p.hinted), cfg.MaxBackoff)
}

// waitUntil waits on the watcher's clock until t, applying reads that
// return meanwhile. Its error is ctx.Err() once ctx ends.
func (p *poller) waitUntil(ctx context.Context, t time.Time) error {
	clk := p.w.c.cfg.Clock
	d := t.Sub(clk.Now())
	if d <= 0 {
		return ctx.Err()
	}
	timer := clk.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-timer.C():
			return nil
		case r := <-p.results:
			if err := p.apply(ctx, r); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take applies r, except that while the cycle waits for a spot read, other
// reads are held and applied after it: when IMDS serves a spot notice and
// another at once, the agent gets the spot notice first.
func (p *poller) take(ctx context.Context, r reading) error {
	const spot = 0 // sources[0]
	if r.src != spot && p.collecting && p.busy[spot] {
		p.held = append(p.held, r)
		return nil
	}
	if err := p.apply(ctx, r); err != nil {
		return err
	}
	if r.src == spot {
		return p.flush(ctx)
	}
	return nil
}

// flush applies the held reads in source order.
func (p *poller) flush(ctx context.Context) error {
	slices.SortFunc(p.held, func(a, b reading) int { return a.src - b.src })
	for len(p.held) > 0 {
		r := p.held[0]
		p.held = p.held[1:]
		if err := p.apply(ctx, r); err != nil {
			return err
		}
	}
	p.held = nil
	return nil
}

// launch starts a read of sources[i] if the source is due and idle.
func (p *poller) launch(ctx context.Context, i int) {
	if !p.due[i] || p.busy[i] {
		return
	}
	p.due[i], p.busy[i] = false, true
	if p.collecting {
		p.pending++
	}
	round := p.round
	p.w.unapplied.Add(1)
	p.inflight.Add(1)
	go func() {
		defer p.inflight.Done()
		r := p.w.read(ctx, i)
		r.round = round
		p.results <- r
	}()
}

// apply logs a read's outcome, delivers what changed when IMDS answered,
// and reads the source again if the current round still wants it.
func (p *poller) apply(ctx context.Context, r reading) error {
	defer p.w.unapplied.Add(-1)
	p.busy[r.src] = false
	if p.collecting && r.round == p.round {
		p.pending--
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &sources[r.src]
	p.w.logChange(s.path, r.outcome, r.err)
	if r.outcome == OutcomeThrottled {
		p.sawThrottle = true
		p.hinted = max(p.hinted, retryAfter(r.err))
	}
	if reachable(r.outcome) {
		for _, n := range p.w.state.update(s, r.notices, r.at) {
			select {
			case p.out <- n:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		p.w.answered[r.src].Store(r.at.UnixNano())
	}
	p.launch(ctx, r.src)
	return nil
}
