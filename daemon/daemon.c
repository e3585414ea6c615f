/* daemon.c — cellmuxd's life cycle: uplinks up, sessions started, and the ordered way down
 * (workers first, then uplinks, then the cgroup root), on a signal or a failed start. */
#include "daemon/daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "daemon/cgroup.h"
#include "daemon/notify.h"
#include "daemon/session.h"
#include "netns/uplink.h"

/* Bound on waiting for workers at shutdown; their cgroups are killed after SESSION_STOP_GRACE. */
#define SHUTDOWN_TIMEOUT_MS 15000

/* Bringing an uplink up is mostly waiting: moving a link between namespaces and committing an
 * nftables table each wait out a kernel RCU grace period (measured 15-20 ms each here). One
 * thread per uplink lets those waits overlap; every step is per-thread (setns affects only the
 * calling thread, each uplink has its own netlink sockets and nft context), and the loop
 * has not started yet, so nothing else runs meanwhile. */
static gpointer uplink_up_thread(gpointer data)
{
	struct dm_uplink *du = data;

	return GINT_TO_POINTER(uplink_up(&du->cfg->p, &du->u));
}

static int uplinks_up(struct daemon *d)
{
	GThread **threads = g_new0(GThread *, d->n_uplinks ? d->n_uplinks : 1);
	int first_err = 0;

	for (size_t i = 0; i < d->n_uplinks; i++)
		threads[i] = g_thread_new("uplink-up", uplink_up_thread, &d->uplinks[i]);
	for (size_t i = 0; i < d->n_uplinks; i++) {
		struct dm_uplink *du = &d->uplinks[i];
		int r = GPOINTER_TO_INT(g_thread_join(threads[i]));

		if (r < 0) {
			du->u = NULL;
			log_error_errno(r, "uplink %s: bringing up %s: %m", du->cfg->p.name,
					du->cfg->p.ifname);
			if (!first_err)
				first_err = r;
			continue;
		}
		du->state = DM_UPLINK_UP;
		log_info("uplink %s: up in namespace %s via %s", du->cfg->p.name,
			 uplink_ns_name(du->u), du->cfg->p.ifname);
	}
	g_free(threads);
	return first_err;
}

static void uplinks_down(struct daemon *d)
{
	for (size_t i = d->n_uplinks; i-- > 0;) {
		struct dm_uplink *du = &d->uplinks[i];

		if (!du->u)
			continue;
		uplink_down(du->u);
		du->u = NULL;
		du->state = DM_UPLINK_DOWN;
		log_info("uplink %s: down, %s returned to the host", du->cfg->p.name,
			 du->cfg->p.ifname);
	}
}

static int sessions_start(struct daemon *d)
{
	const struct cmx_config *c = d->cfg;

	d->sessions = calloc(c->n_sessions ? c->n_sessions : 1, sizeof(*d->sessions));
	if (!d->sessions)
		return -ENOMEM;
	/* Placement was decided when the config was validated (router_pick_uplink). */
	for (size_t i = 0; i < c->n_sessions; i++) {
		const struct cfg_session *cs = &c->sessions[i];
		struct session *s;
		int r = session_new(d, cs->name, &c->profiles[cs->profile_idx],
				    &d->uplinks[cs->uplink_idx], &s);

		if (r < 0)
			return log_error_errno(r, "session %s: creating cgroup under %s: %m",
					       cs->name, d->cgroup_root);
		d->sessions[d->n_sessions++] = s;
		session_start(s);
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
	for (size_t i = 0; i < d->n_sessions; i++)
		session_free(d->sessions[i]);
	d->n_sessions = 0;
	uplinks_down(d);
	if (d->cgroup_root[0] && cgroup_remove(d->cgroup_root) < 0)
		log_warn("removing cgroup %s: %m", d->cgroup_root);
	d->cgroup_root[0] = 0;
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

void daemon_session_stopped(struct daemon *d, struct session *s)
{
	if (d->stopping && sessions_all_stopped(d))
		finish(d);
}

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
	d->loop = g_main_loop_new(NULL, FALSE);
	d->started_us = g_get_monotonic_time();
	d->n_uplinks = cfg->n_uplinks;
	d->uplinks = calloc(cfg->n_uplinks ? cfg->n_uplinks : 1, sizeof(*d->uplinks));
	if (!d->uplinks) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_uplinks; i++)
		d->uplinks[i].cfg = &cfg->uplinks[i];

	r = cgroup_root_prepare(cfg->daemon.cgroup, d->cgroup_root, sizeof(d->cgroup_root));
	if (r < 0) {
		log_error_errno(r, "preparing the session cgroup root: %m");
		goto fail;
	}
	/* Workers orphaned by a killed daemon would still hold their uplink namespaces. */
	cgroup_reap_children(d->cgroup_root);
	r = uplinks_up(d);
	if (r < 0)
		goto fail;
	r = sessions_start(d);
	if (r < 0)
		goto fail;
	snprintf(status, sizeof(status), "READY=1\nSTATUS=%zu uplinks, %zu sessions", d->n_uplinks,
		 d->n_sessions);
	notify_send(status);
	log_info("ready: %zu uplinks, %zu sessions", d->n_uplinks, d->n_sessions);
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
	free(d->sessions);
	free(d->uplinks);
	config_free(d->cfg);
	if (d->loop)
		g_main_loop_unref(d->loop);
	free(d);
}
