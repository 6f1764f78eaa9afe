/*
 * hypercall.c: the only code that calls into the rump kernel.  Each
 * rumpsp_hyp_* function below is one complete sequence as the sysproxy
 * protocol needs it; Go calls each through a single cgo call, which keeps
 * the whole sequence on one OS thread.  Every lwproc hypercall is bracketed
 * by hyp_schedule/hyp_unschedule, since the kernel may only be entered while
 * holding a virtual CPU.
 */

#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include <rump/rumpuser.h>

#include "hypercall.h"

/* Defined by the hypervisor layer (librumpuser or rumpuser-xen). */
extern struct rumpuser_hyperup rumpuser__hyp;

/*
 * NetBSD passes at most SYS_MAXSYSARGS (8) register_t arguments, and
 * __syscall adds a quad for the number.  An argument block shorter than
 * that is zero-extended into a local buffer, so that a client sending too
 * few bytes cannot make the kernel read past them.
 */
#define RUMPSP_ARGMIN	((8 + 1) * sizeof(long))

/*
 * The tag of the system call the calling thread is running for a client,
 * 0 when none.  rumpuser_sp_fini reads it: the kernel calls fini on the
 * thread of the reboot system call that shuts it down.
 */
static __thread uint64_t rumpsp_curtag;

static void
rumpsp_switch(struct lwp *l)
{

	rumpuser__hyp.hyp_schedule();
	rumpuser__hyp.hyp_lwproc_switch(l);
	rumpuser__hyp.hyp_unschedule();
}

static void
rumpsp_lwprelease(void)
{

	rumpuser__hyp.hyp_schedule();
	rumpuser__hyp.hyp_lwproc_release();
	rumpuser__hyp.hyp_unschedule();
}

static int
rumpsp_rfork(uintptr_t cookie, int flags, const char *name)
{
	int error;

	rumpuser__hyp.hyp_schedule();
	error = rumpuser__hyp.hyp_lwproc_rfork((void *)cookie, flags, name);
	rumpuser__hyp.hyp_unschedule();
	return error;
}

static struct lwp *
rumpsp_curlwp(void)
{
	struct lwp *l;

	rumpuser__hyp.hyp_schedule();
	l = rumpuser__hyp.hyp_lwproc_curlwp();
	rumpuser__hyp.hyp_unschedule();
	return l;
}

static int
rumpsp_getpid(void)
{
	pid_t pid;

	rumpuser__hyp.hyp_schedule();
	pid = rumpuser__hyp.hyp_getpid();
	rumpuser__hyp.hyp_unschedule();
	return (int)pid;
}

/*
 * Fork a guest process off proc 1 with an empty descriptor table.  The
 * thread has no current lwp here, which is what makes the parent proc 1.
 */
int
rumpsp_hyp_newguest(uintptr_t cookie, const char *name, uintptr_t *lp,
    int *pidp)
{
	int error;

	if ((error = rumpsp_rfork(cookie, RUMP_RFFD_CLEAR, name)) != 0)
		return error;
	*lp = (uintptr_t)rumpsp_curlwp();
	*pidp = rumpsp_getpid();
	rumpsp_switch(NULL);
	return 0;
}

/*
 * Fork from the parent's process, copying its descriptors now so that they
 * survive the parent exiting before the child connects.
 */
int
rumpsp_hyp_prefork(uintptr_t cookie, uintptr_t parent, uintptr_t *lp)
{
	int error;

	rumpsp_switch((struct lwp *)parent);
	if ((error = rumpsp_rfork(cookie, RUMP_RFFD_COPY, NULL)) != 0) {
		rumpsp_switch(NULL);
		return error;
	}
	*lp = (uintptr_t)rumpsp_curlwp();
	rumpsp_switch(NULL);
	return 0;
}

/*
 * Fork once more from a preforked process, sharing its descriptors, so that
 * the process the client keeps is bound to the cookie of the connection it
 * came in on; then drop the prefork.  On failure the prefork is dropped too.
 */
int
rumpsp_hyp_adoptfork(uintptr_t cookie, uintptr_t pre, uintptr_t *lp,
    int *pidp)
{
	int error;

	rumpsp_switch((struct lwp *)pre);
	if ((error = rumpsp_rfork(cookie, RUMP_RFFD_SHARE, NULL)) != 0) {
		rumpsp_lwprelease();
		return error;
	}
	*lp = (uintptr_t)rumpsp_curlwp();
	*pidp = rumpsp_getpid();
	rumpsp_switch((struct lwp *)pre);
	rumpsp_lwprelease();
	rumpsp_switch(NULL);
	return 0;
}

void
rumpsp_hyp_release(uintptr_t l)
{

	rumpsp_switch((struct lwp *)l);
	rumpsp_lwprelease();
}

void
rumpsp_hyp_exit(uintptr_t l)
{

	rumpsp_switch((struct lwp *)l);
	rumpuser__hyp.hyp_schedule();
	rumpuser__hyp.hyp_lwpexit();
	rumpuser__hyp.hyp_unschedule();
	rumpsp_switch(NULL);
}

void
rumpsp_hyp_execnotify(uintptr_t l, const char *name)
{

	rumpsp_switch((struct lwp *)l);
	rumpuser__hyp.hyp_schedule();
	rumpuser__hyp.hyp_execnotify(name);
	rumpuser__hyp.hyp_unschedule();
	rumpsp_switch(NULL);
}

/*
 * Run one system call in a fresh lwp of process pid.  args may point into
 * Go memory; it is read only during this call and never kept.
 */
void
rumpsp_hyp_syscall(int pid, int num, const void *args, size_t len,
    uint64_t tag, struct rumpsp_sysres *res)
{
	long short_args[RUMPSP_ARGMIN / sizeof(long)];
	long retval[2] = { 0, 0 };
	void *data;
	int error;

	rumpuser__hyp.hyp_schedule();
	error = rumpuser__hyp.hyp_lwproc_newlwp((pid_t)pid);
	rumpuser__hyp.hyp_unschedule();
	if (error != 0) {
		res->sr_errno = error;
		res->sr_retval[0] = -1;
		res->sr_retval[1] = 0;
		return;
	}

	if (len < sizeof(short_args)) {
		memset(short_args, 0, sizeof(short_args));
		if (len > 0)
			memcpy(short_args, args, len);
		data = short_args;
	} else
		data = (void *)(uintptr_t)args;

	rumpsp_curtag = tag;
	rumpuser__hyp.hyp_schedule();
	error = rumpuser__hyp.hyp_syscall(num, data, retval);
	rumpuser__hyp.hyp_unschedule();
	rumpsp_curtag = 0;

	rumpsp_lwprelease();

	res->sr_errno = error;
	res->sr_retval[0] = retval[0];
	res->sr_retval[1] = retval[1];
}

void
rumpsp_hyp_cpu_release(int *nlocksp)
{

	rumpuser__hyp.hyp_backend_unschedule(0, nlocksp, NULL);
}

void
rumpsp_hyp_cpu_acquire(int nlocks)
{

	rumpuser__hyp.hyp_backend_schedule(nlocks, NULL);
}

uint64_t
rumpsp_hyp_curtag(void)
{

	return rumpsp_curtag;
}
