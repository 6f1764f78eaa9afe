package attack

// The same attacks against the C reference server linked with the demo
// kernel (build/demoserver-ref), to show the flaws the Go server does not
// have. They crash or bloat that server, so they run only when asked:
//
//	make build/demoserver-ref   # from the top directory, with its absolute path
//	RUMPSP_ATTACK_REF=1 go test -run Reference -v ./tests/attack/
//
// and never in make test.

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Environment variables of the reference attacks.
const (
	EnvAttackRef = "RUMPSP_ATTACK_REF"     // 1: run them
	EnvRefServer = "RUMPSP_DEMOSERVER_REF" // the binary, if not the default
)

// startReference starts the C reference demo server, or skips the test.
func startReference(t *testing.T) *server {
	t.Helper()
	if os.Getenv(EnvAttackRef) != "1" {
		t.Skipf("attacks on the C reference run only with %s=1",
			EnvAttackRef)
	}
	bin := os.Getenv(EnvRefServer)
	if bin == "" {
		bin, _ = filepath.Abs("../../build/demoserver-ref")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%v: build it with make $PWD/build/demoserver-ref", err)
	}
	return startBinary(t, bin, false)
}

// TestReferenceCopyinstrOverflow: the known crash. A 100,000-byte answer
// to __setlogin's 17-byte copyinstr is copied into the kernel's buffer.
func TestReferenceCopyinstrOverflow(t *testing.T) {
	s := startReference(t)
	c := s.guest(t, "attacker")
	c.hook = replyOnce(typeCopyinstr, bytes.Repeat([]byte("x"), 100000))
	r, err := c.syscall(sysSetlogin, c.allocString("x"))
	t.Logf("__setlogin: %+v, %v", r, err)
	s.expectDeath(t)
}

// TestReferenceAnonmmapNoBody: an ANONMMAP answer without a body makes
// the C server read the address through a NULL pointer.
func TestReferenceAnonmmapNoBody(t *testing.T) {
	s := startReference(t)
	c := s.guest(t, "attacker")
	c.hook = replyOnce(typeAnonmmap, nil)
	r, err := c.syscall(sysMmap, 0, 4096, protRW, mapAnon|mapPrivate,
		^uint64(0), 0, 0)
	t.Logf("mmap: %+v, %v", r, err)
	s.expectDeath(t)
}

// TestReferenceFrameAllocation: the C server allocates whatever frame
// length a client announces, before any handshake: one 24-byte header
// announcing 256 MiB grows its address space by 256 MiB. (The compiler
// turns its malloc and memset into calloc, so the pages are not touched
// until the body arrives; the resident size grows as the client sends.)
func TestReferenceFrameAllocation(t *testing.T) {
	s := startReference(t)
	vm0 := s.statusKB("VmSize")
	c := s.dial(t)
	c.write(hdr{len: 256 << 20, class: classReq, typ: typeHandshake,
		arg: hsGuest}.encode())
	var vm1 int
	for range 200 {
		if vm1 = s.statusKB("VmSize"); vm1 > vm0+200<<10 {
			break
		}
		sleep()
	}
	t.Logf("VmSize %d kB before, %d kB after one 24-byte header", vm0,
		vm1)
	if vm1 < vm0+200<<10 {
		t.Errorf("the reference did not allocate the announced frame")
	}
}
