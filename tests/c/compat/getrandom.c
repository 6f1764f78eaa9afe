/*
 * rumpuser_getrandom for the C reference, which takes its fork
 * authentication cookies from it.  librumpuser provides it on a real host.
 */

#include <sys/random.h>

#include <errno.h>
#include <stddef.h>

#include "rump/rump.h"

int
rumpuser_getrandom(void *buf, size_t buflen, int flags, size_t *retp)
{
	size_t done = 0;
	ssize_t n;

	while (done < buflen) {
		n = getrandom((char *)buf + done, buflen - done, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			*retp = done;
			return errno;
		}
		done += (size_t)n;
	}
	*retp = done;
	return 0;
}
