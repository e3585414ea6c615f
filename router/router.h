/* router.h — which uplink each session runs on: placement, re-placement when an uplink fails,
 * moving back after a hold-down, and how much of the outbox one session may fill.
 * Pure policy, no kernel: the daemon describes the facts, the router answers with actions. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct router_uplink {
	unsigned sessions; /* sessions placed on it now */
	unsigned capacity; /* max sessions */
	bool usable;       /* up and not draining */
};

/* The least-loaded usable uplink with free capacity: fewest sessions relative to capacity,
 * ties to the earlier uplink, so placement is stable for a given config. Returns the index,
 * or -ENOSPC when no uplink has room. */
int router_pick_uplink(const struct router_uplink *u, size_t n);

/* ---- placement and re-placement: router_plan() ---- */

enum router_health {
	ROUTER_HEALTHY,
	ROUTER_DEGRADED, /* carries traffic, but an automatic placement prefers a healthy one */
	ROUTER_FAILED,   /* its checks fail: no traffic flows, sessions leave it per policy */
};

/* One uplink as the daemon sees it now. Its load is not an input: the router counts the
 * sessions whose .uplink names it, so the two can never disagree. */
struct router_link {
	unsigned capacity;    /* max sessions placed on it, running or waiting there */
	bool up;              /* the driver has a data path */
	enum router_health health;
	bool draining;        /* no new sessions; the ones there stay */
	bool quota_reached;   /* no new sessions (auto-demote); the ones there stay */
	int priority;         /* automatic placement fills the lowest priority first */
};

enum router_on_down {
	ROUTER_ON_DOWN_MOVE, /* default: see docs/failover.md */
	ROUTER_ON_DOWN_WAIT,
};

#define ROUTER_PREFS_MAX 8
#define ROUTER_NEVER INT64_MIN

struct router_session {
	int uplink;  /* where it is placed now (running, or waiting for it); -1: nowhere yet */
	bool running; /* false: waiting */
	/* uplink= as an ordered list of indexes; n_prefs 0: any uplink. One entry is a pin. */
	int prefs[ROUTER_PREFS_MAX];
	size_t n_prefs;
	/* Where an unlisted session was first placed: move_back returns it there. -1: none. */
	int home;
	enum router_on_down on_down;
	bool move_back;
	int64_t last_move; /* on the caller's clock (any unit, as now); ROUTER_NEVER: never */
	int64_t hold_down; /* its own min time between moves; 0: the plan's */
};

enum router_verb {
	ROUTER_PLACE, /* run .session on .to (a first placement, or back on its waiting uplink) */
	ROUTER_MOVE,  /* stop it on .from, run it on .to */
	ROUTER_WAIT,  /* it must not run now (stop it if it does); .reason says why */
};

enum router_reason {
	ROUTER_REASON_NONE,
	ROUTER_REASON_NO_UPLINK,  /* no uplink is defined */
	ROUTER_REASON_FULL,       /* every uplink it may use is at capacity */
	ROUTER_REASON_PIN_FULL,   /* its only uplink is at capacity */
	ROUTER_REASON_UNAVAILABLE, /* no uplink it may use is up, healthy enough and open */
	ROUTER_REASON_POLICY_WAIT, /* its uplink is down or failed and on_uplink_down=wait */
	ROUTER_REASON_HOLD_DOWN,  /* it moved less than hold_down seconds ago */
	ROUTER_REASON_PIN_QUOTA,  /* its only uplink is open but has reached its quota */
	ROUTER_REASON_QUOTA,      /* every uplink it may use that is open has reached its quota */
};

struct router_action {
	enum router_verb verb;
	size_t session;
	int from, to; /* -1 where it does not apply */
	enum router_reason reason;
	int64_t until; /* ROUTER_REASON_HOLD_DOWN: when it may move again */
};

struct router_plan_params {
	int64_t now;       /* same clock and unit as last_move */
	int64_t hold_down; /* min time between two moves of one session, unless it has its own */
};

/* What to do now, given the uplinks and sessions. Writes at most n_sessions actions (one per
 * session that must change or must wait) to out and returns their count, or -EINVAL. A session
 * running where it may stay gets no action. Rules, in order:
 *  - a session stays where it is while that uplink is up and not failed (drain, quota and
 *    degraded health do not evict);
 *  - a session whose uplink is down or failed waits if on_uplink_down=wait or it is pinned,
 *    else moves to the first uplink of its list (or the least-loaded one) that is up, not
 *    failed, not draining, not quota-reached and below capacity; none: it waits, with why;
 *  - a waiting session resumes on its uplink once that is up and not failed;
 *  - unplaced sessions are placed: listed ones first (pins claim their uplinks before the
 *    others are spread), then the rest, each group in input order;
 *  - a move_back=yes session running off its first choice returns once that is eligible;
 *  - no session moves twice within its hold-down; capacity is never exceeded.
 * Automatic placement: lowest priority first, healthy before degraded, then the smallest
 * sessions/capacity, ties to the earlier uplink. */
int router_plan(const struct router_link *links, size_t n_links, const struct router_session *s,
		size_t n_sessions, const struct router_plan_params *prm, struct router_action *out);

const char *router_reason_str(enum router_reason r);

/* Fair share of the outbox: how many events one session may hold waiting for the backend, so
 * that one chatty session cannot fill the outbox and starve the others. session_max > 0 (the
 * operator's outbox_session_max=) is the answer as given (capped at outbox_max); otherwise an
 * equal share of outbox_max among the n_sessions sessions the daemon runs, but never less than
 * ROUTER_OUTBOX_SHARE_FLOOR (nor more than outbox_max), so a small outbox with many sessions
 * still lets each make progress. */
#define ROUTER_OUTBOX_SHARE_FLOOR 256u
unsigned router_outbox_share(unsigned outbox_max, unsigned n_sessions, unsigned session_max);
