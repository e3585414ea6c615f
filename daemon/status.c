/* status.c — fills the read-only status structs (status.h) from the daemon's objects; the
 * counters come from accounting once it is attached, zero until then. */
#include "daemon/status.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "common/version.h"
#include "daemon/accounting.h"
#include "daemon/daemon.h"
#include "daemon/health.h"
#include "daemon/relay.h"
#include "daemon/session.h"
#include "netns/uplink.h"
#include "router/router.h"

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
	if (d->relay) {
		struct relay_status rs;

		relay_status(d->relay, &rs);
		out->have_backend = true;
		out->backend_up = rs.up;
		out->backend_outbox = rs.outbox;
		out->backend_inbox = rs.inbox;
		out->backend_reconnects = rs.reconnects;
	}
}

static void fill_counters(struct daemon *d, enum acct_kind kind, const char *name, bool *valid,
			  uint64_t *rxb, uint64_t *txb, uint64_t *rxp, uint64_t *txp,
			  uint64_t *quota, uint64_t *used, bool *reached)
{
	struct acct_counters c;
	struct acct_quota q;

	*valid = dm_acct_read(d, kind, name, &c, &q);
	if (!*valid)
		return;
	*rxb = c.rx_bytes;
	*txb = c.tx_bytes;
	*rxp = c.rx_packets;
	*txp = c.tx_packets;
	*quota = q.limit_bytes;
	*used = q.used_bytes;
	*reached = q.over;
}

static void fmt_into(char *dst, size_t size, const struct ip_prefix *a, bool plen)
{
	char buf[IP_PREFIX_STRLEN];

	snprintf(dst, size, "%s", ip_prefix_fmt(a, plen, buf));
}

static void fill_live(const struct uplink_live *l, struct status_uplink *out)
{
	if (l->ifname[0])
		out->ifname = l->ifname;
	for (size_t k = 0; k < l->n_addrs && k < STATUS_MAX_ADDRS; k++)
		fmt_into(out->addresses[out->n_addresses++], sizeof(out->addresses[0]),
			 &l->addrs[k], true);
	if (l->gw4.family)
		fmt_into(out->gateways[out->n_gateways++], sizeof(out->gateways[0]), &l->gw4,
			 false);
	if (l->gw6.family)
		fmt_into(out->gateways[out->n_gateways++], sizeof(out->gateways[0]), &l->gw6,
			 false);
	for (size_t k = 0; k < l->n_dns && k < ARRAY_SIZE(out->dns); k++)
		fmt_into(out->dns[out->n_dns++], sizeof(out->dns[0]), &l->dns[k], false);
	if (l->last_error[0]) {
		out->last_error = l->last_error;
		out->last_error_unix_ms = l->last_error_unix_ms;
	}
}

static void fill_recovery(const struct dm_uplink *du, struct status_uplink *out)
{
	const struct recovery *r = &du->recovery;
	int64_t now = g_get_monotonic_time() / 1000;
	long long in_s = (r->next_at_ms - now + 999) / 1000;

	for (size_t k = 0; k < __RECOVERY_STEP_MAX; k++)
		out->recoveries[k] = r->taken[k];
	out->recovery_last = recovery_step_to_string(r->last);
	if (!r->failed)
		return;
	if (r->capped)
		snprintf(out->recovery, sizeof(out->recovery),
			 "capped: %u steps in the last hour (recover_max_per_hour)", r->n_recent);
	else
		snprintf(out->recovery, sizeof(out->recovery), "%s due in %llds",
			 r->rung == 0 || !(du->u && uplink_can_reset(du->u)) ? "reconnect"
									      : "reset",
			 in_s > 0 ? in_s : 0);
}

size_t status_n_uplinks(struct daemon *d)
{
	return d->n_uplinks;
}

int status_uplink(struct daemon *d, size_t i, struct status_uplink *out)
{
	const struct dm_uplink *du;
	const struct uplink_params *p;
	struct uplink_radio radio;

	if (i >= d->n_uplinks)
		return -ENOENT;
	du = d->uplinks[i];
	p = &du->cfg->p;
	memset(out, 0, sizeof(*out));
	out->name = p->name;
	out->driver = p->driver;
	out->state = dm_uplink_state(du);
	/* What the uplink has, never what the config says: a QMI uplink finds its interface
	 * in sysfs, DHCP and QMI learn their addresses. Down, it has nothing but a name to
	 * look for. */
	out->ifname = p->ifname;
	out->device = p->device;
	if (du->cfg->match.n && du->found_device[0])
		out->device = du->found_device;
	if (du->u)
		out->device = uplink_params(du->u)->device;
	if (du->u)
		fill_live(uplink_live(du->u), out);
	else if (du->find_error[0]) {
		out->last_error = du->find_error;
		out->last_error_unix_ms = du->find_error_unix_ms;
	}
	out->sessions = du->n_sessions;
	out->capacity = du->cfg->capacity;
	out->reconnects = du->reconnects;
	out->health = health_to_string(health_state(du->health));
	out->health_reason = health_reason(du->health);
	fill_recovery(du, out);
	out->signal_dbm = INT_MIN;
	if (du->u && uplink_radio_info(du->u, &radio) == 0) {
		if (radio.signal_dbm)
			out->signal_dbm = radio.signal_dbm;
		if (radio.operator_name[0]) {
			snprintf(out->radio_operator, sizeof(out->radio_operator), "%s",
				 radio.operator_name);
			out->operator_name = out->radio_operator;
		}
		if (radio.rat[0]) {
			snprintf(out->radio_rat, sizeof(out->radio_rat), "%s", radio.rat);
			out->rat = out->radio_rat;
		}
	}
	fill_counters(d, ACCT_UPLINK, p->name, &out->counters_valid, &out->rx_bytes,
		      &out->tx_bytes, &out->rx_packets, &out->tx_packets, &out->quota_bytes,
		      &out->quota_used_bytes, &out->quota_reached);
	struct store_removed_total rt;
	out->removed_valid = dm_acct_removed_total(d, p->name, &rt) == 0;
	if (out->removed_valid) {
		out->removed_sessions = rt.sessions;
		out->removed_rx_bytes = rt.rx_bytes;
		out->removed_tx_bytes = rt.tx_bytes;
		out->removed_rx_packets = rt.rx_packets;
		out->removed_tx_packets = rt.tx_packets;
	}
	return 0;
}

size_t status_n_sessions(struct daemon *d)
{
	return d->n_sessions;
}

int status_session_state(struct daemon *d, size_t i, struct status_session *out)
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
	out->moves = s->moves;
	out->wait_reason = s->wait_reason && s->parked ? router_reason_str(s->wait_reason) : NULL;
	if (s->pid > 0)
		out->uptime_ms = (uint64_t)(g_get_monotonic_time() - s->started_us) / 1000;
	if (s->have_status) {
		out->worker_status = &s->status.w;
		out->worker_status_unix_ms = s->status.at_us / 1000;
	}
	return 0;
}

int status_session(struct daemon *d, size_t i, struct status_session *out)
{
	int r = status_session_state(d, i, out);

	if (r < 0)
		return r;
	fill_counters(d, ACCT_SESSION, out->name, &out->counters_valid, &out->rx_bytes,
		      &out->tx_bytes, &out->rx_packets, &out->tx_packets, &out->quota_bytes,
		      &out->quota_used_bytes, &out->quota_reached);
	return 0;
}

int status_session_usage(struct daemon *d, size_t i, uint64_t *spare, struct status_session *out)
{
	struct session *s;
	int before, after;
	bool keep;

	if (i >= d->n_sessions)
		return -ENOENT;
	s = d->sessions[i];
	before = __builtin_popcount(s->cg.kept);
	keep = spare && *spare >= CGF_N;
	out->have_usage = false;
	if (s->pid > 0 && s->cg_ready && s->cgroup[0])
		out->have_usage =
			cgroup_session_usage(&d->cg_layout, s->cgroup, &s->cg, keep, &out->usage) == 0;
	after = __builtin_popcount(s->cg.kept);
	if (keep && after > before)
		*spare -= (uint64_t)(after - before);
	return 0;
}

int status_session_sandbox(struct daemon *d, size_t i, struct status_session *out)
{
	const struct session *s;

	if (i >= d->n_sessions)
		return -ENOENT;
	s = d->sessions[i];
	out->have_sandbox = false;
	/* A worker that just went reads as gone: absent, not an error. */
	if (s->pid > 0)
		out->have_sandbox = sandbox_inspect(s->pid, &out->sandbox) == 0;
	return status_session_usage(d, i, NULL, out);
}
