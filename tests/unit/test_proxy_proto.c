/* test_proxy_proto.c — unit tests for cellmux-proxy's parsers (tools/workers/proxy_proto.c):
 * golden SOCKS5 and HTTP bytes as clients send them, split anywhere, and each refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "tools/workers/proxy_proto.h"

/* curl --socks5-hostname --proxy-user alice:secret http://ip.cellmux.test/ip, as captured */
static const uint8_t greeting[] = { 5, 2, 0, 2 };
static const uint8_t auth[] = "\x01\x05" "alice" "\x06" "secret";
static const uint8_t request[] = "\x05\x01\x00\x03\x0f" "ip.cellmux.test" "\x00\x50";

static void test_socks5_greeting_needs_all_methods_then_lists_them(void **state)
{
	unsigned m = 0;

	for (size_t n = 0; n < sizeof(greeting); n++)
		assert_int_equal(socks5_parse_greeting(greeting, n, &m), 0);
	assert_int_equal(socks5_parse_greeting(greeting, sizeof(greeting), &m), 4);
	assert_int_equal(m, 1u << 0 | 1u << 2);
	assert_int_equal(socks5_parse_greeting((const uint8_t *)"\x04\x01\x00", 3, &m), -EPROTO);
	assert_int_equal(socks5_parse_greeting((const uint8_t *)"\x05\x00", 2, &m), -EPROTO);
}

static void test_socks5_auth_splits_user_and_password(void **state)
{
	char u[256], p[256];
	size_t len = sizeof(auth) - 1;

	for (size_t n = 0; n < len; n++)
		assert_int_equal(socks5_parse_auth(auth, n, u, p), 0);
	assert_int_equal(socks5_parse_auth(auth, len, u, p), (int)len);
	assert_string_equal(u, "alice");
	assert_string_equal(p, "secret");
	/* empty user, a NUL inside, a wrong sub-negotiation version */
	assert_int_equal(socks5_parse_auth((const uint8_t *)"\x01\x00\x01x", 4, u, p), -EPROTO);
	assert_int_equal(socks5_parse_auth((const uint8_t *)"\x01\x01\x00\x01x", 5, u, p), -EPROTO);
	assert_int_equal(socks5_parse_auth((const uint8_t *)"\x02\x01x\x01x", 5, u, p), -EPROTO);
}

static void test_socks5_request_domain_v4_v6_and_unknown_type(void **state)
{
	static const uint8_t v4[] = { 5, 1, 0, 1, 198, 18, 0, 1, 0, 80 };
	static const uint8_t v6[] = { 5, 3, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 187 };
	static const uint8_t bad[] = { 5, 1, 0, 9, 0, 0 };
	struct proxy_target t;
	size_t len = sizeof(request) - 1;
	int cmd;

	for (size_t n = 0; n < len; n++)
		assert_int_equal(socks5_parse_request(request, n, &cmd, &t), 0);
	assert_int_equal(socks5_parse_request(request, len, &cmd, &t), (int)len);
	assert_int_equal(cmd, SOCKS5_CMD_CONNECT);
	assert_string_equal(t.host, "ip.cellmux.test");
	assert_int_equal(t.port, 80);
	assert_int_equal(socks5_parse_request(v4, sizeof(v4), &cmd, &t), 10);
	assert_string_equal(t.host, "198.18.0.1");
	assert_int_equal(socks5_parse_request(v6, sizeof(v6), &cmd, &t), 22);
	assert_int_equal(cmd, SOCKS5_CMD_UDP_ASSOCIATE);
	assert_string_equal(t.host, "::1");
	assert_int_equal(t.port, 443);
	assert_int_equal(socks5_parse_request(bad, sizeof(bad), &cmd, &t), -EAFNOSUPPORT);
}

static void test_socks5_reply_golden_bytes(void **state)
{
	static const uint8_t want[] = { 5, 0, 0, 1, 100, 64, 0, 2, 0x9c, 0x40 };
	const uint8_t a[4] = { 100, 64, 0, 2 };
	uint8_t out[32];

	assert_int_equal(socks5_reply(out, SOCKS5_REP_OK, AF_INET, a, 40000), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static const char get_head[] = "GET http://ip.cellmux.test/ip?x=1 HTTP/1.1\r\n"
			       "Host: ip.cellmux.test\r\n"
			       "Proxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n"
			       "Proxy-Connection: Keep-Alive\r\n"
			       "Accept: */*\r\n\r\n";

static void test_http_forward_request_is_parsed_and_rewritten_without_credentials(void **state)
{
	struct http_request r;
	char out[1024];
	size_t len;
	size_t n = strlen(get_head);

	assert_int_equal(http_parse_request(get_head, n - 1, &r), 0);
	assert_int_equal(http_parse_request(get_head, n, &r), (int)n);
	assert_false(r.connect);
	assert_string_equal(r.target.host, "ip.cellmux.test");
	assert_int_equal(r.target.port, 80);
	assert_string_equal(r.path, "/ip?x=1");
	assert_true(r.have_auth);
	assert_string_equal(r.user, "alice");
	assert_string_equal(r.pass, "secret");
	assert_int_equal(http_rewrite_head(get_head, &r, out, sizeof(out), &len), 0);
	out[len] = '\0';
	assert_string_equal(out, "GET /ip?x=1 HTTP/1.1\r\nHost: ip.cellmux.test\r\nAccept: */*\r\n"
				 "Connection: close\r\n\r\n");
}

static void test_http_connect_takes_an_authority(void **state)
{
	static const char h[] = "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_request r;

	assert_int_equal(http_parse_request(h, strlen(h), &r), (int)strlen(h));
	assert_true(r.connect);
	assert_int_equal(r.target.atyp, SOCKS5_ATYP_IPV6);
	assert_int_equal(r.target.port, 443);
	assert_false(r.have_auth);
}

static void test_http_refusals(void **state)
{
	struct http_request r;
	char big[PROXY_HTTP_HEAD_MAX + 10];
	static const char *const bad[] = {
		"GET http://x/ HTTP/2.0\r\nHost: x\r\n\r\n",       /* version */
		"GET http://x/ HTTP/1.1\r\n\r\n",                   /* no Host */
		"GET http://x/ HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", /* obs-fold */
		"CONNECT x HTTP/1.1\r\nHost: x\r\n\r\n",            /* no port */
		"GET http://u:p@x/ HTTP/1.1\r\nHost: x\r\n\r\n",    /* userinfo */
		"GET http://x/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic !!\r\n\r\n",
		"get http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",        /* method case */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(http_parse_request(bad[i], strlen(bad[i]), &r), -EPROTO);
	assert_int_equal(http_parse_request("GET /ip HTTP/1.1\r\nHost: x\r\n\r\n", 29, &r),
			 -EPROTONOSUPPORT);
	assert_int_equal(http_parse_request("GET https://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 36, &r),
			 -EPROTONOSUPPORT);
	memset(big, 'a', sizeof(big));
	assert_int_equal(http_parse_request(big, sizeof(big), &r), -EMSGSIZE);
}

static void test_basic_credentials(void **state)
{
	char u[256], p[256];

	assert_int_equal(http_parse_basic(" Basic YWxpY2U6c2VjcmV0", 23, u, p), 0);
	assert_string_equal(u, "alice");
	assert_string_equal(p, "secret");
	/* "alice" alone: no colon */
	assert_int_equal(http_parse_basic("Basic YWxpY2U=", 14, u, p), -EPROTO);
	assert_int_equal(http_parse_basic("Bearer abc", 10, u, p), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socks5_greeting_needs_all_methods_then_lists_them),
		cmocka_unit_test(test_socks5_auth_splits_user_and_password),
		cmocka_unit_test(test_socks5_request_domain_v4_v6_and_unknown_type),
		cmocka_unit_test(test_socks5_reply_golden_bytes),
		cmocka_unit_test(test_http_forward_request_is_parsed_and_rewritten_without_credentials),
		cmocka_unit_test(test_http_connect_takes_an_authority),
		cmocka_unit_test(test_http_refusals),
		cmocka_unit_test(test_basic_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
