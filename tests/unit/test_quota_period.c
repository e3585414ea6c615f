/* test_quota_period.c — unit tests for bpf/quota_period.c: which quota sizes and periods are
 * accepted and what they mean, when a period starts and resets (UTC, month ends, leap years). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bpf/quota_period.h"

#define SENTINEL ((time_t)-12345)

static void size_is(const char *s, uint64_t want)
{
	uint64_t v = 42;

	if (quota_size_parse(s, &v) < 0)
		fail_msg("'%s' rejected", s);
	if (v != want)
		fail_msg("'%s' = %llu, want %llu", s, (unsigned long long)v,
			 (unsigned long long)want);
}

static void size_fails(const char *s, int err)
{
	uint64_t v = 42;
	int r = quota_size_parse(s, &v);

	if (r != err)
		fail_msg("'%s': got %d, want %d", s, r, err);
	assert_int_equal(v, 42); /* *ret only written on success */
}

static void test_size_units_are_powers_of_1024(void **state)
{
	size_is("0", 0);
	size_is("1", 1);
	size_is("7B", 7);
	size_is("1K", 1024);
	size_is("1KiB", 1024);
	size_is("500M", 500ULL << 20);
	size_is("500MiB", 500ULL << 20);
	size_is("10G", 10ULL << 30);
	size_is("1GiB", 1ULL << 30);
	size_is("2T", 2ULL << 40);
	size_is("3TiB", 3ULL << 40);
}

static void test_size_fractions_are_exact_and_truncated_to_bytes(void **state)
{
	size_is("1.5G", 1610612736);
	size_is("1.5K", 1536);
	size_is("0.5M", 524288);
	size_is("1.1M", 1153433); /* 1153433.6 */
	size_is("0.001K", 1);     /* 1.024 */
	size_is("0.0009K", 0);    /* 0.9216 */
	size_is("1.0000000000000000001T", 1ULL << 40);
}

static void test_size_limits(void **state)
{
	size_is("18446744073709551615", UINT64_MAX);
	size_fails("18446744073709551616", -ERANGE);
	size_is("16777215T", 16777215ULL << 40);
	size_fails("16777216T", -ERANGE);
	size_is("16777215.5T", (16777215ULL << 40) + (1ULL << 39));
	size_is("16777215.9999999999999999999T", UINT64_MAX); /* the fraction truncates */
	size_fails("18014398509481984K", -ERANGE);            /* 2^54 K = 2^64 */
	size_is("18014398509481983K", UINT64_MAX - 1023);
}

static void test_size_syntax_errors(void **state)
{
	static const char *const bad[] = {
		"",     "M",   "1.",    ".5G",  "1.5",   "1.5B", "10GB", "10MB", "1KB",  "10g",
		"500m", "-1",  "+1",    " 1",   "1 ",    "1 G",  "1e3",  "0x10", "1..5G", "1.5.5G",
		"1GG",  "1Gi", "1.5 G", "1,5G", "1.00000000000000000000G",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		size_fails(bad[i], -EINVAL);
}

static void period_is(const char *s, enum quota_period_kind kind, unsigned day)
{
	struct quota_period p = { 99, 99 };
	char buf[QUOTA_PERIOD_STRLEN];

	if (quota_period_parse(s, &p) < 0)
		fail_msg("'%s' rejected", s);
	assert_int_equal(p.kind, kind);
	assert_int_equal(p.day, day);
	quota_period_format(&p, buf, sizeof(buf));
	/* "monthly" is monthly:1 written short. */
	assert_string_equal(buf, strcmp(s, "monthly") ? s : "monthly:1");
}

static void test_period_parse_and_format(void **state)
{
	period_is("none", QUOTA_PERIOD_NONE, 0);
	period_is("daily", QUOTA_PERIOD_DAILY, 0);
	period_is("monthly", QUOTA_PERIOD_MONTHLY, 1);
	period_is("monthly:1", QUOTA_PERIOD_MONTHLY, 1);
	period_is("monthly:15", QUOTA_PERIOD_MONTHLY, 15);
	period_is("monthly:31", QUOTA_PERIOD_MONTHLY, 31);
}

static void test_period_syntax_errors(void **state)
{
	static const char *const bad[] = {
		"",          "weekly",     "Monthly",    "DAILY",       "monthly:",   "monthly:0",
		"monthly:32", "monthly:99", "monthly:015", "monthly:1x", "monthly:-1", "monthly 1",
		"monthly1",  "daily:3",    "none:1",     "monthly:+5",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct quota_period p = { 99, 99 };

		if (quota_period_parse(bad[i], &p) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(p.kind, 99);
	}
}

/* Expects quota_period_start() and _next() of (kind, day) at now. */
static void bounds_are(enum quota_period_kind kind, unsigned day, time_t now, time_t start,
		       time_t next)
{
	struct quota_period p = { kind, day };
	time_t s = SENTINEL, n = SENTINEL;

	assert_int_equal(quota_period_start(&p, now, &s), 0);
	assert_int_equal(quota_period_next(&p, now, &n), 0);
	if (s != start || n != next)
		fail_msg("period %d:%u at %lld: [%lld, %lld), want [%lld, %lld)", kind, day,
			 (long long)now, (long long)s, (long long)n, (long long)start,
			 (long long)next);
}

static void test_daily_resets_at_utc_midnight(void **state)
{
	/* 2026-11-25 17:00 -> [11-25 00:00, 11-26 00:00) */
	bounds_are(QUOTA_PERIOD_DAILY, 0, 1795626000, 1795564800, 1795651200);
	/* Exactly at midnight: a new period has begun. */
	bounds_are(QUOTA_PERIOD_DAILY, 0, 1795564800, 1795564800, 1795651200);
	bounds_are(QUOTA_PERIOD_DAILY, 0, 1795564799, 1795564800 - 86400, 1795564800);
	/* Before 1970 the division must floor, not truncate. */
	bounds_are(QUOTA_PERIOD_DAILY, 0, -43200, -86400, 0);
}

static void test_monthly_resets_on_its_day(void **state)
{
	/* monthly:1 on 2026-11-25 -> [11-01, 12-01) */
	bounds_are(QUOTA_PERIOD_MONTHLY, 1, 1795626000, 1793491200, 1796083200);
	/* Across a year: 2026-12-15 08:00 -> [12-01, 2027-01-01) */
	bounds_are(QUOTA_PERIOD_MONTHLY, 1, 1797321600, 1796083200, 1798761600);
	/* monthly:15, at the instant and one second before. */
	bounds_are(QUOTA_PERIOD_MONTHLY, 15, 1794700800, 1794700800, 1797292800);
	bounds_are(QUOTA_PERIOD_MONTHLY, 15, 1794700799, 1792022400, 1794700800);
	/* Before 1970: 1969-12-31 12:00, monthly:1 -> [1969-12-01, 1970-01-01) */
	bounds_are(QUOTA_PERIOD_MONTHLY, 1, -43200, -2678400, 0);
}

static void test_monthly_day_beyond_month_end_resets_on_the_last_day(void **state)
{
	/* monthly:31 on 2027-02-10 -> [2027-01-31, 2027-02-28) */
	bounds_are(QUOTA_PERIOD_MONTHLY, 31, 1802217600, 1801353600, 1803772800);
	/* Leap year: 2028-02-29 12:00 -> [2028-02-29, 2028-03-31) */
	bounds_are(QUOTA_PERIOD_MONTHLY, 31, 1835438400, 1835395200, 1838073600);
	/* 2100 is not a leap year: 2100-02-10 -> [2100-01-31, 2100-02-28) */
	bounds_are(QUOTA_PERIOD_MONTHLY, 30, 4105900800, 4105036800 - 86400, 4107456000);
}

static void test_no_period_and_malformed_periods_are_errors(void **state)
{
	struct quota_period none = { QUOTA_PERIOD_NONE, 0 }, bad = { QUOTA_PERIOD_MONTHLY, 0 };
	struct quota_period big = { QUOTA_PERIOD_MONTHLY, 32 }, kind = { 7, 1 };
	time_t t = SENTINEL;

	assert_int_equal(quota_period_start(&none, 0, &t), -ENOENT);
	assert_int_equal(quota_period_next(&none, 0, &t), -ENOENT);
	assert_int_equal(quota_period_next(&bad, 0, &t), -EINVAL);
	assert_int_equal(quota_period_next(&big, 0, &t), -EINVAL);
	assert_int_equal(quota_period_start(&kind, 0, &t), -EINVAL);
	assert_int_equal(t, SENTINEL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_units_are_powers_of_1024),
		cmocka_unit_test(test_size_fractions_are_exact_and_truncated_to_bytes),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_size_syntax_errors),
		cmocka_unit_test(test_period_parse_and_format),
		cmocka_unit_test(test_period_syntax_errors),
		cmocka_unit_test(test_daily_resets_at_utc_midnight),
		cmocka_unit_test(test_monthly_resets_on_its_day),
		cmocka_unit_test(test_monthly_day_beyond_month_end_resets_on_the_last_day),
		cmocka_unit_test(test_no_period_and_malformed_periods_are_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
