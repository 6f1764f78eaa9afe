// Package hypercall is the only code that calls into the rump kernel, through
// the table rumpuser__hyp that the hypervisor layer defines. Each method of
// Kernel is one whole hypercall sequence written in C and entered through a
// single cgo call: a cgo call never changes OS thread, and the kernel keeps
// the current lwp per thread, so the sequence cannot be split across threads.
package hypercall

/*
#cgo CFLAGS: -I${SRCDIR}/../include -Wall
#include "hypercall.h"
*/
import "C"

import (
	"bytes"
	"unsafe"

	"rumpsp/core"
)

// Kernel is the rump kernel reached through rumpuser__hyp. It has no state;
// the zero value is ready to use and safe for concurrent use.
type Kernel struct{}

var _ core.Kernel = Kernel{}

// cstr returns name as a NUL-terminated string, appending the NUL if name
// lacks one, so that C never reads past the slice.
func cstr(name []byte) []byte {
	if bytes.IndexByte(name, 0) >= 0 {
		return name
	}
	s := make([]byte, len(name)+1)
	copy(s, name)
	return s
}

// NewGuest implements core.Kernel.
func (Kernel) NewGuest(c core.Cookie, name []byte) (core.LWP, int32, core.Errno) {
	var l C.uintptr_t
	var pid C.int

	s := cstr(name)
	e := C.rumpsp_hyp_newguest(C.uintptr_t(c),
		(*C.char)(unsafe.Pointer(&s[0])), &l, &pid)
	if e != 0 {
		return 0, 0, core.Errno(e)
	}
	return core.LWP(l), int32(pid), 0
}

// Prefork implements core.Kernel.
func (Kernel) Prefork(c core.Cookie, parent core.LWP) (core.LWP, core.Errno) {
	var l C.uintptr_t

	e := C.rumpsp_hyp_prefork(C.uintptr_t(c), C.uintptr_t(parent), &l)
	if e != 0 {
		return 0, core.Errno(e)
	}
	return core.LWP(l), 0
}

// AdoptFork implements core.Kernel.
func (Kernel) AdoptFork(c core.Cookie, pre core.LWP) (core.LWP, int32, core.Errno) {
	var l C.uintptr_t
	var pid C.int

	e := C.rumpsp_hyp_adoptfork(C.uintptr_t(c), C.uintptr_t(pre), &l, &pid)
	if e != 0 {
		return 0, 0, core.Errno(e)
	}
	return core.LWP(l), int32(pid), 0
}

// Release implements core.Kernel.
func (Kernel) Release(l core.LWP) {
	C.rumpsp_hyp_release(C.uintptr_t(l))
}

// Exit implements core.Kernel.
func (Kernel) Exit(l core.LWP) {
	C.rumpsp_hyp_exit(C.uintptr_t(l))
}

// ExecNotify implements core.Kernel.
func (Kernel) ExecNotify(l core.LWP, name []byte) {
	s := cstr(name)
	C.rumpsp_hyp_execnotify(C.uintptr_t(l), (*C.char)(unsafe.Pointer(&s[0])))
}

// Syscall implements core.Kernel. The argument block is handed to the
// kernel in place; it holds no Go pointers and C keeps it only for the
// duration of the call, as cgo requires.
func (Kernel) Syscall(pid int32, num int32, args []byte, tag uint64) core.SyscallResult {
	var res C.struct_rumpsp_sysres
	var p unsafe.Pointer

	if len(args) > 0 {
		p = unsafe.Pointer(&args[0])
	}
	C.rumpsp_hyp_syscall(C.int(pid), C.int(num), p, C.size_t(len(args)),
		C.uint64_t(tag), &res)
	return core.SyscallResult{
		Errno: core.Errno(res.sr_errno),
		Retval: [2]int64{int64(res.sr_retval[0]),
			int64(res.sr_retval[1])},
	}
}
