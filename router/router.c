/* router.c — placement policy for new sessions and the outbox's fair share (see router.h). Load
 * is compared as the fraction sessions/capacity by cross-multiplication: no floating point. */
#include "router/router.h"

#include <errno.h>

int router_pick_uplink(const struct router_uplink *u, size_t n)
{
	int best = -ENOSPC;

	for (size_t i = 0; i < n; i++) {
		if (!u[i].usable || u[i].sessions >= u[i].capacity)
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		/* u[i].sessions / u[i].capacity < u[best].sessions / u[best].capacity */
		unsigned long long lhs = (unsigned long long)u[i].sessions * u[best].capacity;
		unsigned long long rhs = (unsigned long long)u[best].sessions * u[i].capacity;
		if (lhs < rhs)
			best = (int)i;
	}
	return best;
}

unsigned router_outbox_share(unsigned outbox_max, unsigned n_sessions, unsigned session_max)
{
	unsigned share;

	if (session_max)
		return session_max < outbox_max ? session_max : outbox_max;
	share = n_sessions > 1 ? outbox_max / n_sessions : outbox_max;
	if (share < ROUTER_OUTBOX_SHARE_FLOOR)
		share = ROUTER_OUTBOX_SHARE_FLOOR;
	return share < outbox_max ? share : outbox_max;
}
