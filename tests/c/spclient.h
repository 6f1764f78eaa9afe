/*
 * spclient.h: a sysproxy client, speaking protocol 0.4 the way NetBSD's
 * librumpclient does, for testing servers.
 *
 * One struct spc is one connection, which is one process in the rump
 * kernel.  A reader thread per connection receives every frame: it answers
 * the server's requests (copyin, copyout, anonmmap, raise) itself and hands
 * responses to the waiting caller by request number, so several threads
 * may have system calls outstanding on one connection at once.
 *
 * Every function returns 0 or an errno value of the rump kernel (NetBSD
 * numbering, see the SPC_E* values), never a host errno.
 */

#ifndef _SPCLIENT_H_
#define _SPCLIENT_H_

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* Wire format (protocol.md §2): host byte order, LP64 layout. */
#define SPC_HDRSIZE		24
#define SPC_MAXBANNER		96

enum spc_class { SPC_REQ = 0, SPC_RESP = 1, SPC_ERROR = 2 };

enum spc_type {
	SPC_HANDSHAKE = 0,
	SPC_SYSCALL,
	SPC_COPYIN,
	SPC_COPYINSTR,
	SPC_COPYOUT,
	SPC_COPYOUTSTR,
	SPC_ANONMMAP,
	SPC_PREFORK,
	SPC_RAISE
};

enum spc_handshake {
	SPC_HS_GUEST = 0,
	SPC_HS_AUTH,
	SPC_HS_FORK,
	SPC_HS_EXEC
};

/* Codes carried by ERROR frames. */
enum spc_err {
	SPC_ERR_NONE = 0,
	SPC_ERR_TRYAGAIN,
	SPC_ERR_AUTH,
	SPC_ERR_INVALID_PREFORK,
	SPC_ERR_RFORK_FAILED,
	SPC_ERR_INEXEC,
	SPC_ERR_NOMEM,
	SPC_ERR_MALFORMED_REQUEST
};

/* The frame header. */
struct spc_hdr {
	uint64_t	h_len;		/* whole frame, header included */
	uint64_t	h_reqno;
	uint16_t	h_class;	/* enum spc_class */
	uint16_t	h_type;		/* enum spc_type */
	uint32_t	h_u;		/* sysnum, error, handshake or signo */
};

/* Body of COPYIN, COPYINSTR and COPYOUT requests (data follows). */
struct spc_copydesc {
	uint64_t	cd_len;
	uint64_t	cd_addr;
};

/* Body of a SYSCALL response. */
struct spc_sysresp {
	int32_t		sr_error;
	int32_t		sr_pad;
	int64_t		sr_retval[2];
};

#define SPC_AUTHLEN	4	/* 32-bit words in a fork cookie */

/* Body of a FORK handshake. */
struct spc_forkhs {
	uint32_t	fh_auth[SPC_AUTHLEN];
	int32_t		fh_cancel;
};

/* errno values returned by this library, NetBSD numbering. */
#define SPC_EPERM	1
#define SPC_ESRCH	3
#define SPC_EIO		5
#define SPC_ENOMEM	12
#define SPC_EBUSY	16
#define SPC_EINVAL	22
#define SPC_EAGAIN	35
#define SPC_ENOTCONN	57
#define SPC_ECONNREFUSED 61

struct spc;

/* What a prefork hands to the child (or to a cancel). */
struct spc_fork {
	uint32_t	 sf_auth[SPC_AUTHLEN];
	char		*sf_url;	/* owned; freed by the child or cancel */
};

/*
 * Connect to url (unix://PATH or tcp://ADDR:PORT), check the banner and
 * become a guest process named comm.
 */
int	spc_connect(const char *url, const char *comm, struct spc **spcp);

/*
 * Run system call num with the argument block args (argslen bytes, each
 * argument padded to 8 bytes).  Returns the kernel's error; retval gets
 * both return values.
 */
int	spc_syscall(struct spc *spc, int num, const void *args,
	    size_t argslen, long retval[2]);

/* Ask for a fork cookie: the kernel forks the process, copying its fds. */
int	spc_prefork(struct spc *spc, struct spc_fork *sf);

/*
 * In the host child after fork(): leave the parent's connection alone and
 * become the preforked process on a new one.
 */
int	spc_fork_child(struct spc *parent, struct spc_fork *sf,
	    struct spc **childp);

/* Give up a prefork without forking: the kernel releases the process. */
int	spc_fork_cancel(struct spc_fork *sf);

/*
 * prefork + fork() + fork handshake.  Returns like fork() through *pidp;
 * in the child, *childp is the new connection and the parent's spc must
 * not be used any more.
 */
int	spc_fork(struct spc *spc, pid_t *pidp, struct spc **childp);

/* Tell the server this process execs as comm (keeps pid and fds). */
int	spc_exec(struct spc *spc, const char *comm);

/* The banner line the server sent, with its '\n'. */
const char *spc_banner(const struct spc *spc);

/* Nonzero once the connection is gone (EOF, error or close). */
int	spc_dead(struct spc *spc);

/* Wait up to ms milliseconds for the server to close the connection. */
int	spc_waitdead(struct spc *spc, int ms);

/*
 * Hang up without freeing anything: calls in progress on other threads
 * fail with SPC_ENOTCONN.  spc_close is still needed afterwards.
 */
void	spc_hangup(struct spc *spc);

/* Close the connection and free everything. */
void	spc_close(struct spc *spc);

/*
 * Low-level access for tests that speak the protocol by hand: connect and
 * read the banner only, then send and receive whole frames.  The body of a
 * received frame is malloc'ed.
 */
int	spc_rawconnect(const char *url, char *banner, size_t bannersize);
int	spc_rawsend(int fd, uint64_t reqno, int class, int type, uint32_t u,
	    const void *body, size_t bodylen);
int	spc_rawrecv(int fd, struct spc_hdr *hdr, void **bodyp);

/* Turn on debug lines ("spclient: ...") on stderr; also SPCLIENT_DEBUG=1. */
void	spc_setdebug(int on);

#endif /* _SPCLIENT_H_ */
