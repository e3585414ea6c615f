/* adhoc.c — see adhoc.h. Rows live in the store's sessions table with origin
 * STORE_SESSION_ADMIN; the relay restores only the backend's (STORE_SESSION_BACKEND). */
#include "daemon/adhoc.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>

#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/relay.h"
#include "daemon/session.h"
#include "daemon/store.h"

/* The relay's store with a backend, else the daemon's own: one of them is always open. */
static struct store *adhoc_store(struct daemon *d)
{
	return d->relay ? relay_store(d->relay) : d->store;
}

int dm_adhoc_record(struct daemon *d, const struct session *s, const char *uplink)
{
	struct store *st = adhoc_store(d);
	int r;

	if (!st)
		return -ENOENT;
	r = store_session_add_origin(st, s->name, s->profile->name, uplink, STORE_SESSION_ADMIN,
				     NULL);
	if (r >= 0)
		r = store_flush(st);
	if (r < 0)
		return log_warn_errno(r, "session %s: recording it for the next start: %m",
				      s->name);
	return 0;
}

void dm_adhoc_forget(struct daemon *d, const char *name)
{
	struct store *st = adhoc_store(d);
	int r;

	if (!st)
		return;
	r = store_session_remove(st, name, NULL);
	if (r >= 0)
		r = store_flush(st);
	if (r < 0)
		log_warn_errno(r, "session %s: forgetting it in the store: %m", name);
}

struct adhoc_row {
	char name[CONFIG_NAME_MAX + 1], profile[CONFIG_NAME_MAX + 1], uplink[64];
};

static int collect(void *userdata, const struct store_session *ss)
{
	struct adhoc_row row;

	if (ss->origin != STORE_SESSION_ADMIN)
		return 0;
	snprintf(row.name, sizeof(row.name), "%s", ss->name);
	snprintf(row.profile, sizeof(row.profile), "%s", ss->profile);
	snprintf(row.uplink, sizeof(row.uplink), "%s", ss->uplink ? ss->uplink : "");
	g_array_append_val(userdata, row);
	return 0;
}

void dm_adhoc_restore(struct daemon *d)
{
	struct store *st = adhoc_store(d);
	GArray *a;

	if (!st)
		return;
	/* Collected first: starting a session writes to the store (its incarnation). */
	a = g_array_new(FALSE, TRUE, sizeof(struct adhoc_row));
	store_sessions_foreach(st, collect, a);
	for (guint i = 0; i < a->len; i++) {
		struct adhoc_row *row = &g_array_index(a, struct adhoc_row, i);
		char err[256] = "";
		int r;

		r = daemon_session_start(d, row->profile, row->uplink[0] ? row->uplink : NULL,
					 row->name, NULL, err, sizeof(err));
		if (r < 0 && r != -EEXIST) {
			log_warn("session %s (started by an admin) not restored: %s", row->name,
				 err[0] ? err : "cannot start it");
			continue;
		}
		log_info("session %s (started by an admin) restored", row->name);
	}
	g_array_free(a, TRUE);
}
