/* router.h — which uplink a new session gets, and how much of the outbox one session may fill.
 * Pure policy, no kernel: the daemon describes the facts, the router answers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct router_uplink {
	unsigned sessions; /* sessions placed on it now */
	unsigned capacity; /* max sessions */
	bool usable;       /* up and not draining */
};

/* The least-loaded usable uplink with free capacity: fewest sessions relative to capacity,
 * ties to the earlier uplink, so placement is stable for a given config. Returns the index,
 * or -ENOSPC when no uplink has room. */
int router_pick_uplink(const struct router_uplink *u, size_t n);

/* Fair share of the outbox: how many events one session may hold waiting for the backend, so
 * that one chatty session cannot fill the outbox and starve the others. session_max > 0 (the
 * operator's outbox_session_max=) is the answer as given (capped at outbox_max); otherwise an
 * equal share of outbox_max among the n_sessions sessions the daemon runs, but never less than
 * ROUTER_OUTBOX_SHARE_FLOOR (nor more than outbox_max), so a small outbox with many sessions
 * still lets each make progress. */
#define ROUTER_OUTBOX_SHARE_FLOOR 256u
unsigned router_outbox_share(unsigned outbox_max, unsigned n_sessions, unsigned session_max);
