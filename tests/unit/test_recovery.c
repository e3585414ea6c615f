/* test_recovery.c — unit tests for the recovery ladder (router/recovery.c): nothing before
 * recover_after, reconnect first, then modem resets with a doubling backoff, reconnect only where
 * the driver cannot reset, the per-hour cap and where it lets the ladder resume, healthy again
 * starts over, and the ladder switched off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "router/recovery.h"

static const struct recovery_cfg qmi = {.after_ms = 1000, .max_per_hour = 100, .can_reset = true};

static void test_healthy_does_nothing(void **state)
{
	struct recovery r = {0};
	int64_t wake;

	assert_int_equal(recovery_next(&r, &qmi, false, true, 0, &wake), RECOVERY_NONE);
	assert_true(wake == INT64_MAX);
	assert_int_equal(recovery_next(&r, &qmi, false, true, 999999, &wake), RECOVERY_NONE);
	assert_int_equal(r.taken[RECOVERY_RECONNECT] + r.taken[RECOVERY_RESET], 0);
}

static void test_nothing_before_recover_after(void **state)
{
	struct recovery r = {0};
	int64_t wake;

	assert_int_equal(recovery_next(&r, &qmi, true, true, 5000, &wake), RECOVERY_NONE);
	assert_int_equal(wake, 6000);
	assert_int_equal(recovery_next(&r, &qmi, true, true, 5999, &wake), RECOVERY_NONE);
	assert_int_equal(wake, 6000);
}

static void test_reconnect_then_resets_with_doubling_backoff(void **state)
{
	struct recovery r = {0};
	int64_t wake;

	recovery_next(&r, &qmi, true, true, 0, &wake);
	assert_int_equal(recovery_next(&r, &qmi, true, true, 1000, &wake), RECOVERY_RECONNECT);
	assert_int_equal(wake, 3000); /* 2 x after */
	assert_int_equal(recovery_next(&r, &qmi, true, true, 2999, &wake), RECOVERY_NONE);
	assert_int_equal(recovery_next(&r, &qmi, true, true, 3000, &wake), RECOVERY_RESET);
	assert_int_equal(wake, 7000); /* 4 x after */
	assert_int_equal(recovery_next(&r, &qmi, true, true, 7000, &wake), RECOVERY_RESET);
	assert_int_equal(wake, 15000);
	assert_int_equal(r.taken[RECOVERY_RECONNECT], 1);
	assert_int_equal(r.taken[RECOVERY_RESET], 2);
	assert_int_equal(r.last, RECOVERY_RESET);
}

static void test_backoff_stops_growing_at_the_maximum(void **state)
{
	struct recovery_cfg c = {.after_ms = 10 * 60 * 1000, .max_per_hour = 60, .can_reset = true};
	struct recovery r = {0};
	int64_t now = 0, wake;

	recovery_next(&r, &c, true, true, now, &wake);
	for (int i = 0; i < 6; i++) {
		now = wake;
		assert_int_not_equal(recovery_next(&r, &c, true, true, now, &wake), RECOVERY_NONE);
		assert_true(wake - now <= RECOVERY_BACKOFF_MAX_MS);
	}
	assert_int_equal(wake - now, RECOVERY_BACKOFF_MAX_MS);
}

static void test_without_reset_every_step_reconnects(void **state)
{
	struct recovery_cfg c = qmi;
	struct recovery r = {0};
	int64_t wake;

	c.can_reset = false;
	recovery_next(&r, &c, true, true, 0, &wake);
	for (int i = 0; i < 4; i++)
		assert_int_equal(recovery_next(&r, &c, true, true, wake, &wake), RECOVERY_RECONNECT);
	assert_int_equal(r.taken[RECOVERY_RESET], 0);
}

static void test_cap_holds_and_resumes_when_the_oldest_step_is_an_hour_old(void **state)
{
	struct recovery_cfg c = {.after_ms = 1000, .max_per_hour = 3, .can_reset = true};
	struct recovery r = {0};
	int64_t wake, first;

	recovery_next(&r, &c, true, true, 0, &wake);
	first = wake;
	assert_int_equal(recovery_next(&r, &c, true, true, wake, &wake), RECOVERY_RECONNECT);
	assert_int_equal(recovery_next(&r, &c, true, true, wake, &wake), RECOVERY_RESET);
	assert_int_equal(recovery_next(&r, &c, true, true, wake, &wake), RECOVERY_RESET);
	/* The fourth is due, but three were taken this hour. */
	assert_int_equal(recovery_next(&r, &c, true, true, wake, &wake), RECOVERY_NONE);
	assert_true(r.capped);
	assert_int_equal(wake, first + RECOVERY_HOUR_MS);
	assert_int_equal(recovery_next(&r, &c, true, true, wake - 1, &wake), RECOVERY_NONE);
	assert_true(r.capped);
	assert_int_equal(recovery_next(&r, &c, true, true, first + RECOVERY_HOUR_MS, &wake),
			 RECOVERY_RESET);
	assert_false(r.capped);
	assert_int_equal(r.taken[RECOVERY_RECONNECT] + r.taken[RECOVERY_RESET], 4);
}

static void test_healthy_again_starts_over_but_keeps_the_hour(void **state)
{
	struct recovery_cfg c = {.after_ms = 1000, .max_per_hour = 2, .can_reset = true};
	struct recovery r = {0};
	int64_t wake;

	recovery_next(&r, &c, true, true, 0, &wake);
	assert_int_equal(recovery_next(&r, &c, true, true, 1000, &wake), RECOVERY_RECONNECT);
	assert_int_equal(recovery_next(&r, &c, false, true, 2000, &wake), RECOVERY_NONE);
	assert_true(wake == INT64_MAX);
	/* A new failure: reconnect first again, after recover_after again. */
	assert_int_equal(recovery_next(&r, &c, true, true, 5000, &wake), RECOVERY_NONE);
	assert_int_equal(wake, 6000);
	assert_int_equal(recovery_next(&r, &c, true, true, 6000, &wake), RECOVERY_RECONNECT);
	/* A flapping uplink does not escape the cap by healing in between. */
	recovery_next(&r, &c, false, true, 6500, &wake);
	recovery_next(&r, &c, true, true, 7000, &wake);
	assert_int_equal(recovery_next(&r, &c, true, true, 8000, &wake), RECOVERY_NONE);
	assert_true(r.capped);
	assert_int_equal(wake, 1000 + RECOVERY_HOUR_MS);
}

static void test_switched_off(void **state)
{
	struct recovery_cfg off1 = {.after_ms = 0, .max_per_hour = 6, .can_reset = true};
	struct recovery_cfg off2 = {.after_ms = 1000, .max_per_hour = 0, .can_reset = true};
	struct recovery r = {0};
	int64_t wake;

	for (int64_t t = 0; t < 100000; t += 1000) {
		assert_int_equal(recovery_next(&r, &off1, true, true, t, &wake), RECOVERY_NONE);
		assert_int_equal(recovery_next(&r, &off2, true, true, t, &wake), RECOVERY_NONE);
	}
	assert_true(wake == INT64_MAX);
}

static void test_not_before_the_driver_has_its_data_path(void **state)
{
	struct recovery r = {0};
	int64_t wake;

	/* Failed while still coming up: nothing, and no failure yet either. */
	assert_int_equal(recovery_next(&r, &qmi, true, false, 0, &wake), RECOVERY_NONE);
	assert_true(wake == INT64_MAX);
	assert_int_equal(recovery_next(&r, &qmi, true, false, 50000, &wake), RECOVERY_NONE);
	assert_false(r.failed);
	/* Connected and still failed: the clock starts now. */
	assert_int_equal(recovery_next(&r, &qmi, true, true, 60000, &wake), RECOVERY_NONE);
	assert_int_equal(wake, 61000);
}

static void test_no_step_while_disconnected_and_time_to_judge_after(void **state)
{
	struct recovery r = {0};
	int64_t wake;

	recovery_next(&r, &qmi, true, true, 0, &wake);
	assert_int_equal(recovery_next(&r, &qmi, true, true, 1000, &wake), RECOVERY_RECONNECT);
	/* The reconnect takes the data path down: the step due at 3000 waits for it. */
	assert_int_equal(recovery_next(&r, &qmi, true, false, 1100, &wake), RECOVERY_NONE);
	assert_true(wake == INT64_MAX);
	assert_int_equal(recovery_next(&r, &qmi, true, false, 9000, &wake), RECOVERY_NONE);
	assert_true(r.failed); /* still the same failure: the ladder does not start over */
	/* Back at 9000: the checks get after_ms before the next rung, a reset. */
	assert_int_equal(recovery_next(&r, &qmi, true, true, 9000, &wake), RECOVERY_NONE);
	assert_int_equal(wake, 10000);
	assert_int_equal(recovery_next(&r, &qmi, true, true, 10000, &wake), RECOVERY_RESET);
	/* Back quickly after a step: the backoff's due time stands. */
	recovery_next(&r, &qmi, true, false, 10100, &wake);
	assert_int_equal(recovery_next(&r, &qmi, true, true, 10200, &wake), RECOVERY_NONE);
	assert_int_equal(wake, 14000);
}

static void test_step_names(void **state)
{
	assert_string_equal(recovery_step_to_string(RECOVERY_NONE), "none");
	assert_string_equal(recovery_step_to_string(RECOVERY_RECONNECT), "reconnect");
	assert_string_equal(recovery_step_to_string(RECOVERY_RESET), "reset");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthy_does_nothing),
		cmocka_unit_test(test_nothing_before_recover_after),
		cmocka_unit_test(test_reconnect_then_resets_with_doubling_backoff),
		cmocka_unit_test(test_backoff_stops_growing_at_the_maximum),
		cmocka_unit_test(test_without_reset_every_step_reconnects),
		cmocka_unit_test(test_cap_holds_and_resumes_when_the_oldest_step_is_an_hour_old),
		cmocka_unit_test(test_healthy_again_starts_over_but_keeps_the_hour),
		cmocka_unit_test(test_switched_off),
		cmocka_unit_test(test_not_before_the_driver_has_its_data_path),
		cmocka_unit_test(test_no_step_while_disconnected_and_time_to_judge_after),
		cmocka_unit_test(test_step_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
