package attack

// Clients that stop reading their socket while the kernel's own threads
// (its I/O thread for regular files, its signal thread) write to them:
// those threads queue what the socket does not take and go on, so other
// clients are not disturbed. And a client that asks for preforks without
// end gets ERROR TRYAGAIN past RUMPSP_MAX_PREFORKS.

import (
	"testing"
	"time"
)

const sysKill = 37

// stall makes c read size bytes of a regular file of its own and stop
// reading its socket, so that the kernel's I/O thread has more to copy out
// than the socket takes.
func stall(t *testing.T, c *client, name string, size int) {
	fd, err := c.ok(sysOpen, c.allocString(name), oRDWR|oCREAT|oTRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	src := c.alloc(size, nil)
	if w, err := c.ok(sysWrite, uint64(fd), src, uint64(size)); err != nil || w != int64(size) {
		t.Fatalf("write: %d %v", w, err)
	}
	if _, err := c.ok(sysLseek, uint64(fd), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	dst := c.alloc(size, nil)
	if _, err := c.sendSyscall(sysRead, uint64(fd), dst, uint64(size)); err != nil {
		t.Fatal(err)
	}
	waitFull(t, c)
}

// probeRead: another client reads 10 bytes from a regular file within d.
func probeRead(t *testing.T, s *server, d time.Duration) error {
	c := s.guest(t, "probe")
	defer c.close()
	fd, err := c.ok(sysOpen, c.allocString("/probe"), oRDWR|oCREAT|oTRUNC, 0o644)
	if err != nil {
		return err
	}
	src := c.allocString("0123456789")
	if _, err := c.ok(sysWrite, uint64(fd), src, 10); err != nil {
		return err
	}
	if _, err := c.ok(sysLseek, uint64(fd), 0, 0, 0); err != nil {
		return err
	}
	dst := c.alloc(10, nil)
	r, _ := c.sendSyscall(sysRead, uint64(fd), dst, 10)
	for {
		f, err := c.readFrameWithin(d)
		if err != nil {
			return err
		}
		if f.h.class == classReq {
			c.serve(f)
			continue
		}
		if f.h.reqno == r {
			return nil
		}
	}
}

func TestStallersDoNotBlockFileReads(t *testing.T) {
	s := startServer(t)
	if err := probeRead(t, s, 5*time.Second); err != nil {
		t.Fatalf("probe before: %v", err)
	}
	a := s.guest(t, "stallA")
	stall(t, a, "/stallA", 4<<20)
	b := s.guest(t, "stallB")
	stall(t, b, "/stallB", 4<<20)
	if err := probeRead(t, s, 10*time.Second); err != nil {
		t.Errorf("a third client's file read, with two stallers: %v", err)
	}
	a.close()
	b.close()
}

func TestStallerDoesNotBlockSignals(t *testing.T) {
	s := startServer(t)
	a := s.guest(t, "stallA")
	ra, err := a.syscall(sysGetpid)
	if err != nil {
		t.Fatal(err)
	}
	stall(t, a, "/stallA", 4<<20)
	// The staller signals itself: the kernel's signal thread has a RAISE
	// for a socket that is full.
	if _, err = a.sendSyscall(sysKill, uint64(ra.retval[0]), 1); err != nil {
		t.Fatal(err)
	}
	c := s.guest(t, "victim")
	defer c.close()
	r, err := c.syscall(sysGetpid)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := c.sendSyscall(sysKill, uint64(r.retval[0]), 13)
	for {
		f, err := c.readFrameWithin(10 * time.Second)
		if err != nil {
			t.Fatalf("another client's kill of itself: %v", err)
		}
		if f.h.class == classReq {
			c.serve(f)
			continue
		}
		if f.h.reqno == q {
			break
		}
	}
	a.close()
}

func TestPreforkFloodIsBounded(t *testing.T) {
	s := startServer(t, "RUMPSP_MAX_PREFORKS=8")
	c := s.guest(t, "flood")
	defer c.close()
	n0, err := c.ok(sysNproc)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		if _, err := c.prefork(); err != nil {
			t.Fatalf("prefork %d: %v", i, err)
		}
	}
	if _, err := c.prefork(); err == nil {
		t.Fatal("ninth prefork accepted")
	}
	n1, _ := c.ok(sysNproc)
	if n1 != n0+8 {
		t.Fatalf("kernel processes %d -> %d, want +8", n0, n1)
	}
}
