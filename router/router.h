/* router.h — which uplink a new session gets. Pure policy, no kernel: the daemon describes
 * its uplinks, the router answers with an index. */
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
