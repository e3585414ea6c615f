/* macro.h — the cleanup helpers and small macros every folder shares (systemd/ell style). */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                        \
	({                                                                                 \
		__typeof__(p) _p = (p);                                                    \
		(p) = NULL;                                                                \
		_p;                                                                        \
	})
#define TAKE_FD(fd)                                                                        \
	({                                                                                 \
		int _fd = (fd);                                                            \
		(fd) = -1;                                                                 \
		_fd;                                                                       \
	})

/* errno as a negative return value, never 0 even if a libc call forgot to set it. */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}
