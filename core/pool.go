package core

import "sync"

// maxQueuedBytes bounds the argument bytes of all queued system calls
// together, so that clients that send calls faster than the kernel
// finishes them cannot grow the server without limit.
const maxQueuedBytes = 32 << 20

// Results of workQueue.acquire.
const (
	runNow = iota // a slot was free; the caller runs the job
	queued        // the job waits for a slot
	full          // the queue is full; the job was not taken
)

// workQueue bounds the system calls that run at once. A goroutine that
// acquires a slot runs its job and then, before giving the slot back, every
// job that queued up meanwhile, in arrival order.
type workQueue struct {
	mu      sync.Mutex
	max     int    // immutable after Start
	running int    // guarded by mu; slots taken
	queue   []*job // guarded by mu; jobs waiting for a slot, oldest first
	qbytes  int    // guarded by mu; argument bytes of the queued jobs
	qlimit  int    // immutable after Start; bound of qbytes
}

// acquire takes a slot for j (runNow), queues j (queued), or refuses it
// when the queue holds too much already (full).
func (w *workQueue) acquire(j *job) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running < w.max {
		w.running++
		return runNow
	}
	if w.qbytes+len(j.args) > w.qlimit {
		return full
	}
	w.qbytes += len(j.args)
	w.queue = append(w.queue, j)
	return queued
}

// next returns the oldest queued job, keeping the caller's slot, or gives
// the slot back and returns nil.
func (w *workQueue) next() *job {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) > 0 {
		j := w.queue[0]
		w.qbytes -= len(j.args)
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
