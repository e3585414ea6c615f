/* status.c — fills the read-only status structs (status.h) from the daemon's objects; the
 * counters come from accounting once it is attached, zero until then. */
#include "daemon/status.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/version.h"
#include "daemon/daemon.h"
#include "daemon/session.h"
#include "netns/uplink.h"

void status_daemon(struct daemon *d, struct status_daemon *out)
{
	memset(out, 0, sizeof(*out));
	out->version = CELLMUX_VERSION;
	out->start_time_unix = d->started_unix;
	out->uplinks_total = (unsigned)d->n_uplinks;
	for (size_t i = 0; i < d->n_uplinks; i++)
		out->uplinks_up += d->uplinks[i]->u != NULL;
	out->sessions_total = (unsigned)d->n_sessions;
	for (size_t i = 0; i < d->n_sessions; i++)
		out->sessions_running += d->sessions[i]->state == SESSION_RUNNING;
}

size_t status_n_uplinks(struct daemon *d)
{
	return d->n_uplinks;
}

int status_uplink(struct daemon *d, size_t i, struct status_uplink *out)
{
	const struct dm_uplink *du;
	const struct uplink_params *p;

	if (i >= d->n_uplinks)
		return -ENOENT;
	du = d->uplinks[i];
	p = &du->cfg->p;
	memset(out, 0, sizeof(*out));
	out->name = p->name;
	out->driver = p->driver;
	out->state = dm_uplink_state(du);
	out->ifname = p->ifname;
	for (size_t k = 0; k < p->n_addrs && k < STATUS_MAX_ADDRS; k++) {
		char buf[IP_PREFIX_STRLEN];
		snprintf(out->addresses[k], sizeof(out->addresses[k]), "%s",
			 ip_prefix_fmt(&p->addrs[k], true, buf));
		out->n_addresses++;
	}
	out->sessions = du->n_sessions;
	out->capacity = du->cfg->capacity;
	out->reconnects = du->reconnects;
	out->signal_dbm = INT_MIN;
	return 0;
}

size_t status_n_sessions(struct daemon *d)
{
	return d->n_sessions;
}

int status_session(struct daemon *d, size_t i, struct status_session *out)
{
	const struct session *s;

	if (i >= d->n_sessions)
		return -ENOENT;
	s = d->sessions[i];
	memset(out, 0, sizeof(*out));
	out->name = s->name;
	out->profile = s->profile->name;
	out->uplink = s->uplink->cfg->p.name;
	/* The admin schema knows running, backoff and stopped; stopping is still running. */
	out->state = session_state_to_string(s->state);
	out->pid = s->pid;
	out->restarts = s->restarts;
	if (s->have_report) {
		out->last_report_unix_ms = s->report.at_us / 1000;
		out->last_http_status = s->report.http_status;
		out->last_url = s->report.url;
		out->last_body = s->report.body;
		out->last_error = s->report.error;
	}
	return 0;
}
