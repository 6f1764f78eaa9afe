/*
 * sys/cdefs.h for building NetBSD's rumpuser_sp.c (the C reference) on
 * glibc: the system header plus the NetBSD macros it leans on.
 */

#ifndef _RUMPSP_COMPAT_SYS_CDEFS_H_
#define _RUMPSP_COMPAT_SYS_CDEFS_H_

#include_next <sys/cdefs.h>

#include <stdint.h>

#ifndef __RCSID
#define __RCSID(s)	struct __rumpsp_rcsid_unused
#endif
#ifndef __UNCONST
#define __UNCONST(a)	((void *)(uintptr_t)(const void *)(a))
#endif
#ifndef __predict_true
#define __predict_true(x)	__builtin_expect(!!(x), 1)
#define __predict_false(x)	__builtin_expect(!!(x), 0)
#endif
#ifndef __arraycount
#define __arraycount(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif
#ifndef _DIAGASSERT
#include <assert.h>
#define _DIAGASSERT(e)	assert(e)
#endif
#ifndef INFTIM
#define INFTIM		(-1)
#endif

/*
 * Linux's sockaddr_in has no sin_len.  The reference sets it before
 * sin_family, so aliasing it to sin_family is harmless: the family is
 * written right after.
 */
#define sin_len		sin_family

#endif /* _RUMPSP_COMPAT_SYS_CDEFS_H_ */
