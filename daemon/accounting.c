/* accounting.c — see accounting.h. Reset periods are checked once a minute against the last
 * reset kept in state_dir/quota/, so a reset missed while the daemon was down happens at start. */
#include "daemon/accounting.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "daemon/counters.h"
#include "daemon/daemon.h"
#include "daemon/relay.h"
#include "daemon/session.h"
#include "netns/uplink.h"

#define QUOTA_CHECK_S 60

static const struct cfg_quota *session_quota(struct daemon *d, const struct session *s)
{
	static const struct cfg_quota none;
	int i = s->from_config ? config_find_session(d->cfg, s->name) : -1;
	const struct cfg_quota *q = i >= 0 ? config_session_quota(d->cfg, &d->cfg->sessions[i])
					   : &s->profile->quota;

	return q ? q : &none;
}

static void on_quota_event(const struct acct_event *ev, void *userdata)
{
	log_warn("%s %s: quota of %llu bytes reached (%llu used), %s", acct_kind_to_string(ev->kind),
		 ev->name, (unsigned long long)ev->limit_bytes, (unsigned long long)ev->used_bytes,
		 ev->action == ACCT_QUOTA_BLOCK ? "traffic blocked" : "notify only");
}

static gboolean events_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct daemon *d = data;

	acct_events_process(d->acct);
	return G_SOURCE_CONTINUE;
}

/* state_dir/quota/<kind>-<name>: the unix time of the last reset. */
static void reset_path(struct daemon *d, enum acct_kind kind, const char *name, char *buf,
		       size_t len)
{
	const char *dir = d->cfg->daemon.state_dir[0] ? d->cfg->daemon.state_dir
						       : CONFIG_DEFAULT_STATE_DIR;
	snprintf(buf, len, "%s/quota/%s-%s", dir, acct_kind_to_string(kind), name);
}

static void period_check(struct daemon *d, enum acct_kind kind, const char *name,
			 const struct cfg_quota *q, time_t now)
{
	char path[4096];
	long long last = 0;
	time_t start;
	FILE *f;

	if (q->period.kind == QUOTA_PERIOD_NONE || quota_period_start(&q->period, now, &start) < 0)
		return;
	reset_path(d, kind, name, path, sizeof(path));
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%lld", &last) != 1)
			last = 0;
		fclose(f);
	}
	if (f && last >= (long long)start)
		return;
	/* First sight of this quota starts its period now; a stale stamp means a reset is due. */
	if (f) {
		acct_quota_reset(d->acct, kind, name, 0);
		log_info("%s %s: quota period began, usage reset", acct_kind_to_string(kind), name);
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = 0;
	mkdir(dir, 0755); /* its parent is state_dir, made below or by the store */
	f = fopen(path, "we");
	if (f) {
		fprintf(f, "%lld\n", (long long)now);
		fclose(f);
	}
}

static void periods_check(struct daemon *d)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < d->n_uplinks; i++)
		period_check(d, ACCT_UPLINK, d->uplinks[i]->cfg->p.name, &d->uplinks[i]->cfg->quota,
			     now);
	for (size_t i = 0; i < d->n_sessions; i++)
		period_check(d, ACCT_SESSION, d->sessions[i]->name, session_quota(d, d->sessions[i]),
			     now);
}

static gboolean periods_due(gpointer data)
{
	periods_check(data);
	return G_SOURCE_CONTINUE;
}

static bool any_quota(const struct cmx_config *c)
{
	for (size_t i = 0; i < c->n_uplinks; i++)
		if (c->uplinks[i].quota.limit)
			return true;
	for (size_t i = 0; i < c->n_profiles; i++)
		if (c->profiles[i].quota.limit)
			return true;
	for (size_t i = 0; i < c->n_sessions; i++)
		if (c->sessions[i].quota.limit)
			return true;
	return false;
}

static const char *pin_dir(const struct daemon *d)
{
	return d->cfg->daemon.bpf_dir[0] ? d->cfg->daemon.bpf_dir : ACCT_PIN_DIR;
}

static int unavailable(struct daemon *d, int r, const char *why)
{
	bool fatal = any_quota(d->cfg);

	if (fatal && why[0])
		return log_error_errno(r, "accounting unavailable, but quotas are configured: %s",
				       why);
	if (fatal)
		return log_error_errno(r, "accounting unavailable, but quotas are configured: %m");
	if (why[0])
		log_warn("accounting unavailable, running without counters: %s", why);
	else
		log_warn_errno(r, "accounting unavailable, running without counters: %m");
	return 0;
}

/* The load parses the kernel's BTF and verifies four programs (~20 ms): CPU work that needs
 * nothing the uplink threads make, while they wait for the kernel (link moves). */
static gpointer load_thread(gpointer data)
{
	struct daemon *d = data;
	struct acct *a = NULL;
	int r = acct_open(pin_dir(d), &a);

	/* Read only after the join in loaded(): every dm_acct_* call makes that first. */
	d->acct = r < 0 ? NULL : a;
	return GINT_TO_POINTER(r);
}

/* Joins the load on the loop's thread: watches and timers belong to it. */
static void loaded(struct daemon *d)
{
	int r, fd;

	if (!d->acct_loader)
		return;
	r = GPOINTER_TO_INT(g_thread_join(d->acct_loader));
	d->acct_loader = NULL;
	if (r < 0) {
		d->acct_err = unavailable(d, r, "");
		return;
	}
	/* Before anything attaches: a restored name must not have counted yet. */
	dm_counters_restore(d);
	fd = acct_events_fd(d->acct, on_quota_event, d);
	if (fd >= 0)
		d->acct_watch = g_unix_fd_add(fd, G_IO_IN, events_readable, d);
	d->quota_timer = g_timeout_add_seconds(QUOTA_CHECK_S, periods_due, d);
}

int dm_acct_open(struct daemon *d)
{
	char why[ACCT_WHY_MAX] = "";
	int r;

	acct_bpffs_mount(pin_dir(d));
	/* The probe is quick and names what is missing; only the load goes to the thread. */
	r = acct_probe(pin_dir(d), why, sizeof(why));
	if (r < 0)
		return unavailable(d, r, why);
	dm_counters_load(d); /* a copy it cannot read is never saved over: no error here */
	d->acct_loader = g_thread_new("acct-load", load_thread, d);
	return 0;
}

int dm_acct_wait(struct daemon *d)
{
	loaded(d);
	return d->acct_err;
}

void dm_acct_close(struct daemon *d)
{
	loaded(d);
	if (d->acct_watch)
		g_source_remove(d->acct_watch);
	if (d->quota_timer)
		g_source_remove(d->quota_timer);
	d->acct_watch = d->quota_timer = 0;
	dm_counters_close(d);
	acct_close(d->acct);
	d->acct = NULL;
}

static void apply_quota(struct daemon *d, enum acct_kind kind, const char *name,
			const struct cfg_quota *q)
{
	struct acct_quota st;
	int r;

	r = acct_set_quota(d->acct, kind, name, q->limit, q->limit ? q->action : ACCT_QUOTA_NONE);
	if (r < 0) {
		log_warn_errno(r, "%s %s: setting its quota: %m", acct_kind_to_string(kind), name);
		return;
	}
	if (q->limit && acct_quota_state(d->acct, kind, name, &st) == 0 && st.over)
		log_warn("%s %s: quota of %llu bytes already reached", acct_kind_to_string(kind),
			 name, (unsigned long long)q->limit);
}

void dm_acct_apply_quotas(struct daemon *d)
{
	loaded(d);
	if (!d->acct)
		return;
	for (size_t i = 0; i < d->n_uplinks; i++)
		apply_quota(d, ACCT_UPLINK, d->uplinks[i]->cfg->p.name, &d->uplinks[i]->cfg->quota);
	for (size_t i = 0; i < d->n_sessions; i++)
		apply_quota(d, ACCT_SESSION, d->sessions[i]->name, session_quota(d, d->sessions[i]));
	periods_check(d);
	dm_counters_rearm(d);
}

void dm_acct_uplink_attach(struct daemon *d, struct dm_uplink *du)
{
	int r;

	loaded(d);
	if (!d->acct || !du->u)
		return;
	/* The live interface: a QMI uplink without interface= finds its own in sysfs. */
	r = acct_uplink_attach(d->acct, du->cfg->p.name, uplink_nsfd(du->u),
			       uplink_live(du->u)->ifname);
	if (r < 0)
		log_warn_errno(r, "uplink %s: attaching counters: %m", du->cfg->p.name);
	else
		apply_quota(d, ACCT_UPLINK, du->cfg->p.name, &du->cfg->quota);
}

void dm_acct_uplink_detach(struct daemon *d, struct dm_uplink *du)
{
	struct acct_counters c;

	loaded(d);
	if (!d->acct || !du->u)
		return;
	if (acct_uplink_detach(d->acct, du->cfg->p.name, uplink_nsfd(du->u),
			       uplink_live(du->u)->ifname, &c) == 0)
		log_info("uplink %s: counters rx %llu tx %llu bytes", du->cfg->p.name,
			 (unsigned long long)c.rx_bytes, (unsigned long long)c.tx_bytes);
}

void dm_acct_session_attach(struct daemon *d, struct session *s)
{
	int r;

	loaded(d);
	if (!d->acct)
		return;
	r = acct_session_attach(d->acct, s->name, s->cgroup);
	if (r < 0)
		log_warn_errno(r, "session %s: attaching counters: %m", s->name);
	else
		apply_quota(d, ACCT_SESSION, s->name, session_quota(d, s));
}

/* The relay's store when there is a backend, else the daemon's own (daemon.c opens it). */
static struct store *removed_store(struct daemon *d)
{
	return d->relay ? relay_store(d->relay) : d->store;
}

/* Commits a removed session's final counters now (a removal is rare; it should not wait for
 * the next batch). */
static int store_final(struct daemon *d, struct session *s, const struct acct_counters *c)
{
	struct store *st = removed_store(d);
	struct store_removed rm = {
	    .session = s->name,
	    .uplink = s->uplink->cfg->p.name,
	    .rx_bytes = c->rx_bytes,
	    .tx_bytes = c->tx_bytes,
	    .rx_packets = c->rx_packets,
	    .tx_packets = c->tx_packets,
	};
	int r;

	if (!st)
		return -ENOENT;
	r = store_removed_add(st, &rm, NULL);
	if (r == 0)
		r = store_flush(st);
	return r;
}

void dm_acct_session_detach(struct daemon *d, struct session *s)
{
	struct acct_counters c;
	int r;

	loaded(d);
	if (!d->acct)
		return;
	r = acct_session_detach(d->acct, s->name, &c);
	if (r == 0)
		log_info("session %s: final counters rx %llu tx %llu bytes", s->name,
			 (unsigned long long)c.rx_bytes, (unsigned long long)c.tx_bytes);
	/* A session removed for good frees its slot in the pinned maps once the store holds its
	 * final counts. Sessions that only go down with the daemon keep counting where they left
	 * off. */
	if (!s->remove_when_stopped || r < 0)
		return;
	r = store_final(d, s, &c);
	if (r < 0) {
		log_warn_errno(r, "session %s: storing its final counters: %m; they stay pinned",
			       s->name);
		return;
	}
	acct_forget(d->acct, ACCT_SESSION, s->name);
	/* Out of the saved copy too, or a reboot before the next save would bring it back. */
	dm_counters_save(d);
}

int dm_acct_removed_total(struct daemon *d, const char *uplink, struct store_removed_total *ret)
{
	struct store *st = removed_store(d);

	if (!st)
		return -ENOENT;
	return store_removed_total(st, uplink, ret);
}

bool dm_acct_read(struct daemon *d, enum acct_kind kind, const char *name,
		  struct acct_counters *c, struct acct_quota *q)
{
	loaded(d);
	return d->acct && acct_read_all(d->acct, d->acct_snap, kind, name, c, q) == 0;
}

void dm_acct_snapshot_begin(struct daemon *d)
{
	loaded(d);
	dm_acct_snapshot_end(d);
	/* Without one (an old kernel without batch lookups), each name is read from the maps. */
	if (d->acct && acct_snapshot_take(d->acct, &d->acct_snap) < 0)
		d->acct_snap = NULL;
}

void dm_acct_snapshot_end(struct daemon *d)
{
	acct_snapshot_free(d->acct_snap);
	d->acct_snap = NULL;
}
