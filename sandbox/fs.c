/* fs.c — a session's private root (see fs.h): planned in the daemon, where allocating and
 * looking at the host is fine, and carried out in the spawn child with system calls only. */
#include "sandbox/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"

/* The new root is built on a tmpfs mounted here, in the child's own mount namespace, then
 * pivoted into: whatever the host has at /tmp is covered for the child alone. */
#define FS_STAGE "/tmp"

int fs_plan_new(struct fs_plan **ret)
{
	struct fs_plan *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->ops = calloc(FS_PLAN_MAX, sizeof(*p->ops));
	if (!p->ops) {
		free(p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

void fs_plan_free(struct fs_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->ops[i].src);
		free(p->ops[i].dst);
	}
	free(p->ops);
	free(p);
}

/* Absolute, and no ".." component that could climb out of the new root. */
static bool path_plain(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const char *c = s; (c = strstr(c, "..")); c += 2)
		if (c[-1] == '/' && (c[2] == '/' || c[2] == 0))
			return false;
	return true;
}

int fs_plan_add(struct fs_plan *p, enum fs_op_type type, const char *src, const char *dst,
		unsigned mode)
{
	struct fs_op *op;

	if (!path_plain(dst))
		return -EINVAL;
	if (strlen(dst) + sizeof(FS_STAGE) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (p->n >= FS_PLAN_MAX)
		return -E2BIG;
	op = &p->ops[p->n];
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->mode = mode;
	op->dst = strdup(dst);
	op->src = src ? strdup(src) : NULL;
	if (!op->dst || (src && !op->src)) {
		free(op->dst);
		free(op->src);
		return -ENOMEM;
	}
	if (type == FS_TMPFS)
		snprintf(op->data, sizeof(op->data), "mode=%04o", mode & 07777);
	p->n++;
	return 0;
}

static const char *const system_trees[] = { "/usr", "/etc", "/opt" };

bool fs_plan_covers(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(system_trees); i++) {
		size_t n = strlen(system_trees[i]);

		if (!strncmp(path, system_trees[i], n) && path[n] == '/')
			return true;
	}
	return false;
}

int fs_plan_system(struct fs_plan *p)
{
	/* Merged-/usr hosts have these as symlinks into /usr; older ones as directories. */
	static const char *const top[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" };
	static const char *const devs[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
					    "/dev/urandom", "/dev/tty" };
	static const char *const dev_links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },	    { "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
	};
	struct stat st;
	int r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(system_trees) && r >= 0; i++)
		if (stat(system_trees[i], &st) == 0 && S_ISDIR(st.st_mode))
			r = fs_plan_add(p, FS_BIND_RO, system_trees[i], system_trees[i], 0);
	for (size_t i = 0; i < ARRAY_SIZE(top) && r >= 0; i++) {
		char target[PATH_MAX];
		ssize_t n;

		if (lstat(top[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			n = readlink(top[i], target, sizeof(target) - 1);
			if (n < 0)
				return negative_errno();
			target[n] = 0;
			r = fs_plan_add(p, FS_SYMLINK, target, top[i], 0);
		} else if (S_ISDIR(st.st_mode)) {
			r = fs_plan_add(p, FS_BIND_RO, top[i], top[i], 0);
		}
	}
	if (r >= 0)
		r = fs_plan_add(p, FS_TMPFS, NULL, "/dev", 0755);
	for (size_t i = 0; i < ARRAY_SIZE(devs) && r >= 0; i++)
		r = fs_plan_add(p, FS_BIND_DEV, devs[i], devs[i], 0);
	for (size_t i = 0; i < ARRAY_SIZE(dev_links) && r >= 0; i++)
		r = fs_plan_add(p, FS_SYMLINK, dev_links[i][0], dev_links[i][1], 0);
	if (r >= 0)
		r = fs_plan_add(p, FS_TMPFS, NULL, "/dev/shm", 01777);
	if (r >= 0)
		r = fs_plan_add(p, FS_PROC, NULL, "/proc", 0);
	if (r >= 0)
		r = fs_plan_add(p, FS_SYSFS, NULL, "/sys", 0);
	if (r >= 0)
		r = fs_plan_add(p, FS_TMPFS, NULL, "/tmp", 01777);
	if (r >= 0)
		r = fs_plan_add(p, FS_DIR, NULL, "/var", 0755);
	if (r >= 0)
		r = fs_plan_add(p, FS_TMPFS, NULL, "/var/tmp", 01777);
	if (r >= 0)
		r = fs_plan_add(p, FS_TMPFS, NULL, "/run", 0755);
	return r;
}

/* ---- the child's side: no allocation, no stdio, no locks ---- */

static char *join(char *buf, const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	/* fs_plan_add() checked the length. */
	memcpy(buf, a, na);
	memcpy(buf + na, b, nb + 1);
	return buf;
}

/* mkdir -p of path's parents (and of path itself when dir is true). */
static int mkdir_parents(char *path, bool dir, unsigned mode)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		int r = mkdir(path, 0755);
		*s = '/';
		if (r < 0 && errno != EEXIST)
			return -errno;
	}
	if (dir && mkdir(path, mode ? mode : 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int make_mountpoint(char *target, bool dir)
{
	struct stat st;
	int fd;

	if (lstat(target, &st) == 0)
		return 0;
	if (dir)
		return mkdir_parents(target, true, 0755);
	if (mkdir_parents(target, false, 0) < 0)
		return -errno;
	fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int set_attrs(const char *target, uint64_t set)
{
	struct mount_attr a = { .attr_set = set };

	if (mount_setattr(AT_FDCWD, target, AT_RECURSIVE, &a, sizeof(a)) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	/* Before Linux 5.12: the top mount only. */
	unsigned long f = MS_REMOUNT | MS_BIND;
	if (set & MOUNT_ATTR_RDONLY)
		f |= MS_RDONLY;
	if (set & MOUNT_ATTR_NOSUID)
		f |= MS_NOSUID;
	if (set & MOUNT_ATTR_NODEV)
		f |= MS_NODEV;
	if (set & MOUNT_ATTR_NOEXEC)
		f |= MS_NOEXEC;
	return mount(NULL, target, NULL, f, NULL) < 0 ? -errno : 0;
}

static char *fd_path(char *buf, int fd)
{
	char digits[12], *d = digits + sizeof(digits);

	*--d = 0;
	do
		*--d = (char)('0' + fd % 10);
	while ((fd /= 10));
	return join(buf, "/proc/self/fd/", d);
}

static bool is_bind(enum fs_op_type t)
{
	return t == FS_BIND_RO || t == FS_BIND_RW || t == FS_BIND_DEV;
}

int fs_apply(const struct fs_plan *p, const char **ret_what)
{
	int fds[FS_PLAN_MAX], null_fd, r = 0;
	char target[PATH_MAX], src[64];
	size_t i;

#define FAIL(what)                   \
	do {                         \
		*ret_what = (what);  \
		r = r ? r : -errno;  \
		goto out;            \
	} while (0)

	for (i = 0; i < p->n; i++)
		fds[i] = -1;
	null_fd = open("/dev/null", O_PATH | O_CLOEXEC);
	/* Nothing mounted here propagates back to the host. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		FAIL("make mounts private");
	/* Sources are opened first: the staging tmpfs is about to cover the host's /tmp, where
	 * a worker's executable may live. */
	for (i = 0; i < p->n; i++) {
		if (!is_bind(p->ops[i].type))
			continue;
		fds[i] = open(p->ops[i].src, O_PATH | O_CLOEXEC);
		if (fds[i] < 0)
			FAIL(p->ops[i].src);
	}
	if (mount("tmpfs", FS_STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		FAIL("mount the new root");
	for (i = 0; i < p->n; i++) {
		const struct fs_op *op = &p->ops[i];
		struct stat st;

		join(target, FS_STAGE, op->dst);
		switch (op->type) {
		case FS_BIND_RO:
		case FS_BIND_RW:
		case FS_BIND_DEV:
			if (fstat(fds[i], &st) < 0 || (r = make_mountpoint(target, S_ISDIR(st.st_mode))) < 0)
				FAIL(op->dst);
			if (mount(fd_path(src, fds[i]), target, NULL, MS_BIND | MS_REC, NULL) < 0)
				FAIL(op->dst);
			r = set_attrs(target, op->type == FS_BIND_RO ? MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
				       : op->type == FS_BIND_RW ? MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
				       : MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
			if (r < 0)
				FAIL(op->dst);
			break;
		case FS_TMPFS:
			if ((r = mkdir_parents(target, true, 0755)) < 0 ||
			    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, op->data) < 0)
				FAIL(op->dst);
			break;
		case FS_DIR:
			if ((r = mkdir_parents(target, true, op->mode)) < 0)
				FAIL(op->dst);
			break;
		case FS_SYMLINK:
			if ((r = mkdir_parents(target, false, 0)) < 0 ||
			    (symlink(op->src, target) < 0 && errno != EEXIST))
				FAIL(op->dst);
			break;
		case FS_PROC:
			if ((r = mkdir_parents(target, true, 0555)) < 0 ||
			    mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
				FAIL(op->dst);
			break;
		case FS_SYSFS:
			if ((r = mkdir_parents(target, true, 0555)) < 0 ||
			    mount("sysfs", target, "sysfs",
				  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
				FAIL(op->dst);
			break;
		case FS_MASK:
			if (lstat(target, &st) < 0)
				break;
			if (S_ISDIR(st.st_mode)) {
				if (mount("tmpfs", target, "tmpfs",
					  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555") < 0)
					FAIL(op->dst);
			} else if (null_fd < 0 ||
				   mount(fd_path(src, null_fd), target, NULL, MS_BIND, NULL) < 0) {
				FAIL(op->dst);
			}
			break;
		}
	}
	/* The root itself is read-only too: a worker writes only to its tmpfs and its own
	 * state and runtime directories. */
	if (mount(NULL, FS_STAGE, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		FAIL("make the new root read-only");
	/* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the
	 * new root (runc's way, no put_old directory needed). */
	if (chdir(FS_STAGE) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		FAIL("pivot_root");
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		FAIL("detach the old root");
	r = 0;
out:
	for (i = 0; i < p->n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (null_fd >= 0)
		close(null_fd);
	return r;
#undef FAIL
}
