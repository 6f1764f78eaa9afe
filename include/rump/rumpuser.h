/*
 * rumpuser.h: the part of the rump kernel hypervisor interface, version 17,
 * that a sysproxy server needs.  The layout of struct rumpuser_hyperup and
 * the prototypes below match NetBSD's sys/rump/include/rump/rumpuser.h of
 * the same version, so an object built against this header links against a
 * rump kernel built against that one.  link/abicheck verifies this.
 */

#ifndef _RUMP_RUMPUSER_H_
#define _RUMP_RUMPUSER_H_

#include <sys/types.h>
#include <stddef.h>

#define RUMPUSER_VERSION 17

struct lwp;

/*
 * The kernel's entry points, filled in by the kernel when it calls
 * rumpuser_init() and published as the global rumpuser__hyp by the
 * hypervisor layer.  Member order is part of the ABI.
 */
struct rumpuser_hyperup {
	void	(*hyp_schedule)(void);
	void	(*hyp_unschedule)(void);
	void	(*hyp_backend_unschedule)(int, int *, void *);
	void	(*hyp_backend_schedule)(int, void *);
	void	(*hyp_lwproc_switch)(struct lwp *);
	void	(*hyp_lwproc_release)(void);
	int	(*hyp_lwproc_rfork)(void *, int, const char *);
	int	(*hyp_lwproc_newlwp)(pid_t);
	struct lwp *(*hyp_lwproc_curlwp)(void);
	int	(*hyp_syscall)(int, void *, long *);
	void	(*hyp_lwpexit)(void);
	void	(*hyp_execnotify)(const char *);
	pid_t	(*hyp_getpid)(void);
	void	*hyp__extra[8];
};

/* Flags for hyp_lwproc_rfork: what the new process gets of fd tables. */
#ifndef RUMP_RFFD_SHARE
#define RUMP_RFFD_SHARE	0	/* share the parent's descriptor table */
#define RUMP_RFFD_COPY	1	/* copy the parent's descriptor table */
#define RUMP_RFFD_CLEAR	2	/* start with an empty table */
#endif

/*
 * Sysproxy server.  Every function returns 0 or an errno value of the
 * rump kernel (NetBSD numbering).  arg is the cookie the server passed
 * to hyp_lwproc_rfork for the client on whose behalf the kernel acts.
 */
int	rumpuser_sp_init(const char *, const char *, const char *,
	    const char *);
int	rumpuser_sp_copyin(void *, const void *, void *, size_t);
int	rumpuser_sp_copyinstr(void *, const void *, void *, size_t *);
int	rumpuser_sp_copyout(void *, const void *, void *, size_t);
int	rumpuser_sp_copyoutstr(void *, const void *, void *, size_t *);
int	rumpuser_sp_anonmmap(void *, size_t, void **);
int	rumpuser_sp_raise(void *, int);
void	rumpuser_sp_fini(void *);

#endif /* _RUMP_RUMPUSER_H_ */
