/* test_router.c — unit tests for router_pick_uplink(), router_plan() (every placement and
 * re-placement rule: ties, pins, preference lists, hold-down, quota, drain, capacity, waits with
 * their reasons) and router_outbox_share() (fair share). */
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

/* ---- router_plan ---- */

#define UP(cap) { .capacity = (cap), .up = true, .health = ROUTER_HEALTHY }
#define NEW { .uplink = -1, .home = -1, .last_move = ROUTER_NEVER }
#define ON(i) { .uplink = (i), .running = true, .home = (i), .last_move = ROUTER_NEVER }

static const struct router_plan_params prm0 = { .now = 1000, .hold_down = 60 };

static int plan(const struct router_link *l, size_t nl, const struct router_session *s,
		size_t ns, struct router_action *a)
{
	int n = router_plan(l, nl, s, ns, &prm0, a);

	assert_true(n >= 0 && (size_t)n <= ns);
	return n;
}

/* Applies the plan's placements and moves, then checks no uplink holds more than capacity. */
static void assert_within_capacity(const struct router_link *l, size_t nl,
				   struct router_session *s, size_t ns,
				   const struct router_action *a, int n)
{
	unsigned load[16] = { 0 };

	for (int k = 0; k < n; k++)
		if (a[k].verb != ROUTER_WAIT)
			s[a[k].session].uplink = a[k].to;
	for (size_t i = 0; i < ns; i++)
		if (s[i].uplink >= 0)
			load[s[i].uplink]++;
	for (size_t i = 0; i < nl; i++)
		assert_true(load[i] <= l[i].capacity);
}

static void test_plan_spreads_new_sessions_ties_to_earlier(void **state)
{
	struct router_link l[] = { UP(2), UP(2) };
	struct router_session s[] = { NEW, NEW, NEW };
	struct router_action a[3];

	assert_int_equal(plan(l, N(l), s, N(s), a), 3);
	assert_int_equal(a[0].verb, ROUTER_PLACE);
	assert_int_equal(a[0].to, 0);
	assert_int_equal(a[1].to, 1);
	assert_int_equal(a[2].to, 0);
}

static void test_plan_pins_claim_before_the_rest_spread(void **state)
{
	/* The unpinned session is first in input order, yet the pin gets uplink 0's only seat. */
	struct router_link l[] = { UP(1), UP(1) };
	struct router_session s[] = { NEW, { .uplink = -1, .home = -1, .prefs = { 0 },
					     .n_prefs = 1, .last_move = ROUTER_NEVER } };
	struct router_action a[2];

	assert_int_equal(plan(l, N(l), s, N(s), a), 2);
	assert_int_equal(a[0].session, 1);
	assert_int_equal(a[0].to, 0);
	assert_int_equal(a[1].session, 0);
	assert_int_equal(a[1].to, 1);
}

static void test_plan_pin_over_capacity_waits_with_reason(void **state)
{
	struct router_session pin = { .uplink = -1, .home = -1, .prefs = { 0 }, .n_prefs = 1,
				      .last_move = ROUTER_NEVER };
	struct router_link l[] = { UP(1), UP(5) };
	struct router_session s[] = { pin, pin };
	struct router_action a[2];

	assert_int_equal(plan(l, N(l), s, N(s), a), 2);
	assert_int_equal(a[0].verb, ROUTER_PLACE);
	assert_int_equal(a[1].verb, ROUTER_WAIT);
	assert_int_equal(a[1].reason, ROUTER_REASON_PIN_FULL);
	assert_string_equal(router_reason_str(a[1].reason), "its uplink is at capacity");
}

static void test_plan_quota_reached_waits_with_the_quota_reason(void **state)
{
	struct router_session pin = { .uplink = -1, .home = -1, .prefs = { 0 }, .n_prefs = 1,
				      .last_move = ROUTER_NEVER };
	struct router_session list = { .uplink = -1, .home = -1, .prefs = { 0, 1 }, .n_prefs = 2,
				       .last_move = ROUTER_NEVER };
	struct router_link l[] = { UP(5), UP(5) };
	struct router_session s[] = { pin, list, NEW };
	struct router_action a[3];

	l[0].quota_reached = true;
	l[1].quota_reached = true;
	assert_int_equal(plan(l, N(l), s, N(s), a), 3);
	for (int k = 0; k < 3; k++)
		assert_int_equal(a[k].verb, ROUTER_WAIT);
	assert_int_equal(a[0].reason, ROUTER_REASON_PIN_QUOTA);
	assert_string_equal(router_reason_str(a[0].reason), "its uplink has reached its quota");
	assert_int_equal(a[1].reason, ROUTER_REASON_QUOTA);
	assert_int_equal(a[2].reason, ROUTER_REASON_QUOTA);
	/* Down beats quota: a failed uplink's quota is not what the operator must fix. */
	l[0].up = false;
	assert_int_equal(plan(l, N(l), s, 1, a), 1);
	assert_int_equal(a[0].reason, ROUTER_REASON_UNAVAILABLE);
}

static void test_plan_overflow_waits_full_and_capacity_holds(void **state)
{
	struct router_link l[] = { UP(1), UP(2) };
	struct router_session s[] = { NEW, NEW, NEW, NEW, NEW };
	struct router_action a[5];
	int n = plan(l, N(l), s, N(s), a), waits = 0;

	assert_int_equal(n, 5);
	for (int k = 0; k < n; k++)
		if (a[k].verb == ROUTER_WAIT) {
			waits++;
			assert_int_equal(a[k].reason, ROUTER_REASON_FULL);
		}
	assert_int_equal(waits, 2);
	assert_within_capacity(l, N(l), s, N(s), a, n);
}

static void test_plan_no_uplink_waits_with_reason(void **state)
{
	struct router_session s[] = { NEW };
	struct router_action a[1];

	assert_int_equal(router_plan(NULL, 0, s, 1, &prm0, a), 1);
	assert_int_equal(a[0].verb, ROUTER_WAIT);
	assert_int_equal(a[0].reason, ROUTER_REASON_NO_UPLINK);
}

static void test_plan_preference_list_order_wins_over_load(void **state)
{
	/* lte2 is emptier, but the list says lte1 first while it has room. */
	struct router_link l[] = { UP(4), UP(4) };
	struct router_session s[] = {
		ON(0),
		{ .uplink = -1, .home = -1, .prefs = { 0, 1 }, .n_prefs = 2,
		  .last_move = ROUTER_NEVER },
	};
	struct router_action a[2];

	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].session, 1);
	assert_int_equal(a[0].to, 0);
}

static void test_plan_preference_list_skips_failed_and_full(void **state)
{
	struct router_link l[] = { UP(4), UP(1), UP(4), UP(4) };
	struct router_session s[] = {
		ON(1),
		{ .uplink = -1, .home = -1, .prefs = { 0, 1, 2 }, .n_prefs = 3,
		  .last_move = ROUTER_NEVER },
	};
	struct router_action a[2];

	l[0].health = ROUTER_FAILED;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].to, 2);
}

static void test_plan_quota_reached_takes_no_new_but_keeps_its_own(void **state)
{
	struct router_link l[] = { UP(4), UP(4) };
	struct router_session s[] = { ON(0), NEW };
	struct router_action a[2];

	l[0].quota_reached = true;
	l[1].quota_reached = true;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].session, 1);
	assert_int_equal(a[0].verb, ROUTER_WAIT);
	assert_int_equal(a[0].reason, ROUTER_REASON_QUOTA);
	/* Raising the quota makes it eligible again. */
	l[1].quota_reached = false;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].verb, ROUTER_PLACE);
	assert_int_equal(a[0].to, 1);
}

static void test_plan_draining_takes_no_new_but_keeps_its_own(void **state)
{
	struct router_link l[] = { UP(4), UP(4) };
	struct router_session s[] = { ON(0), NEW };
	struct router_action a[2];

	l[0].draining = true;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].session, 1);
	assert_int_equal(a[0].to, 1);
}

static void test_plan_priority_then_health_then_load(void **state)
{
	struct router_link l[] = { UP(4), UP(4), UP(4) };
	struct router_session s[] = { NEW };
	struct router_action a[1];

	l[0].priority = 1; /* a backup tier: used only when tier 0 is full */
	l[1].health = ROUTER_DEGRADED;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].to, 2);
	l[2].health = ROUTER_DEGRADED;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].to, 1);
	l[1].capacity = 0;
	l[2].capacity = 0;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].to, 0);
}

static void test_plan_running_on_healthy_uplink_gets_no_action(void **state)
{
	struct router_link l[] = { UP(4), UP(4) };
	struct router_session s[] = { ON(0), ON(0), ON(1) };
	struct router_action a[3];

	l[0].health = ROUTER_DEGRADED;
	assert_int_equal(plan(l, N(l), s, N(s), a), 0);
}

static void test_plan_failed_uplink_moves_to_least_loaded(void **state)
{
	struct router_link l[] = { UP(4), UP(4), UP(4) };
	struct router_session s[] = { ON(0), ON(1), ON(1) };
	struct router_action a[3];

	l[0].health = ROUTER_FAILED;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].verb, ROUTER_MOVE);
	assert_int_equal(a[0].from, 0);
	assert_int_equal(a[0].to, 2);
}

static void test_plan_down_uplink_moves_like_failed(void **state)
{
	struct router_link l[] = { UP(4), UP(4) };
	struct router_session s[] = { ON(0) };
	struct router_action a[1];

	l[0].up = false;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].verb, ROUTER_MOVE);
	assert_int_equal(a[0].to, 1);
}

static void test_plan_wait_policy_and_pins_wait_then_resume(void **state)
{
	struct router_link l[] = { UP(4), UP(4) };
	struct router_session s[] = {
		{ .uplink = 0, .running = true, .home = 0, .on_down = ROUTER_ON_DOWN_WAIT,
		  .last_move = ROUTER_NEVER },
		{ .uplink = 0, .running = true, .home = 0, .prefs = { 0 }, .n_prefs = 1,
		  .last_move = ROUTER_NEVER },
	};
	struct router_action a[2];

	l[0].health = ROUTER_FAILED;
	assert_int_equal(plan(l, N(l), s, N(s), a), 2);
	assert_int_equal(a[0].verb, ROUTER_WAIT);
	assert_int_equal(a[0].reason, ROUTER_REASON_POLICY_WAIT);
	assert_int_equal(a[1].verb, ROUTER_WAIT);
	assert_int_equal(a[1].reason, ROUTER_REASON_UNAVAILABLE);
	/* Stopped and waiting; the uplink heals: both resume where they were. */
	s[0].running = s[1].running = false;
	l[0].health = ROUTER_HEALTHY;
	assert_int_equal(plan(l, N(l), s, N(s), a), 2);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(a[k].verb, ROUTER_PLACE);
		assert_int_equal(a[k].to, 0);
	}
}

static void test_plan_move_with_nowhere_to_go_waits_full(void **state)
{
	struct router_link l[] = { UP(4), UP(1) };
	struct router_session s[] = { ON(0), ON(0), ON(1) };
	struct router_action a[3];

	l[0].up = false;
	assert_int_equal(plan(l, N(l), s, N(s), a), 2);
	assert_int_equal(a[0].verb, ROUTER_WAIT);
	assert_int_equal(a[0].reason, ROUTER_REASON_FULL);
	assert_int_equal(a[1].verb, ROUTER_WAIT);
}

static void test_plan_moves_fill_but_never_exceed_capacity(void **state)
{
	struct router_link l[] = { UP(6), UP(2), UP(1) };
	struct router_session s[] = { ON(0), ON(0), ON(0), ON(0), ON(0), ON(2) };
	struct router_action a[6];
	int n, moves = 0;

	l[0].health = ROUTER_FAILED;
	n = plan(l, N(l), s, N(s), a);
	for (int k = 0; k < n; k++)
		moves += a[k].verb == ROUTER_MOVE;
	assert_int_equal(moves, 2);
	assert_int_equal(n, 5);
	assert_within_capacity(l, N(l), s, N(s), a, n);
}

static void test_plan_hold_down_delays_a_second_move(void **state)
{
	struct router_link l[] = { UP(4), UP(4), UP(4) };
	struct router_session s[] = { { .uplink = 1, .running = true, .home = 0,
					.last_move = 1000 - 10 } };
	struct router_action a[1];

	l[1].health = ROUTER_FAILED;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].verb, ROUTER_WAIT);
	assert_int_equal(a[0].reason, ROUTER_REASON_HOLD_DOWN);
	assert_int_equal(a[0].until, 1000 - 10 + 60);
	/* Exactly hold_down later it may move. */
	s[0].last_move = 1000 - 60;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].verb, ROUTER_MOVE);
}

static void test_plan_move_back_after_hold_down_only(void **state)
{
	struct router_link l[] = { UP(4), UP(4) };
	struct router_session s[] = {
		{ .uplink = 1, .running = true, .home = 0, .move_back = true,
		  .last_move = 1000 - 59 },
		{ .uplink = 1, .running = true, .home = 0, .move_back = false,
		  .last_move = 1000 - 600 },
	};
	struct router_action a[2];

	assert_int_equal(plan(l, N(l), s, N(s), a), 0);
	s[0].last_move = 1000 - 60;
	assert_int_equal(plan(l, N(l), s, N(s), a), 1);
	assert_int_equal(a[0].session, 0);
	assert_int_equal(a[0].verb, ROUTER_MOVE);
	assert_int_equal(a[0].from, 1);
	assert_int_equal(a[0].to, 0);
}

static void test_plan_move_back_follows_the_list_and_respects_capacity(void **state)
{
	struct router_link l[] = { UP(1), UP(4), UP(4) };
	struct router_session back = { .uplink = 2, .running = true, .home = -1,
				       .prefs = { 0, 1, 2 }, .n_prefs = 3, .move_back = true,
				       .last_move = ROUTER_NEVER };
	struct router_session s[] = { back, back };
	struct router_action a[2];

	/* Both want lte1 back; it has one seat: the first goes there, the second to lte2. */
	assert_int_equal(plan(l, N(l), s, N(s), a), 2);
	assert_int_equal(a[0].to, 0);
	assert_int_equal(a[1].to, 1);
	assert_within_capacity(l, N(l), s, N(s), a, 2);
}

static void test_plan_move_back_not_onto_a_draining_or_quota_uplink(void **state)
{
	struct router_link l[] = { UP(4), UP(4) };
	struct router_session s[] = { { .uplink = 1, .running = true, .home = 0,
					.move_back = true, .last_move = ROUTER_NEVER } };
	struct router_action a[1];

	l[0].draining = true;
	assert_int_equal(plan(l, N(l), s, N(s), a), 0);
	l[0].draining = false;
	l[0].quota_reached = true;
	assert_int_equal(plan(l, N(l), s, N(s), a), 0);
	l[0].quota_reached = false;
	l[0].health = ROUTER_FAILED;
	assert_int_equal(plan(l, N(l), s, N(s), a), 0);
}

static void test_plan_flapping_uplink_moves_once_per_hold_down(void **state)
{
	/* Uplink 0 flaps every second for 200 s; one move_back session; it must move at most
	 * once per hold-down (60 s) whatever the phase. */
	struct router_link l[] = { UP(4), UP(4) };
	struct router_session s[] = { { .uplink = 0, .running = true, .home = 0,
					.move_back = true, .last_move = ROUTER_NEVER } };
	struct router_action a[1];
	int64_t last = INT64_MIN / 2;
	int moves = 0;

	for (int64_t t = 0; t < 200; t++) {
		struct router_plan_params prm = { .now = t, .hold_down = 60 };
		int n;

		l[0].health = t % 2 ? ROUTER_HEALTHY : ROUTER_FAILED;
		n = router_plan(l, N(l), s, N(s), &prm, a);
		assert_true(n >= 0);
		if (n == 1 && a[0].verb == ROUTER_MOVE) {
			assert_true(t - last >= 60);
			last = t;
			s[0].uplink = a[0].to;
			s[0].last_move = t;
			moves++;
		}
	}
	assert_true(moves >= 2 && moves <= 4);
}

static void test_plan_rejects_bad_indexes(void **state)
{
	struct router_link l[] = { UP(4) };
	struct router_session s[] = { { .uplink = 1, .home = -1 } };
	struct router_session p[] = { { .uplink = -1, .home = -1, .prefs = { 3 }, .n_prefs = 1 } };
	struct router_action a[1];

	assert_int_equal(router_plan(l, N(l), s, 1, &prm0, a), -EINVAL);
	assert_int_equal(router_plan(l, N(l), p, 1, &prm0, a), -EINVAL);
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
		cmocka_unit_test(test_plan_spreads_new_sessions_ties_to_earlier),
		cmocka_unit_test(test_plan_pins_claim_before_the_rest_spread),
		cmocka_unit_test(test_plan_pin_over_capacity_waits_with_reason),
		cmocka_unit_test(test_plan_overflow_waits_full_and_capacity_holds),
		cmocka_unit_test(test_plan_no_uplink_waits_with_reason),
		cmocka_unit_test(test_plan_preference_list_order_wins_over_load),
		cmocka_unit_test(test_plan_preference_list_skips_failed_and_full),
		cmocka_unit_test(test_plan_quota_reached_takes_no_new_but_keeps_its_own),
		cmocka_unit_test(test_plan_draining_takes_no_new_but_keeps_its_own),
		cmocka_unit_test(test_plan_priority_then_health_then_load),
		cmocka_unit_test(test_plan_running_on_healthy_uplink_gets_no_action),
		cmocka_unit_test(test_plan_failed_uplink_moves_to_least_loaded),
		cmocka_unit_test(test_plan_down_uplink_moves_like_failed),
		cmocka_unit_test(test_plan_wait_policy_and_pins_wait_then_resume),
		cmocka_unit_test(test_plan_move_with_nowhere_to_go_waits_full),
		cmocka_unit_test(test_plan_moves_fill_but_never_exceed_capacity),
		cmocka_unit_test(test_plan_hold_down_delays_a_second_move),
		cmocka_unit_test(test_plan_move_back_after_hold_down_only),
		cmocka_unit_test(test_plan_move_back_follows_the_list_and_respects_capacity),
		cmocka_unit_test(test_plan_move_back_not_onto_a_draining_or_quota_uplink),
		cmocka_unit_test(test_plan_flapping_uplink_moves_once_per_hold_down),
		cmocka_unit_test(test_plan_rejects_bad_indexes),
		cmocka_unit_test(test_plan_quota_reached_waits_with_the_quota_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
