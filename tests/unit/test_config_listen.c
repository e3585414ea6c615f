/* test_config_listen.c — unit tests for listen= (daemon/config.c): the sockets a profile or
 * session asks for, a session's own list over its profile's, and the refusals with FILE:LINE. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "daemon/config.h"

#define UPLINK_A "[uplink a]\ndriver=netdev\ninterface=wwan0\naddress=10.0.0.2/24\n" /* 4 lines */

static struct cmx_config *parse_ok(const char *text)
{
	struct cmx_config *c = NULL;
	char err[CONFIG_ERR_MAX];

	if (config_parse_string("t.conf", text, &c, err, sizeof(err)) < 0)
		fail_msg("config rejected: %s", err);
	return c;
}

static void expect_error(const char *text, const char *msg)
{
	struct cmx_config *c = NULL;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(config_parse_string("t.conf", text, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, msg);
	assert_null(c);
}

static void test_profile_listen_parses_tcp_v4_v6_and_unix_in_order(void **state)
{
	struct cmx_config *c = parse_ok(UPLINK_A "[profile p]\nexec=/bin/true\n"
					"listen=127.0.0.1:1081 [::1]:1082 /run/front.sock\n"
					"[session s]\nprofile=p\n");
	const struct cfg_listens *l = config_session_listens(&c->profiles[0], &c->sessions[0]);
	char buf[128];

	assert_int_equal(l->n, 3);
	assert_int_equal(l->line, 7);
	assert_int_equal(l->v[0].family, AF_INET);
	assert_int_equal(l->v[0].port, 1081);
	assert_int_equal(l->v[1].family, AF_INET6);
	config_listen_format(&l->v[1], buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:1082");
	assert_int_equal(l->v[2].family, AF_UNIX);
	assert_string_equal(l->v[2].address, "/run/front.sock");
	config_free(c);
}

static void test_session_listen_overrides_its_profiles(void **state)
{
	struct cmx_config *c = parse_ok(UPLINK_A "[profile p]\nexec=/bin/true\nlisten=127.0.0.1:1081\n"
					"[session s1]\nprofile=p\nlisten=127.0.0.1:1091\n"
					"[session s2]\nprofile=p\nlisten=127.0.0.1:1092\n");
	const struct cfg_listens *a = config_session_listens(&c->profiles[0], &c->sessions[0]);
	const struct cfg_listens *b = config_session_listens(&c->profiles[0], &c->sessions[1]);

	assert_int_equal(a->v[0].port, 1091);
	assert_int_equal(b->v[0].port, 1092);
	assert_false(config_listen_equal(a, b));
	config_free(c);
}

static void test_two_sessions_on_one_port_is_an_error_at_the_second(void **state)
{
	expect_error(UPLINK_A "[profile p]\nexec=/bin/true\n"
			      "[session s1]\nprofile=p\nlisten=127.0.0.1:1081\n"
			      "[session s2]\nprofile=p\nlisten=127.0.0.1:1081\n",
		     "t.conf:12: session 's2' listens on 127.0.0.1:1081, which session 's1' "
		     "(line 7) already does");
}

static void test_a_profile_listen_shared_by_two_sessions_is_an_error(void **state)
{
	expect_error(UPLINK_A "[profile p]\nexec=/bin/true\nlisten=/run/x.sock\n"
			      "[session s1]\nprofile=p\n[session s2]\nprofile=p\n",
		     "t.conf:7: session 's2' listens on /run/x.sock, which session 's1' (line 8) "
		     "already does");
}

static void test_a_wildcard_conflicts_with_a_specific_address_on_its_port(void **state)
{
	expect_error(UPLINK_A "[profile p]\nexec=/bin/true\n"
			      "[session s1]\nprofile=p\nlisten=0.0.0.0:1081\n"
			      "[session s2]\nprofile=p\nlisten=127.0.0.1:1081\n",
		     "t.conf:12: session 's2' listens on 127.0.0.1:1081, which session 's1' "
		     "(line 7) already does");
}

static void test_bad_listen_words_are_refused(void **state)
{
	static const char *const bad[] = { "1081", "localhost:1081", "127.0.0.1:0",
					   "127.0.0.1:65536", "::1:1081", "relative.sock",
					   "/run/../x.sock" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256], msg[256];

		snprintf(text, sizeof(text), "[profile p]\nexec=/bin/true\nlisten=%s\n", bad[i]);
		snprintf(msg, sizeof(msg),
			 "t.conf:3: invalid listen= socket '%s' (want ADDRESS:PORT, "
			 "[IPV6-ADDRESS]:PORT, udp:ADDRESS:PORT or an absolute path)", bad[i]);
		expect_error(text, msg);
	}
}

static void test_udp_and_tcp_on_one_port_do_not_conflict(void **state)
{
	struct cmx_config *c = parse_ok("[profile p]\nexec=/bin/true\n"
					"listen=127.0.0.1:1081 udp:127.0.0.1:1081\n");
	char buf[64];

	assert_int_equal(c->profiles[0].listen.n, 2);
	assert_true(c->profiles[0].listen.v[1].udp);
	config_listen_format(&c->profiles[0].listen.v[1], buf, sizeof(buf));
	assert_string_equal(buf, "udp:127.0.0.1:1081");
	config_free(c);
	expect_error("[profile p]\nexec=/bin/true\nlisten=udp:127.0.0.1:1 udp:0.0.0.0:1\n",
		     "t.conf:3: listen= names 'udp:0.0.0.0:1' twice");
}

static void test_one_socket_twice_in_a_list_is_refused(void **state)
{
	expect_error("[profile p]\nexec=/bin/true\nlisten=127.0.0.1:1 127.0.0.1:1\n",
		     "t.conf:3: listen= names '127.0.0.1:1' twice");
}

static void test_more_than_the_maximum_is_refused(void **state)
{
	expect_error("[profile p]\nexec=/bin/true\nlisten=127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 "
		     "127.0.0.1:4 127.0.0.1:5 127.0.0.1:6 127.0.0.1:7 127.0.0.1:8 127.0.0.1:9\n",
		     "t.conf:3: listen= takes at most 8 sockets");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_listen_parses_tcp_v4_v6_and_unix_in_order),
		cmocka_unit_test(test_session_listen_overrides_its_profiles),
		cmocka_unit_test(test_two_sessions_on_one_port_is_an_error_at_the_second),
		cmocka_unit_test(test_a_profile_listen_shared_by_two_sessions_is_an_error),
		cmocka_unit_test(test_a_wildcard_conflicts_with_a_specific_address_on_its_port),
		cmocka_unit_test(test_bad_listen_words_are_refused),
		cmocka_unit_test(test_udp_and_tcp_on_one_port_do_not_conflict),
		cmocka_unit_test(test_one_socket_twice_in_a_list_is_refused),
		cmocka_unit_test(test_more_than_the_maximum_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
