/* spawn.h — starting one session worker: fork, join the uplink's namespace, a private mount
 * namespace with the uplink's resolv.conf, the session cgroup, drop to an unprivileged user
 * with no capabilities and no_new_privs, exec. */
#pragma once

#include <sys/types.h>

struct spawn_params {
	char *const *argv;    /* argv[0] is an absolute path */
	char *const *envp;    /* the worker's whole environment */
	int nsfd;             /* network namespace to join */
	const char *resolv;   /* file bind-mounted over /etc/resolv.conf; NULL: none */
	const char *cgroup;   /* cgroup v2 directory to join */
	int control_fd;       /* becomes fd 3 in the worker; -1: none */
	uid_t uid;
	gid_t gid;
	const char *user;     /* for supplementary groups (initgroups) */
};

#define SPAWN_CONTROL_FD 3

/* Returns once the worker has exec'd (or failed to): 0 with *ret_pid set, or the -errno of
 * the step that failed, named in *ret_step. The child is reaped by the caller either way. */
int spawn_worker(const struct spawn_params *sp, pid_t *ret_pid, const char **ret_step);
