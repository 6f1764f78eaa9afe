package core

// LWP is an opaque handle on a kernel lwp (a struct lwp pointer on the C
// side). The server stores it and hands it back; it never dereferences it.
type LWP uintptr

// Cookie identifies a client to the kernel. The server passes it to rfork,
// and the kernel passes it back on every copyin, copyout, anonmmap and raise
// it makes for that client. It is a number, never a pointer: a cookie that
// outlives its client resolves to nothing and the call fails with EFAULT.
type Cookie uintptr

// SyscallResult is what the kernel answered to one system call.
type SyscallResult struct {
	Errno  Errno    // 0 on success
	Retval [2]int64 // register_t return values
}

// Kernel is the rump kernel as the server uses it. Every method is one whole
// hypercall sequence (schedule, lwproc operations, unschedule) that the
// implementation runs on a single OS thread, leaving that thread with no
// current lwp. Names are NUL-terminated byte strings.
//
// Methods may be called concurrently from many goroutines.
type Kernel interface {
	// NewGuest forks a new process from proc 1 with an empty descriptor
	// table, named name and bound to c, and returns its main lwp and pid.
	NewGuest(c Cookie, name []byte) (LWP, int32, Errno)

	// Prefork forks a process from parent's process with a copy of its
	// descriptor table, bound to c, and returns the new process's lwp.
	Prefork(c Cookie, parent LWP) (LWP, Errno)

	// AdoptFork forks again from the preforked process pre, sharing its
	// descriptors, binds the new process to c and releases pre. It
	// returns the new main lwp and pid. On failure pre is released too.
	AdoptFork(c Cookie, pre LWP) (LWP, int32, Errno)

	// Release releases l (and with the last lwp, its process).
	Release(l LWP)

	// Exit marks every lwp of l's process as exiting, so that blocked
	// system calls of that process return.
	Exit(l LWP)

	// ExecNotify tells the kernel that l's process now runs the program
	// name.
	ExecNotify(l LWP, name []byte)

	// Syscall runs system call num with the argument block args in a
	// new lwp of process pid and releases the lwp afterwards. If the
	// lwp cannot be made, the result carries that error and retval[0]
	// is -1. tag identifies the call: the thread running it passes tag
	// back to the server's copy methods and to Fini, which tells the
	// client's own threads from the kernel's other threads.
	Syscall(pid int32, num int32, args []byte, tag uint64) SyscallResult
}

// maxControlCalls bounds the hypercall sequences other than system calls
// (handshakes, prefork, exit, release, exec) that run at once. Each holds
// an OS thread while it runs, and one may block on the kernel's virtual
// CPUs; without a bound, thousands of clients leaving together would make
// the runtime start a thread for each. System calls are bounded by the
// worker limit instead.
const maxControlCalls = 8

// controlled is a Kernel whose control sequences wait for one of a few
// slots; a waiting goroutine holds no thread.
type controlled struct {
	k     Kernel
	slots chan struct{}
}

func newControlled(k Kernel) controlled {
	return controlled{k: k, slots: make(chan struct{}, maxControlCalls)}
}

func (c controlled) enter() { c.slots <- struct{}{} }
func (c controlled) leave() { <-c.slots }

func (c controlled) NewGuest(ck Cookie, name []byte) (LWP, int32, Errno) {
	c.enter()
	defer c.leave()
	return c.k.NewGuest(ck, name)
}

func (c controlled) Prefork(ck Cookie, parent LWP) (LWP, Errno) {
	c.enter()
	defer c.leave()
	return c.k.Prefork(ck, parent)
}

func (c controlled) AdoptFork(ck Cookie, pre LWP) (LWP, int32, Errno) {
	c.enter()
	defer c.leave()
	return c.k.AdoptFork(ck, pre)
}

func (c controlled) Release(l LWP) {
	c.enter()
	defer c.leave()
	c.k.Release(l)
}

func (c controlled) Exit(l LWP) {
	c.enter()
	defer c.leave()
	c.k.Exit(l)
}

func (c controlled) ExecNotify(l LWP, name []byte) {
	c.enter()
	defer c.leave()
	c.k.ExecNotify(l, name)
}

func (c controlled) Syscall(pid, num int32, args []byte, tag uint64) SyscallResult {
	return c.k.Syscall(pid, num, args, tag)
}
