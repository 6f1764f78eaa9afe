/*
 * democlient: a short, narrated session with a sysproxy server running the
 * demo kernel.
 *
 *	democlient URL
 *
 * It shows a process's pid, a file written and read back through the
 * kernel's store, a fork whose child talks to its parent through a kernel
 * pipe, and a reboot that the client sees answered before the server
 * goes away.  Exits 0 if every step did what it should.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demokern.h"
#include "spclient.h"

static void __attribute__((__noreturn__))
fail(const char *what, int error)
{

	printf("democlient: %s failed: error %d\n", what, error);
	exit(1);
}

static long
sys(struct spc *spc, const char *what, int num, int64_t a0, int64_t a1,
    int64_t a2, int64_t a3, long *rv1)
{
	int64_t args[4] = { a0, a1, a2, a3 };
	long retval[2];
	int error;

	if ((error = spc_syscall(spc, num, args, sizeof(args), retval)) != 0)
		fail(what, error);
	if (rv1 != NULL)
		*rv1 = retval[1];
	return retval[0];
}

/* The socket may exist a moment before the server listens on it. */
static struct spc *
connect_retry(const char *url)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct spc *spc;
	int error, i;

	for (i = 0; ; i++) {
		error = spc_connect(url, "democlient", &spc);
		if (error != SPC_ECONNREFUSED || i == 100)
			break;
		nanosleep(&ts, NULL);
	}
	if (error)
		fail("connect", error);
	return spc;
}

int
main(int argc, char *argv[])
{
	static const char msg[] = "hello, rump kernel";
	static const char path[] = "/demo/hello.txt";
	char buf[128];
	struct spc *spc, *child;
	long ppid, rfd, n, fd;
	pid_t pid;
	int error, status;

	if (argc != 2) {
		fprintf(stderr, "usage: democlient URL\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	spc = connect_retry(argv[1]);
	printf("connected to %s, server says %s", argv[1], spc_banner(spc));
	pid = (pid_t)sys(spc, "getpid", DK_SYS_getpid, 0, 0, 0, 0, &ppid);
	printf("I am pid %d in the rump kernel, my parent is pid %ld\n",
	    (int)pid, ppid);

	fd = sys(spc, "open", DK_SYS_open, (intptr_t)path,
	    DK_O_RDWR | DK_O_CREAT | DK_O_TRUNC, 0644, 0, NULL);
	n = sys(spc, "write", DK_SYS_write, fd, (intptr_t)msg, strlen(msg), 0,
	    NULL);
	printf("opened %s as fd %ld and wrote %ld bytes\n", path, fd, n);
	sys(spc, "lseek", DK_SYS_lseek, fd, 0, 0, DK_SEEK_SET, NULL);
	memset(buf, 0, sizeof(buf));
	n = sys(spc, "read", DK_SYS_read, fd, (intptr_t)buf, sizeof(buf) - 1,
	    0, NULL);
	printf("seeked back and read %ld bytes: \"%s\"\n", n, buf);
	if ((size_t)n != strlen(msg) || strcmp(buf, msg) != 0)
		fail("read back", 0);
	sys(spc, "close", DK_SYS_close, fd, 0, 0, 0, NULL);

	rfd = sys(spc, "pipe", DK_SYS_pipe, 0, 0, 0, 0, &fd);
	printf("made a pipe: read fd %ld, write fd %ld\n", rfd, fd);
	if ((error = spc_fork(spc, &pid, &child)) != 0)
		fail("fork", error);
	if (pid == 0) {
		pid = (pid_t)sys(child, "getpid", DK_SYS_getpid, 0, 0, 0, 0,
		    &ppid);
		snprintf(buf, sizeof(buf), "greetings from pid %d (parent %ld)",
		    (int)pid, ppid);
		sys(child, "close", DK_SYS_close, rfd, 0, 0, 0, NULL);
		sys(child, "write", DK_SYS_write, fd, (intptr_t)buf,
		    strlen(buf), 0, NULL);
		spc_close(child);
		_exit(0);
	}
	sys(spc, "close", DK_SYS_close, fd, 0, 0, 0, NULL);
	printf("forked host process %d, reading what it writes into the "
	    "pipe\n", (int)pid);
	memset(buf, 0, sizeof(buf));
	for (n = 0; ; n += error) {
		error = (int)sys(spc, "read", DK_SYS_read, rfd,
		    (intptr_t)buf + n, sizeof(buf) - 1 - n, 0, NULL);
		if (error == 0)
			break;
	}
	printf("the child said \"%s\", then the pipe reached EOF\n", buf);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fail("child", status);
	if (strncmp(buf, "greetings from pid", 18) != 0)
		fail("pipe contents", 0);

	printf("rebooting the kernel\n");
	n = sys(spc, "reboot", DK_SYS_reboot, 0, 0, 0, 0, NULL);
	printf("reboot answered (retval %ld); ", n);
	if (!spc_waitdead(spc, 5000))
		fail("waiting for the server to hang up", 0);
	printf("the server hung up\n");
	spc_close(spc);
	return 0;
}
