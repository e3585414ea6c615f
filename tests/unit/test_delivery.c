/* test_delivery.c — unit tests for router/delivery.h: the window of unacked deliveries, the
 * cursor a Hello resets, the redelivered flag (earlier process, inbox at start, never a fresh
 * one) and that only the process that said Hello is pumped. A tiny inbox stands in for the
 * store and pump() does what relay.c's pump_worker() does with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "router/delivery.h"

#define INBOX_MAX 32

/* The inbox of one session: seqs 1..n, an acked one is gone from it (store_delivery_done). */
struct inbox {
	unsigned n;
	bool acked[INBOX_MAX + 1];
	/* What the last pump() sent, in order, and each one's flag. */
	uint64_t sent[INBOX_MAX];
	bool redelivered[INBOX_MAX];
	unsigned n_sent;
};

/* One pump of the relay: the unacked deliveries after the cursor, as many as there is room. */
static unsigned pump(struct inbox *ib, struct delivery_worker *w, uint64_t incarnation,
		     uint64_t inbox_seq_at_start)
{
	unsigned room = delivery_room(w, incarnation);

	ib->n_sent = 0;
	for (uint64_t seq = delivery_cursor(w) + 1; seq <= ib->n && ib->n_sent < room; seq++) {
		if (ib->acked[seq])
			continue;
		ib->sent[ib->n_sent] = seq;
		ib->redelivered[ib->n_sent] = delivery_redelivered(w, seq, inbox_seq_at_start);
		ib->n_sent++;
		delivery_sent(w, seq);
	}
	return ib->n_sent;
}

/* The worker acks the first k of what the last pump() sent. */
static void ack_first(struct inbox *ib, struct delivery_worker *w, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		ib->acked[ib->sent[i]] = true;
	delivery_acked(w, k);
}

static void test_window_is_respected(void **state)
{
	struct inbox ib = { .n = 10 };
	struct delivery_worker w;

	delivery_worker_init(&w, 4);
	delivery_worker_hello(&w, 1);
	assert_int_equal(delivery_room(&w, 1), 4);
	assert_int_equal(pump(&ib, &w, 1, 0), 4);
	assert_int_equal(ib.sent[0], 1);
	assert_int_equal(ib.sent[3], 4);
	assert_int_equal(delivery_cursor(&w), 4);
	/* Full: nothing more until an ack, however often it is pumped. */
	assert_int_equal(delivery_room(&w, 1), 0);
	assert_int_equal(pump(&ib, &w, 1, 0), 0);
}

static void test_acks_free_the_window(void **state)
{
	struct inbox ib = { .n = 10 };
	struct delivery_worker w;

	delivery_worker_init(&w, 4);
	delivery_worker_hello(&w, 1);
	pump(&ib, &w, 1, 0);
	ack_first(&ib, &w, 3);
	assert_int_equal(delivery_room(&w, 1), 3);
	/* The next ones follow the cursor: 5, 6, 7, not the acked 1..3 nor 4 (in flight). */
	assert_int_equal(pump(&ib, &w, 1, 0), 3);
	assert_int_equal(ib.sent[0], 5);
	assert_int_equal(ib.sent[2], 7);
	assert_int_equal(delivery_room(&w, 1), 0);
}

static void test_ack_of_more_than_in_flight_empties_the_window(void **state)
{
	struct delivery_worker w;

	delivery_worker_init(&w, 4);
	delivery_worker_hello(&w, 1);
	delivery_sent(&w, 1);
	delivery_sent(&w, 2);
	delivery_acked(&w, 5);
	assert_int_equal(w.inflight, 0);
	assert_int_equal(delivery_room(&w, 1), 4);
}

static void test_nothing_before_hello(void **state)
{
	struct inbox ib = { .n = 3 };
	struct delivery_worker w;

	/* The session's first process is spawned (incarnation 1) but has not said Hello. */
	delivery_worker_init(&w, 4);
	assert_int_equal(delivery_room(&w, 1), 0);
	assert_int_equal(pump(&ib, &w, 1, 0), 0);
}

static void test_stale_worker_is_not_pumped(void **state)
{
	struct inbox ib = { .n = 3 };
	struct delivery_worker w;

	delivery_worker_init(&w, 4);
	delivery_worker_hello(&w, 1);
	/* Process 1 died, process 2 is spawned and has not said Hello yet: nothing goes. */
	assert_int_equal(pump(&ib, &w, 2, 0), 0);
	delivery_worker_hello(&w, 2);
	assert_int_equal(pump(&ib, &w, 2, 0), 3);
	/* Nor to process 1 once 2 said Hello. */
	delivery_acked(&w, 3);
	assert_int_equal(delivery_room(&w, 1), 0);
}

static void test_hello_resets_the_cursor_to_the_first_unacked(void **state)
{
	struct inbox ib = { .n = 6 };
	struct delivery_worker w;

	delivery_worker_init(&w, 8);
	delivery_worker_hello(&w, 1);
	assert_int_equal(pump(&ib, &w, 1, 0), 6);
	ack_first(&ib, &w, 2);
	delivery_worker_hello(&w, 2);
	assert_int_equal(delivery_cursor(&w), 0);
	/* The window is the new process's: what 1 left unacked does not count against it. */
	assert_int_equal(delivery_room(&w, 2), 8);
	assert_int_equal(pump(&ib, &w, 2, 0), 4);
	assert_int_equal(ib.sent[0], 3);
	assert_int_equal(ib.sent[3], 6);
}

static void test_fresh_deliveries_are_not_redelivered(void **state)
{
	struct inbox ib = { .n = 5 };
	struct delivery_worker w;

	delivery_worker_init(&w, 8);
	delivery_worker_hello(&w, 1);
	/* Seqs 1 and 2 were in the inbox when this daemon started; 3..5 came later. */
	assert_int_equal(pump(&ib, &w, 1, 2), 5);
	assert_true(ib.redelivered[0]);
	assert_true(ib.redelivered[1]);
	assert_false(ib.redelivered[2]);
	assert_false(ib.redelivered[3]);
	assert_false(ib.redelivered[4]);
}

static void test_sent_to_an_earlier_process_is_redelivered(void **state)
{
	struct inbox ib = { .n = 3 };
	struct delivery_worker w;

	delivery_worker_init(&w, 2);
	delivery_worker_hello(&w, 1);
	assert_int_equal(pump(&ib, &w, 1, 0), 2); /* 1, 2; 3 waits for room */
	ack_first(&ib, &w, 1);
	delivery_worker_hello(&w, 2);
	ib.n = 4; /* 4 arrives */
	assert_int_equal(pump(&ib, &w, 2, 0), 2);
	assert_int_equal(ib.sent[0], 2);
	assert_true(ib.redelivered[0]);
	/* 3 was never sent to process 1: it is news to 2. */
	assert_int_equal(ib.sent[1], 3);
	assert_false(ib.redelivered[1]);
}

static void test_redelivered_remembers_the_most_any_process_got(void **state)
{
	struct inbox ib = { .n = 6 };
	struct delivery_worker w;

	delivery_worker_init(&w, 8);
	delivery_worker_hello(&w, 1);
	assert_int_equal(pump(&ib, &w, 1, 0), 6);
	/* Process 2 gets only 1 before it dies; 3 must still see 2..6 as redelivered. */
	delivery_worker_hello(&w, 2);
	delivery_sent(&w, 1);
	delivery_worker_hello(&w, 3);
	assert_int_equal(pump(&ib, &w, 3, 0), 6);
	for (unsigned i = 0; i < 6; i++)
		assert_true(ib.redelivered[i]);
}

static void test_adopted_process_gets_everything_unacked_again(void **state)
{
	struct inbox ib = { .n = 3 };
	struct delivery_worker w;

	/* A restarted daemon adopts process 5, which the dead daemon may have given 1..3:
	 * they were in the inbox at start, so they come again, flagged; 4 does not. */
	delivery_worker_init(&w, 8);
	delivery_worker_hello(&w, 5);
	ib.n = 4;
	assert_int_equal(pump(&ib, &w, 5, 3), 4);
	assert_true(ib.redelivered[0]);
	assert_true(ib.redelivered[2]);
	assert_false(ib.redelivered[3]);
}

static void test_second_hello_of_the_same_process_sends_again_flagged(void **state)
{
	struct inbox ib = { .n = 2 };
	struct delivery_worker w;

	delivery_worker_init(&w, 8);
	delivery_worker_hello(&w, 1);
	assert_int_equal(pump(&ib, &w, 1, 0), 2);
	delivery_worker_hello(&w, 1);
	assert_int_equal(pump(&ib, &w, 1, 0), 2);
	assert_true(ib.redelivered[0]);
	assert_true(ib.redelivered[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_is_respected),
		cmocka_unit_test(test_acks_free_the_window),
		cmocka_unit_test(test_ack_of_more_than_in_flight_empties_the_window),
		cmocka_unit_test(test_nothing_before_hello),
		cmocka_unit_test(test_stale_worker_is_not_pumped),
		cmocka_unit_test(test_hello_resets_the_cursor_to_the_first_unacked),
		cmocka_unit_test(test_fresh_deliveries_are_not_redelivered),
		cmocka_unit_test(test_sent_to_an_earlier_process_is_redelivered),
		cmocka_unit_test(test_redelivered_remembers_the_most_any_process_got),
		cmocka_unit_test(test_adopted_process_gets_everything_unacked_again),
		cmocka_unit_test(test_second_hello_of_the_same_process_sends_again_flagged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
