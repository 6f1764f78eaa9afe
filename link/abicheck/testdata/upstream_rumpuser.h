/*
 * Test fixture standing in for NetBSD's sys/rump/include/rump/rumpuser.h:
 * written for these tests, it has the traits the checker must cope with
 * (no includes of its own, a guard against non-kernel consumers, NetBSD
 * cdefs macros, a NetBSD-only header, declarations rumpsp does not use,
 * and the sysproxy part behind its own condition).
 */

#ifndef _FIXTURE_RUMPUSER_H_
#define _FIXTURE_RUMPUSER_H_

#if !defined(_KERNEL) && !defined(LIBRUMPUSER)
#error only for the kernel and its hypervisor layer
#endif

#include <sys/fixture_netbsd_only.h>

struct lwp;

#define RUMPUSER_VERSION 17

struct rumpuser_hyperup {
	void (*hyp_schedule)(void);
	void (*hyp_unschedule)(void);
	void (*hyp_backend_unschedule)(int, int *, void *);
	void (*hyp_backend_schedule)(int, void *);
	void (*hyp_lwproc_switch)(struct lwp *);
	void (*hyp_lwproc_release)(void);
	int (*hyp_lwproc_rfork)(void *, int, const char *);
	int (*hyp_lwproc_newlwp)(pid_t);
	struct lwp * (*hyp_lwproc_curlwp)(void);
	int (*hyp_syscall)(int, void *, long *);
	void (*hyp_lwpexit)(void);
	void (*hyp_execnotify)(const char *);
	pid_t (*hyp_getpid)(void);
	void *hyp__extra[8];
};
int rumpuser_init(int, const struct rumpuser_hyperup *);

int rumpuser_malloc(size_t, int, void **);
int rumpuser_clock_gettime(int, int64_t *, long *);
int rumpuser_getfileinfo(const char *, uint64_t *, int *);
void rumpuser_exit(int) __dead;
void rumpuser_dprintf(const char *, ...) __printflike(1, 2);

typedef void (*fixture_biodone_fn)(void *, size_t, int);
void rumpuser_bio(int, int, void *, size_t, int64_t, fixture_biodone_fn,
    void *);

#if defined(_RUMP_SYSPROXY) || defined(LIBRUMPUSER)
int	rumpuser_sp_init(const char *,
	    const char *, const char *, const char *);
int	rumpuser_sp_copyin(void *, const void *, void *, size_t);
int	rumpuser_sp_copyinstr(void *, const void *, void *, size_t *);
int	rumpuser_sp_copyout(void *, const void *, void *, size_t);
int	rumpuser_sp_copyoutstr(void *, const void *, void *, size_t *);
int	rumpuser_sp_anonmmap(void *, size_t, void **);
int	rumpuser_sp_raise(void *, int);
void	rumpuser_sp_fini(void *);
#endif

#endif /* _FIXTURE_RUMPUSER_H_ */
