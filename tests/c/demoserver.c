/*
 * demoserver: serve the demo kernel over sysproxy, like rump_server.
 *
 *	demoserver [-d] URL
 *
 * -d daemonizes the way rump_server does: fork() before anything of the
 * kernel or the server exists, serve from the child, and let the parent
 * exit 0 once the child is listening.  The process exits when a client
 * reboots the kernel.
 */

#include <sys/types.h>
#include <sys/utsname.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rump/rumpuser.h>

#include "demokern.h"

static void
usage(void)
{

	fprintf(stderr, "usage: demoserver [-d] URL\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct utsname un;
	const char *machine = "amd64";
	int ch, daemonize = 0, error, readyfd = -1, pfd[2];
	char ok;
	ssize_t n;

	while ((ch = getopt(argc, argv, "d")) != -1) {
		switch (ch) {
		case 'd':
			daemonize = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();

	/* NetBSD calls x86-64 amd64; other machines keep the host's name. */
	if (uname(&un) == 0 && strcmp(un.machine, "x86_64") != 0)
		machine = un.machine;

	if (daemonize) {
		if (pipe(pfd) == -1) {
			perror("demoserver: pipe");
			return 1;
		}
		switch (fork()) {
		case -1:
			perror("demoserver: fork");
			return 1;
		case 0:
			close(pfd[0]);
			readyfd = pfd[1];
			if (setsid() == -1)
				perror("demoserver: setsid");
			break;
		default:
			/* The child writes one byte once it serves. */
			close(pfd[1]);
			while ((n = read(pfd[0], &ok, 1)) == -1 &&
			    errno == EINTR)
				continue;
			return n == 1 ? 0 : 1;
		}
	}

	demokern_init();
	if ((error = rumpuser_sp_init(argv[0], "NetBSD", "10.0",
	    machine)) != 0) {
		fprintf(stderr, "demoserver: rumpuser_sp_init(%s): error %d\n",
		    argv[0], error);
		return 1;
	}
	if (readyfd != -1) {
		ok = 1;
		if (write(readyfd, &ok, 1) != 1)
			perror("demoserver: ready notification");
		close(readyfd);
	}

	/* The kernel exits the process when a client reboots it. */
	for (;;)
		pause();
}
