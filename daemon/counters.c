/* counters.c — see counters.h. The store is the daemon's or the relay's (with a backend), the
 * same one removed sessions' final counts go to; it lives in state_dir with or without a
 * backend. */
#include "daemon/counters.h"

#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/acct.h"
#include "common/log.h"
#include "daemon/accounting.h"
#include "daemon/daemon.h"
#include "daemon/relay.h"
#include "daemon/store.h"

struct dm_counters {
	GArray *saved;	 /* struct store_counters, names g_strdup'ed; NULL once used */
	bool unreadable; /* the copy could not be read: never overwrite it with fresh maps */
	bool restored;	 /* the maps were new and got the copy (or there was none) */
	guint timer;
	unsigned interval_ms;
};

static struct store *counters_store(struct daemon *d)
{
	return d->relay ? relay_store(d->relay) : d->store;
}

static void saved_free(GArray *a)
{
	if (!a)
		return;
	for (guint i = 0; i < a->len; i++)
		g_free((char *)g_array_index(a, struct store_counters, i).name);
	g_array_free(a, TRUE);
}

static int collect(void *userdata, const struct store_counters *c)
{
	struct store_counters copy = *c;

	copy.name = g_strdup(c->name ? c->name : "");
	g_array_append_val(userdata, copy);
	return 0;
}

int dm_counters_load(struct daemon *d)
{
	struct store *st = counters_store(d), *own = NULL;
	struct dm_counters *dc;
	int r = 0;

	dc = calloc(1, sizeof(*dc));
	if (!dc)
		return -ENOMEM;
	dc->saved = g_array_new(FALSE, TRUE, sizeof(struct store_counters));
	d->counters = dc;
	/* Read and closed before the relay opens its own: never two writers on one database. */
	if (!st) {
		r = store_open(d->cfg->daemon.state_dir, NULL, &own);
		st = own;
	}
	if (r >= 0)
		r = store_counters_foreach(st, collect, dc->saved);
	store_free(own);
	if (r < 0) {
		dc->unreadable = true;
		return log_warn_errno(r, "reading the saved counters in %s: %m",
				      d->cfg->daemon.state_dir);
	}
	return 0;
}

static gboolean save_due(gpointer data)
{
	dm_counters_save(data);
	return G_SOURCE_CONTINUE;
}

void dm_counters_rearm(struct daemon *d)
{
	struct dm_counters *dc = d->counters;
	unsigned ms = d->cfg->daemon.counters_save_ms;

	if (!dc || !d->acct || (dc->timer && dc->interval_ms == ms))
		return;
	if (dc->timer)
		g_source_remove(dc->timer);
	dc->interval_ms = ms ? ms : CONFIG_DEFAULT_COUNTERS_SAVE_MS;
	dc->timer = g_timeout_add(dc->interval_ms, save_due, d);
}

void dm_counters_restore(struct daemon *d)
{
	struct dm_counters *dc = d->counters;
	unsigned n = 0, failed = 0;

	if (!dc || !d->acct)
		return;
	if (!acct_maps_created(d->acct)) {
		/* Pins survived (a daemon restart, not a reboot): they hold everything since. */
		dc->restored = true;
	} else if (!dc->unreadable) {
		for (guint i = 0; i < dc->saved->len; i++) {
			const struct store_counters *s =
			    &g_array_index(dc->saved, struct store_counters, i);
			struct acct_counters c = {
			    .rx_bytes = s->rx_bytes,
			    .rx_packets = s->rx_packets,
			    .tx_bytes = s->tx_bytes,
			    .tx_packets = s->tx_packets,
			    .rx_dropped = s->rx_dropped,
			    .tx_dropped = s->tx_dropped,
			};
			struct acct_quota q = {
			    .limit_bytes = s->quota_limit,
			    .used_bytes = s->quota_used,
			    .action = (enum acct_quota_action)s->quota_action,
			    .over = s->quota_over,
			};
			int r = acct_restore(d->acct, (enum acct_kind)s->kind, s->name, &c,
					     s->has_quota ? &q : NULL);
			if (r < 0) {
				failed++;
				log_warn_errno(r, "%s %s: restoring its saved counters: %m",
					       acct_kind_to_string((enum acct_kind)s->kind) ?: "?",
					       s->name);
				continue;
			}
			n++;
		}
		dc->restored = true;
		if (n || failed)
			log_info(
			    "counters: new maps (a reboot?): %u names continue from the store%s", n,
			    failed ? ", some could not" : "");
	} else {
		log_warn("counters: new maps and an unreadable saved copy: not saving over it");
	}
	saved_free(dc->saved);
	dc->saved = NULL;
	dm_counters_rearm(d);
}

static int save_one(void *userdata, enum acct_kind kind, const char *name,
		    const struct acct_counters *c, const struct acct_quota *q)
{
	struct store_counters row = {
	    .kind = (int)kind,
	    .name = g_strdup(name),
	    .rx_bytes = c->rx_bytes,
	    .rx_packets = c->rx_packets,
	    .tx_bytes = c->tx_bytes,
	    .tx_packets = c->tx_packets,
	    .rx_dropped = c->rx_dropped,
	    .tx_dropped = c->tx_dropped,
	    .has_quota = q != NULL,
	    .quota_action = q ? (int)q->action : 0,
	    .quota_limit = q ? q->limit_bytes : 0,
	    .quota_used = q ? q->used_bytes : 0,
	    .quota_over = q && q->over,
	};

	g_array_append_val((GArray *)userdata, row);
	return 0;
}

void dm_counters_save(struct daemon *d)
{
	struct dm_counters *dc = d->counters;
	GArray *rows;
	struct store *st;
	int r;

	dm_acct_wait(d);
	st = counters_store(d);
	if (!dc || !d->acct || !dc->restored || !st)
		return;
	rows = g_array_new(FALSE, TRUE, sizeof(struct store_counters));
	r = acct_foreach(d->acct, save_one, rows);
	if (r >= 0)
		r = store_counters_save(st, (struct store_counters *)(void *)rows->data, rows->len);
	if (r < 0)
		log_warn_errno(r, "saving the counters to the store: %m");
	else
		log_debug("counters: %u names saved", rows->len);
	saved_free(rows);
}

void dm_counters_close(struct daemon *d)
{
	struct dm_counters *dc = d->counters;

	if (!dc)
		return;
	if (dc->timer)
		g_source_remove(dc->timer);
	saved_free(dc->saved);
	free(dc);
	d->counters = NULL;
}
