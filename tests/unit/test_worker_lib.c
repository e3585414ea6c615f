/* test_worker_lib.c — libcellmux-worker against a fake daemon on a SOCK_SEQPACKET socketpair:
 * hello, events kept and sent again on a second Welcome and after a refusal, deliveries handed
 * once and acked again when redelivered, the dedup released on confirmation, Status within the
 * daemon's bounds, state requests answered in order and resent on a second Welcome, and every
 * bound. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/worker_msg.h"
#include "worker/cellmux-worker.h"

#define REC_MAX 8192

struct fx {
	struct cmxw *w;
	int d; /* the daemon's end */
	unsigned welcomes;
	struct cmxw_welcome last;
	uint64_t handed[REC_MAX];
	size_t n_handed;
	uint64_t dups[REC_MAX];
	bool dup_acked[REC_MAX];
	size_t n_dups;
	uint64_t acked[REC_MAX];
	size_t n_acked;
	uint64_t delivered[REC_MAX];
	size_t n_delivered;
	int bad;
	bool stopped;
	struct {
		int error;
		bool found, was_put;
		char data[64];
		size_t len;
	} states[64];
	size_t n_states;
};

static void cb_welcome(struct cmxw *w, const struct cmxw_welcome *wl, void *u)
{
	struct fx *f = u;

	f->welcomes++;
	f->last = *wl;
}

static void cb_delivery(struct cmxw *w, uint64_t id, const void *p, size_t len, bool red, void *u)
{
	struct fx *f = u;

	f->handed[f->n_handed++] = id;
}

static void cb_acked(struct cmxw *w, const uint64_t *ids, size_t n, void *u)
{
	struct fx *f = u;

	for (size_t i = 0; i < n; i++)
		f->acked[f->n_acked++] = ids[i];
}

static void cb_dup(struct cmxw *w, uint64_t id, bool red, bool acked, void *u)
{
	struct fx *f = u;

	f->dup_acked[f->n_dups] = acked;
	f->dups[f->n_dups++] = id;
}

static void cb_delivered(struct cmxw *w, uint64_t id, void *u)
{
	struct fx *f = u;

	f->delivered[f->n_delivered++] = id;
}

static void cb_stop(struct cmxw *w, void *u)
{
	((struct fx *)u)->stopped = true;
}

static void cb_bad(struct cmxw *w, int error, void *u)
{
	((struct fx *)u)->bad = error;
}

static void cb_state(struct cmxw *w, int error, bool found, const void *data, size_t len,
		     bool was_put, void *u)
{
	struct fx *f = u;

	assert_true(f->n_states < sizeof(f->states) / sizeof(f->states[0]));
	f->states[f->n_states].error = error;
	f->states[f->n_states].found = found;
	f->states[f->n_states].was_put = was_put;
	f->states[f->n_states].len = len;
	if (len)
		memcpy(f->states[f->n_states].data, data, len < 64 ? len : 64);
	f->n_states++;
}

static const struct cmxw_callbacks cbs = {
	.on_state = cb_state,
	.on_welcome = cb_welcome,
	.on_delivery = cb_delivery,
	.on_events_acked = cb_acked,
	.on_stop = cb_stop,
	.on_duplicate = cb_dup,
	.on_delivered = cb_delivered,
	.on_bad_message = cb_bad,
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];

	if (!f || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	f->d = sv[1];
	if (cmxw_open_fd(sv[0], &cbs, f, &f->w) < 0)
		return -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	cmxw_close(f->w);
	if (f->d >= 0)
		close(f->d);
	free(f);
	return 0;
}

/* --- the fake daemon --------------------------------------------------------------------------- */

static void d_send(struct fx *f, Cellmux__Worker__DaemonMessage *m)
{
	assert_int_equal(worker_msg_send(f->d, &m->base), 0);
}

static void d_welcome(struct fx *f, uint64_t incarnation)
{
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__Welcome wl = CELLMUX__WORKER__WELCOME__INIT;

	wl.session = "s1";
	wl.uplink = "sim0";
	wl.incarnation = incarnation;
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME;
	m.welcome = &wl;
	d_send(f, &m);
}

static void d_delivery(struct fx *f, uint64_t id, bool redelivered)
{
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__Delivery d = CELLMUX__WORKER__DELIVERY__INIT;

	d.id = id;
	d.payload.data = (uint8_t *)"p";
	d.payload.len = 1;
	d.redelivered = redelivered;
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_DELIVERY;
	m.delivery = &d;
	d_send(f, &m);
}

static void d_ack(struct fx *f, uint64_t *ids, size_t n, int error, uint64_t *delivered, size_t nd)
{
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__Ack a = CELLMUX__WORKER__ACK__INIT;

	a.ids = ids;
	a.n_ids = n;
	a.error = error;
	a.delivered = delivered;
	a.n_delivered = nd;
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_ACK;
	m.ack = &a;
	d_send(f, &m);
}

static Cellmux__Worker__WorkerMessage *d_recv(struct fx *f)
{
	Cellmux__Worker__WorkerMessage *m = NULL;

	assert_int_equal(worker_msg_recv_worker(f->d, &m, NULL), 0);
	return m;
}

static uint64_t d_recv_event(struct fx *f, bool *session_unique)
{
	Cellmux__Worker__WorkerMessage *m = d_recv(f);
	uint64_t id;

	assert_int_equal(m->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_EVENT);
	id = m->event->id;
	if (session_unique)
		*session_unique = m->event->session_unique;
	worker_msg_free_worker(m);
	return id;
}

static void d_recv_ack_of(struct fx *f, uint64_t id)
{
	Cellmux__Worker__WorkerMessage *m = d_recv(f);

	assert_int_equal(m->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_ACK);
	assert_int_equal(m->ack->n_ids, 1);
	assert_int_equal(m->ack->ids[0], id);
	worker_msg_free_worker(m);
}

static void d_nothing(struct fx *f)
{
	Cellmux__Worker__WorkerMessage *m = NULL;

	assert_int_equal(worker_msg_recv_worker(f->d, &m, NULL), -EAGAIN);
}

static void hello_welcome(struct fx *f)
{
	Cellmux__Worker__WorkerMessage *m;

	assert_int_equal(cmxw_hello(f->w, "t", "1"), 0);
	m = d_recv(f);
	worker_msg_free_worker(m);
	d_welcome(f, 7);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->welcomes, 1);
}

static void d_state(struct fx *f, int error, bool found, const char *data)
{
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__State st = CELLMUX__WORKER__STATE__INIT;

	st.error = error;
	st.found = found;
	if (data) {
		st.data.data = (uint8_t *)data;
		st.data.len = strlen(data);
	}
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STATE;
	m.state = &st;
	d_send(f, &m);
}

/* Expects a StatePut of data (NULL: a StateGet). */
static void d_recv_state_req(struct fx *f, const char *data)
{
	Cellmux__Worker__WorkerMessage *m = d_recv(f);

	if (!data) {
		assert_int_equal(m->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_GET);
	} else {
		assert_int_equal(m->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_PUT);
		assert_int_equal(m->state_put->data.len, strlen(data));
		assert_memory_equal(m->state_put->data.data, data, strlen(data));
	}
	worker_msg_free_worker(m);
}

/* --- tests ------------------------------------------------------------------------------------- */

static void test_hello_first(void **state)
{
	struct fx *f = *state;
	Cellmux__Worker__WorkerMessage *m;

	/* Nothing may go before the Hello. */
	assert_int_equal(cmxw_event(f->w, 1, "x", 1, 0, NULL), -ENOTCONN);
	assert_int_equal(cmxw_hello(f->w, "cellmux-test", "9.9"), 0);
	m = d_recv(f);
	assert_int_equal(m->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO);
	assert_string_equal(m->hello->worker, "cellmux-test");
	assert_string_equal(m->hello->version, "9.9");
	assert_int_equal(m->hello->pid, (uint32_t)getpid());
	worker_msg_free_worker(m);
	assert_int_equal(cmxw_hello(f->w, "again", "1"), -EALREADY);
	assert_int_equal(cmxw_hello(f->w, "bad\xff", "1"), -EINVAL);
	d_nothing(f);
	d_welcome(f, 7);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->welcomes, 1);
	assert_int_equal(f->last.again, 0);
	assert_int_equal(f->last.incarnation, 7);
	assert_string_equal(f->last.session, "s1");
	assert_string_equal(cmxw_uplink(f->w), "sim0");
	assert_int_equal(cmxw_incarnation(f->w), 7);
}

static void test_second_welcome_resends_unacked_events(void **state)
{
	struct fx *f = *state;
	uint64_t auto_id = 0, five = 5;
	bool su;

	hello_welcome(f);
	assert_int_equal(cmxw_event(f->w, 5, "five", 4, CMXW_SESSION_UNIQUE, NULL), 0);
	assert_int_equal(cmxw_event(f->w, 0, "auto", 4, 0, &auto_id), 0);
	assert_true(auto_id > CMXW_AUTO_ID_BASE);
	assert_int_equal(d_recv_event(f, &su), 5);
	assert_true(su);
	assert_int_equal(d_recv_event(f, &su), auto_id);
	assert_false(su);
	d_ack(f, &five, 1, 0, NULL, 0);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_acked, 1);
	assert_int_equal(f->acked[0], 5);
	d_nothing(f);

	/* A restarted daemon adopted us: the one event it has no Ack for goes again. */
	d_welcome(f, 7);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->welcomes, 2);
	assert_int_equal(f->last.again, 1);
	assert_int_equal(f->last.resent, 1);
	assert_int_equal(d_recv_event(f, &su), auto_id);
	assert_false(su);
	d_nothing(f);
	/* An ack of an event already acked (the daemon's dedup answering a resend) is no news. */
	d_ack(f, &five, 1, 0, NULL, 0);
	d_ack(f, &auto_id, 1, 0, NULL, 0);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_acked, 2);
	assert_int_equal(f->acked[1], auto_id);
	/* Nothing left to resend on a third Welcome. */
	d_welcome(f, 7);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->last.resent, 0);
	d_nothing(f);
}

static void test_refused_event_retried_after_delay(void **state)
{
	struct fx *f = *state;
	uint64_t id = 42;
	struct cmxw_stats st;
	int t;

	hello_welcome(f);
	assert_int_equal(cmxw_timeout_ms(f->w), -1);
	assert_int_equal(cmxw_event(f->w, id, "x", 1, 0, NULL), 0);
	assert_int_equal(d_recv_event(f, NULL), id);
	d_ack(f, &id, 1, ENOSPC, NULL, 0);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_acked, 0);
	/* Not at once: the outbox is full now. */
	d_nothing(f);
	t = cmxw_timeout_ms(f->w);
	assert_true(t > 0 && t <= CMXW_RETRY_MS);
	nanosleep(&(struct timespec){ 0, (long)(t + 5) * 1000000 }, NULL);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(d_recv_event(f, NULL), id);
	d_nothing(f);
	assert_int_equal(cmxw_timeout_ms(f->w), -1);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.events_refused, 1);
	assert_int_equal(st.events_resent, 1);
	assert_int_equal(st.unacked, 1);
	d_ack(f, &id, 1, 0, NULL, 0);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_acked, 1);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.unacked, 0);
}

static void test_delivery_handed_once_and_acked_again(void **state)
{
	struct fx *f = *state;
	uint64_t ten = 10;

	hello_welcome(f);
	d_delivery(f, 10, false);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_handed, 1);
	/* Again while the program still has it (a restarted daemon): absorbed, not acked. */
	d_welcome(f, 7);
	d_delivery(f, 10, true);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_handed, 1);
	assert_int_equal(f->n_dups, 1);
	assert_false(f->dup_acked[0]);
	d_nothing(f);

	assert_int_equal(cmxw_ack_delivery(f->w, 10), 0);
	d_recv_ack_of(f, 10);
	assert_int_equal(cmxw_ack_delivery(f->w, 10), -EALREADY);
	assert_int_equal(cmxw_ack_delivery(f->w, 11), -ENOENT);
	d_nothing(f);

	/* Handled already: the library answers the redelivery with the ack again. */
	d_welcome(f, 7);
	d_delivery(f, 10, true);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_handed, 1);
	assert_int_equal(f->n_dups, 2);
	assert_true(f->dup_acked[1]);
	d_recv_ack_of(f, 10);
	d_nothing(f);

	/* Confirmed on disk: forgotten, as no process of the session is given it again. */
	d_ack(f, NULL, 0, 0, &ten, 1);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_delivered, 1);
	assert_int_equal(f->delivered[0], 10);
	assert_int_equal(cmxw_ack_delivery(f->w, 10), -ENOENT);
}

static void test_window_bounds(void **state)
{
	struct fx *f = *state;
	static char big[CMXW_PAYLOAD_MAX + 1];
	uint64_t one = 1;

	assert_int_equal(cmxw_set_window(f->w, 0), -EINVAL);
	assert_int_equal(cmxw_set_window(f->w, CMXW_WINDOW_MAX + 1), -EINVAL);
	assert_int_equal(cmxw_set_window(f->w, 4), 0);
	hello_welcome(f);
	for (uint64_t id = 1; id <= 4; id++)
		assert_int_equal(cmxw_event(f->w, id, "x", 1, 0, NULL), 0);
	assert_int_equal(cmxw_event(f->w, 5, "x", 1, 0, NULL), -ENOBUFS);
	assert_int_equal(cmxw_event(f->w, 0, "x", 1, 0, NULL), -ENOBUFS);
	assert_int_equal(cmxw_set_window(f->w, 8), -EBUSY);
	assert_int_equal(cmxw_event(f->w, 2, "x", 1, 0, NULL), -EEXIST);
	assert_int_equal(cmxw_event(f->w, 0, "x", 1, CMXW_SESSION_UNIQUE, NULL), -EINVAL);
	assert_int_equal(cmxw_event(f->w, 9, big, sizeof(big), 0, NULL), -EMSGSIZE);
	assert_int_equal(cmxw_event(f->w, 9, big, CMXW_PAYLOAD_MAX, 0, NULL), -ENOBUFS);
	d_ack(f, &one, 1, 0, NULL, 0);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(cmxw_event(f->w, 9, big, CMXW_PAYLOAD_MAX, 0, NULL), 0);
	for (uint64_t id = 1; id <= 4; id++)
		assert_int_equal(d_recv_event(f, NULL), id);
	assert_int_equal(d_recv_event(f, NULL), 9);
}

/* A program that made the socket non-blocking: an event the socket has no room for is kept
 * and goes from the timer once there is room, none lost, none sent twice. */
static void test_full_socket_keeps_events(void **state)
{
	struct fx *f = *state;
	static char big[CMXW_PAYLOAD_MAX];
	struct cmxw_stats st;
	bool got[9] = { false };
	int t;

	hello_welcome(f);
	assert_int_equal(fcntl(cmxw_fd(f->w), F_SETFL, O_NONBLOCK), 0);
	for (uint64_t id = 1; id <= 8; id++)
		assert_int_equal(cmxw_event(f->w, id, big, sizeof(big), 0, NULL), 0);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.unacked, 8);
	assert_true(st.events_sent < 8); /* a socket pair's buffer holds a few 60 KiB packets */
	t = cmxw_timeout_ms(f->w);
	assert_true(t >= 0 && t <= 50);
	for (int round = 0; round < 100; round++) {
		Cellmux__Worker__WorkerMessage *m = NULL;

		while (worker_msg_recv_worker(f->d, &m, NULL) == 0) {
			assert_int_equal(m->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_EVENT);
			assert_true(m->event->id >= 1 && m->event->id <= 8);
			assert_false(got[m->event->id]);
			got[m->event->id] = true;
			worker_msg_free_worker(m);
		}
		cmxw_get_stats(f->w, &st);
		if (st.events_sent == 8)
			break;
		nanosleep(&(struct timespec){ 0, 25 * 1000000 }, NULL);
		assert_int_equal(cmxw_dispatch(f->w), 0);
	}
	for (;;) {
		Cellmux__Worker__WorkerMessage *m = NULL;

		if (worker_msg_recv_worker(f->d, &m, NULL) != 0)
			break;
		assert_false(got[m->event->id]);
		got[m->event->id] = true;
		worker_msg_free_worker(m);
	}
	for (int id = 1; id <= 8; id++)
		assert_true(got[id]);
	assert_int_equal(st.events_resent, 0); /* a first send that waited is no resend */
	assert_int_equal(cmxw_timeout_ms(f->w), -1);
}

/* 0 is "no id" and marks a free entry inside the library: an Ack listing it (the framing lets
 * one through) must not take any event for acked. Found by fuzz_worker_lib. */
static void test_ack_of_id_zero_is_nothing(void **state)
{
	struct fx *f = *state;
	uint64_t zero = 0;
	struct cmxw_stats st;

	hello_welcome(f);
	assert_int_equal(cmxw_event(f->w, 1, "x", 1, 0, NULL), 0);
	d_ack(f, &zero, 1, 0, &zero, 1);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_acked, 0);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.unacked, 1);
}

/* The dedup memory stays within CMXW_DELIVERIES_MAX: past it the oldest acked delivery is
 * forgotten (handed again if it ever came back), the newer ones are still recognised. */
static void test_dedup_bounded(void **state)
{
	struct fx *f = *state;
	const uint64_t total = CMXW_DELIVERIES_MAX + 10;
	uint64_t ids[100];
	struct cmxw_stats st;

	hello_welcome(f);
	for (uint64_t base = 1; base <= total; base += 100) {
		size_t n = 0;

		for (uint64_t id = base; id < base + 100 && id <= total; id++) {
			d_delivery(f, id, false);
			ids[n++] = id;
		}
		assert_int_equal(cmxw_dispatch(f->w), 0);
		assert_int_equal(cmxw_ack_deliveries(f->w, ids, n), (int)n);
		worker_msg_free_worker(d_recv(f));
	}
	assert_int_equal(f->n_handed, total);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.forgotten, 10);
	d_delivery(f, total, true);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_handed, total);
	d_recv_ack_of(f, total);
	d_delivery(f, 1, true);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_handed, total + 1);
}

static void test_bad_packet_skipped_stop_and_close(void **state)
{
	struct fx *f = *state;

	hello_welcome(f);
	assert_int_equal(send(f->d, "\xff\xff\xff", 3, 0), 3);
	d_delivery(f, 3, false);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->bad, -EBADMSG);
	assert_int_equal(f->n_handed, 1);
	{
		Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
		Cellmux__Worker__Stop s = CELLMUX__WORKER__STOP__INIT;

		m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STOP;
		m.stop = &s;
		d_send(f, &m);
	}
	assert_false(cmxw_stopping(f->w));
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_true(f->stopped);
	assert_true(cmxw_stopping(f->w));
	close(f->d);
	f->d = -1;
	assert_int_equal(cmxw_dispatch(f->w), -ECONNRESET);
}

static void test_open_env(void **state)
{
	struct cmxw *w = NULL;
	int p[2], sv[2];
	char buf[16];

	unsetenv("CELLMUX_CONTROL_FD");
	assert_int_equal(cmxw_open_env(&cbs, NULL, &w), -ENOENT);
	setenv("CELLMUX_CONTROL_FD", "3x", 1);
	assert_int_equal(cmxw_open_env(&cbs, NULL, &w), -EBADF);
	assert_int_equal(pipe(p), 0);
	snprintf(buf, sizeof(buf), "%d", p[0]);
	setenv("CELLMUX_CONTROL_FD", buf, 1);
	assert_int_equal(cmxw_open_env(&cbs, NULL, &w), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	snprintf(buf, sizeof(buf), "%d", sv[0]);
	setenv("CELLMUX_CONTROL_FD", buf, 1);
	assert_int_equal(cmxw_open_env(&cbs, NULL, &w), -ENOTSOCK);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	snprintf(buf, sizeof(buf), "%d", sv[0]);
	setenv("CELLMUX_CONTROL_FD", buf, 1);
	setenv("CELLMUX_SESSION", "from-env", 1);
	assert_null(w);
	assert_int_equal(cmxw_open_env(&cbs, NULL, &w), 0);
	assert_int_equal(cmxw_fd(w), sv[0]);
	assert_string_equal(cmxw_session(w), "from-env");
	cmxw_close(w);
	close(sv[1]);
	/* cmxw_close() closed the worker's end. */
	assert_int_equal(fcntl(sv[0], F_GETFD), -1);
	unsetenv("CELLMUX_CONTROL_FD");
	unsetenv("CELLMUX_SESSION");
}

/* A Status within the bounds arrives whole and passes the daemon's own checks (d_recv uses
 * worker_msg_recv_worker, which rejects what the daemon would). */
static void test_status_sent(void **state)
{
	struct fx *f = *state;
	const struct cmxw_field fields[] = { { "round", "3" }, { "body", NULL } };
	struct cmxw_field many[CMXW_STATUS_FIELDS_MAX];
	char keys[CMXW_STATUS_FIELDS_MAX][8], value[CMXW_STATUS_VALUE_MAX + 1];
	char token[CMXW_STATUS_STATE_MAX + 1], message[CMXW_STATUS_MESSAGE_MAX + 1];
	Cellmux__Worker__WorkerMessage *m;

	assert_int_equal(cmxw_status(f->w, "ok", "early", NULL, 0), -ENOTCONN);
	hello_welcome(f);
	assert_int_equal(cmxw_status_at(f->w, 1234, "ok", "HTTP 200 in 1.0 ms", fields, 2), 0);
	m = d_recv(f);
	assert_int_equal(m->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATUS);
	assert_string_equal(m->status->state, "ok");
	assert_string_equal(m->status->message, "HTTP 200 in 1.0 ms");
	assert_int_equal(m->status->unix_time_ms, 1234);
	assert_int_equal(m->status->n_fields, 2);
	assert_string_equal(m->status->fields[0]->key, "round");
	assert_string_equal(m->status->fields[0]->value, "3");
	assert_string_equal(m->status->fields[1]->key, "body");
	assert_string_equal(m->status->fields[1]->value, "");
	worker_msg_free_worker(m);

	/* Every bound at its limit is still in. */
	memset(token, 'a', CMXW_STATUS_STATE_MAX);
	token[CMXW_STATUS_STATE_MAX] = '\0';
	memset(message, 'm', CMXW_STATUS_MESSAGE_MAX);
	message[CMXW_STATUS_MESSAGE_MAX] = '\0';
	memset(value, 'v', CMXW_STATUS_VALUE_MAX);
	value[CMXW_STATUS_VALUE_MAX] = '\0';
	for (int i = 0; i < CMXW_STATUS_FIELDS_MAX; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k_%d", i);
		many[i] = (struct cmxw_field){ keys[i], value };
	}
	assert_int_equal(cmxw_status(f->w, token, message, many, CMXW_STATUS_FIELDS_MAX), 0);
	m = d_recv(f);
	assert_int_equal(m->status->n_fields, CMXW_STATUS_FIELDS_MAX);
	assert_int_equal(m->status->unix_time_ms, 0);
	worker_msg_free_worker(m);
	d_nothing(f);
}

/* One past any bound: -EINVAL and nothing on the wire (the daemon would drop it whole). */
static void test_status_bounds(void **state)
{
	struct fx *f = *state;
	char token[CMXW_STATUS_STATE_MAX + 2], message[CMXW_STATUS_MESSAGE_MAX + 2];
	char value[CMXW_STATUS_VALUE_MAX + 2], key[CMXW_STATUS_KEY_MAX + 2];
	struct cmxw_field many[CMXW_STATUS_FIELDS_MAX + 1];
	char keys[CMXW_STATUS_FIELDS_MAX + 1][8];
	struct cmxw_field one;

	hello_welcome(f);
	memset(token, 'a', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	memset(message, 'm', sizeof(message) - 1);
	message[sizeof(message) - 1] = '\0';
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	for (int i = 0; i <= CMXW_STATUS_FIELDS_MAX; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k_%d", i);
		many[i] = (struct cmxw_field){ keys[i], "v" };
	}

	assert_int_equal(cmxw_status(f->w, NULL, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cmxw_status(f->w, "", NULL, NULL, 0), -EINVAL);
	assert_int_equal(cmxw_status(f->w, token, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cmxw_status(f->w, "OK", NULL, NULL, 0), -EINVAL);
	assert_int_equal(cmxw_status(f->w, "o k", NULL, NULL, 0), -EINVAL);
	assert_int_equal(cmxw_status(f->w, "ok", message, NULL, 0), -EINVAL);
	assert_int_equal(cmxw_status(f->w, "ok", "two\nlines", NULL, 0), -EINVAL);
	assert_int_equal(cmxw_status(f->w, "ok", "bad \xff", NULL, 0), -EINVAL);
	assert_int_equal(cmxw_status(f->w, "ok", "", NULL, 1), -EINVAL);
	assert_int_equal(cmxw_status(f->w, "ok", "", many, CMXW_STATUS_FIELDS_MAX + 1), -EINVAL);
	one = (struct cmxw_field){ key, "v" };
	assert_int_equal(cmxw_status(f->w, "ok", "", &one, 1), -EINVAL);
	one = (struct cmxw_field){ "a-b", "v" }; /* '-' is for states only */
	assert_int_equal(cmxw_status(f->w, "ok", "", &one, 1), -EINVAL);
	one = (struct cmxw_field){ NULL, "v" };
	assert_int_equal(cmxw_status(f->w, "ok", "", &one, 1), -EINVAL);
	one = (struct cmxw_field){ "k", value };
	assert_int_equal(cmxw_status(f->w, "ok", "", &one, 1), -EINVAL);
	one = (struct cmxw_field){ "k", "\xc3" };
	assert_int_equal(cmxw_status(f->w, "ok", "", &one, 1), -EINVAL);
	many[1].key = many[0].key;
	assert_int_equal(cmxw_status(f->w, "ok", "", many, 2), -EINVAL);
	d_nothing(f);
	/* Dashes in a state are fine. */
	assert_int_equal(cmxw_status(f->w, "half-up_2", NULL, NULL, 0), 0);
	worker_msg_free_worker(d_recv(f));
}

/* Each answer goes to the request it answers, by order: a put's has no data, a get's has the
 * blob; errors come negative; an answer to nothing asked is dropped. */
static void test_state_answers_in_order(void **state)
{
	struct fx *f = *state;
	struct cmxw_stats st;

	assert_int_equal(cmxw_state_get(f->w), -ENOTCONN);
	hello_welcome(f);
	assert_int_equal(cmxw_state_put(f->w, "abc", 3), 0);
	assert_int_equal(cmxw_state_get(f->w), 0);
	assert_int_equal(cmxw_state_put(f->w, NULL, 0), 0); /* delete */
	assert_int_equal(cmxw_state_get(f->w), 0);
	assert_int_equal(cmxw_state_get(f->w), 0);
	assert_int_equal(cmxw_state_pending(f->w), 5);
	d_recv_state_req(f, "abc");
	d_recv_state_req(f, NULL);
	d_recv_state_req(f, "");
	d_recv_state_req(f, NULL);
	d_recv_state_req(f, NULL);
	d_nothing(f);

	d_state(f, 0, true, NULL);
	d_state(f, 0, true, "abc");
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_states, 2);
	assert_true(f->states[0].was_put);
	assert_true(f->states[0].found);
	assert_int_equal(f->states[0].error, 0);
	assert_false(f->states[1].was_put);
	assert_true(f->states[1].found);
	assert_int_equal(f->states[1].len, 3);
	assert_memory_equal(f->states[1].data, "abc", 3);
	assert_int_equal(cmxw_state_pending(f->w), 3);

	d_state(f, 0, false, NULL);
	d_state(f, 0, false, NULL);
	d_state(f, EBADMSG, false, NULL);
	d_state(f, 0, false, NULL); /* nobody asked */
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_states, 5);
	assert_true(f->states[2].was_put);
	assert_false(f->states[2].found);
	assert_false(f->states[3].was_put);
	assert_false(f->states[3].found);
	assert_int_equal(f->states[3].len, 0);
	assert_int_equal(f->states[3].error, 0);
	assert_false(f->states[4].was_put);
	assert_int_equal(f->states[4].error, -EBADMSG);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.states_sent, 5);
	assert_int_equal(st.states_stray, 1);
	assert_int_equal(st.states_pending, 0);

	/* A refusal of a put (no state_key=). */
	assert_int_equal(cmxw_state_put(f->w, "x", 1), 0);
	d_recv_state_req(f, "x");
	d_state(f, ENOKEY, false, NULL);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_states, 6);
	assert_true(f->states[5].was_put);
	assert_int_equal(f->states[5].error, -ENOKEY);
}

static void test_state_bounds(void **state)
{
	struct fx *f = *state;
	static char big[CMXW_STATE_MAX + 1];
	Cellmux__Worker__WorkerMessage *m;

	hello_welcome(f);
	assert_int_equal(cmxw_state_put(f->w, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(cmxw_state_put(f->w, NULL, 1), -EINVAL);
	assert_int_equal(cmxw_state_put(f->w, big, CMXW_STATE_MAX), 0);
	m = d_recv(f);
	assert_int_equal(m->state_put->data.len, CMXW_STATE_MAX);
	worker_msg_free_worker(m);
	for (int i = 1; i < CMXW_STATE_PENDING_MAX; i++)
		assert_int_equal(cmxw_state_get(f->w), 0);
	assert_int_equal(cmxw_state_get(f->w), -ENOBUFS);
	assert_int_equal(cmxw_state_put(f->w, "x", 1), -ENOBUFS);
	assert_int_equal(cmxw_state_pending(f->w), CMXW_STATE_PENDING_MAX);
	/* One answer makes room for one request. */
	d_state(f, 0, true, NULL);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(cmxw_state_get(f->w), 0);
	assert_int_equal(cmxw_state_get(f->w), -ENOBUFS);
}

/* A restarted daemon adopted us: the requests it has not answered go again, in order, a put
 * with its blob; one answered before the Welcome does not. */
static void test_second_welcome_resends_state_requests(void **state)
{
	struct fx *f = *state;
	struct cmxw_stats st;

	hello_welcome(f);
	assert_int_equal(cmxw_state_put(f->w, "one", 3), 0);
	assert_int_equal(cmxw_state_put(f->w, "two", 3), 0);
	assert_int_equal(cmxw_state_get(f->w), 0);
	d_recv_state_req(f, "one");
	d_recv_state_req(f, "two");
	d_recv_state_req(f, NULL);
	d_state(f, 0, true, NULL);
	d_welcome(f, 7);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->welcomes, 2);
	assert_int_equal(f->n_states, 1);
	d_recv_state_req(f, "two");
	d_recv_state_req(f, NULL);
	d_nothing(f);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.states_sent, 5);
	assert_int_equal(st.states_resent, 2);
	d_state(f, 0, true, NULL);
	d_state(f, 0, true, "two");
	assert_int_equal(cmxw_dispatch(f->w), 0);
	assert_int_equal(f->n_states, 3);
	assert_true(f->states[1].was_put);
	assert_false(f->states[2].was_put);
	assert_memory_equal(f->states[2].data, "two", 3);
	assert_int_equal(cmxw_state_pending(f->w), 0);
	/* Nothing left to resend on a third Welcome. */
	d_welcome(f, 7);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	d_nothing(f);
}

/* A non-blocking socket without room: state requests wait and go from the timer in the order
 * asked; none is sent twice or lost. */
static void test_full_socket_keeps_state_order(void **state)
{
	struct fx *f = *state;
	static char big[CMXW_PAYLOAD_MAX];
	struct cmxw_stats st;
	int puts = 0, gets = 0;

	hello_welcome(f);
	assert_int_equal(fcntl(cmxw_fd(f->w), F_SETFL, O_NONBLOCK), 0);
	/* Fill the socket with events until one has to wait. */
	for (uint64_t id = 1; id <= 8; id++)
		assert_int_equal(cmxw_event(f->w, id, big, sizeof(big), 0, NULL), 0);
	assert_int_equal(cmxw_state_put(f->w, "p", 1), 0);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.states_sent, 0); /* the put waits for room */
	/* An answer now cannot be the put's: it has not left. */
	d_state(f, 0, true, NULL);
	assert_int_equal(cmxw_dispatch(f->w), 0);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.states_stray, 1);
	assert_int_equal(st.states_pending, 1);
	assert_int_equal(f->n_states, 0);
	/* Room again before the timer ran: the get must still wait behind the put. */
	for (Cellmux__Worker__WorkerMessage *m = NULL; worker_msg_recv_worker(f->d, &m, NULL) == 0;) {
		assert_int_equal(m->msg_case, CELLMUX__WORKER__WORKER_MESSAGE__MSG_EVENT);
		worker_msg_free_worker(m);
		m = NULL;
	}
	assert_int_equal(cmxw_state_get(f->w), 0);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.states_pending, 2);
	assert_int_equal(st.states_sent, 0);
	for (int round = 0; round < 100 && puts + gets < 2; round++) {
		Cellmux__Worker__WorkerMessage *m = NULL;

		while (worker_msg_recv_worker(f->d, &m, NULL) == 0) {
			if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_PUT) {
				assert_int_equal(gets, 0); /* the put was asked first */
				puts++;
			} else if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_GET) {
				assert_int_equal(puts, 1);
				gets++;
			}
			worker_msg_free_worker(m);
		}
		nanosleep(&(struct timespec){ 0, 25 * 1000000 }, NULL);
		assert_int_equal(cmxw_dispatch(f->w), 0);
	}
	assert_int_equal(puts, 1);
	assert_int_equal(gets, 1);
	cmxw_get_stats(f->w, &st);
	assert_int_equal(st.states_sent, 2);
	assert_int_equal(st.states_resent, 0);
}

#define FX_TEST(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_hello_first),
		FX_TEST(test_second_welcome_resends_unacked_events),
		FX_TEST(test_refused_event_retried_after_delay),
		FX_TEST(test_delivery_handed_once_and_acked_again),
		FX_TEST(test_window_bounds),
		FX_TEST(test_full_socket_keeps_events),
		FX_TEST(test_ack_of_id_zero_is_nothing),
		FX_TEST(test_dedup_bounded),
		FX_TEST(test_bad_packet_skipped_stop_and_close),
		FX_TEST(test_status_sent),
		FX_TEST(test_status_bounds),
		FX_TEST(test_state_answers_in_order),
		FX_TEST(test_state_bounds),
		FX_TEST(test_second_welcome_resends_state_requests),
		FX_TEST(test_full_socket_keeps_state_order),
		cmocka_unit_test(test_open_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
