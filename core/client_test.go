package core

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// frame is a whole frame as the test client sees it.
type frame struct {
	h    header
	body []byte
}

func readFrame(r io.Reader) (frame, error) {
	var hb [headerSize]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return frame{}, err
	}
	h := decodeHeader(hb[:])
	if h.len < headerSize || h.len > 1<<26 {
		return frame{}, errors.New("bad frame length")
	}
	b := make([]byte, h.len-headerSize)
	if _, err := io.ReadFull(r, b); err != nil {
		return frame{}, err
	}
	return frame{h, b}, nil
}

func encodeFrame(h header, body []byte) []byte {
	h.len = uint64(headerSize + len(body))
	b := make([]byte, headerSize+len(body))
	h.encode(b)
	copy(b[headerSize:], body)
	return b
}

// tclient is a client of the test server that behaves like librumpclient:
// a receiver goroutine answers the server's requests from a fake address
// space and hands responses to the callers waiting for them.
type tclient struct {
	t      testing.TB
	nc     net.Conn
	banner string

	wmu sync.Mutex

	mu       sync.Mutex
	nextReq  uint64
	pending  map[uint64]chan frame
	mem      map[uint64][]byte // address -> contents, for COPYIN
	out      map[uint64][]byte // what COPYOUT wrote, by address
	signals  []uint32
	mmapNext uint64
	mmapNull bool
	closed   chan struct{}
	err      error

	// hook, if set, sees each server request first; true means handled.
	hook func(c *tclient, f frame) bool
}

func dialServer(t testing.TB, s *Server) *tclient {
	t.Helper()
	nc, err := net.Dial(s.Addr().Network(), s.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &tclient{t: t, nc: nc, pending: map[uint64]chan frame{},
		mem: map[uint64][]byte{}, out: map[uint64][]byte{},
		mmapNext: 0x7000_0000, closed: make(chan struct{})}
	br := bufio.NewReader(nc)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("banner: %v", err)
	}
	c.banner = line
	go c.receive(br)
	return c
}

func (c *tclient) receive(r io.Reader) {
	defer close(c.closed)
	for {
		f, err := readFrame(r)
		if err != nil {
			c.mu.Lock()
			c.err = err
			for _, ch := range c.pending {
				close(ch)
			}
			c.pending = nil
			c.mu.Unlock()
			return
		}
		if f.h.class == classReq {
			if c.hook != nil && c.hook(c, f) {
				continue
			}
			c.serve(f)
			continue
		}
		c.mu.Lock()
		ch := c.pending[f.h.reqno]
		delete(c.pending, f.h.reqno)
		c.mu.Unlock()
		if ch != nil {
			ch <- f
		}
	}
}

// serve answers a server request the way librumpclient does.
func (c *tclient) serve(f frame) {
	switch f.h.typ {
	case typeCopyin, typeCopyinstr:
		n := order.Uint64(f.body[0:])
		addr := order.Uint64(f.body[8:])
		c.mu.Lock()
		src := c.mem[addr]
		c.mu.Unlock()
		data := make([]byte, n)
		copy(data, src)
		if f.h.typ == typeCopyinstr {
			if i := strings.IndexByte(string(data), 0); i >= 0 {
				data = data[:i+1]
			}
		}
		c.send(header{reqno: f.h.reqno, class: classResp,
			typ: f.h.typ}, data)
	case typeCopyout, typeCopyoutstr:
		n := order.Uint64(f.body[0:])
		addr := order.Uint64(f.body[8:])
		c.mu.Lock()
		c.out[addr] = append([]byte(nil), f.body[16:16+n]...)
		c.mu.Unlock()
	case typeAnonmmap:
		var b [8]byte
		c.mu.Lock()
		if !c.mmapNull {
			order.PutUint64(b[:], c.mmapNext)
			c.mmapNext += 0x10000
		}
		c.mu.Unlock()
		c.send(header{reqno: f.h.reqno, class: classResp,
			typ: typeAnonmmap}, b[:])
	case typeRaise:
		c.mu.Lock()
		c.signals = append(c.signals, f.h.arg)
		c.mu.Unlock()
	}
}

func (c *tclient) send(h header, body []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(encodeFrame(h, body))
	return err
}

// call sends a request and waits for its answer; ok is false if the
// connection ended first.
func (c *tclient) call(h header, body []byte) (frame, bool) {
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return frame{}, false
	}
	c.nextReq++
	h.reqno = c.nextReq
	ch := make(chan frame, 1)
	c.pending[h.reqno] = ch
	c.mu.Unlock()
	h.class = classReq
	if c.send(h, body) != nil {
		return frame{}, false
	}
	select {
	case f, ok := <-ch:
		return f, ok
	case <-time.After(20 * time.Second):
		c.t.Errorf("no answer to request type %d", h.typ)
		return frame{}, false
	}
}

func (c *tclient) handshake(kind uint32, body []byte) (frame, bool) {
	return c.call(header{typ: typeHandshake, arg: kind}, body)
}

func (c *tclient) guest(name string) {
	c.t.Helper()
	f, ok := c.handshake(hsGuest, append([]byte(name), 0))
	if !ok || f.h.class != classResp || order.Uint32(f.body) != 0 {
		c.t.Fatalf("guest handshake failed: %+v ok=%v", f.h, ok)
	}
}

// syscall runs num with the given argument words.
func (c *tclient) syscall(num int, words ...uint64) (Errno, [2]int64, bool) {
	args := make([]byte, 8*len(words))
	for i, w := range words {
		binary.NativeEndian.PutUint64(args[8*i:], w)
	}
	f, ok := c.call(header{typ: typeSyscall, arg: uint32(num)}, args)
	if !ok {
		return 0, [2]int64{}, false
	}
	if f.h.class != classResp || len(f.body) != sysRespSize {
		c.t.Errorf("bad syscall answer %+v", f.h)
		return 0, [2]int64{}, false
	}
	return Errno(order.Uint32(f.body)), [2]int64{
		int64(order.Uint64(f.body[8:])),
		int64(order.Uint64(f.body[16:]))}, true
}

func (c *tclient) prefork() [authSize]byte {
	c.t.Helper()
	f, ok := c.call(header{typ: typePrefork}, nil)
	if !ok || f.h.class != classResp || len(f.body) != authSize {
		c.t.Fatalf("prefork failed: %+v", f.h)
	}
	var ck [authSize]byte
	copy(ck[:], f.body)
	return ck
}

func forkBody(ck [authSize]byte, cancel bool) []byte {
	b := make([]byte, forkHSSize)
	copy(b, ck[:])
	if cancel {
		order.PutUint32(b[authSize:], 1)
	}
	return b
}

func (c *tclient) close() {
	c.nc.Close()
	<-c.closed
}

// waitClosed waits until the server closes the connection.
func (c *tclient) waitClosed() bool {
	select {
	case <-c.closed:
		return true
	case <-time.After(20 * time.Second):
		return false
	}
}

// testServer starts a server on a fresh unix socket with a fake kernel.
func testServer(t testing.TB, mod func(*Config)) (*Server, *fakeKernel) {
	t.Helper()
	k := newFakeKernel()
	cfg := Config{
		URL:    "unix://" + filepath.Join(t.TempDir(), "sp.sock"),
		OSType: "NetBSD", OSRelease: "10.0", Machine: "amd64",
	}
	if testing.Verbose() {
		cfg.Debug = testLogWriter{t}
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := Start(k, cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	k.srvp.Store(s)
	t.Cleanup(s.Close)
	return s, k
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// eventually polls cond for up to 10 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for pause := 100 * time.Microsecond; time.Now().Before(deadline); {
		if cond() {
			return
		}
		time.Sleep(pause)
		pause = min(2*pause, 10*time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
