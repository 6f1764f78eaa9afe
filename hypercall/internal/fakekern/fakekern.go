// Package fakekern is a test fixture for package hypercall: it defines the
// rumpuser__hyp table that a real rump kernel would, records each
// hypercall in a trace and counts breaches of the calling discipline.
// Importing it (in tests only) supplies the symbol the hypercall package
// leaves undefined.
package fakekern

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include -Wall
#include "fakekern.h"
*/
import "C"

import (
	"strings"
	"unsafe"
)

// NoPid is a pid for which newlwp fails with ESRCH.
const NoPid = C.FK_NOPID

// FailSys is a system call number that fails with EIO.
const FailSys = C.FK_FAILSYS

// Reset clears the trace and the violation count. rforkErr, when not 0,
// is what every following rfork fails with. quiet turns the trace off, so
// that benchmarks measure the calls rather than the tracing.
func Reset(rforkErr int, quiet bool) {
	q := 0
	if quiet {
		q = 1
	}
	C.fk_reset(C.int(rforkErr), C.int(q))
}

// Trace returns the hypercalls made since Reset, in order.
func Trace() []string {
	buf := make([]byte, 8192)
	n := C.fk_gettrace((*C.char)(unsafe.Pointer(&buf[0])),
		C.size_t(len(buf)))
	s := strings.TrimSuffix(string(buf[:n]), ";")
	if s == "" {
		return nil
	}
	return strings.Split(s, ";")
}

// Violations returns how many hypercalls broke the discipline since Reset.
func Violations() int {
	return int(C.fk_getviolations())
}

// ThreadState returns the calling OS thread's current lwp (0 for none) and
// virtual CPU nesting. Meaningful only on a goroutine locked to its thread.
func ThreadState() (lwp uintptr, cpu int) {
	return uintptr(C.fk_thread_curlwp()), int(C.fk_thread_cpu())
}

// LWPID returns the trace's number for the lwp handle l.
func LWPID(l uintptr) int {
	return int(C.fk_lwpid(C.uintptr_t(l)))
}
