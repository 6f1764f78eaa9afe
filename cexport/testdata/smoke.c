/*
 * smoke.c: a test of the archive on its own, against the stub kernel.
 *
 * smoke fork	forks before rumpuser_sp_init, as a daemonizing rump_server
 *		does; the child serves and the parent is the client.
 * smoke plain	checks the calls made without a server, then serves and
 *		is the client in one process.
 * smoke bench	measures, rather than checks: the runtime start, callbacks
 *		into Go from a server thread and from a thread of the
 *		host, and system call round trips over the socket.
 * smoke env	is plain with RUMPSP_DEBUG set by setenv before init: the
 *		server must see the environment as it is at init, so the
 *		caller expects debug lines on stderr.
 *
 * The client side speaks the wire protocol by hand and answers the
 * server's copy requests itself, so every rumpuser_sp_* callback is
 * exercised end to end.  Exit status 0 means every check passed.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rump/rumpuser.h>

#include "stubkern.h"

#define HDRSZ	24

enum { REQ, RESP, ERROR };
enum { HANDSHAKE, SYSCALL, COPYIN, COPYINSTR, COPYOUT, COPYOUTSTR,
	ANONMMAP, PREFORK, RAISE };

struct hdr {
	uint64_t	len;
	uint64_t	reqno;
	uint16_t	class;
	uint16_t	type;
	uint32_t	u32;
};

static int failures;
static uint64_t nextreq = 1;

static void
check(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	failures++;
	fprintf(stderr, "smoke: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static void
xfail(const char *what)
{

	fprintf(stderr, "smoke: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void
writeall(int fd, const void *p, size_t n)
{
	ssize_t k;

	for (; n > 0; n -= (size_t)k, p = (const char *)p + k)
		if ((k = write(fd, p, n)) <= 0)
			xfail("write");
}

static void
readall(int fd, void *p, size_t n)
{
	ssize_t k;

	for (; n > 0; n -= (size_t)k, p = (char *)p + k)
		if ((k = read(fd, p, n)) <= 0)
			xfail("read");
}

static void
sendframe(int fd, uint64_t reqno, int class, int type, uint32_t u32,
    const void *body, size_t len)
{
	unsigned char h[HDRSZ];
	uint64_t total = HDRSZ + len;
	uint16_t c = class, t = type;

	memcpy(h, &total, 8);
	memcpy(h + 8, &reqno, 8);
	memcpy(h + 16, &c, 2);
	memcpy(h + 18, &t, 2);
	memcpy(h + 20, &u32, 4);
	writeall(fd, h, sizeof(h));
	if (len > 0)
		writeall(fd, body, len);
}

/* Read one frame; its body goes to buf, which must be large enough. */
static size_t
recvframe(int fd, struct hdr *h, void *buf, size_t max)
{
	unsigned char b[HDRSZ];
	size_t len;

	readall(fd, b, sizeof(b));
	memcpy(&h->len, b, 8);
	memcpy(&h->reqno, b + 8, 8);
	memcpy(&h->class, b + 16, 2);
	memcpy(&h->type, b + 18, 2);
	memcpy(&h->u32, b + 20, 4);
	if (h->len < HDRSZ || h->len - HDRSZ > max) {
		fprintf(stderr, "smoke: bad frame length %ju\n",
		    (uintmax_t)h->len);
		exit(2);
	}
	len = h->len - HDRSZ;
	readall(fd, buf, len);
	return len;
}

/*
 * What the fake client process holds at fake addresses: a copyin of
 * CLIENT_DATA or CLIENT_NAME gets these bytes, copyouts are recorded.
 */
#define CLIENT_DATA	0x1000
#define CLIENT_NAME	0x3000
#define CLIENT_OUT	0x5000
static const char client_data[] = "hello, kernel";
static const char client_name[] = "root";
static char client_out[256];
static size_t client_outlen;
static int client_signal;
static uint64_t client_mmap;

/* Serve the server's requests until the response to reqno comes. */
static void
syscall_(int fd, int num, const long *args, int nargs, int *errorp,
    long retval[2])
{
	unsigned char buf[512];
	struct hdr h;
	uint64_t reqno = nextreq++, len, addr, howmuch;
	size_t n;
	int32_t error;

	sendframe(fd, reqno, REQ, SYSCALL, (uint32_t)num, args,
	    nargs * sizeof(long));
	for (;;) {
		n = recvframe(fd, &h, buf, sizeof(buf));
		if (h.class == RESP && h.type == SYSCALL) {
			check(h.reqno == reqno, "syscall %d: reqno %ju", num,
			    (uintmax_t)h.reqno);
			check(n == 24, "syscall %d: response of %zu", num, n);
			memcpy(&error, buf, 4);
			memcpy(retval, buf + 8, 16);
			*errorp = error;
			return;
		}
		check(h.class == REQ, "syscall %d: class %u", num, h.class);
		switch (h.type) {
		case COPYIN:
		case COPYINSTR:
			memcpy(&len, buf, 8);
			memcpy(&addr, buf + 8, 8);
			if (addr == CLIENT_DATA) {
				sendframe(fd, h.reqno, RESP, h.type, 0,
				    client_data, len);
			} else if (addr == CLIENT_NAME) {
				if (len > sizeof(client_name))
					len = sizeof(client_name);
				sendframe(fd, h.reqno, RESP, h.type, 0,
				    client_name, len);
			} else
				check(0, "copyin from %jx", (uintmax_t)addr);
			break;
		case COPYOUT:
		case COPYOUTSTR:
			memcpy(&len, buf, 8);
			memcpy(&addr, buf + 8, 8);
			check(addr == CLIENT_OUT && len + 16 == n &&
			    len <= sizeof(client_out), "copyout %ju to %jx",
			    (uintmax_t)len, (uintmax_t)addr);
			memcpy(client_out, buf + 16, len);
			client_outlen = len;
			break;
		case ANONMMAP:
			memcpy(&howmuch, buf, 8);
			check(n == 8 && howmuch == 4096, "anonmmap %ju",
			    (uintmax_t)howmuch);
			sendframe(fd, h.reqno, RESP, ANONMMAP, 0,
			    &client_mmap, 8);
			break;
		case RAISE:
			client_signal = (int)h.u32;
			break;
		default:
			check(0, "unexpected request type %u", h.type);
			exit(2);
		}
	}
}

static int
connectto(const char *path)
{
	struct sockaddr_un sun;
	int fd, i;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	for (i = 0; i < 500; i++) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
			xfail("socket");
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		close(fd);
		usleep(10000);
	}
	xfail("connect");
	return -1;
}

static void
client(const char *path)
{
	char banner[96], buf[64];
	struct hdr h;
	long args[8], rv[2];
	ssize_t n;
	int fd, error, pid;
	int32_t herr;

	fd = connectto(path);
	n = read(fd, banner, sizeof(banner) - 1);
	check(n > 0, "no banner");
	banner[n > 0 ? n : 0] = '\0';
	check(strcmp(banner, "RUMPSP-0.4-Smoke-1.0/stub\n") == 0,
	    "banner %s", banner);

	sendframe(fd, nextreq++, REQ, HANDSHAKE, 0, "smoke", 6);
	recvframe(fd, &h, buf, sizeof(buf));
	memcpy(&herr, buf, 4);
	check(h.class == RESP && h.type == HANDSHAKE && herr == 0,
	    "handshake: class %u type %u error %d", h.class, h.type, herr);

	syscall_(fd, SK_SYS_getpid, NULL, 0, &error, rv);
	pid = (int)rv[0];
	check(error == 0 && pid >= 2 && rv[1] == 1, "getpid %d %ld %ld",
	    error, rv[0], rv[1]);

	args[0] = 1; args[1] = CLIENT_DATA; args[2] = 5;
	syscall_(fd, SK_SYS_write, args, 3, &error, rv);
	check(error == 0 && rv[0] == 5, "write %d %ld", error, rv[0]);

	args[0] = 0; args[1] = CLIENT_OUT; args[2] = 100;
	syscall_(fd, SK_SYS_read, args, 3, &error, rv);
	check(error == 0 && rv[0] == 5 && client_outlen == 5 &&
	    memcmp(client_out, "hello", 5) == 0, "read %d %ld", error, rv[0]);

	args[0] = CLIENT_NAME;
	syscall_(fd, SK_SYS_setlogin, args, 1, &error, rv);
	check(error == 0 && rv[0] == 5, "setlogin %d %ld", error, rv[0]);

	args[0] = CLIENT_OUT;
	syscall_(fd, SK_SYS_getname, args, 1, &error, rv);
	check(error == 0 && rv[0] == 6 && client_outlen == 6 &&
	    strcmp(client_out, "smoke") == 0, "getname %d %ld", error,
	    rv[0]);

	client_mmap = 0x7000;
	args[0] = 0; args[1] = 4096;
	syscall_(fd, SK_SYS_mmap, args, 7, &error, rv);
	check(error == 0 && rv[0] == 0x7000, "mmap %d %lx", error, rv[0]);
	client_mmap = 0;
	syscall_(fd, SK_SYS_mmap, args, 7, &error, rv);
	check(error == SK_ENOMEM, "failing mmap %d", error);

	args[0] = pid; args[1] = 15;
	syscall_(fd, SK_SYS_kill, args, 2, &error, rv);
	check(error == 0 && client_signal == 15, "kill %d %d", error,
	    client_signal);

	syscall_(fd, 999, NULL, 0, &error, rv);
	check(error == SK_ENOSYS, "syscall 999 %d", error);

	syscall_(fd, SK_SYS_reboot, NULL, 0, &error, rv);
	check(error == 0 && rv[0] == 0 && rv[1] == 0, "reboot %d", error);
	close(fd);
}

static double
elapsed(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e9 + (t1.tv_nsec - t0->tv_nsec);
}

static void
bench(const char *url, const char *path)
{
	extern struct rumpuser_hyperup rumpuser__hyp;
	struct timespec t0;
	char banner[96], buf[64];
	struct hdr h;
	long args[1], rv[2];
	int fd, error, i, n = 20000;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((error = rumpuser_sp_init(url, "Smoke", "1.0", "stub")) != 0) {
		fprintf(stderr, "smoke: init: %d\n", error);
		exit(2);
	}
	printf("init, runtime start included: %.0f us\n", elapsed(&t0) / 1e3);

	rumpuser__hyp.hyp_schedule();
	sk_bench(1000);
	printf("callback from a host thread: %.0f ns\n",
	    (double)sk_bench(n) / n);
	rumpuser__hyp.hyp_unschedule();

	fd = connectto(path);
	if (read(fd, banner, sizeof(banner)) <= 0)
		xfail("banner");
	sendframe(fd, nextreq++, REQ, HANDSHAKE, 0, "bench", 6);
	recvframe(fd, &h, buf, sizeof(buf));

	args[0] = n;
	syscall_(fd, SK_SYS_bench, args, 1, &error, rv);
	printf("callback from a server thread: %.0f ns\n", (double)rv[0] / n);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		syscall_(fd, SK_SYS_getpid, NULL, 0, &error, rv);
	printf("getpid round trip over a unix socket: %.1f us\n",
	    elapsed(&t0) / n / 1e3);
	close(fd);
}

static int
serve(const char *url)
{

	return rumpuser_sp_init(url, "Smoke", "1.0", "stub");
}

int
main(int argc, char *argv[])
{
	char dir[] = "/tmp/rumpsp-smoke.XXXXXX", path[128], url[160];
	unsigned char b[8];
	size_t len = 8;
	void *addr;
	pid_t pid;
	int error, status;

	if (argc != 2)
		return 2;
	if (mkdtemp(dir) == NULL)
		xfail("mkdtemp");
	snprintf(path, sizeof(path), "%s/sp.sock", dir);
	snprintf(url, sizeof(url), "unix://%s", path);

	if (strcmp(argv[1], "fork") == 0) {
		if ((pid = fork()) == -1)
			xfail("fork");
		if (pid == 0) {
			if ((error = serve(url)) != 0) {
				fprintf(stderr, "smoke: init: %d\n", error);
				_exit(1);
			}
			for (;;)
				pause();
		}
		client(path);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "server child died early (status %#x)", status);
	} else if (strcmp(argv[1], "plain") == 0 ||
	    strcmp(argv[1], "env") == 0) {
		if (strcmp(argv[1], "env") == 0 &&
		    setenv("RUMPSP_DEBUG", "1", 1) == -1)
			xfail("setenv");
		/* Without a server: errors, not hangs or crashes. */
		check(rumpuser_sp_copyin(NULL, NULL, b, 8) == SK_EFAULT,
		    "copyin without server");
		check(rumpuser_sp_copyinstr(NULL, NULL, b, &len) == SK_EFAULT,
		    "copyinstr without server");
		check(rumpuser_sp_copyout(NULL, b, NULL, 8) == SK_EFAULT,
		    "copyout without server");
		check(rumpuser_sp_anonmmap(NULL, 8, &addr) == SK_EFAULT,
		    "anonmmap without server");
		rumpuser_sp_fini(NULL);
		check(rumpuser_sp_init(NULL, "a", "b", "c") == SK_EINVAL,
		    "init with NULL url");
		check(serve("bogus://x") != 0, "init with a bad url");
		error = serve(url);
		check(error == 0, "init: %d", error);
		check(serve(url) == 16, "second init is not EBUSY");
		client(path);
	} else if (strcmp(argv[1], "bench") == 0)
		bench(url, path);
	else
		return 2;

	unlink(path);
	rmdir(dir);
	if (failures == 0)
		printf("smoke %s: ok\n", argv[1]);
	return failures != 0;
}
