/* xenapp.h: what the stand-in's files call of each other. */

#ifndef _XENAPP_H_
#define _XENAPP_H_

/* Start the platform's services; with RUMP_SYSPROXY, serve url. */
int	_netbsd_init(const char *url);

#endif /* _XENAPP_H_ */
