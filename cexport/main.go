// Command cexport is built with -buildmode=c-archive into librumpsp.a, the
// drop-in replacement for librumpuser's rumpuser_sp.c. The C side (sp.c)
// defines the rumpuser_sp_* functions and calls the rumpsp_go_* functions
// exported here, which convert between C and Go and hand the calls to the
// server in package core, backed by the kernel of package hypercall.
//
// Build it with make, which runs mkarchive.sh: the archive needs the Go
// runtime's load-time start taken out (see sp.c). The package links only
// as an archive; "go build ./cexport" fails because rumpuser__hyp, the
// kernel's table, is left for the host to define.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include -I${SRCDIR}/../hypercall -Wall
#include <stddef.h>
#include <stdint.h>
#include "spwait.h"
*/
import "C"

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"rumpsp/core"
	"rumpsp/hypercall"
)

var (
	// mu serializes rumpuser_sp_init and is held while the server
	// starts, so that a callback arriving before Start has returned
	// waits for the server instead of failing.
	mu sync.Mutex

	// server is the running server, nil before a successful init. It is
	// stored under mu and read without it on the fast path.
	server atomic.Pointer[core.Server]
)

// current returns the running server, waiting for one that is being
// started, or nil if there is none.
func current() *core.Server {
	if s := server.Load(); s != nil {
		return s
	}
	mu.Lock()
	defer mu.Unlock()
	return server.Load()
}

// cbytes views n bytes of C memory at p as a slice.
func cbytes(p unsafe.Pointer, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(p), int(n))
}

//export rumpsp_go_init
func rumpsp_go_init(url, ostype, osrelease, machine *C.char,
	maxworker, idleworker C.int) C.int {
	mu.Lock()
	defer mu.Unlock()
	if server.Load() != nil {
		return C.int(core.EBUSY)
	}

	cfg := core.DefaultConfig()
	cfg.URL = C.GoString(url)
	cfg.OSType = C.GoString(ostype)
	cfg.OSRelease = C.GoString(osrelease)
	cfg.Machine = C.GoString(machine)
	cfg.MaxWorker = int(maxworker)
	cfg.IdleWorker = int(idleworker)
	if idleworker == 0 {
		// Zero means "the default" to core, but "keep none" here.
		cfg.IdleWorker = -1
	}

	// Most of the runtime's Ps are held by threads that sit in the kernel
	// (a cgo call per running system call, a wait per copyin), and a P
	// held that way is only taken back by sysmon, tens of microseconds
	// or more later. Twice as many Ps as CPUs keeps the goroutines that
	// read the sockets running meanwhile; BENCHMARKS.md has the figures.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(2 * runtime.NumCPU())
	}

	s, err := core.Start(hypercall.Kernel{}, cfg)
	if err != nil {
		return C.int(core.ErrnoOf(err))
	}
	server.Store(s)
	return 0
}

// waker returns the Done that wakes the C thread waiting on the struct
// rumpsp_wait at w. core hands it 0, EFAULT or (a failed client mmap)
// ENOMEM, which are what the kernel expects.
func waker(w C.uintptr_t) core.Done {
	return func(n uint64, e core.Errno) {
		C.rumpsp_wait_done(w, C.uint64_t(n), C.int(e))
	}
}

//export rumpsp_go_copyin_start
func rumpsp_go_copyin_start(cookie C.uintptr_t, tag C.uint64_t,
	raddr C.uintptr_t, laddr unsafe.Pointer, n C.size_t,
	w C.uintptr_t) C.int {
	s := current()
	if s == nil {
		return C.int(core.EFAULT)
	}
	return C.int(s.StartCopyIn(core.Cookie(cookie), uint64(tag),
		uint64(raddr), cbytes(laddr, n), waker(w)))
}

//export rumpsp_go_copyinstr_start
func rumpsp_go_copyinstr_start(cookie C.uintptr_t, tag C.uint64_t,
	raddr C.uintptr_t, laddr unsafe.Pointer, n C.size_t,
	w C.uintptr_t) C.int {
	s := current()
	if s == nil {
		return C.int(core.EFAULT)
	}
	return C.int(s.StartCopyInStr(core.Cookie(cookie), uint64(tag),
		uint64(raddr), cbytes(laddr, n), waker(w)))
}

//export rumpsp_go_copyout
func rumpsp_go_copyout(cookie C.uintptr_t, tag C.uint64_t,
	raddr C.uintptr_t, laddr unsafe.Pointer, n C.size_t) C.int {
	s := current()
	if s == nil {
		return C.int(core.EFAULT)
	}
	return C.int(s.CopyOut(core.Cookie(cookie), uint64(tag),
		uint64(raddr), cbytes(laddr, n)))
}

//export rumpsp_go_anonmmap_start
func rumpsp_go_anonmmap_start(cookie C.uintptr_t, tag C.uint64_t,
	howmuch C.size_t, w C.uintptr_t) C.int {
	s := current()
	if s == nil {
		return C.int(core.EFAULT)
	}
	return C.int(s.StartAnonMmap(core.Cookie(cookie), uint64(tag),
		uint64(howmuch), waker(w)))
}

//export rumpsp_go_raise
func rumpsp_go_raise(cookie C.uintptr_t, tag C.uint64_t,
	signo C.int) C.int {
	s := current()
	if s == nil {
		return C.int(core.EFAULT)
	}
	return C.int(s.Raise(core.Cookie(cookie), uint64(tag), int32(signo)))
}

//export rumpsp_go_fini
func rumpsp_go_fini(cookie C.uintptr_t, tag C.uint64_t) {
	if s := current(); s != nil {
		s.Fini(core.Cookie(cookie), uint64(tag))
	}
}

// main is required of a c-archive's package main but never runs.
func main() {}
