package core

import "bytes"

// Done receives the outcome of a request begun with StartCopyIn,
// StartCopyInStr or StartAnonMmap: the string length with its NUL for
// COPYINSTR, the address for ANONMMAP, 0 for COPYIN; e is EFAULT when the
// client could not be reached or answered wrongly, and ENOMEM when its
// mmap failed. Done is called exactly once, from the goroutine that reads
// the client's reply or tears the connection down, possibly before the
// Start method has returned; it must not block.
//
// The Start methods let a caller from C wait outside Go: a thread parked
// in Go inside a cgo callback is locked to its M, and waking it costs the
// runtime two more thread switches than a plain condition variable.
type Done func(n uint64, e Errno)

// wait is a server request (COPYIN, COPYINSTR or ANONMMAP) waiting for the
// client's reply. The reader that takes it out of conn.waiters owns it and
// the memory of dst until it calls finish.
type wait struct {
	typ  uint16
	buf  []byte // where the reply body goes; len is what was asked
	dst  []byte // COPYINSTR: where a well-formed string is copied
	done Done
}

// finish completes w with the n reply bytes in w.buf, or with error e.
func (w *wait) finish(n int, e Errno) {
	if e != 0 {
		w.done(0, EFAULT)
		return
	}
	switch w.typ {
	case typeCopyinstr:
		// buf holds the string with its NUL, or, for a string that
		// does not fit, exactly len(dst) bytes without one.
		if i := bytes.IndexByte(w.buf[:n], 0); i >= 0 {
			n = i + 1
		}
		copy(w.dst, w.buf[:n])
		w.done(uint64(n), 0)
	case typeAnonmmap:
		a := order.Uint64(w.buf)
		if a == 0 {
			w.done(0, ENOMEM)
			return
		}
		w.done(a, 0)
	default:
		w.done(0, 0)
	}
}

// ask sends a request for w; own says whether the calling thread works for
// this client. If it returns an error, w is forgotten and its done never
// called; otherwise done is called once the reply is in or the connection
// is lost.
func (c *conn) ask(own bool, w *wait, h header, body []byte) Errno {
	c.mu.Lock()
	if c.state != stateRunning {
		c.mu.Unlock()
		return ENOTCONN
	}
	h.reqno = c.nextReq
	c.nextReq++
	if c.waiters == nil {
		c.waiters = make(map[uint64]*wait)
	}
	c.waiters[h.reqno] = w
	c.mu.Unlock()

	if err := c.writeFrameFrom(own, h, body); err != nil {
		c.mu.Lock()
		mine := c.waiters[h.reqno] == w
		if mine {
			delete(c.waiters, h.reqno)
		}
		c.mu.Unlock()
		if mine {
			return ENOTCONN
		}
		// The reader or the teardown owns w now and will finish it.
	}
	return 0
}

// reply handles a RESP or ERROR frame from the client: it finds the
// request it answers and reads the body into that request's buffer. A
// reply to nothing, or one longer than the request allows, closes the
// connection; one that is merely wrong fails the request with EFAULT.
func (c *conn) reply(h header) error {
	c.mu.Lock()
	w := c.waiters[h.reqno]
	if w != nil {
		delete(c.waiters, h.reqno)
	}
	c.mu.Unlock()
	if w == nil {
		c.srv.log.client(c.id, h.reqno, "reply to no request")
		return errUnexpectedReply
	}

	if h.class == classError {
		c.srv.log.client(c.id, h.reqno, "client error %d", h.arg)
		w.finish(0, EFAULT)
		return h.checkLen(0)
	}
	if err := h.checkLen(uint64(len(w.buf))); err != nil {
		c.srv.log.client(c.id, h.reqno, "reply: %v", err)
		w.finish(0, EFAULT)
		return err
	}
	n := int(h.bodyLen())
	if err := c.fr.body(w.buf[:n]); err != nil {
		w.finish(0, EFAULT)
		return err
	}
	e := Errno(0)
	switch w.typ {
	case typeCopyin, typeAnonmmap:
		if n != len(w.buf) {
			c.srv.log.client(c.id, h.reqno,
				"short reply: %d of %d bytes", n, len(w.buf))
			e = EFAULT
		}
	case typeCopyinstr:
		// A client sends the string with its NUL, or exactly the
		// asked length when the string does not fit; the kernel
		// turns the latter into ENAMETOOLONG itself. Anything else
		// is malformed.
		if n < len(w.buf) && bytes.IndexByte(w.buf[:n], 0) < 0 {
			c.srv.log.client(c.id, h.reqno,
				"short string reply without NUL")
			e = EFAULT
		}
	}
	w.finish(n, e)
	return nil
}

// owns reports whether tag names one of c's system calls, that is,
// whether the thread that passed it works for c. Tag 0 is no call.
func (c *conn) owns(tag uint64) bool {
	if tag == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active[tag] != nil
}

// start looks up the client and sends the request of w for the thread
// running the system call tag (0: a thread running none).
func (s *Server) start(ck Cookie, tag uint64, w *wait, h header,
	body []byte) Errno {
	c := s.lookup(ck)
	if c == nil {
		return EFAULT
	}
	if c.ask(c.owns(tag), w, h, body) != 0 {
		return EFAULT
	}
	return 0
}

// StartCopyIn asks the client for len(dst) bytes at its address raddr.
// The reply is read straight into dst, which must stay valid until done
// has been called. The result is 0, or EFAULT when the request could not
// be sent; then done will not be called.
//
// Here and in the other request methods, tag is the system call that the
// calling thread runs (the tag Kernel.Syscall was given), 0 if none: a
// thread that does not run one of this client's calls never waits for
// the client to read its socket.
func (s *Server) StartCopyIn(ck Cookie, tag, raddr uint64, dst []byte,
	done Done) Errno {
	var desc [copyDescSize]byte
	putCopyDesc(desc[:], uint64(len(dst)), raddr)
	return s.start(ck, tag, &wait{typ: typeCopyin, buf: dst, done: done},
		header{class: classReq, typ: typeCopyin}, desc[:])
}

// StartCopyInStr asks the client for a NUL-terminated string of at most
// len(dst) bytes at its address raddr. A string that does not fit arrives
// as len(dst) bytes without a NUL and is passed on as such, for the kernel
// to refuse with ENAMETOOLONG. The reply lands in a scratch buffer first
// and reaches dst only once it is known to be well formed.
func (s *Server) StartCopyInStr(ck Cookie, tag, raddr uint64, dst []byte,
	done Done) Errno {
	var desc [copyDescSize]byte
	putCopyDesc(desc[:], uint64(len(dst)), raddr)
	w := &wait{typ: typeCopyinstr, buf: make([]byte, len(dst)),
		dst: dst, done: done}
	return s.start(ck, tag, w, header{class: classReq, typ: typeCopyinstr},
		desc[:])
}

// StartAnonMmap asks the client to map size bytes of anonymous memory.
func (s *Server) StartAnonMmap(ck Cookie, tag, size uint64, done Done) Errno {
	var req [anonReqSize]byte
	order.PutUint64(req[:], size)
	w := &wait{typ: typeAnonmmap, buf: make([]byte, anonRespSize),
		done: done}
	return s.start(ck, tag, w, header{class: classReq, typ: typeAnonmmap},
		req[:])
}

// result is what a Done delivers to a waiting goroutine.
type result struct {
	n uint64
	e Errno
}

// await runs start with a Done that hands the outcome to the caller.
func await(start func(Done) Errno) (uint64, Errno) {
	ch := make(chan result, 1)
	if e := start(func(n uint64, e Errno) { ch <- result{n, e} }); e != 0 {
		return 0, e
	}
	r := <-ch
	return r.n, r.e
}

// CopyIn copies len(dst) bytes from the client's address raddr into dst,
// waiting for the reply; see StartCopyIn.
func (s *Server) CopyIn(ck Cookie, tag, raddr uint64, dst []byte) Errno {
	_, e := await(func(d Done) Errno {
		return s.StartCopyIn(ck, tag, raddr, dst, d)
	})
	return e
}

// CopyInStr copies a string from the client's address raddr into dst and
// returns its length with the NUL, waiting for the reply; see
// StartCopyInStr.
func (s *Server) CopyInStr(ck Cookie, tag, raddr uint64, dst []byte) (int, Errno) {
	n, e := await(func(d Done) Errno {
		return s.StartCopyInStr(ck, tag, raddr, dst, d)
	})
	return int(n), e
}

// AnonMmap asks the client to map size bytes of anonymous memory and
// returns the address, waiting for the reply. A NULL answer is ENOMEM,
// anything else that goes wrong EFAULT.
func (s *Server) AnonMmap(ck Cookie, tag, size uint64) (uint64, Errno) {
	return await(func(d Done) Errno {
		return s.StartAnonMmap(ck, tag, size, d)
	})
}

// CopyOut writes src to the client's address raddr and returns 0 or
// EFAULT. The client does not answer. When CopyOut returns, the frame is written, or (for a thread
// that does not run one of the client's calls, see tag in StartCopyIn)
// copied into the connection's queue ahead of anything sent later, so
// src may be reused at once.
func (s *Server) CopyOut(ck Cookie, tag, raddr uint64, src []byte) Errno {
	c := s.lookup(ck)
	if c == nil {
		return EFAULT
	}
	var desc [copyDescSize]byte
	putCopyDesc(desc[:], uint64(len(src)), raddr)
	if c.writeFrameFrom(c.owns(tag), header{class: classReq,
		typ: typeCopyout, reqno: c.reqno()}, desc[:], src) != nil {
		return EFAULT
	}
	return 0
}

// Raise sends signal signo to the client. The client does not answer;
// tag is as for CopyOut.
func (s *Server) Raise(ck Cookie, tag uint64, signo int32) Errno {
	c := s.lookup(ck)
	if c == nil {
		return EFAULT
	}
	if c.writeFrameFrom(c.owns(tag), header{class: classReq,
		typ: typeRaise, reqno: c.reqno(), arg: uint32(signo)}) != nil {
		return EFAULT
	}
	return 0
}

// reqno takes a request number for a request that gets no answer.
func (c *conn) reqno() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.nextReq
	c.nextReq++
	return r
}
