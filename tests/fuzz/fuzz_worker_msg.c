/* fuzz_worker_msg.c — libFuzzer target for the worker -> daemon decoder (proto/worker_msg.c,
 * included, with its static validators), fed through a real SOCK_SEQPACKET pair as cellmuxd reads
 * it: any packet is refused or decodes into a message that passes its own checks again after
 * worker_msg_send() and encodes to the same bytes both times; a Status is copied whole, as the
 * daemon keeps it. */
#include "proto/worker_msg.c"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sp[2] = { -1, -1 };

static uint8_t *pack(const Cellmux__Worker__WorkerMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(&m->base);
	buf = malloc(*len ? *len : 1);
	if (!buf || protobuf_c_message_pack(&m->base, buf) != *len)
		abort();
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Cellmux__Worker__WorkerMessage *m = NULL, *again = NULL;
	const char *why = NULL;
	uint8_t *a, *b;
	size_t alen, blen;
	int r;

	if (sp[0] < 0) {
		int bufsz = 4 * WORKER_MSG_MAX;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
			abort();
		setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
		setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	}
	if (send(sp[0], data, size, MSG_DONTWAIT) != (ssize_t)size)
		return 0; /* larger than the socket takes: not a packet cellmuxd could see */
	r = worker_msg_recv_worker(sp[1], &m, &why);
	if (size == 0) {
		/* an empty packet reads as the peer's end-of-file */
		if (r != -ECONNRESET)
			abort();
		return 0;
	}
	if (size > WORKER_MSG_MAX) {
		if (r != -EMSGSIZE)
			abort();
		return 0;
	}
	if (r == -EBADMSG) {
		/* every refusal of a packet that arrived names its reason for the log */
		if (!why)
			abort();
		return 0;
	}
	if (r < 0 || !m)
		abort();
	/* the validator's promise, checked from outside */
	if (worker_message_check(m))
		abort();
	if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATUS) {
		struct worker_status w;

		worker_status_copy(&w, m->status);
		if (strcmp(w.state, m->status->state) || strcmp(w.message, m->status->message) ||
		    w.n_fields != m->status->n_fields || w.unix_time_ms != m->status->unix_time_ms)
			abort();
		for (size_t i = 0; i < w.n_fields; i++)
			if (strcmp(w.fields[i].key, m->status->fields[i]->key) ||
			    strcmp(w.fields[i].value, m->status->fields[i]->value))
				abort();
	}
	a = pack(m, &alen);
	if (worker_msg_send(sp[0], &m->base) < 0 || worker_msg_recv_worker(sp[1], &again, NULL) < 0)
		abort();
	b = pack(again, &blen);
	if (alen != blen || memcmp(a, b, alen))
		abort();
	free(a);
	free(b);
	worker_msg_free_worker(m);
	worker_msg_free_worker(again);
	return 0;
}
