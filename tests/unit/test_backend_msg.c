/* test_backend_msg.c — the backend link's frames: golden bytes of a Delivery, round trips, and
 * every way a frame from the backend is refused (size cap, garbage, truncation, wrong wire type,
 * unknown case, bad names, bad UTF-8, oversized payload, too many ack ids, unknown enum). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/backend_msg.h"

static int decode(const uint8_t *buf, size_t len)
{
	Cellmux__Backend__BackendMessage *m = NULL;
	int r = backend_msg_decode_backend(buf, len, &m);

	backend_msg_free_backend(m);
	return r;
}

static int encode_decode(Cellmux__Backend__BackendMessage *m)
{
	uint8_t *buf = NULL;
	size_t len;
	int r = backend_msg_encode(&m->base, 0, &buf, &len);

	if (r == 0)
		r = decode(buf, len);
	free(buf);
	return r;
}

/* BackendMessage{delivery: {id: 1, session: "e1", payload: "1"}}, as protoc writes it. */
static const uint8_t golden_delivery[] = {0x1a, 0x09, 0x08, 0x01, 0x12, 0x02,
					  0x65, 0x31, 0x1a, 0x01, 0x31};

static void delivery_golden_bytes_decode_and_encode_back(void **state)
{
	Cellmux__Backend__BackendMessage *m = NULL;
	uint8_t *buf = NULL;
	size_t len;

	assert_int_equal(backend_msg_decode_backend(golden_delivery, sizeof(golden_delivery), &m),
			 0);
	assert_int_equal(m->msg_case, CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_DELIVERY);
	assert_int_equal(m->delivery->id, 1);
	assert_string_equal(m->delivery->session, "e1");
	assert_int_equal(m->delivery->payload.len, 1);
	assert_memory_equal(m->delivery->payload.data, "1", 1);
	assert_int_equal(backend_msg_encode(&m->base, 16, &buf, &len), 0);
	assert_int_equal(len, sizeof(golden_delivery));
	assert_memory_equal(buf + 16, golden_delivery, len);
	free(buf);
	backend_msg_free_backend(m);
}

static void frames_above_the_cap_are_emsgsize(void **state)
{
	uint8_t *big = calloc(1, BACKEND_MSG_MAX + 1);

	assert_int_equal(decode(big, BACKEND_MSG_MAX + 1), -EMSGSIZE);
	free(big);
}

static void garbage_truncation_and_wrong_wire_types_are_ebadmsg(void **state)
{
	static const uint8_t garbage[] = {0xff, 0xfe, 0xfd, 0x00};
	static const uint8_t wrong_type[] = {0x18, 0x05};		/* delivery as a varint */
	static const uint8_t unknown_case[] = {0x7a, 0x02, 0x08, 0x01}; /* field 15 */
	/* Field number 0 behind an overlong key: invalid protobuf protobuf-c would keep. */
	static const uint8_t field_zero[] = {0x0a, 0x00, 0x81, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};

	assert_int_equal(decode(garbage, sizeof(garbage)), -EBADMSG);
	assert_int_equal(decode(golden_delivery, sizeof(golden_delivery) - 3), -EBADMSG);
	assert_int_equal(decode(wrong_type, sizeof(wrong_type)), -EBADMSG);
	assert_int_equal(decode(unknown_case, sizeof(unknown_case)), -EBADMSG);
	assert_int_equal(decode(field_zero, sizeof(field_zero)), -EBADMSG);
	assert_int_equal(decode((const uint8_t *)"", 0), -EBADMSG); /* nothing set */
}

static void delivery_rules(void **state)
{
	Cellmux__Backend__BackendMessage m = CELLMUX__BACKEND__BACKEND_MESSAGE__INIT;
	Cellmux__Backend__Delivery d = CELLMUX__BACKEND__DELIVERY__INIT;
	static uint8_t payload[BACKEND_MSG_PAYLOAD_MAX + 1];

	m.msg_case = CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_DELIVERY;
	m.delivery = &d;
	d.id = 5;
	d.session = "s1";
	d.payload.data = payload;
	d.payload.len = BACKEND_MSG_PAYLOAD_MAX;
	assert_int_equal(encode_decode(&m), 0);
	d.payload.len = BACKEND_MSG_PAYLOAD_MAX + 1;
	assert_int_equal(encode_decode(&m), -EBADMSG);
	d.payload.len = 1;
	d.id = 0; /* 0 cannot be acked apart from "no id" */
	assert_int_equal(encode_decode(&m), -EBADMSG);
	d.id = 5;
	d.session = "";
	assert_int_equal(encode_decode(&m), -EBADMSG);
	d.session = "../etc";
	assert_int_equal(encode_decode(&m), -EBADMSG);
	d.session = "..";
	assert_int_equal(encode_decode(&m), -EBADMSG);
	d.session = "abcdefghijabcdefghijabcdefghijabc"; /* 33 characters */
	assert_int_equal(encode_decode(&m), -EBADMSG);
	d.session = "A.b-c_9";
	assert_int_equal(encode_decode(&m), 0);
}

static void start_session_names_and_profile(void **state)
{
	Cellmux__Backend__BackendMessage m = CELLMUX__BACKEND__BACKEND_MESSAGE__INIT;
	Cellmux__Backend__StartSession s = CELLMUX__BACKEND__START_SESSION__INIT;

	m.msg_case = CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_START_SESSION;
	m.start_session = &s;
	s.profile = "echo";
	assert_int_equal(encode_decode(&m), 0); /* name and uplink may be empty */
	s.uplink = "Lte1";			/* uplinks are lower case */
	assert_int_equal(encode_decode(&m), -EBADMSG);
	s.uplink = "lte1";
	s.name = "x y";
	assert_int_equal(encode_decode(&m), -EBADMSG);
	s.name = "x";
	s.profile = "";
	assert_int_equal(encode_decode(&m), -EBADMSG);
}

static void welcome_text_must_be_utf8(void **state)
{
	Cellmux__Backend__BackendMessage m = CELLMUX__BACKEND__BACKEND_MESSAGE__INIT;
	Cellmux__Backend__Welcome w = CELLMUX__BACKEND__WELCOME__INIT;

	m.msg_case = CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_WELCOME;
	m.welcome = &w;
	w.backend = "b\xc3\xa4"
		    "ckend";
	assert_int_equal(encode_decode(&m), 0);
	w.backend = "b\xc3";
	assert_int_equal(encode_decode(&m), -EBADMSG);
	w.backend = "\xed\xa0\x80"; /* a surrogate */
	assert_int_equal(encode_decode(&m), -EBADMSG);
}

static void ack_ids_are_capped(void **state)
{
	Cellmux__Backend__BackendMessage m = CELLMUX__BACKEND__BACKEND_MESSAGE__INIT;
	Cellmux__Backend__Ack a = CELLMUX__BACKEND__ACK__INIT;
	uint64_t *ids = calloc(BACKEND_MSG_ACK_IDS_MAX + 1, sizeof(*ids));

	m.msg_case = CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_ACK;
	m.ack = &a;
	a.ids = ids;
	a.n_ids = BACKEND_MSG_ACK_IDS_MAX;
	assert_int_equal(encode_decode(&m), 0);
	a.n_ids = BACKEND_MSG_ACK_IDS_MAX + 1;
	assert_int_equal(encode_decode(&m), -EBADMSG);
	free(ids);
}

static void uplink_action_must_be_known(void **state)
{
	Cellmux__Backend__BackendMessage m = CELLMUX__BACKEND__BACKEND_MESSAGE__INIT;
	Cellmux__Backend__UplinkAction u = CELLMUX__BACKEND__UPLINK_ACTION__INIT;

	m.msg_case = CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_UPLINK_ACTION;
	m.uplink_action = &u;
	u.uplink = "sim0";
	u.action = CELLMUX__BACKEND__UPLINK_ACTION__ACTION__DOWN;
	assert_int_equal(encode_decode(&m), 0);
	u.action = 9;
	assert_int_equal(encode_decode(&m), -EBADMSG);
}

static void gateway_event_round_trip(void **state)
{
	Cellmux__Backend__GatewayMessage m = CELLMUX__BACKEND__GATEWAY_MESSAGE__INIT, *back = NULL;
	Cellmux__Backend__Event e = CELLMUX__BACKEND__EVENT__INIT;
	uint8_t *buf = NULL;
	size_t len;

	m.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_EVENT;
	m.event = &e;
	e.id = 42;
	e.session = "e1";
	e.event_id = 7;
	e.incarnation = 3;
	e.payload.data = (uint8_t *)"\x00\xff";
	e.payload.len = 2;
	assert_int_equal(backend_msg_encode(&m.base, 0, &buf, &len), 0);
	assert_int_equal(backend_msg_decode_gateway(buf, len, &back), 0);
	assert_int_equal(back->event->id, 42);
	assert_int_equal(back->event->event_id, 7);
	assert_int_equal(back->event->incarnation, 3);
	assert_memory_equal(back->event->payload.data, "\x00\xff", 2);
	backend_msg_free_gateway(back);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(delivery_golden_bytes_decode_and_encode_back),
	    cmocka_unit_test(frames_above_the_cap_are_emsgsize),
	    cmocka_unit_test(garbage_truncation_and_wrong_wire_types_are_ebadmsg),
	    cmocka_unit_test(delivery_rules),
	    cmocka_unit_test(start_session_names_and_profile),
	    cmocka_unit_test(welcome_text_must_be_utf8),
	    cmocka_unit_test(ack_ids_are_capped),
	    cmocka_unit_test(uplink_action_must_be_known),
	    cmocka_unit_test(gateway_event_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
