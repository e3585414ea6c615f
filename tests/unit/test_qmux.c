/* test_qmux.c — unit tests for the fake QMI modem's QMUX codec (tests/fakeqmi/qmux.c): libqmi's
 * own proxy-open exchange as golden bytes, frames split across reads, and broken frames (no
 * marker, lying lengths, TLVs running past the end) refused without reading past the buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/fakeqmi/qmux.h"

/* libqmi's test-fixture.c: the CTL "internal proxy open" for "/dev/virtual/qmi" (padded to 20
 * bytes with NULs) and the proxy's answer. The fixture's answer has QMUX flags 0x00; a modem
 * (and the fake) sets 0x80, "from the service": that byte is the only difference. */
static const uint8_t proxy_open_req[] = {
    0x01, 0x22, 0x00, 0x00, 0x00, 0x00, /* marker, QMUX length 34, flags, CTL, client 0 */
    0x00, 0xff, 0x00, 0xff, 0x17, 0x00, /* request, txn 0xff, msg 0xff00, TLVs 23 bytes */
    0x01, 0x14, 0x00, '/',  'd',  'e',	'v', '/',  'v',	 'i',  'r',  't',
    'u',  'a',	'l',  '/',  'q',  'm',	'i', 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t proxy_open_resp[] = {
    0x01, 0x12, 0x00, 0x80, 0x00, 0x00, 0x01, 0xff, 0x00, 0xff,
    0x07, 0x00, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void test_parse_libqmi_proxy_open_request(void **state)
{
	struct qmux_msg m;
	const uint8_t *v;
	uint16_t n;

	assert_int_equal(qmux_parse(proxy_open_req, sizeof(proxy_open_req), &m),
			 sizeof(proxy_open_req));
	assert_int_equal(m.service, QMI_SVC_CTL);
	assert_int_equal(m.client, 0);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.txn, 0xff);
	assert_int_equal(m.msg_id, 0xff00);
	assert_int_equal(qmux_tlv_get(&m, 0x01, &v, &n), 0);
	assert_int_equal(n, 20);
	assert_memory_equal(v, "/dev/virtual/qmi", 16);
	assert_int_equal(qmux_tlv_get(&m, 0x02, &v, &n), -ENOENT);
}

static void test_build_reproduces_libqmi_proxy_open_response(void **state)
{
	uint8_t buf[64];
	struct qmux_builder b;

	qmux_build_begin(&b, buf, sizeof(buf), QMI_SVC_CTL, 0, QMI_CTL_FLAG_RESPONSE, 0xff, 0xff00);
	qmux_put_result(&b, 0);
	assert_int_equal(qmux_build_end(&b), sizeof(proxy_open_resp));
	assert_memory_equal(buf, proxy_open_resp, sizeof(proxy_open_resp));
}

static void test_service_frame_round_trip_has_16_bit_txn(void **state)
{
	uint8_t buf[128];
	struct qmux_builder b;
	struct qmux_msg m;
	uint32_t u32;
	uint8_t u8;
	char s[16];
	int len;

	qmux_build_begin(&b, buf, sizeof(buf), QMI_SVC_WDS, 7, QMI_SVC_FLAG_RESPONSE, 0x1234,
			 0x002d);
	qmux_put_result(&b, 0);
	qmux_put_u32(&b, 0x1e, 0x64400002);
	qmux_put_u8(&b, 0x2b, 4);
	qmux_put_str(&b, 0x14, "internet");
	len = qmux_build_end(&b);
	assert_int_equal(len, 6 + 7 + 7 + 7 + 4 + 11);
	/* QMUX length excludes the marker; the service header carries a 2-byte transaction */
	assert_int_equal(qmux_get16(buf + 1), len - 1);
	assert_int_equal(buf[3], QMUX_FLAG_SERVICE);
	assert_int_equal(qmux_get16(buf + 7), 0x1234);
	assert_int_equal(qmux_parse(buf, (size_t)len, &m), len);
	assert_int_equal(m.service, QMI_SVC_WDS);
	assert_int_equal(m.client, 7);
	assert_int_equal(m.txn, 0x1234);
	assert_int_equal(m.msg_id, 0x002d);
	assert_int_equal(qmux_tlv_u32(&m, 0x1e, &u32), 0);
	assert_int_equal(u32, 0x64400002);
	assert_int_equal(qmux_tlv_u8(&m, 0x2b, &u8), 0);
	assert_int_equal(u8, 4);
	assert_int_equal(qmux_tlv_str(&m, 0x14, s, sizeof(s)), 0);
	assert_string_equal(s, "internet");
	/* a wrong fixed size is refused, not read */
	assert_int_equal(qmux_tlv_u8(&m, 0x1e, &u8), -EBADMSG);
	assert_int_equal(qmux_tlv_str(&m, 0x14, s, 8), -ENOBUFS);
}

static void test_partial_frame_waits_for_more(void **state)
{
	struct qmux_msg m;

	for (size_t n = 0; n < sizeof(proxy_open_req); n++) {
		/* a heap copy of exactly n bytes: ASan/valgrind would see any over-read */
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, proxy_open_req, n);
		assert_int_equal(qmux_parse(p, n, &m), 0);
		free(p);
	}
}

static void test_two_frames_in_one_read_parse_one_by_one(void **state)
{
	uint8_t buf[2 * sizeof(proxy_open_req)];
	struct qmux_msg m;

	memcpy(buf, proxy_open_req, sizeof(proxy_open_req));
	memcpy(buf + sizeof(proxy_open_req), proxy_open_req, sizeof(proxy_open_req));
	assert_int_equal(qmux_parse(buf, sizeof(buf), &m), sizeof(proxy_open_req));
	assert_int_equal(qmux_parse(buf + sizeof(proxy_open_req), sizeof(proxy_open_req), &m),
			 sizeof(proxy_open_req));
}

static void test_garbage_without_marker_is_refused_and_skipped(void **state)
{
	uint8_t buf[8 + sizeof(proxy_open_req)] = {0x55, 0x54, 0x57, 0x56, 0x51, 0x50, 0x53, 0x52};
	struct qmux_msg m;
	size_t skip;

	memcpy(buf + 8, proxy_open_req, sizeof(proxy_open_req));
	assert_int_equal(qmux_parse(buf, sizeof(buf), &m), -EBADMSG);
	skip = qmux_resync(buf, sizeof(buf));
	assert_int_equal(skip, 8);
	assert_int_equal(qmux_parse(buf + skip, sizeof(buf) - skip, &m), sizeof(proxy_open_req));
	assert_int_equal(qmux_resync(buf, 8), 8); /* no marker at all: drop everything */
	assert_int_equal(qmux_resync(buf, 1), 1);
}

static void test_tlv_running_past_frame_is_refused(void **state)
{
	uint8_t buf[sizeof(proxy_open_req)];
	struct qmux_msg m;

	memcpy(buf, proxy_open_req, sizeof(buf));
	buf[13] = 0x15; /* TLV 0x01 claims 21 bytes where 20 are left */
	assert_int_equal(qmux_parse(buf, sizeof(buf), &m), -EBADMSG);
	memcpy(buf, proxy_open_req, sizeof(buf));
	buf[10] = 0x16; /* QMI header's TLV length disagrees with the QMUX length */
	assert_int_equal(qmux_parse(buf, sizeof(buf), &m), -EBADMSG);
	memcpy(buf, proxy_open_req, sizeof(buf));
	buf[1] = 0x05; /* QMUX length too short to hold a QMI header */
	assert_int_equal(qmux_parse(buf, sizeof(buf), &m), -EBADMSG);
}

static void test_largest_frame_builds_and_one_more_byte_does_not(void **state)
{
	uint8_t *buf = malloc(QMUX_FRAME_MAX + 16), *junk = calloc(1, 0x10000);
	struct qmux_builder b;
	struct qmux_msg m;
	size_t room = QMUX_FRAME_MAX - QMUX_HDR_LEN - QMUX_SVC_HDR_LEN - 3;

	qmux_build_begin(&b, buf, QMUX_FRAME_MAX + 16, QMI_SVC_WDS, 1, QMI_SVC_FLAG_INDICATION, 0,
			 0x5555);
	qmux_put_tlv(&b, 0x10, junk, room);
	assert_int_equal(qmux_build_end(&b), QMUX_FRAME_MAX);
	assert_int_equal(qmux_parse(buf, QMUX_FRAME_MAX, &m), QMUX_FRAME_MAX);
	qmux_build_begin(&b, buf, QMUX_FRAME_MAX + 16, QMI_SVC_WDS, 1, QMI_SVC_FLAG_INDICATION, 0,
			 0x5555);
	qmux_put_tlv(&b, 0x10, junk, room + 1);
	assert_int_equal(qmux_build_end(&b), -EMSGSIZE);
	/* and a builder never writes past its buffer */
	qmux_build_begin(&b, buf, 20, QMI_SVC_WDS, 1, 0, 0, 1);
	qmux_put_tlv(&b, 0x10, junk, 8);
	assert_int_equal(qmux_build_end(&b), -EMSGSIZE);
	free(buf);
	free(junk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_libqmi_proxy_open_request),
	    cmocka_unit_test(test_build_reproduces_libqmi_proxy_open_response),
	    cmocka_unit_test(test_service_frame_round_trip_has_16_bit_txn),
	    cmocka_unit_test(test_partial_frame_waits_for_more),
	    cmocka_unit_test(test_two_frames_in_one_read_parse_one_by_one),
	    cmocka_unit_test(test_garbage_without_marker_is_refused_and_skipped),
	    cmocka_unit_test(test_tlv_running_past_frame_is_refused),
	    cmocka_unit_test(test_largest_frame_builds_and_one_more_byte_does_not),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
