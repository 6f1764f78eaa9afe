/*
 * rump/rump.h for building the C reference outside NetBSD: the rfork flags
 * come from rumpuser.h, and the reference also needs the hypervisor's
 * random number source, which librumpuser would provide.
 */

#ifndef _RUMPSP_COMPAT_RUMP_H_
#define _RUMPSP_COMPAT_RUMP_H_

#include <stddef.h>

#include <rump/rumpuser.h>

int	rumpuser_getrandom(void *, size_t, int, size_t *);

#endif /* _RUMPSP_COMPAT_RUMP_H_ */
