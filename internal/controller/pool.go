package controller

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// job is one drain waiting for, or running on, a worker.
type job struct {
	node     string
	seq      int
	deadline time.Time
	ctx      context.Context
	cancel   context.CancelFunc
	run      func(ctx context.Context)
	done     chan struct{} // closed when run has returned (or the job was dropped)
	index    int           // in the pool's queue; -1 when not queued
	// after, if not nil, is closed when the drain this one replaces has
	// returned: run starts only then (see actor.stopJob).
	after <-chan struct{}
	// release, set by the pool while run runs on a worker, gives the
	// worker to the next job while run goes on: a drain that emptied its
	// node and watches it until deadline − margin, or whose pods are only
	// waiting, holds no worker (see pool.yield).
	release func()

	// Guarded by the pool's mu.
	queued   bool // in the queue, not yet taken by a worker
	released bool // run goes on without the worker it started on
	turn     *turn
}

// turn is a worker lent again to a job that gave its own back (a drain
// whose pods were only waiting and that has a step to take): it is queued
// by the job's deadline like any job, and held until the job yields.
type turn struct {
	j       *job // the queued stand-in that holds the worker
	granted chan struct{}
	back    chan struct{} // closed when the job gives the worker back
}

// pool runs jobs on a fixed number of workers, the most urgent deadline
// first. It is the bound on drains running at once: every job was cordoned
// before it was submitted, so waiting here costs only eviction time.
type pool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   jobHeap
	closed  bool
	workers sync.WaitGroup
	onStart func(delta int) // running-drain gauge
}

func newPool(onStart func(int)) *pool {
	p := &pool{onStart: onStart}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// start runs n workers until stop.
func (p *pool) start(n int) {
	for range n {
		p.workers.Go(p.work)
	}
}

// submit queues j.
func (p *pool) submit(j *job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		j.cancel()
		j.index = -1
		go p.finish(j)
		return
	}
	heap.Push(&p.queue, j)
	j.queued = true
	p.cond.Signal()
}

// drop takes j, canceled, off the queue if it is still there and runs it
// at once on a goroutine of its own (it returns at once, reporting it
// stopped), so whoever stopped it need not wait for a worker to free.
// A job already taken by a worker is left to end on it.
func (p *pool) drop(j *job) {
	p.mu.Lock()
	queued := j.queued
	if queued {
		heap.Remove(&p.queue, j.index)
		j.queued = false
	}
	p.mu.Unlock()
	if queued {
		go func() {
			defer close(j.done)
			j.run(j.ctx)
		}()
	}
}

// waiting returns the number of queued jobs.
func (p *pool) waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queue.Len()
}

func (p *pool) work() {
	for {
		p.mu.Lock()
		for p.queue.Len() == 0 && !p.closed {
			p.cond.Wait()
		}
		if p.queue.Len() == 0 {
			p.mu.Unlock()
			return
		}
		j := heap.Pop(&p.queue).(*job)
		j.queued = false
		p.mu.Unlock()
		if p.finish(j) {
			return // a new worker took this one's place
		}
	}
}

// finish runs j (a canceled job returns at once) and marks it done. It
// reports whether j released its worker (job.release): a new worker then
// took the caller's place, and the running-drain gauge counts j no more.
func (p *pool) finish(j *job) (released bool) {
	defer close(j.done)
	if p.onStart != nil {
		p.onStart(1)
	}
	j.release = func() { p.yield(j) }
	if j.after != nil {
		select {
		case <-j.after:
		case <-j.ctx.Done():
		}
	}
	j.run(j.ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := j.turn; t != nil { // never left lent to a job that ended
		j.turn = nil
		close(t.back)
	}
	if !j.released && p.onStart != nil {
		p.onStart(-1)
	}
	return j.released
}

// yield gives back the worker j holds, its own or one lent again (resume),
// to the next queued job. A job that holds none, and one of a stopping
// pool (whose workers run what is left), keep going as they are.
func (p *pool) yield(j *job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := j.turn; t != nil {
		select {
		case <-t.granted:
			j.turn = nil
			close(t.back) // its worker's gauge is counted down as it ends
		default: // still queued: resume takes it back
		}
		return
	}
	if j.released || p.closed {
		return
	}
	j.released = true
	p.workers.Go(p.work)
	if p.onStart != nil {
		p.onStart(-1)
	}
}

// resume waits for a worker for j, which gave its own back (yield) and has
// a step to take: queued by j's deadline like any job, so a more urgent
// drain goes first. It returns false if ctx ended first. A job that holds
// a worker, and one of a stopping pool, go on at once.
func (p *pool) resume(ctx context.Context, j *job) bool {
	p.mu.Lock()
	if !j.released || j.turn != nil || p.closed {
		p.mu.Unlock()
		return ctx.Err() == nil
	}
	t := &turn{granted: make(chan struct{}), back: make(chan struct{})}
	t.j = &job{node: j.node, seq: j.seq, deadline: j.deadline, ctx: j.ctx, cancel: func() {}, done: make(chan struct{}),
		run: func(context.Context) {
			close(t.granted)
			<-t.back
		}}
	j.turn = t
	heap.Push(&p.queue, t.j)
	t.j.queued = true
	p.cond.Signal()
	p.mu.Unlock()
	select {
	case <-t.granted:
		return true
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if j.turn == t {
		j.turn = nil
		if t.j.queued {
			heap.Remove(&p.queue, t.j.index)
			t.j.queued = false
		} else {
			close(t.back) // granted as ctx ended
		}
	}
	return false
}

// stop runs what is queued (canceled jobs end at once) and waits for the
// workers. Jobs submitted later are canceled.
func (p *pool) stop() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.workers.Wait()
}

// gate is a drain's hold on its job's worker (drain.Gate): the drain gives
// the worker back while its pods only wait, and takes one again, by its
// deadline, for its next step.
type gate struct {
	p *pool
	j *job
}

func (g gate) Acquire(ctx context.Context) bool { return g.p.resume(ctx, g.j) }
func (g gate) Release()                         { g.p.yield(g.j) }

// jobHeap orders jobs by deadline, then submission.
type jobHeap []*job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if !h[i].deadline.Equal(h[j].deadline) {
		return h[i].deadline.Before(h[j].deadline)
	}
	return h[i].seq < h[j].seq
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *jobHeap) Push(x any)   { j := x.(*job); j.index = len(*h); *h = append(*h, j) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	j.index = -1
	return j
}
