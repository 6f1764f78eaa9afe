/*
 * spclient.c: a sysproxy client library for tests, see spclient.h.
 *
 * Each connection has a reader thread that owns the receiving side of the
 * socket.  Callers register a waiter under the connection lock before they
 * send a request, so the answer can never arrive before someone waits for
 * it; the reader finds the waiter by request number and wakes it.  Requests
 * from the server are served on the reader thread directly: they need
 * nothing but this process's memory, and answering them in order is what
 * the server expects.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spclient.h"

/* Largest frame accepted from a server; anything bigger is a broken peer. */
#define SPC_MAXFRAME	(256UL * 1024 * 1024)

#define BANNER_PREFIX	"RUMPSP-0.4-"

static int spc_debug;
static pthread_once_t spc_debug_once = PTHREAD_ONCE_INIT;

#define DPRINTF(x) do {							\
	if (debugging())						\
		dprintf_ x;						\
} while (/*CONSTCOND*/0)

static void
debug_init(void)
{
	const char *s;

	s = getenv("SPCLIENT_DEBUG");
	if (s != NULL && *s != '\0' && strcmp(s, "0") != 0)
		spc_debug = 1;
}

static int
debugging(void)
{

	pthread_once(&spc_debug_once, debug_init);
	return spc_debug;
}

static void
dprintf_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "spclient: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void
spc_setdebug(int on)
{

	pthread_once(&spc_debug_once, debug_init);
	spc_debug = on;
}

/* A caller waiting for the answer to request w_reqno. */
struct waiter {
	uint64_t	 w_reqno;
	int		 w_done;
	struct spc_hdr	 w_hdr;		/* the answer's header */
	void		*w_body;	/* the answer's body, malloc'ed */
	size_t		 w_bodylen;
	pthread_cond_t	 w_cv;
	struct waiter	*w_next;
};

struct spc {
	int		 spc_fd;	/* immutable until spc_close */
	char		*spc_url;	/* immutable */
	char		 spc_banner[SPC_MAXBANNER];	/* immutable */
	pthread_t	 spc_reader;

	pthread_mutex_t	 spc_sendlock;	/* one frame on the wire at a time */

	pthread_mutex_t	 spc_lock;	/* protects the fields below */
	pthread_cond_t	 spc_deadcv;
	struct waiter	*spc_waiters;
	uint64_t	 spc_nextreq;
	int		 spc_dead;
};

static int
errmap(uint32_t code)
{

	switch (code) {
	case SPC_ERR_NONE:
		return 0;
	case SPC_ERR_TRYAGAIN:
		return SPC_EAGAIN;
	case SPC_ERR_AUTH:
		return SPC_EPERM;
	case SPC_ERR_INVALID_PREFORK:
		return SPC_ESRCH;
	case SPC_ERR_RFORK_FAILED:
		return SPC_EIO;
	case SPC_ERR_INEXEC:
		return SPC_EBUSY;
	case SPC_ERR_NOMEM:
		return SPC_ENOMEM;
	default:
		return SPC_EINVAL;
	}
}

/*
 * Socket plumbing.
 */

static int
readall(int fd, void *buf, size_t len)
{
	ssize_t n;
	size_t done;

	for (done = 0; done < len; done += (size_t)n) {
		n = read(fd, (char *)buf + done, len - done);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			return -1;
	}
	return 0;
}

static int
writevall(int fd, struct iovec *iov, int iovcnt)
{
	struct msghdr msg;
	ssize_t n;

	while (iovcnt > 0) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = iovcnt;
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int
spc_rawsend(int fd, uint64_t reqno, int class, int type, uint32_t u,
    const void *body, size_t bodylen)
{
	struct spc_hdr hdr;
	struct iovec iov[2];

	memset(&hdr, 0, sizeof(hdr));
	hdr.h_len = SPC_HDRSIZE + bodylen;
	hdr.h_reqno = reqno;
	hdr.h_class = (uint16_t)class;
	hdr.h_type = (uint16_t)type;
	hdr.h_u = u;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = SPC_HDRSIZE;
	iov[1].iov_base = (void *)(uintptr_t)body;
	iov[1].iov_len = bodylen;
	return writevall(fd, iov, bodylen > 0 ? 2 : 1);
}

int
spc_rawrecv(int fd, struct spc_hdr *hdr, void **bodyp)
{
	size_t bodylen;
	void *body;

	*bodyp = NULL;
	if (readall(fd, hdr, SPC_HDRSIZE) == -1)
		return -1;
	if (hdr->h_len < SPC_HDRSIZE || hdr->h_len > SPC_MAXFRAME) {
		DPRINTF(("bad frame length %llu",
		    (unsigned long long)hdr->h_len));
		return -1;
	}
	bodylen = (size_t)hdr->h_len - SPC_HDRSIZE;
	if (bodylen == 0)
		return 0;
	if ((body = malloc(bodylen)) == NULL)
		return -1;
	if (readall(fd, body, bodylen) == -1) {
		free(body);
		return -1;
	}
	*bodyp = body;
	return 0;
}

static int
parseurl(const char *url, struct sockaddr_storage *ss, socklen_t *slen)
{
	struct sockaddr_un *sunx = (struct sockaddr_un *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	char host[64];
	const char *p, *colon;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		if (*p == '\0' || strlen(p) >= sizeof(sunx->sun_path))
			return SPC_EINVAL;
		sunx->sun_family = AF_UNIX;
		strcpy(sunx->sun_path, p);
		*slen = sizeof(*sunx);
		return 0;
	}
	if (strncmp(url, "tcp://", 6) == 0) {
		p = url + 6;
		if ((colon = strchr(p, ':')) == NULL ||
		    (size_t)(colon - p) >= sizeof(host))
			return SPC_EINVAL;
		memcpy(host, p, (size_t)(colon - p));
		host[colon - p] = '\0';
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return SPC_EINVAL;
		port = strtoul(colon + 1, &end, 10);
		if (end == colon + 1 || port > 65535 ||
		    (*end != '\0' && strcmp(end, "/") != 0))
			return SPC_EINVAL;
		sin->sin_port = htons((uint16_t)port);
		*slen = sizeof(*sin);
		return 0;
	}
	return SPC_EINVAL;
}

/*
 * Connect and take the banner in a single read, as librumpclient does:
 * a server that splits its banner breaks real clients, so it fails here.
 * Returns the socket or -error.
 */
int
spc_rawconnect(const char *url, char *banner, size_t bannersize)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	char buf[SPC_MAXBANNER];
	ssize_t n;
	int fd, error, one = 1;

	if ((error = parseurl(url, &ss, &slen)) != 0)
		return -error;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -SPC_ENOMEM;
	while (connect(fd, (struct sockaddr *)&ss, slen) == -1) {
		if (errno == EINTR)
			continue;
		DPRINTF(("connect %s: %s", url, strerror(errno)));
		close(fd);
		return -SPC_ECONNREFUSED;
	}
	if (ss.ss_family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	do {
		n = read(fd, buf, sizeof(buf) - 1);
	} while (n == -1 && errno == EINTR);
	if (n <= 0 || buf[n - 1] != '\n') {
		DPRINTF(("bad banner (%zd bytes)", n));
		close(fd);
		return -SPC_ENOTCONN;
	}
	buf[n] = '\0';
	if (strncmp(buf, BANNER_PREFIX, strlen(BANNER_PREFIX)) != 0) {
		DPRINTF(("unsupported banner %s", buf));
		close(fd);
		return -SPC_EINVAL;
	}
	if (banner != NULL && bannersize > 0)
		snprintf(banner, bannersize, "%s", buf);
	return fd;
}

/*
 * The reader thread.
 */

static void
reply(struct spc *spc, const struct spc_hdr *req, const void *body,
    size_t len)
{
	int rv;

	pthread_mutex_lock(&spc->spc_sendlock);
	rv = spc_rawsend(spc->spc_fd, req->h_reqno, SPC_RESP, req->h_type, 0,
	    body, len);
	pthread_mutex_unlock(&spc->spc_sendlock);
	if (rv == -1)
		DPRINTF(("reply to request %llu failed",
		    (unsigned long long)req->h_reqno));
}

static void
serve(struct spc *spc, const struct spc_hdr *hdr, const void *body)
{
	size_t bodylen = (size_t)hdr->h_len - SPC_HDRSIZE;
	struct spc_copydesc cd;
	const char *s;
	uint64_t howmuch;
	void *addr;
	size_t n;

	switch (hdr->h_type) {
	case SPC_COPYIN:
	case SPC_COPYINSTR:
		if (bodylen < sizeof(cd))
			break;
		memcpy(&cd, body, sizeof(cd));
		s = (const char *)(uintptr_t)cd.cd_addr;
		n = (size_t)cd.cd_len;
		if (hdr->h_type == SPC_COPYINSTR) {
			n = strnlen(s, n);
			if (n < cd.cd_len)
				n++;
		}
		DPRINTF(("copyin%s %zu bytes at %p", hdr->h_type ==
		    SPC_COPYINSTR ? "str" : "", n, (const void *)s));
		reply(spc, hdr, s, n);
		return;
	case SPC_COPYOUT:
	case SPC_COPYOUTSTR:
		if (bodylen < sizeof(cd))
			break;
		memcpy(&cd, body, sizeof(cd));
		if (cd.cd_len > bodylen - sizeof(cd))
			break;
		DPRINTF(("copyout %llu bytes to %#llx",
		    (unsigned long long)cd.cd_len,
		    (unsigned long long)cd.cd_addr));
		memcpy((void *)(uintptr_t)cd.cd_addr,
		    (const char *)body + sizeof(cd), (size_t)cd.cd_len);
		return;
	case SPC_ANONMMAP:
		if (bodylen < sizeof(howmuch))
			break;
		memcpy(&howmuch, body, sizeof(howmuch));
		addr = mmap(NULL, (size_t)howmuch, PROT_READ | PROT_WRITE,
		    MAP_ANON | MAP_PRIVATE, -1, 0);
		if (addr == MAP_FAILED)
			addr = NULL;
		DPRINTF(("anonmmap %llu bytes at %p",
		    (unsigned long long)howmuch, addr));
		reply(spc, hdr, &addr, sizeof(addr));
		return;
	case SPC_RAISE:
		DPRINTF(("raise %u", hdr->h_u));
		raise((int)hdr->h_u);
		return;
	default:
		break;
	}
	DPRINTF(("ignoring request type %u with %zu bytes", hdr->h_type,
	    bodylen));
}

static void
markdead(struct spc *spc)
{
	struct waiter *w;

	pthread_mutex_lock(&spc->spc_lock);
	spc->spc_dead = 1;
	for (w = spc->spc_waiters; w != NULL; w = w->w_next)
		pthread_cond_signal(&w->w_cv);
	pthread_cond_broadcast(&spc->spc_deadcv);
	pthread_mutex_unlock(&spc->spc_lock);
}

static void *
reader(void *arg)
{
	struct spc *spc = arg;
	struct spc_hdr hdr;
	struct waiter *w;
	void *body;

	for (;;) {
		if (spc_rawrecv(spc->spc_fd, &hdr, &body) == -1)
			break;
		if (hdr.h_class == SPC_REQ) {
			serve(spc, &hdr, body);
			free(body);
			continue;
		}
		pthread_mutex_lock(&spc->spc_lock);
		for (w = spc->spc_waiters; w != NULL; w = w->w_next)
			if (w->w_reqno == hdr.h_reqno && !w->w_done)
				break;
		if (w != NULL) {
			w->w_hdr = hdr;
			w->w_body = body;
			w->w_bodylen = (size_t)hdr.h_len - SPC_HDRSIZE;
			w->w_done = 1;
			pthread_cond_signal(&w->w_cv);
			body = NULL;
		}
		pthread_mutex_unlock(&spc->spc_lock);
		if (w == NULL)
			DPRINTF(("answer to unknown request %llu",
			    (unsigned long long)hdr.h_reqno));
		free(body);
	}
	DPRINTF(("connection closed"));
	markdead(spc);
	return NULL;
}

/*
 * Send request (type, u, body) and wait for its answer.  On success the
 * answer's body is in *bodyp (malloc'ed) and its length in *lenp.
 */
static int
rpc(struct spc *spc, int type, uint32_t u, const void *body, size_t len,
    void **bodyp, size_t *lenp)
{
	struct waiter w, **wp;
	int rv, error;

	memset(&w, 0, sizeof(w));
	pthread_cond_init(&w.w_cv, NULL);

	pthread_mutex_lock(&spc->spc_lock);
	if (spc->spc_dead) {
		pthread_mutex_unlock(&spc->spc_lock);
		pthread_cond_destroy(&w.w_cv);
		return SPC_ENOTCONN;
	}
	w.w_reqno = spc->spc_nextreq++;
	w.w_next = spc->spc_waiters;
	spc->spc_waiters = &w;
	pthread_mutex_unlock(&spc->spc_lock);

	pthread_mutex_lock(&spc->spc_sendlock);
	rv = spc_rawsend(spc->spc_fd, w.w_reqno, SPC_REQ, type, u, body, len);
	pthread_mutex_unlock(&spc->spc_sendlock);

	pthread_mutex_lock(&spc->spc_lock);
	while (rv == 0 && !w.w_done && !spc->spc_dead)
		pthread_cond_wait(&w.w_cv, &spc->spc_lock);
	for (wp = &spc->spc_waiters; *wp != &w; wp = &(*wp)->w_next)
		continue;
	*wp = w.w_next;
	pthread_mutex_unlock(&spc->spc_lock);
	pthread_cond_destroy(&w.w_cv);

	if (!w.w_done)
		return SPC_ENOTCONN;
	if (w.w_hdr.h_class == SPC_ERROR) {
		free(w.w_body);
		error = errmap(w.w_hdr.h_u);
		return error != 0 ? error : SPC_EINVAL;
	}
	if (w.w_hdr.h_class != SPC_RESP || w.w_hdr.h_type != type) {
		DPRINTF(("request %llu of type %d answered with class %u "
		    "type %u", (unsigned long long)w.w_reqno, type,
		    w.w_hdr.h_class, w.w_hdr.h_type));
		free(w.w_body);
		return SPC_EINVAL;
	}
	*bodyp = w.w_body;
	*lenp = w.w_bodylen;
	return 0;
}

static int
handshake(struct spc *spc, int kind, const void *body, size_t len)
{
	int32_t error;
	void *resp;
	size_t rlen;
	int rv;

	if ((rv = rpc(spc, SPC_HANDSHAKE, (uint32_t)kind, body, len, &resp,
	    &rlen)) != 0)
		return rv;
	if (rlen < sizeof(error)) {
		free(resp);
		return SPC_EINVAL;
	}
	memcpy(&error, resp, sizeof(error));
	free(resp);
	return error;
}

/* Connect, take the banner and start the reader; no handshake yet. */
static int
spc_open(const char *url, struct spc **spcp)
{
	struct spc *spc;
	int fd;

	if ((spc = calloc(1, sizeof(*spc))) == NULL)
		return SPC_ENOMEM;
	if ((spc->spc_url = strdup(url)) == NULL) {
		free(spc);
		return SPC_ENOMEM;
	}
	if ((fd = spc_rawconnect(url, spc->spc_banner,
	    sizeof(spc->spc_banner))) < 0) {
		free(spc->spc_url);
		free(spc);
		return -fd;
	}
	spc->spc_fd = fd;
	spc->spc_nextreq = 1;
	pthread_mutex_init(&spc->spc_sendlock, NULL);
	pthread_mutex_init(&spc->spc_lock, NULL);
	pthread_cond_init(&spc->spc_deadcv, NULL);
	if (pthread_create(&spc->spc_reader, NULL, reader, spc) != 0) {
		close(fd);
		free(spc->spc_url);
		free(spc);
		return SPC_ENOMEM;
	}
	*spcp = spc;
	return 0;
}

int
spc_connect(const char *url, const char *comm, struct spc **spcp)
{
	struct spc *spc;
	int error;

	if ((error = spc_open(url, &spc)) != 0)
		return error;
	if ((error = handshake(spc, SPC_HS_GUEST, comm,
	    strlen(comm) + 1)) != 0) {
		spc_close(spc);
		return error;
	}
	*spcp = spc;
	return 0;
}

int
spc_syscall(struct spc *spc, int num, const void *args, size_t argslen,
    long retval[2])
{
	struct spc_sysresp sr;
	void *resp;
	size_t rlen;
	int error;

	if ((error = rpc(spc, SPC_SYSCALL, (uint32_t)num, args, argslen,
	    &resp, &rlen)) != 0)
		return error;
	if (rlen < sizeof(sr)) {
		free(resp);
		return SPC_EINVAL;
	}
	memcpy(&sr, resp, sizeof(sr));
	free(resp);
	retval[0] = (long)sr.sr_retval[0];
	retval[1] = (long)sr.sr_retval[1];
	return sr.sr_error;
}

int
spc_prefork(struct spc *spc, struct spc_fork *sf)
{
	void *resp;
	size_t rlen;
	int error;

	if ((error = rpc(spc, SPC_PREFORK, 0, NULL, 0, &resp, &rlen)) != 0)
		return error;
	if (rlen < sizeof(sf->sf_auth)) {
		free(resp);
		return SPC_EINVAL;
	}
	memcpy(sf->sf_auth, resp, sizeof(sf->sf_auth));
	free(resp);
	if ((sf->sf_url = strdup(spc->spc_url)) == NULL)
		return SPC_ENOMEM;
	return 0;
}

int
spc_fork_child(struct spc *parent, struct spc_fork *sf, struct spc **childp)
{
	struct spc_forkhs fh;
	struct spc *spc;
	int error;

	/*
	 * The parent's reader thread did not survive fork(), and its locks
	 * may be held by threads that are gone: touch nothing but the
	 * descriptor, so the server sees EOF only when the parent closes it.
	 */
	if (parent != NULL)
		close(parent->spc_fd);

	error = spc_open(sf->sf_url, &spc);
	free(sf->sf_url);
	sf->sf_url = NULL;
	if (error)
		return error;
	memset(&fh, 0, sizeof(fh));
	memcpy(fh.fh_auth, sf->sf_auth, sizeof(fh.fh_auth));
	fh.fh_cancel = 0;
	if ((error = handshake(spc, SPC_HS_FORK, &fh, sizeof(fh))) != 0) {
		spc_close(spc);
		return error;
	}
	*childp = spc;
	return 0;
}

int
spc_fork_cancel(struct spc_fork *sf)
{
	struct spc_forkhs fh;
	struct spc_hdr hdr;
	struct pollfd pfd;
	void *body;
	int fd, error = 0;

	fd = spc_rawconnect(sf->sf_url, NULL, 0);
	free(sf->sf_url);
	sf->sf_url = NULL;
	if (fd < 0)
		return -fd;
	memset(&fh, 0, sizeof(fh));
	memcpy(fh.fh_auth, sf->sf_auth, sizeof(fh.fh_auth));
	fh.fh_cancel = 1;
	if (spc_rawsend(fd, 1, SPC_REQ, SPC_HANDSHAKE, SPC_HS_FORK, &fh,
	    sizeof(fh)) == -1) {
		close(fd);
		return SPC_ENOTCONN;
	}
	/* The server answers a cancel by closing the connection. */
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		if (poll(&pfd, 1, 5000) <= 0) {
			error = SPC_EAGAIN;
			break;
		}
		if (spc_rawrecv(fd, &hdr, &body) == -1)
			break;
		free(body);
		if (hdr.h_class == SPC_ERROR) {
			error = errmap(hdr.h_u);
			break;
		}
	}
	close(fd);
	return error;
}

int
spc_fork(struct spc *spc, pid_t *pidp, struct spc **childp)
{
	struct spc_fork sf;
	pid_t pid;
	int error;

	if ((error = spc_prefork(spc, &sf)) != 0)
		return error;
	switch (pid = fork()) {
	case -1:
		error = spc_fork_cancel(&sf);
		return error != 0 ? error : SPC_EAGAIN;
	case 0:
		*pidp = 0;
		return spc_fork_child(spc, &sf, childp);
	default:
		free(sf.sf_url);
		*pidp = pid;
		return 0;
	}
}

int
spc_exec(struct spc *spc, const char *comm)
{

	return handshake(spc, SPC_HS_EXEC, comm, strlen(comm) + 1);
}

const char *
spc_banner(const struct spc *spc)
{

	return spc->spc_banner;
}

int
spc_dead(struct spc *spc)
{
	int dead;

	pthread_mutex_lock(&spc->spc_lock);
	dead = spc->spc_dead;
	pthread_mutex_unlock(&spc->spc_lock);
	return dead;
}

int
spc_waitdead(struct spc *spc, int ms)
{
	struct timespec ts;
	int dead;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&spc->spc_lock);
	while (!spc->spc_dead)
		if (pthread_cond_timedwait(&spc->spc_deadcv, &spc->spc_lock,
		    &ts) != 0)
			break;
	dead = spc->spc_dead;
	pthread_mutex_unlock(&spc->spc_lock);
	return dead;
}

void
spc_hangup(struct spc *spc)
{

	shutdown(spc->spc_fd, SHUT_RDWR);
}

void
spc_close(struct spc *spc)
{

	shutdown(spc->spc_fd, SHUT_RDWR);
	pthread_join(spc->spc_reader, NULL);
	close(spc->spc_fd);
	pthread_mutex_destroy(&spc->spc_sendlock);
	pthread_mutex_destroy(&spc->spc_lock);
	pthread_cond_destroy(&spc->spc_deadcv);
	free(spc->spc_url);
	free(spc);
}
