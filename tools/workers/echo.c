/* echo.c — cellmux-echo, the example worker of the delivery protocol: every delivery comes back
 * as an event with the same payload and id, and is acked once the daemon has the event on disk;
 * with --emit it also sends a numbered stream of events (tests, benchmarks); with --on-signal,
 * another N of them on each SIGUSR1 instead (a benchmark times the stream alone).
 *
 * With --facts, what it observes goes to stdout, one line per fact, each starting with a marker,
 * so a test can find them in the daemon's log: "cmx-welcome pid=P incarnation=N", then, with
 * inc=N naming this process (its pid may be 1 in a PID namespace): "cmx-delivery inc=N id=I
 * redelivered=0|1 welcome=W" (W: Welcomes it had then, so 2 and up once adopted), "cmx-handled
 * inc=N id=I" (delivery I is new to it: echoed), "cmx-acking inc=N id=I" (its ack of delivery I
 * is sent), "cmx-rewelcome inc=N resent=K" (a restarted daemon
 * adopted it and it sent its K unacked events again), "cmx-delivered
 * inc=N id=I" (the daemon committed that ack) and, with --then-exit, "cmx-event-acked inc=N
 * k=K" and "cmx-emitted inc=N n=N".
 *
 * Written against libcellmux-worker alone: the library keeps unacked events, resends them on a
 * second Welcome or after a refusal, and absorbs deliveries handed before; what is left here is
 * the echo and the facts. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "worker/cellmux-worker.h"

#define ECHO_NAME "cellmux-echo"
#define ECHO_VERSION "0.1"
/* Emitted events use ids from here on, apart from echoed ones (which reuse delivery ids). */
#define EMIT_ID_BASE (UINT64_C(1) << 62)
/* Library window above --window: room for the echoes of the daemon's deliveries in flight
 * (128 per daemon run, twice that across an adoption), so an echo never finds it full. */
#define ECHO_ROOM 1024
#define ACK_IDS_MAX 1024

struct echo {
	struct cmxw *w;
	int log_fd;
	uint64_t emit_total, emit_next, emit_acked;
	unsigned window, inflight, size;
	unsigned interval_ms; /* 0: emit as fast as the window allows */
	uint64_t next_emit_us;
	uint64_t *sent_us; /* per emitted event, for latency */
	bool *emit_done;   /* per emitted event: acked */
	uint64_t *lat_us;
	size_t n_lat;
	uint64_t emit_start_us;
	int then_exit; /* >= 0: exit with it once every emitted event is acked */
	unsigned work_ms; /* time "spent" on each new delivery before echoing it */
	bool facts;	  /* print the cmx- lines */
	unsigned welcomes; /* 2 and up: adopted by a restarted daemon */
	bool stop;
	uint64_t emit_per_signal; /* --on-signal: N more events on each SIGUSR1; 0: once, at start */
};

static volatile sig_atomic_t signalled;

static void on_usr1(int sig)
{
	signalled = 1;
}

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

/* Another round of --emit N: the arrays grow by N, and the rate and latency printed when it is
 * acked are this round's. */
static void emit_round(struct echo *e)
{
	uint64_t total = e->emit_total + e->emit_per_signal;

	e->sent_us = realloc(e->sent_us, total * sizeof(uint64_t));
	e->lat_us = realloc(e->lat_us, total * sizeof(uint64_t));
	e->emit_done = realloc(e->emit_done, total * sizeof(bool));
	if (!e->sent_us || !e->lat_us || !e->emit_done)
		die("allocating", ENOMEM);
	memset(e->emit_done + e->emit_total, 0, e->emit_per_signal * sizeof(bool));
	e->emit_total = total;
	e->n_lat = 0;
	e->emit_start_us = now_us();
	e->next_emit_us = now_us();
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

/* Emitted events are numbered by this process (from EMIT_ID_BASE + 1 in every process: the
 * daemon tells them apart by incarnation). */
static void emit_more(struct echo *e)
{
	char buf[CMXW_PAYLOAD_MAX];
	size_t len;
	int r;

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
		r = cmxw_event(e->w, EMIT_ID_BASE + k, buf, len, 0, NULL);
		if (r < 0)
			die("sending an event", r);
		e->inflight++;
	}
}

static void log_delivery(struct echo *e, uint64_t id, bool redelivered)
{
	if (e->log_fd >= 0)
		dprintf(e->log_fd, "%d %" PRIu64 "%s\n", (int)getpid(), id,
			redelivered ? " redelivered" : "");
	fact(e, "cmx-delivery inc=%" PRIu64 " id=%" PRIu64 " redelivered=%d welcome=%u\n",
	     cmxw_incarnation(e->w), id, redelivered ? 1 : 0, e->welcomes);
}

static void on_welcome(struct cmxw *w, const struct cmxw_welcome *wl, void *userdata)
{
	struct echo *e = userdata;

	e->welcomes++;
	fact(e, "cmx-welcome pid=%d incarnation=%" PRIu64 "\n", (int)getpid(), wl->incarnation);
	/* A restarted daemon adopted this process; the library has sent every unacked event
	 * again. */
	if (wl->again)
		fact(e, "cmx-rewelcome inc=%" PRIu64 " resent=%zu\n", wl->incarnation, wl->resent);
}

static void on_delivery(struct cmxw *w, uint64_t id, const void *payload, size_t len,
			bool redelivered, void *userdata)
{
	struct echo *e = userdata;
	int r;

	log_delivery(e, id, redelivered);
	fact(e, "cmx-handled inc=%" PRIu64 " id=%" PRIu64 "\n", cmxw_incarnation(w), id);
	if (e->work_ms)
		nanosleep(&(struct timespec){ e->work_ms / 1000, (long)(e->work_ms % 1000) * 1000000 },
			  NULL);
	/* Same id as the delivery, which is the session's: if this process dies before the ack,
	 * the next one echoes it with the same id again and the daemon drops the duplicate. The
	 * delivery is acked once the echo is on disk (on_events_acked). */
	r = cmxw_event(w, id, payload, len, CMXW_SESSION_UNIQUE, NULL);
	if (r < 0 && r != -EEXIST)
		die("sending an event", r);
}

/* Handed before: the library acked it again, or its echo is still on the way. */
static void on_duplicate(struct cmxw *w, uint64_t id, bool redelivered, bool acked,
			 void *userdata)
{
	log_delivery(userdata, id, redelivered);
}

/* Acks of ours the daemon has on disk: those deliveries are finished for the session. */
static void on_delivered(struct cmxw *w, uint64_t id, void *userdata)
{
	fact((struct echo *)userdata, "cmx-delivered inc=%" PRIu64 " id=%" PRIu64 "\n",
	     cmxw_incarnation(w), id);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void on_events_acked(struct cmxw *w, const uint64_t *ids, size_t n_ids, void *userdata)
{
	struct echo *e = userdata;
	uint64_t done[ACK_IDS_MAX] = { 0 };
	size_t n = 0;
	int r;

	for (size_t i = 0; i < n_ids; i++) {
		uint64_t id = ids[i];

		if (id > EMIT_ID_BASE && id - EMIT_ID_BASE <= e->emit_total) {
			uint64_t k = id - EMIT_ID_BASE;

			if (e->emit_done[k - 1])
				continue;
			e->emit_done[k - 1] = true;
			e->lat_us[e->n_lat++] = now_us() - e->sent_us[k - 1];
			e->emit_acked++;
			e->inflight--;
			if (e->then_exit >= 0)
				fact(e, "cmx-event-acked inc=%" PRIu64 " k=%" PRIu64 "\n",
				     cmxw_incarnation(w), k);
			continue;
		}
		if (n < ACK_IDS_MAX)
			done[n++] = id;
	}
	/* Only echoes of deliveries still in our hands are acked; "acking" is told once sent. */
	r = cmxw_ack_deliveries(w, done, n);
	if (r < 0)
		die("sending an ack", r);
	for (size_t i = 0; i < n && r > 0; i++)
		fact(e, "cmx-acking inc=%" PRIu64 " id=%" PRIu64 "\n", cmxw_incarnation(w), done[i]);
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
		fact(e, "cmx-emitted inc=%" PRIu64 " n=%" PRIu64 "\n", cmxw_incarnation(w),
		     e->emit_total);
		exit(e->then_exit);
	}
	emit_more(e);
}

static void on_stop(struct cmxw *w, void *userdata)
{
	((struct echo *)userdata)->stop = true;
}

static void on_bad_message(struct cmxw *w, int error, void *userdata)
{
	fprintf(stderr, ECHO_NAME ": bad message from the daemon: %s\n", strerror(-error));
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
		   "  --on-signal   emit nothing at start, another N events on each SIGUSR1\n"
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
		{ "on-signal", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};

	static const struct cmxw_callbacks cb = {
		.on_welcome = on_welcome,
		.on_delivery = on_delivery,
		.on_events_acked = on_events_acked,
		.on_stop = on_stop,
		.on_duplicate = on_duplicate,
		.on_delivered = on_delivered,
		.on_bad_message = on_bad_message,
	};
	struct echo e = { .log_fd = -1, .window = 64, .then_exit = -1 };
	unsigned long delay_ms = 0;
	bool on_signal = false;
	sigset_t usr1, unblocked;
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
			if (e.size > CMXW_PAYLOAD_MAX)
				e.size = CMXW_PAYLOAD_MAX;
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
		case 'g':
			on_signal = true;
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
	if (!e.window || e.window > ACK_IDS_MAX)
		e.window = 64;
	r = cmxw_open_env(&cb, &e, &e.w);
	if (r == -ENOENT) {
		fprintf(stderr, ECHO_NAME ": CELLMUX_CONTROL_FD is unset: run me under cellmuxd\n");
		return 2;
	}
	if (r < 0)
		die("the control socket", r);
	r = cmxw_set_window(e.w, e.window + ECHO_ROOM);
	if (r < 0)
		die("setting the window", r);
	/* Line by line: a fact printed is in the log even if we are killed right after. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* SIGUSR1 is blocked but inside ppoll(), so one sent while a round is being handled is
	 * not lost; installed before hello: whoever signals waits for it. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &unblocked);
	sigdelset(&unblocked, SIGUSR1);
	if (on_signal) {
		sigaction(SIGUSR1, &(struct sigaction){ .sa_handler = on_usr1 }, NULL);
		e.emit_per_signal = e.emit_total;
		e.emit_total = 0;
	}
	if (e.emit_total) {
		e.sent_us = calloc(e.emit_total, sizeof(uint64_t));
		e.lat_us = calloc(e.emit_total, sizeof(uint64_t));
		e.emit_done = calloc(e.emit_total, sizeof(bool));
		if (!e.sent_us || !e.lat_us || !e.emit_done)
			die("allocating", ENOMEM);
	}
	r = cmxw_hello(e.w, ECHO_NAME, ECHO_VERSION);
	if (r < 0)
		die("sending hello", r);
	e.emit_next = 1;
	e.next_emit_us = now_us() + (uint64_t)delay_ms * 1000;
	emit_more(&e);

	while (!e.stop) {
		struct pollfd p = { .fd = cmxw_fd(e.w), .events = POLLIN };
		int timeout = cmxw_timeout_ms(e.w);

		if (e.emit_next <= e.emit_total && e.inflight < e.window) {
			/* Rounded up: waking early would only spin until it is due. */
			int64_t left = ((int64_t)e.next_emit_us - (int64_t)now_us() + 999) / 1000;

			if (left < 0)
				left = 0;
			if (timeout < 0 || left < timeout)
				timeout = (int)left;
		}
		r = ppoll(&p, 1,
			  timeout < 0 ? NULL
				      : &(struct timespec){ timeout / 1000, (timeout % 1000) * 1000000L },
			  &unblocked);
		if (r < 0 && errno != EINTR)
			die("poll", errno);
		if (signalled) {
			signalled = 0;
			if (e.emit_per_signal)
				emit_round(&e);
		}
		r = cmxw_dispatch(e.w);
		if (r == -ECONNRESET)
			break; /* the daemon is gone; so are we */
		if (r < 0)
			die("the control socket", r);
		emit_more(&e);
	}
	cmxw_close(e.w);
	return 0;
}
