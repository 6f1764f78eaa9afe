/*
 * The stand-in guest's main program: boot the demo kernel, run the
 * platform start-up, then either serve sysproxy clients until one
 * reboots the kernel or, built without sysproxy, show that the stubs
 * refuse.
 *
 *	xenapp URL
 */

#include <stdio.h>
#include <unistd.h>

#include <rump/rumpuser.h>

#include "demokern.h"
#include "xenapp.h"

int
main(int argc, char **argv)
{
#ifndef RUMP_SYSPROXY
	int error;
#endif

	if (argc != 2) {
		fprintf(stderr, "usage: xenapp URL\n");
		return 2;
	}
	demokern_init();
	if (_netbsd_init(argv[1]) != 0)
		return 1;

#ifdef RUMP_SYSPROXY
	/* The demo kernel exits the process when a client reboots it. */
	for (;;)
		pause();
#else
	error = rumpuser_sp_init(argv[1], "Xen", "standin", "x86");
	printf("xenapp: rumpuser_sp_init: error %d\n", error);
	rumpuser_sp_fini(NULL);
	return error == DK_EOPNOTSUPP ? 0 : 1;
#endif
}
