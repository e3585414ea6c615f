/* init.c — cellmux-init, PID 1 of a session (see init_abi.h for how it is started): starts the
 * worker, then lives on as the namespace's init: signals from the daemon are passed on, orphans
 * are reaped, and the worker's end is the session's end (the kernel then kills whatever else is
 * left in the namespace). A program of its own, linked statically, so that the process each
 * session keeps is a few pages of this and not a copy of the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/init_abi.h"
#include "sandbox/spawn.h"

extern char **environ;

static char *const *worker_argv;
static int pipe_fd;

static _Noreturn void fail(int step, int err)
{
	struct spawn_failure f = { step, err ? err : EIO, NULL };

	(void)!write(pipe_fd, &f, sizeof(f));
	_exit(127);
}

static _Noreturn void init_exit(int status)
{
	(void)!write(SPAWN_INIT_STATUS_WFD, &status, sizeof(status));
	_exit(status);
}

/* The worker's few steps before exec, on this stack while the init waits (CLONE_VFORK). */
static char worker_stack[64 * 1024] __attribute__((aligned(16)));

static int exec_worker(void *arg)
{
	sigset_t none;

	(void)arg;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(worker_argv[0], worker_argv, environ);
	fail(SPAWN_STEP_EXEC, errno);
}

static int number(const char *s, int max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	return errno || end == s || *end || v < 0 || v > max ? -1 : (int)v;
}

int main(int argc, char **argv)
{
	int n_listen, joined, ctl, keep;
	sigset_t all;
	pid_t worker;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	n_listen = argc > 4 ? number(argv[1], SPAWN_LISTEN_MAX) : -1;
	joined = argc > 4 ? number(argv[2], 1) : -1;
	if (n_listen < 0 || joined < 0 || strcmp(argv[3], "--") || argv[4][0] != '/') {
		fprintf(stderr, "cellmux-init: started by cellmuxd only (see sandbox/init_abi.h)\n");
		return 2;
	}
	worker_argv = argv + 4;
	ctl = spawn_control_fd((size_t)n_listen);
	pipe_fd = ctl + SPAWN_INIT_PIPE_OFF;
	keep = ctl + SPAWN_INIT_KEEP_OFF;
	/* The exec made this process dumpable again: the worker (same uid) must not open the
	 * daemon's ends of the session's channels through /proc/1/fd. Before the worker exists. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(SPAWN_STEP_INIT, errno);
	if (fcntl(pipe_fd, F_SETFD, FD_CLOEXEC) < 0)
		_exit(127);
	for (int i = 0; i < SPAWN_INIT_KEEP_N; i++)
		if (fcntl(keep + i, F_SETFD, FD_CLOEXEC) < 0)
			fail(SPAWN_STEP_INIT, errno);
	/* The daemon moves us into the v1 hierarchies meanwhile; nothing forks before it says it
	 * has. EOF: it could not, and reports why. */
	if (joined) {
		char ok;
		int fd = ctl + SPAWN_INIT_JOINED_OFF;

		if (read(fd, &ok, 1) != 1)
			_exit(127);
		close(fd);
	}
	worker = clone(exec_worker, worker_stack + sizeof(worker_stack),
		       CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	if (worker < 0)
		fail(SPAWN_STEP_FORK, errno);
	/* The worker's copy of the pipe closed at its exec and told the daemon. */
	close(pipe_fd);
	for (int fd = 0; fd <= ctl; fd++)
		close(fd);
	/* What the init keeps, at 3..6 (spawn.h). keep >= 4 > 3, so no dup2 overwrites one that
	 * has yet to move. */
	for (int i = 0; i < SPAWN_INIT_KEEP_N; i++)
		if (keep + i != SPAWN_INIT_HOLD_FD + i) {
			dup2(keep + i, SPAWN_INIT_HOLD_FD + i);
			close(keep + i);
		}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);

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
