package core

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// Syscall numbers the fake kernel knows. The first ones carry NetBSD's
// numbers; the rest exist only in tests.
const (
	sysRead   = 3
	sysWrite  = 4
	sysOpen   = 5
	sysGetpid = 20
	sysKill   = 37
	sysMmap   = 197
	sysReboot = 208
	sysBlock  = 1000 // blocks until the process is told to exit
	sysEcho   = 1001 // retval = first two argument words
	sysName   = 1002 // copies the process name out to args[0]
	sysAsync  = 1003 // like read, but the copyout runs on another goroutine
	sysAsyncP = 1004 // like sysAsync, with a pattern made from the address
)

type fakeProc struct {
	pid, ppid int32
	name      string
	cookie    Cookie
	exiting   bool
	lwps      int
	wake      chan struct{} // closed when exiting is set
}

// fakeKernel is a Kernel with processes, lwps and a few system calls that
// call back into the server the way the rump kernel does.
type fakeKernel struct {
	mu       sync.Mutex
	srvp     atomic.Pointer[Server]
	nextPID  int32
	nextLWP  LWP
	lwps     map[LWP]*fakeProc
	procs    map[int32]*fakeProc
	failFork bool
	lastErr  Errno // last copy error seen by a syscall
	finis    int
	noReboot bool
	blocked  chan int32 // receives the pid of each sysBlock caller
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{
		nextPID: 1,
		lwps:    make(map[LWP]*fakeProc),
		procs:   make(map[int32]*fakeProc),
		blocked: make(chan int32, 64),
	}
}

func (k *fakeKernel) newProcLocked(c Cookie, name string, ppid int32) (LWP, *fakeProc) {
	k.nextPID++
	p := &fakeProc{pid: k.nextPID, ppid: ppid, name: name, cookie: c,
		lwps: 1, wake: make(chan struct{})}
	k.procs[p.pid] = p
	k.nextLWP++
	k.lwps[k.nextLWP] = p
	return k.nextLWP, p
}

func (k *fakeKernel) NewGuest(c Cookie, name []byte) (LWP, int32, Errno) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failFork {
		return 0, 0, ENOMEM
	}
	l, p := k.newProcLocked(c, string(name[:len(name)-1]), 1)
	return l, p.pid, 0
}

func (k *fakeKernel) Prefork(c Cookie, parent LWP) (LWP, Errno) {
	k.mu.Lock()
	defer k.mu.Unlock()
	pp := k.lwps[parent]
	if k.failFork || pp == nil {
		return 0, EIO
	}
	l, _ := k.newProcLocked(c, pp.name, pp.pid)
	return l, 0
}

func (k *fakeKernel) AdoptFork(c Cookie, pre LWP) (LWP, int32, Errno) {
	k.mu.Lock()
	defer k.mu.Unlock()
	pp := k.lwps[pre]
	if k.failFork || pp == nil {
		k.releaseLocked(pre)
		return 0, 0, EIO
	}
	l, p := k.newProcLocked(c, pp.name, 1)
	k.releaseLocked(pre)
	return l, p.pid, 0
}

func (k *fakeKernel) releaseLocked(l LWP) {
	p := k.lwps[l]
	if p == nil {
		panic("release of unknown lwp")
	}
	delete(k.lwps, l)
	p.lwps--
	if p.lwps == 0 {
		delete(k.procs, p.pid)
	}
}

func (k *fakeKernel) Release(l LWP) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.releaseLocked(l)
}

func (k *fakeKernel) Exit(l LWP) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.lwps[l]
	if p != nil && !p.exiting {
		p.exiting = true
		close(p.wake)
	}
}

func (k *fakeKernel) ExecNotify(l LWP, name []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.lwps[l]
	p.name = string(name[:len(name)-1])
	p.exiting = false
	p.wake = make(chan struct{})
}

func (k *fakeKernel) nprocs() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.procs)
}

func (k *fakeKernel) setErr(e Errno) {
	k.mu.Lock()
	k.lastErr = e
	k.mu.Unlock()
}

func (k *fakeKernel) Syscall(pid int32, num int32, args []byte, tag uint64) SyscallResult {
	k.mu.Lock()
	p := k.procs[pid]
	if p == nil || p.exiting {
		k.mu.Unlock()
		return SyscallResult{Errno: ESRCH, Retval: [2]int64{-1, 0}}
	}
	p.lwps++
	wake := p.wake
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		p.lwps--
		if p.lwps == 0 {
			delete(k.procs, p.pid)
		}
		k.mu.Unlock()
	}()

	arg := func(i int) uint64 {
		if len(args) < 8*(i+1) {
			return 0
		}
		return binary.NativeEndian.Uint64(args[8*i:])
	}
	var r SyscallResult
	if (num == sysRead || num == sysWrite) && arg(2) > 16<<20 {
		return SyscallResult{Errno: EINVAL}
	}
	switch num {
	case sysGetpid:
		r.Retval = [2]int64{int64(p.pid), int64(p.ppid)}
	case sysEcho:
		r.Retval = [2]int64{int64(arg(0)), int64(arg(1))}
	case sysWrite: // write(fd, buf, n): copies in, answers a checksum
		buf := make([]byte, arg(2))
		if e := k.srvp.Load().CopyIn(p.cookie, tag, arg(1), buf); e != 0 {
			k.setErr(e)
			r.Errno = e
			break
		}
		var sum int64
		for _, b := range buf {
			sum += int64(b)
		}
		r.Retval = [2]int64{int64(len(buf)), sum}
	case sysRead: // read(fd, buf, n): copies out bytes i%251
		buf := make([]byte, arg(2))
		for i := range buf {
			buf[i] = byte(i % 251)
		}
		if e := k.srvp.Load().CopyOut(p.cookie, tag, arg(1), buf); e != 0 {
			r.Errno = e
			break
		}
		r.Retval[0] = int64(len(buf))
	case sysOpen: // open(path): answers the path length
		buf := make([]byte, 17)
		n, e := k.srvp.Load().CopyInStr(p.cookie, tag, arg(0), buf)
		if e != 0 {
			k.setErr(e)
			r.Errno = e
			break
		}
		r.Retval[0] = int64(n)
	case sysAsync: // a kernel I/O thread: no tag, the caller waits
		buf := make([]byte, arg(2))
		done := make(chan Errno)
		go func() {
			done <- k.srvp.Load().CopyOut(p.cookie, 0, arg(1), buf)
		}()
		if r.Errno = <-done; r.Errno != 0 {
			k.setErr(r.Errno)
		}
		r.Retval[0] = int64(len(buf))
	case sysAsyncP:
		buf := make([]byte, arg(2))
		for i := range buf {
			buf[i] = byte(uint64(i)*31 + arg(1)>>12)
		}
		done := make(chan Errno)
		go func() {
			done <- k.srvp.Load().CopyOut(p.cookie, 0, arg(1), buf)
		}()
		if r.Errno = <-done; r.Errno != 0 {
			k.setErr(r.Errno)
		}
		r.Retval[0] = int64(len(buf))
	case sysName:
		name := append([]byte(p.name), 0)
		r.Errno = k.srvp.Load().CopyOut(p.cookie, tag, arg(0), name)
	case sysMmap:
		a, e := k.srvp.Load().AnonMmap(p.cookie, tag, arg(1))
		r.Errno = e
		r.Retval[0] = int64(a)
	case sysKill:
		r.Errno = k.srvp.Load().Raise(p.cookie, tag, int32(arg(1)))
	case sysBlock:
		k.blocked <- pid
		<-wake
		r.Errno = EINTR
	case sysReboot:
		if k.noReboot {
			r.Errno = EPERM
			break
		}
		k.mu.Lock()
		k.finis++
		k.mu.Unlock()
		k.srvp.Load().Fini(p.cookie, tag)
	default:
		r.Errno = ENOSYS
	}
	return r
}
