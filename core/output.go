package core

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxBacklog is DefaultMaxBacklog; tests make it small.
var maxBacklog = DefaultMaxBacklog

// errStalled: the client left DefaultMaxBacklog bytes unread for longer
// than StallTimeout while other threads had to write to it.
var errStalled = errors.New("client stopped reading")

// output is the write side of a connection. Frames go out whole and in
// order. Who may wait for the client to read depends on who writes:
//
//   - its own threads (the reader, the goroutines running its system calls,
//     kernel threads running them) write with blocking I/O: if the client
//     does not read, only the client's own calls wait;
//   - any other thread (a kernel I/O or signal thread, another client's
//     system call) never blocks on the socket. What the socket does not
//     take at once is queued and written by a flushing goroutine; once
//     the queue is full such a writer waits at most StallTimeout, then the
//     connection is dropped.
type output struct {
	nc    net.Conn
	raw   syscall.RawConn // nil if nc offers none; then all writes block
	limit int             // immutable; bound of qlen before writers wait
	stall time.Duration   // immutable

	mu    sync.Mutex
	cond  sync.Cond // on mu; signalled when busy, queue or err change
	busy  bool      // guarded by mu; one goroutine writes without mu
	queue [][]byte  // guarded by mu; copies of frames not yet written
	qlen  int       // guarded by mu; bytes in queue
	err   error     // guarded by mu; first write error, then final

	// scratch encodes small frames; only the goroutine that owns the
	// socket (busy set by it, or mu held with busy clear) uses it.
	scratch [headerSize + sysRespSize]byte
}

func (o *output) init(nc net.Conn, limit int, stall time.Duration) {
	o.nc, o.limit, o.stall = nc, limit, stall
	o.cond.L = &o.mu
	if sc, ok := nc.(syscall.Conn); ok {
		o.raw, _ = sc.SyscallConn()
	}
}

// failLocked records the first error and wakes every waiter.
func (o *output) failLocked(err error) {
	if o.err == nil {
		o.err = err
	}
	o.queue, o.qlen = nil, 0
	o.cond.Broadcast()
}

// frame lays out a frame with header h and body: small frames in
// o.scratch, which only the socket's owner may use, larger ones as the
// header in scratch followed by the body slices.
func (o *output) frame(h header, body [][]byte) [][]byte {
	n := 0
	for _, b := range body {
		n += len(b)
	}
	h.len = uint64(headerSize + n)
	h.encode(o.scratch[:])
	if n <= len(o.scratch)-headerSize {
		m := headerSize
		for _, b := range body {
			m += copy(o.scratch[m:], b)
		}
		return [][]byte{o.scratch[:m]}
	}
	bufs := make([][]byte, 0, 1+len(body))
	bufs = append(bufs, o.scratch[:headerSize])
	return append(bufs, body...)
}

// send writes one frame with header h (its length filled in) and body.
// own says whether the calling thread works for this client (see output).
func (o *output) send(own bool, h header, body ...[]byte) error {
	o.mu.Lock()
	if own || o.raw == nil {
		for o.err == nil && (o.busy || len(o.queue) > 0) {
			o.cond.Wait()
		}
		if o.err != nil {
			err := o.err
			o.mu.Unlock()
			return err
		}
		o.busy = true
		o.mu.Unlock()

		err := o.write(o.frame(h, body))

		o.mu.Lock()
		o.busy = false
		if err != nil {
			o.failLocked(err)
		} else if len(o.queue) > 0 {
			o.busy = true
			go o.flush()
		}
		o.cond.Broadcast()
		o.mu.Unlock()
		return err
	}
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}

	if !o.busy && len(o.queue) == 0 {
		bufs := o.frame(h, body)
		n, err := o.tryWrite(bufs)
		if err != nil {
			o.failLocked(err)
			return err
		}
		rest := tail(bufs, n)
		if len(rest) == 0 {
			return nil
		}
		o.enqueueLocked(rest)
		o.busy = true
		go o.flush()
		return nil
	}

	size := headerSize
	for _, b := range body {
		size += len(b)
	}
	if o.qlen+size > o.limit {
		if err := o.waitRoomLocked(size); err != nil {
			return err
		}
	}
	var hb [headerSize]byte
	h.len = uint64(size)
	h.encode(hb[:])
	o.enqueueLocked(append([][]byte{hb[:]}, body...))
	if !o.busy {
		// The flusher may have emptied the queue and left while
		// this writer waited for room.
		o.busy = true
		go o.flush()
	}
	return nil
}

// waitRoomLocked waits until size more bytes fit in the queue, or the
// client has not made room for StallTimeout, which drops it.
func (o *output) waitRoomLocked(size int) error {
	expired := false
	t := time.AfterFunc(o.stall, func() {
		o.mu.Lock()
		expired = true
		o.cond.Broadcast()
		o.mu.Unlock()
	})
	defer t.Stop()
	for o.err == nil && o.qlen > 0 && o.qlen+size > o.limit {
		if expired {
			o.failLocked(errStalled)
			o.nc.Close()
			break
		}
		o.cond.Wait()
	}
	return o.err
}

// enqueueLocked appends a copy of bufs as one queue entry.
func (o *output) enqueueLocked(bufs [][]byte) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	f := make([]byte, 0, n)
	for _, b := range bufs {
		f = append(f, b...)
	}
	o.queue = append(o.queue, f)
	o.qlen += n
}

// flush writes the queue out, blocking, until it is empty. A frame stays
// in the queue, and counted in qlen, until it is written.
func (o *output) flush() {
	o.mu.Lock()
	for o.err == nil && len(o.queue) > 0 {
		f := o.queue[0]
		o.mu.Unlock()
		_, err := o.nc.Write(f)
		o.mu.Lock()
		if err != nil {
			o.failLocked(err)
			break
		}
		if o.err != nil {
			// Dropped meanwhile; failLocked emptied the queue.
			break
		}
		o.queue[0] = nil
		o.queue = o.queue[1:]
		o.qlen -= len(f)
		o.cond.Broadcast()
	}
	o.busy = false
	o.cond.Broadcast()
	o.mu.Unlock()
}

// write writes bufs whole, blocking.
func (o *output) write(bufs [][]byte) error {
	if len(bufs) == 1 {
		_, err := o.nc.Write(bufs[0])
		return err
	}
	nb := net.Buffers(bufs)
	_, err := nb.WriteTo(o.nc)
	return err
}

// tryWrite writes what the socket takes now without waiting and returns
// how many bytes that was.
func (o *output) tryWrite(bufs [][]byte) (int, error) {
	var n int
	var werr error
	err := o.raw.Write(func(fd uintptr) bool {
		n, werr = unix.Writev(int(fd), bufs)
		if werr == unix.EAGAIN || werr == unix.EINTR {
			n, werr = 0, nil
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	if n < 0 {
		n = 0
	}
	return n, werr
}

// tail returns what is left of bufs after its first n bytes.
func tail(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 && n > 0 {
		rest := make([][]byte, len(bufs))
		copy(rest, bufs)
		rest[0] = rest[0][n:]
		return rest
	}
	return bufs
}
