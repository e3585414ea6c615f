/* spawn.c — the fork/exec of a session worker (see spawn.h). The child reports the first
 * failing step over a CLOEXEC pipe; EOF on that pipe means exec succeeded. */
#include "sandbox/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <stdint.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"

enum step {
	STEP_NETNS,
	STEP_MOUNTNS,
	STEP_RESOLV,
	STEP_CGROUP,
	STEP_FDS,
	STEP_CAPS,
	STEP_GROUPS,
	STEP_UID,
	STEP_NNP,
	STEP_EXEC,
};

static const char *const step_names[] = {
	[STEP_NETNS] = "join network namespace",
	[STEP_MOUNTNS] = "private mount namespace",
	[STEP_RESOLV] = "mount resolv.conf",
	[STEP_CGROUP] = "join cgroup",
	[STEP_FDS] = "set up file descriptors",
	[STEP_CAPS] = "drop capabilities",
	[STEP_GROUPS] = "set groups",
	[STEP_UID] = "set uid/gid",
	[STEP_NNP] = "set no_new_privs",
	[STEP_EXEC] = "exec",
};

struct failure {
	int step;
	int err;
};

static _Noreturn void child_fail(int pipefd, int step)
{
	struct failure f = { step, errno ? errno : EIO };

	(void)!write(pipefd, &f, sizeof(f));
	_exit(127);
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static _Noreturn void child(const struct spawn_params *sp, int pipefd, int cgroup_fd)
{
	sigset_t all;

	/* exec resets caught signals to their defaults; only ignored ones (SIGPIPE, ignored by
	 * the daemon) and the mask would leak into the worker. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Die with the daemon rather than outlive it unsupervised. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);

	/* Born in its cgroup with clone3(CLONE_INTO_CGROUP); otherwise it joins now, before the
	 * /sys remount below hides the cgroup hierarchy. */
	if (cgroup_fd < 0) {
		char pid[16], procs[PATH_MAX];
		int n = snprintf(pid, sizeof(pid), "%d", (int)getpid());

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", sp->cgroup);
		int cfd = open(procs, O_WRONLY | O_CLOEXEC);
		if (cfd < 0 || write(cfd, pid, (size_t)n) != n)
			child_fail(pipefd, STEP_CGROUP);
		close(cfd);
	}

	if (setns(sp->nsfd, CLONE_NEWNET) < 0)
		child_fail(pipefd, STEP_NETNS);
	/* A private mount namespace, slave to the host's so nothing we mount leaks back. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		child_fail(pipefd, STEP_MOUNTNS);
	if (sp->resolv && mount(sp->resolv, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
		child_fail(pipefd, STEP_RESOLV);
	/* Like `ip netns exec`: a sysfs of this namespace, so /sys/class/net shows its links.
	 * Best effort: a worker that does not look there loses nothing. */
	if (umount2("/sys", MNT_DETACH) == 0)
		mount("sysfs", "/sys", "sysfs", 0, NULL);


	/* fds: 0 = /dev/null, 1 and 2 inherited (the daemon's log), 3 = control socket. */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0)
		child_fail(pipefd, STEP_FDS);
	if (sp->control_fd >= 0) {
		if (sp->control_fd == SPAWN_CONTROL_FD) {
			if (fcntl(SPAWN_CONTROL_FD, F_SETFD, 0) < 0)
				child_fail(pipefd, STEP_FDS);
		} else if (dup2(sp->control_fd, SPAWN_CONTROL_FD) < 0) {
			child_fail(pipefd, STEP_FDS);
		}
	}
	/* Nothing else the daemon holds reaches the worker; pipefd closes at exec as it must. */
	if (close_range(SPAWN_CONTROL_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = SPAWN_CONTROL_FD + 1; fd < 1024; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);

	/* Capabilities: empty the bounding and ambient sets; setuid() to a non-zero uid then
	 * clears the permitted and effective ones. */
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			child_fail(pipefd, STEP_CAPS);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (initgroups(sp->user, sp->gid) < 0)
		child_fail(pipefd, STEP_GROUPS);
	if (setresgid(sp->gid, sp->gid, sp->gid) < 0 || setresuid(sp->uid, sp->uid, sp->uid) < 0)
		child_fail(pipefd, STEP_UID);
	if (sp->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		errno = EPERM;
		child_fail(pipefd, STEP_UID);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(pipefd, STEP_NNP);
	execve(sp->argv[0], sp->argv, sp->envp);
	child_fail(pipefd, STEP_EXEC);
}

/* fork() that places the child in a cgroup atomically (Linux 5.7+). glibc has no wrapper; the
 * child only makes system calls until it execs, so skipping glibc's fork handlers is fine. */
static pid_t clone_into_cgroup(int cgroup_fd)
{
	struct clone_args args = {
		.flags = CLONE_INTO_CGROUP,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)cgroup_fd,
	};

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

int spawn_worker(const struct spawn_params *sp, pid_t *ret_pid, const char **ret_step)
{
	struct failure f;
	int p[2], r, cgroup_fd;
	ssize_t n;
	pid_t pid;

	*ret_step = NULL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return negative_errno();
	/* Writing cgroup.procs takes the cgroup threadgroup lock for writing, which waits out an
	 * RCU grace period (measured: 5-25 ms here); a child born in the cgroup does not. */
	cgroup_fd = open(sp->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pid = cgroup_fd < 0 ? -1 : clone_into_cgroup(cgroup_fd);
	if (pid < 0 && (errno == ENOSYS || errno == EINVAL || errno == E2BIG || cgroup_fd < 0)) {
		if (cgroup_fd >= 0)
			close(cgroup_fd);
		cgroup_fd = -1;
		pid = fork();
	}
	if (pid < 0) {
		r = negative_errno();
		close(p[0]);
		close(p[1]);
		if (cgroup_fd >= 0)
			close(cgroup_fd);
		return r;
	}
	if (pid == 0) {
		close(p[0]);
		child(sp, p[1], cgroup_fd);
	}
	close(p[1]);
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	do
		n = read(p[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	*ret_pid = pid;
	if (n == (ssize_t)sizeof(f)) {
		*ret_step = step_names[f.step];
		return -f.err;
	}
	return 0;
}
