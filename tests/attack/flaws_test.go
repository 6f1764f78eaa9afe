package attack

// The flaws of the C server listed in protocol.md §3, each tried against
// the Go server through the real archive and the demo kernel.

import (
	"bytes"
	"strings"
	"testing"
)

// TestNameWithoutNUL: the C server writes the NUL of a guest or exec name
// one byte past its buffer. A name sent without a NUL must come out as
// exactly the bytes sent.
func TestNameWithoutNUL(t *testing.T) {
	s := startServer(t)
	c := s.dial(t)
	if err := c.handshake(hsGuest, []byte("nonul")); err != nil {
		t.Fatal(err)
	}
	if name, err := c.getname(); err != nil || name != "nonul" {
		t.Fatalf("guest name %q, %v; want \"nonul\"", name, err)
	}
	// The kernel's copyoutstr sends the name and its NUL, nothing more.
	last := c.copyouts[len(c.copyouts)-1]
	if n := order.Uint64(last.body); n != 6 {
		t.Errorf("getname copied out %d bytes, want 6", n)
	}

	if err := c.handshake(hsExec, []byte("execd")); err != nil {
		t.Fatal(err)
	}
	if name, err := c.getname(); err != nil || name != "execd" {
		t.Fatalf("exec name %q, %v; want \"execd\"", name, err)
	}
}

// TestNameOfMaxFrameSize: a name filling the largest frame the server
// accepts, without a NUL, is taken (the kernel keeps its first 16 bytes);
// one byte more closes the connection without a handshake.
func TestNameOfMaxFrameSize(t *testing.T) {
	const maxBody = 65560 - hdrSize // RUMPSP_MAX_FRAME's default
	s := startServer(t)
	c := s.dial(t)
	if err := c.handshake(hsGuest,
		bytes.Repeat([]byte("g"), maxBody)); err != nil {
		t.Fatal(err)
	}
	if name, err := c.getname(); err != nil ||
		name != strings.Repeat("g", maxComLen) {
		t.Fatalf("guest name %q, %v", name, err)
	}
	if err := c.handshake(hsExec,
		bytes.Repeat([]byte("e"), maxBody)); err != nil {
		t.Fatal(err)
	}
	if name, err := c.getname(); err != nil ||
		name != strings.Repeat("e", maxComLen) {
		t.Fatalf("exec name %q, %v", name, err)
	}

	from := s.mark()
	big := s.dial(t)
	big.send(hdr{reqno: 1, class: classReq, typ: typeHandshake,
		arg: hsGuest}, bytes.Repeat([]byte("g"), maxBody+1))
	expectClosed(t, big)
	s.expectLog(t, from, "frame length above limit")

	// The same for exec: a running client that sends one byte too many.
	from = s.mark()
	c.send(hdr{reqno: 9, class: classReq, typ: typeHandshake,
		arg: hsExec}, bytes.Repeat([]byte("e"), maxBody+1))
	expectClosed(t, c)
	s.expectLog(t, from, "frame length above limit")
}

// TestCopyinstrLongerThanAsked: the attack that kills a stock C
// rump_server. __setlogin copies in at most 17 bytes; the client answers
// with 100,000. The kernel must see EFAULT and nothing of the reply.
func TestCopyinstrLongerThanAsked(t *testing.T) {
	s := startServer(t)
	obs := s.guest(t, "observer")
	by := startBystander(t, s, "bystander")
	f0, _ := faults(t, obs)

	a := s.guest(t, "attacker")
	var asked uint64
	a.hook = func(c *client, f frame) bool {
		if f.h.typ != typeCopyinstr {
			return false
		}
		asked = order.Uint64(f.body)
		c.hook = nil
		c.send(hdr{reqno: f.h.reqno, class: classResp,
			typ: typeCopyinstr}, bytes.Repeat([]byte("x"), 100000))
		return true
	}
	from := s.mark()
	alive := syscallFailsOrCloses(t, a, eFAULT, sysSetlogin,
		a.allocString("x"))
	if asked != 17 {
		t.Errorf("__setlogin asked for %d bytes, want 17", asked)
	}
	if alive {
		expectClosed(t, a)
	}
	s.expectLog(t, from, "closing")
	waitFaults(t, obs, f0+1)
	by.finish(t)
}

// TestCopyinstrWithoutNUL: a string reply shorter than asked must end in
// a NUL; without one it is EFAULT and changes nothing. A reply of exactly
// the length asked is how librumpclient sends a string that does not fit:
// it reaches the kernel as is, which refuses it (ENAMETOOLONG, which
// __setlogin reports as EINVAL), and no more than the buffer is written.
func TestCopyinstrWithoutNUL(t *testing.T) {
	s := startServer(t)
	c := s.guest(t, "c")
	if _, err := c.ok(sysSetlogin, c.allocString("alice")); err != nil {
		t.Fatal(err)
	}
	f0, _ := faults(t, c)
	for i, reply := range []string{"abc", "", strings.Repeat("z", 16)} {
		c.hook = replyOnce(typeCopyinstr, []byte(reply))
		r, err := c.syscall(sysSetlogin, c.allocString("bob"))
		if err != nil || r.errno != eFAULT {
			t.Fatalf("reply %q: %v, error %d; want EFAULT", reply,
				err, r.errno)
		}
		waitFaults(t, c, f0+int64(i)+1)
	}
	c.hook = replyOnce(typeCopyinstr, []byte(strings.Repeat("x", 17)))
	if r, err := c.syscall(sysSetlogin, c.allocString("bob")); err != nil ||
		r.errno != eINVAL {
		t.Fatalf("17 bytes without NUL: %v, error %d; want EINVAL", err,
			r.errno)
	}
	if n, _ := faults(t, c); n != f0+3 {
		t.Errorf("a string that does not fit counted as a fault")
	}
	buf := c.alloc(32, nil)
	if _, err := c.ok(sysGetlogin, buf, 32); err != nil {
		t.Fatal(err)
	}
	if got := c.mem(buf, 6); string(got) != "alice\x00" {
		t.Errorf("login is %q after refused replies, want \"alice\"",
			got)
	}
}

// TestShortCopyin: a COPYIN reply shorter than asked is EFAULT, not an
// over-read; a longer one closes the connection. The file written stays
// exactly what the good write put there.
func TestShortCopyin(t *testing.T) {
	s := startServer(t)
	obs := s.guest(t, "observer")
	c := s.guest(t, "c")
	fd, err := c.ok(sysOpen, c.allocString("/short-copyin"),
		oRDWR|oCREAT|oTRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 10)
	src := c.alloc(len(data), data)
	f0, _ := faults(t, obs)
	for i, reply := range [][]byte{data[:3], nil, data[:99]} {
		c.hook = replyOnce(typeCopyin, reply)
		r, err := c.syscall(sysWrite, uint64(fd), src, 100)
		if err != nil || r.errno != eFAULT {
			t.Fatalf("%d-byte reply: %v, error %d; want EFAULT",
				len(reply), err, r.errno)
		}
		waitFaults(t, obs, f0+int64(i)+1)
	}
	if n, err := c.ok(sysWrite, uint64(fd), src, 100); err != nil ||
		n != 100 {
		t.Fatalf("good write: %d, %v", n, err)
	}
	if _, err := c.ok(sysLseek, uint64(fd), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	dst := c.alloc(200, nil)
	if n, err := c.ok(sysRead, uint64(fd), dst, 200); err != nil ||
		n != 100 || !bytes.Equal(c.mem(dst, 100), data) {
		t.Fatalf("file holds %d bytes %q, %v; want the 100 written",
			n, c.mem(dst, 100), err)
	}

	// More than asked: the connection goes, the kernel sees EFAULT.
	c.hook = replyOnce(typeCopyin, bytes.Repeat([]byte("y"), 101))
	if syscallFailsOrCloses(t, c, eFAULT, sysWrite, uint64(fd), src,
		100) {
		expectClosed(t, c)
	}
	waitFaults(t, obs, f0+4)
}

// TestAnonmmapWrongSize: an ANONMMAP reply must be one 8-byte address.
// The C server dereferences a missing one.
func TestAnonmmapWrongSize(t *testing.T) {
	s := startServer(t)
	obs := s.guest(t, "observer")
	c := s.guest(t, "c")
	mmap := func() (sysResult, error) {
		return c.syscall(sysMmap, 0, 4096, protRW, mapAnon|mapPrivate,
			^uint64(0), 0, 0)
	}
	f0, _ := faults(t, obs)
	for i, n := range []int{0, 4} {
		c.hook = replyOnce(typeAnonmmap, make([]byte, n))
		r, err := mmap()
		if err != nil || r.errno != eFAULT {
			t.Fatalf("%d-byte reply: %v, error %d; want EFAULT", n,
				err, r.errno)
		}
		waitFaults(t, obs, f0+int64(i)+1)
	}
	// NULL is the client's way of saying no: ENOMEM, not a fault.
	c.hook = replyOnce(typeAnonmmap, make([]byte, 8))
	if r, err := mmap(); err != nil || r.errno != eNOMEM {
		t.Fatalf("NULL reply: %v, error %d; want ENOMEM", err, r.errno)
	}
	if r, err := mmap(); err != nil || r.errno != 0 ||
		c.mem(uint64(r.retval[0]), 4096) == nil {
		t.Fatalf("good mmap: %v, %+v", err, r)
	}
	c.hook = replyOnce(typeAnonmmap, make([]byte, 16))
	r, err := mmap()
	if err == nil {
		if r.errno != eFAULT {
			t.Fatalf("16-byte reply: error %d; want EFAULT", r.errno)
		}
		expectClosed(t, c)
	} else if err != errClosed {
		t.Fatal(err)
	}
	waitFaults(t, obs, f0+3)
}

// TestFrameLengthBounds: a frame shorter than its header or longer than
// RUMPSP_MAX_FRAME closes the connection, before and after the
// handshake. A frame of 2^62 bytes (or 1 GiB) is refused before anything
// is allocated: the server's resident size does not move.
func TestFrameLengthBounds(t *testing.T) {
	s := startServer(t)
	by := startBystander(t, s, "bystander")
	rss0 := s.rssKB()
	for _, running := range []bool{false, true} {
		for _, n := range []uint64{0, 1, hdrSize - 1, 65560 + 1,
			1 << 30, 1 << 62, ^uint64(0)} {
			c := s.dial(t)
			h := hdr{len: n, reqno: 1, class: classReq,
				typ: typeHandshake, arg: hsGuest}
			if running {
				if err := c.guest("c"); err != nil {
					t.Fatal(err)
				}
				h.typ, h.arg = typeSyscall, sysGetpid
			}
			from := s.mark()
			c.write(h.encode(), []byte("some body bytes"))
			if _, err := c.waitClosed(); err != nil {
				t.Fatalf("frame length %d (running %v): %v", n,
					running, err)
			}
			s.expectLog(t, from, "closing")
			c.close()
		}
	}
	rss1 := s.rssKB()
	t.Logf("VmRSS %d kB before, %d kB after", rss0, rss1)
	if rss1 > rss0+16<<10 {
		t.Errorf("VmRSS grew from %d to %d kB", rss0, rss1)
	}
	by.finish(t)
}
