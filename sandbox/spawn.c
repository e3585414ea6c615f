/* spawn.c — the clone/exec of a session worker (see spawn.h). The child reports the first
 * failing step over a CLOEXEC pipe; EOF on that pipe means the worker exec'd. */
#include "sandbox/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "sandbox/fs.h"
#include "sandbox/seccomp.h"

enum step {
	STEP_SIGNALS,
	STEP_CGROUP,
	STEP_NETNS,
	STEP_FS,
	STEP_SETSID,
	STEP_FDS,
	STEP_CAPS,
	STEP_GROUPS,
	STEP_UID,
	STEP_NNP,
	STEP_SECCOMP,
	STEP_FORK,
	STEP_EXEC,
};

static const char *const step_names[] = {
	[STEP_SIGNALS] = "reset signals",
	[STEP_CGROUP] = "join cgroup",
	[STEP_NETNS] = "join network namespace",
	[STEP_FS] = "private filesystem",
	[STEP_SETSID] = "new session",
	[STEP_FDS] = "set up file descriptors",
	[STEP_CAPS] = "drop capabilities",
	[STEP_GROUPS] = "set groups",
	[STEP_UID] = "set uid/gid",
	[STEP_NNP] = "set no_new_privs",
	[STEP_SECCOMP] = "seccomp filter",
	[STEP_FORK] = "fork the worker",
	[STEP_EXEC] = "exec",
};

struct failure {
	int step;
	int err;
	/* A string of the parent's (plan path or literal): the child's memory is a copy of the
	 * parent's, so the pointer means the same thing there. */
	const char *what;
};

static _Noreturn void child_fail(int pipefd, int step, int err, const char *what)
{
	struct failure f = { step, err ? err : EIO, what };

	(void)!write(pipefd, &f, sizeof(f));
	_exit(127);
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* PID 1 of the session: the worker is its only child; signals from the daemon are passed
 * on, orphans are reaped, and the worker's end is the session's end (the kernel then kills
 * whatever else is left in the namespace). */
static _Noreturn void init_exit(int status)
{
	(void)!write(SPAWN_INIT_STATUS_WFD, &status, sizeof(status));
	_exit(status);
}

static _Noreturn void session_init(pid_t worker, const sigset_t *all)
{
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(all, &si);

		if (sig == SIGCHLD) {
			int st;
			pid_t w;

			while ((w = waitpid(-1, &st, WNOHANG)) > 0)
				if (w == worker)
					init_exit(WIFEXITED(st) ? WEXITSTATUS(st)
								: SPAWN_SIGNAL_EXIT_BASE + WTERMSIG(st));
		} else if (sig > 0) {
			kill(worker, sig);
		}
	}
}

struct exec_args {
	const struct spawn_params *sp;
	int pipefd;
	const sigset_t *mask;
};

/* The worker's few steps before exec run on this stack while the init waits (CLONE_VFORK);
 * a static buffer, so nothing is allocated. */
static char worker_stack[64 * 1024] __attribute__((aligned(16)));

static int exec_worker(void *arg)
{
	const struct exec_args *ea = arg;

	sigprocmask(SIG_SETMASK, ea->mask, NULL);
	execve(ea->sp->argv[0], ea->sp->argv, ea->sp->envp);
	child_fail(ea->pipefd, STEP_EXEC, errno, ea->sp->argv[0]);
}

/* Runs in the child between clone3 and exec. The daemon is multi-threaded and clone3 skips
 * glibc's fork handlers, so any lock another thread held at the clone (malloc's, stdio's, the
 * NSS modules', the dynamic loader's) stays locked here forever. The child therefore makes
 * system calls only — through glibc wrappers that are plain system calls (open, write,
 * mount, prctl, ...) or through syscall() where the wrapper does more (setresuid and friends,
 * fork) — on memory the parent prepared: every path, the mount plan, the groups, the seccomp
 * program. tests/integration/test_spawn_syscalls.sh holds it to an allow-list under strace. */
static _Noreturn void child(const struct spawn_params *sp, int pipefd, const int status[2],
			    const char *cgroup_procs, int joined_fd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t all, none;
	const char *what = NULL;
	int r, null;
	pid_t worker;

	/* Block everything first, then drop the daemon's handlers (GLib's would write to the
	 * daemon's wake-up pipe): this process lives on as the session's init. */
	sigfillset(&all);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int sig = 1; sig < _NSIG; sig++)
		sigaction(sig, &dfl, NULL);

	if (cgroup_procs && (r = write_str(cgroup_procs, "0")) < 0)
		child_fail(pipefd, STEP_CGROUP, -r, cgroup_procs);

	if (setns(sp->nsfd, CLONE_NEWNET) < 0)
		child_fail(pipefd, STEP_NETNS, errno, NULL);
	/* After setns: sysfs shows the namespace of whoever mounts it. */
	if (sp->fs && (r = fs_apply(sp->fs, &what)) < 0)
		child_fail(pipefd, STEP_FS, -r, what);
	/* The parent moves us into the v1 hierarchies meanwhile (see spawn_worker()); nothing
	 * runs that could fork before it says it has. EOF: it could not, and reports why. */
	if (joined_fd >= 0) {
		char ok;

		if (read(joined_fd, &ok, 1) != 1)
			_exit(127);
		close(joined_fd);
	}
	/* No controlling terminal: nothing to TIOCSTI into, no SIGHUP from the daemon's tty. */
	if (setsid() < 0)
		child_fail(pipefd, STEP_SETSID, errno, NULL);

	/* fds: 0 = /dev/null, 1 and 2 = the daemon's output pipe(s), 3.. = the listeners, then
	 * the control socket, then the failure pipe until exec. Targets 0-2 are the daemon's own
	 * std fds, so none of sp's descriptors (all above 2) is overwritten by these. */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0)
		child_fail(pipefd, STEP_FDS, errno, "/dev/null");
	if (dup2(sp->stdout_fd >= 0 ? sp->stdout_fd : null, 1) < 0 ||
	    dup2(sp->stderr_fd >= 0 ? sp->stderr_fd : sp->stdout_fd >= 0 ? sp->stdout_fd : null, 2) < 0)
		child_fail(pipefd, STEP_FDS, errno, "stdout");
	if (sp->n_listen > SPAWN_LISTEN_MAX)
		child_fail(pipefd, STEP_FDS, E2BIG, "listeners");
	/* Every source is lifted above every target first: then no dup2 below can overwrite a
	 * descriptor that has yet to move, whatever numbers the daemon's fds happen to have. */
	int ctl_target = spawn_control_fd(sp->n_listen), pipe_target = ctl_target + 1;
	int lifted[SPAWN_LISTEN_MAX], ctl;
	int p = fcntl(pipefd, F_DUPFD_CLOEXEC, pipe_target + 1);

	if (p < 0)
		child_fail(pipefd, STEP_FDS, errno, "pipe");
	pipefd = p;
	for (size_t i = 0; i < sp->n_listen; i++)
		if ((lifted[i] = fcntl(sp->listen_fds[i], F_DUPFD_CLOEXEC, pipe_target + 1)) < 0)
			child_fail(pipefd, STEP_FDS, errno, "listener");
	ctl = fcntl(sp->control_fd >= 0 ? sp->control_fd : null, F_DUPFD_CLOEXEC, pipe_target + 1);
	if (ctl < 0)
		child_fail(pipefd, STEP_FDS, errno, "control socket");
	/* CLOEXEC: the worker's exec drops them; the init moves them down after the fork. */
	enum { NKEEP = SPAWN_INIT_HOLD_N + 2 };
	const int src[NKEEP] = { sp->hold_fds[0], sp->hold_fds[1], status[0], status[1] };
	int keep[NKEEP];
	for (int i = 0; i < NKEEP; i++)
		if ((keep[i] = fcntl(src[i] >= 0 ? src[i] : null, F_DUPFD_CLOEXEC,
				     pipe_target + 1)) < 0)
			child_fail(pipefd, STEP_FDS, errno, "held descriptor");
	/* dup2 leaves the targets without CLOEXEC: they are the worker's. */
	for (size_t i = 0; i < sp->n_listen; i++)
		if (dup2(lifted[i], SPAWN_LISTEN_FDS_START + (int)i) < 0)
			child_fail(pipefd, STEP_FDS, errno, "listener");
	if (dup2(ctl, ctl_target) < 0)
		child_fail(pipefd, STEP_FDS, errno, "control socket");
	if (dup3(pipefd, pipe_target, O_CLOEXEC) < 0)
		child_fail(pipefd, STEP_FDS, errno, "pipe");
	pipefd = pipe_target;
	/* The init lives on without exec: nothing else the daemon holds (database, BPF maps,
	 * sockets) may stay open in it; only the kept ones, closed around (they are the highest
	 * fds here, in ascending order, the lowest free ones above pipe_target when made). */
	unsigned from = (unsigned)pipe_target + 1;
	for (int i = 0; i < NKEEP; i++) {
		if ((unsigned)keep[i] > from && close_range(from, (unsigned)keep[i] - 1, 0) < 0)
			for (unsigned fd = from; fd < (unsigned)keep[i]; fd++)
				close((int)fd);
		from = (unsigned)keep[i] + 1;
	}
	if (close_range(from, ~0U, 0) < 0)
		for (unsigned fd = from; fd < 65536; fd++)
			close((int)fd);

	/* Capabilities: empty the bounding and ambient sets; setresuid() to a non-zero uid then
	 * clears the permitted and effective ones. */
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			child_fail(pipefd, STEP_CAPS, errno, NULL);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* Raw system calls: glibc's wrappers would broadcast the change to every thread they
	 * know of (its setxid protocol: signals and futex waits) — the daemon's threads, which
	 * do not exist in this process. The kernel's calls change this process alone. */
	if (syscall(SYS_setgroups, sp->n_groups, sp->groups) < 0)
		child_fail(pipefd, STEP_GROUPS, errno, NULL);
	if (syscall(SYS_setresgid, sp->gid, sp->gid, sp->gid) < 0 ||
	    syscall(SYS_setresuid, sp->uid, sp->uid, sp->uid) < 0)
		child_fail(pipefd, STEP_UID, errno, NULL);
	if (sp->uid == 0 || syscall(SYS_setuid, 0) == 0 || syscall(SYS_setresuid, -1, 0, -1) == 0)
		child_fail(pipefd, STEP_UID, EPERM, "root");
	/* No PDEATHSIG: the session outlives its daemon and the next one adopts it. But a daemon
	 * that died while this start was under way never recorded it: the failure pipe has no
	 * reader then, and a worker nobody knows of must not run on. */
	struct pollfd pf = { .fd = pipefd, .events = POLLOUT };
	if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLERR | POLLHUP)))
		_exit(127);
	/* The init holds the daemon's ends of the session's channels: not dumpable, so the
	 * worker (same uid) cannot open them through /proc/1/fd or ptrace its init. Only a
	 * daemon with CAP_SYS_PTRACE can take them back (pidfd_getfd). execve makes the worker
	 * dumpable again as usual. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		child_fail(pipefd, STEP_NNP, errno, "dumpable");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(pipefd, STEP_NNP, errno, NULL);
	if (sp->seccomp && (r = sandbox_seccomp_apply(sp->seccomp)) < 0)
		child_fail(pipefd, STEP_SECCOMP, -r, NULL);

	/* vfork semantics (CLONE_VM | CLONE_VFORK) on a stack of our own: no copy of the
	 * daemon-sized address space for a process that only execs (measured: 1.2 ms a start),
	 * and no glibc fork() with the daemon's atfork handlers. */
	struct exec_args ea = { sp, pipefd, &none };
	worker = clone(exec_worker, worker_stack + sizeof(worker_stack),
		       CLONE_VM | CLONE_VFORK | SIGCHLD, &ea);
	if (worker < 0)
		child_fail(pipefd, STEP_FORK, errno, NULL);
	/* The worker's copy of the pipe closes at its exec and tells the daemon. */
	close(pipefd);
	for (int fd = 0; fd <= spawn_control_fd(sp->n_listen); fd++)
		close(fd);
	/* What the init keeps, at 3..6 (spawn.h); fds 0-2 stay closed. Bottom-up is safe:
	 * keep[] ascend from pipe_target + 1 >= 5, so keep[j] >= 5 + j > 3 + i for every j > i,
	 * and no dup2 overwrites one still to move. */
	for (int i = 0; i < NKEEP; i++)
		if (keep[i] != SPAWN_INIT_HOLD_FD + i)
			dup2(keep[i], SPAWN_INIT_HOLD_FD + i);
	for (int i = 0; i < NKEEP; i++)
		if (keep[i] > SPAWN_INIT_HOLD_FD + NKEEP - 1)
			close(keep[i]);
	session_init(worker, &all);
}

#define SANDBOX_NS_FLAGS \
	(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

static pid_t clone_sandboxed(int cgroup_fd, int *pidfd)
{
	struct clone_args args = {
		.flags = SANDBOX_NS_FLAGS | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
		.pidfd = (uint64_t)(uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
		.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
	};

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static int failure_of(const struct failure *f, struct spawn_result *ret)
{
	ret->step = f->step >= 0 && (size_t)f->step < ARRAY_SIZE(step_names) ? step_names[f->step]
									      : "?";
	ret->detail = f->what;
	return -f->err;
}

/* Moves pid into every v1 hierarchy's session cgroup. Each cgroup.procs write waits out an RCU
 * grace period (the cgroup threadgroup lock taken for writing; measured 10-15 ms here), the
 * largest cost of a start on a host with v1 controllers: done by the parent while the child
 * builds its filesystem, the two overlap. */
static int join_v1(const struct spawn_params *sp, pid_t pid, const char **failed)
{
	char buf[16];
	int r;

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (const char *const *v = sp->v1_procs; v && *v; v++)
		if ((r = write_str(*v, buf)) < 0) {
			*failed = *v;
			return r;
		}
	return 0;
}

static void close_pair(int fd[2])
{
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0) {
			close(fd[i]);
			fd[i] = -1;
		}
}

int spawn_worker(const struct spawn_params *sp, struct spawn_result *ret)
{
	char procs[PATH_MAX];
	struct failure f;
	int p[2] = { -1, -1 }, status[2] = { -1, -1 }, joined[2] = { -1, -1 };
	int r, cgroup_fd, pidfd = -1;
	const char *v1_failed = NULL;
	ssize_t n;
	pid_t pid;

	*ret = (struct spawn_result){ .pidfd = -1, .status_fd = -1 };
	if ((size_t)snprintf(procs, sizeof(procs), "%s/cgroup.procs", sp->cgroup) >= sizeof(procs))
		return -ENAMETOOLONG;
	/* joined: a socket, not a pipe: send(MSG_NOSIGNAL) to a child gone already is EPIPE, not
	 * a SIGPIPE for the caller. */
	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(status, O_CLOEXEC) < 0 ||
	    (sp->v1_procs && sp->v1_procs[0] &&
	     socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, joined) < 0)) {
		r = negative_errno();
		goto fail;
	}
	/* Writing cgroup.procs takes the cgroup threadgroup lock for writing, which waits out an
	 * RCU grace period (measured: 5-25 ms here); a child born in the cgroup does not. */
	cgroup_fd = open(sp->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0) {
		r = negative_errno();
		ret->step = step_names[STEP_CGROUP];
		goto fail;
	}
	pid = clone_sandboxed(cgroup_fd, &pidfd);
	/* Linux 5.3-5.6 have clone3 without CLONE_INTO_CGROUP: join by writing cgroup.procs. */
	bool in_cgroup = pid >= 0;
	if (pid < 0 && (errno == EINVAL || errno == E2BIG))
		pid = clone_sandboxed(-1, &pidfd);
	r = pid < 0 ? negative_errno() : 0;
	close(cgroup_fd);
	if (pid < 0) {
		ret->step = r == -ENOSYS ? "clone3 (needs Linux 5.3 or later)" : "clone3";
		goto fail;
	}
	if (pid == 0) {
		close(p[0]);
		if (joined[1] >= 0)
			close(joined[1]);
		child(sp, p[1], status, in_cgroup ? NULL : procs, joined[0]);
	}
	close(p[1]);
	close(status[1]);
	if (joined[0] >= 0) {
		close(joined[0]);
		r = join_v1(sp, pid, &v1_failed);
		/* Told, the child goes on; not told (EOF), it exits before anything forks. */
		if (r == 0 && send(joined[1], "j", 1, MSG_NOSIGNAL) != 1)
			r = negative_errno();
		close(joined[1]);
	}
	do
		n = read(p[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	ret->pid = pid;
	ret->pidfd = pidfd;
	ret->status_fd = status[0];
	/* A child that failed first (and so is gone: a join then fails with ESRCH) said why. */
	if (n == (ssize_t)sizeof(f))
		return failure_of(&f, ret);
	if (r < 0) {
		ret->step = step_names[STEP_CGROUP];
		ret->detail = v1_failed;
	}
	return r;

fail:
	close_pair(p);
	close_pair(status);
	close_pair(joined);
	return r;
}
