/*
 * demokern.h: the demo kernel's user-visible ABI.
 *
 * The demo kernel stands behind rumpuser__hyp the way a NetBSD rump kernel
 * does, so that a sysproxy server can be tested without NetBSD.  Its
 * system calls use NetBSD numbers, NetBSD argument layouts (every argument
 * padded to a register_t, 8 bytes on LP64) and NetBSD errno values, so a
 * stock librumpclient program could talk to it.  Clients include this
 * header for the numbers; nothing here depends on the kernel's internals.
 */

#ifndef _DEMOKERN_H_
#define _DEMOKERN_H_

/* System call numbers, as in NetBSD's syscalls.master. */
#define DK_SYS_read		3	/* (int fd, void *buf, size_t n) */
#define DK_SYS_write		4	/* (int fd, const void *buf, size_t n) */
#define DK_SYS_open		5	/* (const char *path, int flags, mode) */
#define DK_SYS_close		6	/* (int fd) */
#define DK_SYS_getpid		20	/* () -> pid, ppid */
#define DK_SYS_kill		37	/* (pid_t pid, int signo) */
#define DK_SYS_getppid		39	/* () -> ppid */
#define DK_SYS_pipe		42	/* () -> read fd, write fd */
#define DK_SYS___getlogin	49	/* (char *buf, size_t len) */
#define DK_SYS___setlogin	50	/* (const char *name) */
#define DK_SYS_mmap		197	/* (addr, len, prot, flags, fd, PAD, off) */
#define DK_SYS_lseek		199	/* (int fd, PAD, off_t off, int whence) */
#define DK_SYS_reboot		208	/* (int howto, char *bootstr) */

/*
 * Private system calls for tests.  They let a test observe kernel state
 * that no NetBSD system call shows.
 */
/* () -> number of live processes, pid 1 included. */
#define DK_SYS_nproc		501
/* (char *buf, size_t len): the caller's process name, with its NUL. */
#define DK_SYS_getname		502
/*
 * () -> retval[0]: how many rumpuser_sp_* calls made by the kernel have
 * failed with EFAULT so far; retval[1]: the last nonzero error any of them
 * returned.  A client that vanishes in the middle of a copy shows up here.
 */
#define DK_SYS_faults		503
/* (pid_t pid) -> parent pid, number of lwps; ESRCH if there is none. */
#define DK_SYS_procinfo		504

/* open(2) flags, NetBSD values. */
#define DK_O_RDONLY	0x0000
#define DK_O_WRONLY	0x0001
#define DK_O_RDWR	0x0002
#define DK_O_ACCMODE	0x0003
#define DK_O_APPEND	0x0008
#define DK_O_CREAT	0x0200
#define DK_O_TRUNC	0x0400
#define DK_O_EXCL	0x0800

/* mmap(2) flags, NetBSD values; only anonymous mappings are supported. */
#define DK_PROT_READ	0x01
#define DK_PROT_WRITE	0x02
#define DK_MAP_PRIVATE	0x0002
#define DK_MAP_ANON	0x1000

/* lseek(2) whence. */
#define DK_SEEK_SET	0
#define DK_SEEK_CUR	1
#define DK_SEEK_END	2

/* errno values, NetBSD numbering (they differ from Linux from 35 on). */
#define DK_EPERM	1
#define DK_ENOENT	2
#define DK_ESRCH	3
#define DK_EINTR	4
#define DK_EIO		5
#define DK_EBADF	9
#define DK_ENOMEM	12
#define DK_EFAULT	14
#define DK_EBUSY	16
#define DK_EEXIST	17
#define DK_EINVAL	22
#define DK_EMFILE	24
#define DK_EFBIG	27
#define DK_ESPIPE	29
#define DK_EPIPE	32
#define DK_EAGAIN	35
#define DK_EOPNOTSUPP	45
#define DK_ENOTCONN	57
#define DK_ENAMETOOLONG	63
#define DK_ENOSYS	78

/*
 * Signals are passed through unchanged; tests use ones numbered the same
 * on NetBSD and Linux (SIGHUP 1, SIGPIPE 13, SIGTERM 15).
 */
#define DK_SIGPIPE	13
#define DK_NSIG		64

/* Limits. */
#define DK_MAXPATHLEN	1024	/* open(2) path buffer, NUL included */
#define DK_MAXLOGNAME	17	/* __setlogin buffer, NUL included */
#define DK_MAXCOMLEN	16	/* process name, NUL excluded */
#define DK_PIPESIZE	65536	/* bytes a pipe buffers */
#define DK_MAXFILESIZE	(256 * 1024 * 1024) /* regular file size */

/*
 * Host side: set up pid 1 and the kernel threads.  Call once, before
 * rumpuser_sp_init and after any fork().  rumpuser__hyp itself is
 * statically initialised.
 */
void	demokern_init(void);

#endif /* _DEMOKERN_H_ */
