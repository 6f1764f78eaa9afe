package core

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Errno is an error number of the rump kernel, in NetBSD's numbering. It is
// what crosses the C boundary; host errors are translated with ErrnoOf.
type Errno int32

// The NetBSD errno values the server produces or translates.
const (
	EPERM         Errno = 1
	ENOENT        Errno = 2
	ESRCH         Errno = 3
	EINTR         Errno = 4
	EIO           Errno = 5
	EBADF         Errno = 9
	EAGAIN        Errno = 35
	ENOMEM        Errno = 12
	EACCES        Errno = 13
	EFAULT        Errno = 14
	EBUSY         Errno = 16
	EEXIST        Errno = 17
	ENOTDIR       Errno = 20
	EINVAL        Errno = 22
	EMFILE        Errno = 24
	ENOSPC        Errno = 28
	EPIPE         Errno = 32
	ERANGE        Errno = 34
	EAFNOSUPPORT  Errno = 47
	EOPNOTSUPP    Errno = 45
	EADDRINUSE    Errno = 48
	EADDRNOTAVAIL Errno = 49
	ENOTCONN      Errno = 57
	ECONNREFUSED  Errno = 61
	ENAMETOOLONG  Errno = 63
	ENOSYS        Errno = 78
)

// Error returns a short text for e.
func (e Errno) Error() string {
	if s, ok := errnoText[e]; ok {
		return s
	}
	return fmt.Sprintf("errno %d", int32(e))
}

var errnoText = map[Errno]string{
	EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR",
	EIO: "EIO", EBADF: "EBADF", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
	EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY",
	EEXIST: "EEXIST", ENOTDIR: "ENOTDIR", EINVAL: "EINVAL",
	EMFILE: "EMFILE", ENOSPC: "ENOSPC", EPIPE: "EPIPE",
	ERANGE: "ERANGE", EAFNOSUPPORT: "EAFNOSUPPORT",
	EOPNOTSUPP: "EOPNOTSUPP", EADDRINUSE: "EADDRINUSE",
	EADDRNOTAVAIL: "EADDRNOTAVAIL", ENOTCONN: "ENOTCONN",
	ECONNREFUSED: "ECONNREFUSED", ENAMETOOLONG: "ENAMETOOLONG",
	ENOSYS: "ENOSYS",
}

// hostErrno maps the host's errno values that socket setup can produce to
// NetBSD's.
var hostErrno = map[unix.Errno]Errno{
	unix.EPERM: EPERM, unix.ENOENT: ENOENT, unix.EINTR: EINTR,
	unix.EIO: EIO, unix.EBADF: EBADF, unix.EAGAIN: EAGAIN,
	unix.ENOMEM: ENOMEM, unix.EACCES: EACCES,
	unix.EFAULT: EFAULT, unix.EBUSY: EBUSY,
	unix.EEXIST: EEXIST, unix.ENOTDIR: ENOTDIR,
	unix.EINVAL: EINVAL, unix.EMFILE: EMFILE,
	unix.ENOSPC: ENOSPC, unix.EPIPE: EPIPE,
	unix.ERANGE: ERANGE, unix.EAFNOSUPPORT: EAFNOSUPPORT,
	unix.EOPNOTSUPP: EOPNOTSUPP, unix.EADDRINUSE: EADDRINUSE,
	unix.EADDRNOTAVAIL: EADDRNOTAVAIL, unix.ENOTCONN: ENOTCONN,
	unix.ECONNREFUSED: ECONNREFUSED,
	unix.ENAMETOOLONG: ENAMETOOLONG, unix.ENOSYS: ENOSYS,
}

// ErrnoOf returns the NetBSD errno for err: err itself if it is an Errno,
// the translation of a host errno found in its chain, and EIO for anything
// else. nil maps to 0.
func ErrnoOf(err error) Errno {
	if err == nil {
		return 0
	}
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	var he unix.Errno
	if errors.As(err, &he) {
		if n, ok := hostErrno[he]; ok {
			return n
		}
	}
	return EIO
}
