/* daemon.c — cellmuxd's life cycle and the operations on it: uplinks up and down, sessions
 * started, stopped and placed, config reload, and the ordered way down (workers first, then
 * uplinks, then the cgroup root), on a signal or a failed start. */
#include "daemon/daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/macro.h"
#include "daemon/accounting.h"
#include "daemon/adhoc.h"
#include "daemon/counters.h"
#include "daemon/health.h"
#include "daemon/hotplug.h"
#include "daemon/status.h"
#include "common/esource.h"
#include "sandbox/cgroup.h"
#include "daemon/metrics.h"
#include "daemon/notify.h"
#include "daemon/preflight.h"
#include "daemon/relay.h"
#include "daemon/session.h"
#include "daemon/state_blobs.h"
#include "netns/uplink.h"
#include "router/router.h"

/* Bound on waiting for workers at shutdown; their cgroups are killed after SESSION_STOP_GRACE. */
#define SHUTDOWN_TIMEOUT_MS 15000

static int errf(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

const char *dm_uplink_state(const struct dm_uplink *du)
{
	if (!du->u)
		return "down";
	if (!uplink_connected(du->u))
		return "connecting";
	return du->draining ? "draining" : "up";
}

static bool dm_uplink_usable(const struct dm_uplink *du)
{
	return du->u && uplink_connected(du->u) && !du->draining;
}

static void uplink_sessions_unpark(struct daemon *d, struct dm_uplink *du);
static void dm_recovery_check(struct dm_uplink *du);

/* A driver lost or regained its data path. Running workers are left alone through a drop
 * (the kill switch keeps their traffic in; a short outage should not cost them their state);
 * sessions that could not start yet are started once it is back. */
static void on_uplink_event(struct uplink *u, enum uplink_event ev, void *userdata)
{
	struct daemon *d = userdata;

	for (size_t i = 0; i < d->n_uplinks; i++) {
		struct dm_uplink *du = d->uplinks[i];

		if (du->u != u)
			continue;
		if (ev == UPLINK_EVENT_CONNECTED) {
			log_info("uplink %s: connected", du->cfg->p.name);
			uplink_sessions_unpark(d, du);
		} else {
			log_warn("uplink %s: disconnected; the driver reconnects", du->cfg->p.name);
			du->reconnects++;
		}
		dm_recovery_check(du); /* no step while disconnected; time to judge after */
		daemon_replan(d);
		return;
	}
}

struct dm_uplink *daemon_find_uplink(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_uplinks; i++)
		if (!strcmp(d->uplinks[i]->cfg->p.name, name))
			return d->uplinks[i];
	return NULL;
}

struct session *daemon_find_session(struct daemon *d, const char *name)
{
	return g_hash_table_lookup(d->session_names, name);
}

static gboolean on_recovery_timer(gpointer data)
{
	struct dm_uplink *du = data;

	du->recovery_timer = 0;
	dm_recovery_check(du);
	return G_SOURCE_REMOVE;
}

/* The recovery ladder: router/recovery.c decides, this carries out the step it names. A step
 * acts on the driver only; sessions stay where the router put them (the failure already moved
 * the movable ones) and the health checks say when the uplink is back. */
static void dm_recovery_check(struct dm_uplink *du)
{
	struct recovery_cfg c = du->cfg->recovery;
	bool failed = du->u && du->health && health_state(du->health) == ROUTER_FAILED;
	bool was_capped = du->recovery.capped;
	int64_t now = g_get_monotonic_time() / 1000, wake;
	enum recovery_step step;
	const char *name = du->cfg->p.name;
	int r = 0;

	c.can_reset = du->u && uplink_can_reset(du->u);
	step = recovery_next(&du->recovery, &c, failed, du->u && uplink_connected(du->u), now,
			     &wake);
	if (step == RECOVERY_RESET) {
		log_warn("uplink %s: recovery step %u: resetting the modem (health failed: %s)",
			 name, du->recovery.rung, health_reason(du->health));
		r = uplink_reset(du->u);
		if (r < 0)
			log_warn_errno(r, "uplink %s: modem reset: %m; reconnecting instead", name);
	}
	if (step == RECOVERY_RECONNECT || (step == RECOVERY_RESET && r < 0)) {
		if (step == RECOVERY_RECONNECT)
			log_warn("uplink %s: recovery step %u: redoing the data session (health "
				 "failed: %s)",
				 name, du->recovery.rung, health_reason(du->health));
		r = uplink_reconnect(du->u);
		if (r == -EOPNOTSUPP)
			log_warn("uplink %s: recovery: a static link has no data session to redo",
				 name);
		else if (r < 0)
			log_warn_errno(r, "uplink %s: recovery: reconnecting: %m", name);
	}
	if (step != RECOVERY_NONE && wake != INT64_MAX)
		log_info("uplink %s: recovery: next step in %llds unless healthy again", name,
			 (long long)((wake - now + 999) / 1000));
	if (du->recovery.capped && !was_capped)
		log_warn("uplink %s: recovery: %u steps in the last hour (recover_max_per_hour=%u); "
			 "the next waits %llds",
			 name, du->recovery.n_recent, c.max_per_hour,
			 (long long)((wake - now + 999) / 1000));
	if (du->recovery_timer)
		g_source_remove(du->recovery_timer);
	du->recovery_timer = 0;
	if (wake != INT64_MAX)
		du->recovery_timer = g_timeout_add((guint)MIN(wake - now, (int64_t)G_MAXINT32),
						   on_recovery_timer, du);
}

static void on_health(void *userdata, enum router_health h, const char *reason)
{
	struct dm_uplink *du = userdata;

	if (h == ROUTER_HEALTHY)
		log_info("uplink %s: health %s (%s)", du->cfg->p.name, health_to_string(h), reason);
	else
		log_warn("uplink %s: health %s: %s", du->cfg->p.name, health_to_string(h), reason);
	dm_recovery_check(du);
	daemon_replan(du->d);
}

static void dm_health_start(struct dm_uplink *du)
{
	char resolv[256];
	int r;

	if (!du->cfg->health.n_checks || du->health || !du->u)
		return;
	snprintf(resolv, sizeof(resolv), "/etc/netns/%s/resolv.conf", uplink_ns_name(du->u));
	r = health_new(&du->cfg->health, uplink_nsfd(du->u), resolv, on_health, du, &du->health);
	if (r < 0)
		log_error_errno(r, "uplink %s: starting health checks: %m", du->cfg->p.name);
}

/* Bringing an uplink up is mostly waiting: moving a link between namespaces and committing an
 * nftables table each wait out a kernel RCU grace period (measured 15-20 ms each here). One
 * thread per uplink lets those waits overlap; every step is per-thread (setns affects only the
 * calling thread, each uplink has its own netlink sockets and nft context), and the caller
 * joins them all before touching anything else. */
static gpointer uplink_up_thread(gpointer data)
{
	struct dm_uplink *du = data;
	struct uplink_params p = du->cfg->p;

	/* match=: the interface is whatever name hot-plug found the device under today. */
	if (du->cfg->match.n) {
		memcpy(p.ifname, du->found_ifname, sizeof(p.ifname));
		if (du->found_device[0])
			memcpy(p.device, du->found_device, sizeof(p.device));
	}
	return GINT_TO_POINTER(uplink_up(&p, &du->u));
}

/* Brings up every listed uplink that is down; returns the first error. */
static int uplinks_up(struct daemon *d, struct dm_uplink **list, size_t n)
{
	GThread **threads = g_new0(GThread *, n ? n : 1);
	int first_err = 0;

	for (size_t i = 0; i < n; i++) {
		struct dm_uplink *du = list[i];
		char m[160];

		if (du->u)
			continue;
		/* Not there (yet): not an error, hot-plug brings it up when it appears. */
		if (du->cfg->match.n && hotplug_resolve(du) < 0) {
			log_info("uplink %s: no device matches %s yet; waiting for it",
				 du->cfg->p.name, ident_match_fmt(&du->cfg->match, m, sizeof(m)));
			continue;
		}
		threads[i] = g_thread_new("uplink-up", uplink_up_thread, du);
	}
	for (size_t i = 0; i < n; i++) {
		struct dm_uplink *du = list[i];
		int r;

		if (!threads[i])
			continue;
		r = GPOINTER_TO_INT(g_thread_join(threads[i]));
		if (r < 0) {
			log_error_errno(r, "uplink %s: bringing up %s: %m", du->cfg->p.name,
					du->cfg->match.n ? du->found_ifname : du->cfg->p.ifname);
			if (!first_err)
				first_err = r;
			continue;
		}
		uplink_set_event_handler(du->u, on_uplink_event, d);
		dm_acct_uplink_attach(d, du);
		du->d = d;
		dm_health_start(du);
		r = hotplug_watch_uplink(d, du);
		if (r < 0)
			log_warn_errno(r, "uplink %s: watching for its modem to leave: %m",
				       du->cfg->p.name);
		log_info("uplink %s: %s in namespace %s via %s", du->cfg->p.name,
			 uplink_connected(du->u) ? "up" : "connecting", uplink_ns_name(du->u),
			 uplink_live(du->u)->ifname);
	}
	g_free(threads);
	return first_err;
}

static void uplink_take_down(struct daemon *d, struct dm_uplink *du)
{
	char ifname[sizeof(((struct uplink_live *)0)->ifname)];

	if (!du->u)
		return;
	/* First: the link leaving on the way down is not an unplug. */
	hotplug_unwatch_uplink(du);
	health_free(du->health);
	du->health = NULL;
	dm_recovery_check(du); /* not failed now: the ladder starts over, its timer goes */
	snprintf(ifname, sizeof(ifname), "%s", uplink_live(du->u)->ifname);
	dm_acct_uplink_detach(d, du);
	uplink_down(du->u);
	du->u = NULL;
	log_info("uplink %s: down, %s returned to the host", du->cfg->p.name, ifname);
}

static struct dm_uplink *dm_uplink_add(struct daemon *d, const struct cfg_uplink *cfg)
{
	struct dm_uplink *du = calloc(1, sizeof(*du));
	struct dm_uplink **n;

	if (!du)
		return NULL;
	n = realloc(d->uplinks, (d->n_uplinks + 1) * sizeof(*n));
	if (!n) {
		free(du);
		return NULL;
	}
	du->cfg = cfg;
	du->d = d;
	d->uplinks = n;
	d->uplinks[d->n_uplinks++] = du;
	return du;
}

static void dm_uplink_remove(struct daemon *d, struct dm_uplink *du)
{
	for (size_t i = 0; i < d->n_uplinks; i++) {
		if (d->uplinks[i] != du)
			continue;
		memmove(&d->uplinks[i], &d->uplinks[i + 1], (d->n_uplinks - i - 1) * sizeof(du));
		d->n_uplinks--;
		break;
	}
	uplink_take_down(d, du);
	free(du);
}

/* ---- the router's view of the daemon (see router_plan()) ---- */

struct dm_plan {
	struct router_link *links;
	struct router_session *rs;
	struct router_action *acts;
	size_t n_sessions; /* rs[] holds these plus one slot for a session about to be placed */
};

static int dm_uplink_index(const struct daemon *d, const struct dm_uplink *du)
{
	for (size_t k = 0; du && k < d->n_uplinks; k++)
		if (d->uplinks[k] == du)
			return (int)k;
	return -1;
}

static void dm_plan_free(struct dm_plan *p)
{
	free(p->links);
	free(p->rs);
	free(p->acts);
}

/* A session's preference list, by index into d->uplinks: its [session]'s uplink=, or the one
 * it was started on over the admin socket; none: any uplink. */
/* ci: the session's index in d->cfg, -1 when it is not from the config (the caller has it). */
static void dm_session_prefs(const struct daemon *d, const struct session *s, int ci,
			     struct router_session *rs)
{
	rs->n_prefs = 0;
	if (ci >= 0) {
		const struct cfg_session *cs = &d->cfg->sessions[ci];

		for (size_t k = 0; k < cs->n_prefs && rs->n_prefs < ROUTER_PREFS_MAX; k++) {
			int ui = dm_uplink_index(d, daemon_find_uplink((struct daemon *)d,
								       cs->prefs[k]));
			if (ui >= 0)
				rs->prefs[rs->n_prefs++] = ui;
		}
		/* Every listed uplink gone by a reload: it stays a pin on where it is. */
		if (cs->n_prefs && !rs->n_prefs)
			rs->prefs[rs->n_prefs++] = dm_uplink_index(d, s->uplink);
	} else if (s->pinned) {
		rs->prefs[rs->n_prefs++] = dm_uplink_index(d, s->uplink);
	}
}

static int dm_plan_build(struct daemon *d, struct dm_plan *p)
{
	size_t nl = d->n_uplinks, ns = d->n_sessions;

	*p = (struct dm_plan){ .n_sessions = ns };
	p->links = calloc(nl + 1, sizeof(*p->links));
	p->rs = calloc(ns + 1, sizeof(*p->rs));
	p->acts = calloc(ns + 1, sizeof(*p->acts));
	if (!p->links || !p->rs || !p->acts) {
		dm_plan_free(p);
		return -ENOMEM;
	}
	for (size_t k = 0; k < nl; k++) {
		struct dm_uplink *du = d->uplinks[k];
		struct acct_counters c;
		struct acct_quota q;

		p->links[k] = (struct router_link){
			.capacity = du->cfg->capacity,
			.up = du->u != NULL,
			.health = health_state(du->health),
			/* A driver that is reconnecting keeps its sessions (the kill switch holds
			 * their traffic in) but takes no new ones; a drop that lasts is caught by
			 * the health checks. */
			.draining = du->draining || !du->u || !uplink_connected(du->u),
			.priority = du->cfg->priority,
		};
		/* The quota alone, not the whole status_uplink(): this runs every second. */
		if (dm_acct_read(d, ACCT_UPLINK, du->cfg->p.name, &c, &q))
			p->links[k].quota_reached = q.over;
	}
	for (size_t i = 0; i < ns; i++) {
		struct session *s = d->sessions[i];
		struct router_session *rs = &p->rs[i];
		int ci = s->from_config ? config_find_session(d->cfg, s->name) : -1;
		struct cfg_failover f =
			config_session_failover(s->profile, ci >= 0 ? &d->cfg->sessions[ci] : NULL);

		/* A session on its way to another uplink counts there already. */
		rs->uplink = s->unplaced ? -1 : dm_uplink_index(d, s->move_to ? s->move_to : s->uplink);
		rs->running = !s->unplaced && (s->move_to || !s->parked);
		rs->home = dm_uplink_index(d, s->home);
		rs->on_down = f.on_down == CFG_ON_DOWN_WAIT ? ROUTER_ON_DOWN_WAIT
							    : ROUTER_ON_DOWN_MOVE;
		rs->move_back = f.move_back == 1;
		rs->hold_down = f.hold_down_ms;
		rs->last_move = s->last_move_us ? s->last_move_us / 1000 : ROUTER_NEVER;
		dm_session_prefs(d, s, ci, rs);
		/* Leaving for good or moving now: no further orders for it. */
		if (s->remove_when_stopped || s->move_to || d->stopping)
			rs->on_down = ROUTER_ON_DOWN_WAIT, rs->move_back = false;
	}
	return 0;
}

static int dm_plan_run(struct daemon *d, struct dm_plan *p, size_t n_sessions)
{
	const struct router_plan_params prm = {
		.now = g_get_monotonic_time() / 1000,
		.hold_down = CONFIG_DEFAULT_HOLD_DOWN_MS,
	};

	return router_plan(p->links, d->n_uplinks, p->rs, n_sessions, &prm, p->acts);
}

/* Where a new session goes: the router's choice given every session placed now, with the
 * uplinks' health, drain, quota and priority; NULL when it fits nowhere. */
static struct dm_uplink *place_listed(struct daemon *d, const struct cfg_session *cs)
{
	struct dm_plan p;
	struct dm_uplink *du = NULL;
	struct router_session *rs;
	int n;

	if (dm_plan_build(d, &p) < 0)
		return NULL;
	rs = &p.rs[p.n_sessions];
	*rs = (struct router_session){ .uplink = -1, .home = -1, .last_move = ROUTER_NEVER };
	/* Its uplink= list, so that the quota, drain and health of each count as they will once
	 * it runs: taking the first name as written would put it on a quota-reached uplink. */
	for (size_t k = 0; cs && k < cs->n_prefs && rs->n_prefs < ROUTER_PREFS_MAX; k++) {
		int ui = dm_uplink_index(d, daemon_find_uplink(d, cs->prefs[k]));

		if (ui >= 0)
			rs->prefs[rs->n_prefs++] = ui;
	}
	n = dm_plan_run(d, &p, p.n_sessions + 1);
	for (int k = 0; k < n; k++)
		if (p.acts[k].session == p.n_sessions && p.acts[k].verb == ROUTER_PLACE)
			du = d->uplinks[p.acts[k].to];
	dm_plan_free(&p);
	return du;
}

static struct dm_uplink *place(struct daemon *d)
{
	return place_listed(d, NULL);
}

/* The worker is gone: the session changes uplink (cgroup and counters stay) and starts. */
static void session_move_now(struct daemon *d, struct session *s)
{
	struct dm_uplink *to = s->move_to;

	s->move_to = NULL;
	s->uplink->n_sessions--;
	s->uplink = to;
	to->n_sessions++;
	s->parked = false;
	s->failures = 0;
	session_start(s);
}

static void replan_once(struct daemon *d)
{
	struct dm_plan p;
	int n;

	if (dm_plan_build(d, &p) < 0)
		return;
	n = dm_plan_run(d, &p, p.n_sessions);
	if (n < 0)
		log_error_errno(n, "router: %m");
	for (int k = 0; k < n; k++) {
		const struct router_action *a = &p.acts[k];
		struct session *s = d->sessions[a->session];

		/* A worker that ended by itself (restart=no) stays ended: a move must not revive it. */
		if (s->remove_when_stopped || s->move_to || (s->state == SESSION_STOPPED && !s->parked))
			continue;
		switch (a->verb) {
		case ROUTER_MOVE:
			log_info("session %s: moving from uplink %s (%s, %s) to %s", s->name,
				 d->uplinks[a->from]->cfg->p.name,
				 dm_uplink_state(d->uplinks[a->from]),
				 health_to_string(p.links[a->from].health),
				 d->uplinks[a->to]->cfg->p.name);
			s->moves++;
			d->session_moves++;
			s->last_move_us = g_get_monotonic_time();
			s->wait_reason = ROUTER_REASON_NONE;
			s->move_to = d->uplinks[a->to];
			if (s->state == SESSION_STOPPED)
				session_move_now(d, s);
			else
				session_stop(s); /* daemon_session_stopped() moves it */
			break;
		case ROUTER_WAIT:
			if (s->wait_reason != (int)a->reason)
				log_info("session %s: waiting: %s", s->name,
					 router_reason_str(a->reason));
			s->wait_reason = (int)a->reason;
			if (!s->parked) {
				s->parked = true;
				session_stop(s);
			}
			break;
		case ROUTER_PLACE:
			if (s->unplaced) {
				struct dm_uplink *to = d->uplinks[a->to];

				log_info("session %s: placed on uplink %s, starting", s->name,
					 to->cfg->p.name);
				s->uplink->n_sessions--;
				s->uplink = to;
				to->n_sessions++;
				s->unplaced = false;
				s->parked = false;
				s->wait_reason = ROUTER_REASON_NONE;
				session_start(s);
				break;
			}
			/* Back on its own uplink; one still connecting starts it on CONNECTED. */
			if (!s->parked || s->state != SESSION_STOPPED || !s->uplink->u ||
			    !uplink_connected(s->uplink->u))
				break;
			log_info("session %s: uplink %s is usable again, starting", s->name,
				 s->uplink->cfg->p.name);
			s->wait_reason = ROUTER_REASON_NONE;
			session_start(s);
			break;
		}
	}
	dm_plan_free(&p);
}

void daemon_replan(struct daemon *d)
{
	if (d->stopping)
		return;
	/* Carrying out a plan stops workers, which may report back at once: fold re-entry into
	 * one more round instead of planning on half-applied state. */
	if (d->replanning) {
		d->replan_again = true;
		return;
	}
	d->replanning = true;
	for (int round = 0; round < 4; round++) {
		d->replan_again = false;
		replan_once(d);
		if (!d->replan_again)
			break;
	}
	d->replanning = false;
}

static gboolean on_replan_timer(gpointer data)
{
	daemon_replan(data);
	return G_SOURCE_CONTINUE;
}

static int session_add_at(struct daemon *d, const char *name, const struct cfg_profile *p,
			  struct dm_uplink *du, bool from_config, bool start, struct session **ret)
{
	struct session **n;
	struct session *s;
	int r;

	n = realloc(d->sessions, (d->n_sessions + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	d->sessions = n;
	r = session_new(d, name, p, du, &s);
	if (r < 0)
		return log_error_errno(r, "session %s: creating cgroup under %s: %m", name,
				       d->cgroup_root);
	s->from_config = from_config;
	s->home = du;
	d->sessions[d->n_sessions++] = s;
	g_hash_table_replace(d->session_names, s->name, s);
	/* Counted from its first packet: attached to the cgroup before the worker exists. */
	dm_acct_session_attach(d, s);
	if (start) {
		session_start(s);
	} else {
		s->parked = true;
		s->unplaced = true;
	}
	if (ret)
		*ret = s;
	return 0;
}

static int session_add(struct daemon *d, const char *name, const struct cfg_profile *p,
		       struct dm_uplink *du, bool from_config, struct session **ret)
{
	return session_add_at(d, name, p, du, from_config, true, ret);
}

/* A configured session the router cannot place now: parked on its first choice, unplaced. */
static int session_add_waiting(struct daemon *d, const char *name, const struct cfg_profile *p,
			       struct dm_uplink *du)
{
	return session_add_at(d, name, p, du, true, false, NULL);
}

static void session_remove(struct daemon *d, struct session *s)
{
	for (size_t i = 0; i < d->n_sessions; i++) {
		if (d->sessions[i] != s)
			continue;
		memmove(&d->sessions[i], &d->sessions[i + 1],
			(d->n_sessions - i - 1) * sizeof(s));
		d->n_sessions--;
		break;
	}
	/* Two sessions share a name while a changed one restarts (the old one stopping): the
	 * name goes on naming whichever is left. */
	if (g_hash_table_lookup(d->session_names, s->name) == s) {
		g_hash_table_remove(d->session_names, s->name);
		for (size_t i = 0; i < d->n_sessions; i++)
			if (!strcmp(d->sessions[i]->name, s->name)) {
				g_hash_table_replace(d->session_names, d->sessions[i]->name,
						     d->sessions[i]);
				break;
			}
	}
	dm_acct_session_detach(d, s);
	/* Removed for good (not a daemon stop, a move or a changed session restarting). */
	if (s->remove_when_stopped)
		state_blobs_forget(d->blobs, s->name);
	/* Stopped for good (session stop, a reload): an admin's does not come back. */
	if (s->remove_when_stopped && !s->from_config)
		dm_adhoc_forget(d, s->name);
	session_free(s);
}

/* The uplink whose namespace the worker a killed daemon left for cs runs in, when cs may use
 * it and it has room: after a failover that is not where the config's placement puts it, and
 * adopting it there keeps it running instead of bouncing it back to a dead carrier. */
static struct dm_uplink *orphan_uplink(struct daemon *d, const struct cfg_session *cs)
{
	char path[64];
	struct stat a, b;

	for (size_t i = 0; i < d->n_orphans; i++) {
		const struct session_orphan *o = &d->orphans[i];

		if (o->claimed || strcmp(o->name, cs->name))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)o->pid);
		if (stat(path, &a) < 0)
			return NULL;
		for (size_t k = 0; k < d->n_uplinks; k++) {
			struct dm_uplink *du = d->uplinks[k];
			bool listed = !cs->n_prefs;

			for (size_t j = 0; j < cs->n_prefs && !listed; j++)
				listed = !strcmp(cs->prefs[j], du->cfg->p.name);
			if (listed && du->u && du->n_sessions < du->cfg->capacity &&
			    fstat(uplink_nsfd(du->u), &b) == 0 && a.st_ino == b.st_ino &&
			    a.st_dev == b.st_dev)
				return du;
		}
		return NULL;
	}
	return NULL;
}

static int sessions_start(struct daemon *d)
{
	const struct cmx_config *c = d->cfg;

	/* Placement was decided when the config was validated (router_pick_uplink), unless a
	 * worker that outlived the last daemon says where it runs now. */
	for (size_t i = 0; i < c->n_sessions; i++) {
		const struct cfg_session *cs = &c->sessions[i];
		struct dm_uplink *home = d->uplinks[cs->uplink_idx], *at = orphan_uplink(d, cs);
		struct session *s = NULL;
		int r = session_add(d, cs->name, &c->profiles[cs->profile_idx], at ? at : home,
				    true, &s);
		if (r < 0)
			return r;
		/* move_back= still means the config's uplink. */
		s->home = home;
	}
	return 0;
}

static bool sessions_all_stopped(const struct daemon *d)
{
	for (size_t i = 0; i < d->n_sessions; i++)
		if (d->sessions[i]->state != SESSION_STOPPED)
			return false;
	return true;
}

static void teardown(struct daemon *d)
{
	/* While the store is open (the relay's goes first): a clean stop loses no count. */
	dm_counters_save(d);
	if (d->replan_timer)
		g_source_remove(d->replan_timer);
	d->replan_timer = 0;
	state_blobs_free(d->blobs); /* its answers leave while the sessions are there */
	d->blobs = NULL;
	relay_free(d->relay); /* commits what is pending before sessions go */
	d->relay = NULL;
	metrics_free(d->metrics);
	d->metrics = NULL;
	while (d->n_sessions)
		session_remove(d, d->sessions[d->n_sessions - 1]);
	hotplug_free(d->hotplug); /* no uplink comes up while they go down */
	d->hotplug = NULL;
	while (d->n_uplinks)
		dm_uplink_remove(d, d->uplinks[d->n_uplinks - 1]);
	dm_acct_close(d);
	session_sandbox_close(d);
	esource_free(d->esrc);
	d->esrc = NULL;
	store_free(d->store);
	d->store = NULL;
	if (d->cgroup_root[0] && cgroup_remove(d->cgroup_root) < 0)
		log_warn("removing cgroup %s: %m", d->cgroup_root);
	d->cgroup_root[0] = 0;
}

void daemon_forget(struct daemon *d)
{
	struct store *st = d->relay ? relay_store(d->relay) : d->store;
	int r;

	/* Everything else a new process finds as it is (pins, namespaces, sessions' inits); what
	 * the store batches in memory must be on disk first. */
	if (st && (r = store_flush(st)) < 0)
		log_warn_errno(r, "re-exec: flushing the store: %m");
}

static gboolean quit_for_reexec(gpointer data)
{
	struct daemon *d = data;

	daemon_forget(d);
	g_main_loop_quit(d->loop);
	return G_SOURCE_REMOVE;
}

int daemon_reexec(struct daemon *d)
{
	if (d->stopping)
		return -ESHUTDOWN;
	if (d->reexec)
		return 0;
	log_info("re-exec requested: sessions, uplinks and counters stay as they are");
	d->reexec = true;
	/* From the loop, once the admin reply (if any) is out. */
	g_idle_add(quit_for_reexec, d);
	return 0;
}

static void finish(struct daemon *d)
{
	if (d->finished)
		return;
	d->finished = true;
	if (d->shutdown_timer)
		g_source_remove(d->shutdown_timer);
	d->shutdown_timer = 0;
	teardown(d);
	log_info("stopped");
	g_main_loop_quit(d->loop);
}

/* The worker of s is gone for good (stopped, not restarting): session_ops.stopped. */
static void daemon_session_stopped(struct daemon *d, struct session *s)
{
	if (d->stopping) {
		if (sessions_all_stopped(d))
			finish(d);
		return;
	}
	if (s->remove_when_stopped) {
		log_info("session %s: removed", s->name);
		session_remove(d, s);
	} else if (s->restart_when_stopped) {
		s->restart_when_stopped = false;
		s->restarts++;
		session_start(s);
	} else if (s->move_to) {
		session_move_now(d, s);
	} else if (s->parked && s->uplink->u && uplink_connected(s->uplink->u)) {
		/* Parked by a reconnect whose uplink came back before the old worker was gone, or
		 * waiting on a failed uplink: the router tells the two apart. */
		daemon_replan(d);
	}
}

/* What sessions ask of the daemon (session.h): the relay's part (NULL r: no [backend]) and
 * what follows a worker's end. */
static int sess_spawning(struct session *s)
{
	return relay_session_spawning(s->d->relay, s);
}

static int sess_adopting(struct session *s)
{
	return relay_session_adopting(s->d->relay, s);
}

static void sess_hello(struct session *s)
{
	relay_worker_hello(s->d->relay, s);
}

static void sess_event(struct session *s, const Cellmux__Worker__Event *ev)
{
	relay_worker_event(s->d->relay, s, ev);
}

static void sess_ack(struct session *s, const Cellmux__Worker__Ack *ack)
{
	relay_worker_ack(s->d->relay, s, ack);
}

static void sess_stopped(struct session *s)
{
	daemon_session_stopped(s->d, s);
}

static const struct session_ops dm_session_ops = {
	.spawning = sess_spawning,
	.adopting = sess_adopting,
	.hello = sess_hello,
	.event = sess_event,
	.ack = sess_ack,
	.stopped = sess_stopped,
};

static gboolean shutdown_timeout(gpointer data)
{
	struct daemon *d = data;

	d->shutdown_timer = 0;
	log_warn("workers still running after %d ms; killing them", SHUTDOWN_TIMEOUT_MS);
	finish(d);
	return G_SOURCE_REMOVE;
}

void daemon_shutdown(struct daemon *d, int exit_status)
{
	if (d->stopping)
		return;
	d->stopping = true;
	d->exit_status = exit_status;
	notify_send("STOPPING=1");
	log_info("stopping %zu sessions", d->n_sessions);
	for (size_t i = 0; i < d->n_sessions; i++)
		session_stop(d->sessions[i]);
	if (sessions_all_stopped(d)) {
		finish(d);
		return;
	}
	d->shutdown_timer = g_timeout_add(SHUTDOWN_TIMEOUT_MS, shutdown_timeout, d);
}

int daemon_session_start(struct daemon *d, const char *profile, const char *uplink,
			 const char *name, struct session **ret, char *err, size_t errlen)
{
	char auto_name[CONFIG_NAME_MAX + 1];
	struct dm_uplink *du;
	int pi;

	if (d->stopping)
		return errf(err, errlen, -ESHUTDOWN, "the daemon is stopping");
	pi = config_find_profile(d->cfg, profile);
	if (pi < 0)
		return errf(err, errlen, -ENOENT, "no profile '%s'", profile);
	if (name) {
		if (!config_name_valid(name))
			return errf(err, errlen, -EINVAL, "invalid session name '%s'", name);
		if (daemon_find_session(d, name))
			return errf(err, errlen, -EEXIST, "session '%s' exists", name);
	} else {
		/* "<profile>-<n>", skipping names in use; bounded by the session count. */
		do
			snprintf(auto_name, sizeof(auto_name), "%.*s-%u", CONFIG_NAME_MAX - 11,
				 profile, ++d->auto_name_seq);
		while (daemon_find_session(d, auto_name));
		name = auto_name;
	}
	if (uplink) {
		du = daemon_find_uplink(d, uplink);
		if (!du)
			return errf(err, errlen, -ENOENT, "no uplink '%s'", uplink);
		if (!dm_uplink_usable(du))
			return errf(err, errlen, -ENETDOWN, "uplink '%s' is %s", uplink,
				    dm_uplink_state(du));
		if (du->n_sessions >= du->cfg->capacity)
			return errf(err, errlen, -ENOSPC, "uplink '%s' is at capacity %u", uplink,
				    du->cfg->capacity);
	} else {
		du = place(d);
		if (!du)
			return errf(err, errlen, -ENOSPC, "no uplink has free capacity");
	}
	struct session *s;
	int r = session_add(d, name, &d->cfg->profiles[pi], du, false, &s);

	if (r < 0)
		return r;
	s->pinned = uplink != NULL;
	if (ret)
		*ret = s;
	return 0;
}

int daemon_session_stop(struct daemon *d, const char *name)
{
	struct session *s = daemon_find_session(d, name);

	if (!s)
		return -ENOENT;
	s->remove_when_stopped = true;
	s->restart_when_stopped = false;
	if (s->state == SESSION_STOPPED) {
		daemon_session_stopped(d, s);
		return 0;
	}
	session_stop(s);
	return 0;
}

int daemon_session_restart(struct daemon *d, const char *name)
{
	struct session *s = daemon_find_session(d, name);

	if (!s)
		return -ENOENT;
	s->remove_when_stopped = false;
	s->failures = 0;
	if (s->state == SESSION_STOPPED || s->state == SESSION_BACKOFF) {
		s->restarts++;
		session_start(s);
		return 0;
	}
	s->restart_when_stopped = true;
	session_stop(s);
	return 0;
}

/* Sessions of an uplink that goes down wait for it ("parked") instead of failing in a loop. */
static void uplink_sessions_park(struct daemon *d, struct dm_uplink *du)
{
	for (size_t i = 0; i < d->n_sessions; i++) {
		struct session *s = d->sessions[i];

		if (s->uplink != du)
			continue;
		/* Parked after the stop: a session stopped at once (in backoff) must not be
		 * restarted by daemon_session_stopped() on the uplink that is going away. */
		session_stop(s);
		s->parked = true;
		/* The namespace goes away next: no grace period for what lives inside it. */
		session_kill(s);
	}
}

static void uplink_sessions_unpark(struct daemon *d, struct dm_uplink *du)
{
	for (size_t i = 0; i < d->n_sessions; i++) {
		struct session *s = d->sessions[i];

		if (s->uplink == du && s->parked && !s->unplaced && s->state == SESSION_STOPPED &&
		    uplink_connected(du->u) && health_state(du->health) != ROUTER_FAILED)
			session_start(s);
	}
}

int daemon_uplink_action(struct daemon *d, const char *name, enum uplink_action a, char *err,
			 size_t errlen)
{
	struct dm_uplink *du = daemon_find_uplink(d, name);
	int r;

	if (!du)
		return errf(err, errlen, -ENOENT, "no uplink '%s'", name);
	switch (a) {
	case UPLINK_ACTION_DRAIN:
		if (!du->u)
			return errf(err, errlen, -ENETDOWN, "uplink '%s' is down", name);
		du->draining = true;
		log_info("uplink %s: draining, takes no new sessions", name);
		return 0;
	case UPLINK_ACTION_DOWN:
		du->draining = false;
		du->held_down = true;
		uplink_sessions_park(d, du);
		uplink_take_down(d, du);
		daemon_replan(d); /* its sessions move or wait, per their on_uplink_down= */
		return 0;
	case UPLINK_ACTION_RECONNECT:
		if (!du->u)
			return errf(err, errlen, -ENETDOWN, "uplink '%s' is down; use up", name);
		/* Drivers that can redo their data session do so in place (the DISCONNECTED
		 * event counts it); a static link is taken down and up again. */
		r = uplink_reconnect(du->u);
		if (r != -EOPNOTSUPP)
			return r < 0 ? errf(err, errlen, r, "reconnecting '%s': %s", name,
					    strerror(-r))
				     : 0;
		uplink_sessions_park(d, du);
		uplink_take_down(d, du);
		du->reconnects++;
		/* fall through */
	case UPLINK_ACTION_UP:
		du->draining = false;
		du->held_down = false;
		if (!du->u && du->cfg->match.n && hotplug_resolve(du) < 0)
			return errf(err, errlen, -ENODEV, "no device matches uplink '%s' now; it "
							  "comes up when one appears", name);
		if (!du->u) {
			r = uplinks_up(d, &du, 1);
			if (r < 0)
				return errf(err, errlen, r, "bringing up '%s' failed: %s", name,
					    strerror(-r));
		}
		uplink_sessions_unpark(d, du);
		daemon_replan(d);
		return 0;
	}
	return -EINVAL;
}

void daemon_uplink_unplugged(struct daemon *d, struct dm_uplink *du)
{
	du->draining = false;
	uplink_sessions_park(d, du);
	uplink_take_down(d, du);
	du->found_ifname[0] = '\0';
	du->found_device[0] = '\0';
	daemon_replan(d);
}

static bool strv_equal(char *const *a, char *const *b)
{
	size_t i;

	if (!a || !b)
		return a == b;
	for (i = 0; a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return !a[i] && !b[i];
}

static bool profile_equal(const struct cfg_profile *a, const struct cfg_profile *b)
{
	if (strcmp(a->user, b->user) || a->restart != b->restart ||
	    a->restart_sec_ms != b->restart_sec_ms || a->restart_max_ms != b->restart_max_ms ||
	    a->limits.memory_max != b->limits.memory_max || a->limits.pids_max != b->limits.pids_max ||
	    a->limits.cpu_weight != b->limits.cpu_weight || a->log_burst != b->log_burst ||
	    a->log_interval_ms != b->log_interval_ms)
		return false;
	return strv_equal(a->argv, b->argv) && strv_equal(a->bind_ro, b->bind_ro) &&
	       strv_equal(a->bind_rw, b->bind_rw) && config_listen_equal(&a->listen, &b->listen);
}

static bool uplink_params_equal(const struct uplink_params *a, const struct uplink_params *b)
{
	/* Config parsing zero-fills the structs, so padding and unused slots compare equal. */
	return !memcmp(a, b, sizeof(*a));
}

int daemon_reload(struct daemon *d, char *err, size_t errlen)
{
	struct cmx_config *old = d->cfg, *nc = NULL;
	int r;

	if (d->stopping)
		return errf(err, errlen, -ESHUTDOWN, "the daemon is stopping");
	r = config_load(old->path, &nc, err, errlen);
	if (r < 0)
		return r;
	r = preflight_check(nc, err, errlen);
	if (r < 0) {
		config_free(nc);
		return r;
	}

	/* 1. Sessions whose definition went away or changed stop first, freeing their slots. */
	for (size_t i = d->n_sessions; i-- > 0;) {
		struct session *s = d->sessions[i];
		int pi = config_find_profile(nc, s->profile->name);
		bool keep = pi >= 0 && profile_equal(s->profile, &nc->profiles[pi]);

		if (keep && s->from_config) {
			int si = config_find_session(nc, s->name);
			keep = si >= 0 && !strcmp(nc->sessions[si].profile, s->profile->name) &&
			       (!s->listen_ready ||
				config_listen_equal(&s->listen,
						    config_session_listens(&nc->profiles[pi],
									   &nc->sessions[si]))) &&
			       (!nc->sessions[si].uplink[0] ||
				!strcmp(nc->sessions[si].uplink, s->uplink->cfg->p.name));
		}
		int ui = config_find_uplink(nc, s->uplink->cfg->p.name);
		if (ui < 0 || !uplink_params_equal(&nc->uplinks[ui].p, &s->uplink->cfg->p))
			keep = false;
		if (keep) {
			s->profile = &nc->profiles[pi];
			continue;
		}
		log_info("reload: session %s changed or removed, stopping it", s->name);
		/* Only a configured session still in the file comes back (step 4, same name, same
		 * counters); the others are gone for good and their final counts go to the store. */
		s->remove_when_stopped = !s->from_config || config_find_session(nc, s->name) < 0;
		session_remove(d, s); /* kills its cgroup: a changed session restarts below */
	}
	/* 2. Uplinks: removed or changed ones go down; the rest point into the new config. */
	for (size_t i = d->n_uplinks; i-- > 0;) {
		struct dm_uplink *du = d->uplinks[i];
		int ui = config_find_uplink(nc, du->cfg->p.name);

		if (ui >= 0 && uplink_params_equal(&nc->uplinks[ui].p, &du->cfg->p) &&
		    !memcmp(&nc->uplinks[ui].match, &du->cfg->match, sizeof(du->cfg->match))) {
			/* The checker points into the old config: it starts again on the new. */
			health_free(du->health);
			du->health = NULL;
			du->cfg = &nc->uplinks[ui];
			dm_health_start(du);
			continue;
		}
		log_info("reload: uplink %s changed or removed, taking it down",
			 du->cfg->p.name);
		dm_uplink_remove(d, du);
	}
	/* 3. New (or changed) uplinks come up. */
	struct dm_uplink **fresh = calloc(nc->n_uplinks ? nc->n_uplinks : 1, sizeof(*fresh));
	size_t n_fresh = 0;
	for (size_t i = 0; fresh && i < nc->n_uplinks; i++) {
		if (daemon_find_uplink(d, nc->uplinks[i].p.name))
			continue;
		struct dm_uplink *du = dm_uplink_add(d, &nc->uplinks[i]);
		if (du)
			fresh[n_fresh++] = du;
	}
	uplinks_up(d, fresh, n_fresh);
	free(fresh);
	d->cfg = nc;
	config_free(old);
	/* 4. Configured sessions that are not running start, placed on today's loads. */
	for (size_t i = 0; i < nc->n_sessions; i++) {
		const struct cfg_session *cs = &nc->sessions[i];
		struct dm_uplink *du;

		if (daemon_find_session(d, cs->name))
			continue;
		du = place_listed(d, cs);
		if (du) {
			session_add(d, cs->name, &nc->profiles[cs->profile_idx], du, true, NULL);
			continue;
		}
		/* A listed session that fits nowhere now waits, shown with the router's reason,
		 * and starts where the router places it once one of its uplinks opens. */
		du = cs->uplink[0] ? daemon_find_uplink(d, cs->uplink) : NULL;
		if (!du) {
			log_warn("reload: session %s does not fit on any uplink now", cs->name);
			continue;
		}
		session_add_waiting(d, cs->name, &nc->profiles[cs->profile_idx], du);
	}
	dm_acct_apply_quotas(d);
	log_info("reload: %zu uplinks, %zu sessions", d->n_uplinks, d->n_sessions);
	return 0;
}

int daemon_new(struct cmx_config *cfg, struct daemon **ret)
{
	struct daemon *d;
	char status[128];
	int r;

	d = calloc(1, sizeof(*d));
	if (!d) {
		config_free(cfg);
		return -ENOMEM;
	}
	d->cfg = cfg;
	d->init_fd = -1;
	d->session_ops = &dm_session_ops;
	d->session_names = g_hash_table_new(g_str_hash, g_str_equal);
	d->loop = g_main_loop_new(NULL, FALSE);
	d->started_us = g_get_monotonic_time();
	d->started_unix = g_get_real_time() / G_USEC_PER_SEC;
	for (size_t i = 0; i < cfg->n_uplinks; i++)
		if (!dm_uplink_add(d, &cfg->uplinks[i])) {
			r = -ENOMEM;
			goto fail;
		}

	r = cgroup_root_prepare(cfg->daemon.cgroup, d->cgroup_root, sizeof(d->cgroup_root));
	if (r < 0) {
		log_error_errno(r, "preparing the session cgroup root: %m");
		goto fail;
	}
	/* Sessions a killed daemon left running are adopted by their sessions below; the scan
	 * comes first, so nothing that cleans up leftovers takes them for leftovers. */
	r = session_orphans_scan(d);
	if (r < 0) {
		log_error_errno(r, "looking for sessions in %s: %m", d->cgroup_root);
		goto fail;
	}
	r = session_sandbox_open(d);
	if (r < 0)
		goto fail;
	r = esource_new(NULL, &d->esrc);
	if (r < 0)
		goto fail;
	/* With a backend the relay opens the store; without one the daemon still needs it for
	 * removed sessions' final counts. */
	if (!cfg->backend.enabled) {
		struct store_params sp = {.outbox_max = cfg->daemon.outbox_max, .use_timer = true};

		r = store_open(cfg->daemon.state_dir, &sp, &d->store);
		if (r < 0) {
			log_error_errno(r, "opening the store in %s: %m", cfg->daemon.state_dir);
			goto fail;
		}
	}
	r = dm_acct_open(d);
	if (r < 0)
		goto fail;
	/* Before the uplinks: a modem plugged in while they come up is not missed. */
	r = hotplug_new(d, &d->hotplug);
	if (r < 0) {
		log_error_errno(r, "watching links for hot-plug: %m");
		goto fail;
	}
	r = uplinks_up(d, d->uplinks, d->n_uplinks);
	if (r < 0)
		goto fail;
	r = dm_acct_wait(d);
	if (r < 0)
		goto fail;
	/* The store first: every worker process, the first ones too, gets its incarnation. */
	if (cfg->backend.enabled) {
		r = relay_new(d, &d->relay);
		if (r < 0)
			goto fail;
	}
	r = state_blobs_new(d, d->relay ? relay_store(d->relay) : d->store, &d->blobs);
	if (r < 0)
		goto fail;
	r = sessions_start(d);
	if (r < 0)
		goto fail;
	/* Hold-downs end and quotas change without an event: the router is asked each second. */
	d->replan_timer = g_timeout_add_seconds(1, on_replan_timer, d);
	relay_restore_sessions(d->relay);
	dm_adhoc_restore(d);
	/* What no session claimed belongs to none of this daemon's sessions. */
	session_orphans_reap(d);
	state_blobs_sweep(d->blobs);
	r = metrics_new(d, &cfg->metrics, &d->metrics);
	if (r < 0)
		goto fail;
	snprintf(status, sizeof(status), "READY=1\nSTATUS=%zu uplinks, %zu sessions", d->n_uplinks,
		 d->n_sessions);
	notify_send(status);
	log_info("ready: %zu uplinks, %zu sessions (%u adopted)", d->n_uplinks, d->n_sessions,
		 d->adopted);
	*ret = d;
	return 0;
fail:
	d->stopping = true;
	daemon_free(d);
	return r;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	teardown(d);
	free(d->orphans);
	free(d->sessions);
	if (d->session_names)
		g_hash_table_destroy(d->session_names);
	free(d->uplinks);
	config_free(d->cfg);
	if (d->loop)
		g_main_loop_unref(d->loop);
	free(d);
}
