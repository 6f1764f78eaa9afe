package core

import (
	"bytes"
	"sync"
)

// wait is a server request (COPYIN, COPYINSTR or ANONMMAP) waiting for the
// client's reply. The reader that takes it out of conn.waiters owns it
// until it calls finish; only then may the requester look at it or let its
// buffer go.
type wait struct {
	typ  uint16
	buf  []byte // where the reply body goes; len is what was asked
	n    int    // body bytes received
	err  Errno  // set by finish
	done chan struct{}
}

var waitPool = sync.Pool{New: func() any {
	return &wait{done: make(chan struct{}, 1)}
}}

func (w *wait) finish(e Errno) {
	w.err = e
	w.done <- struct{}{}
}

// ask sends a request for w and waits for its reply. Transport failures
// and a connection that is or becomes lost give ENOTCONN.
func (c *conn) ask(w *wait, h header, body []byte) Errno {
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

	if err := c.writeFrame(h, body); err != nil {
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
	<-w.done
	return w.err
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
		w.finish(EFAULT)
		return h.checkLen(0)
	}
	if err := h.checkLen(uint64(len(w.buf))); err != nil {
		c.srv.log.client(c.id, h.reqno, "reply: %v", err)
		w.finish(EFAULT)
		return err
	}
	n := int(h.bodyLen())
	if err := c.fr.body(w.buf[:n]); err != nil {
		w.finish(EFAULT)
		return err
	}
	w.n = n
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
	w.finish(e)
	return nil
}

// CopyIn copies len(dst) bytes from the client's address raddr into dst.
// The reply is read straight into dst; dst must stay valid until return.
func (s *Server) CopyIn(ck Cookie, raddr uint64, dst []byte) Errno {
	c := s.lookup(ck)
	if c == nil {
		return EFAULT
	}
	w := waitPool.Get().(*wait)
	w.typ, w.buf, w.n = typeCopyin, dst, 0
	var desc [copyDescSize]byte
	putCopyDesc(desc[:], uint64(len(dst)), raddr)
	e := c.ask(w, header{class: classReq, typ: typeCopyin}, desc[:])
	w.buf = nil
	waitPool.Put(w)
	if e != 0 {
		return EFAULT
	}
	return 0
}

// CopyInStr copies a NUL-terminated string of at most len(dst) bytes from
// the client's address raddr into dst and returns its length with the NUL.
// A string that does not fit arrives as len(dst) bytes without a NUL and
// is passed on as such, for the kernel to refuse with ENAMETOOLONG. The
// reply lands in a scratch buffer first and reaches dst only once it is
// known to be well formed.
func (s *Server) CopyInStr(ck Cookie, raddr uint64, dst []byte) (int, Errno) {
	c := s.lookup(ck)
	if c == nil {
		return 0, EFAULT
	}
	w := waitPool.Get().(*wait)
	w.typ, w.buf, w.n = typeCopyinstr, make([]byte, len(dst)), 0
	var desc [copyDescSize]byte
	putCopyDesc(desc[:], uint64(len(dst)), raddr)
	e := c.ask(w, header{class: classReq, typ: typeCopyinstr}, desc[:])
	n := 0
	if e == 0 {
		n = w.n
		if i := bytes.IndexByte(w.buf[:w.n], 0); i >= 0 {
			n = i + 1
		}
		copy(dst, w.buf[:n])
	}
	w.buf = nil
	waitPool.Put(w)
	if e != 0 {
		return 0, EFAULT
	}
	return n, 0
}

// CopyOut writes src to the client's address raddr. The client does not
// answer; the frame is on its way when CopyOut returns.
func (s *Server) CopyOut(ck Cookie, raddr uint64, src []byte) Errno {
	c := s.lookup(ck)
	if c == nil {
		return EFAULT
	}
	var desc [copyDescSize]byte
	putCopyDesc(desc[:], uint64(len(src)), raddr)
	if c.writeFrame(header{class: classReq, typ: typeCopyout,
		reqno: c.reqno()}, desc[:], src) != nil {
		return EFAULT
	}
	return 0
}

// AnonMmap asks the client to map size bytes of anonymous memory and
// returns the address. A NULL answer is ENOMEM, anything else that goes
// wrong EFAULT.
func (s *Server) AnonMmap(ck Cookie, size uint64) (uint64, Errno) {
	c := s.lookup(ck)
	if c == nil {
		return 0, EFAULT
	}
	w := waitPool.Get().(*wait)
	var addr [anonRespSize]byte
	w.typ, w.buf, w.n = typeAnonmmap, addr[:], 0
	var req [anonReqSize]byte
	order.PutUint64(req[:], size)
	e := c.ask(w, header{class: classReq, typ: typeAnonmmap}, req[:])
	w.buf = nil
	waitPool.Put(w)
	if e != 0 {
		return 0, EFAULT
	}
	a := order.Uint64(addr[:])
	if a == 0 {
		return 0, ENOMEM
	}
	return a, 0
}

// Raise sends signal signo to the client. The client does not answer.
func (s *Server) Raise(ck Cookie, signo int32) Errno {
	c := s.lookup(ck)
	if c == nil {
		return EFAULT
	}
	if c.writeFrame(header{class: classReq, typ: typeRaise,
		reqno: c.reqno(), arg: uint32(signo)}) != nil {
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
