/* test_router.c — unit tests for router_pick_uplink() (least load relative to capacity, ties to
 * the earlier uplink, unusable and full uplinks skipped) and router_outbox_share() (fair share). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "router/router.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_no_uplinks_is_enospc(void **state)
{
	assert_int_equal(router_pick_uplink(NULL, 0), -ENOSPC);
}

static void test_tie_goes_to_the_earlier_uplink(void **state)
{
	struct router_uplink u[] = {
		{ .sessions = 1, .capacity = 4, .usable = true },
		{ .sessions = 1, .capacity = 4, .usable = true },
		{ .sessions = 1, .capacity = 4, .usable = true },
	};

	assert_int_equal(router_pick_uplink(u, N(u)), 0);
}

static void test_equal_fractions_tie_across_capacities(void **state)
{
	/* 1/2 == 2/4: the same load, so the earlier one wins even though it has less room. */
	struct router_uplink u[] = {
		{ .sessions = 1, .capacity = 2, .usable = true },
		{ .sessions = 2, .capacity = 4, .usable = true },
	};

	assert_int_equal(router_pick_uplink(u, N(u)), 0);
}

static void test_load_is_relative_to_capacity(void **state)
{
	/* 3/10 is lighter than 1/2 although it carries more sessions. */
	struct router_uplink u[] = {
		{ .sessions = 1, .capacity = 2, .usable = true },
		{ .sessions = 3, .capacity = 10, .usable = true },
	};

	assert_int_equal(router_pick_uplink(u, N(u)), 1);
}

static void test_least_loaded_wins_wherever_it_is(void **state)
{
	struct router_uplink u[] = {
		{ .sessions = 2, .capacity = 4, .usable = true },
		{ .sessions = 3, .capacity = 4, .usable = true },
		{ .sessions = 1, .capacity = 4, .usable = true },
	};

	assert_int_equal(router_pick_uplink(u, N(u)), 2);
}

static void test_unusable_uplink_is_skipped_even_when_empty(void **state)
{
	struct router_uplink u[] = {
		{ .sessions = 0, .capacity = 4, .usable = false },
		{ .sessions = 3, .capacity = 4, .usable = true },
	};

	assert_int_equal(router_pick_uplink(u, N(u)), 1);
}

static void test_full_uplink_is_skipped(void **state)
{
	struct router_uplink u[] = {
		{ .sessions = 1, .capacity = 1, .usable = true },
		{ .sessions = 7, .capacity = 8, .usable = true },
	};

	assert_int_equal(router_pick_uplink(u, N(u)), 1);
}

static void test_all_full_or_unusable_is_enospc(void **state)
{
	struct router_uplink u[] = {
		{ .sessions = 2, .capacity = 2, .usable = true },
		{ .sessions = 0, .capacity = 2, .usable = false },
		{ .sessions = 0, .capacity = 0, .usable = true },
	};

	assert_int_equal(router_pick_uplink(u, N(u)), -ENOSPC);
}

static void test_repeated_picks_spread_evenly(void **state)
{
	struct router_uplink u[] = {
		{ .capacity = 3, .usable = true },
		{ .capacity = 3, .usable = true },
	};
	static const int want[] = { 0, 1, 0, 1, 0, 1 };

	for (size_t i = 0; i < N(want); i++) {
		int r = router_pick_uplink(u, N(u));
		assert_int_equal(r, want[i]);
		u[r].sessions++;
	}
	assert_int_equal(router_pick_uplink(u, N(u)), -ENOSPC);
}

static void test_large_counts_do_not_overflow(void **state)
{
	/* 65537 * 65536 wraps to 65536 in 32 bits, which would make the busy second uplink
	 * (65537/100000) look lighter than the nearly empty first one (1/65536). */
	struct router_uplink u[] = {
		{ .sessions = 1, .capacity = 65536, .usable = true },
		{ .sessions = 65537, .capacity = 100000, .usable = true },
	};

	assert_int_equal(router_pick_uplink(u, N(u)), 0);
}

static void test_outbox_share_is_equal_among_sessions(void **state)
{
	/* Four sessions: none may take more than a quarter, so three quiet ones keep 3/4. */
	assert_int_equal(router_outbox_share(100000, 4, 0), 25000);
	assert_true(4 * router_outbox_share(100000, 4, 0) <= 100000);
	assert_int_equal(router_outbox_share(100000, 3, 0), 33333);
}

static void test_outbox_share_of_one_session_is_everything(void **state)
{
	assert_int_equal(router_outbox_share(100000, 1, 0), 100000);
	/* No session counted yet (the first event arrives before status): the whole outbox. */
	assert_int_equal(router_outbox_share(100000, 0, 0), 100000);
}

static void test_outbox_share_has_a_floor_within_the_cap(void **state)
{
	/* 1000 sessions in 100000: 100 each would stall every one; the floor lets each go on. */
	assert_int_equal(router_outbox_share(100000, 1000, 0), ROUTER_OUTBOX_SHARE_FLOOR);
	/* ... but never beyond the outbox itself. */
	assert_int_equal(router_outbox_share(100, 4, 0), 100);
}

static void test_outbox_session_max_overrides_within_the_cap(void **state)
{
	assert_int_equal(router_outbox_share(100000, 4, 10), 10);
	assert_int_equal(router_outbox_share(100000, 1, 10), 10);
	assert_int_equal(router_outbox_share(50, 4, 1000), 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_uplinks_is_enospc),
		cmocka_unit_test(test_tie_goes_to_the_earlier_uplink),
		cmocka_unit_test(test_equal_fractions_tie_across_capacities),
		cmocka_unit_test(test_load_is_relative_to_capacity),
		cmocka_unit_test(test_least_loaded_wins_wherever_it_is),
		cmocka_unit_test(test_unusable_uplink_is_skipped_even_when_empty),
		cmocka_unit_test(test_full_uplink_is_skipped),
		cmocka_unit_test(test_all_full_or_unusable_is_enospc),
		cmocka_unit_test(test_repeated_picks_spread_evenly),
		cmocka_unit_test(test_large_counts_do_not_overflow),
		cmocka_unit_test(test_outbox_share_is_equal_among_sessions),
		cmocka_unit_test(test_outbox_share_of_one_session_is_everything),
		cmocka_unit_test(test_outbox_share_has_a_floor_within_the_cap),
		cmocka_unit_test(test_outbox_session_max_overrides_within_the_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
