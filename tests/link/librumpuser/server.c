/*
 * server: a program that gets both the kernel and the sysproxy server
 * from the stand-in librumpuser, linked statically or against the
 * shared library.  Serves URL until a client reboots the kernel.
 *
 *	server URL
 */

#include <stdio.h>
#include <unistd.h>

#include <rump/rumpuser.h>

#include "demokern.h"

int
main(int argc, char **argv)
{
	int error;

	if (argc != 2) {
		fprintf(stderr, "usage: server URL\n");
		return 2;
	}
	demokern_init();
	if ((error = rumpuser_sp_init(argv[1], "Linux", "standin",
	    "librumpuser")) != 0) {
		fprintf(stderr, "server: %s: error %d\n", argv[1], error);
		return 1;
	}
	/* The demo kernel exits the process when a client reboots it. */
	for (;;)
		pause();
}
