/*
 * ctest: end-to-end tests of a sysproxy server running the demo kernel.
 *
 *	ctest [-v] [-t timeout] SERVER [test ...]
 *
 * Every test gets a fresh server (SERVER URL, or SERVER -d URL) on a unix
 * socket in a new temporary directory and runs in a child process of its
 * own, in its own process group, under a timeout.  A test fails if it
 * says so, crashes, times out, or if the server dies under it (the demo
 * kernel aborts on misuse of the hypercall interface, so a server bug
 * usually shows up that way).  One line per test, then
 * "ctest: N passed, M failed"; the exit status is 1 if anything failed.
 * -v prints the logs of passing tests too.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demokern.h"
#include "spclient.h"

#define SERVER_WAIT_MS	5000	/* for the socket to appear */
#define EXIT_WAIT_MS	5000	/* for a rebooted server to exit */

/* What a test knows about the server it runs against. */
struct env {
	char	url[256];
	char	sock[200];
	int	flags;
};

struct test {
	const char	*name;
	void		(*fn)(struct env *);
	int		 flags;
#define T_DAEMON	0x01	/* start the server with -d */
#define T_SERVEREXIT	0x02	/* the test reboots the server */
	const char	*what;
};

static int timeout_s = 30;

/*
 * Helpers for test bodies, which run in a child process: any failure
 * prints where and why and exits 1.
 */

static void __attribute__((__noreturn__, __format__(__printf__, 3, 4)))
failf(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	exit(1);
}

#define FAIL(...)	failf(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(c) do {							\
	if (!(c))							\
		FAIL("check failed: %s", #c);				\
} while (/*CONSTCOND*/0)
#define CHECKEQ(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_)							\
		FAIL("%s is %lld, want %s = %lld", #a, a_, #b, b_);	\
} while (/*CONSTCOND*/0)

static void
msleep(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A system call; args are int64_t slots (pointers cast to intptr_t). */
static int
sys_(struct spc *spc, long *rv, int num, const int64_t *args, size_t len)
{
	long retval[2] = { 0, 0 };
	int error;

	error = spc_syscall(spc, num, args, len, retval);
	if (rv != NULL) {
		rv[0] = retval[0];
		rv[1] = retval[1];
	}
	return error;
}

#define SYS(spc, rv, num, ...)						\
	sys_(spc, rv, num, (const int64_t[]){ __VA_ARGS__ },		\
	    sizeof((const int64_t[]){ __VA_ARGS__ }))
#define SYS0(spc, rv, num)	sys_(spc, rv, num, NULL, 0)
#define P(x)			((int64_t)(intptr_t)(x))

/* A system call that must succeed; returns retval[0]. */
#define OK(call) do {							\
	int e_;								\
	if ((e_ = (call)) != 0)						\
		FAIL("%s: error %d", #call, e_);			\
} while (/*CONSTCOND*/0)
#define OKSYS(spc, num, ...) ({						\
	long rvx_[2];							\
	int ex_ = SYS(spc, rvx_, num, __VA_ARGS__);			\
	if (ex_ != 0)							\
		FAIL("syscall %d: error %d", num, ex_);			\
	rvx_[0];							\
})
#define OKSYS0(spc, num) ({						\
	long rvx_[2];							\
	int ex_ = SYS0(spc, rvx_, num);					\
	if (ex_ != 0)							\
		FAIL("syscall %d: error %d", num, ex_);			\
	rvx_[0];							\
})

/* Connect, retrying while the server gets to listen(). */
static struct spc *
xconnect(struct env *env, const char *comm)
{
	struct spc *spc;
	int error, i;

	for (i = 0; ; i++) {
		error = spc_connect(env->url, comm, &spc);
		if (error != SPC_ECONNREFUSED || i == 100)
			break;
		msleep(20);
	}
	if (error)
		FAIL("connect %s: error %d", env->url, error);
	return spc;
}

static long
nproc(struct spc *spc)
{

	return OKSYS0(spc, DK_SYS_nproc);
}

/* Wait up to ms for the kernel's live process count to become want. */
static void
wait_nproc(struct spc *spc, long want, int ms)
{
	long long end = now_ms() + ms;
	long n;

	while ((n = nproc(spc)) != want && now_ms() < end)
		msleep(10);
	if (n != want)
		FAIL("live processes: %ld, want %ld", n, want);
}

static void
pattern(unsigned char *buf, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
}

/* Write all of buf to fd in chunks of the given size. */
static void
writeall(struct spc *spc, long fd, const unsigned char *buf, size_t len,
    size_t chunk)
{
	size_t done, n;
	long rv[2];
	int error;

	for (done = 0; done < len; done += (size_t)rv[0]) {
		n = len - done < chunk ? len - done : chunk;
		if ((error = SYS(spc, rv, DK_SYS_write, fd, P(buf + done),
		    (int64_t)n)) != 0)
			FAIL("write at %zu: error %d", done, error);
		if (rv[0] <= 0 || (size_t)rv[0] > n)
			FAIL("write at %zu: returned %ld for %zu", done,
			    rv[0], n);
	}
}

/* Read until EOF or len bytes; returns the count. */
static size_t
readall(struct spc *spc, long fd, unsigned char *buf, size_t len,
    size_t chunk)
{
	size_t done, n;
	long rv[2];
	int error;

	for (done = 0; done < len; done += (size_t)rv[0]) {
		n = len - done < chunk ? len - done : chunk;
		if ((error = SYS(spc, rv, DK_SYS_read, fd, P(buf + done),
		    (int64_t)n)) != 0)
			FAIL("read at %zu: error %d", done, error);
		if (rv[0] == 0)
			break;
		if (rv[0] < 0 || (size_t)rv[0] > n)
			FAIL("read at %zu: returned %ld for %zu", done, rv[0],
			    n);
	}
	return done;
}

/* Wait for a host child and require exit status 0. */
static void
waitchild(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			FAIL("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("forked child failed (status %#x)", status);
}

/*
 * The tests.
 */

static void
test_pids(struct env *env)
{
	struct spc *c[8], *child;
	long pid[8], rv[2], mypid, myppid;
	pid_t hostpid;
	int i, j;

	for (i = 0; i < 8; i++)
		c[i] = xconnect(env, "pids");
	for (i = 0; i < 8; i++) {
		CHECKEQ(SYS0(c[i], rv, DK_SYS_getpid), 0);
		pid[i] = rv[0];
		CHECK(pid[i] >= 2);
		CHECKEQ(rv[1], 1);
		CHECKEQ(OKSYS0(c[i], DK_SYS_getppid), 1);
		for (j = 0; j < i; j++)
			if (pid[i] == pid[j])
				FAIL("clients %d and %d share pid %ld", i, j,
				    pid[i]);
	}

	OK(spc_fork(c[0], &hostpid, &child));
	if (hostpid == 0) {
		CHECKEQ(SYS0(child, rv, DK_SYS_getpid), 0);
		mypid = rv[0];
		myppid = rv[1];
		for (j = 0; j < 8; j++)
			if (mypid == pid[j])
				FAIL("forked child got pid %ld of client %d",
				    mypid, j);
		/* The prefork parent is gone; pid 1 adopted us. */
		CHECKEQ(myppid, 1);
		spc_close(child);
		_exit(0);
	}
	waitchild(hostpid);
	for (i = 0; i < 8; i++)
		spc_close(c[i]);
}

static void
test_pipe1m(struct env *env)
{
	const size_t total = 1024 * 1024;
	unsigned char *src, *dst;
	struct spc *spc, *child;
	long rv[2], rfd, wfd;
	pid_t pid;
	size_t n;

	src = malloc(total);
	dst = malloc(total + 1);
	CHECK(src != NULL && dst != NULL);
	pattern(src, total, 42);

	spc = xconnect(env, "pipe1m");
	CHECKEQ(SYS0(spc, rv, DK_SYS_pipe), 0);
	rfd = rv[0];
	wfd = rv[1];
	CHECK(rfd != wfd);

	OK(spc_fork(spc, &pid, &child));
	if (pid == 0) {
		OKSYS(child, DK_SYS_close, rfd);
		/* Odd sizes so writes straddle the pipe's wraparound. */
		writeall(child, wfd, src, total, 100003);
		OKSYS(child, DK_SYS_close, wfd);
		spc_close(child);
		_exit(0);
	}
	OKSYS(spc, DK_SYS_close, wfd);
	n = readall(spc, rfd, dst, total + 1, 70001);
	CHECKEQ(n, total);
	if (memcmp(src, dst, total) != 0) {
		for (n = 0; src[n] == dst[n]; n++)
			continue;
		FAIL("pipe data differs at byte %zu", n);
	}
	waitchild(pid);
	spc_close(spc);
	free(src);
	free(dst);
}

static void
test_store(struct env *env)
{
	static const char path[] = "/store/file";
	unsigned char big[300000], back[300001];
	char buf[64], longpath[1100];
	struct spc *spc;
	long fd, fd2, rv[2];

	spc = xconnect(env, "store");
	fd = OKSYS(spc, DK_SYS_open, P(path),
	    DK_O_RDWR | DK_O_CREAT | DK_O_EXCL, 0600);
	CHECKEQ(OKSYS(spc, DK_SYS_write, fd, P("hello, "), 7), 7);
	CHECKEQ(OKSYS(spc, DK_SYS_write, fd, P("world"), 5), 5);
	CHECKEQ(OKSYS(spc, DK_SYS_lseek, fd, 0, 0, DK_SEEK_SET), 0);
	memset(buf, 0, sizeof(buf));
	CHECKEQ(OKSYS(spc, DK_SYS_read, fd, P(buf), sizeof(buf)), 12);
	CHECK(strcmp(buf, "hello, world") == 0);
	CHECKEQ(OKSYS(spc, DK_SYS_read, fd, P(buf), sizeof(buf)), 0);
	CHECKEQ(OKSYS(spc, DK_SYS_lseek, fd, 0, -5, DK_SEEK_END), 7);
	memset(buf, 0, sizeof(buf));
	CHECKEQ(OKSYS(spc, DK_SYS_read, fd, P(buf), 3), 3);
	CHECK(strcmp(buf, "wor") == 0);

	/* A second descriptor has its own offset. */
	fd2 = OKSYS(spc, DK_SYS_open, P(path), DK_O_RDONLY, 0);
	CHECK(fd2 != fd);
	memset(buf, 0, sizeof(buf));
	CHECKEQ(OKSYS(spc, DK_SYS_read, fd2, P(buf), 5), 5);
	CHECK(strcmp(buf, "hello") == 0);
	CHECKEQ(SYS(spc, rv, DK_SYS_write, fd2, P("x"), 1), DK_EBADF);
	OKSYS(spc, DK_SYS_close, fd2);
	CHECKEQ(SYS(spc, rv, DK_SYS_close, fd2), DK_EBADF);

	CHECKEQ(SYS(spc, rv, DK_SYS_open, P(path),
	    DK_O_RDWR | DK_O_CREAT | DK_O_EXCL, 0600), DK_EEXIST);
	CHECKEQ(SYS(spc, rv, DK_SYS_open, P("/no/such/file"), DK_O_RDONLY, 0),
	    DK_ENOENT);

	/* Paths travel by copyinstr: 1023 characters fit, 1099 do not. */
	memset(longpath, 'p', sizeof(longpath));
	longpath[0] = '/';
	longpath[DK_MAXPATHLEN - 1] = '\0';
	fd2 = OKSYS(spc, DK_SYS_open, P(longpath), DK_O_RDWR | DK_O_CREAT,
	    0600);
	OKSYS(spc, DK_SYS_close, fd2);
	longpath[DK_MAXPATHLEN - 1] = 'p';
	longpath[sizeof(longpath) - 1] = '\0';
	CHECKEQ(SYS(spc, rv, DK_SYS_open, P(longpath),
	    DK_O_RDWR | DK_O_CREAT, 0600), DK_ENAMETOOLONG);

	/* Bigger than one kernel chunk each way. */
	pattern(big, sizeof(big), 7);
	fd2 = OKSYS(spc, DK_SYS_open, P("/store/big"),
	    DK_O_RDWR | DK_O_CREAT | DK_O_TRUNC, 0600);
	writeall(spc, fd2, big, sizeof(big), sizeof(big));
	CHECKEQ(OKSYS(spc, DK_SYS_lseek, fd2, 0, 0, DK_SEEK_SET), 0);
	CHECKEQ(readall(spc, fd2, back, sizeof(back), sizeof(back)),
	    sizeof(big));
	CHECK(memcmp(big, back, sizeof(big)) == 0);

	/* /dev/zero and /dev/null. */
	fd2 = OKSYS(spc, DK_SYS_open, P("/dev/zero"), DK_O_RDONLY, 0);
	memset(buf, 'x', sizeof(buf));
	CHECKEQ(OKSYS(spc, DK_SYS_read, fd2, P(buf), sizeof(buf)),
	    sizeof(buf));
	CHECK(buf[0] == 0 && buf[sizeof(buf) - 1] == 0);
	fd2 = OKSYS(spc, DK_SYS_open, P("/dev/null"), DK_O_RDWR, 0);
	CHECKEQ(OKSYS(spc, DK_SYS_write, fd2, P(buf), 10), 10);
	CHECKEQ(OKSYS(spc, DK_SYS_read, fd2, P(buf), 10), 0);

	CHECKEQ(SYS(spc, rv, DK_SYS_read, 63, P(buf), 1), DK_EBADF);
	CHECKEQ(SYS0(spc, rv, 499), DK_ENOSYS);
	OKSYS(spc, DK_SYS_close, fd);
	spc_close(spc);
}

static void
test_anonmmap(struct env *env)
{
	const size_t len = 3 * 65536 + 4096;
	unsigned char *src;
	struct spc *spc;
	void *addr;
	long fd;

	src = malloc(len);
	CHECK(src != NULL);
	pattern(src, len, 9);
	spc = xconnect(env, "anonmmap");
	addr = (void *)OKSYS(spc, DK_SYS_mmap, 0, (int64_t)len,
	    DK_PROT_READ | DK_PROT_WRITE, DK_MAP_ANON | DK_MAP_PRIVATE, -1, 0,
	    0);
	CHECK(addr != NULL);
	CHECK(((uintptr_t)addr & 4095) == 0);
	/* The mapping is this process's memory: usable from here... */
	memset(addr, 0xee, len);

	/* ...and the kernel can copy out into it. */
	fd = OKSYS(spc, DK_SYS_open, P("/mm"), DK_O_RDWR | DK_O_CREAT, 0600);
	writeall(spc, fd, src, len, len);
	CHECKEQ(OKSYS(spc, DK_SYS_lseek, fd, 0, 0, DK_SEEK_SET), 0);
	CHECKEQ(readall(spc, fd, addr, len, len), len);
	CHECK(memcmp(addr, src, len) == 0);
	CHECKEQ(munmap(addr, len), 0);
	spc_close(spc);
	free(src);
}

static volatile sig_atomic_t nsighup, nsigpipe;

static void
onsignal(int sig)
{

	if (sig == SIGHUP)
		nsighup++;
	else if (sig == SIGPIPE)
		nsigpipe++;
}

/* Signals may be delivered on the reader thread just after the answer. */
static void
wait_signal(volatile sig_atomic_t *count, int want)
{
	long long end = now_ms() + 2000;

	while (*count < want && now_ms() < end)
		msleep(5);
	CHECKEQ(*count, want);
}

static void
test_raise(struct env *env)
{
	struct sigaction sa;
	struct spc *spc;
	long rv[2], pid, wfd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onsignal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECKEQ(sigaction(SIGHUP, &sa, NULL), 0);
	CHECKEQ(sigaction(SIGPIPE, &sa, NULL), 0);

	spc = xconnect(env, "raise");
	pid = OKSYS0(spc, DK_SYS_getpid);
	CHECKEQ(OKSYS(spc, DK_SYS_kill, pid, SIGHUP), 0);
	wait_signal(&nsighup, 1);
	CHECKEQ(OKSYS(spc, DK_SYS_kill, pid, 0), 0);
	CHECKEQ(SYS(spc, rv, DK_SYS_kill, 99999, SIGHUP), DK_ESRCH);
	CHECKEQ(nsighup, 1);

	/* A write to a pipe nobody reads: EPIPE and SIGPIPE. */
	CHECKEQ(SYS0(spc, rv, DK_SYS_pipe), 0);
	wfd = rv[1];
	OKSYS(spc, DK_SYS_close, rv[0]);
	CHECKEQ(SYS(spc, rv, DK_SYS_write, wfd, P("x"), 1), DK_EPIPE);
	wait_signal(&nsigpipe, 1);
	CHECKEQ(nsighup, 1);
	spc_close(spc);
}

static void
test_forkshare(struct env *env)
{
	static const char want[] = "parent;child;again";
	struct spc *spc, *child;
	char buf[64];
	long fd, rv[2], n0, mypid;
	pid_t pid;

	spc = xconnect(env, "forkshare");
	n0 = nproc(spc);
	mypid = OKSYS0(spc, DK_SYS_getpid);
	fd = OKSYS(spc, DK_SYS_open, P("/shared"),
	    DK_O_RDWR | DK_O_CREAT | DK_O_TRUNC, 0600);
	CHECKEQ(OKSYS(spc, DK_SYS_write, fd, P("parent;"), 7), 7);

	OK(spc_fork(spc, &pid, &child));
	if (pid == 0) {
		CHECKEQ(SYS0(child, rv, DK_SYS_getpid), 0);
		CHECK(rv[0] != mypid);
		CHECKEQ(rv[1], 1);
		/* Same open file, so the same offset: this appends. */
		CHECKEQ(OKSYS(child, DK_SYS_write, fd, P("child;"), 6), 6);
		OKSYS(child, DK_SYS_close, fd);
		spc_close(child);
		_exit(0);
	}
	waitchild(pid);
	CHECKEQ(OKSYS(spc, DK_SYS_write, fd, P("again"), 5), 5);
	CHECKEQ(OKSYS(spc, DK_SYS_lseek, fd, 0, 0, DK_SEEK_SET), 0);
	memset(buf, 0, sizeof(buf));
	CHECKEQ(OKSYS(spc, DK_SYS_read, fd, P(buf), sizeof(buf)),
	    strlen(want));
	if (strcmp(buf, want) != 0)
		FAIL("file holds \"%s\", want \"%s\"", buf, want);
	/* The child's process went away with its connection. */
	wait_nproc(spc, n0, 3000);
	spc_close(spc);
}

static void
test_forkcancel(struct env *env)
{
	struct spc_fork sf, bogus;
	struct spc *spc, *child;
	long n0;

	spc = xconnect(env, "forkcancel");
	n0 = nproc(spc);
	OK(spc_prefork(spc, &sf));
	CHECKEQ(nproc(spc), n0 + 1);
	OK(spc_fork_cancel(&sf));
	wait_nproc(spc, n0, 3000);

	/* A cookie nobody issued is refused. */
	memset(&bogus, 0, sizeof(bogus));
	bogus.sf_url = strdup(env->url);
	CHECKEQ(spc_fork_child(NULL, &bogus, &child), SPC_ESRCH);
	CHECKEQ(nproc(spc), n0);
	spc_close(spc);
}

static void
test_exec(struct env *env)
{
	struct spc *spc;
	char name[DK_MAXCOMLEN + 1];
	long pid, fd, n0;

	spc = xconnect(env, "before-exec");
	n0 = nproc(spc);
	pid = OKSYS0(spc, DK_SYS_getpid);
	OKSYS(spc, DK_SYS_getname, P(name), sizeof(name));
	CHECK(strcmp(name, "before-exec") == 0);
	fd = OKSYS(spc, DK_SYS_open, P("/exec"), DK_O_RDWR | DK_O_CREAT,
	    0600);
	CHECKEQ(OKSYS(spc, DK_SYS_write, fd, P("kept"), 4), 4);

	OK(spc_exec(spc, "after-exec"));
	CHECKEQ(OKSYS0(spc, DK_SYS_getpid), pid);
	memset(name, 0, sizeof(name));
	OKSYS(spc, DK_SYS_getname, P(name), sizeof(name));
	if (strcmp(name, "after-exec") != 0)
		FAIL("name after exec is \"%s\"", name);
	CHECKEQ(OKSYS(spc, DK_SYS_lseek, fd, 0, 0, DK_SEEK_SET), 0);
	memset(name, 0, sizeof(name));
	CHECKEQ(OKSYS(spc, DK_SYS_read, fd, P(name), 4), 4);
	CHECK(strcmp(name, "kept") == 0);
	CHECKEQ(nproc(spc), n0);
	spc_close(spc);
}

static void
test_reboot(struct env *env)
{
	struct spc *spc, *idle;
	long rv[2];

	idle = xconnect(env, "idle");
	spc = xconnect(env, "reboot");
	CHECKEQ(SYS(spc, rv, DK_SYS_reboot, 0, 0), 0);
	CHECKEQ(rv[0], 0);
	CHECK(spc_waitdead(spc, EXIT_WAIT_MS));
	CHECK(spc_waitdead(idle, EXIT_WAIT_MS));
	spc_close(spc);
	spc_close(idle);
}

#define NMANY	64

struct many {
	struct env	*env;
	int		 idx;
	long		 pid;
	char		 err[160];
};

static void *
many_thread(void *arg)
{
	struct many *m = arg;
	unsigned char data[3000], back[3001];
	char path[32], login[DK_MAXLOGNAME], got[DK_MAXLOGNAME];
	struct spc *spc;
	long rv[2], fd, rfd, wfd;
	int i, error = 0, round;

#define MFAIL(...) do {							\
	snprintf(m->err, sizeof(m->err), __VA_ARGS__);			\
	goto out;							\
} while (/*CONSTCOND*/0)
#define MSYS(call) do {							\
	if ((error = (call)) != 0)					\
		MFAIL("line %d: error %d", __LINE__, error);		\
} while (/*CONSTCOND*/0)

	for (i = 0; ; i++) {
		error = spc_connect(m->env->url, "many", &spc);
		if (error != SPC_ECONNREFUSED || i == 100)
			break;
		msleep(20);
	}
	if (error) {
		snprintf(m->err, sizeof(m->err), "connect: error %d", error);
		return NULL;
	}
	MSYS(SYS0(spc, rv, DK_SYS_getpid));
	m->pid = rv[0];
	snprintf(path, sizeof(path), "/many/%d", m->idx);
	snprintf(login, sizeof(login), "user%d", m->idx);
	MSYS(SYS(spc, rv, DK_SYS_open, P(path), DK_O_RDWR | DK_O_CREAT,
	    0600));
	fd = rv[0];
	MSYS(SYS(spc, rv, DK_SYS___setlogin, P(login)));
	for (round = 0; round < 10; round++) {
		pattern(data, sizeof(data), (unsigned)(m->idx * 100 + round));
		MSYS(SYS(spc, rv, DK_SYS_lseek, fd, 0, 0, DK_SEEK_SET));
		MSYS(SYS(spc, rv, DK_SYS_write, fd, P(data), sizeof(data)));
		if (rv[0] != (long)sizeof(data))
			MFAIL("short write %ld", rv[0]);
		MSYS(SYS(spc, rv, DK_SYS_lseek, fd, 0, 0, DK_SEEK_SET));
		MSYS(SYS(spc, rv, DK_SYS_read, fd, P(back), sizeof(back)));
		if (rv[0] != (long)sizeof(data) ||
		    memcmp(data, back, sizeof(data)) != 0)
			MFAIL("round %d: file read back wrong (%ld)", round,
			    rv[0]);

		MSYS(SYS0(spc, rv, DK_SYS_pipe));
		rfd = rv[0];
		wfd = rv[1];
		MSYS(SYS(spc, rv, DK_SYS_write, wfd, P(data), 1000));
		MSYS(SYS(spc, rv, DK_SYS_read, rfd, P(back), sizeof(back)));
		if (rv[0] != 1000 || memcmp(data, back, 1000) != 0)
			MFAIL("round %d: pipe read back wrong", round);
		MSYS(SYS(spc, rv, DK_SYS_close, rfd));
		MSYS(SYS(spc, rv, DK_SYS_close, wfd));

		memset(got, 0, sizeof(got));
		MSYS(SYS(spc, rv, DK_SYS___getlogin, P(got), sizeof(got)));
		if (strcmp(got, login) != 0)
			MFAIL("getlogin: \"%s\", want \"%s\"", got, login);
		MSYS(SYS0(spc, rv, DK_SYS_getpid));
		if (rv[0] != m->pid || rv[1] != 1)
			MFAIL("getpid: %ld/%ld, want %ld/1", rv[0], rv[1],
			    m->pid);
	}
 out:
	spc_close(spc);
	return NULL;
#undef MSYS
#undef MFAIL
}

static void
test_many(struct env *env)
{
	static struct many m[NMANY];
	pthread_t pt[NMANY];
	struct spc *spc;
	long n0;
	int i, j;

	spc = xconnect(env, "many-main");
	n0 = nproc(spc);
	for (i = 0; i < NMANY; i++) {
		m[i].env = env;
		m[i].idx = i;
		CHECKEQ(pthread_create(&pt[i], NULL, many_thread, &m[i]), 0);
	}
	for (i = 0; i < NMANY; i++)
		pthread_join(pt[i], NULL);
	for (i = 0; i < NMANY; i++) {
		if (m[i].err[0] != '\0')
			FAIL("client %d: %s", i, m[i].err);
		for (j = 0; j < i; j++)
			if (m[i].pid == m[j].pid)
				FAIL("clients %d and %d share pid %ld", i, j,
				    m[i].pid);
	}
	wait_nproc(spc, n0, 5000);
	spc_close(spc);
}

struct blocked {
	struct spc	*spc;
	long		 fd;
	char		 buf[16];
	long		 n;
	int		 error;
};

static void *
blocked_read(void *arg)
{
	struct blocked *b = arg;
	long rv[2];

	b->error = SYS(b->spc, rv, DK_SYS_read, b->fd, P(b->buf),
	    sizeof(b->buf));
	b->n = rv[0];
	return NULL;
}

static void
test_threads(struct env *env)
{
	struct blocked b[4];
	pthread_t pt[4];
	struct spc *spc;
	long rv[2], wfd[4], pid;
	int i;

	/* Four system calls blocked on one connection... */
	spc = xconnect(env, "threads");
	pid = OKSYS0(spc, DK_SYS_getpid);
	for (i = 0; i < 4; i++) {
		CHECKEQ(SYS0(spc, rv, DK_SYS_pipe), 0);
		memset(&b[i], 0, sizeof(b[i]));
		b[i].spc = spc;
		b[i].fd = rv[0];
		wfd[i] = rv[1];
		CHECKEQ(pthread_create(&pt[i], NULL, blocked_read, &b[i]), 0);
	}
	msleep(100);
	/* ...do not keep others on it from being answered... */
	for (i = 0; i < 20; i++)
		CHECKEQ(OKSYS0(spc, DK_SYS_getpid), pid);
	/* ...and each wakes for its own data. */
	for (i = 3; i >= 0; i--) {
		CHECKEQ(OKSYS(spc, DK_SYS_write, wfd[i], P("wake"), 5), 5);
		pthread_join(pt[i], NULL);
		CHECKEQ(b[i].error, 0);
		CHECKEQ(b[i].n, 5);
		CHECK(strcmp(b[i].buf, "wake") == 0);
	}
	spc_close(spc);
}

static void
test_execblock(struct env *env)
{
	struct blocked b;
	pthread_t pt;
	struct spc *spc;
	char name[DK_MAXCOMLEN + 1];
	long rv[2], pid, wfd;

	spc = xconnect(env, "execblock");
	pid = OKSYS0(spc, DK_SYS_getpid);
	CHECKEQ(SYS0(spc, rv, DK_SYS_pipe), 0);
	memset(&b, 0, sizeof(b));
	b.spc = spc;
	b.fd = rv[0];
	wfd = rv[1];
	CHECKEQ(pthread_create(&pt, NULL, blocked_read, &b), 0);
	msleep(100);

	/* Exec interrupts the blocked read and waits for it to finish. */
	OK(spc_exec(spc, "execblocked"));
	pthread_join(pt, NULL);
	CHECKEQ(b.error, DK_EINTR);
	CHECKEQ(OKSYS0(spc, DK_SYS_getpid), pid);
	OKSYS(spc, DK_SYS_getname, P(name), sizeof(name));
	CHECK(strcmp(name, "execblocked") == 0);
	/* The process runs normally again: the pipe still works. */
	CHECKEQ(OKSYS(spc, DK_SYS_write, wfd, P("ok"), 3), 3);
	CHECKEQ(OKSYS(spc, DK_SYS_read, b.fd, P(name), sizeof(name)), 3);
	CHECKEQ(OKSYS(spc, DK_SYS_procinfo, pid), 1);
	spc_close(spc);
}

static void
test_discoblock(struct env *env)
{
	struct blocked b[3];
	pthread_t pt[3];
	struct spc *spc, *obs;
	long rv[2], n0, pid;
	int i;

	obs = xconnect(env, "observer");
	n0 = nproc(obs);
	spc = xconnect(env, "discoblock");
	pid = OKSYS0(spc, DK_SYS_getpid);
	for (i = 0; i < 3; i++) {
		CHECKEQ(SYS0(spc, rv, DK_SYS_pipe), 0);
		memset(&b[i], 0, sizeof(b[i]));
		b[i].spc = spc;
		b[i].fd = rv[0];
		CHECKEQ(pthread_create(&pt[i], NULL, blocked_read, &b[i]), 0);
	}
	msleep(100);
	/* Three lwps besides the main one are blocked in the kernel. */
	CHECKEQ(SYS(obs, rv, DK_SYS_procinfo, pid), 0);
	CHECKEQ(rv[1], 4);

	/* Hanging up must wake them in the kernel and free the process. */
	spc_hangup(spc);
	for (i = 0; i < 3; i++) {
		pthread_join(pt[i], NULL);
		CHECKEQ(b[i].error, SPC_ENOTCONN);
	}
	spc_close(spc);
	wait_nproc(obs, n0, 3000);
	CHECKEQ(SYS(obs, rv, DK_SYS_procinfo, pid), DK_ESRCH);
	spc_close(obs);
}

static void
test_daemon(struct env *env)
{
	struct spc *spc;
	long rv[2];

	/* The driver already saw the foreground process exit 0. */
	spc = xconnect(env, "daemon");
	CHECK(OKSYS0(spc, DK_SYS_getpid) >= 2);
	CHECKEQ(SYS(spc, rv, DK_SYS_reboot, 0, 0), 0);
	CHECK(spc_waitdead(spc, EXIT_WAIT_MS));
	spc_close(spc);
}

static void
test_disco(struct env *env)
{
	struct spc_hdr hdr;
	struct spc_copydesc cd;
	struct spc *spc;
	int64_t args[3];
	void *body;
	long rv[2], n0, f0;
	int fd;

	spc = xconnect(env, "observer");
	n0 = nproc(spc);
	CHECKEQ(SYS0(spc, rv, DK_SYS_faults), 0);
	f0 = rv[0];

	/* By hand: handshake, pipe(), then a write whose copyin we drop. */
	fd = spc_rawconnect(env->url, NULL, 0);
	CHECK(fd >= 0);
	CHECKEQ(spc_rawsend(fd, 1, SPC_REQ, SPC_HANDSHAKE, SPC_HS_GUEST,
	    "disco", 6), 0);
	CHECKEQ(spc_rawrecv(fd, &hdr, &body), 0);
	CHECKEQ(hdr.h_class, SPC_RESP);
	free(body);
	CHECKEQ(spc_rawsend(fd, 2, SPC_REQ, SPC_SYSCALL, DK_SYS_pipe, NULL,
	    0), 0);
	CHECKEQ(spc_rawrecv(fd, &hdr, &body), 0);
	CHECKEQ(hdr.h_class, SPC_RESP);
	CHECKEQ(hdr.h_reqno, 2);
	CHECK(body != NULL && hdr.h_len >= SPC_HDRSIZE + 24);
	args[0] = ((int64_t *)body)[2];		/* retval[1]: write end */
	free(body);
	CHECKEQ(nproc(spc), n0 + 1);

	args[1] = 0x10000;	/* never read: we hang up instead */
	args[2] = 100;
	CHECKEQ(spc_rawsend(fd, 3, SPC_REQ, SPC_SYSCALL, DK_SYS_write, args,
	    sizeof(args)), 0);
	CHECKEQ(spc_rawrecv(fd, &hdr, &body), 0);
	CHECKEQ(hdr.h_class, SPC_REQ);
	CHECKEQ(hdr.h_type, SPC_COPYIN);
	CHECK(body != NULL && hdr.h_len >= SPC_HDRSIZE + sizeof(cd));
	memcpy(&cd, body, sizeof(cd));
	free(body);
	CHECKEQ(cd.cd_addr, 0x10000);
	CHECKEQ(cd.cd_len, 100);
	close(fd);

	/* The kernel saw the copyin fail with EFAULT... */
	{
		long long end = now_ms() + 3000;

		do {
			CHECKEQ(SYS0(spc, rv, DK_SYS_faults), 0);
			if (rv[0] > f0)
				break;
			msleep(10);
		} while (now_ms() < end);
	}
	CHECKEQ(rv[0], f0 + 1);
	CHECKEQ(rv[1], DK_EFAULT);
	/* ...the process went away, and everyone else is still served. */
	wait_nproc(spc, n0, 3000);
	CHECK(OKSYS0(spc, DK_SYS_getpid) >= 2);
	spc_close(spc);
	spc = xconnect(env, "after");
	CHECK(OKSYS0(spc, DK_SYS_getpid) >= 2);
	spc_close(spc);
}

static void
test_login(struct env *env)
{
	char name[DK_MAXLOGNAME];
	struct spc *spc;
	long rv[2];

	spc = xconnect(env, "login");
	OKSYS(spc, DK_SYS___setlogin, P("alice"));
	memset(name, 0, sizeof(name));
	OKSYS(spc, DK_SYS___getlogin, P(name), sizeof(name));
	CHECK(strcmp(name, "alice") == 0);
	/* 16 characters fit MAXLOGNAME with the NUL, 17 do not. */
	OKSYS(spc, DK_SYS___setlogin, P("sixteen-chars-ok"));
	CHECKEQ(SYS(spc, rv, DK_SYS___setlogin, P("seventeen-chars-x")),
	    DK_EINVAL);
	CHECKEQ(SYS(spc, rv, DK_SYS___setlogin,
	    P("a login name far longer than any buffer for it")), DK_EINVAL);
	memset(name, 0, sizeof(name));
	OKSYS(spc, DK_SYS___getlogin, P(name), sizeof(name));
	CHECK(strcmp(name, "sixteen-chars-ok") == 0);
	spc_close(spc);
}

static void
test_noauth(struct env *env)
{
	struct spc_hdr hdr;
	void *body;
	int fd;

	/* A system call before the handshake: ERROR AUTH, then a close. */
	fd = spc_rawconnect(env->url, NULL, 0);
	CHECK(fd >= 0);
	CHECKEQ(spc_rawsend(fd, 7, SPC_REQ, SPC_SYSCALL, DK_SYS_getpid, NULL,
	    0), 0);
	CHECKEQ(spc_rawrecv(fd, &hdr, &body), 0);
	free(body);
	CHECKEQ(hdr.h_class, SPC_ERROR);
	CHECKEQ(hdr.h_reqno, 7);
	CHECKEQ(hdr.h_u, SPC_ERR_AUTH);
	CHECK(spc_rawrecv(fd, &hdr, &body) == -1);
	close(fd);
}

static const struct test tests[] = {
	{ "pids", test_pids, 0,
	    "concurrent clients and a forked client get distinct pids" },
	{ "pipe1m", test_pipe1m, 0,
	    "1 MiB through a pipe between two processes, byte-exact" },
	{ "store", test_store, 0,
	    "open/write/lseek/read on the store, paths by copyinstr" },
	{ "anonmmap", test_anonmmap, 0,
	    "anonmmap gives client memory the kernel copies into" },
	{ "raise", test_raise, 0, "kill on own pid and SIGPIPE raise" },
	{ "forkshare", test_forkshare, 0,
	    "a forked child shares the parent's descriptors" },
	{ "forkcancel", test_forkcancel, 0,
	    "a cancelled fork releases the preforked process" },
	{ "exec", test_exec, 0, "exec keeps pid and fds, renames" },
	{ "reboot", test_reboot, T_SERVEREXIT,
	    "reboot is answered and the server exits" },
	{ "many", test_many, 0, "64 clients at once, mixed system calls" },
	{ "threads", test_threads, 0,
	    "several blocked system calls on one connection" },
	{ "execblock", test_execblock, 0,
	    "exec interrupts and waits for a blocked system call" },
	{ "discoblock", test_discoblock, 0,
	    "hanging up frees a process with blocked system calls" },
	{ "daemon", test_daemon, T_DAEMON | T_SERVEREXIT,
	    "the server forks before rumpuser_sp_init (-d)" },
	{ "disco", test_disco, 0,
	    "a client hanging up during a copyin: EFAULT, others served" },
	{ "login", test_login, 0, "__setlogin copyinstr bound (MAXLOGNAME)" },
	{ "noauth", test_noauth, 0, "requests before the handshake fail" },
};
#define NTESTS	(sizeof(tests) / sizeof(tests[0]))

/*
 * The driver.
 */

static pid_t
spawn_server(const char *server, struct env *env, const char *log)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) != 0)
		return pid;
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) != -1) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	if (env->flags & T_DAEMON)
		execl(server, server, "-d", env->url, (char *)NULL);
	else
		execl(server, server, env->url, (char *)NULL);
	fprintf(stderr, "exec %s: %s\n", server, strerror(errno));
	_exit(127);
}

/* waitpid with a deadline; returns 1 and the status if pid exited. */
static int
reap(pid_t pid, int *status, int ms)
{
	long long end = now_ms() + ms;

	for (;;) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 1;
		if (now_ms() >= end)
			return 0;
		msleep(5);
	}
}

static void
describe(char *buf, size_t size, int status)
{

	if (WIFEXITED(status))
		snprintf(buf, size, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "status %#x", status);
}

static void
printlog(const char *title, const char *path)
{
	char line[512];
	FILE *f;
	int n = 0;

	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (n++ == 0)
			printf("    --- %s\n", title);
		if (n > 40) {
			printf("    ...\n");
			break;
		}
		printf("    %s", line);
		if (strchr(line, '\n') == NULL)
			putchar('\n');
	}
	fclose(f);
}

/* A daemonized server has no pid we know; stop it through the kernel. */
static void
stop_daemon(struct env *env)
{
	struct spc *spc;
	long rv[2];

	if (spc_connect(env->url, "ctest-cleanup", &spc) != 0)
		return;
	(void)SYS(spc, rv, DK_SYS_reboot, 0, 0);
	spc_waitdead(spc, EXIT_WAIT_MS);
	spc_close(spc);
}

static int
runtest(const char *server, const struct test *t, int verbose)
{
	char dir[] = "/tmp/rumpsp-ctest.XXXXXX";
	char slog[256], tlog[256], why[256], st[64];
	struct env env;
	struct stat sb;
	long long start, end;
	pid_t srv, child;
	int status, fd, ok = 1, srvgone = 0;

	why[0] = '\0';
	if (mkdtemp(dir) == NULL) {
		printf("FAIL %-10s mkdtemp: %s\n", t->name, strerror(errno));
		return 0;
	}
	memset(&env, 0, sizeof(env));
	env.flags = t->flags;
	snprintf(env.sock, sizeof(env.sock), "%s/sock", dir);
	snprintf(env.url, sizeof(env.url), "unix://%s", env.sock);
	snprintf(slog, sizeof(slog), "%s/server.log", dir);
	snprintf(tlog, sizeof(tlog), "%s/test.log", dir);
	start = now_ms();

	fflush(stdout);
	srv = spawn_server(server, &env, slog);
	if (srv == -1) {
		printf("FAIL %-10s fork: %s\n", t->name, strerror(errno));
		return 0;
	}
	if (t->flags & T_DAEMON) {
		/* The foreground process must exit 0 once the child serves. */
		if (!reap(srv, &status, SERVER_WAIT_MS)) {
			kill(srv, SIGKILL);
			waitpid(srv, &status, 0);
			snprintf(why, sizeof(why), "-d: foreground process did "
			    "not exit");
			ok = 0;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			describe(st, sizeof(st), status);
			snprintf(why, sizeof(why), "-d: foreground process: %s",
			    st);
			ok = 0;
		} else if (stat(env.sock, &sb) == -1 || !S_ISSOCK(sb.st_mode)) {
			snprintf(why, sizeof(why), "-d: no socket once the "
			    "foreground process exited");
			ok = 0;
		}
		srvgone = 1;
	} else {
		end = now_ms() + SERVER_WAIT_MS;
		while (stat(env.sock, &sb) == -1 && now_ms() < end) {
			if (reap(srv, &status, 0)) {
				describe(st, sizeof(st), status);
				snprintf(why, sizeof(why), "server died before "
				    "listening: %s", st);
				srvgone = 1;
				ok = 0;
				break;
			}
			msleep(5);
		}
		if (ok && stat(env.sock, &sb) == -1) {
			snprintf(why, sizeof(why), "no socket after %d ms",
			    SERVER_WAIT_MS);
			ok = 0;
		}
	}

	if (ok) {
		fflush(stdout);
		if ((child = fork()) == 0) {
			setpgid(0, 0);
			if ((fd = open(tlog, O_WRONLY | O_CREAT | O_TRUNC,
			    0600)) != -1) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
			alarm((unsigned)timeout_s);
			t->fn(&env);
			fflush(NULL);
			_exit(0);
		}
		setpgid(child, child);
		if (!reap(child, &status, (timeout_s + 5) * 1000)) {
			kill(-child, SIGKILL);
			waitpid(child, &status, 0);
		}
		/* Forked test children live in the group; none may linger. */
		kill(-child, SIGKILL);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
			snprintf(why, sizeof(why), "timed out after %d s",
			    timeout_s);
			ok = 0;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			describe(st, sizeof(st), status);
			snprintf(why, sizeof(why), "test %s", st);
			ok = 0;
		}
	}

	if (!srvgone && (t->flags & T_SERVEREXIT)) {
		if (!reap(srv, &status, EXIT_WAIT_MS)) {
			if (ok)
				snprintf(why, sizeof(why), "server still "
				    "running after reboot");
			ok = 0;
			kill(srv, SIGKILL);
			waitpid(srv, &status, 0);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			describe(st, sizeof(st), status);
			if (ok)
				snprintf(why, sizeof(why), "server after "
				    "reboot: %s", st);
			ok = 0;
		}
	} else if (!srvgone) {
		if (reap(srv, &status, 0)) {
			describe(st, sizeof(st), status);
			snprintf(why, sizeof(why), "server died: %s", st);
			ok = 0;
		} else {
			kill(srv, SIGKILL);
			waitpid(srv, &status, 0);
		}
	}
	if ((t->flags & T_DAEMON) && stat(env.sock, &sb) == 0)
		stop_daemon(&env);

	printf("%s %-10s %5.2fs  %s%s%s\n", ok ? "PASS" : "FAIL", t->name,
	    (now_ms() - start) / 1000.0, t->what, ok ? "" : ": ", why);
	if (!ok || verbose) {
		printlog("test output", tlog);
		printlog("server output", slog);
	}
	unlink(tlog);
	unlink(slog);
	unlink(env.sock);
	rmdir(dir);
	return ok;
}

static void
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: ctest [-v] [-t timeout] SERVER [test ...]\n"
	    "tests:");
	for (i = 0; i < NTESTS; i++)
		fprintf(stderr, " %s", tests[i].name);
	fprintf(stderr, "\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *server;
	int ch, verbose = 0, npass = 0, nfail = 0, i;
	size_t j;

	while ((ch = getopt(argc, argv, "t:v")) != -1) {
		switch (ch) {
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s <= 0)
				usage();
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	server = argv[0];
	if (access(server, X_OK) == -1) {
		fprintf(stderr, "ctest: %s: %s\n", server, strerror(errno));
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("ctest: server %s\n", server);
	for (j = 0; j < NTESTS; j++) {
		if (argc > 1) {
			for (i = 1; i < argc; i++)
				if (strcmp(argv[i], tests[j].name) == 0)
					break;
			if (i == argc)
				continue;
		}
		if (runtest(server, &tests[j], verbose))
			npass++;
		else
			nfail++;
	}
	printf("ctest: %d passed, %d failed\n", npass, nfail);
	return nfail == 0 ? 0 : 1;
}
