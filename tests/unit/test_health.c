/* test_health.c — unit tests for the health checks' pure parts: health_check_parse() (every
 * form, and what it refuses) and health_next() (healthy -> degraded -> failed and back). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon/health.h"

static void test_tcp_parses_address_and_port(void **state)
{
	struct health_check c;

	assert_int_equal(health_check_parse("tcp:198.18.0.1:80", &c), 0);
	assert_int_equal(c.kind, HEALTH_TCP);
	assert_int_equal(c.port, 80);
	assert_int_equal(c.addr.s_addr, inet_addr("198.18.0.1"));
}

static void test_http_defaults_port_and_path(void **state)
{
	struct health_check c;

	assert_int_equal(health_check_parse("http://10.1.2.3", &c), 0);
	assert_int_equal(c.kind, HEALTH_HTTP);
	assert_int_equal(c.port, 80);
	assert_string_equal(c.path, "/");
	assert_string_equal(c.host, "10.1.2.3");
	assert_int_equal(health_check_parse("http://10.1.2.3:8080/gen_204?x=1", &c), 0);
	assert_int_equal(c.port, 8080);
	assert_string_equal(c.path, "/gen_204?x=1");
	assert_int_equal(health_check_parse("http://10.1.2.3/ip", &c), 0);
	assert_int_equal(c.port, 80);
	assert_string_equal(c.path, "/ip");
}

static void test_dns_and_icmp_parse(void **state)
{
	struct health_check c;

	assert_int_equal(health_check_parse("dns:carrier.cellmux.test", &c), 0);
	assert_int_equal(c.kind, HEALTH_DNS);
	assert_string_equal(c.host, "carrier.cellmux.test");
	assert_int_equal(health_check_parse("icmp:9.9.9.9", &c), 0);
	assert_int_equal(c.kind, HEALTH_ICMP);
	assert_int_equal(c.addr.s_addr, inet_addr("9.9.9.9"));
}

static void test_bad_checks_are_refused(void **state)
{
	static const char *const bad[] = {
		"", "tcp:1.2.3.4", "tcp:1.2.3.4:0", "tcp:1.2.3.4:65536", "tcp:host:80",
		"tcp:1.2.3.4:80x", "http://example.com/", "http://1.2.3.4:/", "http://1.2.3.4/a b",
		"http://1.2.3.4/a\r\nX: y", "dns:", "dns:.a", "dns:a..b", "dns:a b", "icmp:",
		"icmp:::1", "ping:1.2.3.4", "https://1.2.3.4/",
	};
	struct health_check c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (health_check_parse(bad[i], &c) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

static void test_verdict_goes_down_after_fail_rounds(void **state)
{
	enum router_health h = ROUTER_HEALTHY;
	unsigned fails = 0, oks = 0;

	h = health_next(h, false, &fails, &oks, 3, 2);
	assert_int_equal(h, ROUTER_DEGRADED);
	h = health_next(h, false, &fails, &oks, 3, 2);
	assert_int_equal(h, ROUTER_DEGRADED);
	h = health_next(h, false, &fails, &oks, 3, 2);
	assert_int_equal(h, ROUTER_FAILED);
}

static void test_a_pass_resets_the_count_down(void **state)
{
	enum router_health h = ROUTER_HEALTHY;
	unsigned fails = 0, oks = 0;

	h = health_next(h, false, &fails, &oks, 3, 2);
	h = health_next(h, false, &fails, &oks, 3, 2);
	h = health_next(h, true, &fails, &oks, 3, 2);
	assert_int_equal(h, ROUTER_HEALTHY);
	h = health_next(h, false, &fails, &oks, 3, 2);
	h = health_next(h, false, &fails, &oks, 3, 2);
	assert_int_equal(h, ROUTER_DEGRADED);
}

static void test_failed_needs_ok_passes_in_a_row(void **state)
{
	enum router_health h = ROUTER_FAILED;
	unsigned fails = 0, oks = 0;

	h = health_next(h, true, &fails, &oks, 3, 3);
	h = health_next(h, true, &fails, &oks, 3, 3);
	h = health_next(h, false, &fails, &oks, 3, 3); /* the run is broken: start again */
	assert_int_equal(h, ROUTER_FAILED);
	h = health_next(h, true, &fails, &oks, 3, 3);
	h = health_next(h, true, &fails, &oks, 3, 3);
	assert_int_equal(h, ROUTER_FAILED);
	h = health_next(h, true, &fails, &oks, 3, 3);
	assert_int_equal(h, ROUTER_HEALTHY);
}

static void test_fail_of_one_fails_at_once(void **state)
{
	unsigned fails = 0, oks = 0;

	assert_int_equal(health_next(ROUTER_HEALTHY, false, &fails, &oks, 1, 1), ROUTER_FAILED);
	assert_int_equal(health_next(ROUTER_FAILED, true, &fails, &oks, 1, 1), ROUTER_HEALTHY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_parses_address_and_port),
		cmocka_unit_test(test_http_defaults_port_and_path),
		cmocka_unit_test(test_dns_and_icmp_parse),
		cmocka_unit_test(test_bad_checks_are_refused),
		cmocka_unit_test(test_verdict_goes_down_after_fail_rounds),
		cmocka_unit_test(test_a_pass_resets_the_count_down),
		cmocka_unit_test(test_failed_needs_ok_passes_in_a_row),
		cmocka_unit_test(test_fail_of_one_fails_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
