package core

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Client states.
const (
	stateNew     = iota // connected, no handshake yet
	stateRunning        // handshake done: has a process
	stateDying          // connection lost; waiting for its calls to end
)

// Reasons a connection is closed by the server. Each is logged.
var (
	// errUnexpectedReply: a reply matches no outstanding request.
	errUnexpectedReply = errors.New("reply to no outstanding request")
	// errHandshake: the handshake failed; the client has been told.
	errHandshake = errors.New("handshake refused")
	// errForkCancelled: the child cancelled its fork handshake.
	errForkCancelled = errors.New("fork cancelled")
	// errProtocol: a request the protocol forbids; the client was told.
	errProtocol = errors.New("protocol violation")
)

// conn is one client connection and the rump kernel process behind it.
//
// Reading: exactly one goroutine at a time holds the read role and is the
// only one to touch fr. When it reads a system call it passes the role to
// another goroutine and runs the call itself, so that the answer leaves on
// the thread that received the request. Writing: any goroutine, through
// out, which keeps threads that do not work for this client from waiting
// for it.
type conn struct {
	srv *Server
	id  Cookie   // immutable
	nc  net.Conn // immutable; closed at disconnect
	fr  *frameReader

	readFn func() // c.readLoop, made once

	out output

	mu    sync.Mutex
	cond  sync.Cond // on mu; signalled when syscalls drops
	state int       // guarded by mu
	main  LWP       // guarded by mu; set once by the handshake
	pid   int32     // guarded by mu; set once by the handshake

	// refs counts what keeps the process alive: 1 for the connection
	// until it is lost, 1 per queued or running syscall and 1 for an
	// exec in progress. The last one out releases the process.
	refs     int              // guarded by mu
	syscalls int              // guarded by mu; queued or running
	inExec   bool             // guarded by mu
	active   map[uint64]*job  // guarded by mu; running syscalls by tag
	waiters  map[uint64]*wait // guarded by mu; server requests by reqno
	nextReq  uint64           // guarded by mu; number of our next request
	preforks []*prefork       // guarded by srv.prefork.mu
}

func newConn(s *Server, id Cookie, nc net.Conn) *conn {
	c := &conn{
		srv:  s,
		id:   id,
		nc:   nc,
		fr:   newFrameReader(nc, 512),
		refs: 1,
	}
	c.cond.L = &c.mu
	c.out.init(nc, maxBacklog, s.cfg.StallTimeout)
	c.readFn = c.readLoop
	return c
}

// serve greets the client and starts reading.
func (c *conn) serve() {
	c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.HandshakeTimeout))
	if _, err := c.nc.Write(c.srv.banner); err != nil {
		c.lost(err)
		return
	}
	c.readLoop()
}

// readLoop holds the read role: it reads and handles frames until it
// hands the role to another goroutine or the connection is lost.
func (c *conn) readLoop() {
	for {
		h, err := c.fr.header()
		if err == nil && h.len < headerSize {
			err = errShortFrame
		}
		if err != nil {
			c.lost(err)
			return
		}
		switch h.class {
		case classReq:
			var passed bool
			passed, err = c.request(h)
			if passed {
				return
			}
		case classResp, classError:
			err = c.reply(h)
		default:
			c.srv.log.client(c.id, h.reqno, "unknown class %d", h.class)
			err = c.refuse(h, errMalformedRequest, false)
		}
		if err != nil {
			c.lost(err)
			return
		}
	}
}

// refuse discards the body of request h, answers it with an ERROR frame of
// code, and with fatal returns errProtocol so that the caller closes.
func (c *conn) refuse(h header, code uint32, fatal bool) error {
	if err := h.checkLen(c.maxBody()); err != nil {
		return err
	}
	if err := c.fr.discard(h.bodyLen()); err != nil {
		return err
	}
	c.srv.log.client(c.id, h.reqno, "refused type %d with error %d",
		h.typ, code)
	c.sendError(h.reqno, code)
	if fatal {
		return errProtocol
	}
	return nil
}

func (c *conn) maxBody() uint64 {
	return uint64(c.srv.cfg.MaxFrame - headerSize)
}

// readBody reads the body of request h into a new buffer with one spare
// zero byte at the end, so that a name is always NUL-terminated.
func (c *conn) readBody(h header) ([]byte, error) {
	if err := h.checkLen(c.maxBody()); err != nil {
		return nil, err
	}
	b := make([]byte, h.bodyLen()+1)
	if err := c.fr.body(b[:h.bodyLen()]); err != nil {
		return nil, err
	}
	return b, nil
}

// request handles a client request. passed reports that the read role
// went to another goroutine.
func (c *conn) request(h header) (passed bool, err error) {
	c.mu.Lock()
	state, inExec := c.state, c.inExec
	c.mu.Unlock()

	if state == stateNew {
		if h.typ != typeHandshake {
			return false, c.refuse(h, errAuth, true)
		}
		switch h.arg {
		case hsGuest:
			return false, c.guest(h)
		case hsFork:
			return false, c.fork(h)
		}
		return false, c.refuse(h, errAuth, true)
	}

	switch h.typ {
	case typeSyscall:
		return c.syscall(h)
	case typePrefork:
		if inExec {
			return false, c.refuse(h, errInExec, true)
		}
		return false, c.preforkReq(h)
	case typeHandshake:
		if h.arg != hsExec {
			return false, c.refuse(h, errMalformedRequest, true)
		}
		if inExec {
			return false, c.refuse(h, errInExec, true)
		}
		return false, c.exec(h)
	}
	c.srv.log.client(c.id, h.reqno, "request of server-only type %d",
		h.typ)
	return false, c.refuse(h, errMalformedRequest, false)
}

// guest makes a new process for a client that is not a fork child.
func (c *conn) guest(h header) error {
	name, err := c.readBody(h)
	if err != nil {
		return err
	}
	name = cutName(name)
	l, pid, e := c.srv.k.NewGuest(c.id, name)
	if e != 0 {
		c.srv.log.client(c.id, h.reqno, "guest rfork: %v", e)
		c.sendError(h.reqno, errRforkFailed)
		return errHandshake
	}
	c.running(l, pid)
	c.srv.log.client(c.id, h.reqno, "guest %q is pid %d",
		name[:len(name)-1], pid)
	c.sendHandshake(h.reqno, 0)
	return nil
}

// cutName returns b up to and including its first NUL. readBody leaves a
// NUL at the end, so there always is one; a name never reaches past the
// bytes the client sent.
func cutName(b []byte) []byte {
	return b[:bytes.IndexByte(b, 0)+1]
}

// running records the process of a completed handshake.
func (c *conn) running(l LWP, pid int32) {
	c.mu.Lock()
	c.main, c.pid, c.state = l, pid, stateRunning
	c.mu.Unlock()
	c.nc.SetReadDeadline(time.Time{})
}

// fork completes the handshake of a fork child: it claims the prefork named
// by the cookie and makes it this connection's process.
func (c *conn) fork(h header) error {
	if h.bodyLen() != forkHSSize {
		return c.refuse(h, errMalformedRequest, true)
	}
	var b [forkHSSize]byte
	if err := c.fr.body(b[:]); err != nil {
		return err
	}
	fh, _ := decodeForkHandshake(b[:])
	pf := c.srv.prefork.take(fh.cookie)
	if pf == nil {
		c.srv.log.client(c.id, h.reqno, "unknown prefork cookie")
		c.sendError(h.reqno, errInvalidPrefork)
		return errHandshake
	}
	if fh.cancel {
		c.srv.k.Release(pf.lwp)
		return errForkCancelled
	}
	l, pid, e := c.srv.k.AdoptFork(c.id, pf.lwp)
	if e != 0 {
		c.srv.log.client(c.id, h.reqno, "fork rfork: %v", e)
		c.sendError(h.reqno, errRforkFailed)
		return errHandshake
	}
	c.running(l, pid)
	c.srv.log.client(c.id, h.reqno, "fork child is pid %d", pid)
	c.sendHandshake(h.reqno, 0)
	return nil
}

// preforkReq forks the client's process ahead of a host fork() and hands
// the client the cookie its child will present.
func (c *conn) preforkReq(h header) error {
	if err := h.checkLen(c.maxBody()); err != nil {
		return err
	}
	if err := c.fr.discard(h.bodyLen()); err != nil {
		return err
	}
	if c.srv.prefork.count(c) >= c.srv.cfg.MaxPreforks {
		c.srv.log.client(c.id, h.reqno, "prefork refused: too many")
		c.sendError(h.reqno, errTryAgain)
		return nil
	}
	l, e := c.srv.k.Prefork(c.id, c.main)
	if e != 0 {
		c.srv.log.client(c.id, h.reqno, "prefork rfork: %v", e)
		c.sendError(h.reqno, errRforkFailed)
		return nil
	}
	var cookie [authSize]byte
	if _, err := io.ReadFull(c.srv.random, cookie[:]); err != nil {
		c.srv.k.Release(l)
		c.sendError(h.reqno, errNoMem)
		return nil
	}
	c.srv.prefork.add(cookie, l, c)
	c.srv.log.client(c.id, h.reqno, "prefork made")
	c.writeFrame(header{reqno: h.reqno, class: classResp,
		typ: typePrefork}, cookie[:])
	return nil
}

// exec starts an exec handshake: the process's lwps are told to exit now,
// and a goroutine finishes once the client's system calls have drained.
func (c *conn) exec(h header) error {
	name, err := c.readBody(h)
	if err != nil {
		return err
	}
	name = cutName(name)
	c.mu.Lock()
	c.inExec = true
	c.refs++
	main := c.main
	c.mu.Unlock()
	c.srv.k.Exit(main)
	go c.finishExec(h.reqno, main, name)
	return nil
}

func (c *conn) finishExec(reqno uint64, main LWP, name []byte) {
	c.mu.Lock()
	for c.syscalls > 0 {
		c.cond.Wait()
	}
	c.mu.Unlock()
	c.srv.k.ExecNotify(main, name)
	c.mu.Lock()
	c.inExec = false
	c.mu.Unlock()
	c.srv.log.client(c.id, reqno, "exec as %q", name[:len(name)-1])
	c.sendHandshake(reqno, 0)
	c.unref()
}

// job is one system call from receipt to answer.
type job struct {
	c     *conn
	reqno uint64
	num   int32
	pid   int32 // the client's process, fixed by its handshake
	tag   uint64
	args  []byte
}

var argPool = sync.Pool{New: func() any { b := make([]byte, 256); return &b }}

// syscall reads a system call and runs it here, after passing the read
// role on, or queues it when every worker is busy.
func (c *conn) syscall(h header) (bool, error) {
	if err := h.checkLen(c.maxBody()); err != nil {
		return false, err
	}
	n := h.bodyLen()
	var bp *[]byte
	var args []byte
	if n <= 256 {
		bp = argPool.Get().(*[]byte)
		args = (*bp)[:n]
	} else {
		args = make([]byte, n)
	}
	if err := c.fr.body(args); err != nil {
		if bp != nil {
			argPool.Put(bp)
		}
		return false, err
	}
	j := &job{c: c, reqno: h.reqno, num: int32(h.arg), args: args,
		tag: c.srv.nextTag.Add(1)}

	c.mu.Lock()
	if c.syscalls >= c.srv.cfg.MaxClientCalls {
		c.mu.Unlock()
		return false, c.tryAgain(j, bp, "client has too many calls")
	}
	j.pid = c.pid
	c.refs++
	c.syscalls++
	if c.active == nil {
		c.active = make(map[uint64]*job)
	}
	c.active[j.tag] = j
	c.mu.Unlock()

	switch c.srv.work.acquire(j) {
	case queued:
		return false, nil
	case full:
		c.mu.Lock()
		delete(c.active, j.tag)
		c.syscalls--
		c.refs--
		c.mu.Unlock()
		return false, c.tryAgain(j, bp, "work queue full")
	}
	c.srv.pool.run(c.readFn)
	for j != nil {
		j.run()
		if bp != nil {
			argPool.Put(bp)
			bp = nil
		}
		j = c.srv.work.next()
	}
	return true, nil
}

// tryAgain refuses a system call for want of resources. The client maps
// ERROR TRYAGAIN to EAGAIN; the connection stays up.
func (c *conn) tryAgain(j *job, bp *[]byte, why string) error {
	if bp != nil {
		argPool.Put(bp)
	}
	c.srv.log.client(c.id, j.reqno, "syscall %d refused: %s", j.num, why)
	c.sendError(j.reqno, errTryAgain)
	return nil
}

// run executes the call in the kernel and answers it, unless Fini
// answered it already.
func (j *job) run() {
	c := j.c
	r := c.srv.k.Syscall(j.pid, j.num, j.args, j.tag)

	c.mu.Lock()
	_, pending := c.active[j.tag]
	delete(c.active, j.tag)
	c.mu.Unlock()
	if pending {
		if c.srv.log.on() {
			c.srv.log.client(c.id, j.reqno, "syscall %d: %d %d/%d",
				j.num, r.Errno, r.Retval[0], r.Retval[1])
		}
		c.sendSyscall(j.reqno, r)
	}

	c.mu.Lock()
	c.syscalls--
	if c.syscalls == 0 && c.inExec {
		c.cond.Broadcast()
	}
	c.unrefLocked()
}

// answerFini answers the call with the given tag, or failing that the
// newest running call, with success and no further answer.
func (c *conn) answerFini(tag uint64) {
	c.mu.Lock()
	j := c.active[tag]
	if j == nil {
		for t, a := range c.active {
			if j == nil || t > j.tag {
				j = a
			}
		}
	}
	if j != nil {
		delete(c.active, j.tag)
	}
	c.mu.Unlock()
	if j != nil {
		c.srv.log.client(c.id, j.reqno, "answered at fini")
		c.sendSyscall(j.reqno, SyscallResult{})
	}
}

// lost tears the connection down from the read side: waiters fail, the
// process is told to exit unless an exec already did, preforks get a
// short life, and the connection's reference goes.
func (c *conn) lost(err error) {
	c.srv.log.client(c.id, 0, "closing: %v", err)
	c.mu.Lock()
	c.state = stateDying
	ws := c.waiters
	c.waiters = nil
	exit := !c.inExec && c.main != 0
	main := c.main
	c.mu.Unlock()

	for _, w := range ws {
		w.finish(0, ENOTCONN)
	}
	c.nc.Close()
	c.srv.prefork.orphan(c)
	if exit {
		c.srv.k.Exit(main)
	}
	c.unref()
}

// unref drops one reference; the last releases the process and forgets
// the connection.
func (c *conn) unref() {
	c.mu.Lock()
	c.unrefLocked()
}

// unrefLocked is unref for a caller holding c.mu; it unlocks c.mu.
func (c *conn) unrefLocked() {
	c.refs--
	last := c.refs == 0
	main := c.main
	c.mu.Unlock()
	if !last {
		return
	}
	if main != 0 {
		c.srv.k.Release(main)
	}
	c.srv.log.client(c.id, 0, "released")
	c.srv.forget(c)
}

// writeFrame sends one frame from a thread that works for this client.
// Errors are remembered by the output: once a write failed, the
// connection is as good as lost and the reader will notice.
func (c *conn) writeFrame(h header, body ...[]byte) error {
	return c.writeFrameFrom(true, h, body...)
}

// writeFrameFrom sends one frame; own says whether the calling thread
// works for this client, and so may wait for it to read.
func (c *conn) writeFrameFrom(own bool, h header, body ...[]byte) error {
	err := c.out.send(own, h, body...)
	if err != nil && c.srv.log.on() {
		c.srv.log.client(c.id, h.reqno, "write: %v", err)
	}
	return err
}

func (c *conn) sendError(reqno uint64, code uint32) {
	c.writeFrame(header{reqno: reqno, class: classError, arg: code})
}

func (c *conn) sendHandshake(reqno uint64, e int32) {
	var b [hsRespSize]byte
	order.PutUint32(b[:], uint32(e))
	c.writeFrame(header{reqno: reqno, class: classResp,
		typ: typeHandshake}, b[:])
}

func (c *conn) sendSyscall(reqno uint64, r SyscallResult) {
	var b [sysRespSize]byte
	putSysResp(b[:], r)
	c.writeFrame(header{reqno: reqno, class: classResp, typ: typeSyscall},
		b[:])
}
