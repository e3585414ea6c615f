/* test_worker_lib.c — libcellmux-worker against a fake daemon on a SOCK_SEQPACKET socketpair:
 * hello, events kept and sent again on a second Welcome and after a refusal, deliveries handed
 * once and acked again when redelivered, the dedup released on confirmation, and every bound. */
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

static const struct cmxw_callbacks cbs = {
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
		cmocka_unit_test(test_open_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
