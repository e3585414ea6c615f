/* test_worker_msg.c — the worker control protocol over a real SOCK_SEQPACKET socketpair: round
 * trips, golden bytes of a Status and its bounds, the incarnation in Welcome and delivery-ack confirmations,
 * and every way a packet from the wire is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/macro.h"
#include "proto/worker_msg.h"

struct pair {
	int tx, rx;
};

static int pair_setup(void **state)
{
	struct pair *p = malloc(sizeof(*p));
	int sv[2];

	if (!p || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(p);
		return -1;
	}
	p->tx = sv[0];
	p->rx = sv[1];
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	if (p->tx >= 0)
		close(p->tx);
	close(p->rx);
	free(p);
	return 0;
}

static void send_raw(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_stop_expect(int fd, int want)
{
	Cellmux__Worker__Stop stop = CELLMUX__WORKER__STOP__INIT;
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;

	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STOP;
	m.stop = &stop;
	assert_int_equal(worker_msg_send(fd, &m.base), want);
}

static void send_stop(int fd)
{
	send_stop_expect(fd, 0);
}

static void expect_stop(int fd)
{
	Cellmux__Worker__DaemonMessage *m = NULL;

	assert_int_equal(worker_msg_recv_daemon(fd, &m), 0);
	assert_non_null(m);
	assert_int_equal(m->msg_case, CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STOP);
	worker_msg_free_daemon(m);
}

/* A Status as the probe sends one, and its encoding worked out by hand from the proto3 wire
 * format (not produced by protobuf-c), so a change of field numbers or types shows up. */
static Cellmux__Worker__Status__Field golden_field[2];
static Cellmux__Worker__Status__Field *golden_fields[] = { &golden_field[0], &golden_field[1] };

static void golden_status(Cellmux__Worker__Status *st)
{
	cellmux__worker__status__field__init(&golden_field[0]);
	golden_field[0].key = "url";
	golden_field[0].value = "http://x/";
	cellmux__worker__status__field__init(&golden_field[1]);
	golden_field[1].key = "http_status";
	golden_field[1].value = "200";
	st->state = "ok";
	st->message = "HTTP 200";
	st->n_fields = 2;
	st->fields = golden_fields;
	st->unix_time_ms = 1700000000123ULL;
}

static const uint8_t golden_bytes[] = {
	0x2a, 0x3b, /* WorkerMessage.status (5, LEN), 59 bytes */
	0x0a, 0x02, 'o', 'k', /* state (1, LEN) */
	0x12, 0x08, 'H', 'T', 'T', 'P', ' ', '2', '0', '0', /* message (2, LEN) */
	0x1a, 0x10, /* fields (3, LEN), 16 bytes */
	0x0a, 0x03, 'u', 'r', 'l', /* key (1, LEN) */
	0x12, 0x09, 'h', 't', 't', 'p', ':', '/', '/', 'x', '/', /* value (2, LEN) */
	0x1a, 0x12, /* fields (3, LEN), 18 bytes */
	0x0a, 0x0b, 'h', 't', 't', 'p', '_', 's', 't', 'a', 't', 'u', 's',
	0x12, 0x03, '2', '0', '0',
	0x20, 0xfb, 0xd0, 0x95, 0xff, 0xbc, 0x31, /* unix_time_ms (4, VARINT) = 1700000000123 */
};

static void test_status_golden_bytes(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__Status st = CELLMUX__WORKER__STATUS__INIT;
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__WorkerMessage *got = NULL;
	struct worker_status copy;
	uint8_t buf[256];

	golden_status(&st);
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATUS;
	m.status = &st;
	assert_int_equal(protobuf_c_message_get_packed_size(&m.base), sizeof(golden_bytes));
	assert_int_equal(protobuf_c_message_pack(&m.base, buf), sizeof(golden_bytes));
	assert_memory_equal(buf, golden_bytes, sizeof(golden_bytes));

	/* The framing adds nothing: the packet is exactly the message. */
	assert_int_equal(worker_msg_send(p->tx, &m.base), 0);
	assert_int_equal(recv(p->rx, buf, sizeof(buf), MSG_DONTWAIT),
			 (ssize_t)sizeof(golden_bytes));
	assert_memory_equal(buf, golden_bytes, sizeof(golden_bytes));

	/* And the captured bytes decode back to the same Status, which the daemon copies whole. */
	send_raw(p->tx, golden_bytes, sizeof(golden_bytes));
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), 0);
	assert_int_equal(got->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATUS);
	worker_status_copy(&copy, got->status);
	worker_msg_free_worker(got);
	assert_string_equal(copy.state, "ok");
	assert_string_equal(copy.message, "HTTP 200");
	assert_int_equal(copy.n_fields, 2);
	assert_string_equal(copy.fields[0].key, "url");
	assert_string_equal(copy.fields[0].value, "http://x/");
	assert_string_equal(copy.fields[1].key, "http_status");
	assert_string_equal(copy.fields[1].value, "200");
	assert_int_equal(copy.unix_time_ms, 1700000000123ULL);
}

/* Report (WorkerMessage field 2) is retired: an old probe's round is refused, not misread. */
static void test_retired_report_is_ebadmsg(void **state)
{
	struct pair *p = *state;
	/* Report { seq: 7 } */
	static const uint8_t report[] = { 0x12, 0x02, 0x08, 0x07 };
	Cellmux__Worker__WorkerMessage *got = NULL;
	const char *why = NULL;

	send_raw(p->tx, report, sizeof(report));
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, &why), -EBADMSG);
	assert_null(got);
	assert_string_equal(why, "no known message set");
}

static int send_status(struct pair *p, const Cellmux__Worker__Status *st,
		       Cellmux__Worker__WorkerMessage **got, const char **why)
{
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;

	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATUS;
	m.status = (Cellmux__Worker__Status *)st;
	assert_int_equal(worker_msg_send(p->tx, &m.base), 0);
	return worker_msg_recv_worker(p->rx, got, why);
}

static void expect_status_accepted(struct pair *p, const Cellmux__Worker__Status *st)
{
	Cellmux__Worker__WorkerMessage *got = NULL;
	const char *why = NULL;
	int r = send_status(p, st, &got, &why);

	if (r < 0)
		fail_msg("refused: %s", why ? why : "?");
	assert_non_null(got);
	worker_msg_free_worker(got);
}

static void expect_status_refused(struct pair *p, const Cellmux__Worker__Status *st,
				  const char *want_why)
{
	Cellmux__Worker__WorkerMessage *got = NULL;
	const char *why = NULL;

	assert_int_equal(send_status(p, st, &got, &why), -EBADMSG);
	assert_null(got);
	assert_non_null(why);
	assert_string_equal(why, want_why);
}

/* Every bound at its limit passes, one past it is refused with the rule named. */
static void test_status_bounds(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__Status st;
	Cellmux__Worker__Status__Field field[WORKER_STATUS_FIELDS_MAX + 1];
	Cellmux__Worker__Status__Field *fields[WORKER_STATUS_FIELDS_MAX + 1];
	char keys[WORKER_STATUS_FIELDS_MAX + 1][WORKER_STATUS_KEY_MAX + 2];
	char value[WORKER_STATUS_VALUE_MAX + 2], message[WORKER_STATUS_MESSAGE_MAX + 2];
	char state_tok[WORKER_STATUS_STATE_MAX + 2];
	static const char *const bad_states[] = { "", "OK", "o k", "ok\n", "ok.", "\xc3\xa9" };
	static const char *const bad_keys[] = { "", "URL", "a-b", "a b", "\xc3\xa9" };

	for (size_t i = 0; i <= WORKER_STATUS_FIELDS_MAX; i++) {
		/* 32 bytes of every character a key may have, distinct per field */
		snprintf(keys[i], sizeof(keys[i]), "%02zu_abcdefghijklmnopqrstuvwxyz019", i);
		cellmux__worker__status__field__init(&field[i]);
		field[i].key = keys[i];
		field[i].value = value;
		fields[i] = &field[i];
	}
	assert_int_equal(strlen(keys[0]), WORKER_STATUS_KEY_MAX);
	memset(value, 'v', WORKER_STATUS_VALUE_MAX);
	value[WORKER_STATUS_VALUE_MAX] = '\0';
	/* Values are any text: a body keeps its lines and tabs. */
	memcpy(value, "line\nnext\tcol \xc3\xa9", 16);
	memset(message, 'm', WORKER_STATUS_MESSAGE_MAX);
	message[WORKER_STATUS_MESSAGE_MAX] = '\0';
	memcpy(state_tok, "abcdefghijklmnopqrstuvwxyz_-0189", WORKER_STATUS_STATE_MAX + 1);
	assert_int_equal(strlen(state_tok), WORKER_STATUS_STATE_MAX);

	cellmux__worker__status__init(&st);
	st.state = state_tok;
	st.message = message;
	st.n_fields = WORKER_STATUS_FIELDS_MAX;
	st.fields = fields;
	expect_status_accepted(p, &st);
	/* Only a state is needed. */
	cellmux__worker__status__init(&st);
	st.state = "ok";
	expect_status_accepted(p, &st);

	cellmux__worker__status__init(&st);
	st.state = state_tok;
	state_tok[WORKER_STATUS_STATE_MAX] = 'x';
	state_tok[WORKER_STATUS_STATE_MAX + 1] = '\0';
	expect_status_refused(p, &st, "Status.state is not 1..32 bytes of [a-z0-9_-]");
	for (size_t i = 0; i < ARRAY_SIZE(bad_states); i++) {
		st.state = (char *)bad_states[i];
		expect_status_refused(p, &st, "Status.state is not 1..32 bytes of [a-z0-9_-]");
	}

	cellmux__worker__status__init(&st);
	st.state = "ok";
	st.message = message;
	message[WORKER_STATUS_MESSAGE_MAX] = 'm';
	message[WORKER_STATUS_MESSAGE_MAX + 1] = '\0';
	expect_status_refused(p, &st, "Status.message is longer than 256 bytes or not UTF-8");
	st.message = "caf\xc3";
	expect_status_refused(p, &st, "Status.message is longer than 256 bytes or not UTF-8");
	st.message = "two\nlines";
	expect_status_refused(p, &st, "Status.message has a control character");
	st.message = "\x1b[31mred";
	expect_status_refused(p, &st, "Status.message has a control character");
	st.message = "del\x7f";
	expect_status_refused(p, &st, "Status.message has a control character");

	cellmux__worker__status__init(&st);
	st.state = "ok";
	st.fields = fields;
	st.n_fields = WORKER_STATUS_FIELDS_MAX + 1;
	expect_status_refused(p, &st, "Status has more than 16 fields");

	st.n_fields = 1;
	keys[0][WORKER_STATUS_KEY_MAX] = 'x';
	keys[0][WORKER_STATUS_KEY_MAX + 1] = '\0';
	expect_status_refused(p, &st, "Status.fields: a key is not 1..32 bytes of [a-z0-9_]");
	for (size_t i = 0; i < ARRAY_SIZE(bad_keys); i++) {
		field[0].key = (char *)bad_keys[i];
		expect_status_refused(p, &st,
				      "Status.fields: a key is not 1..32 bytes of [a-z0-9_]");
	}
	field[0].key = "url";

	value[WORKER_STATUS_VALUE_MAX] = 'v';
	value[WORKER_STATUS_VALUE_MAX + 1] = '\0';
	expect_status_refused(p, &st,
			      "Status.fields: a value is longer than 256 bytes or not UTF-8");
	field[0].value = "\xed\xa0\x80"; /* an encoded surrogate */
	expect_status_refused(p, &st,
			      "Status.fields: a value is longer than 256 bytes or not UTF-8");
	field[0].value = "";
	expect_status_accepted(p, &st);

	/* One value per key, wherever the second one comes. */
	st.n_fields = 3;
	field[1].key = "body";
	field[1].value = "x";
	field[2].key = "url";
	field[2].value = "y";
	expect_status_refused(p, &st, "Status.fields: a key given twice");
	field[2].key = "url2";
	expect_status_accepted(p, &st);
}

static void test_hello_round_trip(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__Hello hello = CELLMUX__WORKER__HELLO__INIT;
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__WorkerMessage *got = NULL;

	hello.worker = "cellmux-probe";
	hello.version = "0.1";
	hello.pid = 4242;
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO;
	m.hello = &hello;
	assert_int_equal(worker_msg_send(p->tx, &m.base), 0);
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), 0);
	assert_int_equal(got->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO);
	assert_string_equal(got->hello->worker, "cellmux-probe");
	assert_string_equal(got->hello->version, "0.1");
	assert_int_equal(got->hello->pid, 4242);
	worker_msg_free_worker(got);
}

static void test_welcome_and_stop_round_trip(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__Welcome welcome = CELLMUX__WORKER__WELCOME__INIT;
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__DaemonMessage *got = NULL;

	welcome.session = "s1";
	welcome.uplink = "sim-a";
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME;
	m.welcome = &welcome;
	assert_int_equal(worker_msg_send(p->tx, &m.base), 0);
	send_stop(p->tx);

	/* Packets keep their boundaries and their order. */
	assert_int_equal(worker_msg_recv_daemon(p->rx, &got), 0);
	assert_int_equal(got->msg_case, CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME);
	assert_string_equal(got->welcome->session, "s1");
	assert_string_equal(got->welcome->uplink, "sim-a");
	worker_msg_free_daemon(got);
	expect_stop(p->rx);
}

static void test_empty_socket_is_eagain(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__WorkerMessage *got = NULL;

	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), -EAGAIN);
	assert_null(got);
}

static void test_closed_peer_is_econnreset(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__DaemonMessage *got = NULL;

	send_stop(p->tx);
	close(p->tx);
	p->tx = -1;
	/* What was queued before the close is still delivered, then the end. */
	expect_stop(p->rx);
	assert_int_equal(worker_msg_recv_daemon(p->rx, &got), -ECONNRESET);
	assert_null(got);
}

static void test_send_to_closed_peer_is_epipe(void **state)
{
	struct pair *p = *state;

	close(p->rx);
	p->rx = p->tx;
	p->tx = -1;
	/* Without MSG_NOSIGNAL this would kill the test with SIGPIPE. */
	send_stop_expect(p->rx, -EPIPE);
}

static void test_oversize_packet_dropped(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__WorkerMessage *got = NULL;
	size_t big = WORKER_MSG_MAX + 1;
	uint8_t *buf = calloc(1, big);
	int sndbuf = 4 * WORKER_MSG_MAX;

	assert_non_null(buf);
	assert_int_equal(setsockopt(p->tx, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);

	/* A Hello padded with an unknown field (number 100) to exactly WORKER_MSG_MAX bytes is
	 * accepted; one byte more and the packet is refused whole. Both length varints take 3
	 * bytes at these sizes. */
	for (size_t len = WORKER_MSG_MAX; len <= big; len++) {
		size_t hello_len = len - 4; /* outer key 0x0a + 3-byte length */
		size_t field_len = hello_len - 5; /* key 0xa2 0x06 + 3-byte length */
		uint8_t *b = buf;

		*b++ = 0x0a; /* WorkerMessage.hello */
		*b++ = 0x80 | (hello_len & 0x7f);
		*b++ = 0x80 | ((hello_len >> 7) & 0x7f);
		*b++ = hello_len >> 14;
		*b++ = 0xa2; /* field 100, LEN */
		*b++ = 0x06;
		*b++ = 0x80 | (field_len & 0x7f);
		*b++ = 0x80 | ((field_len >> 7) & 0x7f);
		*b++ = field_len >> 14;
		memset(b, 'x', field_len);
		send_raw(p->tx, buf, len);
	}
	free(buf);

	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), 0);
	assert_int_equal(got->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO);
	worker_msg_free_worker(got);
	got = NULL;
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), -EMSGSIZE);
	assert_null(got);

	/* The oversized packet is gone, the next one reads normally. */
	send_stop(p->tx);
	expect_stop(p->rx);
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), -EAGAIN);
}

static void test_send_refuses_oversize(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__Hello hello = CELLMUX__WORKER__HELLO__INIT;
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__WorkerMessage *got = NULL;
	char *body = malloc(WORKER_MSG_MAX + 1);

	assert_non_null(body);
	memset(body, 'x', WORKER_MSG_MAX);
	body[WORKER_MSG_MAX] = '\0';
	hello.worker = body;
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO;
	m.hello = &hello;
	assert_int_equal(worker_msg_send(p->tx, &m.base), -EMSGSIZE);
	free(body);
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), -EAGAIN);
}

static void test_garbage_is_ebadmsg(void **state)
{
	struct pair *p = *state;
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x13 };
	/* status, claiming 10 bytes where 2 follow */
	static const uint8_t short_len[] = { 0x2a, 0x0a, 0x08, 0x07 };
	Cellmux__Worker__WorkerMessage *got = NULL;

	send_raw(p->tx, garbage, sizeof(garbage));
	send_raw(p->tx, short_len, sizeof(short_len));
	send_stop(p->tx);
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), -EBADMSG);
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), -EBADMSG);
	assert_null(got);
	expect_stop(p->rx);
}

/* Field number 0 in an overlong key: protobuf-c keeps it, but could not read back what it writes
 * (found by tests/fuzz/fuzz_worker_msg.c). Refused at the top and inside a case. */
static void test_field_zero_is_ebadmsg(void **state)
{
	struct pair *p = *state;
	/* an empty Hello, then key 0x81 0x00 (field 0, 64-bit) and its 8 bytes */
	static const uint8_t top[] = { 0x0a, 0x00, 0x81, 0x00, 0, 0, 0, 0, 0, 0, 0, 0 };
	/* Hello { worker: "w", field 0 } */
	static const uint8_t nested[] = { 0x0a, 0x0d, 0x0a, 0x01, 'w', 0x81, 0x00, 0, 0, 0, 0, 0, 0, 0, 0 };
	/* the same Hello without it is fine */
	static const uint8_t plain[] = { 0x0a, 0x03, 0x0a, 0x01, 'w' };
	Cellmux__Worker__WorkerMessage *got = NULL;

	send_raw(p->tx, top, sizeof(top));
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), -EBADMSG);
	send_raw(p->tx, nested, sizeof(nested));
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), -EBADMSG);
	assert_null(got);
	send_raw(p->tx, plain, sizeof(plain));
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), 0);
	assert_string_equal(got->hello->worker, "w");
	worker_msg_free_worker(got);
}

static void test_no_or_unknown_oneof_is_ebadmsg(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__WorkerMessage empty = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	/* Only a field a newer peer might add (15, VARINT = 1): decodes, but no case we know. */
	static const uint8_t future_case[] = { 0x78, 0x01 };
	/* DaemonMessage field 3 (Delivery), empty: id 0 is no id, so it is refused too. */
	static const uint8_t future_daemon_case[] = { 0x1a, 0x00 };
	Cellmux__Worker__WorkerMessage *got = NULL;
	Cellmux__Worker__DaemonMessage *dgot = NULL;

	/* An empty message packs to zero bytes, which the peer would take for a close. */
	assert_int_equal(worker_msg_send(p->tx, &empty.base), -EINVAL);

	send_raw(p->tx, future_case, sizeof(future_case));
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), -EBADMSG);
	assert_null(got);
	send_raw(p->tx, future_daemon_case, sizeof(future_daemon_case));
	assert_int_equal(worker_msg_recv_daemon(p->rx, &dgot), -EBADMSG);
	assert_null(dgot);
}

static void test_welcome_fields_bounded(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__Welcome welcome = CELLMUX__WORKER__WELCOME__INIT;
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__DaemonMessage *got = NULL;
	char *name = malloc(WORKER_MSG_TEXT_MAX + 2);

	assert_non_null(name);
	memset(name, 's', WORKER_MSG_TEXT_MAX + 1);
	name[WORKER_MSG_TEXT_MAX + 1] = '\0';
	welcome.session = name;
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME;
	m.welcome = &welcome;
	assert_int_equal(worker_msg_send(p->tx, &m.base), 0);
	free(name);
	assert_int_equal(worker_msg_recv_daemon(p->rx, &got), -EBADMSG);
	assert_null(got);
}

static void expect_sanitized(const char *in, size_t len, const char *want)
{
	char buf[64];

	assert_true(len < sizeof(buf));
	memcpy(buf, in, len);
	assert_int_equal(worker_msg_text_sanitize(buf, len), strlen(want));
	assert_string_equal(buf, want);
}

/* Literals may hold NUL bytes, so their length comes from sizeof. */
#define expect_sanitized_lit(in, want) expect_sanitized(in, sizeof(in) - 1, want)

static void test_text_sanitize(void **state)
{
	expect_sanitized_lit("198.18.1.1\n", "198.18.1.1\n");
	expect_sanitized_lit("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb6",
			     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb6");
	expect_sanitized_lit("a\0b", "a?b");
	expect_sanitized_lit("a\xff" "b", "a?b");
	expect_sanitized_lit("\xc0\x80", "??");            /* overlong NUL */
	expect_sanitized_lit("\xed\xa0\x80x", "???x");    /* surrogate */
	expect_sanitized_lit("\xf4\x90\x80\x80", "????"); /* above U+10FFFF */
	expect_sanitized_lit("\x80x", "?x");              /* stray continuation byte */
	/* A body cut inside a character loses that character, not more. */
	expect_sanitized_lit("ok \xe2\x82", "ok ");
	expect_sanitized_lit("ok \xf0\x9f\x93", "ok ");
	/* ... but an invalid sequence before the end is still replaced. */
	expect_sanitized_lit("\xe2x\xe2\x82", "?x");
	expect_sanitized_lit("", "");
}

/* The daemon's confirmation of delivery acks travels daemon -> worker only. */
static void test_delivered_confirmation_is_daemon_to_worker_only(void **state)
{
	struct pair *p = *state;
	uint64_t ids[] = { 5, 9 };
	Cellmux__Worker__Ack ack = CELLMUX__WORKER__ACK__INIT;
	Cellmux__Worker__DaemonMessage dm = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__WorkerMessage wm = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__DaemonMessage *dback = NULL;
	Cellmux__Worker__WorkerMessage *wback = NULL;

	ack.delivered = ids;
	ack.n_delivered = 2;
	dm.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_ACK;
	dm.ack = &ack;
	assert_int_equal(worker_msg_send(p->tx, &dm.base), 0);
	assert_int_equal(worker_msg_recv_daemon(p->rx, &dback), 0);
	assert_int_equal(dback->ack->n_ids, 0);
	assert_int_equal(dback->ack->n_delivered, 2);
	assert_int_equal(dback->ack->delivered[1], 9);
	worker_msg_free_daemon(dback);
	wm.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_ACK;
	wm.ack = &ack;
	assert_int_equal(worker_msg_send(p->tx, &wm.base), 0);
	assert_int_equal(worker_msg_recv_worker(p->rx, &wback, NULL), -EBADMSG);
	assert_null(wback);
}

static void test_welcome_carries_incarnation(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__Welcome w = CELLMUX__WORKER__WELCOME__INIT;
	Cellmux__Worker__DaemonMessage dm = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__DaemonMessage *back = NULL;

	w.session = "s1";
	w.uplink = "lte1";
	w.incarnation = UINT64_C(1) << 40;
	dm.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME;
	dm.welcome = &w;
	assert_int_equal(worker_msg_send(p->tx, &dm.base), 0);
	assert_int_equal(worker_msg_recv_daemon(p->rx, &back), 0);
	assert_int_equal(back->welcome->incarnation, UINT64_C(1) << 40);
	worker_msg_free_daemon(back);
}

/* StatePut carries at most WORKER_MSG_STATE_MAX bytes; empty is allowed (it deletes). The
 * bytes are those worked out by hand from the proto: field 6 of WorkerMessage, field 7 empty. */
static void test_state_put_bounded_and_get_golden(void **state)
{
	struct pair *p = *state;
	static const uint8_t put[] = { 0x32, 0x05, 0x0a, 0x03, 'a', 'b', 'c' };
	static const uint8_t del[] = { 0x32, 0x00 };
	static const uint8_t get[] = { 0x3a, 0x00 };
	Cellmux__Worker__StatePut sp = CELLMUX__WORKER__STATE_PUT__INIT;
	Cellmux__Worker__WorkerMessage wm = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__WorkerMessage *got = NULL;
	uint8_t *big = calloc(1, WORKER_MSG_STATE_MAX + 1);

	assert_non_null(big);
	send_raw(p->tx, put, sizeof(put));
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), 0);
	assert_int_equal(got->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_PUT);
	assert_int_equal(got->state_put->data.len, 3);
	assert_memory_equal(got->state_put->data.data, "abc", 3);
	worker_msg_free_worker(got);
	send_raw(p->tx, del, sizeof(del));
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), 0);
	assert_int_equal(got->state_put->data.len, 0);
	worker_msg_free_worker(got);
	send_raw(p->tx, get, sizeof(get));
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), 0);
	assert_int_equal(got->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_GET);
	worker_msg_free_worker(got);

	wm.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_PUT;
	wm.state_put = &sp;
	sp.data.data = big;
	sp.data.len = WORKER_MSG_STATE_MAX;
	assert_int_equal(worker_msg_send(p->tx, &wm.base), 0);
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), 0);
	worker_msg_free_worker(got);
	got = NULL;
	sp.data.len = WORKER_MSG_STATE_MAX + 1;
	assert_int_equal(worker_msg_send(p->tx, &wm.base), 0);
	assert_int_equal(worker_msg_recv_worker(p->rx, &got, NULL), -EBADMSG);
	assert_null(got);
	free(big);
}

/* A State answer never carries data together with an error or without found. */
static void test_state_answer_rules(void **state)
{
	struct pair *p = *state;
	Cellmux__Worker__State st = CELLMUX__WORKER__STATE__INIT;
	Cellmux__Worker__DaemonMessage dm = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__DaemonMessage *got = NULL;

	dm.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STATE;
	dm.state = &st;
	st.data.data = (uint8_t *)"xy";
	st.data.len = 2;
	st.found = true;
	assert_int_equal(worker_msg_send(p->tx, &dm.base), 0);
	assert_int_equal(worker_msg_recv_daemon(p->rx, &got), 0);
	assert_true(got->state->found);
	assert_memory_equal(got->state->data.data, "xy", 2);
	worker_msg_free_daemon(got);
	got = NULL;
	st.error = EBADMSG;
	assert_int_equal(worker_msg_send(p->tx, &dm.base), 0);
	assert_int_equal(worker_msg_recv_daemon(p->rx, &got), -EBADMSG);
	st.error = 0;
	st.found = false;
	assert_int_equal(worker_msg_send(p->tx, &dm.base), 0);
	assert_int_equal(worker_msg_recv_daemon(p->rx, &got), -EBADMSG);
	st.data.len = 0;
	st.error = -1;
	assert_int_equal(worker_msg_send(p->tx, &dm.base), 0);
	assert_int_equal(worker_msg_recv_daemon(p->rx, &got), -EBADMSG);
	st.error = ENOKEY;
	assert_int_equal(worker_msg_send(p->tx, &dm.base), 0);
	assert_int_equal(worker_msg_recv_daemon(p->rx, &got), 0);
	assert_int_equal(got->state->error, ENOKEY);
	worker_msg_free_daemon(got);
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		PAIR_TEST(test_status_golden_bytes),
		PAIR_TEST(test_retired_report_is_ebadmsg),
		PAIR_TEST(test_hello_round_trip),
		PAIR_TEST(test_welcome_and_stop_round_trip),
		PAIR_TEST(test_empty_socket_is_eagain),
		PAIR_TEST(test_closed_peer_is_econnreset),
		PAIR_TEST(test_send_to_closed_peer_is_epipe),
		PAIR_TEST(test_oversize_packet_dropped),
		PAIR_TEST(test_send_refuses_oversize),
		PAIR_TEST(test_garbage_is_ebadmsg),
		PAIR_TEST(test_field_zero_is_ebadmsg),
		PAIR_TEST(test_no_or_unknown_oneof_is_ebadmsg),
		PAIR_TEST(test_status_bounds),
		PAIR_TEST(test_welcome_fields_bounded),
		PAIR_TEST(test_delivered_confirmation_is_daemon_to_worker_only),
		PAIR_TEST(test_welcome_carries_incarnation),
		PAIR_TEST(test_state_put_bounded_and_get_golden),
		PAIR_TEST(test_state_answer_rules),
		cmocka_unit_test(test_text_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
