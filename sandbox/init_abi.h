/* init_abi.h — what sandbox/spawn.c and the session init (sandbox/init.c, cellmux-init) agree
 * on: how a start that failed says so, and what the init finds when it is exec'd.
 *
 * The spawn child (a CLONE_VM child of the daemon, on memory it does not own) builds the sandbox
 * and execs cellmux-init, so that the process that stays for the session's life holds none of
 * the daemon's memory: no copy of its keys, tokens or heap, and no pages the daemon has to copy
 * when it writes them next. cellmux-init is exec'd as
 *   cellmux-init N_LISTEN JOINED -- WORKER_ARGV...      (environment: the worker's)
 * with, open and not close-on-exec:
 *   0-2                     the worker's stdin, stdout, stderr
 *   3 .. 3+N_LISTEN-1       its listeners (sd_listen_fds order)
 *   spawn_control_fd(N)     its control socket
 *   +1                      the failure pipe: struct spawn_failure on failure, EOF once the
 *                           worker has exec'd
 *   +2 .. +5                what the init keeps (spawn.h: hold fds, status pipe read, write)
 *   +6 (JOINED = 1)         the daemon's word that it moved the init into the v1 cgroups: one
 *                           byte, or EOF if it could not; nothing forks before it
 * It is PID 1 of the session's PID namespace, already in its mount, network and cgroup
 * namespaces, under the session's uid with no capabilities, no_new_privs and the seccomp filter,
 * every signal blocked. */
#pragma once

enum spawn_step {
	SPAWN_STEP_SIGNALS,
	SPAWN_STEP_CGROUP,
	SPAWN_STEP_NETNS,
	SPAWN_STEP_FS,
	SPAWN_STEP_SETSID,
	SPAWN_STEP_FDS,
	SPAWN_STEP_CAPS,
	SPAWN_STEP_GROUPS,
	SPAWN_STEP_UID,
	SPAWN_STEP_NNP,
	SPAWN_STEP_SECCOMP,
	SPAWN_STEP_INIT,
	SPAWN_STEP_FORK,
	SPAWN_STEP_EXEC,
	SPAWN_STEP_N,
};

struct spawn_failure {
	int step; /* enum spawn_step */
	int err;  /* positive errno */
	/* A string of the daemon's (plan path or literal), meaningful only from a child that still
	 * runs on the daemon's memory; cellmux-init sends NULL. */
	const char *what;
};

/* Offsets from spawn_control_fd(N_LISTEN), as above. */
#define SPAWN_INIT_PIPE_OFF 1
#define SPAWN_INIT_KEEP_OFF 2
#define SPAWN_INIT_KEEP_N 4
#define SPAWN_INIT_JOINED_OFF 6
