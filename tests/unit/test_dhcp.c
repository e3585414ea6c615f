/* test_dhcp.c — unit tests for netns/dhcp.c: requests byte for byte as RFC 2131/2132 lay them
 * out (golden bytes written independently of the code), a server's offer parsed with every
 * option, and malformed replies, IP headers and checksums refused without over-reading. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netns/dhcp.h"

static const uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x20, 0x30};
#define XID 0x3903f326u

/* After the 236-byte BOOTP header: cookie, type DISCOVER, client id (1 + MAC), parameter
 * request list (subnet, router, DNS, MTU, lease, server id, T1, T2), max size 1500, end. */
static const uint8_t discover_opts[] = {
    0x63, 0x82, 0x53, 0x63, 0x35, 0x01, 0x01, 0x3d, 0x07, 0x01, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
    0x37, 0x08, 0x01, 0x03, 0x06, 0x1a, 0x33, 0x36, 0x3a, 0x3b, 0x39, 0x02, 0x05, 0xdc, 0xff,
};

/* An OFFER of 100.64.0.50 from 100.64.0.1: server id, lease 120 s, T1 5 s, T2 9 s, /24, an
 * option we do not know (28, broadcast address), router, two DNS servers, MTU 1500, end. */
static const uint8_t offer_opts[] = {
    0x63, 0x82, 0x53, 0x63, 0x35, 0x01, 0x02, 0x36, 0x04, 0x64, 0x40, 0x00, 0x01, 0x33, 0x04, 0x00,
    0x00, 0x00, 0x78, 0x3a, 0x04, 0x00, 0x00, 0x00, 0x05, 0x3b, 0x04, 0x00, 0x00, 0x00, 0x09, 0x01,
    0x04, 0xff, 0xff, 0xff, 0x00, 0x1c, 0x04, 0x64, 0x40, 0x00, 0xff, 0x03, 0x04, 0x64, 0x40, 0x00,
    0x01, 0x06, 0x08, 0x64, 0x40, 0x00, 0x01, 0x09, 0x09, 0x09, 0x09, 0x1a, 0x02, 0x05, 0xdc, 0xff,
};

/* IPv4/UDP 67 -> 68 from 100.64.0.1 to 255.255.255.255 carrying "hello dhcp". */
static const uint8_t udp_to_client[] = {
    0x45, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x16, 0x87, 0x64,
    0x40, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0x00, 0x43, 0x00, 0x44, 0x00, 0x12,
    0x8f, 0x37, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x64, 0x68, 0x63, 0x70,
};

/* What dhcp_udp_wrap() must make of "abc" from 0.0.0.0 to broadcast: DSCP CS6, TTL 64. */
static const uint8_t udp_wrapped_abc[] = {
    0x45, 0xc0, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x7a, 0x0f, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x44, 0x00, 0x43, 0x00, 0x0b, 0x3a, 0xef, 0x61, 0x62, 0x63,
};

static size_t make_offer(uint8_t *buf)
{
	memset(buf, 0, 236);
	buf[0] = 2;
	buf[1] = 1;
	buf[2] = 6;
	buf[4] = 0x39, buf[5] = 0x03, buf[6] = 0xf3, buf[7] = 0x26;
	buf[16] = 100, buf[17] = 64, buf[18] = 0, buf[19] = 50;
	memcpy(buf + 28, mac, 6);
	memcpy(buf + 236, offer_opts, sizeof(offer_opts));
	return 236 + sizeof(offer_opts);
}

static void test_discover_matches_golden_bytes(void **state)
{
	struct dhcp_request rq = {.type = DHCP_DISCOVER, .xid = XID, .broadcast = true};
	uint8_t buf[DHCP_MAX_LEN], hdr[236] = {1, 1, 6, 0, 0x39, 0x03, 0xf3, 0x26, 0, 0, 0x80};

	memcpy(rq.mac, mac, 6);
	memcpy(hdr + 28, mac, 6);
	assert_int_equal(dhcp_build(&rq, buf, sizeof(buf)), DHCP_MIN_LEN);
	assert_memory_equal(buf, hdr, sizeof(hdr));
	assert_memory_equal(buf + 236, discover_opts, sizeof(discover_opts));
	for (size_t i = 236 + sizeof(discover_opts); i < DHCP_MIN_LEN; i++)
		assert_int_equal(buf[i], 0); /* padded to BOOTP's 300 bytes */
}

static void test_request_names_offer_and_server(void **state)
{
	struct dhcp_request rq = {.type = DHCP_REQUEST, .xid = XID, .broadcast = true};
	static const uint8_t want[] = {0x35, 0x01, 0x03, 0x3d, 0x07, 0x01, 0x02, 0x00,
				       0x5e, 0x10, 0x20, 0x30, 0x32, 0x04, 100,	 64,
				       0,    50,   0x36, 0x04, 100,  64,   0,	 1};
	uint8_t buf[DHCP_MAX_LEN];

	memcpy(rq.mac, mac, 6);
	inet_pton(AF_INET, "100.64.0.50", &rq.requested);
	inet_pton(AF_INET, "100.64.0.1", &rq.server_id);
	assert_int_equal(dhcp_build(&rq, buf, sizeof(buf)), DHCP_MIN_LEN);
	assert_memory_equal(buf + 240, want, sizeof(want));
	assert_int_equal(buf[12], 0); /* ciaddr stays 0 while SELECTING */
}

static void test_renewal_carries_ciaddr_and_no_broadcast_flag(void **state)
{
	struct dhcp_request rq = {.type = DHCP_REQUEST, .xid = XID};
	uint8_t buf[DHCP_MAX_LEN];

	memcpy(rq.mac, mac, 6);
	inet_pton(AF_INET, "100.64.0.50", &rq.ciaddr);
	assert_int_equal(dhcp_build(&rq, buf, sizeof(buf)), DHCP_MIN_LEN);
	assert_int_equal(buf[10], 0);
	assert_memory_equal(buf + 12, "\x64\x40\x00\x32", 4);
	/* RFC 2131 4.3.2: no requested address and no server id while RENEWING */
	assert_null(memchr(buf + 240, 0x32, 3));
	assert_int_equal(dhcp_build(&rq, buf, DHCP_MIN_LEN - 1), -ENOBUFS);
}

static void test_offer_parses_every_option(void **state)
{
	uint8_t buf[512];
	size_t n = make_offer(buf);
	struct dhcp_reply r;
	char a[INET_ADDRSTRLEN];

	assert_int_equal(dhcp_parse(buf, n, &r), 0);
	assert_int_equal(r.type, DHCP_OFFER);
	assert_int_equal(r.xid, XID);
	assert_memory_equal(r.chaddr, mac, 6);
	assert_string_equal(inet_ntop(AF_INET, &r.yiaddr, a, sizeof(a)), "100.64.0.50");
	assert_string_equal(inet_ntop(AF_INET, &r.server_id, a, sizeof(a)), "100.64.0.1");
	assert_string_equal(inet_ntop(AF_INET, &r.router, a, sizeof(a)), "100.64.0.1");
	assert_int_equal(r.plen, 24);
	assert_int_equal(r.n_dns, 2);
	assert_string_equal(inet_ntop(AF_INET, &r.dns[1], a, sizeof(a)), "9.9.9.9");
	assert_int_equal(r.lease_s, 120);
	assert_int_equal(r.t1_s, 5);
	assert_int_equal(r.t2_s, 9);
	assert_int_equal(r.mtu, 1500);
}

static void test_missing_t1_t2_default_to_half_and_seven_eighths(void **state)
{
	uint8_t buf[512];
	size_t n = make_offer(buf);
	struct dhcp_reply r;

	buf[236 + 19] = 0xfe; /* T1 and T2 become unknown options 254 */
	buf[236 + 25] = 0xfe;
	assert_int_equal(dhcp_parse(buf, n, &r), 0);
	assert_int_equal(r.t1_s, 60);
	assert_int_equal(r.t2_s, 105);
}

static void test_malformed_replies_are_refused(void **state)
{
	uint8_t buf[512];
	size_t n = make_offer(buf);
	struct dhcp_reply r;

	/* Exact-size copies of every prefix: an over-read shows under valgrind or ASan. Without
	 * a whole message type option there is no answer; past it, options simply end early. */
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *p = malloc(cut ? cut : 1);
		int ret;

		memcpy(p, buf, cut);
		ret = dhcp_parse(p, cut, &r);
		if (cut < 236 + 4 + 3)
			assert_int_equal(ret, -EBADMSG);
		free(p);
	}
	/* an option whose length runs past the end */
	assert_int_equal(dhcp_parse(buf, 236 + 4 + 3 + 1, &r), -EBADMSG);
	make_offer(buf);
	buf[236 + 8] = 5; /* server id of 5 bytes */
	assert_int_equal(dhcp_parse(buf, n, &r), -EBADMSG);
	make_offer(buf);
	buf[0] = 1; /* a BOOTREQUEST is not an answer */
	assert_int_equal(dhcp_parse(buf, n, &r), -EBADMSG);
	make_offer(buf);
	buf[237] = 0x11; /* no magic cookie */
	assert_int_equal(dhcp_parse(buf, n, &r), -EBADMSG);
	make_offer(buf);
	buf[236 + 6] = 9; /* no such message type */
	assert_int_equal(dhcp_parse(buf, n, &r), -EBADMSG);
}

static void test_udp_wrap_matches_golden_bytes(void **state)
{
	uint8_t out[64];
	struct in_addr any = {0}, bcast = {htonl(INADDR_BROADCAST)};

	assert_int_equal(dhcp_udp_wrap(out, sizeof(out), (const uint8_t *)"abc", 3, any, bcast),
			 sizeof(udp_wrapped_abc));
	assert_memory_equal(out, udp_wrapped_abc, sizeof(udp_wrapped_abc));
	assert_int_equal(dhcp_udp_wrap(out, 30, (const uint8_t *)"abc", 3, any, bcast), -ENOBUFS);
}

static void test_udp_unwrap_checks_headers_and_checksums(void **state)
{
	uint8_t pkt[sizeof(udp_to_client)];
	const uint8_t *payload;
	size_t len;

	memcpy(pkt, udp_to_client, sizeof(pkt));
	assert_int_equal(dhcp_udp_unwrap(pkt, sizeof(pkt), true, &payload, &len), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(payload, "hello dhcp", 10);
	pkt[30] ^= 1; /* payload bit flip: UDP checksum */
	assert_int_equal(dhcp_udp_unwrap(pkt, sizeof(pkt), true, &payload, &len), -EBADMSG);
	/* unless the kernel says the checksum was never filled in (offload) */
	assert_int_equal(dhcp_udp_unwrap(pkt, sizeof(pkt), false, &payload, &len), 0);
	memcpy(pkt, udp_to_client, sizeof(pkt));
	pkt[8] = 63; /* TTL change: IP header checksum */
	assert_int_equal(dhcp_udp_unwrap(pkt, sizeof(pkt), true, &payload, &len), -EBADMSG);
	memcpy(pkt, udp_to_client, sizeof(pkt));
	assert_int_equal(dhcp_udp_unwrap(pkt, sizeof(pkt) - 1, true, &payload, &len), -EBADMSG);
	pkt[26] = pkt[27] = 0; /* no UDP checksum is allowed */
	assert_int_equal(dhcp_udp_unwrap(pkt, sizeof(pkt), true, &payload, &len), 0);
	memcpy(pkt, udp_to_client, sizeof(pkt));
	pkt[23] = 69; /* another port: not for us */
	assert_int_equal(dhcp_udp_unwrap(pkt, sizeof(pkt), true, &payload, &len), -EBADMSG);
	memcpy(pkt, udp_to_client, sizeof(pkt));
	pkt[0] = 0x4f; /* IHL 60 bytes: more than the packet */
	assert_int_equal(dhcp_udp_unwrap(pkt, sizeof(pkt), true, &payload, &len), -EBADMSG);
}

static void test_build_then_parse_round_trip_of_an_ack(void **state)
{
	/* A client's REQUEST turned into an ACK by flipping op and type: the parser reads what
	 * the builder wrote. */
	struct dhcp_request rq = {.type = DHCP_REQUEST, .xid = 42};
	uint8_t buf[DHCP_MAX_LEN];
	struct dhcp_reply r;
	int n;

	memcpy(rq.mac, mac, 6);
	inet_pton(AF_INET, "100.64.0.1", &rq.server_id);
	n = dhcp_build(&rq, buf, sizeof(buf));
	buf[0] = 2;
	buf[242] = DHCP_ACK;
	assert_int_equal(dhcp_parse(buf, (size_t)n, &r), 0);
	assert_int_equal(r.type, DHCP_ACK);
	assert_int_equal(r.xid, 42);
	assert_int_equal(r.server_id.s_addr, rq.server_id.s_addr);
	assert_int_equal(r.lease_s, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_discover_matches_golden_bytes),
	    cmocka_unit_test(test_request_names_offer_and_server),
	    cmocka_unit_test(test_renewal_carries_ciaddr_and_no_broadcast_flag),
	    cmocka_unit_test(test_offer_parses_every_option),
	    cmocka_unit_test(test_missing_t1_t2_default_to_half_and_seven_eighths),
	    cmocka_unit_test(test_malformed_replies_are_refused),
	    cmocka_unit_test(test_udp_wrap_matches_golden_bytes),
	    cmocka_unit_test(test_udp_unwrap_checks_headers_and_checksums),
	    cmocka_unit_test(test_build_then_parse_round_trip_of_an_ack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
