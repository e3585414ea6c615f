/* ns.c — named network namespaces the way iproute2's `ip netns add` makes them: a file under
 * /run/netns (a shared mount, so later mounts propagate) with the namespace bind-mounted on it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/netns.h"

static int ns_path(const char *name, char *buf, size_t len)
{
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if ((size_t)snprintf(buf, len, "%s/%s", NETNS_RUN_DIR, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* /run/netns must be a shared mount point: a namespace bind-mounted there by us must show up in
 * the mount namespaces of `ip netns exec` and of session workers. Same dance as ipnetns.c. */
static int run_dir_prepare(void)
{
	if (mkdir(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	for (int tries = 0; tries < 2; tries++) {
		if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
			return 0;
		if (errno != EINVAL || tries)
			return negative_errno();
		/* Not a mount point yet: make it one, then mark it shared. */
		if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
			return negative_errno();
	}
	return -EINVAL;
}

int ns_open_current(void)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? negative_errno() : fd;
}

int ns_enter(int nsfd, int *ret_saved)
{
	int saved = ns_open_current();

	if (saved < 0)
		return saved;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		int r = negative_errno();
		close(saved);
		return r;
	}
	*ret_saved = saved;
	return 0;
}

int ns_leave(int saved)
{
	int r = setns(saved, CLONE_NEWNET) < 0 ? negative_errno() : 0;

	close(saved);
	return r;
}

int ns_create(const char *name)
{
	char path[PATH_MAX];
	int fd, saved = -1, r;

	r = ns_path(name, path, sizeof(path));
	if (r < 0)
		return r;
	r = run_dir_prepare();
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	close(fd);

	/* unshare() moves only this thread; we step back into the saved namespace at once. */
	saved = ns_open_current();
	if (saved < 0) {
		r = saved;
		goto fail;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		r = negative_errno();
		close(saved);
		goto fail;
	}
	r = mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0 ? negative_errno()
									       : 0;
	{
		int q = ns_leave(saved);
		if (r == 0 && q < 0) {
			r = q;
			umount2(path, MNT_DETACH);
		}
	}
	if (r < 0)
		goto fail;
	return 0;
fail:
	unlink(path);
	return r;
}

int ns_delete(const char *name)
{
	char path[PATH_MAX];
	int r;

	r = ns_path(name, path, sizeof(path));
	if (r < 0)
		return r;
	/* Lazy unmount: a worker still inside keeps the namespace alive until it exits. */
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return negative_errno();
	if (unlink(path) < 0)
		return negative_errno();
	return 0;
}

bool ns_exists(const char *name)
{
	char path[PATH_MAX];

	return ns_path(name, path, sizeof(path)) == 0 && access(path, F_OK) == 0;
}

int ns_open(const char *name)
{
	char path[PATH_MAX];
	int fd, r;

	r = ns_path(name, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? negative_errno() : fd;
}
