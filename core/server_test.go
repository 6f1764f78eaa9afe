package core

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBannerGuestGetpid(t *testing.T) {
	s, _ := testServer(t, nil)
	a := dialServer(t, s)
	b := dialServer(t, s)
	if a.banner != "RUMPSP-0.4-NetBSD-10.0/amd64\n" {
		t.Fatalf("banner %q", a.banner)
	}
	a.guest("alpha")
	b.guest("beta")
	_, ra, _ := a.syscall(sysGetpid)
	_, rb, _ := b.syscall(sysGetpid)
	if ra[0] == rb[0] || ra[0] <= 1 || ra[1] != 1 {
		t.Fatalf("pids %v %v", ra, rb)
	}
	e, r, _ := a.syscall(sysEcho, 7, 1<<40)
	if e != 0 || r != [2]int64{7, 1 << 40} {
		t.Fatalf("echo: %v %v", e, r)
	}
	if e, _, _ := a.syscall(4242); e != ENOSYS {
		t.Fatalf("unknown syscall: %v", e)
	}
}

func TestCopyFunctions(t *testing.T) {
	s, _ := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("copier")

	data := bytes.Repeat([]byte{1, 2, 3}, 100000)
	c.mem[0x1000] = data
	e, r, _ := c.syscall(sysWrite, 1, 0x1000, uint64(len(data)))
	if e != 0 || r[0] != int64(len(data)) || r[1] != 600000 {
		t.Fatalf("write: %v %v", e, r)
	}

	e, r, _ = c.syscall(sysRead, 0, 0x2000, 70000)
	if e != 0 || r[0] != 70000 {
		t.Fatalf("read: %v %v", e, r)
	}
	got := c.out[0x2000]
	for i, b := range got {
		if b != byte(i%251) {
			t.Fatalf("read byte %d = %d", i, b)
		}
	}
	if len(got) != 70000 {
		t.Fatalf("read %d bytes", len(got))
	}

	c.mem[0x3000] = []byte("/etc/passwd\x00junk")
	e, r, _ = c.syscall(sysOpen, 0x3000)
	if e != 0 || r[0] != 12 {
		t.Fatalf("open: %v %v", e, r)
	}

	e, r, _ = c.syscall(sysMmap, 0, 4096)
	if e != 0 || r[0] != 0x7000_0000 {
		t.Fatalf("mmap: %v %v", e, r)
	}
	c.mu.Lock()
	c.mmapNull = true
	c.mu.Unlock()
	if e, _, _ = c.syscall(sysMmap, 0, 4096); e != ENOMEM {
		t.Fatalf("mmap NULL: %v", e)
	}

	if e, _, _ = c.syscall(sysKill, 0, 13); e != 0 {
		t.Fatalf("kill: %v", e)
	}
	eventually(t, "signal", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.signals) == 1 && c.signals[0] == 13
	})
}

func TestForkHandshake(t *testing.T) {
	s, k := testServer(t, nil)
	p := dialServer(t, s)
	p.guest("parent")
	_, pr, _ := p.syscall(sysGetpid)
	base := k.nprocs()

	ck := p.prefork()
	if k.nprocs() != base+1 {
		t.Fatalf("prefork made no process")
	}
	ch := dialServer(t, s)
	f, ok := ch.handshake(hsFork, forkBody(ck, false))
	if !ok || f.h.class != classResp || order.Uint32(f.body) != 0 {
		t.Fatalf("fork handshake: %+v", f.h)
	}
	_, cr, _ := ch.syscall(sysGetpid)
	if cr[0] == pr[0] || cr[1] != 1 {
		t.Fatalf("child getpid %v, parent %v", cr, pr)
	}
	if k.nprocs() != base+1 {
		t.Fatalf("procs %d, want %d", k.nprocs(), base+1)
	}

	// The same cookie cannot be used twice.
	again := dialServer(t, s)
	f, ok = again.handshake(hsFork, forkBody(ck, false))
	if !ok || f.h.class != classError || f.h.arg != errInvalidPrefork {
		t.Fatalf("reused cookie: %+v", f.h)
	}
	if !again.waitClosed() {
		t.Fatal("connection not closed after bad cookie")
	}

	// A cancelled fork releases the preforked process.
	ck = p.prefork()
	cancel := dialServer(t, s)
	cancel.send(header{class: classReq, typ: typeHandshake, arg: hsFork},
		forkBody(ck, true))
	if !cancel.waitClosed() {
		t.Fatal("cancel did not close")
	}
	eventually(t, "prefork release", func() bool {
		return k.nprocs() == base+1
	})

	// A malformed fork handshake is refused.
	bad := dialServer(t, s)
	f, ok = bad.handshake(hsFork, []byte{1, 2, 3})
	if !ok || f.h.class != classError || f.h.arg != errMalformedRequest {
		t.Fatalf("short fork body: %+v", f.h)
	}
}

func TestForkFailures(t *testing.T) {
	s, k := testServer(t, nil)
	p := dialServer(t, s)
	p.guest("parent")
	ck := p.prefork()

	k.mu.Lock()
	k.failFork = true
	k.mu.Unlock()
	f, ok := p.call(header{typ: typePrefork}, nil)
	if !ok || f.h.class != classError || f.h.arg != errRforkFailed {
		t.Fatalf("failed prefork: %+v", f.h)
	}
	ch := dialServer(t, s)
	f, ok = ch.handshake(hsFork, forkBody(ck, false))
	if !ok || f.h.class != classError || f.h.arg != errRforkFailed {
		t.Fatalf("failed adopt: %+v", f.h)
	}
	g := dialServer(t, s)
	f, ok = g.handshake(hsGuest, []byte("x\x00"))
	if !ok || f.h.class != classError || f.h.arg != errRforkFailed {
		t.Fatalf("failed guest: %+v", f.h)
	}
	k.mu.Lock()
	k.failFork = false
	k.mu.Unlock()
	p.close()
	eventually(t, "all released", func() bool { return k.nprocs() == 0 })
}

func TestPreforkExpiry(t *testing.T) {
	s, k := testServer(t, func(c *Config) {
		c.PreforkTimeout = 50 * time.Millisecond
	})
	p := dialServer(t, s)
	p.guest("parent")
	p.prefork()
	eventually(t, "prefork expiry", func() bool { return k.nprocs() == 1 })
}

func TestPreforkOrphaned(t *testing.T) {
	s, k := testServer(t, func(c *Config) {
		c.HandshakeTimeout = 50 * time.Millisecond
	})
	p := dialServer(t, s)
	p.guest("parent")
	p.prefork()
	p.close()
	eventually(t, "orphan release", func() bool { return k.nprocs() == 0 })
}

func TestExecWaitsForSyscalls(t *testing.T) {
	s, k := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("before")
	_, r0, _ := c.syscall(sysGetpid)

	var wg sync.WaitGroup
	var blockErr Errno
	wg.Add(1)
	go func() {
		defer wg.Done()
		blockErr, _, _ = c.syscall(sysBlock)
	}()
	<-k.blocked

	f, ok := c.handshake(hsExec, []byte("after\x00"))
	if !ok || f.h.class != classResp || order.Uint32(f.body) != 0 {
		t.Fatalf("exec: %+v", f.h)
	}
	wg.Wait()
	if blockErr != EINTR {
		t.Fatalf("blocked syscall ended with %v", blockErr)
	}
	_, r1, _ := c.syscall(sysGetpid)
	if r1[0] != r0[0] {
		t.Fatalf("exec changed pid %d -> %d", r0[0], r1[0])
	}
	c.syscall(sysName, 0x5000)
	if got := string(c.out[0x5000]); got != "after\x00" {
		t.Fatalf("name after exec %q", got)
	}
}

func TestInExecIsRefused(t *testing.T) {
	s, k := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("x")
	conn := s.lookup(Cookie(1))
	conn.mu.Lock()
	conn.inExec = true
	conn.mu.Unlock()
	f, ok := c.call(header{typ: typePrefork}, nil)
	if !ok || f.h.class != classError || f.h.arg != errInExec {
		t.Fatalf("prefork in exec: %+v", f.h)
	}
	if !c.waitClosed() {
		t.Fatal("not closed")
	}
	conn.mu.Lock()
	conn.inExec = false
	conn.mu.Unlock()
	d := dialServer(t, s)
	d.guest("y")
	conn = s.lookup(Cookie(2))
	conn.mu.Lock()
	conn.inExec = true
	conn.mu.Unlock()
	f, ok = d.handshake(hsExec, []byte("z\x00"))
	if !ok || f.h.class != classError || f.h.arg != errInExec {
		t.Fatalf("exec in exec: %+v", f.h)
	}
	conn.mu.Lock()
	conn.inExec = false
	conn.mu.Unlock()
	d.waitClosed()
	eventually(t, "release", func() bool { return k.nprocs() == 0 })
}

func TestBeforeHandshake(t *testing.T) {
	s, _ := testServer(t, nil)
	for _, h := range []header{
		{typ: typeSyscall, arg: sysGetpid},
		{typ: typeHandshake, arg: hsAuth},
		{typ: typeHandshake, arg: hsExec},
		{typ: typePrefork},
	} {
		c := dialServer(t, s)
		f, ok := c.call(h, nil)
		if !ok || f.h.class != classError || f.h.arg != errAuth {
			t.Fatalf("%+v before handshake: %+v", h, f.h)
		}
		if !c.waitClosed() {
			t.Fatal("not closed")
		}
	}
}

func TestBadRequestsWhileRunning(t *testing.T) {
	s, _ := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("x")
	// Server-only types and unknown classes are refused, not fatal.
	for _, typ := range []uint16{typeCopyin, typeCopyout, typeRaise, 99} {
		f, ok := c.call(header{typ: typ}, []byte("body"))
		if !ok || f.h.class != classError ||
			f.h.arg != errMalformedRequest {
			t.Fatalf("type %d: %+v", typ, f.h)
		}
	}
	c.mu.Lock()
	c.pending[77] = make(chan frame, 1)
	ch := c.pending[77]
	c.mu.Unlock()
	c.send(header{class: 9, reqno: 77}, []byte("xyz"))
	f := <-ch
	if f.h.class != classError || f.h.arg != errMalformedRequest {
		t.Fatalf("unknown class: %+v", f.h)
	}
	if e, _, ok := c.syscall(sysGetpid); !ok || e != 0 {
		t.Fatal("connection unusable after refused requests")
	}
	// A second guest handshake is a protocol violation.
	f, ok := c.handshake(hsGuest, []byte("again\x00"))
	if !ok || f.h.class != classError || f.h.arg != errMalformedRequest {
		t.Fatalf("second guest: %+v", f.h)
	}
	if !c.waitClosed() {
		t.Fatal("not closed")
	}
}

func TestDisconnectDuringCopyin(t *testing.T) {
	s, k := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("quitter")
	c.hook = func(c *tclient, f frame) bool {
		if f.h.typ == typeCopyin {
			c.nc.Close()
			return true
		}
		return false
	}
	if _, _, ok := c.syscall(sysWrite, 1, 0x1000, 100); ok {
		t.Fatal("syscall answered after disconnect")
	}
	eventually(t, "EFAULT", func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.lastErr == EFAULT
	})
	eventually(t, "release", func() bool { return k.nprocs() == 0 })
	d := dialServer(t, s)
	d.guest("other")
	if e, _, ok := d.syscall(sysGetpid); !ok || e != 0 {
		t.Fatal("server not serving after a disconnect")
	}
}

func TestFiniAnswersPendingSyscall(t *testing.T) {
	s, k := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("reboot")
	e, r, ok := c.syscall(sysReboot, 0)
	if !ok || e != 0 || r != [2]int64{} {
		t.Fatalf("reboot answer %v %v %v", ok, e, r)
	}
	if k.finis != 1 {
		t.Fatal("fini not reached")
	}
	if _, err := os.Stat(s.ep.addr); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket still there: %v", err)
	}
	if _, err := net.Dial("unix", s.ep.addr); err == nil {
		t.Fatal("still accepting")
	}
	// Fini of an unknown client only stops the server.
	s.Fini(Cookie(999), 0)
}

func TestWorkerLimitQueues(t *testing.T) {
	s, k := testServer(t, func(c *Config) { c.MaxWorker = 1 })
	a := dialServer(t, s)
	a.guest("a")
	b := dialServer(t, s)
	b.guest("b")
	go a.syscall(sysBlock)
	<-k.blocked
	done := make(chan [2]int64)
	go func() {
		_, r, _ := b.syscall(sysEcho, 5, 6)
		done <- r
	}()
	eventually(t, "queued job", func() bool {
		s.work.mu.Lock()
		defer s.work.mu.Unlock()
		return len(s.work.queue) == 1 && s.work.running == 1
	})
	a.close()
	if r := <-done; r != [2]int64{5, 6} {
		t.Fatalf("queued echo %v", r)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	s, _ := testServer(t, func(c *Config) {
		c.HandshakeTimeout = 50 * time.Millisecond
	})
	c := dialServer(t, s)
	if !c.waitClosed() {
		t.Fatal("idle client not dropped")
	}
}

func TestMaxClients(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.MaxClients = 1 })
	a := dialServer(t, s)
	a.guest("a")
	nc, err := net.Dial("unix", s.ep.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var b [64]byte
	if n, _ := nc.Read(b[:]); n != 0 {
		t.Fatalf("second client got %q", b[:n])
	}
}

func TestCloseReleasesEverything(t *testing.T) {
	s, k := testServer(t, nil)
	var cs []*tclient
	for i := 0; i < 10; i++ {
		c := dialServer(t, s)
		c.guest("c")
		c.prefork()
		cs = append(cs, c)
	}
	go cs[0].syscall(sysBlock)
	<-k.blocked
	s.Close()
	if n := k.nprocs(); n != 0 {
		t.Fatalf("%d processes left", n)
	}
	if s.NumClients() != 0 {
		t.Fatal("clients left")
	}
}

func TestConcurrentClients(t *testing.T) {
	s, k := testServer(t, nil)
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := dialServer(t, s)
			defer c.close()
			c.guest("w")
			addr := uint64(0x10000 * (i + 1))
			c.mu.Lock()
			c.mem[addr] = bytes.Repeat([]byte{byte(i)}, 1000)
			c.mu.Unlock()
			var inner sync.WaitGroup
			for j := 0; j < 4; j++ {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for n := 0; n < 20; n++ {
						e, r, _ := c.syscall(sysWrite, 0, addr, 1000)
						if e != 0 || r[1] != int64(1000*i) {
							t.Errorf("write %v %v", e, r)
							return
						}
						e, r, _ = c.syscall(sysEcho, uint64(n), uint64(j))
						if e != 0 || r != [2]int64{int64(n), int64(j)} {
							t.Errorf("echo %v %v", e, r)
							return
						}
					}
				}()
			}
			inner.Wait()
		}(i)
	}
	wg.Wait()
	eventually(t, "release", func() bool { return k.nprocs() == 0 })
}

func TestStartErrors(t *testing.T) {
	k := newFakeKernel()
	for url, want := range map[string]Errno{
		"nope":                               EINVAL,
		"verylongschemename://x":             EINVAL,
		"gopher://x":                         EINVAL,
		"unix://" + strings.Repeat("a", 200): ENAMETOOLONG,
		"tcp://127.0.0.1":                    EINVAL,
		"tcp://127.0.0.1:99999":              ERANGE,
		"tcp://127.0.0.1:12x":                EINVAL,
		"tcp://127.0.0.1:":                   EINVAL,
		"tcp://bogus:1":                      EINVAL,
		"tcp6://::1:5":                       EINVAL,
		"tcp6://[::1]5":                      EINVAL,
		"tcp6://[127.0.0.1]:5":               EINVAL,
	} {
		_, err := Start(k, Config{URL: url})
		if ErrnoOf(err) != want {
			t.Errorf("%s: %v, want %v", url, err, want)
		}
	}
	dir := t.TempDir()
	s, err := Start(k, Config{URL: "unix://" + dir + "/s"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Start(k, Config{URL: "unix://" + dir + "/s"}); ErrnoOf(err) != EADDRINUSE {
		t.Fatalf("second bind: %v", err)
	}
}

func TestTCPListeners(t *testing.T) {
	for _, url := range []string{"tcp://127.0.0.1:0/", "tcp6://[::1]:0"} {
		k := newFakeKernel()
		s, err := Start(k, Config{URL: url, OSType: "NetBSD"})
		if err != nil {
			if strings.HasPrefix(url, "tcp6") {
				t.Logf("no IPv6 here: %v", err)
				continue
			}
			t.Fatal(err)
		}
		k.srvp.Store(s)
		c := dialServer(t, s)
		c.guest("tcp")
		if e, _, ok := c.syscall(sysGetpid); !ok || e != 0 {
			t.Fatalf("%s: getpid failed", url)
		}
		c.close()
		s.Close()
	}
	for _, in := range []string{"tcp://*:0", "tcp://0:0", "tcp6://[*]:0"} {
		ep, err := parseURL(in)
		if err != nil || !strings.HasSuffix(ep.addr, ":0") {
			t.Errorf("%s: %+v %v", in, ep, err)
		}
	}
}

func TestRelativeUnixPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ep, err := parseURL("unix://rel.sock")
	if err != nil || ep.addr != dir+"/rel.sock" || !ep.unlink {
		t.Fatalf("%+v %v", ep, err)
	}
}

func TestErrnoOf(t *testing.T) {
	if ErrnoOf(nil) != 0 || ErrnoOf(EFAULT) != EFAULT ||
		ErrnoOf(errors.New("x")) != EIO {
		t.Fatal("basic mapping")
	}
	if EFAULT.Error() != "EFAULT" || Errno(999).Error() != "errno 999" {
		t.Fatal("text")
	}
}

func TestBanner(t *testing.T) {
	b := makeBanner(strings.Repeat("x", 200), "1", "m")
	if len(b) != maxBannerSize || b[len(b)-1] != '\n' {
		t.Fatalf("banner %d bytes", len(b))
	}
}

func TestCopyWithUnknownCookie(t *testing.T) {
	s, _ := testServer(t, nil)
	var b [4]byte
	if s.CopyIn(77, 0, 0, b[:]) != EFAULT ||
		s.CopyOut(77, 0, 0, b[:]) != EFAULT || s.Raise(77, 0, 1) != EFAULT {
		t.Fatal("copy to unknown client")
	}
	if _, e := s.CopyInStr(77, 0, 0, b[:]); e != EFAULT {
		t.Fatal("copyinstr to unknown client")
	}
	if _, e := s.AnonMmap(77, 0, 1); e != EFAULT {
		t.Fatal("anonmmap to unknown client")
	}
}

func TestPerClientCallLimit(t *testing.T) {
	s, k := testServer(t, func(c *Config) { c.MaxClientCalls = 2 })
	a := dialServer(t, s)
	a.guest("hog")
	b := dialServer(t, s)
	b.guest("victim")
	go a.syscall(sysBlock)
	go a.syscall(sysBlock)
	<-k.blocked
	<-k.blocked
	f, ok := a.call(header{typ: typeSyscall, arg: sysEcho}, nil)
	if !ok || f.h.class != classError || f.h.arg != errTryAgain {
		t.Fatalf("third call of a client: %+v", f.h)
	}
	if e, _, ok := b.syscall(sysEcho); !ok || e != 0 {
		t.Fatal("other client not served")
	}
}

func TestQueueByteLimit(t *testing.T) {
	s, k := testServer(t, func(c *Config) { c.MaxWorker = 1 })
	s.work.mu.Lock()
	s.work.qlimit = 100
	s.work.mu.Unlock()
	a := dialServer(t, s)
	a.guest("a")
	b := dialServer(t, s)
	b.guest("b")
	go a.syscall(sysBlock)
	<-k.blocked
	f, ok := b.call(header{typ: typeSyscall, arg: sysEcho}, make([]byte, 200))
	if !ok || f.h.class != classError || f.h.arg != errTryAgain {
		t.Fatalf("call over the queue limit: %+v", f.h)
	}
	done := make(chan bool)
	go func() {
		e, _, ok := b.syscall(sysEcho, 1)
		done <- ok && e == 0
	}()
	eventually(t, "queued", func() bool {
		s.work.mu.Lock()
		defer s.work.mu.Unlock()
		return len(s.work.queue) == 1
	})
	a.close()
	if !<-done {
		t.Fatal("queued call failed")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestPreforkWithoutRandomness(t *testing.T) {
	randomSource = failingReader{}
	defer func() { randomSource = rand.Reader }()
	s, k := testServer(t, nil)
	c := dialServer(t, s)
	c.guest("x")
	f, ok := c.call(header{typ: typePrefork}, nil)
	if !ok || f.h.class != classError || f.h.arg != errNoMem {
		t.Fatalf("prefork without randomness: %+v", f.h)
	}
	if k.nprocs() != 1 {
		t.Fatalf("%d processes: the prefork was not released", k.nprocs())
	}
}

func TestPreforkLimit(t *testing.T) {
	s, k := testServer(t, func(c *Config) { c.MaxPreforks = 3 })
	c := dialServer(t, s)
	c.guest("forker")
	var cookies [][authSize]byte
	for i := 0; i < 3; i++ {
		cookies = append(cookies, c.prefork())
	}
	f, ok := c.call(header{typ: typePrefork}, nil)
	if !ok || f.h.class != classError || f.h.arg != errTryAgain {
		t.Fatalf("fourth prefork: %+v", f.h)
	}
	if k.nprocs() != 4 {
		t.Fatalf("%d processes", k.nprocs())
	}
	// Claiming one makes room for another.
	ch := dialServer(t, s)
	if f, ok := ch.handshake(hsFork, forkBody(cookies[0], false)); !ok ||
		f.h.class != classResp {
		t.Fatalf("fork: %+v", f.h)
	}
	c.prefork()
}

func TestOrphanedPreforksBounded(t *testing.T) {
	s, k := testServer(t, func(c *Config) { c.MaxPreforks = 100 })
	for i := 0; i < 4; i++ {
		c := dialServer(t, s)
		c.guest("churn")
		for j := 0; j < 100; j++ {
			c.prefork()
		}
		c.close()
	}
	eventually(t, "orphans bounded", func() bool {
		return k.nprocs() <= maxOrphans
	})
	s.prefork.mu.Lock()
	n := len(s.prefork.m)
	s.prefork.mu.Unlock()
	if n != maxOrphans {
		t.Fatalf("%d preforks kept, want %d", n, maxOrphans)
	}
}
