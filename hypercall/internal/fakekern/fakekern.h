/* fakekern.h: the test fixture's controls, for its Go wrapper. */

#ifndef _FAKEKERN_H_
#define _FAKEKERN_H_

#include <stddef.h>
#include <stdint.h>

#define FK_NOPID	99	/* newlwp of this pid fails with ESRCH */
#define FK_FAILSYS	13	/* this system call fails with EIO */
#define FK_ESRCH	3
#define FK_EIO		5

void		fk_reset(int, int);
size_t		fk_gettrace(char *, size_t);
int		fk_getviolations(void);
uintptr_t	fk_thread_curlwp(void);
int		fk_lwpid(uintptr_t);
int		fk_thread_cpu(void);

#endif /* _FAKEKERN_H_ */
