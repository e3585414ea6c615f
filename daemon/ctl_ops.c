/* ctl_ops.c — answers admin requests (daemon/ctl.h) from the daemon's state: status.h for what
 * is shown, daemon.h's operations for what is changed. One place maps daemon words to the
 * admin schema's enums. */
#include "daemon/ctl_ops.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "daemon/adhoc.h"
#include "daemon/daemon.h"
#include "daemon/session.h"
#include "daemon/status.h"
#include "netns/uplink.h"

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

static uint8_t uplink_state(const char *s)
{
	if (!strcmp(s, "up"))
		return CTL_UPLINK_UP;
	if (!strcmp(s, "connecting"))
		return CTL_UPLINK_CONNECTING;
	if (!strcmp(s, "draining"))
		return CTL_UPLINK_DRAINING;
	return CTL_UPLINK_DOWN;
}

static uint8_t session_state(const char *s)
{
	/* A worker that is being stopped still runs until it exits. */
	if (!strcmp(s, "running") || !strcmp(s, "stopping"))
		return CTL_SESSION_RUNNING;
	if (!strcmp(s, "backoff"))
		return CTL_SESSION_BACKOFF;
	return CTL_SESSION_STOPPED;
}

static void uplink_info(const struct status_uplink *su, struct ctl_uplink_info *u)
{
	memset(u, 0, sizeof(*u));
	COPY(u->name, su->name);
	COPY(u->driver, su->driver);
	u->state = uplink_state(su->state);
	COPY(u->interface, su->ifname);
	COPY(u->device, su->device);
	uplink_ns_name_of(su->name, u->netns, sizeof(u->netns));
	for (size_t i = 0; i < su->n_addresses && i < CTL_ADDRS_MAX; i++)
		COPY(u->addresses[u->n_addresses++], su->addresses[i]);
	u->sessions = su->sessions;
	u->capacity = su->capacity;
	u->counters.valid = su->counters_valid;
	u->counters.rx_bytes = su->rx_bytes;
	u->counters.tx_bytes = su->tx_bytes;
	u->counters.rx_packets = su->rx_packets;
	u->counters.tx_packets = su->tx_packets;
	u->have_quota = su->quota_bytes > 0;
	u->quota_reached = su->quota_reached;
	u->quota_bytes = su->quota_bytes;
	u->quota_used_bytes = su->quota_used_bytes;
	u->reconnects = su->reconnects;
	u->have_signal = su->signal_dbm != INT_MIN;
	u->signal_dbm = su->signal_dbm;
	COPY(u->operator_name, su->operator_name);
	COPY(u->rat, su->rat);
	u->removed.valid = su->removed_valid;
	u->removed_sessions = su->removed_sessions;
	u->removed.rx_bytes = su->removed_rx_bytes;
	u->removed.tx_bytes = su->removed_tx_bytes;
	u->removed.rx_packets = su->removed_rx_packets;
	u->removed.tx_packets = su->removed_tx_packets;
	COPY(u->health, su->health);
	COPY(u->health_reason, su->health_reason);
	for (size_t i = 0; i < su->n_gateways && i < ARRAY_SIZE(u->gateways); i++)
		COPY(u->gateways[u->n_gateways++], su->gateways[i]);
	for (size_t i = 0; i < su->n_dns && i < ARRAY_SIZE(u->dns); i++)
		COPY(u->dns[u->n_dns++], su->dns[i]);
	COPY(u->last_error, su->last_error);
	u->last_error_at_ms = (uint64_t)su->last_error_unix_ms;
	COPY(u->recovery, su->recovery);
	COPY(u->recovery_last, su->recovery_last);
	u->recoveries_reconnect = su->recoveries[RECOVERY_RECONNECT];
	u->recoveries_reset = su->recoveries[RECOVERY_RESET];
}

/* The kernel's numbers as read; CGROUP_MAX (no limit) is sent as an absent limit. */
static void sandbox_info(const struct status_session *ss, struct ctl_session_info *s)
{
	const struct sandbox_view *v = &ss->sandbox;
	const struct cgroup_usage *u = &ss->usage;
	struct ctl_sandbox_info *x = &s->sandbox;

	if (ss->have_sandbox) {
		s->have_sandbox = true;
		x->pid = (uint32_t)v->pid;
		x->worker = v->is_worker;
		x->ns_pid = (uint32_t)v->ns_pid;
		x->uid = v->uid;
		x->euid = v->euid;
		x->gid = v->gid;
		x->egid = v->egid;
		x->pidns_inode = v->pidns_inode;
		x->pidns_private = v->pidns_private;
		x->seccomp = v->seccomp > UINT8_MAX ? UINT8_MAX : (uint8_t)v->seccomp;
		x->have_seccomp_filters = v->have_seccomp_filters;
		x->seccomp_filters = v->seccomp_filters;
		x->no_new_privs = v->no_new_privs;
		x->cap_eff = v->cap_eff;
		x->cap_prm = v->cap_prm;
		x->cap_bnd = v->cap_bnd;
		x->cap_amb = v->cap_amb;
	}
	if (!ss->have_usage)
		return;
	if (u->have_memory) {
		s->have_memory = true;
		s->memory_bytes = u->memory_current;
		s->have_memory_max = u->memory_max != CGROUP_MAX;
		s->memory_max_bytes = s->have_memory_max ? u->memory_max : 0;
		s->oom_kills = u->oom_kills;
	}
	if (u->have_pids) {
		s->have_tasks = true;
		s->tasks = u->pids_current;
		s->have_tasks_max = u->pids_max != CGROUP_MAX;
		s->tasks_max = s->have_tasks_max ? u->pids_max : 0;
	}
	s->have_cpu_weight = u->have_cpu;
	s->cpu_weight = u->cpu_weight;
}

static void session_info(const struct status_session *ss, struct ctl_session_info *s)
{
	memset(s, 0, sizeof(*s));
	COPY(s->name, ss->name);
	COPY(s->profile, ss->profile);
	COPY(s->uplink, ss->uplink);
	s->state = session_state(ss->state);
	s->pid = ss->pid > 0 ? (uint32_t)ss->pid : 0;
	s->restarts = ss->restarts;
	s->moves = ss->moves;
	COPY(s->wait_reason, ss->wait_reason);
	s->uptime_ms = ss->uptime_ms;
	s->counters.valid = ss->counters_valid;
	s->counters.rx_bytes = ss->rx_bytes;
	s->counters.tx_bytes = ss->tx_bytes;
	s->counters.rx_packets = ss->rx_packets;
	s->counters.tx_packets = ss->tx_packets;
	s->have_quota = ss->quota_bytes > 0;
	s->quota_reached = ss->quota_reached;
	s->quota_bytes = ss->quota_bytes;
	s->quota_used_bytes = ss->quota_used_bytes;
	if (ss->worker_status) {
		s->have_status = true;
		s->status.w = *ss->worker_status;
		s->status.at_ms = ss->worker_status_unix_ms > 0 ? (uint64_t)ss->worker_status_unix_ms : 0;
	}
	sandbox_info(ss, s);
}

static int op_status(void *ctx, struct ctl_reply *r)
{
	struct daemon *d = ctx;
	struct status_daemon sd;
	struct ctl_status_info s = { 0 };

	status_daemon(d, &sd);
	COPY(s.version, sd.version);
	s.pid = (uint32_t)getpid();
	s.uptime_ms = (uint64_t)(g_get_monotonic_time() - d->started_us) / 1000;
	COPY(s.config, d->cfg->path);
	s.uplinks = sd.uplinks_total;
	s.uplinks_up = sd.uplinks_up;
	s.sessions = sd.sessions_total;
	s.sessions_running = sd.sessions_running;
	s.have_backend = sd.have_backend;
	s.backend_up = sd.backend_up;
	s.backend_outbox = sd.backend_outbox;
	s.backend_inbox = sd.backend_inbox;
	s.backend_reconnects = sd.backend_reconnects;
	return ctl_reply_status(r, &s);
}

static int op_uplink_get(void *ctx, const char *name, struct ctl_reply *r)
{
	struct daemon *d = ctx;
	struct status_uplink su;
	struct ctl_uplink_info u;

	for (size_t i = 0; status_uplink(d, i, &su) == 0; i++) {
		if (name && strcmp(su.name, name))
			continue;
		uplink_info(&su, &u);
		ctl_reply_uplink(r, &u);
		if (name)
			return 0;
	}
	if (name) {
		ctl_reply_set_error(r, "no uplink '%s'", name);
		return -ENOENT;
	}
	return 0;
}

static int op_uplink_dump(void *ctx, struct ctl_reply *r)
{
	return op_uplink_get(ctx, NULL, r);
}

static int op_session_get(void *ctx, const char *name, struct ctl_reply *r)
{
	struct daemon *d = ctx;
	struct status_session ss;
	struct ctl_session_info s;

	for (size_t i = 0; status_session(d, i, &ss) == 0; i++) {
		if (name && strcmp(ss.name, name))
			continue;
		status_session_sandbox(d, i, &ss);
		session_info(&ss, &s);
		ctl_reply_session(r, &s);
		if (name)
			return 0;
	}
	if (name) {
		ctl_reply_set_error(r, "no session '%s'", name);
		return -ENOENT;
	}
	return 0;
}

static int op_session_dump(void *ctx, struct ctl_reply *r)
{
	return op_session_get(ctx, NULL, r);
}

static int op_uplink_set_state(void *ctx, const char *name, enum ctl_uplink_action a,
			       struct ctl_reply *r)
{
	static const enum uplink_action map[] = {
		[CTL_UPLINK_ACTION_UP] = UPLINK_ACTION_UP,
		[CTL_UPLINK_ACTION_DOWN] = UPLINK_ACTION_DOWN,
		[CTL_UPLINK_ACTION_RECONNECT] = UPLINK_ACTION_RECONNECT,
		[CTL_UPLINK_ACTION_DRAIN] = UPLINK_ACTION_DRAIN,
	};
	char err[256] = "";
	int rr;

	if (a == CTL_UPLINK_ACTION_UNSPEC || a >= __CTL_UPLINK_ACTION_MAX)
		return -EINVAL;
	rr = daemon_uplink_action(ctx, name, map[a], err, sizeof(err));
	if (rr < 0 && err[0])
		ctl_reply_set_error(r, "%s", err);
	return rr;
}

static int op_session_start(void *ctx, const struct ctl_session_start *req, struct ctl_reply *r)
{
	struct daemon *d = ctx;
	struct session *s;
	char err[256] = "";
	int rr;

	rr = daemon_session_start(d, req->profile, req->uplink, req->name, &s, err, sizeof(err));
	if (rr < 0) {
		if (err[0])
			ctl_reply_set_error(r, "%s", err);
		return rr;
	}
	/* Like the backend's sessions, it is started again after a daemon restart. */
	rr = dm_adhoc_record(d, s, req->uplink);
	if (rr < 0) {
		ctl_reply_set_error(r, "session '%s' started, but recording it for restarts failed",
				    s->name);
		return rr;
	}
	return op_session_get(ctx, s->name, r);
}

static void stop_done(void *arg)
{
	ctl_reply_complete(arg, 0);
}

/* Answered when the worker is gone, so `cellmuxctl session stop` returning means it is. */
static int op_session_stop(void *ctx, const char *name, struct ctl_reply *r)
{
	struct daemon *d = ctx;
	struct session *s = daemon_find_session(d, name);

	if (!s) {
		ctl_reply_set_error(r, "no session '%s'", name);
		return -ENOENT;
	}
	if (s->on_gone) {
		ctl_reply_set_error(r, "session '%s' is already being stopped", name);
		return -EALREADY;
	}
	s->on_gone = stop_done;
	s->on_gone_arg = ctl_reply_defer(r);
	/* Now, not once the worker is gone: a daemon killed meanwhile must not bring it back. */
	if (!s->from_config)
		dm_adhoc_forget(d, name);
	return daemon_session_stop(d, name);
}

static int op_session_restart(void *ctx, const char *name, struct ctl_reply *r)
{
	int rr = daemon_session_restart(ctx, name);

	if (rr == -ENOENT)
		ctl_reply_set_error(r, "no session '%s'", name);
	return rr;
}

static int op_reload(void *ctx, struct ctl_reply *r)
{
	char err[CONFIG_ERR_MAX] = "";
	int rr = daemon_reload(ctx, err, sizeof(err));

	if (rr < 0 && err[0])
		ctl_reply_set_error(r, "%s", err);
	return rr;
}

static int op_reexec(void *ctx, struct ctl_reply *r)
{
	int rr = daemon_reexec(ctx);

	if (rr == -ESHUTDOWN)
		ctl_reply_set_error(r, "the daemon is stopping");
	return rr;
}

static const struct ctl_ops ops = {
	.status = op_status,
	.uplink_dump = op_uplink_dump,
	.uplink_get = op_uplink_get,
	.uplink_set_state = op_uplink_set_state,
	.session_dump = op_session_dump,
	.session_get = op_session_get,
	.session_start = op_session_start,
	.session_stop = op_session_stop,
	.session_restart = op_session_restart,
	.reload = op_reload,
	.reexec = op_reexec,
};

int ctl_ops_server_new(struct daemon *d, struct ctl_server **ret)
{
	const struct cfg_daemon *c = &d->cfg->daemon;
	struct ctl_server_params p = {
		.path = c->ctl_socket[0] ? c->ctl_socket : NULL,
		.group = c->ctl_group_set ? c->ctl_group : NULL,
		/* World-connectable on purpose: the SO_PEERCRED check comes before any parsing,
		 * and only a refusal the daemon sees can be logged (a 0660 socket refuses in the
		 * kernel, silently). */
		.mode = 0666,
	};

	return ctl_server_new(&p, &ops, d, ret);
}
