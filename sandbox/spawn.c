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
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "sandbox/fs.h"
#include "sandbox/init_abi.h"
#include "sandbox/seccomp.h"

#define STEP(x) SPAWN_STEP_##x
static const char *const step_names[SPAWN_STEP_N] = {
	[STEP(SIGNALS)] = "reset signals",
	[STEP(CGROUP)] = "join cgroup",
	[STEP(NETNS)] = "join network namespace",
	[STEP(FS)] = "private filesystem",
	[STEP(SETSID)] = "new session",
	[STEP(FDS)] = "set up file descriptors",
	[STEP(CAPS)] = "drop capabilities",
	[STEP(GROUPS)] = "set groups",
	[STEP(UID)] = "set uid/gid",
	[STEP(NNP)] = "set no_new_privs",
	[STEP(SECCOMP)] = "seccomp filter",
	[STEP(INIT)] = "exec the session init",
	[STEP(FORK)] = "fork the worker",
	[STEP(EXEC)] = "exec",
};

static _Noreturn void child_fail(int pipefd, int step, int err, const char *what)
{
	struct spawn_failure f = { step, err ? err : EIO, what };

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
	child_fail(ea->pipefd, SPAWN_STEP_EXEC, errno, ea->sp->argv[0]);
}

/* Runs in the child between clone3 and exec. The daemon is multi-threaded and clone3 skips
 * glibc's fork handlers, so any lock another thread held at the clone (malloc's, stdio's, the
 * NSS modules', the dynamic loader's) stays locked here forever. The child therefore makes
 * system calls only — through glibc wrappers that are plain system calls (open, write,
 * mount, prctl, ...) or through syscall() where the wrapper does more (setresuid and friends,
 * fork) — on memory the parent prepared: every path, the mount plan, the groups, the seccomp
 * program. tests/integration/test_spawn_syscalls.sh holds it to an allow-list under strace. */
/* How the child ends when cellmux-init is the session's init: exec it (init_abi.h). */
struct init_exec {
	int fd;              /* cellmux-init, O_PATH */
	char *const *argv;   /* "cellmux-init" N_LISTEN JOINED -- worker argv, made by the parent */
};

static _Noreturn void child(const struct spawn_params *sp, int pipefd, const int status[2],
			    const char *cgroup_procs, int joined_fd, const struct init_exec *ie)
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
		child_fail(pipefd, SPAWN_STEP_CGROUP, -r, cgroup_procs);

	if (setns(sp->nsfd, CLONE_NEWNET) < 0)
		child_fail(pipefd, SPAWN_STEP_NETNS, errno, NULL);
	/* After setns: sysfs shows the namespace of whoever mounts it. */
	if (sp->fs && (r = fs_apply(sp->fs, &what)) < 0)
		child_fail(pipefd, SPAWN_STEP_FS, -r, what);
	/* The parent moves us into the v1 hierarchies meanwhile (see spawn_worker()); nothing
	 * runs that could fork before it says it has. EOF: it could not, and reports why. With
	 * cellmux-init the parent waits for its exec first (CLONE_VFORK): the init reads it. */
	if (joined_fd >= 0 && !ie) {
		char ok;

		if (read(joined_fd, &ok, 1) != 1)
			_exit(127);
		close(joined_fd);
	}
	/* No controlling terminal: nothing to TIOCSTI into, no SIGHUP from the daemon's tty. */
	if (setsid() < 0)
		child_fail(pipefd, SPAWN_STEP_SETSID, errno, NULL);

	/* fds: 0 = /dev/null, 1 and 2 = the daemon's output pipe(s), 3.. = the listeners, then
	 * the control socket, then the failure pipe until exec. Targets 0-2 are the daemon's own
	 * std fds, so none of sp's descriptors (all above 2) is overwritten by these. */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0)
		child_fail(pipefd, SPAWN_STEP_FDS, errno, "/dev/null");
	if (dup2(sp->stdout_fd >= 0 ? sp->stdout_fd : null, 1) < 0 ||
	    dup2(sp->stderr_fd >= 0 ? sp->stderr_fd : sp->stdout_fd >= 0 ? sp->stdout_fd : null, 2) < 0)
		child_fail(pipefd, SPAWN_STEP_FDS, errno, "stdout");
	if (sp->n_listen > SPAWN_LISTEN_MAX)
		child_fail(pipefd, SPAWN_STEP_FDS, E2BIG, "listeners");
	/* Every source is lifted above every target first: then no dup2 below can overwrite a
	 * descriptor that has yet to move, whatever numbers the daemon's fds happen to have. */
	int ctl_target = spawn_control_fd(sp->n_listen), pipe_target = ctl_target + 1;
	int lifted[SPAWN_LISTEN_MAX], ctl;
	int p = fcntl(pipefd, F_DUPFD_CLOEXEC, pipe_target + 1);

	if (p < 0)
		child_fail(pipefd, SPAWN_STEP_FDS, errno, "pipe");
	pipefd = p;
	for (size_t i = 0; i < sp->n_listen; i++)
		if ((lifted[i] = fcntl(sp->listen_fds[i], F_DUPFD_CLOEXEC, pipe_target + 1)) < 0)
			child_fail(pipefd, SPAWN_STEP_FDS, errno, "listener");
	ctl = fcntl(sp->control_fd >= 0 ? sp->control_fd : null, F_DUPFD_CLOEXEC, pipe_target + 1);
	if (ctl < 0)
		child_fail(pipefd, SPAWN_STEP_FDS, errno, "control socket");
	/* CLOEXEC: the worker's exec drops them; the init moves them down after the fork. */
	enum { NKEEP = SPAWN_INIT_HOLD_N + 2 };
	const int src[NKEEP] = { sp->hold_fds[0], sp->hold_fds[1], status[0], status[1] };
	int keep[NKEEP], joined_l = -1, init_l = -1;
	for (int i = 0; i < NKEEP; i++)
		if ((keep[i] = fcntl(src[i] >= 0 ? src[i] : null, F_DUPFD_CLOEXEC,
				     pipe_target + 1)) < 0)
			child_fail(pipefd, SPAWN_STEP_FDS, errno, "held descriptor");
	/* For cellmux-init, lifted after the kept ones and so above them all: the init binary
	 * last, so that no move below lands on it. */
	if (ie && joined_fd >= 0 &&
	    (joined_l = fcntl(joined_fd, F_DUPFD_CLOEXEC, pipe_target + 1)) < 0)
		child_fail(pipefd, SPAWN_STEP_FDS, errno, "joined socket");
	if (ie && (init_l = fcntl(ie->fd, F_DUPFD_CLOEXEC, pipe_target + 1)) < 0)
		child_fail(pipefd, SPAWN_STEP_FDS, errno, "cellmux-init");
	/* dup2 leaves the targets without CLOEXEC: they are the worker's. */
	for (size_t i = 0; i < sp->n_listen; i++)
		if (dup2(lifted[i], SPAWN_LISTEN_FDS_START + (int)i) < 0)
			child_fail(pipefd, SPAWN_STEP_FDS, errno, "listener");
	if (dup2(ctl, ctl_target) < 0)
		child_fail(pipefd, SPAWN_STEP_FDS, errno, "control socket");
	/* Open across cellmux-init's exec, which makes it close-on-exec again before the worker's. */
	if (dup3(pipefd, pipe_target, ie ? 0 : O_CLOEXEC) < 0)
		child_fail(pipefd, SPAWN_STEP_FDS, errno, "pipe");
	pipefd = pipe_target;
	if (ie) {
		/* cellmux-init's layout (init_abi.h). Bottom-up is safe: every source was lifted
		 * above pipe_target in ascending order, so keep[i] >= pipe_target + 1 + i and no
		 * target is a source still to move; joined_l and init_l are above them all. */
		for (int i = 0; i < NKEEP; i++)
			if (dup2(keep[i], ctl_target + SPAWN_INIT_KEEP_OFF + i) < 0)
				child_fail(pipefd, SPAWN_STEP_FDS, errno, "held descriptor");
		if (joined_l >= 0 && dup2(joined_l, ctl_target + SPAWN_INIT_JOINED_OFF) < 0)
			child_fail(pipefd, SPAWN_STEP_FDS, errno, "joined socket");
		unsigned last = (unsigned)ctl_target + (joined_l >= 0 ? SPAWN_INIT_JOINED_OFF
								      : SPAWN_INIT_KEEP_OFF + NKEEP - 1);
		if ((unsigned)init_l > last + 1 && close_range(last + 1, (unsigned)init_l - 1, 0) < 0)
			child_fail(pipefd, SPAWN_STEP_FDS, errno, "close_range");
		if (close_range((unsigned)init_l + 1, ~0U, 0) < 0)
			child_fail(pipefd, SPAWN_STEP_FDS, errno, "close_range");
	} else {
		/* The init lives on without exec: nothing else the daemon holds (database, BPF
		 * maps, sockets) may stay open in it; only the kept ones, closed around (they are
		 * the highest fds here, in ascending order, the lowest free ones above
		 * pipe_target when made). */
		unsigned from = (unsigned)pipe_target + 1;
		for (int i = 0; i < NKEEP; i++) {
			if ((unsigned)keep[i] > from &&
			    close_range(from, (unsigned)keep[i] - 1, 0) < 0)
				for (unsigned fd = from; fd < (unsigned)keep[i]; fd++)
					close((int)fd);
			from = (unsigned)keep[i] + 1;
		}
		if (close_range(from, ~0U, 0) < 0)
			for (unsigned fd = from; fd < 65536; fd++)
				close((int)fd);
	}

	/* Capabilities: empty the bounding and ambient sets; setresuid() to a non-zero uid then
	 * clears the permitted and effective ones. */
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			child_fail(pipefd, SPAWN_STEP_CAPS, errno, NULL);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* Raw system calls: glibc's wrappers would broadcast the change to every thread they
	 * know of (its setxid protocol: signals and futex waits) — the daemon's threads, which
	 * do not exist in this process. The kernel's calls change this process alone. */
	if (syscall(SYS_setgroups, sp->n_groups, sp->groups) < 0)
		child_fail(pipefd, SPAWN_STEP_GROUPS, errno, NULL);
	if (syscall(SYS_setresgid, sp->gid, sp->gid, sp->gid) < 0 ||
	    syscall(SYS_setresuid, sp->uid, sp->uid, sp->uid) < 0)
		child_fail(pipefd, SPAWN_STEP_UID, errno, NULL);
	if (sp->uid == 0 || syscall(SYS_setuid, 0) == 0 || syscall(SYS_setresuid, -1, 0, -1) == 0)
		child_fail(pipefd, SPAWN_STEP_UID, EPERM, "root");
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
		child_fail(pipefd, SPAWN_STEP_NNP, errno, "dumpable");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(pipefd, SPAWN_STEP_NNP, errno, NULL);
	if (sp->seccomp && (r = sandbox_seccomp_apply(sp->seccomp)) < 0)
		child_fail(pipefd, SPAWN_STEP_SECCOMP, -r, NULL);
	if (ie) {
		/* By descriptor: the binary need not be inside the new root. */
		syscall(SYS_execveat, init_l, "", ie->argv, sp->envp, AT_EMPTY_PATH);
		child_fail(pipefd, SPAWN_STEP_INIT, errno, "cellmux-init");
	}

	/* vfork semantics (CLONE_VM | CLONE_VFORK) on a stack of our own: no copy of the
	 * daemon-sized address space for a process that only execs (measured: 1.2 ms a start),
	 * and no glibc fork() with the daemon's atfork handlers. */
	struct exec_args ea = { sp, pipefd, &none };
	worker = clone(exec_worker, worker_stack + sizeof(worker_stack),
		       CLONE_VM | CLONE_VFORK | SIGCHLD, &ea);
	if (worker < 0)
		child_fail(pipefd, SPAWN_STEP_FORK, errno, NULL);
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

/* clone3 with CLONE_VM on a stack of the caller's: the child runs fn(arg) there and exits with
 * what it returns. Assembly because the child must never return through a C frame: its stack
 * is not the one the call was made on (glibc has the same in clone3.S, and does not export it).
 * Returns the pid, or -errno. Elsewhere the init stays a copy of the daemon (clone_sandboxed). */
#if defined(__x86_64__)
#define HAVE_CLONE3_VM 1
/* rdi = args, rsi = size, rdx = fn, rcx = arg; syscall keeps r8/r9, clobbers rcx/r11 */
__asm__(".text\n"
	".type cmx_clone3_vm, @function\n"
	"cmx_clone3_vm:\n"
	"	mov %rdx, %r8\n"
	"	mov %rcx, %r9\n"
	"	mov $435, %eax\n" /* __NR_clone3 */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 1f\n"
	"	ret\n"
	"1:	xor %ebp, %ebp\n" /* the child: rsp is the new stack's top, 16-aligned */
	"	mov %r9, %rdi\n"
	"	call *%r8\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n" /* __NR_exit */
	"	syscall\n"
	"	hlt\n"
	".size cmx_clone3_vm, .-cmx_clone3_vm\n");
#elif defined(__aarch64__)
#define HAVE_CLONE3_VM 1
/* x0 = args, x1 = size, x2 = fn, x3 = arg; svc keeps every register but x0 */
__asm__(".text\n"
	".type cmx_clone3_vm, %function\n"
	"cmx_clone3_vm:\n"
	"	mov x9, x2\n"
	"	mov x10, x3\n"
	"	mov x8, #435\n" /* __NR_clone3 */
	"	svc #0\n"
	"	cbz x0, 1f\n"
	"	ret\n"
	"1:	mov x29, xzr\n"
	"	mov x30, xzr\n"
	"	mov x0, x10\n"
	"	blr x9\n"
	"	mov x8, #93\n" /* __NR_exit */
	"	svc #0\n"
	"	brk #0\n"
	".size cmx_clone3_vm, .-cmx_clone3_vm\n");
#endif

#ifdef HAVE_CLONE3_VM
long cmx_clone3_vm(struct clone_args *args, size_t size, int (*fn)(void *), void *arg)
	__attribute__((visibility("hidden")));

/* The child's stack while it builds the sandbox on the daemon's memory: one spawn at a time
 * (the parent waits, CLONE_VFORK), and fs_apply()'s buffers need a few kB. */
static char vm_stack[256 * 1024] __attribute__((aligned(16)));

struct vm_child_args {
	const struct spawn_params *sp;
	int p[2], joined[2];
	const int *status;
	const struct init_exec *ie;
};

static int vm_child(void *arg)
{
	const struct vm_child_args *a = arg;

	close(a->p[0]);
	if (a->joined[1] >= 0)
		close(a->joined[1]);
	child(a->sp, a->p[1], a->status, NULL, a->joined[0], a->ie);
}

/* Kernels or emulators without clone3's CLONE_VM + CLONE_INTO_CGROUP get the copied init. */
static bool vm_clone_broken;

/* The child runs on this thread's memory, this thread suspended until its exec (CLONE_VFORK):
 * signals blocked around it, as posix_spawn() does, so that no handler of the daemon's runs in
 * the child before it resets them. */
static pid_t clone_via_init(const struct spawn_params *sp, int cgroup_fd, int *pidfd,
			    struct vm_child_args *va)
{
	struct clone_args args = {
		.flags = SANDBOX_NS_FLAGS | CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_INTO_CGROUP,
		.pidfd = (uint64_t)(uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)cgroup_fd,
		.stack = (uint64_t)(uintptr_t)vm_stack,
		.stack_size = sizeof(vm_stack),
	};
	sigset_t all, old;
	long pid;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = cmx_clone3_vm(&args, sizeof(args), vm_child, va);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid == -ENOSYS || pid == -EINVAL || pid == -E2BIG)
		vm_clone_broken = true;
	return (pid_t)pid;
}
#endif

int spawn_init_open(char *path, size_t len)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	/* Beside the daemon (a build tree), or where `make install` puts it for any prefix. */
	static const char *const rel[] = { "/cellmux-init", "/../libexec/cellmux/cellmux-init" };

	if (n <= 0)
		return -ENOENT;
	exe[n] = 0;
	if (!(slash = strrchr(exe, '/')))
		return -ENOENT;
	*slash = 0;
	for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
		int fd;

		if ((size_t)snprintf(path, len, "%s%s", exe, rel[i]) >= len)
			continue;
		fd = open(path, O_PATH | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	snprintf(path, len, "%s/cellmux-init", exe);
	return -ENOENT;
}

static int failure_of(const struct spawn_failure *f, struct spawn_result *ret)
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
	struct spawn_failure f;
	int p[2] = { -1, -1 }, status[2] = { -1, -1 }, joined[2] = { -1, -1 };
	int r, cgroup_fd, pidfd = -1;
	pid_t pid = -1;
	bool in_cgroup = false;
	const char *v1_failed = NULL;
	ssize_t n;

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
		ret->step = step_names[SPAWN_STEP_CGROUP];
		goto fail;
	}
#ifdef HAVE_CLONE3_VM
	if (sp->init_fd >= 0 && !vm_clone_broken) {
		size_t na = 0;
		char nl[12], *fixed[] = { "cellmux-init", nl, joined[0] >= 0 ? "1" : "0", "--" };

		while (sp->argv[na])
			na++;
		char **iargv = calloc(ARRAY_SIZE(fixed) + na + 1, sizeof(*iargv));
		if (!iargv) {
			close(cgroup_fd);
			r = -ENOMEM;
			goto fail;
		}
		snprintf(nl, sizeof(nl), "%zu", sp->n_listen);
		memcpy(iargv, fixed, sizeof(fixed));
		memcpy(iargv + ARRAY_SIZE(fixed), sp->argv, na * sizeof(*iargv));
		struct init_exec ie = { sp->init_fd, iargv };
		struct vm_child_args va = { sp, { p[0], p[1] }, { joined[0], joined[1] }, status, &ie };

		pid = clone_via_init(sp, cgroup_fd, &pidfd, &va);
		free(iargv);
		if (pid < 0 && !vm_clone_broken) {
			r = pid;
			close(cgroup_fd);
			ret->step = "clone3";
			goto fail;
		}
		in_cgroup = pid > 0;
	}
#endif
	if (pid < 0)
		pid = clone_sandboxed(cgroup_fd, &pidfd);
	else
		errno = 0;
	/* Linux 5.3-5.6 have clone3 without CLONE_INTO_CGROUP: join by writing cgroup.procs. */
	if (!in_cgroup) {
		in_cgroup = pid >= 0;
		if (pid < 0 && (errno == EINVAL || errno == E2BIG))
			pid = clone_sandboxed(-1, &pidfd);
	}
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
		child(sp, p[1], status, in_cgroup ? NULL : procs, joined[0], NULL);
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
		ret->step = step_names[SPAWN_STEP_CGROUP];
		ret->detail = v1_failed;
	}
	return r;

fail:
	close_pair(p);
	close_pair(status);
	close_pair(joined);
	return r;
}
