/*
 * stubkern.c: a test fixture, not a kernel.  The smallest rumpuser__hyp
 * that lets cexport's smoke test drive the archive before the project's
 * demo kernel exists: a per-thread current lwp, processes that are just a
 * pid and a cookie, and a few system calls that exercise each of the
 * rumpuser_sp_* callbacks.  It checks the hypercall discipline as it goes
 * and aborts the process on a violation.
 */

#include <sys/types.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rump/rumpuser.h>

#include "stubkern.h"

#define NPROC	64

struct lwp {
	struct sk_proc	*l_proc;
};

struct sk_proc {
	int	p_pid;		/* 0: slot free */
	void	*p_cookie;
	int	p_nlwp;
	int	p_exiting;
	char	p_name[32];
};

static pthread_mutex_t sk_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct sk_proc sk_procs[NPROC];
static int sk_nextpid = 2;
static char sk_data[256];	/* what the last write left for read */
static size_t sk_datalen;

/* Per thread: the current lwp and whether we hold the virtual CPU. */
static __thread struct lwp *sk_cur;
static __thread int sk_cpu;

static void
sk_fail(const char *what)
{

	fprintf(stderr, "stubkern: %s\n", what);
	abort();
}

static void
sk_need_cpu(const char *op)
{

	if (sk_cpu != 1)
		sk_fail(op);
}

static void
sk_schedule(void)
{

	if (sk_cpu++ != 0)
		sk_fail("schedule while scheduled");
}

static void
sk_unschedule(void)
{

	if (--sk_cpu != 0)
		sk_fail("unschedule while not scheduled");
}

static void
sk_backend_unschedule(int dummy, int *nlocks, void *interlock)
{

	sk_need_cpu("backend_unschedule without the CPU");
	sk_cpu = 0;
	*nlocks = 1;
}

static void
sk_backend_schedule(int nlocks, void *interlock)
{

	if (nlocks != 1 || sk_cpu != 0)
		sk_fail("backend_schedule out of order");
	sk_cpu = 1;
}

static struct lwp *
sk_newlwp_locked(struct sk_proc *p)
{
	struct lwp *l;

	if ((l = malloc(sizeof(*l))) == NULL)
		sk_fail("out of memory");
	l->l_proc = p;
	p->p_nlwp++;
	return l;
}

static void
sk_switch(struct lwp *l)
{

	sk_need_cpu("switch");
	sk_cur = l;
}

static void
sk_release(void)
{
	struct sk_proc *p;

	sk_need_cpu("release");
	if (sk_cur == NULL)
		sk_fail("release with no current lwp");
	pthread_mutex_lock(&sk_mtx);
	p = sk_cur->l_proc;
	if (--p->p_nlwp == 0)
		p->p_pid = 0;
	pthread_mutex_unlock(&sk_mtx);
	free(sk_cur);
	sk_cur = NULL;
}

static int
sk_rfork(void *cookie, int flags, const char *name)
{
	struct sk_proc *p;
	int i;

	sk_need_cpu("rfork");
	if (sk_cur == NULL && flags != RUMP_RFFD_CLEAR)
		sk_fail("rfork from proc 1 without RUMP_RFFD_CLEAR");
	if (sk_cur != NULL && flags == RUMP_RFFD_CLEAR)
		sk_fail("guest rfork with a current lwp");
	pthread_mutex_lock(&sk_mtx);
	for (i = 0; i < NPROC && sk_procs[i].p_pid != 0; i++)
		continue;
	if (i == NPROC) {
		pthread_mutex_unlock(&sk_mtx);
		return SK_ENOMEM;
	}
	p = &sk_procs[i];
	memset(p, 0, sizeof(*p));
	p->p_pid = sk_nextpid++;
	p->p_cookie = cookie;
	snprintf(p->p_name, sizeof(p->p_name), "%s",
	    name != NULL ? name : sk_cur->l_proc->p_name);
	sk_cur = sk_newlwp_locked(p);
	pthread_mutex_unlock(&sk_mtx);
	return 0;
}

static int
sk_newlwp(pid_t pid)
{
	int i;

	sk_need_cpu("newlwp");
	if (sk_cur != NULL)
		sk_fail("newlwp with a current lwp");
	pthread_mutex_lock(&sk_mtx);
	for (i = 0; i < NPROC; i++) {
		if (sk_procs[i].p_pid == pid && !sk_procs[i].p_exiting) {
			sk_cur = sk_newlwp_locked(&sk_procs[i]);
			pthread_mutex_unlock(&sk_mtx);
			return 0;
		}
	}
	pthread_mutex_unlock(&sk_mtx);
	return SK_ESRCH;
}

static struct lwp *
sk_curlwp(void)
{

	sk_need_cpu("curlwp");
	return sk_cur;
}

static void
sk_lwpexit(void)
{

	sk_need_cpu("lwpexit");
	pthread_mutex_lock(&sk_mtx);
	sk_cur->l_proc->p_exiting = 1;
	pthread_mutex_unlock(&sk_mtx);
}

static void
sk_execnotify(const char *name)
{

	sk_need_cpu("execnotify");
	snprintf(sk_cur->l_proc->p_name, sizeof(sk_cur->l_proc->p_name),
	    "%s", name);
}

static pid_t
sk_getpid(void)
{

	sk_need_cpu("getpid");
	return sk_cur != NULL ? sk_cur->l_proc->p_pid : 1;
}

/*
 * Time n callbacks that reach the server and fail there at once: the cost
 * of crossing into Go and back, with the virtual CPU released and
 * reacquired around each.
 */
long
sk_bench(long n)
{
	struct timespec t0, t1;
	long i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		(void)rumpuser_sp_raise(SK_NOCLIENT, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0.tv_sec) * 1000000000L +
	    (t1.tv_nsec - t0.tv_nsec);
}

static int
sk_syscall(int num, void *data, long *retval)
{
	const long *arg = data;
	void *cookie;
	char buf[SK_LOGIN_MAX];
	size_t len;
	void *addr;
	int error;

	sk_need_cpu("syscall");
	if (sk_cur == NULL)
		sk_fail("syscall with no current lwp");
	cookie = sk_cur->l_proc->p_cookie;

	switch (num) {
	case SK_SYS_getpid:
		retval[0] = sk_cur->l_proc->p_pid;
		retval[1] = 1;
		return 0;
	case SK_SYS_write:
		len = (size_t)arg[2];
		if (len > sizeof(sk_data))
			return SK_EINVAL;
		error = rumpuser_sp_copyin(cookie, (void *)arg[1], sk_data,
		    len);
		if (error)
			return error;
		sk_datalen = len;
		retval[0] = (long)len;
		return 0;
	case SK_SYS_read:
		len = (size_t)arg[2] < sk_datalen ? (size_t)arg[2] : sk_datalen;
		error = rumpuser_sp_copyout(cookie, sk_data, (void *)arg[1],
		    len);
		if (error)
			return error;
		retval[0] = (long)len;
		return 0;
	case SK_SYS_setlogin:
		len = sizeof(buf);
		error = rumpuser_sp_copyinstr(cookie, (void *)arg[0], buf,
		    &len);
		if (error)
			return error;
		if (len == 0 || buf[len - 1] != '\0')
			return SK_EINVAL;
		retval[0] = (long)len;
		return 0;
	case SK_SYS_getname:
		len = strlen(sk_cur->l_proc->p_name) + 1;
		error = rumpuser_sp_copyoutstr(cookie, sk_cur->l_proc->p_name,
		    (void *)arg[0], &len);
		retval[0] = (long)len;
		return error;
	case SK_SYS_mmap:
		error = rumpuser_sp_anonmmap(cookie, (size_t)arg[1], &addr);
		retval[0] = (long)addr;
		return error;
	case SK_SYS_kill:
		return rumpuser_sp_raise(cookie, (int)arg[1]);
	case SK_SYS_reboot:
		rumpuser_sp_fini(cookie);
		return 0;
	case SK_SYS_bench:
		retval[0] = sk_bench(arg[0]);
		return 0;
	default:
		return SK_ENOSYS;
	}
}

struct rumpuser_hyperup rumpuser__hyp = {
	.hyp_schedule = sk_schedule,
	.hyp_unschedule = sk_unschedule,
	.hyp_backend_unschedule = sk_backend_unschedule,
	.hyp_backend_schedule = sk_backend_schedule,
	.hyp_lwproc_switch = sk_switch,
	.hyp_lwproc_release = sk_release,
	.hyp_lwproc_rfork = sk_rfork,
	.hyp_lwproc_newlwp = sk_newlwp,
	.hyp_lwproc_curlwp = sk_curlwp,
	.hyp_syscall = sk_syscall,
	.hyp_lwpexit = sk_lwpexit,
	.hyp_execnotify = sk_execnotify,
	.hyp_getpid = sk_getpid,
};
