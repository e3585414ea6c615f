/* daemon.h — cellmuxd's state: the loaded config, the live uplinks and the sessions placed on
 * them, driven by one GLib main loop. One owner: struct daemon owns everything below it. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "daemon/config.h"

struct uplink;
struct session;

enum dm_uplink_state {
	DM_UPLINK_DOWN,
	DM_UPLINK_UP,
};

struct dm_uplink {
	const struct cfg_uplink *cfg;
	struct uplink *u; /* NULL while down */
	enum dm_uplink_state state;
	unsigned n_sessions; /* sessions placed here, whatever their state */
};

struct daemon {
	struct cmx_config *cfg;
	GMainLoop *loop;
	char cgroup_root[4096];
	struct dm_uplink *uplinks;
	size_t n_uplinks;
	struct session **sessions;
	size_t n_sessions;
	bool stopping;
	bool finished; /* workers gone, uplinks down, loop told to quit */
	int exit_status;
	gint64 started_us;
	guint shutdown_timer;
};

/* Takes ownership of cfg. Brings up uplinks and starts the configured sessions; on failure
 * everything created so far is undone. */
int daemon_new(struct cmx_config *cfg, struct daemon **ret);
/* Stops sessions, then (once their workers are gone) uplinks; quits the loop when done. */
void daemon_shutdown(struct daemon *d, int exit_status);
void daemon_free(struct daemon *d);
/* Sessions call this when their worker is gone for good (stopped, not restarting). */
void daemon_session_stopped(struct daemon *d, struct session *s);
