/*
 * spwait.h: how a rumpuser_sp_* callback waits for a client's reply.  The
 * thread sleeps on a futex in C, outside Go, and the Go goroutine that reads
 * the reply wakes it with rumpsp_wait_done.  Waiting in Go instead would
 * park a goroutine locked to its thread (a cgo callback), which costs the
 * Go scheduler two more thread switches per reply.
 */

#ifndef _RUMPSP_SPWAIT_H_
#define _RUMPSP_SPWAIT_H_

#include <stdint.h>

struct rumpsp_wait {
	uint32_t	w_state;	/* 0 waiting, 1 done; futex word */
	int		w_error;	/* NetBSD errno, valid once done */
	uint64_t	w_n;		/* length or address, once done */
};

void	rumpsp_wait_done(uintptr_t, uint64_t, int);

#endif /* _RUMPSP_SPWAIT_H_ */
