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
	index    int
	// release, set by the pool while run runs on a worker, gives the
	// worker to the next job while run goes on: a drain that emptied its
	// node and watches it until deadline − margin holds no worker.
	release func()
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
		go p.finish(j)
		return
	}
	heap.Push(&p.queue, j)
	p.cond.Signal()
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
	j.release = func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if released || p.closed {
			return // a stopping pool's workers run what is left
		}
		released = true
		p.workers.Go(p.work)
		if p.onStart != nil {
			p.onStart(-1)
		}
	}
	j.run(j.ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !released && p.onStart != nil {
		p.onStart(-1)
	}
	return released
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
func (h *jobHeap) Pop() any     { old := *h; j := old[len(old)-1]; *h = old[:len(old)-1]; return j }
