/* router.c — placement policy for new sessions (see router.h). Load is compared as the
 * fraction sessions/capacity by cross-multiplication, so no floating point and no rounding. */
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
