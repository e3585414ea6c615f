/* test_store.c — the durable store: dedup of ids already seen (keyed on the worker process's
 * incarnation), the outbox cap, its per-session share and the inbox cap, incarnations, the
 * migration of a store from before incarnations, readers never see an uncommitted batch, group
 * commit, and crash safety (a child killed with SIGKILL mid-batch loses nothing it acked);
 * admin-started sessions keep their origin; the saved copy of the counters is replaced whole,
 * in one batch, durable when the save returns, and reads back bit for bit. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon/store.h"

struct ctx {
	char dir[64];
	struct store *st;
	uint64_t last_batch;
	unsigned commits;
	int last_result;
};

static void on_commit(void *userdata, uint64_t batch, int result)
{
	struct ctx *c = userdata;

	c->last_batch = batch;
	c->last_result = result;
	c->commits++;
}

static int open_store_p(struct ctx *c, const struct store_params *p)
{
	int r = store_open(c->dir, p, &c->st);

	if (r == 0)
		store_add_commit_listener(c->st, on_commit, c);
	return r;
}

static int open_store(struct ctx *c, unsigned batch_max, unsigned outbox_max)
{
	struct store_params p = {.batch_max = batch_max, .outbox_max = outbox_max};

	return open_store_p(c, &p);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	snprintf(c->dir, sizeof(c->dir), "/tmp/cellmux-store.XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	*state = c;
	return open_store(c, 1000, 0);
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char cmd[128];

	store_free(c->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	if (system(cmd) != 0)
		return -1;
	free(c);
	return 0;
}

static void reopen(struct ctx *c, unsigned batch_max, unsigned outbox_max)
{
	store_free(c->st);
	c->st = NULL;
	assert_int_equal(open_store(c, batch_max, outbox_max), 0);
}

struct seen_events {
	uint64_t seq[64], id[64], inc[64];
	char session[64][16];
	char payload[64][16];
	int n;
};

static int collect_event(void *userdata, const struct store_event *e)
{
	struct seen_events *s = userdata;

	s->seq[s->n] = e->seq;
	s->id[s->n] = e->event_id;
	s->inc[s->n] = e->incarnation;
	snprintf(s->session[s->n], sizeof(s->session[0]), "%s", e->session);
	snprintf(s->payload[s->n], sizeof(s->payload[0]), "%.*s", (int)e->len,
		 (const char *)e->payload);
	s->n++;
	return s->n >= 64;
}

static void event_duplicate_is_already(void **state)
{
	struct ctx *c = *state;
	uint64_t b1 = 0, b2 = 0;

	assert_int_equal(store_event_add(c->st, "s1", 1, 7, "seven", 5, &b1), 0);
	assert_int_equal(store_event_add(c->st, "s1", 1, 7, "seven", 5, &b2), -EALREADY);
	/* The duplicate is acked with the batch that holds the original. */
	assert_true(b2 >= b1);
	/* Same id in another session is another event. */
	assert_int_equal(store_event_add(c->st, "s2", 1, 7, "other", 5, NULL), 0);
	assert_int_equal(store_outbox_count(c->st), 2);
	assert_int_equal(store_flush(c->st), 0);
	assert_int_equal(c->last_batch, b1);
	assert_int_equal(store_event_add(c->st, "s1", 1, 7, "seven", 5, NULL), -EALREADY);
}

static void readers_see_committed_batches_only(void **state)
{
	struct ctx *c = *state;
	struct seen_events s = {0};

	assert_int_equal(store_event_add(c->st, "s1", 1, 1, "a", 1, NULL), 0);
	assert_int_equal(store_events_foreach(c->st, 0, 64, collect_event, &s), 0);
	assert_int_equal(store_flush(c->st), 0);
	assert_int_equal(store_event_add(c->st, "s1", 1, 2, "b", 1, NULL), 0);
	assert_int_equal(store_events_foreach(c->st, 0, 64, collect_event, &s), 1);
	assert_string_equal(s.payload[0], "a");
	assert_int_equal(store_flush(c->st), 0);
	s.n = 0;
	assert_int_equal(store_events_foreach(c->st, 0, 64, collect_event, &s), 2);
	assert_true(s.seq[0] < s.seq[1]);
	assert_string_equal(s.payload[1], "b");
	/* Only what follows a given seq. */
	s.n = 0;
	assert_int_equal(store_events_foreach(c->st, s.seq[0], 64, collect_event, &s), 1);
	assert_int_equal(s.id[0], 2);
}

static void acked_events_leave_and_seq_is_never_reused(void **state)
{
	struct ctx *c = *state;
	struct seen_events s = {0};
	uint64_t first;

	assert_int_equal(store_event_add(c->st, "s1", 1, 1, "a", 1, NULL), 0);
	assert_int_equal(store_flush(c->st), 0);
	assert_int_equal(store_events_foreach(c->st, 0, 64, collect_event, &s), 1);
	first = s.seq[0];
	assert_int_equal(store_event_acked(c->st, first), 0);
	assert_int_equal(store_event_acked(c->st, 9999), 0); /* unknown: ignored */
	assert_int_equal(store_flush(c->st), 0);
	assert_int_equal(store_outbox_count(c->st), 0);
	reopen(c, 1000, 0);
	/* Acked and gone, but its id is still known: a late resend is a duplicate. */
	assert_int_equal(store_event_add(c->st, "s1", 1, 1, "a", 1, NULL), -EALREADY);
	assert_int_equal(store_event_add(c->st, "s1", 1, 2, "b", 1, NULL), 0);
	assert_int_equal(store_flush(c->st), 0);
	s.n = 0;
	assert_int_equal(store_events_foreach(c->st, 0, 64, collect_event, &s), 1);
	assert_true(s.seq[0] > first);
}

static void full_outbox_refuses_new_events_only(void **state)
{
	struct ctx *c = *state;
	struct seen_events s = {0};

	reopen(c, 1000, 3);
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(store_event_add(c->st, "s1", 1, i, "x", 1, NULL), 0);
	assert_int_equal(store_event_add(c->st, "s1", 1, 4, "x", 1, NULL), -ENOSPC);
	/* A resend of one it has is still a duplicate, not a refusal. */
	assert_int_equal(store_event_add(c->st, "s1", 1, 2, "x", 1, NULL), -EALREADY);
	assert_int_equal(store_flush(c->st), 0);
	assert_int_equal(store_events_foreach(c->st, 0, 64, collect_event, &s), 3);
	assert_int_equal(store_event_acked(c->st, s.seq[0]), 0);
	/* Refused means not written: the retry is accepted once there is room. */
	assert_int_equal(store_event_add(c->st, "s1", 1, 4, "x", 1, NULL), 0);
	assert_int_equal(store_outbox_count(c->st), 3);
}

static void restarted_worker_ids_are_new_events(void **state)
{
	struct ctx *c = *state;
	struct seen_events s = {0};

	/* Process 1 of s1 sends ids 1 and 2; process 2 numbers from 1 again. */
	assert_int_equal(store_event_add(c->st, "s1", 1, 1, "a", 1, NULL), 0);
	assert_int_equal(store_event_add(c->st, "s1", 1, 2, "b", 1, NULL), 0);
	assert_int_equal(store_event_add(c->st, "s1", 2, 1, "c", 1, NULL), 0);
	assert_int_equal(store_event_add(c->st, "s1", 2, 2, "d", 1, NULL), 0);
	/* A resend after a lost Ack in the same process is still a duplicate. */
	assert_int_equal(store_event_add(c->st, "s1", 2, 1, "c", 1, NULL), -EALREADY);
	assert_int_equal(store_flush(c->st), 0);
	reopen(c, 1000, 0);
	assert_int_equal(store_event_add(c->st, "s1", 1, 2, "b", 1, NULL), -EALREADY);
	assert_int_equal(store_event_add(c->st, "s1", 3, 2, "e", 1, NULL), 0);
	assert_int_equal(store_flush(c->st), 0);
	assert_int_equal(store_events_foreach(c->st, 0, 64, collect_event, &s), 5);
	assert_string_equal(s.payload[2], "c");
	assert_int_equal(s.inc[2], 2);
	assert_int_equal(s.id[2], 1);
	assert_int_equal(s.inc[4], 3);
}

static void incarnations_rise_per_session_and_are_durable(void **state)
{
	struct ctx *c = *state;
	uint64_t inc = 0, b = 0;

	assert_int_equal(store_incarnation_next(c->st, "s1", &inc), 0);
	assert_int_equal(inc, 1);
	assert_int_equal(store_incarnation_next(c->st, "s1", &inc), 0);
	assert_int_equal(inc, 2);
	assert_int_equal(store_incarnation_next(c->st, "s2", &inc), 0);
	assert_int_equal(inc, 1);
	/* Committed before it returns, with whatever the open batch held. */
	assert_int_equal(store_event_add(c->st, "s2", 1, 1, "a", 1, &b), 0);
	assert_true(store_committed(c->st) < b);
	assert_int_equal(store_incarnation_next(c->st, "s1", &inc), 0);
	assert_int_equal(inc, 3);
	assert_true(store_committed(c->st) >= b);
	reopen(c, 1000, 0);
	assert_int_equal(store_incarnation_next(c->st, "s1", &inc), 0);
	assert_int_equal(inc, 4);
}

static void chatty_session_is_held_to_its_share(void **state)
{
	struct ctx *c = *state;
	struct seen_events s = {0};

	reopen(c, 1000, 10);
	store_set_outbox_session_max(c->st, 3);
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(store_event_add(c->st, "chatty", 1, i, "x", 1, NULL), 0);
	assert_int_equal(store_event_add(c->st, "chatty", 1, 4, "x", 1, NULL), -EDQUOT);
	/* Its resends are still duplicates, and the others still have room. */
	assert_int_equal(store_event_add(c->st, "chatty", 1, 3, "x", 1, NULL), -EALREADY);
	assert_int_equal(store_event_add(c->st, "quiet", 1, 1, "q", 1, NULL), 0);
	assert_int_equal(store_outbox_session_count(c->st, "chatty"), 3);
	assert_int_equal(store_outbox_session_count(c->st, "quiet"), 1);
	assert_int_equal(store_flush(c->st), 0);
	/* The counts come back from the database after a restart. */
	reopen(c, 1000, 10);
	store_set_outbox_session_max(c->st, 3);
	assert_int_equal(store_outbox_session_count(c->st, "chatty"), 3);
	assert_int_equal(store_event_add(c->st, "chatty", 1, 4, "x", 1, NULL), -EDQUOT);
	/* The backend's ack of one makes room for exactly one more. */
	assert_int_equal(store_events_foreach(c->st, 0, 64, collect_event, &s), 4);
	assert_string_equal(s.session[0], "chatty");
	assert_int_equal(store_event_acked(c->st, s.seq[0]), 0);
	assert_int_equal(store_event_acked(c->st, s.seq[0]), 0); /* repeated: no double count */
	assert_int_equal(store_outbox_session_count(c->st, "chatty"), 2);
	assert_int_equal(store_event_add(c->st, "chatty", 1, 4, "x", 1, NULL), 0);
	assert_int_equal(store_event_add(c->st, "chatty", 1, 5, "x", 1, NULL), -EDQUOT);
}

static void full_inbox_refuses_new_deliveries_only(void **state)
{
	struct ctx *c = *state;
	struct store_params p = {.batch_max = 1000, .inbox_max = 2};

	store_free(c->st);
	assert_int_equal(open_store_p(c, &p), 0);
	assert_int_equal(store_inbox_max(c->st), 2);
	assert_int_equal(store_delivery_add(c->st, 1, "s1", "p", 1, NULL), 0);
	assert_int_equal(store_delivery_add(c->st, 2, "s1", "p", 1, NULL), 0);
	assert_int_equal(store_delivery_add(c->st, 3, "s1", "p", 1, NULL), -ENOSPC);
	/* A resend of one it has is acked again, not refused. */
	assert_int_equal(store_delivery_add(c->st, 2, "s1", "p", 1, NULL), -EALREADY);
	/* Refused means not kept: once a worker took one, the resend of 3 is a new delivery. */
	assert_int_equal(store_delivery_done(c->st, 1, NULL), 0);
	assert_int_equal(store_delivery_add(c->st, 3, "s1", "p", 1, NULL), 0);
	assert_int_equal(store_inbox_count(c->st), 2);
}

static void store_from_before_incarnations_is_migrated(void **state)
{
	struct ctx *c = *state;
	struct seen_events s = {0};
	char path[128], *err = NULL;
	sqlite3 *db;

	store_free(c->st);
	c->st = NULL;
	snprintf(path, sizeof(path), "%s/" STORE_DB_NAME, c->dir);
	assert_int_equal(unlink(path), 0);
	/* The schema of the previous release, with one waiting event and seq 41 used. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
			 "CREATE TABLE outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
			 " session TEXT NOT NULL, event_id INTEGER NOT NULL, payload BLOB NOT NULL,"
			 " at_ms INTEGER NOT NULL, UNIQUE(session, event_id));"
			 "CREATE TABLE seen(kind INTEGER NOT NULL, session TEXT NOT NULL,"
			 " id INTEGER NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY(kind, session,"
			 " id)) WITHOUT ROWID;"
			 "CREATE INDEX seen_age ON seen(at_ms);"
			 "INSERT INTO outbox VALUES (40, 's1', 5, 'old', 1);"
			 "INSERT INTO outbox VALUES (41, 's1', 6, 'acked', 1);"
			 "DELETE FROM outbox WHERE seq = 41;"
			 /* seen now: older ones are pruned after STORE_SEEN_RETENTION_S */
			 "INSERT INTO seen SELECT 0, 's1', 5, unixepoch() * 1000 UNION"
			 " SELECT 0, 's1', 6, unixepoch() * 1000;",
			 NULL, NULL, &err),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(open_store(c, 1000, 0), 0);
	assert_int_equal(store_outbox_count(c->st), 1);
	/* What it had is still a duplicate, now of incarnation 0; incarnation 1 is new. */
	assert_int_equal(store_event_add(c->st, "s1", 0, 6, "x", 1, NULL), -EALREADY);
	assert_int_equal(store_event_add(c->st, "s1", 1, 6, "new", 3, NULL), 0);
	assert_int_equal(store_flush(c->st), 0);
	assert_int_equal(store_events_foreach(c->st, 0, 64, collect_event, &s), 2);
	assert_int_equal(s.seq[0], 40);
	assert_string_equal(s.payload[0], "old");
	assert_int_equal(s.inc[0], 0);
	/* Seq 41 was used once: never again. */
	assert_true(s.seq[1] > 41);
	assert_string_equal(s.payload[1], "new");
}

struct seen_deliveries {
	uint64_t id[64];
	int n;
};

static int collect_delivery(void *userdata, const struct store_delivery *dl)
{
	struct seen_deliveries *s = userdata;

	s->id[s->n++] = dl->id;
	return 0;
}

static void deliveries_per_session_dedup_and_done(void **state)
{
	struct ctx *c = *state;
	struct seen_deliveries s = {0};

	assert_int_equal(store_delivery_add(c->st, 10, "s1", "p", 1, NULL), 0);
	assert_int_equal(store_delivery_add(c->st, 11, "s2", "p", 1, NULL), 0);
	assert_int_equal(store_delivery_add(c->st, 12, "s1", "p", 1, NULL), 0);
	assert_int_equal(store_delivery_add(c->st, 10, "s1", "p", 1, NULL), -EALREADY);
	assert_int_equal(store_deliveries_foreach(c->st, "s1", 0, 64, collect_delivery, &s), 0);
	assert_int_equal(store_flush(c->st), 0);
	assert_int_equal(store_deliveries_foreach(c->st, "s1", 0, 64, collect_delivery, &s), 2);
	assert_int_equal(s.id[0], 10);
	assert_int_equal(s.id[1], 12);
	assert_int_equal(store_delivery_done(c->st, 10, NULL), 0);
	reopen(c, 1000, 0);
	s.n = 0;
	assert_int_equal(store_deliveries_foreach(c->st, "s1", 0, 64, collect_delivery, &s), 1);
	assert_int_equal(s.id[0], 12);
	assert_int_equal(store_inbox_count(c->st), 2);
	assert_int_equal(store_delivery_add(c->st, 10, "s1", "p", 1, NULL), -EALREADY);
}

static int collect_session(void *userdata, const struct store_session *ss)
{
	char *out = userdata;

	strcat(out, ss->name);
	strcat(out, "=");
	strcat(out, ss->profile);
	strcat(out, "@");
	strcat(out, ss->uplink);
	strcat(out, ";");
	return 0;
}

static void sessions_come_back_after_reopen(void **state)
{
	struct ctx *c = *state;
	char out[256] = "";

	assert_int_equal(store_session_add(c->st, "a", "echo", "", NULL), 0);
	assert_int_equal(store_session_add(c->st, "b", "probe", "sim1", NULL), 0);
	assert_int_equal(store_session_add(c->st, "c", "echo", "", NULL), 0);
	assert_int_equal(store_session_remove(c->st, "c", NULL), 0);
	reopen(c, 1000, 0);
	assert_int_equal(store_sessions_foreach(c->st, collect_session, out), 2);
	assert_string_equal(out, "a=echo@;b=probe@sim1;");
}

static void group_commit_batches_writes(void **state)
{
	struct ctx *c = *state;
	uint64_t b = 0, first = 0;

	reopen(c, 16, 0);
	c->commits = 0;
	for (uint64_t i = 1; i <= 100; i++) {
		assert_int_equal(store_event_add(c->st, "s1", 1, i, "x", 1, &b), 0);
		if (i == 1)
			first = b;
	}
	/* 100 writes, batches of 16: 6 full batches committed, the 7th still open. */
	assert_int_equal(c->commits, 6);
	assert_int_equal(c->last_batch, first + 5);
	assert_int_equal(store_committed(c->st), first + 5);
	assert_int_equal(b, first + 6);
	assert_int_equal(store_flush(c->st), 0);
	assert_int_equal(c->commits, 7);
	assert_int_equal(store_committed(c->st), b);
	assert_int_equal(store_flush(c->st), 0);
	assert_int_equal(c->commits, 7); /* nothing open, nothing committed */
}

/* The child writes events as fast as it can and, after each commit, tells the parent the
 * highest event id that commit made durable: that is its acknowledgement. */
struct child {
	int fd;
	uint64_t written;
};

static void child_on_commit(void *userdata, uint64_t batch, int result)
{
	struct child *ch = userdata;

	if (result == 0 && write(ch->fd, &ch->written, sizeof(ch->written)) != sizeof(ch->written))
		_exit(3);
}

static void child_run(const char *dir, int fd)
{
	struct store_params p = {.batch_max = 37};
	struct child ch = {.fd = fd};
	struct store *st;
	char payload[200];

	if (store_open(dir, &p, &st) < 0)
		_exit(2);
	store_add_commit_listener(st, child_on_commit, &ch);
	for (uint64_t i = 1;; i++) {
		int n = snprintf(payload, sizeof(payload), "event %llu", (unsigned long long)i);

		/* The id of this write counts as written only once the call returned. */
		if (store_event_add(st, "crash", 1, i, payload, (size_t)n, NULL) < 0)
			_exit(4);
		ch.written = i;
		/* Some batches end early, as the timer would end them. */
		if (i % 101 == 0)
			store_flush(st);
	}
}

struct crash_check {
	uint64_t next;
	int bad;
};

static int check_crash_event(void *userdata, const struct store_event *e)
{
	struct crash_check *cc = userdata;
	char want[64];
	int n = snprintf(want, sizeof(want), "event %llu", (unsigned long long)e->event_id);

	/* Contiguous from 1, payloads intact. */
	if (e->event_id != cc->next || e->len != (size_t)n || memcmp(e->payload, want, n))
		cc->bad++;
	cc->next = e->event_id + 1;
	return 0;
}

static void sigkill_mid_batch_loses_nothing_acked(void **state)
{
	struct ctx *c = *state;

	store_free(c->st);
	c->st = NULL;
	for (int round = 0; round < 5; round++) {
		int pfd[2];
		uint64_t acked = 0, v;
		pid_t pid;

		assert_int_equal(pipe(pfd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			child_run(c->dir, pfd[1]);
		}
		close(pfd[1]);
		/* Kill at a different point each round, always with writes in flight. */
		uint64_t target = 300 + (uint64_t)round * 397;
		while (read(pfd[0], &v, sizeof(v)) == sizeof(v)) {
			acked = v;
			if (acked >= target)
				break;
		}
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(pfd[0]);
		assert_true(acked >= target);

		struct store *st;
		struct crash_check cc = {.next = 1};
		assert_int_equal(store_open(c->dir, NULL, &st), 0);
		int n = store_events_foreach(st, 0, 1000000, check_crash_event, &cc);
		assert_true(n >= 0);
		assert_int_equal(cc.bad, 0);
		/* Nothing acknowledged is missing: ids 1..acked are all there. */
		assert_true((uint64_t)n >= acked);
		store_free(st);
		/* Each round's child counts from 1 again, on a fresh database. */
		char cmd[160];
		snprintf(cmd, sizeof(cmd), "rm -f '%s'/" STORE_DB_NAME "*", c->dir);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(open_store(c, 1000, 0), 0);
}

/* Removed sessions' final counters: summed per uplink, each removal counted (a name removed
 * twice is two rows), other uplinks unaffected, and still there after a reopen. */
static void removed_sessions_sum_per_uplink_and_survive_reopen(void **state)
{
	struct ctx *c = *state;
	struct store_removed_total t;
	const struct store_removed a = {"a", "sim0", 10, 2000000, 1, 1500},
				   b = {"b", "sim0", 5, 7, 2, 3}, x = {"x", "sim1", 1, 1, 1, 1};

	assert_int_equal(store_removed_total(c->st, "sim0", &t), 0);
	assert_int_equal(t.sessions, 0);
	assert_int_equal(t.tx_bytes, 0);
	assert_int_equal(store_removed_add(c->st, &a, NULL), 0);
	assert_int_equal(store_removed_add(c->st, &b, NULL), 0);
	assert_int_equal(store_removed_add(c->st, &a, NULL), 0);
	assert_int_equal(store_removed_add(c->st, &x, NULL), 0);
	assert_int_equal(store_flush(c->st), 0);
	reopen(c, 1000, 0);
	assert_int_equal(store_removed_total(c->st, "sim0", &t), 0);
	assert_int_equal(t.sessions, 3);
	assert_int_equal(t.rx_bytes, 25);
	assert_int_equal(t.tx_bytes, 4000007);
	assert_int_equal(t.rx_packets, 4);
	assert_int_equal(t.tx_packets, 3003);
	assert_int_equal(store_removed_total(c->st, "sim1", &t), 0);
	assert_int_equal(t.sessions, 1);
	assert_int_equal(t.tx_bytes, 1);
	assert_int_equal(store_removed_total(c->st, "nosuch", &t), 0);
	assert_int_equal(t.sessions, 0);
}

/* ---- sessions by origin ---- */

static int collect_origin(void *userdata, const struct store_session *ss)
{
	char *out = userdata;

	strcat(out, ss->name);
	strcat(out, ss->origin == STORE_SESSION_ADMIN ? "=admin;" : "=backend;");
	return 0;
}

static void admin_sessions_keep_their_origin_across_reopen(void **state)
{
	struct ctx *c = *state;
	char out[256] = "";

	assert_int_equal(store_session_add(c->st, "b1", "echo", "", NULL), 0);
	assert_int_equal(
	    store_session_add_origin(c->st, "a1", "echo", "sim0", STORE_SESSION_ADMIN, NULL), 0);
	assert_int_equal(
	    store_session_add_origin(c->st, "a2", "probe", "", STORE_SESSION_ADMIN, NULL), 0);
	assert_int_equal(store_session_remove(c->st, "a2", NULL), 0);
	assert_int_equal(store_flush(c->st), 0);
	reopen(c, 1000, 0);
	assert_int_equal(store_sessions_foreach(c->st, collect_origin, out), 2);
	assert_string_equal(out, "b1=backend;a1=admin;");
}

/* A store from before origins: its sessions table has no origin column; every row is the
 * backend's, and admin rows can be added. */
static void sessions_from_before_origins_are_the_backends(void **state)
{
	struct ctx *c = *state;
	char path[128], out[256] = "";
	sqlite3 *db;

	store_free(c->st);
	c->st = NULL;
	snprintf(path, sizeof(path), "%s/" STORE_DB_NAME, c->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE sessions(name TEXT PRIMARY KEY, profile TEXT"
				      " NOT NULL, uplink TEXT NOT NULL DEFAULT '');"
				      "INSERT INTO sessions VALUES ('old', 'echo', '');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(open_store(c, 1000, 0), 0);
	assert_int_equal(
	    store_session_add_origin(c->st, "new", "echo", "", STORE_SESSION_ADMIN, NULL), 0);
	assert_int_equal(store_sessions_foreach(c->st, collect_origin, out), 2);
	assert_string_equal(out, "old=backend;new=admin;");
}

/* ---- counters carried over a reboot ---- */

struct seen_counters {
	struct store_counters c[8];
	char name[8][16];
	int n;
};

static int collect_counters(void *userdata, const struct store_counters *c)
{
	struct seen_counters *s = userdata;

	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", c->name);
	s->c[s->n] = *c;
	s->c[s->n].name = s->name[s->n];
	s->n++;
	return 0;
}

static const struct store_counters *find_counters(const struct seen_counters *s, int kind,
						  const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (s->c[i].kind == kind && !strcmp(s->c[i].name, name))
			return &s->c[i];
	return NULL;
}

static void counters_copy_is_replaced_whole_and_survives_reopen(void **state)
{
	struct ctx *c = *state;
	/* Values past INT64_MAX (a quota usage carried modulo 2^64) come back bit for bit. */
	const struct store_counters v[] = {
		{ .kind = 2, .name = "sim0", .rx_bytes = 1000000007, .rx_packets = 700,
		  .tx_bytes = UINT64_MAX - 3, .tx_packets = 9, .rx_dropped = 1, .tx_dropped = 2 },
		{ .kind = 1, .name = "s1", .rx_bytes = 5, .tx_bytes = 6, .has_quota = true,
		  .quota_action = 2, .quota_limit = 1048576, .quota_used = 1048580,
		  .quota_over = true },
		{ .kind = 1, .name = "sim0", .rx_bytes = 42 }, /* same name, other kind */
	};
	struct seen_counters s = {0};
	const struct store_counters *x;

	assert_int_equal(store_counters_save(c->st, v, 3), 0);
	reopen(c, 1000, 0);
	assert_int_equal(store_counters_foreach(c->st, collect_counters, &s), 3);
	x = find_counters(&s, 2, "sim0");
	assert_non_null(x);
	assert_int_equal(x->rx_bytes, 1000000007);
	assert_int_equal(x->rx_packets, 700);
	assert_true(x->tx_bytes == UINT64_MAX - 3);
	assert_int_equal(x->tx_packets, 9);
	assert_int_equal(x->rx_dropped, 1);
	assert_int_equal(x->tx_dropped, 2);
	assert_false(x->has_quota);
	x = find_counters(&s, 1, "s1");
	assert_non_null(x);
	assert_true(x->has_quota);
	assert_int_equal(x->quota_action, 2);
	assert_int_equal(x->quota_limit, 1048576);
	assert_int_equal(x->quota_used, 1048580);
	assert_true(x->quota_over);
	x = find_counters(&s, 1, "sim0");
	assert_non_null(x);
	assert_int_equal(x->rx_bytes, 42);
	/* The next save is the whole copy: a name not in it is gone. */
	assert_int_equal(store_counters_save(c->st, &v[1], 1), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_counters_foreach(c->st, collect_counters, &s), 1);
	assert_string_equal(s.c[0].name, "s1");
	assert_int_equal(store_counters_save(c->st, NULL, 0), 0);
	assert_int_equal(store_counters_foreach(c->st, collect_counters, &s), 0);
}

/* What another connection sees in the counters table at each commit of a save. */
struct counters_peek {
	char path[128];
	int rows[16], n;
};

static void peek_counters(void *userdata, uint64_t batch, int result)
{
	struct counters_peek *p = userdata;
	sqlite3_stmt *q;
	sqlite3 *db;

	if (p->n >= 16 || sqlite3_open(p->path, &db) != SQLITE_OK)
		return;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM counters", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		p->rows[p->n++] = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* batch_max 1 commits every write at once; a save of many rows is still one commit, so another
 * reader (or a crash) sees the old copy or the new one whole, never a part, and it is on disk
 * when the save returns. */
static void counters_save_is_one_commit_durable_on_return(void **state)
{
	struct ctx *c = *state;
	struct counters_peek peek = {0};
	struct store_counters v[6];
	char names[6][8];

	reopen(c, 1, 0);
	snprintf(peek.path, sizeof(peek.path), "%s/" STORE_DB_NAME, c->dir);
	for (int i = 0; i < 6; i++) {
		snprintf(names[i], sizeof(names[i]), "u%d", i);
		v[i] = (struct store_counters){ .kind = 2, .name = names[i], .tx_bytes = 100 + i };
	}
	assert_int_equal(store_counters_save(c->st, v, 6), 0);
	assert_int_equal(store_add_commit_listener(c->st, peek_counters, &peek), 0);
	assert_int_equal(store_counters_save(c->st, v, 5), 0);
	assert_int_equal(peek.n, 1);
	assert_int_equal(peek.rows[0], 5);
	store_remove_commit_listener(c->st, peek_counters, &peek);
	/* A row without a name is refused and changes nothing. */
	v[3].name = NULL;
	assert_int_equal(store_counters_save(c->st, v, 6), -EINVAL);
	struct seen_counters s = {0};
	assert_int_equal(store_counters_foreach(c->st, collect_counters, &s), 5);
}

static int count_blob(void *userdata, const char *session, const void *blob, size_t len)
{
	(*(int *)userdata)++;
	return 0;
}

/* State blobs: one per session, replaced by a put, gone after a delete, durable across a
 * reopen once committed. */
static void state_blobs_replace_delete_and_survive_reopen(void **state)
{
	struct ctx *c = *state;
	void *b = NULL;
	size_t n = 0;
	uint64_t batch = 0;
	int count = 0;

	assert_int_equal(store_state_get(c->st, "a", &b, &n), -ENOENT);
	assert_int_equal(store_state_put(c->st, "a", "one", 3, &batch), 0);
	assert_true(batch > store_committed(c->st));
	assert_int_equal(store_state_put(c->st, "a", "two!", 4, NULL), 0);
	assert_int_equal(store_state_put(c->st, "b", "bee", 3, NULL), 0);
	assert_int_equal(store_state_put(c->st, "c", "", 0, NULL), -EINVAL);
	assert_int_equal(store_flush(c->st), 0);
	assert_true(store_committed(c->st) >= batch);
	reopen(c, 1000, 0);
	assert_int_equal(store_state_get(c->st, "a", &b, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(b, "two!", 4);
	free(b);
	assert_int_equal(store_state_foreach(c->st, count_blob, &count), 2);
	assert_int_equal(count, 2);
	assert_int_equal(store_state_delete(c->st, "a", NULL), 0);
	assert_int_equal(store_state_delete(c->st, "nosuch", NULL), 0);
	assert_int_equal(store_flush(c->st), 0);
	reopen(c, 1000, 0);
	assert_int_equal(store_state_get(c->st, "a", &b, &n), -ENOENT);
	assert_int_equal(store_state_get(c->st, "b", &b, &n), 0);
	assert_memory_equal(b, "bee", 3);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(event_duplicate_is_already, setup, teardown),
	    cmocka_unit_test_setup_teardown(readers_see_committed_batches_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(acked_events_leave_and_seq_is_never_reused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(full_outbox_refuses_new_events_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(restarted_worker_ids_are_new_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(incarnations_rise_per_session_and_are_durable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(chatty_session_is_held_to_its_share, setup, teardown),
	    cmocka_unit_test_setup_teardown(full_inbox_refuses_new_deliveries_only, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(store_from_before_incarnations_is_migrated, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(deliveries_per_session_dedup_and_done, setup, teardown),
	    cmocka_unit_test_setup_teardown(sessions_come_back_after_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(group_commit_batches_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(sigkill_mid_batch_loses_nothing_acked, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_sessions_keep_their_origin_across_reopen, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(sessions_from_before_origins_are_the_backends, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(counters_copy_is_replaced_whole_and_survives_reopen,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(counters_save_is_one_commit_durable_on_return, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(state_blobs_replace_delete_and_survive_reopen, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(removed_sessions_sum_per_uplink_and_survive_reopen, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
