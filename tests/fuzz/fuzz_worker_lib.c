/* fuzz_worker_lib.c — libFuzzer target for libcellmux-worker's state machine (worker/cmxw.c,
 * included, with the framing it links): the input is a run of daemon packets (2-byte length,
 * bytes) fed over a SOCK_SEQPACKET pair into cmxw_dispatch(), with a program that echoes and acks
 * what it is handed and keeps state requests (puts and gets) in flight. Checked: no crash or
 * leak, the window and the state FIFO hold, no delivery id is handed twice before the daemon
 * confirmed it, and a State answer never hands data to a put or to a refusal. */
#include "worker/cmxw.c"

#include <fcntl.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEEN_MAX 4096
static bool seen[SEEN_MAX];

static void f_delivery(struct cmxw *w, uint64_t id, const void *p, size_t len, bool red, void *u)
{
	struct cmxw_stats st;

	cmxw_get_stats(w, &st);
	if (id < SEEN_MAX && !st.forgotten) {
		if (seen[id])
			abort(); /* handed twice, never confirmed in between */
		seen[id] = true;
	}
	/* Odd ids are handled at once, even ones once their echo is acked. */
	if (id & 1)
		cmxw_ack_delivery(w, id);
	else
		cmxw_event(w, id, p, len, CMXW_SESSION_UNIQUE, NULL);
}

static void f_acked(struct cmxw *w, const uint64_t *ids, size_t n, void *u)
{
	cmxw_ack_deliveries(w, ids, n);
	cmxw_event(w, 0, "tick", 4, 0, NULL);
}

static void f_delivered(struct cmxw *w, uint64_t id, void *u)
{
	if (id < SEEN_MAX)
		seen[id] = false;
}

static void f_state(struct cmxw *w, int error, bool found, const void *data, size_t len,
		    bool was_put, void *u)
{
	if ((len && (was_put || error || !found)) || (!len && data) || error > 0 ||
	    (error && found) || len > CMXW_STATE_MAX)
		abort();
	/* Keep the FIFO busy: every answer asks for one more, alternately put and get. */
	if (was_put)
		cmxw_state_get(w);
	else
		cmxw_state_put(w, "s", 1);
}

static void drain(int fd)
{
	char buf[WORKER_MSG_MAX];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cmxw_callbacks cb = {
		.on_delivery = f_delivery,
		.on_events_acked = f_acked,
		.on_delivered = f_delivered,
		.on_state = f_state,
	};
	struct cmxw_stats st;
	struct cmxw *w;
	int sp[2];

	memset(seen, 0, sizeof(seen));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		abort();
	/* Never block: a full socket takes the library's keep-and-retry path instead. */
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	if (cmxw_open_fd(sp[0], &cb, NULL, &w) < 0 || cmxw_set_window(w, 8) < 0 ||
	    cmxw_hello(w, "fuzz", "1") < 0)
		abort();
	for (uint64_t i = 0; i < 4; i++)
		cmxw_event(w, 0, "e", 1, 0, NULL);
	cmxw_state_put(w, "st", 2);
	cmxw_state_get(w);
	while (size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1];

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* An empty packet would read as the end of the session. */
		if (len && send(sp[1], data, len, MSG_DONTWAIT) < 0)
			break;
		data += len;
		size -= len;
		if (cmxw_dispatch(w) < 0)
			break;
		cmxw_get_stats(w, &st);
		if (st.unacked > 8 || st.states_pending > CMXW_STATE_PENDING_MAX)
			abort();
		drain(sp[1]);
	}
	cmxw_close(w);
	close(sp[1]);
	return 0;
}
