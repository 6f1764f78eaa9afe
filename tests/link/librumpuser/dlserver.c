/*
 * dlserver: like server, but loads the shared librumpuser at run time,
 * the way a program picks a hypervisor layer with dlopen(), and calls
 * it only through dlsym().
 *
 *	dlserver LIBRARY URL
 */

#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	void (*kinit)(void);
	int (*spinit)(const char *, const char *, const char *,
	    const char *);
	void *lib;
	int error;

	if (argc != 3) {
		fprintf(stderr, "usage: dlserver LIBRARY URL\n");
		return 2;
	}
	if ((lib = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL)) == NULL) {
		fprintf(stderr, "dlserver: %s\n", dlerror());
		return 1;
	}
	/* POSIX allows this conversion for dlsym's results. */
	*(void **)&kinit = dlsym(lib, "demokern_init");
	*(void **)&spinit = dlsym(lib, "rumpuser_sp_init");
	if (kinit == NULL || spinit == NULL) {
		fprintf(stderr, "dlserver: missing symbol: %s\n", dlerror());
		return 1;
	}

	kinit();
	if ((error = spinit(argv[2], "Linux", "standin", "dlopen")) != 0) {
		fprintf(stderr, "dlserver: %s: error %d\n", argv[2], error);
		return 1;
	}
	for (;;)
		pause();
}
