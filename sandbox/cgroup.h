/* cgroup.h — cgroup v2 directories for session workers: one per session, under a root that
 * cellmuxd owns. Works on unified and hybrid hierarchies (the v2 mount is found, not assumed). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cgroup2 mount point, from /proc/self/mountinfo; -ENOMEDIUM when there is none. */
int cgroup_v2_mount(char *buf, size_t len);
/* Sets favordynmods on the cgroup2 superblock (Linux 6.0+), keeping its other options: a
 * migration (a write to cgroup.procs, v1 or v2) then no longer waits out an RCU grace period
 * (~10 ms here) for the global threadgroup lock, at some cost to every fork and exit. Global to
 * the machine and left set (since Linux 6.18 the faster lock stays until reboot even if the
 * option is cleared). 1: set now; 0: it was already; -errno (-EPERM: the kernel ignored
 * it, as outside the initial cgroup namespace). */
int cgroup_favor_dynmods(void);
/* The calling process's cgroup v2 path ("/..."), from /proc/self/cgroup. */
int cgroup_self(char *buf, size_t len);
/* Absolute directory of the session root: <mount><path>, or <mount><own cgroup>/cellmux when
 * path is empty. Created when missing. */
int cgroup_root_prepare(const char *path, char *buf, size_t len);
/* <root>/<name>, created (an existing one is reused: it may be left from a killed daemon). */
int cgroup_create(const char *root, const char *name, char *buf, size_t len);
/* SIGKILL to every process in dir (see cgroup.c for why not cgroup.kill). */
int cgroup_kill(const char *dir);
bool cgroup_populated(const char *dir);
/* rmdir; -EBUSY while processes remain. */
int cgroup_remove(const char *dir);

/* ---- resource limits: memory, pids, cpu ----
 * On a unified host the controllers are enabled down the v2 tree to the session root; on a
 * hybrid one (systemd's legacy layouts, some ARM boards) a controller that only exists as a
 * v1 hierarchy gets a parallel cgroup there, joined by the worker at spawn. */
enum cgroup_controller { CG_MEMORY, CG_PIDS, CG_CPU, CG_N };

struct cgroup_layout {
	bool on_v2[CG_N];
	char *v1_root[CG_N]; /* <v1 mount><root path>, or NULL when on v2 or absent */
};

/* Finds each controller for the session root (absolute v2 directory) and enables it there:
 * v2 when the tree allows, else its v1 hierarchy. A controller found nowhere stays off
 * (limits on it are refused by cgroup_session_limits()). */
int cgroup_layout_prepare(const char *v2_root, struct cgroup_layout *ret);
/* Frees l and removes its v1 roots when they are empty. */
void cgroup_layout_clear(struct cgroup_layout *l);
const char *cgroup_controller_name(enum cgroup_controller c);

#define CGROUP_MAX UINT64_MAX
struct cgroup_limits {
	uint64_t memory_max; /* bytes or CGROUP_MAX */
	uint64_t pids_max;   /* tasks or CGROUP_MAX */
	unsigned cpu_weight; /* 1..10000; 0 = leave the kernel's default */
};

/* The files cgroup_session_usage() reads. */
enum cgroup_file {
	CGF_MEMORY_CURRENT,
	CGF_MEMORY_MAX,
	CGF_MEMORY_EVENTS,
	CGF_PIDS_CURRENT,
	CGF_PIDS_MAX,
	CGF_CPU_WEIGHT,
	CGF_N,
};

struct cgroup_session {
	char *v1[CG_N];          /* the session's v1 directories (NULL where not v1) */
	char *v1_procs[CG_N + 1]; /* their cgroup.procs, NULL-terminated: for spawn */
	/* Descriptors of the files read for usage, kept open while a worker runs (bit f of kept:
	 * fd[f] is open); see cgroup_session_usage(). */
	int fd[CGF_N];
	unsigned kept;
};

/* The session's v1 directories under the layout (created), limits written into them and into
 * the v2 directory. -EOPNOTSUPP when a limit is asked of a controller this host lacks. */
int cgroup_session_setup(const struct cgroup_layout *l, const char *v2_dir, const char *name,
			 const struct cgroup_limits *lim, struct cgroup_session *ret);
void cgroup_session_remove(struct cgroup_session *s);

struct cgroup_usage {
	uint64_t memory_current, memory_max; /* CGROUP_MAX: no limit */
	uint64_t pids_current, pids_max;
	uint64_t oom_kills;
	unsigned cpu_weight;
	bool have_memory, have_pids, have_cpu;
};
/* What the kernel says now: every value is read afresh at each call. With keep, a file read by
 * its path stays open in s and is read again with one pread() (a cgroup file is generated anew
 * at each read from offset 0): a /metrics scrape of 1,024 sessions spent half its time walking
 * these paths. Without keep, only descriptors already kept are used. */
int cgroup_session_usage(const struct cgroup_layout *l, const char *v2_dir,
			 struct cgroup_session *s, bool keep, struct cgroup_usage *ret);
/* Closes the descriptors kept by cgroup_session_usage() (when its worker goes: a stopped session
 * holds none, and a directory made again under the same name is opened afresh). */
void cgroup_session_usage_close(struct cgroup_session *s);
/* Removes leftover session directories of the v1 hierarchies (a killed daemon's). */
/* keep(name): a session directory to leave alone (a session that outlived its daemon). */
void cgroup_layout_reap(const struct cgroup_layout *l, bool (*keep)(const char *name, void *arg),
			void *arg);
/* Removes one session's v1 directories (its processes already gone). */
void cgroup_layout_remove_session(const struct cgroup_layout *l, const char *name);
