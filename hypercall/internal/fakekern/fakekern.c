/*
 * fakekern.c: a test fixture standing in for the rump kernel behind
 * rumpuser__hyp in package hypercall's tests.  It records every hypercall
 * in a trace and counts breaches of the calling discipline (an lwproc
 * hypercall without the virtual CPU, nested scheduling), so that tests can
 * compare whole sequences.
 */

#include <sys/types.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rump/rumpuser.h>

#include "fakekern.h"

uint64_t rumpsp_hyp_curtag(void);

struct lwp {
	int	l_id;
	int	l_pid;
};

static pthread_mutex_t fk_mtx = PTHREAD_MUTEX_INITIALIZER;
static char fk_trace[8192];
static size_t fk_tracelen;
static int fk_violations;
static int fk_nextid = 1;
static int fk_nextpid = 2;
static int fk_rforkerr;
static int fk_quiet;		/* no trace: for benchmarks */

static __thread struct lwp *fk_cur;
static __thread int fk_cpu;

static void
fk_log(const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	size_t n;

	if (__atomic_load_n(&fk_quiet, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&fk_mtx);
	n = strlen(buf);
	if (fk_tracelen + n + 2 < sizeof(fk_trace)) {
		memcpy(fk_trace + fk_tracelen, buf, n);
		fk_tracelen += n;
		fk_trace[fk_tracelen++] = ';';
		fk_trace[fk_tracelen] = '\0';
	}
	pthread_mutex_unlock(&fk_mtx);
}

static void
fk_violation(void)
{

	__atomic_add_fetch(&fk_violations, 1, __ATOMIC_RELAXED);
}

static void
fk_need_cpu(void)
{

	if (fk_cpu != 1)
		fk_violation();
}

static int
fk_id(struct lwp *l)
{

	return l != NULL ? l->l_id : 0;
}

static struct lwp *
fk_newlwp(int pid)
{
	struct lwp *l;

	if ((l = malloc(sizeof(*l))) == NULL)
		abort();
	l->l_id = __atomic_fetch_add(&fk_nextid, 1, __ATOMIC_RELAXED);
	l->l_pid = pid;
	return l;
}

static void
fk_schedule(void)
{

	if (fk_cpu++ != 0)
		fk_violation();
}

static void
fk_unschedule(void)
{

	if (--fk_cpu != 0)
		fk_violation();
}

static void
fk_backend_unschedule(int dummy, int *nlocks, void *interlock)
{

	fk_need_cpu();
	fk_cpu = 0;
	*nlocks = 3;
	fk_log("bunsched");
}

static void
fk_backend_schedule(int nlocks, void *interlock)
{

	if (fk_cpu != 0 || nlocks != 3)
		fk_violation();
	fk_cpu = 1;
	fk_log("bsched");
}

static void
fk_switch(struct lwp *l)
{

	fk_need_cpu();
	fk_cur = l;
	fk_log("switch(%d)", fk_id(l));
}

static void
fk_release(void)
{

	fk_need_cpu();
	fk_log("release(%d)", fk_id(fk_cur));
	free(fk_cur);
	fk_cur = NULL;
}

static int
fk_rfork(void *cookie, int flags, const char *name)
{
	int pid;

	fk_need_cpu();
	fk_log("rfork(%lu,%d,%s)", (unsigned long)(uintptr_t)cookie, flags,
	    name != NULL ? name : "-");
	if (fk_rforkerr != 0)
		return fk_rforkerr;
	pid = __atomic_fetch_add(&fk_nextpid, 1, __ATOMIC_RELAXED);
	fk_cur = fk_newlwp(pid);
	return 0;
}

static int
fk_lwpnew(pid_t pid)
{

	fk_need_cpu();
	fk_log("newlwp(%d)", (int)pid);
	if (fk_cur != NULL)
		fk_violation();
	if (pid == FK_NOPID)
		return FK_ESRCH;
	fk_cur = fk_newlwp(pid);
	return 0;
}

static struct lwp *
fk_curlwp(void)
{

	fk_need_cpu();
	fk_log("curlwp");
	return fk_cur;
}

static int
fk_syscall(int num, void *data, long *retval)
{
	const long *arg = data;
	long sum = 0;
	int i;

	fk_need_cpu();
	fk_log("syscall(%d)", num);
	if (fk_cur == NULL)
		fk_violation();
	/* Reads as much as NetBSD's largest argument block. */
	for (i = 0; i < 9; i++)
		sum += arg[i];
	retval[0] = (long)rumpsp_hyp_curtag();
	retval[1] = sum;
	return num == FK_FAILSYS ? FK_EIO : 0;
}

static void
fk_lwpexit(void)
{

	fk_need_cpu();
	fk_log("lwpexit(%d)", fk_id(fk_cur));
}

static void
fk_execnotify(const char *name)
{

	fk_need_cpu();
	fk_log("exec(%d,%s)", fk_id(fk_cur), name);
}

static pid_t
fk_getpid(void)
{

	fk_need_cpu();
	fk_log("getpid");
	return fk_cur != NULL ? fk_cur->l_pid : 1;
}

struct rumpuser_hyperup rumpuser__hyp = {
	.hyp_schedule = fk_schedule,
	.hyp_unschedule = fk_unschedule,
	.hyp_backend_unschedule = fk_backend_unschedule,
	.hyp_backend_schedule = fk_backend_schedule,
	.hyp_lwproc_switch = fk_switch,
	.hyp_lwproc_release = fk_release,
	.hyp_lwproc_rfork = fk_rfork,
	.hyp_lwproc_newlwp = fk_lwpnew,
	.hyp_lwproc_curlwp = fk_curlwp,
	.hyp_syscall = fk_syscall,
	.hyp_lwpexit = fk_lwpexit,
	.hyp_execnotify = fk_execnotify,
	.hyp_getpid = fk_getpid,
};

void
fk_reset(int rforkerr, int quiet)
{

	pthread_mutex_lock(&fk_mtx);
	__atomic_store_n(&fk_quiet, quiet, __ATOMIC_RELAXED);
	fk_tracelen = 0;
	fk_trace[0] = '\0';
	fk_rforkerr = rforkerr;
	__atomic_store_n(&fk_violations, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&fk_mtx);
}

size_t
fk_gettrace(char *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&fk_mtx);
	n = fk_tracelen < len ? fk_tracelen : len;
	memcpy(buf, fk_trace, n);
	pthread_mutex_unlock(&fk_mtx);
	return n;
}

int
fk_getviolations(void)
{

	return __atomic_load_n(&fk_violations, __ATOMIC_RELAXED);
}

uintptr_t
fk_thread_curlwp(void)
{

	return (uintptr_t)fk_cur;
}

int
fk_lwpid(uintptr_t l)
{

	return ((struct lwp *)l)->l_id;
}

int
fk_thread_cpu(void)
{

	return fk_cpu;
}
