/* daemon.h — cellmuxd's state: the loaded config, the live uplinks and the sessions placed on
 * them, driven by one GLib main loop. One owner: struct daemon owns everything below it. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "router/recovery.h"
#include <linux/filter.h>
#include "sandbox/cgroup.h"
#include "sandbox/identity.h"

struct uplink;
struct session;
struct metrics;
struct relay;
struct esource;
struct store;
struct state_blobs;
struct session_ops;
struct hotplug;
struct hotplug_watch;

struct dm_uplink {
	const struct cfg_uplink *cfg; /* into daemon->cfg; re-pointed on reload */
	struct uplink *u;             /* NULL while down */
	bool draining;                /* takes no new sessions; running ones stay */
	unsigned n_sessions;          /* sessions placed here, whatever their state */
	unsigned reconnects;
	struct health *health;        /* its active checks; NULL without health_check= or down */
	struct recovery recovery;     /* its recovery ladder (router/recovery.h) */
	guint recovery_timer;         /* asks the ladder again when its next step is due */
	struct daemon *d;
	/* match=: the interface hot-plug found ("" while none matches), and the watch on it */
	char found_ifname[16];
	char found_device[64]; /* qmi: its control port, /dev/cdc-wdmN */
	/* qmi: why the last search found no port, when a modem could not be asked ("no answer
	 * from /dev/cdc-wdm0 within 2 s"): its last error while down; "" when none */
	char find_error[200];
	long long find_error_unix_ms;
	struct hotplug_watch *hp;
	bool held_down; /* taken down by the admin: hot-plug does not bring it back */
};

struct daemon {
	struct cmx_config *cfg;
	GMainLoop *loop;
	char cgroup_root[4096];
	/* The sandbox every session shares (see session_sandbox_open()). */
	struct cgroup_layout cg_layout;
	struct sock_fprog seccomp;
	/* Every session's descriptors (control socket, output pipe) behind one GSource. */
	struct esource *esrc;
	char *state_root;   /* state_dir/sessions: one directory per session, kept */
	struct identity_owners state_owners; /* uids owning one there (sandbox/identity.h) */
	int init_fd; /* cellmux-init (sandbox/spawn.h), or -1 */
	char *runtime_root; /* next to the admin socket: sessions/NAME, removed at stop */
	struct dm_uplink **uplinks;
	size_t n_uplinks;
	struct session **sessions;
	size_t n_sessions;
	/* Name -> session of the same array (keys are the sessions' own names, which are unique):
	 * the relay resolves each commit's acks and each delivery by name, and a walk of the array
	 * made that O(sessions) per message. */
	GHashTable *session_names;
	bool stopping;
	bool finished; /* workers gone, uplinks down, loop told to quit */
	int exit_status;
	gint64 started_us;   /* monotonic */
	gint64 started_unix; /* wall clock, seconds */
	guint shutdown_timer;
	unsigned auto_name_seq; /* for sessions started without a name */
	struct metrics *metrics;
	struct acct *acct; /* NULL: this machine cannot count (see accounting.h) */
	struct acct_snapshot *acct_snap; /* between dm_acct_snapshot_begin() and _end() */
	GThread *acct_loader; /* loading the programs while the uplinks come up; then NULL */
	int acct_err;         /* the load's outcome for dm_acct_wait() */
	guint acct_watch, quota_timer;
	struct relay *relay; /* the backend link and its store; NULL without [backend] */
	struct store *store; /* without [backend]: the store of removed sessions' final counts */
	struct dm_counters *counters; /* counters carried over a reboot (counters.h) */
	struct state_blobs *blobs; /* workers' state blobs, in whichever store is open */
	guint replan_timer;  /* asks the router again: hold-downs end, move_back, quotas */
	bool replanning, replan_again;
	uint64_t session_moves; /* every move the router ordered, since start */
	/* Sessions a killed daemon left running, found at start (session_orphans_scan()); the
	 * sessions of the same name adopt them, the rest are reaped once start-up is done. */
	struct session_orphan *orphans;
	size_t n_orphans;
	unsigned adopted; /* how many sessions this daemon took over at start */
	struct hotplug *hotplug; /* finds match= uplinks' devices (hotplug.h) */
	bool reexec;      /* the loop quit for an exec of the binary on disk, not a stop */
	const struct session_ops *session_ops; /* what sessions call back into (session.h) */
};

enum uplink_action {
	UPLINK_ACTION_UP,
	UPLINK_ACTION_DOWN,
	UPLINK_ACTION_RECONNECT,
	UPLINK_ACTION_DRAIN,
};

/* Takes ownership of cfg. Brings up uplinks and starts the configured sessions; on failure
 * everything created so far is undone. */
int daemon_new(struct cmx_config *cfg, struct daemon **ret);
/* Stops sessions, then (once their workers are gone) uplinks; quits the loop when done. */
void daemon_shutdown(struct daemon *d, int exit_status);
void daemon_free(struct daemon *d);
/* Asks for a re-exec (`cellmuxctl daemon reexec`, SIGUSR2): the store is flushed and the loop
 * quits with d->reexec set, leaving sessions, uplinks and pinned counters as they are; main()
 * then execs the binary, and the new process adopts them as after a crash. -ESHUTDOWN while
 * stopping. */
int daemon_reexec(struct daemon *d);
/* What a re-exec leaves for the next process to adopt: descriptors close, nothing else
 * is undone. */
void daemon_forget(struct daemon *d);
/* Asks the router what to do with every session now and does it: moves off failed or down
 * uplinks, waits, resumes, move_back. Safe to call from anywhere, re-entry is folded. */
void daemon_replan(struct daemon *d);

/* Operations of the admin socket (and SIGHUP). All return 0 or -errno; err gets a message
 * for the operator where one helps. */
struct dm_uplink *daemon_find_uplink(struct daemon *d, const char *name);
struct session *daemon_find_session(struct daemon *d, const char *name);
/* Starts a session from a profile; uplink NULL: the router places it. */
int daemon_session_start(struct daemon *d, const char *profile, const char *uplink,
			 const char *name, struct session **ret, char *err, size_t errlen);
/* Stops the worker and forgets the session once it is gone. */
int daemon_session_stop(struct daemon *d, const char *name);
int daemon_session_restart(struct daemon *d, const char *name);
/* Hot-plug: du's interface left its namespace. Down like UPLINK_ACTION_DOWN (sessions per
 * on_uplink_down=), but not held: it comes back up when its device is found again. */
void daemon_uplink_unplugged(struct daemon *d, struct dm_uplink *du);
int daemon_uplink_action(struct daemon *d, const char *name, enum uplink_action a, char *err,
			 size_t errlen);
/* Re-reads the config: added uplinks/profiles/sessions start, removed ones stop, changed ones
 * restart; a broken file changes nothing (-EINVAL, message in err). */
int daemon_reload(struct daemon *d, char *err, size_t errlen);
const char *dm_uplink_state(const struct dm_uplink *du);
