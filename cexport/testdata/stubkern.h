/* stubkern.h: what the smoke test needs to know of the stub kernel. */

#ifndef _STUBKERN_H_
#define _STUBKERN_H_

#include <stdint.h>

#define SK_SYS_read	3	/* (fd, buf, n): the bytes of the last write */
#define SK_SYS_write	4	/* (fd, buf, n): keep n bytes from buf */
#define SK_SYS_getpid	20	/* () -> pid, 1 */
#define SK_SYS_kill	37	/* (pid, signo): raise signo in the client */
#define SK_SYS_setlogin	50	/* (name): copyinstr, -> bytes received */
#define SK_SYS_mmap	197	/* (addr, len, ...): anonmmap len */
#define SK_SYS_reboot	208	/* (): rumpuser_sp_fini on this client */
#define SK_SYS_getname	502	/* (buf): copyoutstr of the process name */
#define SK_SYS_bench	510	/* (n): n raises to no client -> ns taken */

/* A cookie that names no client. */
#define SK_NOCLIENT	((void *)~(uintptr_t)0)

#define SK_LOGIN_MAX	17	/* as NetBSD's MAXLOGNAME */

#define SK_ESRCH	3
#define SK_ENOMEM	12
#define SK_EFAULT	14
#define SK_EINVAL	22
#define SK_ENOSYS	78

/* Times n callbacks from the calling thread; it must hold the CPU. */
long	sk_bench(long);

#endif /* _STUBKERN_H_ */
