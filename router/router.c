/* router.c — placement and re-placement policy, and the outbox's fair share (see router.h).
 * Load is compared as the fraction sessions/capacity by cross-multiplication: no floating point. */
#include "router/router.h"

#include <errno.h>
#include <stdlib.h>

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

/* a / b < c / d for loads, without division. */
static bool load_less(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return (unsigned long long)a * d < (unsigned long long)c * b;
}

struct plan {
	const struct router_link *l;
	size_t n;
	unsigned *load;
};

static bool alive(const struct plan *p, int i)
{
	return p->l[i].up && p->l[i].health != ROUTER_FAILED;
}

/* May take one more session: what a new placement or a move needs. */
static bool open_to_new(const struct plan *p, int i)
{
	return alive(p, i) && !p->l[i].draining && !p->l[i].quota_reached &&
	       p->load[i] < p->l[i].capacity;
}

/* Would be open if it had room: tells "full" from "unavailable" in a wait's reason. */
static bool open_but_full(const struct plan *p, int i)
{
	return alive(p, i) && !p->l[i].draining && !p->l[i].quota_reached &&
	       p->load[i] >= p->l[i].capacity;
}

/* Would be open but for its quota: names the quota in a wait's reason, so an operator knows
 * that raising it (not fixing a modem) is what brings the session back. */
static bool open_but_quota(const struct plan *p, int i)
{
	return alive(p, i) && !p->l[i].draining && p->l[i].quota_reached;
}

/* Is i a better automatic choice than best? Priority, then health, then load, then order. */
static bool auto_better(const struct plan *p, int i, int best)
{
	const struct router_link *a = &p->l[i], *b = &p->l[best];

	if (a->priority != b->priority)
		return a->priority < b->priority;
	if ((a->health == ROUTER_DEGRADED) != (b->health == ROUTER_DEGRADED))
		return a->health != ROUTER_DEGRADED;
	return load_less(p->load[i], a->capacity, p->load[best], b->capacity);
}

static int pick(const struct plan *p, const struct router_session *s, int exclude)
{
	int best = -1;

	if (s->n_prefs) {
		for (size_t k = 0; k < s->n_prefs; k++)
			if (s->prefs[k] != exclude && open_to_new(p, s->prefs[k]))
				return s->prefs[k];
		return -1;
	}
	for (size_t i = 0; i < p->n; i++) {
		if ((int)i == exclude || !open_to_new(p, (int)i))
			continue;
		if (best < 0 || auto_better(p, (int)i, best))
			best = (int)i;
	}
	return best;
}

static enum router_reason why_not(const struct plan *p, const struct router_session *s,
				  int exclude)
{
	bool full = false, quota = false;

	if (!p->n)
		return ROUTER_REASON_NO_UPLINK;
	if (s->n_prefs) {
		for (size_t k = 0; k < s->n_prefs; k++) {
			full |= s->prefs[k] != exclude && open_but_full(p, s->prefs[k]);
			quota |= s->prefs[k] != exclude && open_but_quota(p, s->prefs[k]);
		}
		if (full)
			return s->n_prefs == 1 ? ROUTER_REASON_PIN_FULL : ROUTER_REASON_FULL;
		if (quota)
			return s->n_prefs == 1 ? ROUTER_REASON_PIN_QUOTA : ROUTER_REASON_QUOTA;
		return ROUTER_REASON_UNAVAILABLE;
	}
	for (size_t i = 0; i < p->n; i++) {
		full |= (int)i != exclude && open_but_full(p, (int)i);
		quota |= (int)i != exclude && open_but_quota(p, (int)i);
	}
	if (full)
		return ROUTER_REASON_FULL;
	return quota ? ROUTER_REASON_QUOTA : ROUTER_REASON_UNAVAILABLE;
}

static bool held(const struct router_session *s, const struct router_plan_params *prm)
{
	int64_t hold = s->hold_down > 0 ? s->hold_down : prm->hold_down;

	return s->last_move != ROUTER_NEVER && prm->now - s->last_move < hold;
}

static bool valid(const struct router_session *s, size_t n_links)
{
	if (s->uplink < -1 || s->uplink >= (int)n_links || s->home < -1 ||
	    s->home >= (int)n_links || s->n_prefs > ROUTER_PREFS_MAX)
		return false;
	for (size_t k = 0; k < s->n_prefs; k++)
		if (s->prefs[k] < 0 || s->prefs[k] >= (int)n_links)
			return false;
	return true;
}

/* Where a move_back session would rather be than where it is, or -1. */
static int better_home(const struct plan *p, const struct router_session *s)
{
	if (s->n_prefs) {
		for (size_t k = 0; k < s->n_prefs && s->prefs[k] != s->uplink; k++)
			if (open_to_new(p, s->prefs[k]))
				return s->prefs[k];
		return -1;
	}
	if (s->home >= 0 && s->home != s->uplink && open_to_new(p, s->home))
		return s->home;
	return -1;
}

int router_plan(const struct router_link *links, size_t n_links, const struct router_session *s,
		size_t n_sessions, const struct router_plan_params *prm, struct router_action *out)
{
	struct plan p = { .l = links, .n = n_links };
	size_t n_out = 0;

	if ((n_links && !links) || (n_sessions && (!s || !out)) || !prm)
		return -EINVAL;
	for (size_t i = 0; i < n_sessions; i++)
		if (!valid(&s[i], n_links))
			return -EINVAL;
	p.load = calloc(n_links ? n_links : 1, sizeof(*p.load));
	if (!p.load)
		return -ENOMEM;
	for (size_t i = 0; i < n_sessions; i++)
		if (s[i].uplink >= 0)
			p.load[s[i].uplink]++;

#define EMIT(...) (out[n_out++] = (struct router_action){ __VA_ARGS__ })
	/* 1. Sessions on an uplink that is down or failed: they leave it or wait. */
	for (size_t i = 0; i < n_sessions; i++) {
		const struct router_session *x = &s[i];
		int to;

		if (x->uplink < 0 || alive(&p, x->uplink))
			continue;
		if (x->on_down == ROUTER_ON_DOWN_WAIT || x->n_prefs == 1) {
			EMIT(.verb = ROUTER_WAIT, .session = i, .from = x->uplink, .to = -1,
			     .reason = x->on_down == ROUTER_ON_DOWN_WAIT ? ROUTER_REASON_POLICY_WAIT
									 : ROUTER_REASON_UNAVAILABLE);
			continue;
		}
		if (held(x, prm)) {
			EMIT(.verb = ROUTER_WAIT, .session = i, .from = x->uplink, .to = -1,
			     .reason = ROUTER_REASON_HOLD_DOWN,
			     .until = x->last_move + (x->hold_down > 0 ? x->hold_down : prm->hold_down));
			continue;
		}
		to = pick(&p, x, x->uplink);
		if (to < 0) {
			EMIT(.verb = ROUTER_WAIT, .session = i, .from = x->uplink, .to = -1,
			     .reason = why_not(&p, x, x->uplink));
			continue;
		}
		p.load[x->uplink]--;
		p.load[to]++;
		EMIT(.verb = ROUTER_MOVE, .session = i, .from = x->uplink, .to = to);
	}
	/* 2. Waiting sessions whose uplink is back: their place is kept, they resume there. */
	for (size_t i = 0; i < n_sessions; i++) {
		const struct router_session *x = &s[i];

		if (x->uplink >= 0 && !x->running && alive(&p, x->uplink))
			EMIT(.verb = ROUTER_PLACE, .session = i, .from = x->uplink, .to = x->uplink);
	}
	/* 3. New sessions: listed ones (pins) claim their uplinks before the rest spread. */
	for (int listed = 1; listed >= 0; listed--)
		for (size_t i = 0; i < n_sessions; i++) {
			const struct router_session *x = &s[i];
			int to;

			if (x->uplink >= 0 || (x->n_prefs > 0) != listed)
				continue;
			to = pick(&p, x, -1);
			if (to < 0) {
				EMIT(.verb = ROUTER_WAIT, .session = i, .from = -1, .to = -1,
				     .reason = why_not(&p, x, -1));
				continue;
			}
			p.load[to]++;
			EMIT(.verb = ROUTER_PLACE, .session = i, .from = -1, .to = to);
		}
	/* 4. move_back: running sessions away from their first choice go back once it is open. */
	for (size_t i = 0; i < n_sessions; i++) {
		const struct router_session *x = &s[i];
		int to;

		if (!x->move_back || !x->running || x->uplink < 0 || !alive(&p, x->uplink) ||
		    held(x, prm))
			continue;
		to = better_home(&p, x);
		if (to < 0)
			continue;
		p.load[x->uplink]--;
		p.load[to]++;
		EMIT(.verb = ROUTER_MOVE, .session = i, .from = x->uplink, .to = to);
	}
#undef EMIT
	free(p.load);
	return (int)n_out;
}

const char *router_reason_str(enum router_reason r)
{
	switch (r) {
	case ROUTER_REASON_NONE:
		return "";
	case ROUTER_REASON_NO_UPLINK:
		return "no uplink is defined";
	case ROUTER_REASON_FULL:
		return "every uplink it may use is at capacity";
	case ROUTER_REASON_PIN_FULL:
		return "its uplink is at capacity";
	case ROUTER_REASON_UNAVAILABLE:
		return "no uplink it may use is available";
	case ROUTER_REASON_POLICY_WAIT:
		return "its uplink is down (on_uplink_down=wait)";
	case ROUTER_REASON_HOLD_DOWN:
		return "moved too recently (move_hold_down)";
	case ROUTER_REASON_PIN_QUOTA:
		return "its uplink has reached its quota";
	case ROUTER_REASON_QUOTA:
		return "every open uplink it may use has reached its quota";
	}
	return "unknown";
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
