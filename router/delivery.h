/* delivery.h — the delivery rules for one session's worker: which process may be given
 * deliveries, how many may wait unacked, where its store cursor stands, which are flagged
 * redelivered. Pure logic: the relay (daemon/relay.c) reads the store and writes the socket. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One session's worker as the relay sees it. In memory only: after a daemon restart every
 * unacked delivery is sent again and flagged, so nothing here needs to survive. */
struct delivery_worker {
	uint64_t incarnation;   /* the process that said Hello (or was adopted) last */
	uint64_t sent_upto;     /* inbox seq of the last delivery sent to it: the store cursor */
	uint64_t prev_max_sent; /* highest seq any earlier process of the session got */
	unsigned inflight;      /* sent to it, not acked yet */
	unsigned window;        /* most deliveries unacked at once */
};

/* A session not seen before: no process has said Hello, nothing sent. */
void delivery_worker_init(struct delivery_worker *w, unsigned window);

/* A process says Hello, or a restarted daemon adopted it: it gets everything unacked again,
 * from the first; what an earlier process (or this one, before) was given is flagged. */
void delivery_worker_hello(struct delivery_worker *w, uint64_t incarnation);

/* How many deliveries may go to the session's current process (incarnation) now: 0 to one
 * that has not said Hello yet or is not the one that did, or when the window is full. */
unsigned delivery_room(const struct delivery_worker *w, uint64_t incarnation);

/* Where the next read of the store starts: deliveries with a seq above it. */
uint64_t delivery_cursor(const struct delivery_worker *w);

/* Whether the delivery of inbox seq `seq` may have reached a process before: an earlier one
 * of this daemon, or any, when it was in the inbox already as this daemon started (the inbox's
 * last seq then: inbox_seq_at_start). */
bool delivery_redelivered(const struct delivery_worker *w, uint64_t seq,
			  uint64_t inbox_seq_at_start);

/* The delivery of inbox seq `seq` was sent to the current process. */
void delivery_sent(struct delivery_worker *w, uint64_t seq);

/* The process acked n deliveries: they leave the window. */
void delivery_acked(struct delivery_worker *w, size_t n);
