/* session.h — one session: a worker process started from a profile inside its uplink's
 * namespace and cgroup, supervised (restart policy, exponential backoff), talking to the
 * daemon on its control socket. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "proto/worker_status.h"
#include "proto/worker_msg.h"
#include "sandbox/cgroup.h"
#include "sandbox/identity.h"

struct daemon;
struct dm_uplink;
struct output;
struct esource_watch;

enum session_state {
	SESSION_STOPPED,
	SESSION_RUNNING,
	SESSION_BACKOFF,
	SESSION_STOPPING,
};

/* The last Status a worker sent, kept (not interpreted) for status output. */
struct session_status {
	struct worker_status w;
	int64_t at_us; /* g_get_real_time() when received */
};

struct session {
	struct daemon *d;
	char name[CONFIG_NAME_MAX + 1];
	const struct cfg_profile *profile;
	struct dm_uplink *uplink;
	enum session_state state;
	pid_t pid;
	uint64_t incarnation; /* of the worker process (session_ops.spawning), 0: no store */
	unsigned restarts; /* starts after the first */
	unsigned failures; /* consecutive, drives the backoff */
	unsigned protocol_errors;
	int ctl_fd;
	int pidfd;     /* of the init; its exit makes it readable */
	int status_fd; /* the init's status pipe (sandbox/spawn.h), for an adopted one */
	guint timer;
	struct esource_watch *pid_watch;
	bool adopted;      /* the worker was a killed daemon's, taken over at start */
	bool adopt_checked; /* the orphans were looked at for this session (first start) */
	struct esource_watch *ctl_watch, *out_watch; /* in the daemon's esource */
	gint64 started_us;
	char cgroup[4096];
	struct cgroup_session cg; /* its v1 directories on hybrid hosts, limits written */
	bool cg_ready;
	uint64_t oom_kills;       /* seen so far, from the cgroup's own count */
	struct identity id;       /* resolved at each start: a reload may change user= */
	char *state_dir;          /* state_dir/sessions/NAME, kept across restarts */
	char *runtime_dir;        /* removed when the worker is gone */
	int out_fd;               /* the worker's stdout and stderr, one pipe */
	guint out_timer;
	struct output *out;
	bool have_status;
	struct session_status status;
	bool from_config;         /* a [session] of the file, not started over the admin socket */
	bool remove_when_stopped; /* `session stop`: forget it once the worker is gone */
	bool restart_when_stopped;
	bool parked;              /* waiting for its uplink to come (back) up */
	/* Added by a reload where none of its uplinks would take it (quota, capacity): it waits
	 * for the router to place it, and .uplink is only its first choice until then. */
	bool unplaced;
	/* listen=: bound at the first start, kept across restarts, closed by session_free(). */
	bool listen_ready;
	struct cfg_listens listen;
	int listen_fds[CONFIG_LISTEN_MAX];
	/* Called once when the session is forgotten (an admin `session stop` waits on it). */
	void (*on_gone)(void *arg);
	void *on_gone_arg;
	/* Failover (daemon_replan): where it goes once its worker is gone, where it was first
	 * placed (move_back), when it last moved (monotonic us, 0 never), why it waits. */
	struct dm_uplink *move_to, *home;
	gint64 last_move_us;
	unsigned moves;
	bool pinned; /* started over the admin socket with an explicit uplink */
	int wait_reason; /* enum router_reason; 0 while it runs */
};

/* What a session asks of the daemon: the relay (incarnations, deliveries, events) and what
 * follows a worker's end. The daemon sets d->session_ops before any session exists, so that
 * session.c calls no relay_* or daemon_* function (as uplink_event_fn does for uplinks). */
struct session_ops {
	/* Before a worker process is spawned: sets s->incarnation; -errno fails the start. */
	int (*spawning)(struct session *s);
	/* A worker a killed daemon left is taken over: sets s->incarnation, read back. */
	int (*adopting)(struct session *s);
	/* Welcome went to the worker (it said Hello, or it was just adopted). */
	void (*hello)(struct session *s);
	/* Messages from the worker's control socket. */
	void (*event)(struct session *s, const Cellmux__Worker__Event *ev);
	void (*ack)(struct session *s, const Cellmux__Worker__Ack *ack);
	/* The worker is gone for good (stopped, not restarting). */
	void (*stopped)(struct session *s);
};

/* A session a killed daemon left behind: its cgroup's name and init. */
struct session_orphan {
	char name[CONFIG_NAME_MAX + 1];
	pid_t pid;
	bool claimed;
};

/* At start, before any session exists: the session cgroups a killed daemon left, each with
 * a living init (d->orphans); cgroups without one are emptied and removed. */
int session_orphans_scan(struct daemon *d);
/* After start-up: kills and removes the orphans no session adopted. */
void session_orphans_reap(struct daemon *d);
bool session_orphan_named(const struct daemon *d, const char *name);

/* What every session's sandbox needs, made once per daemon: the cgroup controllers, the
 * seccomp filter, the roots of the state and runtime directories. A limit the host cannot
 * enforce is refused here, with the config line. */
int session_sandbox_open(struct daemon *d);
void session_sandbox_close(struct daemon *d);

int session_new(struct daemon *d, const char *name, const struct cfg_profile *profile,
		struct dm_uplink *uplink, struct session **ret);
/* Starts the worker now, or, the first time, takes over the one a killed daemon left running
 * in the session's cgroup on the same uplink. Errors are logged; a failed start is a failure
 * for the policy. */
int session_start(struct session *s);
/* Asks the worker to stop (Stop message, SIGTERM, then SIGKILL of its cgroup after a grace
 * period); session_ops.stopped follows once it is gone. */
void session_stop(struct session *s);
/* SIGKILL to the session's cgroup now; the usual exit handling follows. */
void session_kill(struct session *s);
void session_free(struct session *s);
const char *session_state_to_string(enum session_state st);

/* The delay before restart number `failures` (1-based): first * 2^(failures-1), capped. */
unsigned session_backoff_ms(unsigned first_ms, unsigned max_ms, unsigned failures);
