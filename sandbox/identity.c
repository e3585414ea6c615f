/* identity.c — session identities (see identity.h): NSS look-ups and uid allocation happen
 * here, in the daemon, so that the spawn child only calls setgroups()/setresuid(). */
#include "sandbox/identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"

int identity_of_user(const char *user, struct identity *ret)
{
	struct passwd *pw;
	int n = IDENTITY_GROUPS_MAX;

	memset(ret, 0, sizeof(*ret));
	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		return errno ? negative_errno() : -ENOENT;
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return -EPERM;
	ret->uid = pw->pw_uid;
	ret->gid = pw->pw_gid;
	/* Resolved here, not by initgroups() in the child: that loads NSS modules and takes
	 * locks in a process cloned from a multi-threaded one. */
	if (getgrouplist(user, pw->pw_gid, ret->groups, &n) < 0)
		return -E2BIG;
	for (int i = 0; i < n; i++)
		if (ret->groups[i] == 0)
			return -EPERM;
	ret->n_groups = (size_t)n;
	return 0;
}

/* FNV-1a: a fixed, documented spread of names over the range. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static bool owns_other_state(const char *state_root, const char *name, uid_t uid)
{
	DIR *d = opendir(state_root);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode) && st.st_uid == uid)
			found = true;
	}
	closedir(d);
	return found;
}

static int uid_cmp(const void *a, const void *b)
{
	uid_t x = *(const uid_t *)a, y = *(const uid_t *)b;

	return x < y ? -1 : x > y;
}

bool identity_owners_has(const struct identity_owners *o, uid_t uid)
{
	return o->n && bsearch(&uid, o->v, o->n, sizeof(*o->v), uid_cmp);
}

int identity_owners_add(struct identity_owners *o, uid_t uid)
{
	size_t lo = 0, hi = o->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->v[mid] == uid)
			return 0;
		if (o->v[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		uid_t *v = realloc(o->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		o->v = v;
		o->cap = cap;
	}
	memmove(o->v + lo + 1, o->v + lo, (o->n - lo) * sizeof(*o->v));
	o->v[lo] = uid;
	o->n++;
	return 0;
}

void identity_owners_free(struct identity_owners *o)
{
	free(o->v);
	*o = (struct identity_owners){ 0 };
}

int identity_owners_load(struct identity_owners *o, const char *state_root)
{
	DIR *d = opendir(state_root);
	struct dirent *de;
	int r = 0;

	identity_owners_free(o);
	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	while (r >= 0 && (de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			r = identity_owners_add(o, st.st_uid);
	}
	closedir(d);
	if (r < 0)
		identity_owners_free(o);
	return r;
}

int identity_dynamic(const char *state_root, const char *name, uint32_t min, uint32_t max,
		     const struct identity_owners *owners, identity_taken_fn taken, void *arg,
		     struct identity *ret)
{
	char path[PATH_MAX];
	struct stat st;
	uint64_t span = (uint64_t)max - min + 1;

	memset(ret, 0, sizeof(*ret));
	ret->dynamic = true;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_root, name) >= sizeof(path))
		return -ENAMETOOLONG;
	/* The record: no scan of the other directories here — allocation below never gives a
	 * uid that owns another session's directory, so two records cannot share one. */
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid >= min && st.st_uid <= max &&
	    !(taken && taken(st.st_uid, arg))) {
		ret->uid = st.st_uid;
		ret->gid = (gid_t)st.st_uid;
		return 0;
	}
	for (uint64_t i = 0; i < span; i++) {
		uid_t uid = (uid_t)(min + (name_hash(name) + i) % span);

		/* The index holds the owner of name's own directory too: a uid that reached this
		 * loop (out of range or taken) is skipped either way, so "another" holds. */
		if ((taken && taken(uid, arg)) ||
		    (owners ? identity_owners_has(owners, uid)
			    : owns_other_state(state_root, name, uid)) ||
		    getpwuid(uid) || getgrgid((gid_t)uid))
			continue;
		ret->uid = uid;
		ret->gid = (gid_t)uid;
		return 0;
	}
	return -ENOSPC;
}

static int mkdir_owned(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

int identity_dir(const char *root, const char *name, const struct identity *id, char *buf,
		 size_t len)
{
	struct stat st;
	int fd, r = 0;

	if ((size_t)snprintf(buf, len, "%s/%s", root, name) >= len)
		return -ENAMETOOLONG;
	/* The root holds every session's directory: only root may list or enter it. */
	if ((r = mkdir_owned(root, 0700)) < 0)
		return r;
	if ((r = mkdir_owned(buf, 0700)) < 0)
		return r;
	/* O_NOFOLLOW|O_DIRECTORY: a worker that swapped its directory for a symlink does not
	 * get a chown of something else. */
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		r = negative_errno();
	else if ((st.st_uid != id->uid || st.st_gid != id->gid) && fchown(fd, id->uid, id->gid) < 0)
		r = negative_errno();
	else if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		r = negative_errno();
	close(fd);
	return r;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int identity_dir_remove(const char *path)
{
	if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return negative_errno();
	return 0;
}
