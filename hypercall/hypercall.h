/*
 * hypercall.h: the C side of package hypercall.  Every function here runs a
 * whole hypercall sequence on the calling thread and leaves that thread with
 * no current lwp, because the kernel keeps the current lwp per host thread
 * and a leftover one turns the next guest rfork on that thread into a panic.
 */

#ifndef _RUMPSP_HYPERCALL_H_
#define _RUMPSP_HYPERCALL_H_

#include <stddef.h>
#include <stdint.h>

/* One system call's outcome, filled in by rumpsp_hyp_syscall. */
struct rumpsp_sysres {
	int	sr_errno;
	long	sr_retval[2];
};

int	rumpsp_hyp_newguest(uintptr_t, const char *, uintptr_t *, int *);
int	rumpsp_hyp_prefork(uintptr_t, uintptr_t, uintptr_t *);
int	rumpsp_hyp_adoptfork(uintptr_t, uintptr_t, uintptr_t *, int *);
void	rumpsp_hyp_release(uintptr_t);
void	rumpsp_hyp_exit(uintptr_t);
void	rumpsp_hyp_execnotify(uintptr_t, const char *);
void	rumpsp_hyp_syscall(int, int, const void *, size_t, uint64_t,
	    struct rumpsp_sysres *);

/*
 * For the rumpuser_sp_* callbacks: give up the virtual CPU while waiting
 * for a client and take it back afterwards, and find out which system call
 * (if any) the calling thread is running on behalf of a client.
 */
void	rumpsp_hyp_cpu_release(int *);
void	rumpsp_hyp_cpu_acquire(int);
uint64_t rumpsp_hyp_curtag(void);

#endif /* _RUMPSP_HYPERCALL_H_ */
