package attack

// Attacks on the worker pool: one client tries to hold every worker, or
// to make the server queue its calls without bound.

import (
	"errors"
	"os"
	"testing"
	"time"
)

// blockWorkers makes c send n reads of an empty pipe whose write end it
// holds itself: each blocks in the kernel until c goes away.
func blockWorkers(t *testing.T, c *client, n int) {
	t.Helper()
	r, err := c.syscall(sysPipe)
	if err != nil || r.errno != 0 {
		t.Fatalf("pipe: %v %d", err, r.errno)
	}
	for range n {
		if _, err := c.sendSyscall(sysRead, uint64(r.retval[0]),
			0x100000, 10); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOneClientCannotStarveOthers: a client that sends more system calls
// that block in the kernel than there are workers holds at most its share
// (RUMPSP_MAX_CLIENT_CALLS, half the workers); the rest get ERROR
// TRYAGAIN, and other clients are served.
func TestOneClientCannotStarveOthers(t *testing.T) {
	s := startServer(t)
	a := s.guest(t, "hog")
	b := s.guest(t, "victim")
	blockWorkers(t, a, maxWorkers+2)
	// Nothing tells when the server has read them all; give it a
	// moment, or the victim's call may slip in before the last one.
	time.Sleep(time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := b.ok(sysGetpid)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("another client's getpid waits while one client " +
			"holds every worker slot")
	}
}

// TestQueuedSyscallsBounded: a client that keeps sending 64 KiB system
// calls while its share of the workers is blocked gets ERROR TRYAGAIN for
// each, and the server's resident size stays put (4,000 such frames would
// cost 256 MiB if they were queued).
func TestQueuedSyscallsBounded(t *testing.T) {
	s := startServer(t)
	a := s.guest(t, "hog")
	blockWorkers(t, a, maxWorkers)
	b := s.guest(t, "probe")
	waitProcs(t, b, 3)
	b.close()
	rss0 := s.rssKB()
	body := make([]byte, 65560-hdrSize)
	for i := range 4000 {
		a.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		h := hdr{len: 65560, reqno: uint64(10000 + i),
			class: classReq, typ: typeSyscall, arg: sysGetpid}
		if _, err := a.nc.Write(append(h.encode(), body...)); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Logf("server stopped reading after %d frames", i)
				break
			}
			t.Logf("server closed after %d frames: %v", i, err)
			break
		}
	}
	var rss1 int
	for range 20 {
		rss1 = max(rss1, s.rssKB())
		sleep()
	}
	t.Logf("VmRSS %d kB before, %d kB after", rss0, rss1)
	if rss1 > rss0+64<<10 {
		t.Errorf("queued system calls grew the server by %d MiB",
			(rss1-rss0)>>10)
	}
}
