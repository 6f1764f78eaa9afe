/*
 * sp.c: the rumpuser_sp_* interface of librumpuser, implemented by handing
 * each call to the Go server.  Compiled against include/rump/rumpuser.h so
 * that any drift from the kernel's prototypes is a compile error.
 *
 * The Go runtime is not started when the archive is loaded, as a plain
 * c-archive would do, but on the first rumpuser_sp_init: rump_server forks
 * to daemonize before it initializes the kernel, and a Go runtime does not
 * survive fork.  The build strips the runtime's initializer from go.o and
 * exports it as rumpsp_go_rt0 (see mkarchive.sh); this file calls it.
 */

#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rump/rumpuser.h>

#include "hypercall.h"
#include "spwait.h"
#include "_cgo_export.h"

#ifndef __GLIBC__
/* Only glibc is known to hand argc, argv and envp to initializers. */
#error "rumpsp needs glibc: the deferred Go runtime start relies on it"
#endif

/* NetBSD errno values returned without asking the server. */
#define RUMPSP_EINVAL	22
#define RUMPSP_EFAULT	14

/*
 * Limits of the worker pool.  The host may change them before
 * rumpuser_sp_init; they are read once there.
 */
int rumpsp_maxworker = 128;
int rumpsp_idleworker = 16;

/*
 * The Go runtime's own start routine.  It is weak so that the shim also
 * links against an archive that was not post-processed, in which case the
 * runtime started itself at load time and there is nothing to do.
 */
extern void rumpsp_go_rt0(int, char **, char **) __attribute__((weak));

/*
 * The process's original arguments, as glibc hands them to initializers.
 * The runtime finds the auxiliary vector by walking past argv and the
 * environment that follows it, so it cannot start from a made-up vector
 * without one; the original environment leads to the original auxv.
 */
static int rumpsp_argc;
static char **rumpsp_argv;
static char **rumpsp_envp;

static pthread_once_t rumpsp_rt_once = PTHREAD_ONCE_INIT;

/*
 * Set once the runtime has been started.  Calling into Go before that
 * would wait forever for a runtime that never comes up; there is no
 * server then anyway, so the callbacks fail at once.
 */
static int rumpsp_started;

__attribute__((constructor)) static void
rumpsp_capture_args(int argc, char **argv, char **envp)
{

	rumpsp_argc = argc;
	rumpsp_argv = argv;
	rumpsp_envp = envp;
}

/*
 * The vector the runtime starts from: the original arguments, the
 * environment as it is now (the host may have changed it since the process
 * started, and the runtime reads its environment only from here), and a
 * copy of the auxiliary vector, which the kernel put after the original
 * environment.  The runtime keeps pointers into it, so it is never freed.
 * NULL if there is no memory, and the original vector has to do.
 */
static char **
rumpsp_make_vector(void)
{
	extern char **environ;
	uintptr_t *aux, *vaux;
	char **ep, **v;
	size_t nenv, naux, i, n;

	for (ep = rumpsp_envp; *ep != NULL; ep++)
		continue;
	aux = (uintptr_t *)(ep + 1);
	for (naux = 0; aux[2 * naux] != 0; naux++)	/* AT_NULL ends it */
		continue;
	nenv = 0;
	if (environ != NULL)
		while (environ[nenv] != NULL)
			nenv++;

	n = (size_t)rumpsp_argc + 1 + nenv + 1;
	if ((v = malloc((n + 2 * (naux + 1)) * sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < (size_t)rumpsp_argc; i++)
		v[i] = rumpsp_argv[i];
	v[i++] = NULL;
	if (nenv > 0)
		memcpy(&v[i], environ, nenv * sizeof(*v));
	i += nenv;
	v[i++] = NULL;
	vaux = (uintptr_t *)&v[i];
	memcpy(vaux, aux, 2 * (naux + 1) * sizeof(*vaux));
	return v;
}

static void
rumpsp_start_runtime(void)
{
	char **v;

	if (rumpsp_go_rt0 != NULL) {
		if ((v = rumpsp_make_vector()) == NULL)
			v = rumpsp_argv;
		rumpsp_go_rt0(rumpsp_argc, v, v + rumpsp_argc + 1);
	}
	__atomic_store_n(&rumpsp_started, 1, __ATOMIC_RELEASE);
}

static int
rumpsp_started_p(void)
{

	return __atomic_load_n(&rumpsp_started, __ATOMIC_ACQUIRE);
}

int
rumpuser_sp_init(const char *url, const char *ostype,
    const char *osrelease, const char *machine)
{

	if (url == NULL)
		return RUMPSP_EINVAL;
	if (rumpsp_go_rt0 != NULL && rumpsp_argv == NULL) {
		/* Loaded in a way that skipped our initializer. */
		return RUMPSP_EINVAL;
	}
	pthread_once(&rumpsp_rt_once, rumpsp_start_runtime);

	return rumpsp_go_init((char *)url, (char *)ostype,
	    (char *)osrelease, (char *)machine, rumpsp_maxworker,
	    rumpsp_idleworker);
}

/*
 * Called by the Go goroutine that read the reply (or lost the connection).
 * The waiter may return as soon as it sees w_state set, so nothing here
 * touches *w after that store but the futex wake, which only uses the
 * address as a key.
 */
void
rumpsp_wait_done(uintptr_t wp, uint64_t n, int error)
{
	struct rumpsp_wait *w = (struct rumpsp_wait *)wp;

	w->w_n = n;
	w->w_error = error;
	__atomic_store_n(&w->w_state, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &w->w_state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/*
 * Wait for a request that rumpsp_go_*_start accepted.  A spurious wake-up
 * (a stale wake on a reused stack address) just goes round the loop.
 */
static int
rumpsp_wait(struct rumpsp_wait *w)
{

	while (__atomic_load_n(&w->w_state, __ATOMIC_ACQUIRE) == 0)
		syscall(SYS_futex, &w->w_state, FUTEX_WAIT_PRIVATE, 0, NULL,
		    NULL, 0);
	return w->w_error;
}

int
rumpuser_sp_copyin(void *arg, const void *raddr, void *laddr, size_t len)
{
	struct rumpsp_wait w = { 0, 0, 0 };
	int error, nlocks;

	if (!rumpsp_started_p())
		return RUMPSP_EFAULT;
	rumpsp_hyp_cpu_release(&nlocks);
	error = rumpsp_go_copyin_start((uintptr_t)arg, rumpsp_hyp_curtag(),
	    (uintptr_t)raddr, laddr, len, (uintptr_t)&w);
	if (error == 0)
		error = rumpsp_wait(&w);
	rumpsp_hyp_cpu_acquire(nlocks);
	return error;
}

int
rumpuser_sp_copyinstr(void *arg, const void *raddr, void *laddr,
    size_t *len)
{
	struct rumpsp_wait w = { 0, 0, 0 };
	int error, nlocks;

	if (!rumpsp_started_p())
		return RUMPSP_EFAULT;
	rumpsp_hyp_cpu_release(&nlocks);
	error = rumpsp_go_copyinstr_start((uintptr_t)arg, rumpsp_hyp_curtag(),
	    (uintptr_t)raddr, laddr, *len, (uintptr_t)&w);
	if (error == 0 && (error = rumpsp_wait(&w)) == 0)
		*len = (size_t)w.w_n;
	rumpsp_hyp_cpu_acquire(nlocks);
	return error;
}

int
rumpuser_sp_copyout(void *arg, const void *laddr, void *raddr, size_t dlen)
{
	int error, nlocks;

	if (!rumpsp_started_p())
		return RUMPSP_EFAULT;
	rumpsp_hyp_cpu_release(&nlocks);
	error = rumpsp_go_copyout((uintptr_t)arg, rumpsp_hyp_curtag(),
	    (uintptr_t)raddr, (void *)(uintptr_t)laddr, dlen);
	rumpsp_hyp_cpu_acquire(nlocks);
	return error;
}

int
rumpuser_sp_copyoutstr(void *arg, const void *laddr, void *raddr,
    size_t *dlen)
{

	return rumpuser_sp_copyout(arg, laddr, raddr, *dlen);
}

int
rumpuser_sp_anonmmap(void *arg, size_t howmuch, void **addr)
{
	struct rumpsp_wait w = { 0, 0, 0 };
	int error, nlocks;

	if (!rumpsp_started_p())
		return RUMPSP_EFAULT;
	rumpsp_hyp_cpu_release(&nlocks);
	error = rumpsp_go_anonmmap_start((uintptr_t)arg, rumpsp_hyp_curtag(),
	    howmuch, (uintptr_t)&w);
	if (error == 0 && (error = rumpsp_wait(&w)) == 0)
		*addr = (void *)(uintptr_t)w.w_n;
	rumpsp_hyp_cpu_acquire(nlocks);
	return error;
}

int
rumpuser_sp_raise(void *arg, int signo)
{
	int error, nlocks;

	if (!rumpsp_started_p())
		return RUMPSP_EFAULT;
	rumpsp_hyp_cpu_release(&nlocks);
	error = rumpsp_go_raise((uintptr_t)arg, rumpsp_hyp_curtag(), signo);
	rumpsp_hyp_cpu_acquire(nlocks);
	return error;
}

/*
 * The kernel calls this on its way out, holding its virtual CPU, from the
 * thread of the reboot system call if a client asked for it.  The tag of
 * that system call lets the server answer it before the process exits.
 */
void
rumpuser_sp_fini(void *arg)
{

	if (!rumpsp_started_p())
		return;
	rumpsp_go_fini((uintptr_t)arg, rumpsp_hyp_curtag());
}
