/* listener.c — see listener.h. The sockets keep the host namespace they were made in, which is
 * what lets a worker inside an uplink's namespace accept connections from outside it. */
#include "daemon/listener.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macro.h"

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
};

static int sockaddr_of(const struct cfg_listen *l, union sockaddr_any *sa, socklen_t *len)
{
	memset(sa, 0, sizeof(*sa));
	switch (l->family) {
	case AF_INET:
		sa->in.sin_family = AF_INET;
		sa->in.sin_port = htons((uint16_t)l->port);
		*len = sizeof(sa->in);
		return inet_pton(AF_INET, l->address, &sa->in.sin_addr) == 1 ? 0 : -EINVAL;
	case AF_INET6:
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_port = htons((uint16_t)l->port);
		*len = sizeof(sa->in6);
		return inet_pton(AF_INET6, l->address, &sa->in6.sin6_addr) == 1 ? 0 : -EINVAL;
	case AF_UNIX:
		if (strlen(l->address) >= sizeof(sa->un.sun_path))
			return -ENAMETOOLONG;
		sa->un.sun_family = AF_UNIX;
		strcpy(sa->un.sun_path, l->address);
		*len = sizeof(sa->un);
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* A socket file that refuses connections was left by a daemon that died: ours to replace.
 * Anything else at the path (a live socket, a regular file) is not. */
static int unix_stale(const char *path, const union sockaddr_any *sa, socklen_t len)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	r = connect(fd, &sa->sa, len) == 0 ? -EADDRINUSE : errno == ECONNREFUSED ? 1 : -errno;
	close(fd);
	return r;
}

int listener_bind(const struct cfg_listen *l, int *ret_fd)
{
	union sockaddr_any sa;
	socklen_t len;
	int fd, r, one = 1;

	r = sockaddr_of(l, &sa, &len);
	if (r < 0)
		return r;
	if (l->family == AF_UNIX) {
		r = unix_stale(l->address, &sa, len);
		if (r < 0)
			return r == -EEXIST ? -EADDRINUSE : r;
		if (r > 0 && unlink(l->address) < 0)
			return negative_errno();
	}
	fd = socket(l->family, (l->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	/* A worker's connections in TIME_WAIT must not keep the port from a restarted daemon. */
	if (l->family != AF_UNIX && !l->udp &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, &sa.sa, len) < 0)
		goto fail;
	if (l->family == AF_UNIX && chmod(l->address, 0666) < 0)
		goto fail_unlink;
	if (!l->udp && listen(fd, SOMAXCONN) < 0)
		goto fail_unlink;
	*ret_fd = fd;
	return 0;
fail_unlink:
	r = negative_errno();
	unlink(l->address);
	close(fd);
	return r;
fail:
	r = negative_errno();
	close(fd);
	return r;
}

int listener_bind_all(const struct cfg_listens *ls, int *fds, size_t *ret_failed)
{
	for (size_t i = 0; i < ls->n; i++)
		fds[i] = -1;
	for (size_t i = 0; i < ls->n; i++) {
		int r = listener_bind(&ls->v[i], &fds[i]);

		if (r < 0) {
			listener_close_all(ls, fds);
			*ret_failed = i;
			return r;
		}
	}
	return 0;
}

void listener_close_all(const struct cfg_listens *ls, int *fds)
{
	for (size_t i = 0; i < ls->n; i++) {
		if (fds[i] < 0)
			continue;
		close(fds[i]);
		fds[i] = -1;
		if (ls->v[i].family == AF_UNIX)
			unlink(ls->v[i].address);
	}
}

static bool same_sockaddr(const union sockaddr_any *a, socklen_t alen, const union sockaddr_any *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	switch (a->sa.sa_family) {
	case AF_INET:
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	case AF_INET6:
		return a->in6.sin6_port == b->in6.sin6_port &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr));
	case AF_UNIX:
		return alen > offsetof(struct sockaddr_un, sun_path) &&
		       !strncmp(a->un.sun_path, b->un.sun_path, sizeof(a->un.sun_path));
	}
	return false;
}

/* Does one of this process's descriptors listen on sa? */
static bool held_by_self(const union sockaddr_any *sa, bool udp)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		union sockaddr_any got;
		socklen_t len = sizeof(got);
		int fd = atoi(de->d_name), acc = 0, type = 0;
		socklen_t alen = sizeof(acc), tlen = sizeof(type);

		if (fd < 3 || fd == dirfd(d))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
		    type != (udp ? SOCK_DGRAM : SOCK_STREAM))
			continue;
		if (!udp && (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) < 0 || !acc))
			continue;
		if (getsockname(fd, &got.sa, &len) == 0 && same_sockaddr(&got, len, sa))
			found = true;
	}
	closedir(d);
	return found;
}

int listener_probe(const struct cfg_listen *l)
{
	union sockaddr_any sa;
	socklen_t len;
	int fd, r, one = 1;

	r = sockaddr_of(l, &sa, &len);
	if (r < 0)
		return r;
	if (held_by_self(&sa, l->udp))
		return 0;
	if (l->family == AF_UNIX) {
		r = unix_stale(l->address, &sa, len);
		if (r < 0)
			return r == -EEXIST ? -EADDRINUSE : r;
		if (r > 0)
			return 0; /* a stale file: listener_bind replaces it */
		/* Nothing there yet: preflight creates nothing, so look at the directory only. */
		char dir[sizeof(l->address)], *slash;

		strcpy(dir, l->address);
		slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		return access(dir, W_OK | X_OK) < 0 ? negative_errno() : 0;
	}
	fd = socket(l->family, (l->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	/* UDP has no TIME_WAIT, and SO_REUSEADDR there would share a port another holds. */
	r = (!l->udp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
			    bind(fd, &sa.sa, len) < 0
		    ? -errno
		    : 0;
	close(fd);
	return r;
}

void listener_fdname(const struct cfg_listen *l, char *buf, size_t len)
{
	if (l->family == AF_UNIX)
		snprintf(buf, len, "unix");
	else
		snprintf(buf, len, "%s-%u", l->udp ? "udp" : "tcp", l->port);
}
