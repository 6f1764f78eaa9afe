package attack

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// bystander is a well-behaved client that keeps working in the
// background while a test attacks the server through other connections.
// Each round writes fresh random bytes to a file of its own, reads them
// back and compares them byte for byte, and checks its process name.
type bystander struct {
	name   string
	stop   chan struct{}
	done   chan struct{}
	err    error // set before done is closed
	rounds int   // set before done is closed
}

// startBystander connects a bystander named name (at most 16 bytes, the
// kernel's name length) and starts its rounds.
func startBystander(t *testing.T, s *server, name string) *bystander {
	t.Helper()
	c := s.guest(t, name)
	fd, err := c.ok(sysOpen, c.allocString("/bystander-"+name),
		oRDWR|oCREAT|oTRUNC, 0o644)
	if err != nil {
		t.Fatalf("bystander open: %v", err)
	}
	b := &bystander{name: name, stop: make(chan struct{}),
		done: make(chan struct{})}
	go func() {
		defer close(b.done)
		defer c.close()
		for {
			stopping := false
			select {
			case <-b.stop:
				stopping = true
			default:
			}
			if err := b.round(c, uint64(fd)); err != nil {
				b.err = fmt.Errorf("round %d: %w", b.rounds+1, err)
				return
			}
			b.rounds++
			if stopping {
				// This round started after the attacks.
				return
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			close(b.stop)
			<-b.done
		}
	})
	return b
}

// round is one write, read back and name check.
func (b *bystander) round(c *client, fd uint64) error {
	n := 1 + rand.IntN(40000)
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	src := c.alloc(n, data)
	dst := c.alloc(n, nil)
	if _, err := c.ok(sysLseek, fd, 0, 0, 0); err != nil {
		return err
	}
	if w, err := c.ok(sysWrite, fd, src, uint64(n)); err != nil ||
		w != int64(n) {
		return fmt.Errorf("write %d bytes: %d, %v", n, w, err)
	}
	if _, err := c.ok(sysLseek, fd, 0, 0, 0); err != nil {
		return err
	}
	if r, err := c.ok(sysRead, fd, dst, uint64(n)); err != nil ||
		r != int64(n) {
		return fmt.Errorf("read %d bytes: %d, %v", n, r, err)
	}
	if got := c.mem(dst, uint64(n)); !bytes.Equal(got, data) {
		return fmt.Errorf("read back %d bytes that differ from those "+
			"written", n)
	}
	if name, err := c.getname(); err != nil || name != b.name {
		return fmt.Errorf("getname: %q, %v", name, err)
	}
	// Forget the buffers so that a long run does not grow.
	c.regions = c.regions[:0]
	return nil
}

// finish stops the bystander after one more whole round and fails the
// test if any round went wrong.
func (b *bystander) finish(t *testing.T) {
	t.Helper()
	close(b.stop)
	<-b.done
	if b.err != nil {
		t.Errorf("bystander %s disturbed: %v", b.name, b.err)
	}
	t.Logf("bystander %s: %d rounds", b.name, b.rounds)
}

// faults returns the demo kernel's count of rumpuser_sp_* calls that
// failed with EFAULT, and the last error any of them returned.
func faults(t *testing.T, c *client) (int64, int64) {
	t.Helper()
	r, err := c.syscall(sysFaults)
	if err != nil || r.errno != 0 {
		t.Fatalf("faults: %v %d", err, r.errno)
	}
	return r.retval[0], r.retval[1]
}

// replyOnce makes c answer the next server request of type typ with body
// instead of the right answer, then behave again.
func replyOnce(typ uint16, body []byte) func(*client, frame) bool {
	return func(c *client, f frame) bool {
		if f.h.typ != typ {
			return false
		}
		c.hook = nil
		c.send(hdr{reqno: f.h.reqno, class: classResp, typ: typ}, body)
		return true
	}
}

// syscallFailsOrCloses runs a system call whose copy request an attack
// answered wrongly: the call must fail with want, or the server must
// close the connection (it may answer first). It reports whether the
// connection is still usable.
func syscallFailsOrCloses(t *testing.T, c *client, want int32,
	num uint32, args ...uint64) bool {
	t.Helper()
	r, err := c.syscall(num, args...)
	switch {
	case err == errClosed:
		return false
	case err != nil:
		t.Fatalf("syscall %d: %v", num, err)
	case r.errno != want:
		t.Fatalf("syscall %d: error %d, want %d", num, r.errno, want)
	}
	return true
}

// expectClosed fails the test unless the server closes c, sending no
// frame other than ERROR ones first.
func expectClosed(t *testing.T, c *client) []frame {
	t.Helper()
	fs, err := c.waitClosed()
	if err != nil {
		t.Fatalf("connection not closed: %v", err)
	}
	for _, f := range fs {
		if f.h.class != classError {
			t.Errorf("server sent class %d type %d before closing",
				f.h.class, f.h.typ)
		}
	}
	return fs
}

// waitFaults waits until the kernel's fault counter reaches want.
func waitFaults(t *testing.T, c *client, want int64) {
	t.Helper()
	var n, last int64
	for range 200 {
		n, last = faults(t, c)
		if n >= want {
			if last != eFAULT {
				t.Errorf("last copy error %d, want EFAULT", last)
			}
			return
		}
		sleep()
	}
	t.Errorf("kernel saw %d faults, want %d", n, want)
}

// sleep is the pause between two polls of something a test waits for.
func sleep() { time.Sleep(50 * time.Millisecond) }
