/*
 * probe: the client of the link proofs.  It becomes a guest of the
 * server at URL, makes calls that exercise every direction of the
 * protocol (a plain syscall, a copyinstr from the client, a copyoutstr
 * to it) and reboots the kernel, which makes the server exit.
 *
 *	probe URL
 *
 * Prints one line and exits 0 if every answer was right.
 */

#include <sys/types.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "demokern.h"
#include "spclient.h"

static int
fail(const char *what, int error)
{

	fprintf(stderr, "probe: %s: error %d\n", what, error);
	return 1;
}

int
main(int argc, char **argv)
{
	static const char name[] = "linkprobe";
	struct spc *spc;
	int64_t args[2];
	long rv[2];
	char buf[DK_MAXLOGNAME];
	int error;

	if (argc != 2) {
		fprintf(stderr, "usage: probe URL\n");
		return 2;
	}
	if ((error = spc_connect(argv[1], "probe", &spc)) != 0)
		return fail("connect", error);

	if ((error = spc_syscall(spc, DK_SYS_getpid, NULL, 0, rv)) != 0)
		return fail("getpid", error);
	if (rv[0] <= 1)
		return fail("getpid returned pid <= 1", (int)rv[0]);

	args[0] = (int64_t)(uintptr_t)name;
	if ((error = spc_syscall(spc, DK_SYS___setlogin, args,
	    sizeof(args[0]), rv)) != 0)
		return fail("__setlogin", error);

	memset(buf, 0, sizeof(buf));
	args[0] = (int64_t)(uintptr_t)buf;
	args[1] = sizeof(buf);
	if ((error = spc_syscall(spc, DK_SYS___getlogin, args,
	    sizeof(args), rv)) != 0)
		return fail("__getlogin", error);
	if (strcmp(buf, name) != 0) {
		fprintf(stderr, "probe: __getlogin gave \"%s\"\n", buf);
		return 1;
	}

	printf("probe: ok: %s", spc_banner(spc));

	/* The server answers the reboot, then its process exits. */
	args[0] = 0;
	args[1] = 0;
	if ((error = spc_syscall(spc, DK_SYS_reboot, args, sizeof(args),
	    rv)) != 0)
		return fail("reboot", error);
	spc_close(spc);
	return 0;
}
