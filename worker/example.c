/* example.c — cellmux-worker-example, the smallest useful worker on libcellmux-worker: a
 * numbered event every --interval ms (payloads "tick-1".."tick-N"), and every delivery echoed
 * back as an event and acked once the daemon has the echo on disk. It has no code of its own
 * for daemon crashes or re-execs: the library resends and deduplicates.
 *
 *   cellmux-worker-example [--count N] [--interval MS]
 *
 * Lines on stdout (the daemon's log): "example: welcome pid=P incarnation=I again=A resent=K"
 * and "example: all N events acked". */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "worker/cellmux-worker.h"

struct example {
	uint64_t count, next, acked; /* events to emit, the next one's number, acked so far */
	unsigned interval_ms;
	int64_t due_ms; /* when the next event is due */
	bool full;	/* the library's window is: wait for acks, not for the clock */
	bool stop;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_welcome(struct cmxw *w, const struct cmxw_welcome *wl, void *userdata)
{
	printf("example: welcome pid=%d incarnation=%" PRIu64 " again=%u resent=%zu\n",
	       (int)getpid(), wl->incarnation, wl->again, wl->resent);
}

/* The echo carries the delivery's id, which is the session's: a successor echoing it again
 * is deduplicated by the daemon. */
static void on_delivery(struct cmxw *w, uint64_t id, const void *payload, size_t len,
			bool redelivered, void *userdata)
{
	int r = cmxw_event(w, id, payload, len, CMXW_SESSION_UNIQUE, NULL);

	if (r < 0)
		fprintf(stderr, "example: echo of delivery %" PRIu64 ": %s\n", id, strerror(-r));
}

static void on_events_acked(struct cmxw *w, const uint64_t *ids, size_t n, void *userdata)
{
	struct example *x = userdata;

	x->full = false;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < CMXW_AUTO_ID_BASE) {
			cmxw_ack_delivery(w, ids[i]); /* its echo is on disk: handled */
			continue;
		}
		if (++x->acked == x->count)
			printf("example: all %" PRIu64 " events acked\n", x->count);
	}
}

static void on_stop(struct cmxw *w, void *userdata)
{
	((struct example *)userdata)->stop = true;
}

static void emit_due(struct cmxw *w, struct example *x)
{
	char buf[32];

	while (x->next <= x->count && now_ms() >= x->due_ms) {
		int n = snprintf(buf, sizeof(buf), "tick-%" PRIu64, x->next);
		int r = cmxw_event(w, 0, buf, (size_t)n, 0, NULL);

		if (r == -ENOBUFS) {
			x->full = true; /* on_events_acked makes room */
			return;
		}
		if (r < 0) {
			fprintf(stderr, "example: event %" PRIu64 ": %s\n", x->next, strerror(-r));
			exit(1);
		}
		x->next++;
		x->due_ms += x->interval_ms;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{},
	};
	static const struct cmxw_callbacks cb = {
		.on_welcome = on_welcome,
		.on_delivery = on_delivery,
		.on_events_acked = on_events_acked,
		.on_stop = on_stop,
	};
	struct example x = { .count = 100, .next = 1, .interval_ms = 100 };
	struct cmxw *w;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			x.count = strtoull(optarg, NULL, 10);
		else if (c == 'i')
			x.interval_ms = (unsigned)strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	r = cmxw_open_env(&cb, &x, &w);
	if (r < 0) {
		fprintf(stderr, "example: no control socket (run me under cellmuxd): %s\n",
			strerror(-r));
		return 2;
	}
	r = cmxw_hello(w, "cellmux-worker-example", "0.1");
	if (r < 0) {
		fprintf(stderr, "example: hello: %s\n", strerror(-r));
		return 1;
	}
	x.due_ms = now_ms();
	while (!x.stop) {
		struct pollfd p = { .fd = cmxw_fd(w), .events = POLLIN };
		int timeout = cmxw_timeout_ms(w);

		if (x.next <= x.count && !x.full) {
			int64_t left = x.due_ms - now_ms();
			int t = left < 0 ? 0 : (int)left;

			if (timeout < 0 || t < timeout)
				timeout = t;
		}
		if (poll(&p, 1, timeout) < 0 && errno != EINTR)
			return 1;
		r = cmxw_dispatch(w);
		if (r < 0)
			break; /* -ECONNRESET: the session is over */
		emit_due(w, &x);
	}
	cmxw_close(w);
	return 0;
}
