package core

import (
	"bytes"
	"net"
	"os"
	"testing"
	"time"
)

// replyWith makes the client answer the first server request of type typ
// with the given frame instead of the right one.
func replyWith(typ uint16, class uint16, body []byte) func(*tclient, frame) bool {
	return func(c *tclient, f frame) bool {
		if f.h.typ != typ {
			return false
		}
		c.send(header{reqno: f.h.reqno, class: class, typ: typ}, body)
		return true
	}
}

// stillServes checks that a fresh client is served.
func stillServes(t *testing.T, s *Server) {
	t.Helper()
	d := dialServer(t, s)
	defer d.close()
	d.guest("bystander")
	if e, _, ok := d.syscall(sysEcho, 1, 2); !ok || e != 0 {
		t.Fatal("server stopped serving others")
	}
}

func lastErr(k *fakeKernel) Errno {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastErr
}

func TestShortCopyinReplyIsEFAULT(t *testing.T) {
	s, _ := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("x")
	c.hook = replyWith(typeCopyin, classResp, []byte("abc"))
	if e, _, ok := c.syscall(sysWrite, 0, 0x1000, 100); !ok || e != EFAULT {
		t.Fatalf("short copyin: %v %v", e, ok)
	}
	c.hook = nil
	if e, _, ok := c.syscall(sysEcho); !ok || e != 0 {
		t.Fatal("connection not usable after short reply")
	}
}

func TestLongCopyinReplyCloses(t *testing.T) {
	s, k := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("x")
	c.hook = replyWith(typeCopyin, classResp, make([]byte, 101))
	// The answer (EFAULT) may or may not leave before the close.
	if e, _, ok := c.syscall(sysWrite, 0, 0x1000, 100); ok && e != EFAULT {
		t.Fatalf("oversized reply answered %v", e)
	}
	if !c.waitClosed() {
		t.Fatal("not closed after oversized reply")
	}
	eventually(t, "EFAULT in the kernel", func() bool {
		return lastErr(k) == EFAULT
	})
	stillServes(t, s)
}

func TestCopyinstrReplies(t *testing.T) {
	s, k := testServer(t, nil)
	// The fake kernel's open asks for 17 bytes, like __setlogin.
	for _, tc := range []struct {
		name  string
		body  []byte
		alive bool
	}{
		{"short without NUL", []byte("abcdefgh"), true},
		{"longer than asked", bytes.Repeat([]byte("a"), 100000), false},
	} {
		c := dialServer(t, s)
		c.guest("x")
		c.hook = replyWith(typeCopyinstr, classResp, tc.body)
		e, _, ok := c.syscall(sysOpen, 0x1000)
		if tc.alive && !ok {
			t.Fatalf("%s: not answered", tc.name)
		}
		if ok && e != EFAULT {
			t.Fatalf("%s: %v", tc.name, e)
		}
		if !tc.alive && !c.waitClosed() {
			t.Fatalf("%s: not closed", tc.name)
		}
		eventually(t, tc.name+": EFAULT in the kernel", func() bool {
			return lastErr(k) == EFAULT
		})
		k.setErr(0)
		c.close()
	}
	// A string that does not fit comes as exactly the asked length
	// without a NUL: passed on whole, for the kernel to refuse.
	c := dialServer(t, s)
	c.guest("x")
	c.hook = replyWith(typeCopyinstr, classResp, bytes.Repeat([]byte("a"), 17))
	if e, r, ok := c.syscall(sysOpen, 0x1000); !ok || e != 0 || r[0] != 17 {
		t.Fatalf("full-length string: %v %v %v", e, r, ok)
	}
	stillServes(t, s)
}

func TestAnonmmapWrongSize(t *testing.T) {
	s, _ := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("x")
	c.hook = replyWith(typeAnonmmap, classResp, nil)
	if e, _, ok := c.syscall(sysMmap, 0, 4096); !ok || e != EFAULT {
		t.Fatalf("empty anonmmap reply: %v %v", e, ok)
	}
	c.hook = replyWith(typeAnonmmap, classResp, make([]byte, 4))
	if e, _, ok := c.syscall(sysMmap, 0, 4096); !ok || e != EFAULT {
		t.Fatalf("short anonmmap reply: %v %v", e, ok)
	}
	c.hook = replyWith(typeAnonmmap, classResp, make([]byte, 16))
	if e, _, ok := c.syscall(sysMmap, 0, 4096); ok && e != EFAULT {
		t.Fatalf("long anonmmap reply answered %v", e)
	}
	if !c.waitClosed() {
		t.Fatal("long anonmmap reply not closed")
	}
	stillServes(t, s)
}

func TestErrorReplyIsEFAULT(t *testing.T) {
	s, _ := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("x")
	c.hook = replyWith(typeCopyin, classError, nil)
	if e, _, ok := c.syscall(sysWrite, 0, 0x1000, 10); !ok || e != EFAULT {
		t.Fatalf("error reply: %v %v", e, ok)
	}
}

func TestReplyToNothingCloses(t *testing.T) {
	s, _ := testServer(t, nil)
	for _, class := range []uint16{classResp, classError} {
		c := dialServer(t, s)
		c.guest("x")
		c.send(header{class: class, typ: typeCopyin, reqno: 12345},
			[]byte("x"))
		if !c.waitClosed() {
			t.Fatal("not closed")
		}
	}
	// A second reply to an answered request is a reply to nothing.
	c := dialServer(t, s)
	c.guest("x")
	c.hook = func(c *tclient, f frame) bool {
		if f.h.typ != typeCopyin {
			return false
		}
		n := order.Uint64(f.body)
		c.send(header{reqno: f.h.reqno, class: classResp}, make([]byte, n))
		c.send(header{reqno: f.h.reqno, class: classResp}, make([]byte, n))
		return true
	}
	c.syscall(sysWrite, 0, 0x1000, 8)
	if !c.waitClosed() {
		t.Fatal("duplicate reply not closed")
	}
	stillServes(t, s)
}

func TestFrameLengthLimits(t *testing.T) {
	s, _ := testServer(t, nil)
	for _, n := range []uint64{0, 23, DefaultMaxFrame + 1, 1 << 62} {
		c := dialServer(t, s)
		var b [headerSize]byte
		header{len: n, class: classReq, typ: typeHandshake}.encode(b[:])
		c.nc.Write(b[:])
		if !c.waitClosed() {
			t.Fatalf("length %d: not closed", n)
		}
	}
	// The largest allowed request is accepted.
	c := dialServer(t, s)
	c.guest("x")
	args := make([]byte, DefaultMaxFrame-headerSize)
	order.PutUint64(args, 9)
	f, ok := c.call(header{typ: typeSyscall, arg: sysEcho}, args)
	if !ok || order.Uint64(f.body[8:]) != 9 {
		t.Fatal("largest frame refused")
	}
	stillServes(t, s)
}

func TestLongNameStaysInBounds(t *testing.T) {
	s, k := testServer(t, nil)
	c := dialServer(t, s)
	// No NUL at all: the name is exactly what was sent.
	c.guest("")
	d := dialServer(t, s)
	f, ok := d.handshake(hsGuest, []byte("noterminator"))
	if !ok || f.h.class != classResp {
		t.Fatal("guest without NUL refused")
	}
	d.syscall(sysName, 0x100)
	if got := string(d.out[0x100]); got != "noterminator\x00" {
		t.Fatalf("name %q", got)
	}
	if k.nprocs() != 2 {
		t.Fatalf("%d processes", k.nprocs())
	}
}

func TestSlowReaderDoesNotStallOthers(t *testing.T) {
	s, _ := testServer(t, nil)
	// A client that never reads while the kernel copies out a lot.
	slow := dialServer(t, s)
	slow.guest("slow")
	raw, _ := slow.nc.(*net.UnixConn)
	raw.SetReadBuffer(4096)
	args := make([]byte, 24)
	order.PutUint64(args[8:], 0x1000)
	order.PutUint64(args[16:], 8<<20)
	// Send the request on the raw socket and never read the answer.
	stuck := make(chan struct{})
	defer close(stuck)
	slow.hook = func(*tclient, frame) bool {
		<-stuck
		return true
	}
	slow.send(header{class: classReq, typ: typeSyscall, arg: sysRead,
		reqno: 1}, args)
	for i := 0; i < 5; i++ {
		stillServes(t, s)
	}
	slow.nc.Close()
}

func TestDebugLogging(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, _ := testServer(t, func(c *Config) { c.Debug = w })
	c := dialServer(t, s)
	c.guest("logged")
	c.syscall(sysEcho)
	c.close()
	s.Close()
	w.Close()
	var buf bytes.Buffer
	buf.ReadFrom(r)
	out := buf.String()
	for _, want := range []string{
		"rumpsp: [client 1] req 0: connected",
		"rumpsp: [client 1] req 1: guest \"logged\" is pid",
		"rumpsp: [client 1] req 2: syscall 1001",
		"rumpsp: [server] listening on unix",
	} {
		if !bytes.Contains([]byte(out), []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestDefaultConfigFromEnv(t *testing.T) {
	t.Setenv(EnvDebug, "1")
	t.Setenv(EnvMaxFrame, "1000")
	t.Setenv(EnvHandshakeTimeout, "2.5")
	t.Setenv(EnvPreforkTimeout, "3m")
	t.Setenv(EnvMaxClients, "nope")
	c := DefaultConfig()
	if c.Debug == nil || c.MaxFrame != 1000 ||
		c.HandshakeTimeout != 2500*time.Millisecond ||
		c.PreforkTimeout != 3*time.Minute || c.MaxClients != 0 {
		t.Fatalf("%+v", c)
	}
	t.Setenv(EnvPreforkTimeout, "-1s")
	t.Setenv(EnvHandshakeTimeout, "x")
	t.Setenv(EnvDebug, "0")
	c = DefaultConfig()
	if c.Debug != nil || c.PreforkTimeout != DefaultPreforkTimeout ||
		c.HandshakeTimeout != DefaultHandshakeTimeout {
		t.Fatalf("%+v", c)
	}
}

// A client that stops reading makes threads that do not work for it (the
// kernel's I/O threads here) queue their frames instead of waiting; once
// the queue is full they wait at most StallTimeout, and then the client
// is dropped. Other clients are served all along.
func TestForeignWritersDoNotWaitForStalledClient(t *testing.T) {
	maxBacklog = 64 << 10
	defer func() { maxBacklog = DefaultMaxBacklog }()
	s, k := testServer(t, func(c *Config) {
		c.StallTimeout = 200 * time.Millisecond
	})
	stuck := make(chan struct{})
	defer close(stuck)
	a := dialServer(t, s)
	a.guest("staller")
	a.hook = func(*tclient, frame) bool {
		<-stuck
		return true
	}
	b := dialServer(t, s)
	b.guest("bystander")

	// The client reads the first copyout whole and then stops; the
	// second fills the socket and the queue; the third must wait for
	// room, gives up and drops the client.
	for i := uint64(1); i <= 3; i++ {
		args := make([]byte, 24)
		order.PutUint64(args[8:], 0x1000)
		order.PutUint64(args[16:], 1<<20)
		a.send(header{class: classReq, typ: typeSyscall, arg: sysAsync,
			reqno: 100 + i}, args)
	}
	if e, _, ok := b.syscall(sysEcho, 1); !ok || e != 0 {
		t.Fatal("bystander not served while a client stalls")
	}
	eventually(t, "staller dropped", func() bool {
		return lastErr(k) == EFAULT && s.NumClients() == 1
	})
	if e, _, ok := b.syscall(sysEcho, 2); !ok || e != 0 {
		t.Fatal("bystander not served after the staller was dropped")
	}
}

// Frames queued for a slow client arrive whole and in order.
func TestQueuedFramesKeepOrder(t *testing.T) {
	s, _ := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("slow")
	raw, _ := c.nc.(*net.UnixConn)
	raw.SetReadBuffer(4096)
	for i := 0; i < 20; i++ {
		e, r, ok := c.syscall(sysAsync, 0, uint64(0x1000*(i+1)), 300000)
		if !ok || e != 0 || r[0] != 300000 {
			t.Fatalf("async read %d: %v %v %v", i, e, r, ok)
		}
		got := c.out[uint64(0x1000*(i+1))]
		if len(got) != 300000 {
			t.Fatalf("copyout %d: %d bytes", i, len(got))
		}
	}
}
