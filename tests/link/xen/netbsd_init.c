/*
 * Stand-in for rumpuser-xen's netbsd_init.c: the platform's start-up
 * hook, which starts the sysproxy server when the build asks for one.
 * The real file gets there through rump_init_server(); the demo kernel
 * has no such wrapper, so this calls the hypercall directly.
 */

#include <stdio.h>

#include <rump/rumpuser.h>

#include "xenapp.h"

int
_netbsd_init(const char *url)
{
#ifdef RUMP_SYSPROXY
	int error;

	if ((error = rumpuser_sp_init(url, "Xen", "standin", "x86")) != 0) {
		fprintf(stderr, "netbsd_init: sysproxy %s: error %d\n", url,
		    error);
		return error;
	}
#endif
	return 0;
}
