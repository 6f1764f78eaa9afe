/*
 * spbench: one timed benchmark run against a sysproxy server serving the
 * demo kernel, or against nothing (the socket floor).
 *
 *	spbench getpid URL NPROC MS [raw|lib]
 *	spbench copy URL SIZE MS
 *	spbench connect URL MS
 *	spbench fork URL MS
 *	spbench idle URL NCONN
 *	spbench floor MS [pin]
 *
 * Each mode prints one line of "key=value" words on stdout: "ops" is the
 * number of completed operations, "secs" the time they took and, where it
 * applies, "bytes" the payload moved.  The driver (bench/driver) turns
 * them into rates.  Nothing here judges the figures.
 *
 * The request paths are the ones a real client takes.  "raw" clients send
 * and receive on the calling thread, as librumpclient does when no other
 * thread of the process is waiting; "lib" clients go through spclient's
 * reader thread, which adds one thread wake-up per answer on the client
 * side.  Both cost the same whichever server is measured.
 */

#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demokern.h"
#include "spclient.h"

#define COMM		"spbench"
#define CHECKEVERY	16	/* operations between two clock readings */
#define MAXPROCS	1024

/* What one worker process reports back to the parent. */
struct tally {
	uint64_t	t_ops;
	double		t_secs;
};

static void __attribute__((__noreturn__))
usage(void)
{

	fprintf(stderr,
	    "usage: spbench getpid URL NPROC MS [raw|lib]\n"
	    "       spbench copy URL SIZE MS\n"
	    "       spbench connect URL MS\n"
	    "       spbench fork URL MS\n"
	    "       spbench idle URL NCONN\n"
	    "       spbench floor MS [pin]\n");
	exit(2);
}

static void __attribute__((__noreturn__))
die(const char *what, int error)
{

	fprintf(stderr, "spbench: %s failed: error %d\n", what, error);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

/* Let this process hold as many descriptors as the hard limit allows. */
static void
morefiles(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Raw protocol on the calling thread.
 */

/*
 * Wait for the answer to request reqno.  Server requests arriving first
 * would be a surprise here: none of the raw workloads touches client
 * memory.  Returns the answer's body (malloc'ed, may be NULL) or exits.
 */
static void *
rawanswer(int fd, uint64_t reqno, struct spc_hdr *hdr)
{
	void *body;

	if (spc_rawrecv(fd, hdr, &body) == -1)
		die("receive", SPC_ENOTCONN);
	if (hdr->h_reqno != reqno || hdr->h_class != SPC_RESP) {
		fprintf(stderr, "spbench: request %llu answered by class %u "
		    "type %u number %llu code %u\n", (unsigned long long)reqno,
		    hdr->h_class, hdr->h_type,
		    (unsigned long long)hdr->h_reqno, hdr->h_u);
		exit(1);
	}
	return body;
}

/* A handshake of the given kind; exits unless the server says 0. */
static void
rawhandshake(int fd, uint64_t reqno, int kind, const void *body, size_t len)
{
	struct spc_hdr hdr;
	int32_t error;
	void *resp;

	if (spc_rawsend(fd, reqno, SPC_REQ, SPC_HANDSHAKE, (uint32_t)kind,
	    body, len) == -1)
		die("send handshake", SPC_ENOTCONN);
	resp = rawanswer(fd, reqno, &hdr);
	if (hdr.h_len - SPC_HDRSIZE < sizeof(error))
		die("handshake answer", SPC_EINVAL);
	memcpy(&error, resp, sizeof(error));
	free(resp);
	if (error != 0)
		die("handshake", error);
}

/* Connect and become a guest process; returns the socket. */
static int
rawguest(const char *url)
{
	int fd;

	if ((fd = spc_rawconnect(url, NULL, 0)) < 0)
		die("connect", -fd);
	rawhandshake(fd, 1, SPC_HS_GUEST, COMM, sizeof(COMM));
	return fd;
}

/* One getpid round trip; returns the pid. */
static long
rawgetpid(int fd, uint64_t reqno)
{
	struct spc_sysresp sr;
	struct spc_hdr hdr;
	void *resp;

	if (spc_rawsend(fd, reqno, SPC_REQ, SPC_SYSCALL, DK_SYS_getpid,
	    NULL, 0) == -1)
		die("send getpid", SPC_ENOTCONN);
	resp = rawanswer(fd, reqno, &hdr);
	if (hdr.h_len - SPC_HDRSIZE < sizeof(sr))
		die("getpid answer", SPC_EINVAL);
	memcpy(&sr, resp, sizeof(sr));
	free(resp);
	if (sr.sr_error != 0)
		die("getpid", sr.sr_error);
	return (long)sr.sr_retval[0];
}

/*
 * getpid: NPROC processes, each with its own connection, call getpid in a
 * loop for MS milliseconds.  All connect first; the clock starts in each
 * of them when the parent lets them go, after the last one is ready.
 */

/* The loop of one worker process. */
static struct tally
getpidloop(struct spc *spc, int fd, int ms)
{
	struct tally t = { 0, 0 };
	double start, end, deadline;
	uint64_t reqno = 2;
	long rv[2];
	int error;

	start = now();
	deadline = start + ms / 1000.0;
	for (;;) {
		if (spc != NULL) {
			if ((error = spc_syscall(spc, DK_SYS_getpid, NULL, 0,
			    rv)) != 0)
				die("getpid", error);
		} else
			(void)rawgetpid(fd, reqno++);
		if (++t.t_ops % CHECKEVERY == 0 && (end = now()) >= deadline)
			break;
	}
	t.t_secs = end - start;
	return t;
}

static void
readfull(int fd, void *buf, size_t len)
{
	ssize_t n;
	size_t done;

	for (done = 0; done < len; done += (size_t)n) {
		n = read(fd, (char *)buf + done, len - done);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			fprintf(stderr, "spbench: a worker process failed\n");
			exit(1);
		}
	}
}

static void
benchgetpid(const char *url, int nproc, int ms, int lib)
{
	struct tally t, sum = { 0, 0 };
	struct spc *spc = NULL;
	int ready[2], go[2], res[2], fd = -1, i, error, status, failed = 0;
	double rate = 0;
	char c;

	if (pipe(ready) == -1 || pipe(go) == -1 || pipe(res) == -1)
		die("pipe", errno);
	for (i = 0; i < nproc; i++) {
		switch (fork()) {
		case -1:
			die("fork", errno);
		case 0:
			close(ready[0]);
			close(go[1]);
			close(res[0]);
			if (lib) {
				if ((error = spc_connect(url, COMM, &spc)) != 0)
					die("spc_connect", error);
			} else
				fd = rawguest(url);
			c = 'r';
			if (write(ready[1], &c, 1) != 1)
				_exit(1);
			while (read(go[0], &c, 1) == -1 && errno == EINTR)
				continue;
			t = getpidloop(spc, fd, ms);
			if (write(res[1], &t, sizeof(t)) != sizeof(t))
				_exit(1);
			if (spc != NULL)
				spc_close(spc);
			else
				close(fd);
			_exit(0);
		default:
			break;
		}
	}
	close(ready[1]);
	close(go[0]);
	close(res[1]);
	for (i = 0; i < nproc; i++)
		readfull(ready[0], &c, 1);
	close(go[1]);
	for (i = 0; i < nproc; i++) {
		readfull(res[0], &t, sizeof(t));
		sum.t_ops += t.t_ops;
		if (t.t_secs > sum.t_secs)
			sum.t_secs = t.t_secs;
		rate += t.t_ops / t.t_secs;
	}
	for (i = 0; i < nproc; i++)
		if (wait(&status) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	if (failed)
		die("a worker process", SPC_EIO);
	/* Each process ran for its own secs; the rate sums their rates. */
	printf("ops=%llu secs=%.6f rate=%.1f\n",
	    (unsigned long long)sum.t_ops, sum.t_secs, rate);
}

/*
 * copy: write SIZE bytes into a kernel pipe and read them back, for MS
 * milliseconds.  A chunk that fits in the pipe goes in and out on one
 * thread; a larger one needs a reader running beside the writer, so a
 * second thread issues the reads on the same connection.
 */

struct copier {
	struct spc	*c_spc;
	int		 c_rfd, c_wfd;
	size_t		 c_size;
	double		 c_deadline;
	unsigned char	*c_buf;
	uint64_t	 c_written;	/* bytes, set by the writer */
};

static size_t
kwrite(struct spc *spc, int fd, const void *buf, size_t len)
{
	uint64_t args[3];
	long rv[2];
	int error;

	args[0] = (uint64_t)fd;
	args[1] = (uint64_t)(uintptr_t)buf;
	args[2] = len;
	if ((error = spc_syscall(spc, DK_SYS_write, args, sizeof(args),
	    rv)) != 0)
		die("write", error);
	return (size_t)rv[0];
}

static size_t
kread(struct spc *spc, int fd, void *buf, size_t len)
{
	uint64_t args[3];
	long rv[2];
	int error;

	args[0] = (uint64_t)fd;
	args[1] = (uint64_t)(uintptr_t)buf;
	args[2] = len;
	if ((error = spc_syscall(spc, DK_SYS_read, args, sizeof(args),
	    rv)) != 0)
		die("read", error);
	return (size_t)rv[0];
}

static void
kclose(struct spc *spc, int fd)
{
	uint64_t args[1];
	long rv[2];
	int error;

	args[0] = (uint64_t)fd;
	if ((error = spc_syscall(spc, DK_SYS_close, args, sizeof(args),
	    rv)) != 0)
		die("close", error);
}

/* The writer thread: whole chunks until the deadline, then EOF. */
static void *
writer(void *arg)
{
	struct copier *cp = arg;
	size_t n;

	do {
		for (n = 0; n < cp->c_size; )
			n += kwrite(cp->c_spc, cp->c_wfd, cp->c_buf + n,
			    cp->c_size - n);
		cp->c_written += cp->c_size;
	} while (now() < cp->c_deadline);
	kclose(cp->c_spc, cp->c_wfd);
	return NULL;
}

static void
benchcopy(const char *url, size_t size, int ms)
{
	struct copier c;
	pthread_t pt;
	unsigned char *rbuf;
	uint64_t got = 0, ops = 0;
	double start, end;
	size_t n;
	long rv[2];
	int error;

	memset(&c, 0, sizeof(c));
	c.c_size = size;
	if ((c.c_buf = malloc(size)) == NULL || (rbuf = malloc(size)) == NULL)
		die("malloc", SPC_ENOMEM);
	memset(c.c_buf, 'x', size);
	if ((error = spc_connect(url, COMM, &c.c_spc)) != 0)
		die("spc_connect", error);
	if ((error = spc_syscall(c.c_spc, DK_SYS_pipe, NULL, 0, rv)) != 0)
		die("pipe", error);
	c.c_rfd = (int)rv[0];
	c.c_wfd = (int)rv[1];

	start = now();
	c.c_deadline = start + ms / 1000.0;
	if (size <= DK_PIPESIZE) {
		do {
			for (n = 0; n < size; )
				n += kwrite(c.c_spc, c.c_wfd, c.c_buf + n,
				    size - n);
			for (n = 0; n < size; )
				n += kread(c.c_spc, c.c_rfd, rbuf + n,
				    size - n);
			got += size;
			ops++;
		} while ((end = now()) < c.c_deadline);
	} else {
		if (pthread_create(&pt, NULL, writer, &c) != 0)
			die("pthread_create", SPC_ENOMEM);
		while ((n = kread(c.c_spc, c.c_rfd, rbuf, size)) > 0)
			got += n;
		end = now();
		pthread_join(pt, NULL);
		if (got != c.c_written)
			die("copy (short read)", SPC_EIO);
		ops = got / size;
	}
	if (memcmp(rbuf, c.c_buf, size < 16 ? size : 16) != 0)
		die("copy (bad data)", SPC_EIO);
	spc_close(c.c_spc);
	printf("ops=%llu secs=%.6f bytes=%llu\n", (unsigned long long)ops,
	    end - start, (unsigned long long)got);
}

/*
 * connect: a new connection, guest handshake, one getpid and a close,
 * over and over for MS milliseconds.
 */
static void
benchconnect(const char *url, int ms)
{
	double start, end, deadline;
	uint64_t ops = 0;
	int fd;

	start = now();
	deadline = start + ms / 1000.0;
	do {
		fd = rawguest(url);
		(void)rawgetpid(fd, 2);
		close(fd);
		ops++;
	} while ((end = now()) < deadline);
	printf("ops=%llu secs=%.6f\n", (unsigned long long)ops, end - start);
}

/*
 * fork: on one guest connection, prefork; then the fork handshake with
 * that cookie on a new connection, which is closed at once.  This is what
 * librumpclient's fork costs the server, without the host fork().
 */
static void
benchfork(const char *url, int ms)
{
	struct spc_forkhs fh;
	struct spc_hdr hdr;
	double start, end, deadline;
	uint64_t ops = 0, reqno = 2;
	void *resp;
	int fd, cfd;

	fd = rawguest(url);
	start = now();
	deadline = start + ms / 1000.0;
	do {
		if (spc_rawsend(fd, reqno, SPC_REQ, SPC_PREFORK, 0, NULL,
		    0) == -1)
			die("send prefork", SPC_ENOTCONN);
		resp = rawanswer(fd, reqno++, &hdr);
		if (hdr.h_len - SPC_HDRSIZE < sizeof(fh.fh_auth))
			die("prefork answer", SPC_EINVAL);
		memset(&fh, 0, sizeof(fh));
		memcpy(fh.fh_auth, resp, sizeof(fh.fh_auth));
		free(resp);
		if ((cfd = spc_rawconnect(url, NULL, 0)) < 0)
			die("connect", -cfd);
		rawhandshake(cfd, 1, SPC_HS_FORK, &fh, sizeof(fh));
		close(cfd);
		ops++;
	} while ((end = now()) < deadline);
	close(fd);
	printf("ops=%llu secs=%.6f\n", (unsigned long long)ops, end - start);
}

/*
 * idle: a few connections opened and closed to warm the server up, then
 * "base" on stdout; after a line on stdin, NCONN guest connections held
 * open, then "full"; after another line (or EOF), exit.  The driver reads
 * the server's memory at both points.
 */
static void
benchidle(const char *url, int nconn)
{
	char line[64];
	int *fds, i;

	morefiles();
	if ((fds = calloc((size_t)nconn, sizeof(*fds))) == NULL)
		die("calloc", SPC_ENOMEM);
	for (i = 0; i < 16; i++)
		fds[i] = rawguest(url);
	for (i = 0; i < 16; i++)
		close(fds[i]);
	printf("base\n");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		exit(1);
	for (i = 0; i < nconn; i++)
		fds[i] = rawguest(url);
	printf("full\n");
	fflush(stdout);
	(void)fgets(line, sizeof(line), stdin);
	for (i = 0; i < nconn; i++)
		close(fds[i]);
	free(fds);
}

/*
 * floor: the same exchange as a raw getpid (a 24-byte request, a 48-byte
 * answer, received as header then body) between two threads over a unix
 * socket pair, with nothing behind it: the least a round trip costs here.
 * With "pin" both threads share one CPU, so that no wake-up has to reach
 * another (possibly halted, on a virtual machine) CPU.
 */

static void *
echo(void *arg)
{
	struct spc_hdr hdr;
	struct {
		struct spc_hdr		hdr;
		struct spc_sysresp	sr;
	} ans;
	int fd = *(int *)arg;
	ssize_t n;
	size_t got;

	memset(&ans, 0, sizeof(ans));
	ans.hdr.h_len = sizeof(ans);
	ans.hdr.h_class = SPC_RESP;
	ans.hdr.h_type = SPC_SYSCALL;
	for (;;) {
		for (got = 0; got < sizeof(hdr); got += (size_t)n)
			if ((n = read(fd, (char *)&hdr + got,
			    sizeof(hdr) - got)) <= 0)
				return NULL;
		ans.hdr.h_reqno = hdr.h_reqno;
		if (write(fd, &ans, sizeof(ans)) != (ssize_t)sizeof(ans))
			return NULL;
	}
}

/* Keep this thread, and those it creates, on the first CPU it may use. */
static void
pinone(void)
{
	cpu_set_t set, one;
	int i;

	if (sched_getaffinity(0, sizeof(set), &set) == -1)
		die("sched_getaffinity", errno);
	for (i = 0; i < CPU_SETSIZE && !CPU_ISSET(i, &set); i++)
		continue;
	CPU_ZERO(&one);
	CPU_SET(i, &one);
	if (sched_setaffinity(0, sizeof(one), &one) == -1)
		die("sched_setaffinity", errno);
}

static void
benchfloor(int ms, int pin)
{
	struct spc_sysresp sr;
	struct spc_hdr hdr;
	double start, end, deadline;
	uint64_t ops = 0, reqno = 1;
	pthread_t pt;
	void *resp;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair", errno);
	if (pin)
		pinone();
	if (pthread_create(&pt, NULL, echo, &sv[1]) != 0)
		die("pthread_create", SPC_ENOMEM);
	start = now();
	deadline = start + ms / 1000.0;
	for (;;) {
		if (spc_rawsend(sv[0], reqno, SPC_REQ, SPC_SYSCALL,
		    DK_SYS_getpid, NULL, 0) == -1)
			die("send", SPC_ENOTCONN);
		resp = rawanswer(sv[0], reqno++, &hdr);
		memcpy(&sr, resp, sizeof(sr));
		free(resp);
		if (++ops % CHECKEVERY == 0 && (end = now()) >= deadline)
			break;
	}
	close(sv[0]);
	pthread_join(pt, NULL);
	close(sv[1]);
	printf("ops=%llu secs=%.6f\n", (unsigned long long)ops, end - start);
}

int
main(int argc, char *argv[])
{
	const char *mode;

	if (argc < 2)
		usage();
	mode = argv[1];
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "getpid") == 0 && (argc == 5 || argc == 6)) {
		if (argc == 6 && strcmp(argv[5], "raw") != 0 &&
		    strcmp(argv[5], "lib") != 0)
			usage();
		benchgetpid(argv[2], (int)number(argv[3], 1, MAXPROCS),
		    (int)number(argv[4], 1, 3600000),
		    argc == 6 && strcmp(argv[5], "lib") == 0);
	} else if (strcmp(mode, "copy") == 0 && argc == 5)
		benchcopy(argv[2], (size_t)number(argv[3], 1, 1L << 30),
		    (int)number(argv[4], 1, 3600000));
	else if (strcmp(mode, "connect") == 0 && argc == 4)
		benchconnect(argv[2], (int)number(argv[3], 1, 3600000));
	else if (strcmp(mode, "fork") == 0 && argc == 4)
		benchfork(argv[2], (int)number(argv[3], 1, 3600000));
	else if (strcmp(mode, "idle") == 0 && argc == 4)
		benchidle(argv[2], (int)number(argv[3], 1, 100000));
	else if (strcmp(mode, "floor") == 0 && (argc == 3 || (argc == 4 &&
	    strcmp(argv[3], "pin") == 0)))
		benchfloor((int)number(argv[2], 1, 3600000), argc == 4);
	else
		usage();
	return 0;
}
