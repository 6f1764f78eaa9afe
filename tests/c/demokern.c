/*
 * demokern.c: a small kernel behind rumpuser__hyp for testing sysproxy
 * servers without NetBSD.
 *
 * It models what a server can get wrong: virtual CPUs that must be held
 * around every hypercall and given up around every wait for a client,
 * a current lwp kept per host thread, processes created by rfork with the
 * three descriptor table policies, lwps that go away with release, and
 * system calls that block (pipes) or hand their copyout and signal work to
 * kernel threads of their own, as a real rump kernel does.  Misuse of the
 * hypercall interface aborts with a message saying what went wrong, so a
 * server bug shows up as a dead server and a line on its stderr.
 *
 * Locking: one mutex, klock, protects every process, lwp, file, pipe and
 * queue.  The virtual CPUs have their own mutex.  A thread may take klock
 * while holding a CPU but never waits for a CPU while holding klock.
 * Nothing calls rumpuser_sp_* with klock held: those calls wait for the
 * network.
 */

#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rump/rumpuser.h>

#include "demokern.h"

#define NCPU		4	/* virtual CPUs */
#define NFD		64	/* descriptors per process */
#define NIOTHREAD	2	/* kernel threads doing file reads */
#define CHUNK		65536	/* bytes moved per copyin or copyout */

static int	dk_debug;

#define DPRINTF(x) do {							\
	if (dk_debug)							\
		dprintf_ x;						\
} while (/*CONSTCOND*/0)

static void
dprintf_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "demokern: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/*
 * A kernel invariant broken by the caller (the server): say what and die
 * the way a rump kernel panics.
 */
static void __attribute__((__noreturn__, __format__(__printf__, 1, 2)))
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "demokern: panic: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

enum ftype { FT_REG, FT_NULL, FT_ZERO, FT_PIPER, FT_PIPEW };

/* A regular file of the in-memory store; lives until the kernel exits. */
struct node {
	char		*n_name;
	unsigned char	*n_data;
	size_t		 n_len;
	size_t		 n_cap;
	struct node	*n_next;
};

/* A pipe; freed when both ends are closed. */
struct pipe {
	unsigned char	 p_buf[DK_PIPESIZE];
	size_t		 p_head;	/* index of the oldest byte */
	size_t		 p_len;		/* bytes buffered */
	int		 p_readers;	/* open read ends */
	int		 p_writers;	/* open write ends */
};

/*
 * An open file.  f_ref counts descriptor slots and system calls in
 * progress that use it, so a close on another lwp cannot free it under
 * a blocked read.
 */
struct file {
	enum ftype	 f_type;
	int		 f_ref;
	int		 f_flags;	/* DK_O_* given to open */
	off_t		 f_off;
	struct node	*f_node;	/* FT_REG */
	struct pipe	*f_pipe;	/* FT_PIPER, FT_PIPEW */
};

/* A descriptor table, shared by processes forked with RUMP_RFFD_SHARE. */
struct fdtab {
	int		 fdt_ref;
	struct file	*fdt_file[NFD];
};

struct proc {
	pid_t		 p_pid;
	pid_t		 p_ppid;
	void		*p_cookie;	/* the server's client, NULL if local */
	int		 p_nlwps;
	int		 p_exiting;	/* set by lwpexit, cleared by exec */
	char		 p_comm[DK_MAXCOMLEN + 1];
	char		 p_login[DK_MAXLOGNAME];
	struct fdtab	*p_fdt;
	struct proc	*p_next;
};

#define LWP_MAGIC	0x6c777021u
#define LWP_DEAD	0xdeadbeefu

struct lwp {
	unsigned	 l_magic;
	int		 l_lid;
	struct proc	*l_proc;
};

/* A file read handed to an I/O thread. */
struct ioreq {
	void		*io_cookie;
	struct node	*io_node;
	off_t		 io_off;
	void		*io_uaddr;
	size_t		 io_len;
	size_t		 io_done;	/* bytes copied out */
	int		 io_error;
	int		 io_finished;
	struct ioreq	*io_next;
};

/* A signal handed to the signal thread. */
struct sigreq {
	void		*sr_cookie;
	int		 sr_signo;
	int		 sr_finished;
	struct sigreq	*sr_next;
};

static pthread_mutex_t klock = PTHREAD_MUTEX_INITIALIZER;
/* Broadcast on any change a blocked system call may wait for. */
static pthread_cond_t kcv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t iocv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t sigcv = PTHREAD_COND_INITIALIZER;

/* All below protected by klock. */
static struct proc	*allproc;
static struct proc	*proc1;
static int		 nprocs;
static pid_t		 nextpid = 2;
static int		 nextlid = 1;
static struct node	*store;
static struct ioreq	*ioq;
static struct sigreq	*sigq;
static long		 nfaults;	/* rumpuser_sp_* calls that gave EFAULT */
static long		 lastsperror;	/* last nonzero rumpuser_sp_* error */

static pthread_mutex_t cpulock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cpucv = PTHREAD_COND_INITIALIZER;
static int ncpufree = NCPU;	/* protected by cpulock */

static __thread int	 t_hascpu;	/* this thread holds a virtual CPU */
static __thread int	 t_unsched;	/* backend_unschedule depth */
static __thread struct lwp *t_curlwp;

/*
 * Virtual CPUs.
 */

static void
cpu_take(void)
{

	pthread_mutex_lock(&cpulock);
	while (ncpufree == 0)
		pthread_cond_wait(&cpucv, &cpulock);
	ncpufree--;
	pthread_mutex_unlock(&cpulock);
	t_hascpu = 1;
}

static void
cpu_put(void)
{

	t_hascpu = 0;
	pthread_mutex_lock(&cpulock);
	ncpufree++;
	pthread_cond_signal(&cpucv);
	pthread_mutex_unlock(&cpulock);
}

static void
needcpu(const char *what)
{

	if (!t_hascpu)
		panic("%s called without a virtual CPU", what);
}

static void
hyp_schedule(void)
{

	if (t_hascpu)
		panic("hyp_schedule: thread already holds a virtual CPU");
	cpu_take();
}

static void
hyp_unschedule(void)
{

	if (!t_hascpu)
		panic("hyp_unschedule: thread holds no virtual CPU");
	cpu_put();
}

static void
hyp_backend_unschedule(int nlocks_in, int *nlocks, void *interlock)
{

	if (!t_hascpu)
		panic("hyp_backend_unschedule: thread holds no virtual CPU");
	if (interlock != NULL)
		panic("hyp_backend_unschedule: unexpected interlock %p",
		    interlock);
	/* The demo kernel has no big lock, so there is none to hand back. */
	if (nlocks != NULL)
		*nlocks = 0;
	t_unsched++;
	cpu_put();
}

static void
hyp_backend_schedule(int nlocks, void *interlock)
{

	if (t_unsched == 0)
		panic("hyp_backend_schedule without hyp_backend_unschedule");
	if (t_hascpu)
		panic("hyp_backend_schedule: thread already holds a CPU "
		    "(hyp_schedule not undone by hyp_unschedule?)");
	if (nlocks != 0)
		panic("hyp_backend_schedule: nlocks %d, expected 0", nlocks);
	if (interlock != NULL)
		panic("hyp_backend_schedule: unexpected interlock %p",
		    interlock);
	cpu_take();
	t_unsched--;
}

/*
 * Block on cv with klock held, without holding a CPU while asleep, the
 * way a kernel thread gives up its CPU when it sleeps.
 */
static void
kwait(pthread_cond_t *cv)
{
	int nlocks;

	hyp_backend_unschedule(0, &nlocks, NULL);
	pthread_cond_wait(cv, &klock);
	pthread_mutex_unlock(&klock);
	hyp_backend_schedule(nlocks, NULL);
	pthread_mutex_lock(&klock);
}

/*
 * Processes, lwps, descriptors.
 */

static struct proc *
pfind_locked(pid_t pid)
{
	struct proc *p;

	for (p = allproc; p != NULL; p = p->p_next)
		if (p->p_pid == pid)
			return p;
	return NULL;
}

static struct lwp *
lwp_alloc_locked(struct proc *p)
{
	struct lwp *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->l_magic = LWP_MAGIC;
	l->l_lid = nextlid++;
	l->l_proc = p;
	p->p_nlwps++;
	return l;
}

static void
checklwp(struct lwp *l, const char *what)
{

	if (l->l_magic != LWP_MAGIC)
		panic("%s: %p is not a live lwp (magic %#x)", what, (void *)l,
		    l->l_magic);
}

static void
pipe_closeend_locked(struct pipe *pp, int writer)
{

	if (writer)
		pp->p_writers--;
	else
		pp->p_readers--;
	pthread_cond_broadcast(&kcv);
	if (pp->p_readers == 0 && pp->p_writers == 0)
		free(pp);
}

static void
fdrop_locked(struct file *f)
{

	if (--f->f_ref > 0)
		return;
	if (f->f_type == FT_PIPER || f->f_type == FT_PIPEW)
		pipe_closeend_locked(f->f_pipe, f->f_type == FT_PIPEW);
	free(f);
}

static struct fdtab *
fdtab_copy_locked(struct fdtab *from)
{
	struct fdtab *fdt;
	int i;

	if ((fdt = calloc(1, sizeof(*fdt))) == NULL)
		return NULL;
	fdt->fdt_ref = 1;
	for (i = 0; from != NULL && i < NFD; i++) {
		if ((fdt->fdt_file[i] = from->fdt_file[i]) != NULL)
			fdt->fdt_file[i]->f_ref++;
	}
	return fdt;
}

static void
fdtab_drop_locked(struct fdtab *fdt)
{
	int i;

	if (--fdt->fdt_ref > 0)
		return;
	for (i = 0; i < NFD; i++)
		if (fdt->fdt_file[i] != NULL)
			fdrop_locked(fdt->fdt_file[i]);
	free(fdt);
}

/* Free a process whose last lwp is gone; its children go to pid 1. */
static void
proc_free_locked(struct proc *p)
{
	struct proc **pp, *q;

	for (pp = &allproc; *pp != p; pp = &(*pp)->p_next)
		continue;
	*pp = p->p_next;
	for (q = allproc; q != NULL; q = q->p_next)
		if (q->p_ppid == p->p_pid)
			q->p_ppid = 1;
	fdtab_drop_locked(p->p_fdt);
	nprocs--;
	DPRINTF(("pid %d exits, %d processes left", p->p_pid, nprocs));
	free(p);
	pthread_cond_broadcast(&kcv);
}

static void
hyp_lwproc_switch(struct lwp *l)
{

	needcpu("hyp_lwproc_switch");
	if (l != NULL)
		checklwp(l, "hyp_lwproc_switch");
	t_curlwp = l;
}

static void
hyp_lwproc_release(void)
{
	struct lwp *l = t_curlwp;
	struct proc *p;

	needcpu("hyp_lwproc_release");
	if (l == NULL)
		panic("hyp_lwproc_release: no current lwp");
	checklwp(l, "hyp_lwproc_release");
	t_curlwp = NULL;

	pthread_mutex_lock(&klock);
	p = l->l_proc;
	l->l_magic = LWP_DEAD;
	free(l);
	if (--p->p_nlwps == 0 && p != proc1)
		proc_free_locked(p);
	pthread_mutex_unlock(&klock);
}

static int
hyp_lwproc_rfork(void *cookie, int flags, const char *comm)
{
	struct proc *parent, *p;
	struct lwp *l;

	needcpu("hyp_lwproc_rfork");
	/*
	 * NetBSD asserts that a process forked off pid 1 (a new guest)
	 * starts with a clean descriptor table, and a guest's rfork must come
	 * from pid 1's context, that is from a thread with no current lwp.
	 */
	if (t_curlwp != NULL && flags == RUMP_RFFD_CLEAR)
		panic("hyp_lwproc_rfork: RUMP_RFFD_CLEAR with current lwp %p "
		    "(pid %d): guest rfork must come from pid 1's context",
		    (void *)t_curlwp, t_curlwp->l_proc->p_pid);
	if (t_curlwp == NULL && flags != RUMP_RFFD_CLEAR)
		panic("hyp_lwproc_rfork: flags %d from pid 1 (no current "
		    "lwp), only RUMP_RFFD_CLEAR allowed", flags);
	if (flags != RUMP_RFFD_SHARE && flags != RUMP_RFFD_COPY &&
	    flags != RUMP_RFFD_CLEAR)
		return DK_EINVAL;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return DK_ENOMEM;

	pthread_mutex_lock(&klock);
	parent = t_curlwp != NULL ? t_curlwp->l_proc : proc1;
	switch (flags) {
	case RUMP_RFFD_SHARE:
		p->p_fdt = parent->p_fdt;
		p->p_fdt->fdt_ref++;
		break;
	case RUMP_RFFD_COPY:
		p->p_fdt = fdtab_copy_locked(parent->p_fdt);
		break;
	default:
		p->p_fdt = fdtab_copy_locked(NULL);
		break;
	}
	if (p->p_fdt == NULL) {
		pthread_mutex_unlock(&klock);
		free(p);
		return DK_ENOMEM;
	}
	p->p_pid = nextpid++;
	p->p_ppid = parent->p_pid;
	p->p_cookie = cookie;
	snprintf(p->p_comm, sizeof(p->p_comm), "%s",
	    comm != NULL ? comm : parent->p_comm);
	memcpy(p->p_login, parent->p_login, sizeof(p->p_login));
	if ((l = lwp_alloc_locked(p)) == NULL) {
		fdtab_drop_locked(p->p_fdt);
		pthread_mutex_unlock(&klock);
		free(p);
		return DK_ENOMEM;
	}
	p->p_next = allproc;
	allproc = p;
	nprocs++;
	DPRINTF(("rfork: pid %d (%s) from pid %d, flags %d, cookie %p",
	    p->p_pid, p->p_comm, parent->p_pid, flags, cookie));
	pthread_mutex_unlock(&klock);

	t_curlwp = l;
	return 0;
}

static int
hyp_lwproc_newlwp(pid_t pid)
{
	struct proc *p;
	struct lwp *l;

	needcpu("hyp_lwproc_newlwp");
	pthread_mutex_lock(&klock);
	p = pfind_locked(pid);
	if (p == NULL || p->p_exiting) {
		pthread_mutex_unlock(&klock);
		return DK_ESRCH;
	}
	l = lwp_alloc_locked(p);
	pthread_mutex_unlock(&klock);
	if (l == NULL)
		return DK_ENOMEM;
	t_curlwp = l;
	return 0;
}

static struct lwp *
hyp_lwproc_curlwp(void)
{

	needcpu("hyp_lwproc_curlwp");
	return t_curlwp;
}

static pid_t
hyp_getpid(void)
{

	needcpu("hyp_getpid");
	/* With no lwp a thread runs in proc0's context, as in NetBSD. */
	return t_curlwp != NULL ? t_curlwp->l_proc->p_pid : 0;
}

static void
hyp_lwpexit(void)
{

	needcpu("hyp_lwpexit");
	if (t_curlwp == NULL)
		panic("hyp_lwpexit: no current lwp");
	checklwp(t_curlwp, "hyp_lwpexit");
	pthread_mutex_lock(&klock);
	t_curlwp->l_proc->p_exiting = 1;
	DPRINTF(("lwpexit: pid %d", t_curlwp->l_proc->p_pid));
	pthread_cond_broadcast(&kcv);
	pthread_mutex_unlock(&klock);
}

static void
hyp_execnotify(const char *comm)
{
	struct proc *p;

	needcpu("hyp_execnotify");
	if (t_curlwp == NULL)
		panic("hyp_execnotify: no current lwp");
	checklwp(t_curlwp, "hyp_execnotify");
	pthread_mutex_lock(&klock);
	p = t_curlwp->l_proc;
	/* NetBSD asserts the same: exec runs once every other lwp is gone. */
	if (p->p_nlwps != 1)
		panic("hyp_execnotify: pid %d still has %d lwps", p->p_pid,
		    p->p_nlwps);
	p->p_exiting = 0;
	snprintf(p->p_comm, sizeof(p->p_comm), "%s", comm);
	DPRINTF(("exec: pid %d is now %s", p->p_pid, p->p_comm));
	pthread_mutex_unlock(&klock);
}

/*
 * Moving data to and from the caller.  Local processes (no cookie) have
 * their buffers in the kernel's address space.
 */

static void
note_sperror(int error)
{

	if (error == 0)
		return;
	pthread_mutex_lock(&klock);
	if (error == DK_EFAULT)
		nfaults++;
	lastsperror = error;
	pthread_mutex_unlock(&klock);
}

static int
copyin(void *cookie, const void *uaddr, void *kaddr, size_t len)
{
	int error;

	if (cookie == NULL) {
		memcpy(kaddr, uaddr, len);
		return 0;
	}
	error = rumpuser_sp_copyin(cookie, uaddr, kaddr, len);
	note_sperror(error);
	return error;
}

static int
copyout(void *cookie, const void *kaddr, void *uaddr, size_t len)
{
	int error;

	if (cookie == NULL) {
		memcpy(uaddr, kaddr, len);
		return 0;
	}
	error = rumpuser_sp_copyout(cookie, kaddr, uaddr, len);
	note_sperror(error);
	return error;
}

/* Copy a string of at most bufsize bytes, NUL included, into buf. */
static int
copyinstr(void *cookie, const void *uaddr, char *buf, size_t bufsize)
{
	size_t len;
	int error;

	if (cookie == NULL) {
		len = strnlen(uaddr, bufsize);
		if (len == bufsize)
			return DK_ENAMETOOLONG;
		memcpy(buf, uaddr, len + 1);
		return 0;
	}
	len = bufsize;
	error = rumpuser_sp_copyinstr(cookie, uaddr, buf, &len);
	note_sperror(error);
	if (error)
		return error;
	if (len > bufsize)
		panic("rumpuser_sp_copyinstr returned %zu bytes into a "
		    "%zu-byte buffer", len, bufsize);
	if (memchr(buf, '\0', len) == NULL)
		return DK_ENAMETOOLONG;
	return 0;
}

static int
copyoutstr(void *cookie, const char *s, void *uaddr, size_t ulen)
{
	size_t len = strlen(s) + 1;
	int error;

	if (len > ulen)
		return DK_ENAMETOOLONG;
	if (cookie == NULL) {
		memcpy(uaddr, s, len);
		return 0;
	}
	error = rumpuser_sp_copyoutstr(cookie, s, uaddr, &len);
	note_sperror(error);
	return error;
}

/*
 * Kernel threads.  They hold a CPU while working and call rumpuser_sp_*
 * with it held and no current lwp, as the kernel's own threads do.
 */

static void *
iothread(void *arg)
{
	unsigned char *buf;
	struct ioreq *io;
	size_t n, done;
	int error;

	if ((buf = malloc(CHUNK)) == NULL)
		panic("iothread: out of memory");
	for (;;) {
		pthread_mutex_lock(&klock);
		while (ioq == NULL)
			pthread_cond_wait(&iocv, &klock);
		io = ioq;
		ioq = io->io_next;
		pthread_mutex_unlock(&klock);

		cpu_take();
		error = 0;
		for (done = 0; done < io->io_len && error == 0; done += n) {
			pthread_mutex_lock(&klock);
			n = io->io_len - done;
			if (n > CHUNK)
				n = CHUNK;
			if ((size_t)io->io_off + done >= io->io_node->n_len)
				n = 0;
			else if (io->io_off + done + n > io->io_node->n_len)
				n = io->io_node->n_len - io->io_off - done;
			if (n > 0)
				memcpy(buf, io->io_node->n_data + io->io_off +
				    done, n);
			pthread_mutex_unlock(&klock);
			if (n == 0)
				break;
			error = copyout(io->io_cookie, buf,
			    (char *)io->io_uaddr + done, n);
			if (error)
				break;
		}
		cpu_put();

		pthread_mutex_lock(&klock);
		io->io_done = done;
		io->io_error = error;
		io->io_finished = 1;
		pthread_cond_broadcast(&kcv);
		pthread_mutex_unlock(&klock);
	}
	return NULL;
}

static void *
sigthread(void *arg)
{
	struct sigreq *sr;
	int error;

	for (;;) {
		pthread_mutex_lock(&klock);
		while (sigq == NULL)
			pthread_cond_wait(&sigcv, &klock);
		sr = sigq;
		sigq = sr->sr_next;
		pthread_mutex_unlock(&klock);

		cpu_take();
		error = rumpuser_sp_raise(sr->sr_cookie, sr->sr_signo);
		cpu_put();
		note_sperror(error);
		DPRINTF(("raise %d for %p: %d", sr->sr_signo, sr->sr_cookie,
		    error));

		pthread_mutex_lock(&klock);
		sr->sr_finished = 1;
		pthread_cond_broadcast(&kcv);
		pthread_mutex_unlock(&klock);
	}
	return NULL;
}

/*
 * Have the signal thread deliver signo to the client behind cookie and
 * wait until it has: the signal reaches the client before the answer to
 * the system call that caused it.
 */
static void
psignal_locked(void *cookie, int signo)
{
	struct sigreq sr, **srp;

	if (cookie == NULL)
		return;
	memset(&sr, 0, sizeof(sr));
	sr.sr_cookie = cookie;
	sr.sr_signo = signo;
	for (srp = &sigq; *srp != NULL; srp = &(*srp)->sr_next)
		continue;
	*srp = &sr;
	pthread_cond_signal(&sigcv);
	while (!sr.sr_finished)
		kwait(&kcv);
}

/*
 * System calls.
 */

/* Arguments are register_t sized slots. */
#define ARG(args, i)	(((const int64_t *)(args))[i])
#define UPTR(args, i)	((void *)(uintptr_t)ARG(args, i))

static struct proc *
curproc(void)
{

	return t_curlwp->l_proc;
}

/* Take a reference to the file behind fd, or NULL (EBADF). */
static struct file *
fget_locked(struct proc *p, int64_t fd)
{
	struct file *f;

	if (fd < 0 || fd >= NFD || (f = p->p_fdt->fdt_file[fd]) == NULL)
		return NULL;
	f->f_ref++;
	return f;
}

static struct file *
fget(struct proc *p, int64_t fd)
{
	struct file *f;

	pthread_mutex_lock(&klock);
	f = fget_locked(p, fd);
	pthread_mutex_unlock(&klock);
	return f;
}

static void
fdrop(struct file *f)
{

	pthread_mutex_lock(&klock);
	fdrop_locked(f);
	pthread_mutex_unlock(&klock);
}

/* Install f at the lowest free slot; the slot takes over the caller's ref. */
static int
fdalloc_locked(struct proc *p, struct file *f, int *fdp)
{
	int i;

	for (i = 0; i < NFD; i++) {
		if (p->p_fdt->fdt_file[i] == NULL) {
			p->p_fdt->fdt_file[i] = f;
			*fdp = i;
			return 0;
		}
	}
	return DK_EMFILE;
}

static int
readpipe(struct proc *p, struct pipe *pp, void *uaddr, size_t len,
    long *retval)
{
	unsigned char *buf;
	size_t n, first;
	int error;

	if (len == 0)
		return 0;
	if ((buf = malloc(DK_PIPESIZE)) == NULL)
		return DK_ENOMEM;
	pthread_mutex_lock(&klock);
	while (pp->p_len == 0 && pp->p_writers > 0 && !p->p_exiting)
		kwait(&kcv);
	if (pp->p_len == 0) {
		error = p->p_exiting && pp->p_writers > 0 ? DK_EINTR : 0;
		pthread_mutex_unlock(&klock);
		free(buf);
		return error;
	}
	n = len < pp->p_len ? len : pp->p_len;
	first = DK_PIPESIZE - pp->p_head;
	if (first > n)
		first = n;
	memcpy(buf, pp->p_buf + pp->p_head, first);
	memcpy(buf + first, pp->p_buf, n - first);
	pp->p_head = (pp->p_head + n) % DK_PIPESIZE;
	pp->p_len -= n;
	pthread_cond_broadcast(&kcv);
	pthread_mutex_unlock(&klock);

	error = copyout(p->p_cookie, buf, uaddr, n);
	free(buf);
	if (error == 0)
		retval[0] = (long)n;
	return error;
}

static int
writepipe(struct proc *p, struct pipe *pp, const void *uaddr, size_t len,
    long *retval)
{
	unsigned char *buf;
	size_t done, n, off, room, tail, first;
	int error = 0;

	if ((buf = malloc(CHUNK)) == NULL)
		return DK_ENOMEM;
	for (done = 0; done < len && error == 0; done += n) {
		n = len - done;
		if (n > CHUNK)
			n = CHUNK;
		if ((error = copyin(p->p_cookie, (const char *)uaddr + done,
		    buf, n)) != 0)
			break;
		pthread_mutex_lock(&klock);
		for (off = 0; off < n; off += room) {
			while (pp->p_len == DK_PIPESIZE && pp->p_readers > 0 &&
			    !p->p_exiting)
				kwait(&kcv);
			if (pp->p_readers == 0) {
				error = DK_EPIPE;
				break;
			}
			if (p->p_exiting) {
				error = DK_EINTR;
				break;
			}
			room = DK_PIPESIZE - pp->p_len;
			if (room > n - off)
				room = n - off;
			tail = (pp->p_head + pp->p_len) % DK_PIPESIZE;
			first = DK_PIPESIZE - tail;
			if (first > room)
				first = room;
			memcpy(pp->p_buf + tail, buf + off, first);
			memcpy(pp->p_buf, buf + off + first, room - first);
			pp->p_len += room;
			pthread_cond_broadcast(&kcv);
		}
		if (error == DK_EPIPE)
			psignal_locked(p->p_cookie, DK_SIGPIPE);
		pthread_mutex_unlock(&klock);
		if (error) {
			done += off;
			break;
		}
	}
	free(buf);
	if (done > 0 && error != DK_EFAULT) {
		retval[0] = (long)done;
		return 0;
	}
	return error;
}

/* Read through an I/O thread, which does the copyout. */
static int
readreg(struct proc *p, struct file *f, void *uaddr, size_t len,
    long *retval)
{
	struct ioreq io, **iop;

	memset(&io, 0, sizeof(io));
	pthread_mutex_lock(&klock);
	io.io_cookie = p->p_cookie;
	io.io_node = f->f_node;
	io.io_off = f->f_off;
	io.io_uaddr = uaddr;
	io.io_len = len;
	for (iop = &ioq; *iop != NULL; iop = &(*iop)->io_next)
		continue;
	*iop = &io;
	pthread_cond_signal(&iocv);
	while (!io.io_finished)
		kwait(&kcv);
	if (io.io_error == 0) {
		f->f_off += io.io_done;
		retval[0] = (long)io.io_done;
	}
	pthread_mutex_unlock(&klock);
	return io.io_error;
}

static int
writereg(struct proc *p, struct file *f, const void *uaddr, size_t len,
    long *retval)
{
	unsigned char *buf, *ndata;
	struct node *np = f->f_node;
	size_t done, n, ncap;
	off_t off;
	int error = 0;

	if ((buf = malloc(CHUNK)) == NULL)
		return DK_ENOMEM;
	for (done = 0; done < len; done += n) {
		n = len - done;
		if (n > CHUNK)
			n = CHUNK;
		if ((error = copyin(p->p_cookie, (const char *)uaddr + done,
		    buf, n)) != 0)
			break;
		pthread_mutex_lock(&klock);
		off = (f->f_flags & DK_O_APPEND) ? (off_t)np->n_len : f->f_off;
		if ((size_t)off + n > DK_MAXFILESIZE) {
			pthread_mutex_unlock(&klock);
			error = DK_EFBIG;
			break;
		}
		if ((size_t)off + n > np->n_cap) {
			ncap = np->n_cap ? np->n_cap : 4096;
			while (ncap < (size_t)off + n)
				ncap *= 2;
			if ((ndata = realloc(np->n_data, ncap)) == NULL) {
				pthread_mutex_unlock(&klock);
				error = DK_ENOMEM;
				break;
			}
			memset(ndata + np->n_cap, 0, ncap - np->n_cap);
			np->n_data = ndata;
			np->n_cap = ncap;
		}
		memcpy(np->n_data + off, buf, n);
		if ((size_t)off + n > np->n_len)
			np->n_len = off + n;
		f->f_off = off + n;
		pthread_mutex_unlock(&klock);
	}
	free(buf);
	if (error)
		return error;
	retval[0] = (long)done;
	return 0;
}

static int
readzero(struct proc *p, void *uaddr, size_t len, long *retval)
{
	unsigned char *buf;
	size_t done, n;
	int error = 0;

	if ((buf = calloc(1, CHUNK)) == NULL)
		return DK_ENOMEM;
	for (done = 0; done < len; done += n) {
		n = len - done;
		if (n > CHUNK)
			n = CHUNK;
		if ((error = copyout(p->p_cookie, buf, (char *)uaddr + done,
		    n)) != 0)
			break;
	}
	free(buf);
	if (error == 0)
		retval[0] = (long)len;
	return error;
}

static int
sys_read(struct proc *p, const void *args, long *retval)
{
	struct file *f;
	void *uaddr = UPTR(args, 1);
	size_t len = (size_t)ARG(args, 2);
	int error;

	if ((f = fget(p, ARG(args, 0))) == NULL)
		return DK_EBADF;
	switch (f->f_type) {
	case FT_NULL:
		error = 0;
		break;
	case FT_ZERO:
		error = readzero(p, uaddr, len, retval);
		break;
	case FT_REG:
		if ((f->f_flags & DK_O_ACCMODE) == DK_O_WRONLY)
			error = DK_EBADF;
		else
			error = readreg(p, f, uaddr, len, retval);
		break;
	case FT_PIPER:
		error = readpipe(p, f->f_pipe, uaddr, len, retval);
		break;
	default:
		error = DK_EBADF;
		break;
	}
	fdrop(f);
	return error;
}

static int
sys_write(struct proc *p, const void *args, long *retval)
{
	struct file *f;
	const void *uaddr = UPTR(args, 1);
	size_t len = (size_t)ARG(args, 2);
	int error;

	if ((f = fget(p, ARG(args, 0))) == NULL)
		return DK_EBADF;
	switch (f->f_type) {
	case FT_NULL:
	case FT_ZERO:
		/* Like NetBSD's /dev/null: the data is never looked at. */
		retval[0] = (long)len;
		error = 0;
		break;
	case FT_REG:
		if ((f->f_flags & DK_O_ACCMODE) == DK_O_RDONLY)
			error = DK_EBADF;
		else
			error = writereg(p, f, uaddr, len, retval);
		break;
	case FT_PIPEW:
		error = writepipe(p, f->f_pipe, uaddr, len, retval);
		break;
	default:
		error = DK_EBADF;
		break;
	}
	fdrop(f);
	return error;
}

static int
sys_open(struct proc *p, const void *args, long *retval)
{
	char *path;
	struct file *f;
	struct node *np;
	int flags = (int)ARG(args, 1);
	int error, fd;

	if ((flags & DK_O_ACCMODE) == DK_O_ACCMODE)
		return DK_EINVAL;
	if ((path = malloc(DK_MAXPATHLEN)) == NULL)
		return DK_ENOMEM;
	if ((error = copyinstr(p->p_cookie, UPTR(args, 0), path,
	    DK_MAXPATHLEN)) != 0) {
		free(path);
		return error;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		free(path);
		return DK_ENOMEM;
	}
	f->f_ref = 1;
	f->f_flags = flags;

	pthread_mutex_lock(&klock);
	if (strcmp(path, "/dev/null") == 0) {
		f->f_type = FT_NULL;
	} else if (strcmp(path, "/dev/zero") == 0) {
		f->f_type = FT_ZERO;
	} else {
		f->f_type = FT_REG;
		for (np = store; np != NULL; np = np->n_next)
			if (strcmp(np->n_name, path) == 0)
				break;
		if (np != NULL && (flags & (DK_O_CREAT | DK_O_EXCL)) ==
		    (DK_O_CREAT | DK_O_EXCL)) {
			error = DK_EEXIST;
		} else if (np == NULL && (flags & DK_O_CREAT) == 0) {
			error = DK_ENOENT;
		} else if (np == NULL && path[0] == '\0') {
			error = DK_ENOENT;
		} else if (np == NULL) {
			if ((np = calloc(1, sizeof(*np))) == NULL) {
				error = DK_ENOMEM;
			} else {
				np->n_name = path;
				path = NULL;
				np->n_next = store;
				store = np;
			}
		}
		if (error == 0 && (flags & DK_O_TRUNC) &&
		    (flags & DK_O_ACCMODE) != DK_O_RDONLY)
			np->n_len = 0;
		f->f_node = np;
	}
	if (error == 0)
		error = fdalloc_locked(p, f, &fd);
	pthread_mutex_unlock(&klock);

	free(path);
	if (error) {
		free(f);
		return error;
	}
	retval[0] = fd;
	return 0;
}

static int
sys_close(struct proc *p, const void *args, long *retval)
{
	int64_t fd = ARG(args, 0);
	struct file *f;

	pthread_mutex_lock(&klock);
	if (fd < 0 || fd >= NFD || (f = p->p_fdt->fdt_file[fd]) == NULL) {
		pthread_mutex_unlock(&klock);
		return DK_EBADF;
	}
	p->p_fdt->fdt_file[fd] = NULL;
	fdrop_locked(f);
	pthread_mutex_unlock(&klock);
	return 0;
}

static int
sys_pipe(struct proc *p, const void *args, long *retval)
{
	struct pipe *pp;
	struct file *rf, *wf;
	int rfd, wfd, error;

	pp = calloc(1, sizeof(*pp));
	rf = calloc(1, sizeof(*rf));
	wf = calloc(1, sizeof(*wf));
	if (pp == NULL || rf == NULL || wf == NULL) {
		free(pp);
		free(rf);
		free(wf);
		return DK_ENOMEM;
	}
	pp->p_readers = pp->p_writers = 1;
	rf->f_type = FT_PIPER;
	wf->f_type = FT_PIPEW;
	rf->f_ref = wf->f_ref = 1;
	rf->f_pipe = wf->f_pipe = pp;
	rf->f_flags = DK_O_RDONLY;
	wf->f_flags = DK_O_WRONLY;

	pthread_mutex_lock(&klock);
	if ((error = fdalloc_locked(p, rf, &rfd)) != 0) {
		pthread_mutex_unlock(&klock);
		free(pp);
		free(rf);
		free(wf);
		return error;
	}
	if ((error = fdalloc_locked(p, wf, &wfd)) != 0) {
		/* Dropping the read end frees the pipe: no writer yet. */
		p->p_fdt->fdt_file[rfd] = NULL;
		pp->p_writers = 0;
		fdrop_locked(rf);
		pthread_mutex_unlock(&klock);
		free(wf);
		return error;
	}
	pthread_mutex_unlock(&klock);
	retval[0] = rfd;
	retval[1] = wfd;
	return 0;
}

static int
sys_lseek(struct proc *p, const void *args, long *retval)
{
	struct file *f;
	off_t off = (off_t)ARG(args, 2), base;
	int error = 0;

	pthread_mutex_lock(&klock);
	if ((f = fget_locked(p, ARG(args, 0))) == NULL) {
		pthread_mutex_unlock(&klock);
		return DK_EBADF;
	}
	if (f->f_type == FT_PIPER || f->f_type == FT_PIPEW) {
		error = DK_ESPIPE;
	} else if (f->f_type != FT_REG) {
		retval[0] = 0;
	} else {
		switch (ARG(args, 3)) {
		case DK_SEEK_SET:
			base = 0;
			break;
		case DK_SEEK_CUR:
			base = f->f_off;
			break;
		case DK_SEEK_END:
			base = (off_t)f->f_node->n_len;
			break;
		default:
			error = DK_EINVAL;
			base = 0;
			break;
		}
		if (error == 0 && (base + off < 0 || base + off > DK_MAXFILESIZE))
			error = DK_EINVAL;
		if (error == 0) {
			f->f_off = base + off;
			retval[0] = (long)f->f_off;
		}
	}
	fdrop_locked(f);
	pthread_mutex_unlock(&klock);
	return error;
}

static int
sys_kill(struct proc *p, const void *args, long *retval)
{
	struct proc *target;
	pid_t pid = (pid_t)ARG(args, 0);
	int signo = (int)ARG(args, 1);

	if (signo < 0 || signo >= DK_NSIG)
		return DK_EINVAL;
	pthread_mutex_lock(&klock);
	if ((target = pfind_locked(pid)) == NULL) {
		pthread_mutex_unlock(&klock);
		return DK_ESRCH;
	}
	/*
	 * XXX The target's cookie is used after the lock is dropped by the
	 * signal thread; a target client disconnecting at that moment would
	 * leave it dangling.  Tests only signal the caller's own process,
	 * which the server keeps alive while this system call runs.
	 */
	if (signo != 0)
		psignal_locked(target->p_cookie, signo);
	pthread_mutex_unlock(&klock);
	return 0;
}

static int
sys_getlogin(struct proc *p, const void *args, long *retval)
{
	char login[DK_MAXLOGNAME];
	size_t ulen = (size_t)ARG(args, 1);

	pthread_mutex_lock(&klock);
	memcpy(login, p->p_login, sizeof(login));
	pthread_mutex_unlock(&klock);
	if (ulen > sizeof(login))
		ulen = sizeof(login);
	if (copyoutstr(p->p_cookie, login, UPTR(args, 0), ulen) ==
	    DK_ENAMETOOLONG)
		return DK_EINVAL;
	return 0;
}

static int
sys_setlogin(struct proc *p, const void *args, long *retval)
{
	char login[DK_MAXLOGNAME];
	int error;

	memset(login, 0, sizeof(login));
	error = copyinstr(p->p_cookie, UPTR(args, 0), login, sizeof(login));
	if (error == DK_ENAMETOOLONG)
		return DK_EINVAL;
	if (error)
		return error;
	pthread_mutex_lock(&klock);
	memcpy(p->p_login, login, sizeof(p->p_login));
	pthread_mutex_unlock(&klock);
	return 0;
}

static int
sys_mmap(struct proc *p, const void *args, long *retval)
{
	size_t len = (size_t)ARG(args, 1);
	int flags = (int)ARG(args, 3);
	void *addr;
	int error;

	if ((flags & DK_MAP_ANON) == 0 || len == 0)
		return DK_EINVAL;
	if (p->p_cookie == NULL) {
		addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_ANON | MAP_PRIVATE, -1, 0);
		if (addr == MAP_FAILED)
			return DK_ENOMEM;
	} else {
		error = rumpuser_sp_anonmmap(p->p_cookie, len, &addr);
		note_sperror(error);
		if (error)
			return error;
	}
	retval[0] = (long)(uintptr_t)addr;
	return 0;
}

static int
sys_reboot(struct proc *p, const void *args, long *retval)
{
	void *cookie = p->p_cookie;

	DPRINTF(("reboot by pid %d", p->p_pid));
	/*
	 * A NetBSD kernel calls rumpuser_sp_fini with its CPU held.  The C
	 * reference's fini schedules again to send the answer, which would
	 * trip the double-schedule check, so the CPU is given up first; the
	 * process exits right after either way.
	 */
	cpu_put();
	rumpuser_sp_fini(cookie);
	exit(0);
}

static int
sys_getname(struct proc *p, const void *args, long *retval)
{
	char comm[DK_MAXCOMLEN + 1];
	int error;

	pthread_mutex_lock(&klock);
	memcpy(comm, p->p_comm, sizeof(comm));
	pthread_mutex_unlock(&klock);
	error = copyoutstr(p->p_cookie, comm, UPTR(args, 0),
	    (size_t)ARG(args, 1));
	return error == DK_ENAMETOOLONG ? DK_EINVAL : error;
}

static int
sys_procinfo(struct proc *p, const void *args, long *retval)
{
	struct proc *q;
	int error = 0;

	pthread_mutex_lock(&klock);
	if ((q = pfind_locked((pid_t)ARG(args, 0))) == NULL) {
		error = DK_ESRCH;
	} else {
		retval[0] = q->p_ppid;
		retval[1] = q->p_nlwps;
	}
	pthread_mutex_unlock(&klock);
	return error;
}

static int
hyp_syscall(int num, void *args, long *retval)
{
	struct proc *p;
	int error;

	needcpu("hyp_syscall");
	if (t_curlwp == NULL)
		panic("hyp_syscall(%d): no current lwp", num);
	checklwp(t_curlwp, "hyp_syscall");
	p = curproc();
	DPRINTF(("pid %d: syscall %d", p->p_pid, num));
	retval[0] = retval[1] = 0;

	switch (num) {
	case DK_SYS_read:
		error = sys_read(p, args, retval);
		break;
	case DK_SYS_write:
		error = sys_write(p, args, retval);
		break;
	case DK_SYS_open:
		error = sys_open(p, args, retval);
		break;
	case DK_SYS_close:
		error = sys_close(p, args, retval);
		break;
	case DK_SYS_getpid:
		pthread_mutex_lock(&klock);
		retval[0] = p->p_pid;
		retval[1] = p->p_ppid;
		pthread_mutex_unlock(&klock);
		error = 0;
		break;
	case DK_SYS_getppid:
		pthread_mutex_lock(&klock);
		retval[0] = p->p_ppid;
		pthread_mutex_unlock(&klock);
		error = 0;
		break;
	case DK_SYS_kill:
		error = sys_kill(p, args, retval);
		break;
	case DK_SYS_pipe:
		error = sys_pipe(p, args, retval);
		break;
	case DK_SYS___getlogin:
		error = sys_getlogin(p, args, retval);
		break;
	case DK_SYS___setlogin:
		error = sys_setlogin(p, args, retval);
		break;
	case DK_SYS_mmap:
		error = sys_mmap(p, args, retval);
		break;
	case DK_SYS_lseek:
		error = sys_lseek(p, args, retval);
		break;
	case DK_SYS_reboot:
		error = sys_reboot(p, args, retval);
		break;
	case DK_SYS_nproc:
		pthread_mutex_lock(&klock);
		retval[0] = nprocs;
		pthread_mutex_unlock(&klock);
		error = 0;
		break;
	case DK_SYS_getname:
		error = sys_getname(p, args, retval);
		break;
	case DK_SYS_faults:
		pthread_mutex_lock(&klock);
		retval[0] = nfaults;
		retval[1] = lastsperror;
		pthread_mutex_unlock(&klock);
		error = 0;
		break;
	case DK_SYS_procinfo:
		error = sys_procinfo(p, args, retval);
		break;
	default:
		error = DK_ENOSYS;
		break;
	}
	if (!t_hascpu)
		panic("hyp_syscall(%d): CPU lost during the call "
		    "(unbalanced backend_unschedule?)", num);
	if (t_curlwp == NULL || t_curlwp->l_proc != p)
		panic("hyp_syscall(%d): current lwp changed during the call",
		    num);
	return error;
}

struct rumpuser_hyperup rumpuser__hyp = {
	.hyp_schedule = hyp_schedule,
	.hyp_unschedule = hyp_unschedule,
	.hyp_backend_unschedule = hyp_backend_unschedule,
	.hyp_backend_schedule = hyp_backend_schedule,
	.hyp_lwproc_switch = hyp_lwproc_switch,
	.hyp_lwproc_release = hyp_lwproc_release,
	.hyp_lwproc_rfork = hyp_lwproc_rfork,
	.hyp_lwproc_newlwp = hyp_lwproc_newlwp,
	.hyp_lwproc_curlwp = hyp_lwproc_curlwp,
	.hyp_syscall = hyp_syscall,
	.hyp_lwpexit = hyp_lwpexit,
	.hyp_execnotify = hyp_execnotify,
	.hyp_getpid = hyp_getpid,
};

void
demokern_init(void)
{
	pthread_attr_t attr;
	pthread_t pt;
	const char *s;
	int i;

	if ((s = getenv("DEMOKERN_DEBUG")) != NULL && *s != '\0' &&
	    strcmp(s, "0") != 0)
		dk_debug = 1;

	if ((proc1 = calloc(1, sizeof(*proc1))) == NULL ||
	    (proc1->p_fdt = fdtab_copy_locked(NULL)) == NULL)
		panic("demokern_init: out of memory");
	proc1->p_pid = 1;
	proc1->p_ppid = 0;
	snprintf(proc1->p_comm, sizeof(proc1->p_comm), "init");
	snprintf(proc1->p_login, sizeof(proc1->p_login), "root");
	allproc = proc1;
	nprocs = 1;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < NIOTHREAD; i++)
		if (pthread_create(&pt, &attr, iothread, NULL) != 0)
			panic("demokern_init: cannot start I/O thread");
	if (pthread_create(&pt, &attr, sigthread, NULL) != 0)
		panic("demokern_init: cannot start signal thread");
	pthread_attr_destroy(&attr);
}
