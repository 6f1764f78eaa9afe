package hypercall_test

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"rumpsp/core"
	"rumpsp/hypercall"
	"rumpsp/hypercall/internal/fakekern"
)

// onThread runs f on a goroutine locked to one OS thread, then checks that
// the thread was left as the kernel needs it: no current lwp, no virtual
// CPU held, and no discipline broken along the way.
func onThread(t *testing.T, f func()) {
	t.Helper()
	done := make(chan [2]uintptr)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		f()
		l, cpu := fakekern.ThreadState()
		done <- [2]uintptr{l, uintptr(cpu)}
	}()
	st := <-done
	if st[0] != 0 || st[1] != 0 {
		t.Errorf("thread left with lwp %#x, cpu %d", st[0], st[1])
	}
	if v := fakekern.Violations(); v != 0 {
		t.Errorf("%d hypercalls broke the discipline", v)
	}
}

func wantTrace(t *testing.T, want ...string) {
	t.Helper()
	got := strings.Join(fakekern.Trace(), " ")
	if w := strings.Join(want, " "); got != w {
		t.Errorf("trace\n got %s\nwant %s", got, w)
	}
}

func newGuest(t *testing.T, k hypercall.Kernel) (core.LWP, int) {
	t.Helper()
	l, pid, e := k.NewGuest(5, []byte("guest\x00"))
	if e != 0 || l == 0 || pid < 2 {
		t.Fatalf("NewGuest = %#x, %d, %v", l, pid, e)
	}
	return l, fakekern.LWPID(uintptr(l))
}

func TestNewGuest(t *testing.T) {
	k := hypercall.Kernel{}
	fakekern.Reset(0, false)
	onThread(t, func() { newGuest(t, k) })
	wantTrace(t, "rfork(5,2,guest)", "curlwp", "getpid", "switch(0)")

	// A name without its NUL gets one rather than a read past it.
	fakekern.Reset(0, false)
	onThread(t, func() { k.NewGuest(6, []byte("bare")) })
	wantTrace(t, "rfork(6,2,bare)", "curlwp", "getpid", "switch(0)")

	fakekern.Reset(int(core.EAGAIN), false)
	onThread(t, func() {
		if _, _, e := k.NewGuest(5, []byte("x\x00")); e != core.EAGAIN {
			t.Errorf("failing NewGuest = %v", e)
		}
	})
	wantTrace(t, "rfork(5,2,x)")
}

func TestPrefork(t *testing.T) {
	k := hypercall.Kernel{}
	fakekern.Reset(0, false)
	var parent core.LWP
	var pid int
	onThread(t, func() { parent, pid = newGuest(t, k) })

	fakekern.Reset(0, false)
	onThread(t, func() {
		l, e := k.Prefork(7, parent)
		if e != 0 || l == 0 {
			t.Errorf("Prefork = %#x, %v", l, e)
		}
	})
	wantTrace(t, fmt.Sprintf("switch(%d)", pid), "rfork(7,1,-)", "curlwp",
		"switch(0)")

	fakekern.Reset(int(core.ENOMEM), false)
	onThread(t, func() {
		if _, e := k.Prefork(7, parent); e != core.ENOMEM {
			t.Errorf("failing Prefork = %v", e)
		}
	})
	wantTrace(t, fmt.Sprintf("switch(%d)", pid), "rfork(7,1,-)",
		"switch(0)")
}

func TestAdoptFork(t *testing.T) {
	k := hypercall.Kernel{}
	fakekern.Reset(0, false)
	var pre core.LWP
	var id int
	onThread(t, func() { pre, id = newGuest(t, k) })

	fakekern.Reset(0, false)
	onThread(t, func() {
		l, pid, e := k.AdoptFork(9, pre)
		if e != 0 || l == 0 || l == pre || pid < 2 {
			t.Errorf("AdoptFork = %#x, %d, %v", l, pid, e)
		}
	})
	sw := fmt.Sprintf("switch(%d)", id)
	wantTrace(t, sw, "rfork(9,0,-)", "curlwp", "getpid", sw,
		fmt.Sprintf("release(%d)", id), "switch(0)")

	fakekern.Reset(0, false)
	onThread(t, func() { pre, id = newGuest(t, k) })
	fakekern.Reset(int(core.EAGAIN), false)
	onThread(t, func() {
		if _, _, e := k.AdoptFork(9, pre); e != core.EAGAIN {
			t.Errorf("failing AdoptFork = %v", e)
		}
	})
	wantTrace(t, fmt.Sprintf("switch(%d)", id), "rfork(9,0,-)",
		fmt.Sprintf("release(%d)", id))
}

func TestLifecycle(t *testing.T) {
	k := hypercall.Kernel{}
	fakekern.Reset(0, false)
	var l core.LWP
	var id int
	onThread(t, func() { l, id = newGuest(t, k) })
	sw := fmt.Sprintf("switch(%d)", id)

	fakekern.Reset(0, false)
	onThread(t, func() { k.ExecNotify(l, []byte("newprog\x00")) })
	wantTrace(t, sw, fmt.Sprintf("exec(%d,newprog)", id), "switch(0)")

	fakekern.Reset(0, false)
	onThread(t, func() { k.Exit(l) })
	wantTrace(t, sw, fmt.Sprintf("lwpexit(%d)", id), "switch(0)")

	fakekern.Reset(0, false)
	onThread(t, func() { k.Release(l) })
	wantTrace(t, sw, fmt.Sprintf("release(%d)", id))
}

func args(v ...int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.NativeEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

func TestSyscall(t *testing.T) {
	k := hypercall.Kernel{}
	fakekern.Reset(0, false)
	onThread(t, func() {
		// The fixture reads nine arguments whatever it is given, and
		// answers the tag and their sum: a short block is padded
		// with zeros.
		r := k.Syscall(42, 20, args(1, 2, 3), 0xabc)
		if r.Errno != 0 || r.Retval != [2]int64{0xabc, 6} {
			t.Errorf("Syscall = %+v", r)
		}
	})
	tr := fakekern.Trace()
	if len(tr) != 3 || tr[0] != "newlwp(42)" || tr[1] != "syscall(20)" ||
		!strings.HasPrefix(tr[2], "release(") {
		t.Errorf("trace %v", tr)
	}

	onThread(t, func() {
		r := k.Syscall(42, 1, args(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 1)
		if r.Retval[1] != 45 {
			t.Errorf("long block: %+v", r)
		}
		r = k.Syscall(42, 1, nil, 1)
		if r.Errno != 0 || r.Retval[1] != 0 {
			t.Errorf("empty block: %+v", r)
		}
		r = k.Syscall(42, fakekern.FailSys, nil, 2)
		if r.Errno != core.EIO {
			t.Errorf("failing syscall: %+v", r)
		}
	})

	fakekern.Reset(0, false)
	onThread(t, func() {
		r := k.Syscall(fakekern.NoPid, 20, nil, 3)
		if r.Errno != core.ESRCH || r.Retval[0] != -1 {
			t.Errorf("Syscall in a dead process = %+v", r)
		}
	})
	wantTrace(t, fmt.Sprintf("newlwp(%d)", fakekern.NoPid))
}

// Tags are per thread: concurrent system calls each see their own.
func TestSyscallConcurrent(t *testing.T) {
	k := hypercall.Kernel{}
	fakekern.Reset(0, true)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				tag := uint64(g<<16 | i + 1)
				r := k.Syscall(42, 1, nil, tag)
				if r.Retval[0] != int64(tag) {
					t.Errorf("tag %#x seen as %#x", tag,
						r.Retval[0])
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := fakekern.Violations(); v != 0 {
		t.Errorf("%d hypercalls broke the discipline", v)
	}
}

// BenchmarkSyscall measures one cgo call running newlwp, syscall and
// release against a kernel that does almost nothing.
func BenchmarkSyscall(b *testing.B) {
	k := hypercall.Kernel{}
	fakekern.Reset(0, true)
	a := args(1, 2, 3)
	for b.Loop() {
		k.Syscall(42, 1, a, 1)
	}
}

// BenchmarkSyscallParallel is BenchmarkSyscall from many goroutines.
func BenchmarkSyscallParallel(b *testing.B) {
	k := hypercall.Kernel{}
	fakekern.Reset(0, true)
	b.RunParallel(func(pb *testing.PB) {
		a := args(1, 2, 3)
		for pb.Next() {
			k.Syscall(42, 1, a, 1)
		}
	})
}
