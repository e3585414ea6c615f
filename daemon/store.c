/* store.c — the SQLite store of store.h: WAL with synchronous=FULL (a commit is on disk when
 * COMMIT returns), one lazily opened transaction per batch, prepared statements for every write.
 */
#include "daemon/store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/macro.h"

enum seen_kind {
	SEEN_EVENT = 0,
	SEEN_DELIVERY = 1,
};

enum {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_SEEN_ADD,
	Q_SEEN_HAS,
	Q_OUTBOX_ADD,
	Q_OUTBOX_DEL,
	Q_OUTBOX_LIST,
	Q_INBOX_ADD,
	Q_INBOX_DEL,
	Q_INBOX_LIST,
	Q_SESSION_ADD,
	Q_SESSION_DEL,
	Q_SESSION_LIST,
	Q_INCARNATION_NEXT,
	Q_MAX,
};

static const char *const queries[Q_MAX] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SEEN_ADD] = "INSERT OR IGNORE INTO seen(kind, session, inc, id, at_ms)"
		   " VALUES (?, ?, ?, ?, ?)",
    [Q_SEEN_HAS] = "SELECT 1 FROM seen WHERE kind = ? AND session = ? AND inc = ? AND id = ?",
    [Q_OUTBOX_ADD] = "INSERT INTO outbox(session, incarnation, event_id, payload, at_ms)"
		     " VALUES (?, ?, ?, ?, ?)",
    [Q_OUTBOX_DEL] = "DELETE FROM outbox WHERE seq = ? RETURNING session",
    [Q_OUTBOX_LIST] = "SELECT seq, session, event_id, payload, at_ms, incarnation FROM outbox"
		      " WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
    [Q_INBOX_ADD] = "INSERT INTO inbox(id, session, payload, at_ms) VALUES (?, ?, ?, ?)",
    [Q_INBOX_DEL] = "DELETE FROM inbox WHERE id = ? RETURNING session",
    [Q_INBOX_LIST] = "SELECT seq, id, session, payload FROM inbox"
		     " WHERE session = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
    [Q_SESSION_ADD] = "INSERT OR REPLACE INTO sessions(name, profile, uplink, origin)"
		      " VALUES (?, ?, ?, ?)",
    [Q_SESSION_DEL] = "DELETE FROM sessions WHERE name = ?",
    [Q_SESSION_LIST] = "SELECT name, profile, uplink, origin FROM sessions ORDER BY rowid",
    [Q_INCARNATION_NEXT] = "INSERT INTO incarnations(session, last) VALUES (?, 1)"
			   " ON CONFLICT(session) DO UPDATE SET last = last + 1 RETURNING last",
};

/* AUTOINCREMENT: a seq is never reused, even after the newest rows were deleted, so the backend
 * never sees one message id name two events. An event is named by (session, incarnation,
 * event_id): the worker's ids are its process's own, and incarnations (one per spawned worker
 * process, per session name, never reused) keep a restarted worker's ids apart from its
 * predecessor's. Deliveries are seen by the backend's id alone (session "", inc 0). */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS sessions(name TEXT PRIMARY KEY, profile TEXT NOT NULL,"
    " uplink TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " session TEXT NOT NULL, incarnation INTEGER NOT NULL DEFAULT 0,"
    " event_id INTEGER NOT NULL, payload BLOB NOT NULL,"
    " at_ms INTEGER NOT NULL, UNIQUE(session, incarnation, event_id));"
    "CREATE TABLE IF NOT EXISTS inbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id INTEGER NOT NULL UNIQUE, session TEXT NOT NULL, payload BLOB NOT NULL,"
    " at_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS inbox_session ON inbox(session, seq);"
    "CREATE TABLE IF NOT EXISTS seen(kind INTEGER NOT NULL, session TEXT NOT NULL,"
    " inc INTEGER NOT NULL DEFAULT 0, id INTEGER NOT NULL, at_ms INTEGER NOT NULL,"
    " PRIMARY KEY(kind, session, inc, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS seen_age ON seen(at_ms);"
    "CREATE TABLE IF NOT EXISTS incarnations(session TEXT PRIMARY KEY,"
    " last INTEGER NOT NULL);";

/* A store written before incarnations keyed outbox and seen on (session, id): both are rebuilt
 * once, in one transaction, their rows kept with incarnation 0 and the outbox's seq counter
 * carried over (seqs stay never reused). seen_age goes with the old table and is made again. */
static const char migrate_v0[] =
    "BEGIN IMMEDIATE;"
    "DROP INDEX IF EXISTS seen_age;"
    "ALTER TABLE outbox RENAME TO outbox_v0;"
    "ALTER TABLE seen RENAME TO seen_v0;";
static const char migrate_v0_copy[] =
    "INSERT INTO outbox(seq, session, incarnation, event_id, payload, at_ms)"
    " SELECT seq, session, 0, event_id, payload, at_ms FROM outbox_v0;"
    "INSERT INTO seen(kind, session, inc, id, at_ms) SELECT kind, session, 0, id, at_ms"
    " FROM seen_v0;"
    "DELETE FROM sqlite_sequence WHERE name = 'outbox';"
    "UPDATE sqlite_sequence SET name = 'outbox' WHERE name = 'outbox_v0';"
    "DROP TABLE outbox_v0;"
    "DROP TABLE seen_v0;"
    "COMMIT;";

struct listener {
	store_commit_fn fn;
	void *userdata;
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_MAX];
	struct store_params p;
	bool in_tx;
	unsigned batch_writes;
	guint timer;
	uint64_t batch;	    /* number of the open (or next) batch */
	uint64_t committed; /* newest durable batch */
	/* Rows up to these seqs are committed; readers see no further (the open transaction's own
	 * rows are visible to this connection, but must not leave before they are durable). */
	int64_t outbox_seq_committed, outbox_seq_written;
	int64_t inbox_seq_committed, inbox_seq_written;
	unsigned outbox_count, inbox_count;
	/* session name -> events it holds in the outbox, for its fair share */
	GHashTable *outbox_by_session;
	unsigned outbox_session_max; /* 0: no per-session limit */
	int64_t last_prune_ms;
	struct listener *listeners;
	size_t n_listeners;
	sqlite3_stmt *removed_add, *removed_total; /* the removed-sessions block at the end */
	sqlite3_stmt *counters_add, *counters_clear, *counters_list; /* the counters block */
	sqlite3_stmt *state_q[4];		   /* the state-blobs block at the end */
};

static int removed_open(struct store *st);
static void removed_close(struct store *st);
static int counters_open(struct store *st);
static void counters_close(struct store *st);
static int state_open(struct store *st);
static void state_close(struct store *st);

static int64_t now_ms(void)
{
	return g_get_real_time() / 1000;
}

static int sql_err(struct store *st, int rc, const char *what)
{
	log_debug("store: %s: %s", what, sqlite3_errmsg(st->db));
	if (rc == SQLITE_FULL)
		return -ENOSPC;
	if (rc == SQLITE_NOMEM)
		return -ENOMEM;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return -EBUSY;
	return -EIO;
}

/* Runs a prepared statement that returns no rows, then resets it. */
static int step_done(struct store *st, int q)
{
	sqlite3_stmt *s = st->q[q];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return sql_err(st, rc, queries[q]);
	return 0;
}

static int count_rows(struct store *st, const char *sql, unsigned *ret)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, sql);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = (unsigned)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static int max_seq(struct store *st, const char *table, int64_t *ret)
{
	char sql[64];
	sqlite3_stmt *s;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT COALESCE(MAX(seq), 0) FROM %s", table);
	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, sql);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static int count_by_session(struct store *st)
{
	static const char sql[] = "SELECT session, COUNT(*) FROM outbox GROUP BY session";
	sqlite3_stmt *s;
	int rc;

	g_hash_table_remove_all(st->outbox_by_session);
	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, sql);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		g_hash_table_insert(st->outbox_by_session,
				    g_strdup((const char *)sqlite3_column_text(s, 0)),
				    GUINT_TO_POINTER((unsigned)sqlite3_column_int64(s, 1)));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static unsigned session_held(const struct store *st, const char *session)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(st->outbox_by_session, session));
}

static void session_held_add(struct store *st, const char *session, int delta)
{
	unsigned n = session_held(st, session);

	if (delta < 0 && n <= (unsigned)-delta)
		g_hash_table_remove(st->outbox_by_session, session);
	else
		g_hash_table_insert(st->outbox_by_session, g_strdup(session),
				    GUINT_TO_POINTER(n + (unsigned)delta));
}

/* The counters and seq marks as the database has them: at open and after a rollback. */
static int reload_marks(struct store *st)
{
	int r;

	r = count_by_session(st);
	if (r < 0)
		return r;
	r = count_rows(st, "SELECT COUNT(*) FROM outbox", &st->outbox_count);
	if (r < 0)
		return r;
	r = count_rows(st, "SELECT COUNT(*) FROM inbox", &st->inbox_count);
	if (r < 0)
		return r;
	r = max_seq(st, "outbox", &st->outbox_seq_committed);
	if (r < 0)
		return r;
	r = max_seq(st, "inbox", &st->inbox_seq_committed);
	if (r < 0)
		return r;
	st->outbox_seq_written = st->outbox_seq_committed;
	st->inbox_seq_written = st->inbox_seq_committed;
	return 0;
}

static void notify(struct store *st, uint64_t batch, int result)
{
	/* A listener may remove itself (or others) while being told: walk a copy. */
	size_t n = st->n_listeners;
	struct listener *copy = g_memdup2(st->listeners, n * sizeof(*copy));

	for (size_t i = 0; i < n; i++)
		copy[i].fn(copy[i].userdata, batch, result);
	g_free(copy);
}

/* Seen ids outlive their messages by STORE_SEEN_RETENTION_S; pruned within a batch, hourly. */
static void prune_seen(struct store *st)
{
	char sql[160];
	int64_t t = now_ms();

	if (t - st->last_prune_ms < 3600 * 1000)
		return;
	st->last_prune_ms = t;
	snprintf(sql, sizeof(sql), "DELETE FROM seen WHERE at_ms < %lld",
		 (long long)(t - (int64_t)STORE_SEEN_RETENTION_S * 1000));
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		log_debug("store: pruning seen ids: %s", sqlite3_errmsg(st->db));
}

int store_flush(struct store *st)
{
	uint64_t batch;
	int r;

	if (st->timer) {
		g_source_remove(st->timer);
		st->timer = 0;
	}
	if (!st->in_tx)
		return 0;
	batch = st->batch++;
	st->in_tx = false;
	st->batch_writes = 0;
	r = step_done(st, Q_COMMIT);
	if (r < 0) {
		/* The batch is gone as a whole; what its writers wait for must not be acked. */
		log_error_errno(r, "store: commit of batch %llu failed, rolled back: %m",
				(unsigned long long)batch);
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		reload_marks(st);
		notify(st, batch, r);
		return r;
	}
	st->committed = batch;
	st->outbox_seq_committed = st->outbox_seq_written;
	st->inbox_seq_committed = st->inbox_seq_written;
	notify(st, batch, 0);
	return 0;
}

static gboolean batch_due(gpointer data)
{
	struct store *st = data;

	st->timer = 0;
	store_flush(st);
	return G_SOURCE_REMOVE;
}

/* Joins (or opens) the batch a write goes into. */
static int batch_join(struct store *st)
{
	int r;

	if (st->in_tx)
		return 0;
	r = step_done(st, Q_BEGIN);
	if (r < 0)
		return r;
	st->in_tx = true;
	prune_seen(st);
	if (st->p.use_timer && !st->timer)
		st->timer = g_timeout_add(st->p.batch_ms, batch_due, st);
	return 0;
}

/* After a write: the batch commits at once when full. */
static void batch_written(struct store *st, uint64_t *ret_batch)
{
	if (ret_batch)
		*ret_batch = st->batch;
	if (++st->batch_writes >= st->p.batch_max)
		store_flush(st);
}

/* -EALREADY if (kind, session, inc, id) was seen, else 0. */
static int seen_has(struct store *st, int kind, const char *session, uint64_t inc, uint64_t id)
{
	sqlite3_stmt *s = st->q[Q_SEEN_HAS];
	int rc;

	sqlite3_bind_int(s, 1, kind);
	sqlite3_bind_text(s, 2, session, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)inc);
	sqlite3_bind_int64(s, 4, (int64_t)id);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_ROW)
		return -EALREADY;
	return rc == SQLITE_DONE ? 0 : sql_err(st, rc, queries[Q_SEEN_HAS]);
}

/* Marks (kind, session, inc, id) seen; -EALREADY if it was. */
static int seen_add(struct store *st, int kind, const char *session, uint64_t inc, uint64_t id)
{
	sqlite3_stmt *s = st->q[Q_SEEN_ADD];
	int r;

	sqlite3_bind_int(s, 1, kind);
	sqlite3_bind_text(s, 2, session, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)inc);
	sqlite3_bind_int64(s, 4, (int64_t)id);
	sqlite3_bind_int64(s, 5, now_ms());
	r = step_done(st, Q_SEEN_ADD);
	if (r < 0)
		return r;
	return sqlite3_changes(st->db) ? 0 : -EALREADY;
}

int store_event_add(struct store *st, const char *session, uint64_t incarnation,
		    uint64_t event_id, const void *payload, size_t len, uint64_t *ret_batch)
{
	sqlite3_stmt *s = st->q[Q_OUTBOX_ADD];
	int full = 0, r;

	if (!session || len > INT_MAX)
		return -EINVAL;
	r = batch_join(st);
	if (r < 0)
		return r;
	if (st->outbox_count >= st->p.outbox_max)
		full = -ENOSPC;
	else if (st->outbox_session_max && session_held(st, session) >= st->outbox_session_max)
		full = -EDQUOT;
	/* Full: a resend of an event we have is still acknowledged; only new ones are refused. */
	if (full) {
		r = seen_has(st, SEEN_EVENT, session, incarnation, event_id);
		if (r == -EALREADY && ret_batch)
			*ret_batch = st->batch;
		return r < 0 ? r : full;
	}
	r = seen_add(st, SEEN_EVENT, session, incarnation, event_id);
	if (r == -EALREADY && ret_batch)
		*ret_batch = st->batch;
	if (r < 0)
		return r;
	sqlite3_bind_text(s, 1, session, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)incarnation);
	sqlite3_bind_int64(s, 3, (int64_t)event_id);
	sqlite3_bind_blob(s, 4, len ? payload : "", (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now_ms());
	r = step_done(st, Q_OUTBOX_ADD);
	if (r < 0)
		return r;
	st->outbox_seq_written = sqlite3_last_insert_rowid(st->db);
	st->outbox_count++;
	session_held_add(st, session, 1);
	batch_written(st, ret_batch);
	return 0;
}

void store_set_outbox_session_max(struct store *st, unsigned max)
{
	st->outbox_session_max = max;
}

unsigned store_outbox_session_count(const struct store *st, const char *session)
{
	return session_held(st, session);
}

/* Removes one row of the outbox or the inbox (query q, keyed by key, returning the row's
 * session) in the open batch; counts follow only when a row was there, so a repeated ack
 * changes nothing. by_session: also count the session's share down. */
static int queue_delete(struct store *st, int q, uint64_t key, unsigned *count, bool by_session,
			uint64_t *ret_batch)
{
	sqlite3_stmt *s = st->q[q];
	int r, rc;

	r = batch_join(st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, (int64_t)key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (by_session)
			session_held_add(st, (const char *)sqlite3_column_text(s, 0), -1);
		if (*count)
			(*count)--;
		rc = sqlite3_step(s);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return sql_err(st, rc, queries[q]);
	batch_written(st, ret_batch);
	return 0;
}

int store_event_acked(struct store *st, uint64_t seq)
{
	return queue_delete(st, Q_OUTBOX_DEL, seq, &st->outbox_count, true, NULL);
}

int store_events_foreach(struct store *st, uint64_t after, unsigned max,
			 int (*fn)(void *userdata, const struct store_event *e), void *userdata)
{
	sqlite3_stmt *s = st->q[Q_OUTBOX_LIST];
	int n = 0, rc;

	sqlite3_bind_int64(s, 1, (int64_t)after);
	sqlite3_bind_int64(s, 2, st->outbox_seq_committed);
	sqlite3_bind_int64(s, 3, max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_event e = {
		    .seq = (uint64_t)sqlite3_column_int64(s, 0),
		    .session = (const char *)sqlite3_column_text(s, 1),
		    .event_id = (uint64_t)sqlite3_column_int64(s, 2),
		    .payload = sqlite3_column_blob(s, 3),
		    .len = (size_t)sqlite3_column_bytes(s, 3),
		    .at_ms = sqlite3_column_int64(s, 4),
		    .incarnation = (uint64_t)sqlite3_column_int64(s, 5),
		};
		n++;
		if (fn(userdata, &e))
			break;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_err(st, rc, queries[Q_OUTBOX_LIST]);
	return n;
}

unsigned store_outbox_count(const struct store *st)
{
	return st->outbox_count;
}

unsigned store_outbox_max(const struct store *st)
{
	return st->p.outbox_max;
}

int store_delivery_add(struct store *st, uint64_t id, const char *session, const void *payload,
		       size_t len, uint64_t *ret_batch)
{
	sqlite3_stmt *s = st->q[Q_INBOX_ADD];
	int r;

	if (!session || len > INT_MAX)
		return -EINVAL;
	r = batch_join(st);
	if (r < 0)
		return r;
	/* Full: a resend of one we have is acknowledged again; a new one is refused, not kept. */
	if (st->inbox_count >= st->p.inbox_max) {
		r = seen_has(st, SEEN_DELIVERY, "", 0, id);
		if (r == -EALREADY && ret_batch)
			*ret_batch = st->batch;
		return r < 0 ? r : -ENOSPC;
	}
	r = seen_add(st, SEEN_DELIVERY, "", 0, id);
	if (r == -EALREADY && ret_batch)
		*ret_batch = st->batch;
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, (int64_t)id);
	sqlite3_bind_text(s, 2, session, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, len ? payload : "", (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now_ms());
	r = step_done(st, Q_INBOX_ADD);
	if (r < 0)
		return r;
	st->inbox_seq_written = sqlite3_last_insert_rowid(st->db);
	st->inbox_count++;
	batch_written(st, ret_batch);
	return 0;
}

int store_delivery_done(struct store *st, uint64_t id, uint64_t *ret_batch)
{
	return queue_delete(st, Q_INBOX_DEL, id, &st->inbox_count, false, ret_batch);
}

int store_deliveries_foreach(struct store *st, const char *session, uint64_t after, unsigned max,
			     int (*fn)(void *userdata, const struct store_delivery *dl),
			     void *userdata)
{
	sqlite3_stmt *s = st->q[Q_INBOX_LIST];
	int n = 0, rc;

	sqlite3_bind_text(s, 1, session, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)after);
	sqlite3_bind_int64(s, 3, st->inbox_seq_committed);
	sqlite3_bind_int64(s, 4, max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_delivery dl = {
		    .seq = (uint64_t)sqlite3_column_int64(s, 0),
		    .id = (uint64_t)sqlite3_column_int64(s, 1),
		    .session = (const char *)sqlite3_column_text(s, 2),
		    .payload = sqlite3_column_blob(s, 3),
		    .len = (size_t)sqlite3_column_bytes(s, 3),
		};
		n++;
		if (fn(userdata, &dl))
			break;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_err(st, rc, queries[Q_INBOX_LIST]);
	return n;
}

unsigned store_inbox_count(const struct store *st)
{
	return st->inbox_count;
}

uint64_t store_inbox_last_seq(const struct store *st)
{
	return (uint64_t)st->inbox_seq_committed;
}

unsigned store_inbox_max(const struct store *st)
{
	return st->p.inbox_max;
}

int store_incarnation_next(struct store *st, const char *session, uint64_t *ret)
{
	sqlite3_stmt *s = st->q[Q_INCARNATION_NEXT];
	uint64_t inc = 0;
	int r, rc;

	r = batch_join(st);
	if (r < 0)
		return r;
	sqlite3_bind_text(s, 1, session, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		inc = (uint64_t)sqlite3_column_int64(s, 0);
		rc = sqlite3_step(s);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE || !inc)
		return sql_err(st, rc, queries[Q_INCARNATION_NEXT]);
	/* Durable before the process exists: its events are keyed on it. */
	r = store_flush(st);
	if (r < 0)
		return r;
	*ret = inc;
	return 0;
}

int store_incarnation_current(struct store *st, const char *session, uint64_t *ret)
{
	static const char q[] = "SELECT last FROM incarnations WHERE session = ?";
	sqlite3_stmt *s = NULL;
	int rc;

	*ret = 0;
	rc = sqlite3_prepare_v2(st->db, q, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, q);
	sqlite3_bind_text(s, 1, session, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_err(st, rc, q);
}

int store_session_add(struct store *st, const char *name, const char *profile, const char *uplink,
		      uint64_t *ret_batch)
{
	return store_session_add_origin(st, name, profile, uplink, STORE_SESSION_BACKEND,
					ret_batch);
}

int store_session_add_origin(struct store *st, const char *name, const char *profile,
			     const char *uplink, enum store_session_origin origin,
			     uint64_t *ret_batch)
{
	sqlite3_stmt *s = st->q[Q_SESSION_ADD];
	int r;

	r = batch_join(st);
	if (r < 0)
		return r;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, profile, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, uplink ? uplink : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, (int)origin);
	r = step_done(st, Q_SESSION_ADD);
	if (r < 0)
		return r;
	batch_written(st, ret_batch);
	return 0;
}

int store_session_remove(struct store *st, const char *name, uint64_t *ret_batch)
{
	int r;

	r = batch_join(st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st->q[Q_SESSION_DEL], 1, name, -1, SQLITE_STATIC);
	r = step_done(st, Q_SESSION_DEL);
	if (r < 0)
		return r;
	batch_written(st, ret_batch);
	return 0;
}

int store_sessions_foreach(struct store *st,
			   int (*fn)(void *userdata, const struct store_session *s), void *userdata)
{
	sqlite3_stmt *s = st->q[Q_SESSION_LIST];
	int n = 0, rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_session ss = {
		    .name = (const char *)sqlite3_column_text(s, 0),
		    .profile = (const char *)sqlite3_column_text(s, 1),
		    .uplink = (const char *)sqlite3_column_text(s, 2),
		    .origin = (enum store_session_origin)sqlite3_column_int(s, 3),
		};
		n++;
		if (fn(userdata, &ss))
			break;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_err(st, rc, queries[Q_SESSION_LIST]);
	return n;
}

int store_add_commit_listener(struct store *st, store_commit_fn fn, void *userdata)
{
	struct listener *n = reallocarray(st->listeners, st->n_listeners + 1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	st->listeners = n;
	st->listeners[st->n_listeners++] = (struct listener){fn, userdata};
	return 0;
}

void store_remove_commit_listener(struct store *st, store_commit_fn fn, void *userdata)
{
	for (size_t i = 0; i < st->n_listeners; i++) {
		if (st->listeners[i].fn != fn || st->listeners[i].userdata != userdata)
			continue;
		memmove(&st->listeners[i], &st->listeners[i + 1],
			(st->n_listeners - i - 1) * sizeof(*st->listeners));
		st->n_listeners--;
		return;
	}
}

uint64_t store_committed(const struct store *st)
{
	return st->committed;
}

/* state_dir is cellmux's own and holds what backends and workers said: 0700 whether made here or
 * found with a looser mode. */
static int store_dir_prepare(const char *dir)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		return negative_errno();
	return 0;
}

/* Files of a store made by an older cellmuxd (or copied in) become 0600 too; SQLite gives the
 * -wal and -shm files it makes later the database file's mode. */
static int store_files_restrict(const char *db)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s%s", db, suffixes[i]) >= sizeof(path))
			return -ENAMETOOLONG;
		if (chmod(path, 0600) < 0 && errno != ENOENT)
			return negative_errno();
	}
	return 0;
}

/* 1 if table has column, 0 if not (or no such table). */
static int has_column(struct store *st, const char *table, const char *column)
{
	static const char sql[] = "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?";
	sqlite3_stmt *s;
	int rc, n = 0;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return 0;
	sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, column, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n > 0;
}

/* An SQLite result code, like sqlite3_exec's. */
static int migrate(struct store *st)
{
	int rc;

	if (!has_column(st, "outbox", "event_id") || has_column(st, "outbox", "incarnation"))
		return SQLITE_OK;
	log_info("store: adding worker incarnations to the outbox and the seen ids");
	rc = sqlite3_exec(st->db, migrate_v0, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(st->db, schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(st->db, migrate_v0_copy, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int store_open(const char *dir, const struct store_params *p, struct store **ret)
{
	_cleanup_free_ char *path = NULL;
	struct store *st;
	mode_t umask_old;
	int rc, r;

	r = store_dir_prepare(dir);
	if (r < 0)
		return r;
	if (asprintf(&path, "%s/%s", dir, STORE_DB_NAME) < 0)
		return -ENOMEM;
	r = store_files_restrict(path);
	if (r < 0)
		return r;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (p)
		st->p = *p;
	if (!st->p.outbox_max)
		st->p.outbox_max = STORE_DEFAULT_OUTBOX_MAX;
	if (!st->p.inbox_max)
		st->p.inbox_max = STORE_DEFAULT_INBOX_MAX;
	st->outbox_by_session = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (!st->p.batch_max)
		st->p.batch_max = STORE_DEFAULT_BATCH_MAX;
	if (!st->p.batch_ms)
		st->p.batch_ms = STORE_DEFAULT_BATCH_MS;
	st->batch = 1;
	/* New files 0600 from their first byte: the database, and the -wal and -shm files the
	 * PRAGMAs below make. The daemon is one thread, so the umask is ours for these lines. */
	umask_old = umask(077);
	rc = sqlite3_open_v2(
	    path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		umask(umask_old);
		r = st->db ? sql_err(st, rc, path) : -ENOMEM;
		goto fail;
	}
	/* FULL in WAL mode: COMMIT returns after the WAL is fsync'ed, so an ack after commit
	 * survives power loss, not only a crash of the process. */
	rc = sqlite3_exec(st->db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			  " PRAGMA foreign_keys=OFF; PRAGMA busy_timeout=2000;",
			  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = migrate(st);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(st->db, schema, NULL, NULL, NULL);
	/* Stores from before admin-started sessions were kept: every row is the backend's. */
	if (rc == SQLITE_OK && !has_column(st, "sessions", "origin"))
		rc = sqlite3_exec(st->db,
				  "ALTER TABLE sessions ADD COLUMN origin INTEGER NOT NULL DEFAULT 0",
				  NULL, NULL, NULL);
	umask(umask_old);
	if (rc != SQLITE_OK) {
		r = sql_err(st, rc, "schema");
		goto fail;
	}
	for (int i = 0; i < Q_MAX; i++) {
		rc = sqlite3_prepare_v3(st->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT,
					&st->q[i], NULL);
		if (rc != SQLITE_OK) {
			r = sql_err(st, rc, queries[i]);
			goto fail;
		}
	}
	r = reload_marks(st);
	if (r < 0)
		goto fail;
	r = removed_open(st);
	if (r < 0)
		goto fail;
	r = counters_open(st);
	if (r < 0)
		goto fail;
	r = state_open(st);
	if (r < 0)
		goto fail;
	*ret = st;
	return 0;
fail:
	store_free(st);
	return r;
}

void store_free(struct store *st)
{
	if (!st)
		return;
	if (st->db && st->q[Q_COMMIT])
		store_flush(st);
	if (st->timer)
		g_source_remove(st->timer);
	for (int i = 0; i < Q_MAX; i++)
		sqlite3_finalize(st->q[i]);
	removed_close(st);
	counters_close(st);
	state_close(st);
	sqlite3_close(st->db);
	if (st->outbox_by_session)
		g_hash_table_destroy(st->outbox_by_session);
	free(st->listeners);
	free(st);
}

/* ---- Final counters of removed sessions (store.h) ----
 * Kept apart from the message tables: own schema, own statements. SQLite integers are signed
 * 64-bit; counters stay far below 2^63 (8 EiB). */
static const char removed_schema[] =
    "CREATE TABLE IF NOT EXISTS removed_sessions(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " session TEXT NOT NULL, uplink TEXT NOT NULL, rx_bytes INTEGER NOT NULL,"
    " tx_bytes INTEGER NOT NULL, rx_packets INTEGER NOT NULL, tx_packets INTEGER NOT NULL,"
    " at_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS removed_sessions_uplink ON removed_sessions(uplink);";

static int removed_open(struct store *st)
{
	static const char add[] =
	    "INSERT INTO removed_sessions(session, uplink, rx_bytes, tx_bytes, rx_packets,"
	    " tx_packets, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)";
	static const char total[] =
	    "SELECT count(*), coalesce(sum(rx_bytes), 0), coalesce(sum(tx_bytes), 0),"
	    " coalesce(sum(rx_packets), 0), coalesce(sum(tx_packets), 0)"
	    " FROM removed_sessions WHERE uplink = ?";
	int rc;

	rc = sqlite3_exec(st->db, removed_schema, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "removed_sessions schema");
	rc = sqlite3_prepare_v3(st->db, add, -1, SQLITE_PREPARE_PERSISTENT, &st->removed_add, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(st->db, total, -1, SQLITE_PREPARE_PERSISTENT,
					&st->removed_total, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "removed_sessions statements");
	return 0;
}

static void removed_close(struct store *st)
{
	sqlite3_finalize(st->removed_add);
	sqlite3_finalize(st->removed_total);
}

static int64_t removed_i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

int store_removed_add(struct store *st, const struct store_removed *r, uint64_t *ret_batch)
{
	sqlite3_stmt *s = st->removed_add;
	int rc, e;

	if (!r->session || !r->uplink)
		return -EINVAL;
	e = batch_join(st);
	if (e < 0)
		return e;
	sqlite3_bind_text(s, 1, r->session, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->uplink, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, removed_i64(r->rx_bytes));
	sqlite3_bind_int64(s, 4, removed_i64(r->tx_bytes));
	sqlite3_bind_int64(s, 5, removed_i64(r->rx_packets));
	sqlite3_bind_int64(s, 6, removed_i64(r->tx_packets));
	sqlite3_bind_int64(s, 7, now_ms());
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return sql_err(st, rc, "removed_sessions insert");
	batch_written(st, ret_batch);
	return 0;
}

int store_removed_total(struct store *st, const char *uplink, struct store_removed_total *ret)
{
	sqlite3_stmt *s = st->removed_total;
	int rc;

	memset(ret, 0, sizeof(*ret));
	sqlite3_bind_text(s, 1, uplink, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ret->sessions = (unsigned)sqlite3_column_int64(s, 0);
		ret->rx_bytes = (uint64_t)sqlite3_column_int64(s, 1);
		ret->tx_bytes = (uint64_t)sqlite3_column_int64(s, 2);
		ret->rx_packets = (uint64_t)sqlite3_column_int64(s, 3);
		ret->tx_packets = (uint64_t)sqlite3_column_int64(s, 4);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : sql_err(st, rc, "removed_sessions total");
}

/* ---- Counters carried over a reboot (store.h) ----
 * Own schema and statements like the removed-sessions block. Values above INT64_MAX are kept
 * as their two's complement and read back the same: quota_used may wrap like the maps' base. */
static const char counters_schema[] =
    "CREATE TABLE IF NOT EXISTS counters(kind INTEGER NOT NULL, name TEXT NOT NULL,"
    " rx_bytes INTEGER NOT NULL, rx_packets INTEGER NOT NULL, tx_bytes INTEGER NOT NULL,"
    " tx_packets INTEGER NOT NULL, rx_dropped INTEGER NOT NULL, tx_dropped INTEGER NOT NULL,"
    " quota_action INTEGER NOT NULL, quota_limit INTEGER NOT NULL,"
    " quota_used INTEGER NOT NULL, quota_over INTEGER NOT NULL, at_ms INTEGER NOT NULL,"
    " PRIMARY KEY(kind, name)) WITHOUT ROWID;";

static int counters_open(struct store *st)
{
	static const char add[] =
	    "INSERT OR REPLACE INTO counters(kind, name, rx_bytes, rx_packets, tx_bytes,"
	    " tx_packets, rx_dropped, tx_dropped, quota_action, quota_limit, quota_used,"
	    " quota_over, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	static const char clear[] = "DELETE FROM counters";
	static const char list[] =
	    "SELECT kind, name, rx_bytes, rx_packets, tx_bytes, tx_packets, rx_dropped,"
	    " tx_dropped, quota_action, quota_limit, quota_used, quota_over FROM counters";
	int rc;

	rc = sqlite3_exec(st->db, counters_schema, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "counters schema");
	rc = sqlite3_prepare_v3(st->db, add, -1, SQLITE_PREPARE_PERSISTENT, &st->counters_add,
				NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(st->db, clear, -1, SQLITE_PREPARE_PERSISTENT,
					&st->counters_clear, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(st->db, list, -1, SQLITE_PREPARE_PERSISTENT,
					&st->counters_list, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "counters statements");
	return 0;
}

static void counters_close(struct store *st)
{
	sqlite3_finalize(st->counters_add);
	sqlite3_finalize(st->counters_clear);
	sqlite3_finalize(st->counters_list);
}

static int counters_put(struct store *st, const struct store_counters *c, int64_t at)
{
	sqlite3_stmt *s = st->counters_add;
	int rc;

	sqlite3_bind_int(s, 1, c->kind);
	sqlite3_bind_text(s, 2, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)c->rx_bytes);
	sqlite3_bind_int64(s, 4, (int64_t)c->rx_packets);
	sqlite3_bind_int64(s, 5, (int64_t)c->tx_bytes);
	sqlite3_bind_int64(s, 6, (int64_t)c->tx_packets);
	sqlite3_bind_int64(s, 7, (int64_t)c->rx_dropped);
	sqlite3_bind_int64(s, 8, (int64_t)c->tx_dropped);
	sqlite3_bind_int(s, 9, c->has_quota ? c->quota_action : 0);
	sqlite3_bind_int64(s, 10, c->has_quota ? (int64_t)c->quota_limit : 0);
	sqlite3_bind_int64(s, 11, c->has_quota ? (int64_t)c->quota_used : 0);
	sqlite3_bind_int(s, 12, c->has_quota && c->quota_over);
	sqlite3_bind_int64(s, 13, at);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : sql_err(st, rc, "counters insert");
}

int store_counters_save(struct store *st, const struct store_counters *v, size_t n)
{
	int64_t at = now_ms();
	int r, rc;

	for (size_t i = 0; i < n; i++)
		if (!v[i].name)
			return -EINVAL;
	/* One batch, whatever batch_max says: a size-triggered commit in the middle would leave
	 * a copy that is half one save and half none. */
	r = batch_join(st);
	if (r < 0)
		return r;
	rc = sqlite3_step(st->counters_clear);
	sqlite3_reset(st->counters_clear);
	if (rc != SQLITE_DONE)
		r = sql_err(st, rc, "counters clear");
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = counters_put(st, &v[i], at);
	if (r < 0) {
		/* Nothing half-done may commit: the batch goes as a whole, as on a failed commit. */
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		st->in_tx = false;
		st->batch_writes = 0;
		notify(st, st->batch++, r);
		reload_marks(st);
		return r;
	}
	st->batch_writes++;
	return store_flush(st);
}

int store_counters_foreach(struct store *st,
			   int (*fn)(void *userdata, const struct store_counters *c),
			   void *userdata)
{
	sqlite3_stmt *s = st->counters_list;
	int n = 0, rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_counters c = {
		    .kind = sqlite3_column_int(s, 0),
		    .name = (const char *)sqlite3_column_text(s, 1),
		    .rx_bytes = (uint64_t)sqlite3_column_int64(s, 2),
		    .rx_packets = (uint64_t)sqlite3_column_int64(s, 3),
		    .tx_bytes = (uint64_t)sqlite3_column_int64(s, 4),
		    .tx_packets = (uint64_t)sqlite3_column_int64(s, 5),
		    .rx_dropped = (uint64_t)sqlite3_column_int64(s, 6),
		    .tx_dropped = (uint64_t)sqlite3_column_int64(s, 7),
		    .quota_action = sqlite3_column_int(s, 8),
		    .quota_limit = (uint64_t)sqlite3_column_int64(s, 9),
		    .quota_used = (uint64_t)sqlite3_column_int64(s, 10),
		    .quota_over = sqlite3_column_int(s, 11) != 0,
		};
		c.has_quota = c.quota_action != 0;
		n++;
		if (fn(userdata, &c))
			break;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_err(st, rc, "counters list");
	return n;
}

/* ---- Worker state blobs (store.h) ----
 * Sealed by the caller before they get here: this table never holds a worker's plaintext. */
enum { S_PUT, S_DEL, S_GET, S_LIST };

static const char *const state_queries[] = {
    [S_PUT] = "INSERT OR REPLACE INTO state_blobs(session, blob) VALUES (?, ?)",
    [S_DEL] = "DELETE FROM state_blobs WHERE session = ?",
    [S_GET] = "SELECT blob FROM state_blobs WHERE session = ?",
    [S_LIST] = "SELECT session, blob FROM state_blobs ORDER BY session",
};

static int state_open(struct store *st)
{
	int rc;

	rc = sqlite3_exec(st->db,
			  "CREATE TABLE IF NOT EXISTS state_blobs(session TEXT PRIMARY KEY,"
			  " blob BLOB NOT NULL);",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "state_blobs schema");
	for (size_t i = 0; i < ARRAY_SIZE(state_queries); i++) {
		rc = sqlite3_prepare_v3(st->db, state_queries[i], -1, SQLITE_PREPARE_PERSISTENT,
					&st->state_q[i], NULL);
		if (rc != SQLITE_OK)
			return sql_err(st, rc, state_queries[i]);
	}
	return 0;
}

static void state_close(struct store *st)
{
	for (size_t i = 0; i < ARRAY_SIZE(st->state_q); i++)
		sqlite3_finalize(st->state_q[i]);
}

static int state_write(struct store *st, int q, const char *session, const void *blob,
		       size_t len, uint64_t *ret_batch)
{
	sqlite3_stmt *s = st->state_q[q];
	int rc, e;

	if (!session || len > INT_MAX)
		return -EINVAL;
	e = batch_join(st);
	if (e < 0)
		return e;
	sqlite3_bind_text(s, 1, session, -1, SQLITE_STATIC);
	if (q == S_PUT)
		sqlite3_bind_blob(s, 2, blob, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return sql_err(st, rc, state_queries[q]);
	batch_written(st, ret_batch);
	return 0;
}

int store_state_put(struct store *st, const char *session, const void *blob, size_t len,
		    uint64_t *ret_batch)
{
	if (!len)
		return -EINVAL;
	return state_write(st, S_PUT, session, blob, len, ret_batch);
}

int store_state_delete(struct store *st, const char *session, uint64_t *ret_batch)
{
	return state_write(st, S_DEL, session, NULL, 0, ret_batch);
}

int store_state_get(struct store *st, const char *session, void **ret, size_t *ret_len)
{
	sqlite3_stmt *s = st->state_q[S_GET];
	int rc, r = -ENOENT;

	sqlite3_bind_text(s, 1, session, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(s, 0);
		size_t n = (size_t)sqlite3_column_bytes(s, 0);
		void *copy = malloc(n ? n : 1);

		if (!copy) {
			r = -ENOMEM;
		} else {
			if (n)
				memcpy(copy, b, n);
			*ret = copy;
			*ret_len = n;
			r = 0;
		}
	} else if (rc != SQLITE_DONE) {
		r = sql_err(st, rc, state_queries[S_GET]);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return r;
}

int store_state_foreach(struct store *st,
			int (*fn)(void *userdata, const char *session, const void *blob,
				  size_t len),
			void *userdata)
{
	sqlite3_stmt *s = st->state_q[S_LIST];
	int n = 0, rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		n++;
		if (fn(userdata, (const char *)sqlite3_column_text(s, 0),
		       sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1)))
			break;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_err(st, rc, state_queries[S_LIST]);
	return n;
}
