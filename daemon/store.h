/* store.h — cellmuxd's durable state in one SQLite database (WAL) under state_dir: sessions the
 * backend or an admin started, a copy of the counters for after a reboot, the outbox (worker events for the backend), the inbox (backend deliveries for
 * workers) and the ids already seen, with group commit.
 *
 * Group commit: every write joins the open batch (one transaction); the batch commits when it
 * holds batch_max writes or batch_ms after its first write, whichever comes first, so one fsync
 * covers many messages. The rule for callers: acknowledge a message to its sender only once the
 * batch that wrote it has committed. A write returns the batch number it joined; commit
 * listeners learn the number of each committed batch (store_committed() tells it too).
 *
 * Outbox cap: at most outbox_max events wait for the backend's ack, and at most the session
 * limit (store_set_outbox_session_max, the fair share the caller computes) of them from one
 * session. A new event beyond either is refused (-ENOSPC, -EDQUOT) and never written, so the
 * worker gets an error and keeps it (retries later); nothing is ever dropped silently. The inbox
 * likewise holds at most inbox_max deliveries (-ENOSPC: the backend resends later).
 *
 * Event identity: (session, incarnation, event_id). Incarnations number the worker processes
 * of a session name (store_incarnation_next, durable before it returns). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_DB_NAME "cellmux.db"
#define STORE_DEFAULT_OUTBOX_MAX 100000
#define STORE_DEFAULT_INBOX_MAX 10000
#define STORE_DEFAULT_BATCH_MAX 256
#define STORE_DEFAULT_BATCH_MS 2
/* Ids already seen are remembered this long after their message left the store, so a sender
 * that resends within it is deduplicated. */
#define STORE_SEEN_RETENTION_S (7 * 24 * 3600)

struct store;

struct store_params {
	unsigned outbox_max; /* 0: STORE_DEFAULT_OUTBOX_MAX */
	unsigned inbox_max;  /* 0: STORE_DEFAULT_INBOX_MAX */
	unsigned batch_max;  /* 0: STORE_DEFAULT_BATCH_MAX; 1 commits every write at once */
	unsigned batch_ms;   /* 0: STORE_DEFAULT_BATCH_MS */
	/* false: no GLib timer; the caller flushes (unit tests, tools). */
	bool use_timer;
};

/* result 0: batch `batch` (and every one before) is durable; < 0: it was rolled back and none
 * of its writes exist: nothing of it may be acknowledged. */
typedef void (*store_commit_fn)(void *userdata, uint64_t batch, int result);

struct store_event {
	uint64_t seq; /* outbox order, unique per gateway, never reused */
	const char *session;
	uint64_t incarnation; /* the worker process's, per session */
	uint64_t event_id;    /* the worker's id, unique per process */
	const void *payload;
	size_t len;
	int64_t at_ms;
};

struct store_delivery {
	uint64_t seq; /* inbox order */
	uint64_t id;  /* the backend's id, unique per gateway */
	const char *session;
	const void *payload;
	size_t len;
};

/* Who started a session: the backend (relay.c restores those), or an admin with `cellmuxctl
 * session start` (the daemon restores those, with or without a backend). */
enum store_session_origin {
	STORE_SESSION_BACKEND = 0,
	STORE_SESSION_ADMIN = 1,
};

struct store_session {
	const char *name, *profile, *uplink; /* uplink "" when the router placed it */
	enum store_session_origin origin;
};

/* Creates dir if needed and makes it 0700, opens or creates dir/STORE_DB_NAME; the database and
 * its -wal and -shm files are 0600. */
int store_open(const char *dir, const struct store_params *p, struct store **ret);
/* Commits the open batch (listeners are told), then closes. NULL is a no-op. */
void store_free(struct store *st);

int store_add_commit_listener(struct store *st, store_commit_fn fn, void *userdata);
void store_remove_commit_listener(struct store *st, store_commit_fn fn, void *userdata);
/* Commits the open batch now; 0 when nothing is open. */
int store_flush(struct store *st);
/* The newest batch that is durable; writes report the batch they joined. */
uint64_t store_committed(const struct store *st);

/* A worker event into the outbox. -EALREADY: (session, incarnation, event_id) was seen before
 * (the event is in the outbox or was delivered already): acknowledge it again once *ret_batch
 * commits, write nothing. -ENOSPC: the outbox is full; -EDQUOT: the session holds its limit. */
int store_event_add(struct store *st, const char *session, uint64_t incarnation,
		    uint64_t event_id, const void *payload, size_t len, uint64_t *ret_batch);
/* Events one session may hold in the outbox; 0: no limit but outbox_max. */
void store_set_outbox_session_max(struct store *st, unsigned max);
unsigned store_outbox_session_count(const struct store *st, const char *session);
/* The backend acknowledged outbox entry seq. Unknown seqs are ignored. */
int store_event_acked(struct store *st, uint64_t seq);
/* Calls fn for up to max committed outbox entries with seq > after, in seq order; fn returning
 * non-zero stops. Returns the number visited or -errno. */
int store_events_foreach(struct store *st, uint64_t after, unsigned max,
			 int (*fn)(void *userdata, const struct store_event *e), void *userdata);
unsigned store_outbox_count(const struct store *st);
unsigned store_outbox_max(const struct store *st);

/* A backend delivery into the inbox; -EALREADY: id seen before (ack it again once *ret_batch
 * commits); -ENOSPC: the inbox holds inbox_max deliveries, nothing written. */
int store_delivery_add(struct store *st, uint64_t id, const char *session, const void *payload,
		       size_t len, uint64_t *ret_batch);
/* The worker acknowledged delivery id: it leaves the inbox (its id stays seen) once *ret_batch
 * (may be NULL) commits. */
int store_delivery_done(struct store *st, uint64_t id, uint64_t *ret_batch);
/* Committed inbox entries of session with seq > after, in seq order; like store_events_foreach. */
int store_deliveries_foreach(struct store *st, const char *session, uint64_t after, unsigned max,
			     int (*fn)(void *userdata, const struct store_delivery *dl),
			     void *userdata);
unsigned store_inbox_count(const struct store *st);
/* The newest committed inbox seq (at open: of everything a previous run left). */
uint64_t store_inbox_last_seq(const struct store *st);
unsigned store_inbox_max(const struct store *st);

/* The next incarnation of session (1 for a name never seen), committed before it returns: the
 * open batch is flushed, so listeners may be called from inside. */
int store_incarnation_next(struct store *st, const char *session, uint64_t *ret);
/* The newest incarnation given out for session (0: none): the running worker's, which a
 * restarted daemon that adopts it keeps. */
int store_incarnation_current(struct store *st, const char *session, uint64_t *ret);

/* Sessions started by the backend (store_session_add) or an admin (store_session_add_origin),
 * to start again after a restart; one row per name, the last add wins. */
int store_session_add(struct store *st, const char *name, const char *profile, const char *uplink,
		      uint64_t *ret_batch);
int store_session_add_origin(struct store *st, const char *name, const char *profile,
			     const char *uplink, enum store_session_origin origin,
			     uint64_t *ret_batch);
int store_session_remove(struct store *st, const char *name, uint64_t *ret_batch);
int store_sessions_foreach(struct store *st,
			   int (*fn)(void *userdata, const struct store_session *s),
			   void *userdata);

/* ---- Final counters of removed sessions ----
 * A session removed for good (`cellmuxctl session stop`, a reload without it, a backend's stop)
 * takes its last rx/tx bytes and packets into this table before accounting forgets its name,
 * so per-uplink totals (cellmuxctl, /metrics, usage reports) lose nothing of it. One row per
 * removal; rows are kept. */
struct store_removed {
	const char *session, *uplink;
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
};

struct store_removed_total {
	unsigned sessions; /* removals recorded */
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
};

/* Joins the open batch like every write: durable once *ret_batch commits. */
int store_removed_add(struct store *st, const struct store_removed *r, uint64_t *ret_batch);
/* The sums over uplink's removed sessions (zeros when none); sees uncommitted rows too. */
int store_removed_total(struct store *st, const char *uplink, struct store_removed_total *ret);

/* ---- Counters carried over a reboot ----
 * A copy of every name's counters and quota from the pinned maps (bpf/acct.h), saved
 * periodically and at a clean stop; after a reboot emptied bpffs the daemon writes them back
 * into the new maps. Kinds are bpf/acct.h's enum acct_kind numbers. */
struct store_counters {
	int kind;
	const char *name;
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets, rx_dropped, tx_dropped;
	bool has_quota;
	int quota_action; /* enum acct_quota_action */
	uint64_t quota_limit, quota_used;
	bool quota_over;
};

/* Replaces the whole saved copy with v[0..n) in one batch, committed before it returns (the
 * open batch commits with it): after a crash the copy is one save or the one before, never a
 * mix. */
int store_counters_save(struct store *st, const struct store_counters *v, size_t n);
/* The saved copy, in no particular order; fn returning non-zero stops. Visited count or -errno. */
int store_counters_foreach(struct store *st,
			   int (*fn)(void *userdata, const struct store_counters *c),
			   void *userdata);

/* ---- Worker state blobs ----
 * One blob per session name (sealed by the caller, daemon/seal.h: the store holds no worker's
 * plaintext), kept until deleted: across worker and daemon restarts. Writes join the open batch
 * like every write: durable once *ret_batch commits. */
/* Replaces session's blob; len 0 is -EINVAL (delete instead). */
int store_state_put(struct store *st, const char *session, const void *blob, size_t len,
		    uint64_t *ret_batch);
/* No blob is not an error. */
int store_state_delete(struct store *st, const char *session, uint64_t *ret_batch);
/* A copy of session's blob (malloc'ed) in *ret; -ENOENT: none. Sees uncommitted writes. */
int store_state_get(struct store *st, const char *session, void **ret, size_t *ret_len);
/* Calls fn for every blob, by session name; fn returning non-zero stops. fn must not write to
 * the store. Returns the number visited or -errno. */
int store_state_foreach(struct store *st,
			int (*fn)(void *userdata, const char *session, const void *blob,
				  size_t len),
			void *userdata);
