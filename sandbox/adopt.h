/* adopt.h — taking back a session that outlived its daemon (a crash, kill -9 or re-exec):
 * its init is found in the session's cgroup, and the daemon's ends of the session's channels,
 * which the init holds (spawn.h: SPAWN_INIT_HOLD_FD..), are copied out with pidfd_getfd(2). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct adopted {
	pid_t pid;     /* the session's init, host pid */
	int pidfd;     /* of the init */
	int ctl_fd;    /* the daemon's end of the control socket */
	int out_fd;    /* the read end of the worker's output pipe */
	int status_fd; /* the read end of the init's status pipe */
};

/* The session's init among the processes of cgroup v2 directory dir: the one that is PID 1
 * of a PID namespace other than ours. -ENOENT: the cgroup holds none (the session is gone). */
int adopt_find_init(const char *dir, pid_t *ret);
/* Opens a pidfd of pid, checks it is still in dir (not a recycled pid) and takes the three
 * descriptors, checking their types. Needs CAP_SYS_PTRACE (the init is not dumpable). */
int adopt_take(const char *dir, pid_t pid, struct adopted *ret);
void adopt_close(struct adopted *a);

/* The worker's wait status once the init has exited (its pidfd is readable): from waitid()
 * when the init is the caller's child, else the status the init wrote into its pipe. 0 and
 * *known = false when neither says (the init died while no daemon held the pipe). */
int adopt_exit_status(int pidfd, int status_fd, int *status, bool *known);
