/* cgroup.c — cgroup v2 plumbing for sessions (see cgroup.h). Everything is files: mountinfo
 * to find the hierarchy, cgroup.procs to join, SIGKILL to every member to end a worker and its children. */
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"

static bool word_in(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == ',') &&
		    (p[n] == 0 || p[n] == ' ' || p[n] == ',' || p[n] == '\n'))
			return true;
	return false;
}

/* The first mount of fstype (with option opt among its superblock options, unless NULL) in
 * /proc/self/mountinfo: its mount point, and those options when opts is given. -ENOENT: none.
 * "36 25 0:31 / /sys/fs/cgroup/unified rw,... shared:10 - cgroup2 cgroup2 rw,nsdelegate" */
static int mountinfo_find(const char *fstype, const char *opt, char *mnt, size_t mlen, char *opts,
			  size_t olen)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		char m[PATH_MAX], t[64], o[1024], *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s %*s %1023s", t, o) != 2 || strcmp(t, fstype))
			continue;
		if ((opt && !word_in(o, opt)) || sscanf(line, "%*s %*s %*s %*s %4095s", m) != 1)
			continue;
		if ((size_t)snprintf(mnt, mlen, "%s", m) >= mlen ||
		    (opts && (size_t)snprintf(opts, olen, "%s", o) >= olen))
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOENT;
}

int cgroup_v2_mount(char *buf, size_t len)
{
	int r = mountinfo_find("cgroup2", NULL, buf, len, NULL, 0);

	return r == -ENOENT ? -ENOMEDIUM : r;
}

int cgroup_favor_dynmods(void)
{
	char mnt[PATH_MAX], opts[1024], *save = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if ((r = mountinfo_find("cgroup2", NULL, mnt, sizeof(mnt), opts, sizeof(opts))) < 0)
		return r == -ENOENT ? -ENOMEDIUM : r;
	if (word_in(opts, "favordynmods"))
		return 0;
	/* fspick rather than mount(MS_REMOUNT): it changes the superblock alone, where a legacy
	 * remount also resets the mount's nosuid/nodev/noexec from its flags. The kernel replaces
	 * the root's flags as a whole, so every one it has now is given again. */
	fd = fspick(AT_FDCWD, mnt, FSPICK_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strcmp(o, "rw") || !strcmp(o, "ro"))
			continue;
		if (strchr(o, '=')) {
			*strchr(o, '=') = '\0';
			if (fsconfig(fd, FSCONFIG_SET_STRING, o, o + strlen(o) + 1, 0) < 0)
				return negative_errno();
		} else if (fsconfig(fd, FSCONFIG_SET_FLAG, o, NULL, 0) < 0) {
			return negative_errno();
		}
	}
	if (fsconfig(fd, FSCONFIG_SET_FLAG, "favordynmods", NULL, 0) < 0 ||
	    fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		return negative_errno();
	/* Outside the initial cgroup namespace the kernel takes the call and changes nothing. */
	if ((r = mountinfo_find("cgroup2", NULL, mnt, sizeof(mnt), opts, sizeof(opts))) < 0)
		return r;
	return word_in(opts, "favordynmods") ? 1 : -EPERM;
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

/* ---- resource limits ---- */

static const char *const cg_names[CG_N] = { [CG_MEMORY] = "memory", [CG_PIDS] = "pids",
					    [CG_CPU] = "cpu" };

const char *cgroup_controller_name(enum cgroup_controller c)
{
	return c < CG_N ? cg_names[c] : "?";
}

static int read_file(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return negative_errno();
	buf[n] = 0;
	return 0;
}

static int write_file(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = write(fd, value, strlen(value));
	close(fd);
	return n < 0 ? negative_errno() : 0;
}

/* Enables c from the v2 mount down to root's own subtree_control; false when any level
 * refuses (an ancestor with processes, or no such controller on v2). */
static bool v2_enable(const char *mnt, const char *root, const char *c)
{
	char dir[PATH_MAX], avail[512], plus[32];
	size_t m = strlen(mnt);

	if (read_file(mnt, "cgroup.controllers", avail, sizeof(avail)) < 0 || !word_in(avail, c))
		return false;
	snprintf(plus, sizeof(plus), "+%s", c);
	snprintf(dir, sizeof(dir), "%s", root);
	/* Every directory from the mount to root, root included, must delegate c downwards. */
	for (size_t i = m; ; i++) {
		if (dir[i] == '/' || dir[i] == 0) {
			char save = dir[i];

			dir[i] = 0;
			char cur[512];
			bool ok = read_file(dir, "cgroup.subtree_control", cur, sizeof(cur)) == 0 &&
				  (word_in(cur, c) || write_file(dir, "cgroup.subtree_control", plus) == 0);
			dir[i] = save;
			if (!ok)
				return false;
			if (!save)
				break;
		}
	}
	return true;
}

static int v1_mount_of(const char *c, char *buf, size_t len)
{
	return mountinfo_find("cgroup", c, buf, len, NULL, 0);
}

int cgroup_layout_prepare(const char *v2_root, struct cgroup_layout *ret)
{
	char mnt[PATH_MAX];
	int r;

	memset(ret, 0, sizeof(*ret));
	r = cgroup_v2_mount(mnt, sizeof(mnt));
	if (r < 0)
		return r;
	if (strncmp(v2_root, mnt, strlen(mnt)))
		return -EINVAL;
	for (int c = 0; c < CG_N; c++) {
		char v1[PATH_MAX], path[PATH_MAX];

		if (v2_enable(mnt, v2_root, cg_names[c])) {
			ret->on_v2[c] = true;
			continue;
		}
		if (v1_mount_of(cg_names[c], v1, sizeof(v1)) < 0)
			continue;
		/* The same relative path as the v2 root: one name for the operator to look up. */
		if ((size_t)snprintf(path, sizeof(path), "%s%s", v1, v2_root + strlen(mnt)) >=
		    sizeof(path))
			return -ENAMETOOLONG;
		if ((r = mkdir_p(path)) < 0 || !(ret->v1_root[c] = strdup(path))) {
			cgroup_layout_clear(ret);
			return r < 0 ? r : -ENOMEM;
		}
	}
	return 0;
}

void cgroup_layout_clear(struct cgroup_layout *l)
{
	for (int c = 0; c < CG_N; c++) {
		/* Empty once every session is gone; busy (and kept) otherwise. */
		if (l->v1_root[c])
			rmdir(l->v1_root[c]);
		free(l->v1_root[c]);
		l->v1_root[c] = NULL;
	}
}

static void fmt_max(char *buf, size_t len, uint64_t v, bool v1_memory)
{
	if (v == CGROUP_MAX)
		snprintf(buf, len, "%s", v1_memory ? "-1" : "max");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

int cgroup_session_setup(const struct cgroup_layout *l, const char *v2_dir, const char *name,
			 const struct cgroup_limits *lim, struct cgroup_session *ret)
{
	char v[32];
	int r = 0, n = 0;

	memset(ret, 0, sizeof(*ret));
	if ((lim->memory_max != CGROUP_MAX && !l->on_v2[CG_MEMORY] && !l->v1_root[CG_MEMORY]) ||
	    (lim->cpu_weight && !l->on_v2[CG_CPU] && !l->v1_root[CG_CPU]) ||
	    (lim->pids_max != CGROUP_MAX && !l->on_v2[CG_PIDS] && !l->v1_root[CG_PIDS]))
		return -EOPNOTSUPP;
	for (int c = 0; c < CG_N; c++) {
		char path[PATH_MAX];

		/* Joining a v1 hierarchy costs the spawn an RCU grace period (the cgroup.procs
		 * write; v2's CLONE_INTO_CGROUP does not): only where a limit asks for it. */
		bool wanted = (c == CG_MEMORY && lim->memory_max != CGROUP_MAX) ||
			      (c == CG_PIDS && lim->pids_max != CGROUP_MAX) ||
			      (c == CG_CPU && lim->cpu_weight);
		if (!l->v1_root[c] || !wanted)
			continue;
		snprintf(path, sizeof(path), "%s/%s", l->v1_root[c], name);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			goto fail_errno;
		if (!(ret->v1[c] = strdup(path)) ||
		    asprintf(&ret->v1_procs[n], "%s/cgroup.procs", path) < 0) {
			ret->v1_procs[n] = NULL;
			r = -ENOMEM;
			goto fail;
		}
		n++;
	}
	const char *mem = l->on_v2[CG_MEMORY] ? v2_dir : ret->v1[CG_MEMORY];
	if (mem) {
		fmt_max(v, sizeof(v), lim->memory_max, !l->on_v2[CG_MEMORY]);
		r = write_file(mem, l->on_v2[CG_MEMORY] ? "memory.max" : "memory.limit_in_bytes", v);
		/* One OOM kill ends the whole session, so its restart policy sees one failure
		 * instead of a half-dead worker. v1 has no such switch. */
		if (r >= 0 && l->on_v2[CG_MEMORY])
			write_file(mem, "memory.oom.group", "1");
		if (r < 0)
			goto fail;
	}
	const char *pids = l->on_v2[CG_PIDS] ? v2_dir : ret->v1[CG_PIDS];
	if (pids) {
		fmt_max(v, sizeof(v), lim->pids_max, false);
		if ((r = write_file(pids, "pids.max", v)) < 0)
			goto fail;
	}
	const char *cpu = l->on_v2[CG_CPU] ? v2_dir : ret->v1[CG_CPU];
	if (cpu && lim->cpu_weight) {
		/* systemd's mapping of CPUWeight= onto v1 shares: 100 <-> 1024. */
		if (l->on_v2[CG_CPU])
			snprintf(v, sizeof(v), "%u", lim->cpu_weight);
		else
			snprintf(v, sizeof(v), "%u", lim->cpu_weight * 1024 / 100 < 2 ? 2
						      : lim->cpu_weight * 1024 / 100);
		if ((r = write_file(cpu, l->on_v2[CG_CPU] ? "cpu.weight" : "cpu.shares", v)) < 0)
			goto fail;
	}
	return 0;
fail_errno:
	r = negative_errno();
fail:
	cgroup_session_remove(ret);
	return r;
}

void cgroup_session_remove(struct cgroup_session *s)
{
	cgroup_session_usage_close(s);
	for (int c = 0; c < CG_N; c++) {
		if (s->v1[c])
			rmdir(s->v1[c]);
		free(s->v1[c]);
		s->v1[c] = NULL;
	}
	for (int i = 0; i < CG_N; i++) {
		free(s->v1_procs[i]);
		s->v1_procs[i] = NULL;
	}
}

void cgroup_session_usage_close(struct cgroup_session *s)
{
	for (int f = 0; f < CGF_N; f++)
		if (s->kept & 1u << f)
			close(s->fd[f]);
	s->kept = 0;
}

/* One file's text, by its kept descriptor when there is one, else by its path (and kept with
 * keep). A kept descriptor that fails (the directory was removed behind us: ENODEV) is dropped
 * and the path tried, so what is read is the directory that has the name now. */
static int usage_read(struct cgroup_session *s, enum cgroup_file f, const char *dir,
		      const char *file, bool keep, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (s->kept & 1u << f) {
		n = pread(s->fd[f], buf, len - 1, 0);
		if (n >= 0) {
			buf[n] = 0;
			return 0;
		}
		close(s->fd[f]);
		s->kept &= ~(1u << f);
	}
	if (!keep)
		return read_file(dir, file, buf, len);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = pread(fd, buf, len - 1, 0);
	if (n < 0) {
		int r = negative_errno();

		close(fd);
		return r;
	}
	buf[n] = 0;
	s->fd[f] = fd;
	s->kept |= 1u << f;
	return 0;
}

static int read_u64(struct cgroup_session *s, enum cgroup_file f, const char *dir,
		    const char *file, bool keep, uint64_t *ret)
{
	char buf[64];
	int r = usage_read(s, f, dir, file, keep, buf, sizeof(buf));

	if (r < 0)
		return r;
	if (!strncmp(buf, "max", 3)) {
		*ret = CGROUP_MAX;
		return 0;
	}
	*ret = strtoull(buf, NULL, 10);
	return 0;
}

/* "oom_kill N" out of memory.events (v2) or memory.oom_control (v1). */
static uint64_t oom_kills(struct cgroup_session *s, const char *dir, const char *file, bool keep)
{
	char buf[1024], *p;

	if (usage_read(s, CGF_MEMORY_EVENTS, dir, file, keep, buf, sizeof(buf)) < 0 ||
	    !(p = strstr(buf, "oom_kill ")))
		return 0;
	return strtoull(p + 9, NULL, 10);
}

int cgroup_session_usage(const struct cgroup_layout *l, const char *v2_dir,
			 struct cgroup_session *s, bool keep, struct cgroup_usage *ret)
{
	const char *mem = l->on_v2[CG_MEMORY] ? v2_dir : s->v1[CG_MEMORY];
	const char *pids = l->on_v2[CG_PIDS] ? v2_dir : s->v1[CG_PIDS];
	const char *cpu = l->on_v2[CG_CPU] ? v2_dir : s->v1[CG_CPU];
	uint64_t v;

	memset(ret, 0, sizeof(*ret));
	if (mem) {
		bool v2 = l->on_v2[CG_MEMORY];

		ret->have_memory =
			read_u64(s, CGF_MEMORY_CURRENT, mem,
				 v2 ? "memory.current" : "memory.usage_in_bytes", keep,
				 &ret->memory_current) == 0 &&
			read_u64(s, CGF_MEMORY_MAX, mem, v2 ? "memory.max" : "memory.limit_in_bytes",
				 keep, &ret->memory_max) == 0;
		/* v1 says "no limit" as the largest page-aligned long. */
		if (!v2 && ret->memory_max >= (uint64_t)INT64_MAX - 4096 * 2)
			ret->memory_max = CGROUP_MAX;
		ret->oom_kills = oom_kills(s, mem, v2 ? "memory.events" : "memory.oom_control", keep);
	}
	if (pids)
		ret->have_pids =
			read_u64(s, CGF_PIDS_CURRENT, pids, "pids.current", keep,
				 &ret->pids_current) == 0 &&
			read_u64(s, CGF_PIDS_MAX, pids, "pids.max", keep, &ret->pids_max) == 0;
	if (cpu) {
		bool v2 = l->on_v2[CG_CPU];

		if (read_u64(s, CGF_CPU_WEIGHT, cpu, v2 ? "cpu.weight" : "cpu.shares", keep, &v) == 0) {
			ret->cpu_weight = v2 ? (unsigned)v : (unsigned)(v * 100 / 1024);
			ret->have_cpu = true;
		}
	}
	return 0;
}

void cgroup_layout_reap(const struct cgroup_layout *l, bool (*keep)(const char *name, void *arg),
			void *arg)
{
	for (int c = 0; c < CG_N; c++) {
		DIR *d;
		struct dirent *de;

		if (!l->v1_root[c] || !(d = opendir(l->v1_root[c])))
			continue;
		while ((de = readdir(d))) {
			char dir[PATH_MAX];

			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			/* A session that outlived its daemon keeps its limits. */
			if (keep && keep(de->d_name, arg))
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", l->v1_root[c], de->d_name);
			/* Its processes are in the v2 cgroup too, and were killed there. */
			for (int i = 0; i < 200 && rmdir(dir) < 0 && errno == EBUSY; i++)
				usleep(5000);
		}
		closedir(d);
	}
}

void cgroup_layout_remove_session(const struct cgroup_layout *l, const char *name)
{
	for (int c = 0; c < CG_N; c++) {
		char dir[PATH_MAX];

		if (!l->v1_root[c])
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", l->v1_root[c], name);
		for (int i = 0; i < 200 && rmdir(dir) < 0 && errno == EBUSY; i++)
			usleep(5000);
	}
}
