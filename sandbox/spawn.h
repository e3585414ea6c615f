/* spawn.h — starting one session worker in its sandbox: clone3 into its cgroup and new PID,
 * mount, IPC, UTS and cgroup namespaces, join the uplink's network namespace, build a private
 * root (sandbox/fs.h), drop to the session's uid with no capabilities, no_new_privs and the
 * seccomp filter, then exec cellmux-init (sandbox/init.c) as PID 1, which starts the worker and
 * reaps. */
#pragma once

#include <linux/filter.h>
#include <stddef.h>
#include <sys/types.h>

struct fs_plan;

struct spawn_params {
	char *const *argv;    /* argv[0] is an absolute path */
	char *const *envp;    /* the worker's whole environment */
	int nsfd;             /* network namespace to join */
	const char *cgroup;   /* cgroup v2 directory the worker is born in */
	/* cgroup.procs files of cgroup v1 hierarchies to join too (hybrid hosts); NULL-ended */
	const char *const *v1_procs;
	const struct fs_plan *fs; /* the private root; NULL: keep the host's (tests only) */
	/* Sockets handed over with systemd's convention: fds 3.. in this order (LISTEN_FDS and
	 * friends are the caller's to put in envp; LISTEN_PID is SPAWN_WORKER_PID). */
	const int *listen_fds;
	size_t n_listen;      /* at most SPAWN_LISTEN_MAX */
	int control_fd;       /* becomes fd spawn_control_fd(n_listen); -1: none */
	/* The daemon's own ends (its control socket end, the output pipe's read end): the init
	 * keeps a copy at SPAWN_INIT_HOLD_FD.. and never touches them, so they outlive a daemon
	 * crash or re-exec and the next daemon takes them back (sandbox/adopt.h). -1: none. */
	int hold_fds[2];
	int stdout_fd;        /* becomes fd 1 (and 2 unless stderr_fd >= 0); -1: /dev/null */
	int stderr_fd;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;  /* supplementary groups, resolved by the caller (no NSS here) */
	size_t n_groups;
	const struct sock_fprog *seccomp; /* NULL: none */
	/* cellmux-init (spawn_init_open()), the session's init: the child that builds the sandbox
	 * runs on the caller's memory (CLONE_VM) and execs it, so no copy of the caller stays for
	 * the session's life. -1 (or a kernel without clone3's CLONE_VM): the init is a copy of the
	 * caller, as before. */
	int init_fd;
};

#define SPAWN_LISTEN_FDS_START 3 /* sd_listen_fds(3)'s SD_LISTEN_FDS_START */
#define SPAWN_LISTEN_MAX 16
/* The control socket sits right after the listeners, so a socket-activated program that
 * takes LISTEN_FDS fds from 3 never mistakes it for one of its own. */
static inline int spawn_control_fd(size_t n_listen)
{
	return SPAWN_LISTEN_FDS_START + (int)n_listen;
}
/* The worker's pid in its own PID namespace: the init is 1 and forks it first. */
#define SPAWN_WORKER_PID 2
/* The session's init reports a worker killed by signal N as exit status 128 + N, as shells
 * do: PID 1 of a namespace cannot die of a signal it sends itself. */
#define SPAWN_SIGNAL_EXIT_BASE 128

/* What the session's init keeps open (everything else is closed): spawn_params.hold_fds at
 * 3 and 4, the read end of its status pipe at 5 (a copy of spawn_result.status_fd) and the
 * write end at 6. Before it exits the init writes the worker's wait status (an int, as
 * waitpid's, with a signal death as 128 + N) into the pipe: a daemon that adopted the session
 * reads it there, since only the init's parent can wait for it. */
#define SPAWN_INIT_HOLD_FD 3
#define SPAWN_INIT_HOLD_N 2
#define SPAWN_INIT_STATUS_FD 5
#define SPAWN_INIT_STATUS_WFD 6

/* cellmux-init, O_PATH: beside the running program (a build tree), else in
 * ../libexec/cellmux/ from it (where `make install` puts it, for any prefix). The path tried
 * first goes to path either way. -ENOENT when neither is there. */
int spawn_init_open(char *path, size_t len);

struct spawn_result {
	pid_t pid;          /* the session's init (host pid); 0 if none was created */
	int pidfd;          /* a pidfd of it (CLONE_PIDFD), or -1; the caller's to close */
	int status_fd;      /* the status pipe's read end (see above), or -1; the caller's */
	const char *step;   /* the step that failed, or NULL */
	const char *detail; /* what it failed on (a path), or NULL; valid while sp is */
};

/* Returns once the worker has exec'd (or failed to): 0, or the -errno of the step that
 * failed. When ret->pid is set, the child is the caller's to reap either way.
 * The init does not die with the daemon: a session outlives a crash or re-exec, confined as
 * it was, and is adopted by the next daemon (sandbox/adopt.h). */
int spawn_worker(const struct spawn_params *sp, struct spawn_result *ret);
