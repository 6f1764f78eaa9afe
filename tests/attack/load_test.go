package attack

// Many clients at once, and many clients that vanish at awkward moments:
// afterwards the server must be back where it started, in goroutines,
// threads, descriptors and kernel processes.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// maxWorkers is rumpsp_maxworker, the system calls that run at once.
const maxWorkers = 128

// threadSlack is how many threads a load may leave behind. The Go runtime
// never ends an idle thread: each one that was made to run a blocking C
// call (a hypercall) stays parked for reuse. The server runs at most
// maxWorkers system calls at once, and each connection's handshake is a
// C call too, made by the connection's reader; so the threads left after
// a load are bounded by the C calls it had running at once, not by the
// number of clients. The tests below let at most loadParallel clients
// handshake at once, so allow maxWorkers plus that, plus a few for the
// runtime's own needs (GC workers, sysmon, the template thread).
const threadSlack = maxWorkers + loadParallel + 8

// loadParallel is how many goroutines of a load test talk to the server
// at once.
const loadParallel = 16

// TestManyClients: 5,000 clients connected and handshaken at once, then
// all gone, leave nothing behind.
func TestManyClients(t *testing.T) {
	const n = 5000
	if lim := raiseFileLimit(t); lim < 2*n+100 {
		t.Skipf("RLIMIT_NOFILE hard limit %d is below %d", lim, 2*n+100)
	}
	s := startServer(t)
	base := s.baseline(t)

	cs := make([]*client, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, loadParallel)
	for range loadParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := dialGuest(s.sock, fmt.Sprintf("c%d", i))
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
				cs[i] = c
			}
		}()
	}
	wg.Wait()
	close(errs)
	defer func() {
		for _, c := range cs {
			if c != nil {
				c.close()
			}
		}
	}()
	for err := range errs {
		t.Fatal(err)
	}

	// All connected: each has its process and is served.
	if np, err := cs[n-1].ok(sysNproc); err != nil ||
		int(np) != base.procs+n {
		t.Fatalf("%d processes with %d clients (%v), want %d", np, n,
			err, base.procs+n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if name, err := cs[i].getname(); err != nil ||
			name != fmt.Sprintf("c%d", i) {
			t.Fatalf("client %d: name %q, %v", i, name, err)
		}
	}
	t.Logf("with %d clients: %d threads, %d fds, VmRSS %d kB", n,
		s.threads(), s.fds(), s.rssKB())

	for i, c := range cs {
		c.close()
		cs[i] = nil
	}
	s.expectSettled(t, base, base.threads+threadSlack)
}

// abortPoint is a moment at which a client of TestAbortCycles hangs up.
type abortPoint int

const (
	abortBeforeBanner abortPoint = iota
	abortMidHeader
	abortMidBody
	abortAfterHandshake
	abortMidCopyin    // a COPYIN arrived; half a reply is sent
	abortMidCopyinstr // a COPYINSTR arrived; no reply
	abortMidCopyout   // a 1 MiB read of /dev/zero, unread
	abortAfterPrefork // the prefork is left for the server to free
	abortForkChild    // a child claims a prefork; both hang up
	abortMidSyscall   // blocked reading an empty pipe
	abortMidExec      // an exec handshake sent, answer not awaited
	numAbortPoints
)

var abortNames = [numAbortPoints]string{"before banner", "mid header",
	"mid body", "after handshake", "mid copyin", "mid copyinstr",
	"mid copyout", "after prefork", "fork child", "mid syscall",
	"mid exec"}

// abortCycle connects, handshakes and hangs up at point p. An error means
// the server misbehaved before the hang-up, not that the hang-up failed.
func abortCycle(sock string, p abortPoint) error {
	if p == abortBeforeBanner {
		c, err := dialNoBanner(sock)
		if err != nil {
			return err
		}
		c.close()
		return nil
	}
	c, err := dial(sock)
	if err != nil {
		return err
	}
	defer c.close()
	guest := hdr{len: hdrSize + 6, reqno: 1, class: classReq,
		typ: typeHandshake, arg: hsGuest}.encode()
	switch p {
	case abortMidHeader:
		return c.write(guest[:1+rand.IntN(hdrSize-1)])
	case abortMidBody:
		return c.write(guest, []byte("abc"))
	}
	if err := c.guest("cycle"); err != nil {
		return err
	}
	// abortUpon sends a system call, serves the server's requests until
	// one of type typ arrives, and calls send on it instead of answering.
	abortUpon := func(typ uint16, send func(f frame), num uint32,
		args ...uint64) error {
		r, err := c.sendSyscall(num, args...)
		if err != nil {
			return err
		}
		for {
			f, err := c.readFrame()
			if err != nil {
				return err
			}
			if f.h.class != classReq {
				return fmt.Errorf("answer %+v to %d before the "+
					"abort", f.h, r)
			}
			if f.h.typ == typ {
				send(f)
				return nil
			}
			if err := c.serve(f); err != nil {
				return err
			}
		}
	}
	switch p {
	case abortMidCopyin:
		fd, err := c.ok(sysOpen, c.allocString("/cycle"),
			oRDWR|oCREAT, 0o644)
		if err != nil {
			return err
		}
		src := c.alloc(100, nil)
		return abortUpon(typeCopyin, func(f frame) {
			h := hdr{len: hdrSize + 100, reqno: f.h.reqno,
				class: classResp, typ: typeCopyin}
			c.write(h.encode(), make([]byte, rand.IntN(100)))
		}, sysWrite, uint64(fd), src, 100)
	case abortMidCopyinstr:
		return abortUpon(typeCopyinstr, func(frame) {}, sysSetlogin,
			c.allocString("name"))
	case abortMidCopyout:
		fd, err := c.ok(sysOpen, c.allocString("/dev/zero"), oRDWR, 0)
		if err != nil {
			return err
		}
		_, err = c.sendSyscall(sysRead, uint64(fd), 0x100000, 1<<20)
		return err
	case abortAfterPrefork:
		_, err := c.prefork()
		return err
	case abortForkChild:
		cookie, err := c.prefork()
		if err != nil {
			return err
		}
		child, err := dial(sock)
		if err != nil {
			return err
		}
		defer child.close()
		if err := child.handshake(hsFork,
			forkBody(cookie, rand.IntN(4) == 0)); err != nil &&
			err != errClosed {
			return err
		}
		return nil
	case abortMidSyscall:
		r, err := c.syscall(sysPipe)
		if err != nil || r.errno != 0 {
			return fmt.Errorf("pipe: %v %d", err, r.errno)
		}
		_, err = c.sendSyscall(sysRead, uint64(r.retval[0]), 0x100000,
			10)
		return err
	case abortMidExec:
		return c.send(hdr{reqno: c.newReq(), class: classReq,
			typ: typeHandshake, arg: hsExec}, []byte("exec\x00"))
	}
	return nil
}

// TestAbortCycles: 10,000 clients connect, handshake and hang up at a
// random point; afterwards nothing of them is left in the server or the
// kernel, and a bystander worked byte-exactly throughout.
func TestAbortCycles(t *testing.T) {
	const n = 10000
	raiseFileLimit(t)
	// Orphaned preforks live for the handshake timeout after their
	// parent goes; a short one lets the test see them freed.
	s := startServer(t, "RUMPSP_HANDSHAKE_TIMEOUT=2")
	base := s.baseline(t)
	by := startBystander(t, s, "bystander")

	var counts [numAbortPoints]atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range loadParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				p := abortPoint(rand.IntN(int(numAbortPoints)))
				counts[p].Add(1)
				err := abortCycle(s.sock, p)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w",
							abortNames[p], err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	var b bytes.Buffer
	for p := range numAbortPoints {
		fmt.Fprintf(&b, " %s %d,", abortNames[p], counts[p].Load())
	}
	t.Logf("cycles:%s", b.String())
	by.finish(t)
	s.expectSettled(t, base, base.threads+threadSlack)
}
