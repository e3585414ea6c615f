/* cgroup.c — cgroup v2 plumbing for sessions (see cgroup.h). Everything is files: mountinfo
 * to find the hierarchy, cgroup.procs to join, SIGKILL to every member to end a worker and its children. */
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"

int cgroup_v2_mount(char *buf, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		/* "36 25 0:31 / /sys/fs/cgroup/unified rw,... shared:10 - cgroup2 cgroup2 rw" */
		char mnt[PATH_MAX], *sep = strstr(line, " - ");
		char fstype[64];

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if ((size_t)snprintf(buf, len, "%s", mnt) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOMEDIUM;
}

int cgroup_self(char *buf, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];

	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		if ((size_t)snprintf(buf, len, "%s", line + 3) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOMEDIUM;
}

static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int r = mkdir(path, 0755);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return negative_errno();
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

int cgroup_root_prepare(const char *path, char *buf, size_t len)
{
	char mnt[PATH_MAX], self[PATH_MAX];
	int r;

	r = cgroup_v2_mount(mnt, sizeof(mnt));
	if (r < 0)
		return r;
	if (path && path[0]) {
		r = snprintf(buf, len, "%s%s", mnt, path);
	} else {
		r = cgroup_self(self, sizeof(self));
		if (r < 0)
			return r;
		r = snprintf(buf, len, "%s%s%scellmux", mnt, self,
			     self[strlen(self) - 1] == '/' ? "" : "/");
	}
	if (r < 0 || (size_t)r >= len)
		return -ENAMETOOLONG;
	return mkdir_p(buf);
}

int cgroup_create(const char *root, const char *name, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", root, name) >= len)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

int cgroup_kill(const char *dir)
{
	char path[PATH_MAX];
	_cleanup_fclose_ FILE *f = NULL;
	int pid;

	/* One SIGKILL per member, not cgroup.kill: on this kernel (6.18) a write to cgroup.kill
	 * bumps the cgroup's kill sequence, and every later clone3(CLONE_INTO_CGROUP) into it
	 * compares against the parent's cgroup and is killed at birth (measured: each restarted
	 * worker died of SIGKILL with no kill() anywhere). A fork racing us is caught by the
	 * caller, which waits for the cgroup to empty and kills again. */
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fscanf(f, "%d", &pid) == 1)
		kill(pid, SIGKILL);
	return 0;
}

bool cgroup_populated(const char *dir)
{
	char path[PATH_MAX], line[128];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "populated ", 10))
			return line[10] == '1';
	return false;
}

int cgroup_remove(const char *dir)
{
	if (rmdir(dir) < 0 && errno != ENOENT)
		return negative_errno();
	return 0;
}

int cgroup_reap_children(const char *root)
{
	DIR *d = opendir(root);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	while ((de = readdir(d))) {
		char dir[PATH_MAX];

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
		cgroup_kill(dir);
		/* Killed processes leave the cgroup asynchronously; give them a moment. */
		for (int i = 0; i < 200 && cgroup_populated(dir); i++)
			usleep(5000);
		if (cgroup_remove(dir) < 0)
			r = negative_errno();
	}
	closedir(d);
	return r;
}

