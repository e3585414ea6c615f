/* echo.c — cellmux-echo, the example worker of the delivery protocol: every delivery comes back
 * as an event with the same payload and id, and is acked once the daemon has the event on disk;
 * with --emit it also sends a numbered stream of events (tests, benchmarks).
 *
 * With --facts, what it observes goes to stdout, one line per fact, each starting with a marker,
 * so a test can find them in the daemon's log: "cmx-welcome pid=P incarnation=N", then, with
 * inc=N naming this process (its pid may be 1 in a PID namespace): "cmx-delivery inc=N id=I
 * redelivered=0|1 welcome=W" (W: Welcomes it had then, so 2 and up once adopted), "cmx-handled inc=N id=I" (delivery I is new to it: echoed), "cmx-acking inc=N
 * id=I" (its ack of delivery I is sent), "cmx-rewelcome inc=N resent=K" (a restarted daemon
 * adopted it and it sent its K unacked events again), "cmx-delivered
 * inc=N id=I" (the daemon committed that ack) and, with --then-exit, "cmx-event-acked inc=N
 * k=K" and "cmx-emitted inc=N n=N". */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glib.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "proto/worker_msg.h"

#define ECHO_NAME "cellmux-echo"
#define ECHO_VERSION "0.1"
/* Emitted events use ids from here on, apart from echoed ones (which reuse delivery ids). */
#define EMIT_ID_BASE (UINT64_C(1) << 62)
#define RETRY_MS 500

struct echo {
	int fd;
	int log_fd;
	GHashTable *deliveries; /* id -> state: 1 event sent, 2 done */
	GHashTable *payloads;	/* id -> GBytes, while the event is not acked */
	uint64_t emit_total, emit_next, emit_acked;
	unsigned window, inflight, size;
	unsigned interval_ms; /* 0: emit as fast as the window allows */
	uint64_t next_emit_us;
	uint64_t *sent_us; /* per emitted event, for latency */
	bool *emit_done;   /* per emitted event: acked */
	uint64_t *lat_us;
	size_t n_lat;
	uint64_t emit_start_us;
	uint64_t retry_at_ms; /* outbox full: when to send refused events again */
	uint64_t pending_retry[WORKER_MSG_ACK_IDS_MAX];
	size_t n_retry;
	int then_exit; /* >= 0: exit with it once every emitted event is acked */
	unsigned work_ms; /* time "spent" on each new delivery before echoing it */
	bool facts;	  /* print the cmx- lines */
	uint64_t incarnation; /* from Welcome */
	unsigned welcomes; /* 2 and up: adopted by a restarted daemon */
	bool stop;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

#define fact(e, ...)                                                                       \
	do {                                                                               \
		if ((e)->facts)                                                            \
			printf(__VA_ARGS__);                                               \
	} while (0)

static void die(const char *what, int r)
{
	fprintf(stderr, ECHO_NAME ": %s: %s\n", what, strerror(r < 0 ? -r : r));
	exit(1);
}

/* Emitted events are numbered by this process (from EMIT_ID_BASE + 1 in every process: the
 * daemon tells them apart by incarnation); echoes carry the delivery's id, which is the
 * session's (session_unique), so an echo a successor sends again is a duplicate, not news. */
static void send_event(struct echo *e, uint64_t id, const void *payload, size_t len)
{
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__Event ev = CELLMUX__WORKER__EVENT__INIT;
	int r;

	ev.id = id;
	ev.session_unique = id < EMIT_ID_BASE;
	ev.payload.data = (uint8_t *)payload;
	ev.payload.len = len;
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_EVENT;
	m.event = &ev;
	/* Blocking socket: waits for room rather than losing an event. */
	r = worker_msg_send(e->fd, &m.base);
	if (r < 0)
		die("sending an event", r);
}

static void send_acks(struct echo *e, uint64_t *ids, size_t n)
{
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__Ack ack = CELLMUX__WORKER__ACK__INIT;
	int r;

	if (!n)
		return;
	ack.ids = ids;
	ack.n_ids = n;
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_ACK;
	m.ack = &ack;
	r = worker_msg_send(e->fd, &m.base);
	if (r < 0)
		die("sending an ack", r);
}

static void emit_payload(struct echo *e, uint64_t k, char *buf, size_t *len)
{
	int n = snprintf(buf, 64, "%" PRIu64, k);

	*len = (size_t)n;
	if (e->size > (unsigned)n) {
		memset(buf + n, '.', e->size - (unsigned)n);
		*len = e->size;
	}
}

static void emit_more(struct echo *e)
{
	char buf[WORKER_MSG_PAYLOAD_MAX];
	size_t len;

	while (e->emit_next <= e->emit_total && e->inflight < e->window) {
		uint64_t k;

		if (now_us() < e->next_emit_us)
			break;
		if (e->interval_ms)
			e->next_emit_us += (uint64_t)e->interval_ms * 1000;
		if (e->emit_next == 1)
			e->emit_start_us = now_us();
		k = e->emit_next++;

		emit_payload(e, k, buf, &len);
		e->sent_us[k - 1] = now_us();
		send_event(e, EMIT_ID_BASE + k, buf, len);
		e->inflight++;
	}
}

static void on_delivery(struct echo *e, const Cellmux__Worker__Delivery *d)
{
	gpointer state = g_hash_table_lookup(e->deliveries, &d->id);
	uint64_t id = d->id;

	if (e->log_fd >= 0)
		dprintf(e->log_fd, "%d %" PRIu64 "%s\n", (int)getpid(), d->id,
			d->redelivered ? " redelivered" : "");
	fact(e, "cmx-delivery inc=%" PRIu64 " id=%" PRIu64 " redelivered=%d welcome=%u\n",
	     e->incarnation, d->id, d->redelivered ? 1 : 0, e->welcomes);
	if (GPOINTER_TO_INT(state) == 2) {
		send_acks(e, &id, 1);
		return;
	}
	if (state)
		return; /* its event is on the way */
	fact(e, "cmx-handled inc=%" PRIu64 " id=%" PRIu64 "\n", e->incarnation, d->id);
	if (e->work_ms)
		g_usleep((gulong)e->work_ms * 1000);
	g_hash_table_insert(e->deliveries, g_memdup2(&id, sizeof(id)), GINT_TO_POINTER(1));
	g_hash_table_insert(e->payloads, g_memdup2(&id, sizeof(id)),
			    g_bytes_new(d->payload.data, d->payload.len));
	/* Same id as the delivery: if this process dies before the ack, the next one echoes it
	 * with the same id again and the daemon drops the duplicate. */
	send_event(e, id, d->payload.data, d->payload.len);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void on_ack(struct echo *e, const Cellmux__Worker__Ack *a)
{
	uint64_t done[WORKER_MSG_ACK_IDS_MAX];
	size_t n = 0;

	/* Acks of ours the daemon has on disk: those deliveries are finished for the session. */
	for (size_t i = 0; i < a->n_delivered; i++) {
		fact(e, "cmx-delivered inc=%" PRIu64 " id=%" PRIu64 "\n", e->incarnation,
		     a->delivered[i]);
		g_hash_table_remove(e->deliveries, &a->delivered[i]);
	}
	for (size_t i = 0; i < a->n_ids; i++) {
		uint64_t id = a->ids[i];

		if (a->error) {
			/* Outbox full (or no backend): keep it and try again shortly. */
			if (e->n_retry < WORKER_MSG_ACK_IDS_MAX)
				e->pending_retry[e->n_retry++] = id;
			continue;
		}
		if (id > EMIT_ID_BASE && id - EMIT_ID_BASE <= e->emit_total) {
			uint64_t k = id - EMIT_ID_BASE;

			if (e->emit_done[k - 1])
				continue; /* acked again after a resend */
			e->emit_done[k - 1] = true;
			e->lat_us[e->n_lat++] = now_us() - e->sent_us[k - 1];
			e->emit_acked++;
			e->inflight--;
			if (e->then_exit >= 0)
				fact(e, "cmx-event-acked inc=%" PRIu64 " k=%" PRIu64 "\n",
				     e->incarnation, k);
			continue;
		}
		if (GPOINTER_TO_INT(g_hash_table_lookup(e->deliveries, &id)) != 1)
			continue;
		g_hash_table_replace(e->deliveries, g_memdup2(&id, sizeof(id)), GINT_TO_POINTER(2));
		g_hash_table_remove(e->payloads, &id);
		done[n++] = id;
	}
	if (a->error && !e->retry_at_ms)
		e->retry_at_ms = now_us() / 1000 + RETRY_MS;
	send_acks(e, done, n);
	for (size_t i = 0; i < n; i++)
		fact(e, "cmx-acking inc=%" PRIu64 " id=%" PRIu64 "\n", e->incarnation, done[i]);
	if (e->emit_total && e->emit_acked == e->emit_total && e->n_lat) {
		double secs = (double)(now_us() - e->emit_start_us) / 1e6;

		qsort(e->lat_us, e->n_lat, sizeof(uint64_t), cmp_u64);
		printf(ECHO_NAME ": emitted %" PRIu64 " events in %.3f s: %.0f/s, commit latency "
				 "p50 %" PRIu64 " us, p99 %" PRIu64 " us\n",
		       e->emit_total, secs, (double)e->emit_total / secs, e->lat_us[e->n_lat / 2],
		       e->lat_us[e->n_lat * 99 / 100]);
		fflush(stdout);
		e->n_lat = 0;
	}
	if (e->then_exit >= 0 && e->emit_total && e->emit_acked == e->emit_total) {
		fact(e, "cmx-emitted inc=%" PRIu64 " n=%" PRIu64 "\n", e->incarnation,
		     e->emit_total);
		exit(e->then_exit);
	}
	emit_more(e);
}

static void retry_refused(struct echo *e)
{
	char buf[WORKER_MSG_PAYLOAD_MAX];
	size_t n = e->n_retry, len;

	e->n_retry = 0;
	e->retry_at_ms = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t id = e->pending_retry[i];
		GBytes *b;

		if (id > EMIT_ID_BASE) {
			emit_payload(e, id - EMIT_ID_BASE, buf, &len);
			send_event(e, id, buf, len);
		} else if ((b = g_hash_table_lookup(e->payloads, &id))) {
			gsize bl;
			const void *p = g_bytes_get_data(b, &bl);
			send_event(e, id, p, bl);
		}
	}
}

/* A Welcome after the first: a restarted daemon adopted this process and holds the control
 * socket's other end again. What the dead daemon had read but not committed is gone, so every
 * event without an Ack goes again with its id; those it did commit are dropped as duplicates
 * and acked. Deliveries it had not confirmed come again (redelivered): on_delivery answers them
 * from what it knows, so none is handled twice. */
static void on_rewelcome(struct echo *e)
{
	char buf[WORKER_MSG_PAYLOAD_MAX];
	GHashTableIter it;
	gpointer key, val;
	size_t len, n = 0;

	for (uint64_t k = 1; k < e->emit_next; k++)
		if (!e->emit_done[k - 1]) {
			emit_payload(e, k, buf, &len);
			send_event(e, EMIT_ID_BASE + k, buf, len);
			n++;
		}
	g_hash_table_iter_init(&it, e->payloads);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		gsize bl;
		const void *p = g_bytes_get_data(val, &bl);

		send_event(e, *(uint64_t *)key, p, bl);
		n++;
	}
	fact(e, "cmx-rewelcome inc=%" PRIu64 " resent=%zu\n", e->incarnation, n);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: " ECHO_NAME " [--emit N [--window W] [--size BYTES] [--interval MS]\n"
		   "       [--delay MS] [--then-exit CODE]] [--work MS] [--facts] [--log FILE]\n"
		   "Answers every delivery from the backend with an event carrying its payload.\n"
		   "  --emit N      also send events with payloads 1..N (ids from 2^62)\n"
		   "  --window W    emitted events in flight before waiting for acks (64)\n"
		   "  --size BYTES  pad emitted payloads with '.' to BYTES\n"
		   "  --interval MS one emitted event every MS milliseconds (default: no pause)\n"
		   "  --delay MS    start emitting MS milliseconds after hello (default 0)\n"
		   "  --then-exit CODE  exit with CODE once every emitted event is acked\n"
		   "  --work MS     spend MS milliseconds on each delivery before echoing it\n"
		   "  --facts       print what it observes on stdout as cmx- lines (tests)\n"
		   "  --log FILE    append 'PID ID' for every delivery received\n"
		   "Facts (--facts) go to stdout as lines starting with cmx- (see the source).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "emit", required_argument, NULL, 'e' },
		{ "window", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' },
		{ "log", required_argument, NULL, 'l' },
		{ "interval", required_argument, NULL, 'i' },
		{ "delay", required_argument, NULL, 'd' },
		{ "then-exit", required_argument, NULL, 'x' },
		{ "work", required_argument, NULL, 'k' },
		{ "facts", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};

	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__Hello h = CELLMUX__WORKER__HELLO__INIT;
	struct echo e = { .fd = -1, .log_fd = -1, .window = 64, .then_exit = -1 };
	unsigned long delay_ms = 0;
	const char *env;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			e.emit_total = strtoull(optarg, NULL, 10);
			break;
		case 'w':
			e.window = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			e.size = (unsigned)strtoul(optarg, NULL, 10);
			if (e.size > WORKER_MSG_PAYLOAD_MAX)
				e.size = WORKER_MSG_PAYLOAD_MAX;
			break;
		case 'd':
			delay_ms = strtoul(optarg, NULL, 10);
			break;
		case 'i':
			e.interval_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			e.facts = true;
			break;
		case 'k':
			e.work_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'x':
			e.then_exit = (int)strtol(optarg, NULL, 10) & 0xff;
			break;
		case 'l':
			e.log_fd = open(optarg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
			if (e.log_fd < 0)
				die(optarg, errno);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!e.window || e.window > WORKER_MSG_ACK_IDS_MAX)
		e.window = 64;
	env = getenv(WORKER_ENV_CONTROL_FD);
	if (!env) {
		fprintf(stderr, ECHO_NAME ": " WORKER_ENV_CONTROL_FD " is unset: run me under "
					  "cellmuxd\n");
		return 2;
	}
	e.fd = atoi(env);
	/* Line by line: a fact printed is in the log even if we are killed right after. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	e.deliveries = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	e.payloads = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					   (GDestroyNotify)g_bytes_unref);
	if (e.emit_total) {
		e.sent_us = calloc(e.emit_total, sizeof(uint64_t));
		e.lat_us = calloc(e.emit_total, sizeof(uint64_t));
		e.emit_done = calloc(e.emit_total, sizeof(bool));
		if (!e.sent_us || !e.lat_us || !e.emit_done)
			die("allocating", ENOMEM);
	}
	h.worker = ECHO_NAME;
	h.version = ECHO_VERSION;
	h.pid = (uint32_t)getpid();
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO;
	m.hello = &h;
	r = worker_msg_send(e.fd, &m.base);
	if (r < 0)
		die("sending hello", r);
	e.emit_next = 1;
	e.next_emit_us = now_us() + (uint64_t)delay_ms * 1000;
	emit_more(&e);

	while (!e.stop) {
		struct pollfd p = {.fd = e.fd, .events = POLLIN};
		int timeout = -1;

		if (e.retry_at_ms) {
			int64_t left = (int64_t)e.retry_at_ms - (int64_t)(now_us() / 1000);
			timeout = left > 0 ? (int)left : 0;
		}
		if (e.emit_next <= e.emit_total && e.inflight < e.window) {
			/* Rounded up: waking early would only spin until it is due. */
			int64_t left = ((int64_t)e.next_emit_us - (int64_t)now_us() + 999) / 1000;

			if (left < 0)
				left = 0;
			if (timeout < 0 || left < timeout)
				timeout = (int)left;
		}
		r = poll(&p, 1, timeout);
		if (r < 0 && errno != EINTR)
			die("poll", errno);
		if (e.retry_at_ms && now_us() / 1000 >= e.retry_at_ms)
			retry_refused(&e);
		emit_more(&e);
		if (r <= 0)
			continue;
		for (;;) {
			Cellmux__Worker__DaemonMessage *dm = NULL;

			r = worker_msg_recv_daemon(e.fd, &dm);
			if (r == -EAGAIN)
				break;
			if (r == -ECONNRESET) {
				e.stop = true; /* the daemon is gone; so are we */
				break;
			}
			if (r < 0) {
				fprintf(stderr, ECHO_NAME ": bad message from the daemon: %s\n",
					strerror(-r));
				continue;
			}
			if (dm->msg_case == CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME) {
				e.incarnation = dm->welcome->incarnation;
				fact(&e, "cmx-welcome pid=%d incarnation=%" PRIu64 "\n", (int)getpid(),
				     e.incarnation);
				if (e.welcomes++)
					on_rewelcome(&e);
			}
			else if (dm->msg_case == CELLMUX__WORKER__DAEMON_MESSAGE__MSG_DELIVERY)
				on_delivery(&e, dm->delivery);
			else if (dm->msg_case == CELLMUX__WORKER__DAEMON_MESSAGE__MSG_ACK)
				on_ack(&e, dm->ack);
			else if (dm->msg_case == CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STOP)
				e.stop = true;
			worker_msg_free_daemon(dm);
		}
	}
	return 0;
}
