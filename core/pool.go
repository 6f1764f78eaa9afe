package core

import "sync"

// workQueue bounds the system calls that run at once. A goroutine that
// acquires a slot runs its job and then, before giving the slot back, every
// job that queued up meanwhile, in arrival order.
type workQueue struct {
	mu      sync.Mutex
	max     int    // immutable after Start
	running int    // guarded by mu; slots taken
	queue   []*job // guarded by mu; jobs waiting for a slot, oldest first
}

// acquire takes a slot for j and returns true, or queues j and returns
// false when every slot is taken.
func (w *workQueue) acquire(j *job) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running < w.max {
		w.running++
		return true
	}
	w.queue = append(w.queue, j)
	return false
}

// next returns the oldest queued job, keeping the caller's slot, or gives
// the slot back and returns nil.
func (w *workQueue) next() *job {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) > 0 {
		j := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		if len(w.queue) == 0 {
			w.queue = nil
		}
		return j
	}
	w.running--
	return nil
}

// goPool runs functions on goroutines, keeping up to max idle ones parked
// for reuse so that a busy server does not create a goroutine, and grow its
// stack, for every system call.
type goPool struct {
	mu     sync.Mutex
	max    int           // immutable after Start
	idle   []chan func() // guarded by mu; one per parked goroutine
	closed bool          // guarded by mu; park nothing more
}

// run runs f on an idle goroutine, or on a new one.
func (p *goPool) run(f func()) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		ch := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		ch <- f
		return
	}
	p.mu.Unlock()
	go p.loop(f)
}

func (p *goPool) loop(f func()) {
	var ch chan func()
	for {
		f()
		p.mu.Lock()
		if p.closed || len(p.idle) >= p.max {
			p.mu.Unlock()
			return
		}
		if ch == nil {
			ch = make(chan func(), 1)
		}
		p.idle = append(p.idle, ch)
		p.mu.Unlock()
		f = <-ch
		if f == nil {
			return
		}
	}
}

// close ends the parked goroutines; goroutines running now end when done.
func (p *goPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, ch := range idle {
		close(ch)
	}
}
