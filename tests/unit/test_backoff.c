/* test_backoff.c — the restart backoff of a session: doubles from restart_sec, capped at
 * restart_max_sec, never zero, no overflow however many failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/session.h"

static void backoff_doubles_from_first_delay(void **state)
{
	assert_int_equal(session_backoff_ms(200, 60000, 1), 200);
	assert_int_equal(session_backoff_ms(200, 60000, 2), 400);
	assert_int_equal(session_backoff_ms(200, 60000, 3), 800);
	assert_int_equal(session_backoff_ms(200, 60000, 4), 1600);
}

static void backoff_is_capped(void **state)
{
	assert_int_equal(session_backoff_ms(200, 800, 3), 800);
	assert_int_equal(session_backoff_ms(200, 800, 4), 800);
	assert_int_equal(session_backoff_ms(1000, 60000, 1000000), 60000);
	assert_int_equal(session_backoff_ms(4000000000u, 4100000000u, 50), 4100000000u);
}

static void backoff_never_zero(void **state)
{
	assert_int_equal(session_backoff_ms(0, 1000, 1), 1);
	assert_int_equal(session_backoff_ms(0, 1000, 5), 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff_doubles_from_first_delay),
		cmocka_unit_test(backoff_is_capped),
		cmocka_unit_test(backoff_never_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
