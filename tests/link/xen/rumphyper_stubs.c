/*
 * Stand-in for rumpuser-xen's rumphyper_stubs.c: hypercalls the platform
 * does not offer are defined here to fail.  The sysproxy ones are left
 * out when RUMP_SYSPROXY is defined, because librumpsp.a provides them.
 *
 * As on the real platform, the stubs take no parameters and callers use
 * rumpuser.h's prototypes; every supported ABI passes arguments so that
 * the callee may ignore them.  This file therefore does not include
 * rumpuser.h.
 */

/* NetBSD's EOPNOTSUPP: the kernel expects its own errno numbers. */
#define STUB_EOPNOTSUPP	45

#define NOTSUP(name)							\
int name(void);								\
int									\
name(void)								\
{									\
									\
	return STUB_EOPNOTSUPP;						\
}

#define NOTHING(name)							\
void name(void);							\
void									\
name(void)								\
{									\
									\
}

NOTSUP(rumpuser_kill)

#ifndef RUMP_SYSPROXY
NOTSUP(rumpuser_sp_init)
NOTHING(rumpuser_sp_fini)
NOTSUP(rumpuser_sp_raise)
NOTSUP(rumpuser_sp_copyin)
NOTSUP(rumpuser_sp_copyout)
NOTSUP(rumpuser_sp_copyinstr)
NOTSUP(rumpuser_sp_copyoutstr)
NOTSUP(rumpuser_sp_anonmmap)
#endif

NOTHING(rumpuser_dl_bootstrap)
