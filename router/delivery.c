/* delivery.c — the per-worker delivery rules of delivery.h: a window of unacked deliveries,
 * a cursor into the inbox that a new process resets, and the redelivered flag. */
#include "router/delivery.h"

void delivery_worker_init(struct delivery_worker *w, unsigned window)
{
	*w = (struct delivery_worker){ .window = window };
}

void delivery_worker_hello(struct delivery_worker *w, uint64_t incarnation)
{
	/* Acks are not tracked per id: whatever was sent may have been handled, so all of it
	 * counts as given, acked or not (an acked one leaves the inbox once its ack commits). */
	if (w->sent_upto > w->prev_max_sent)
		w->prev_max_sent = w->sent_upto;
	w->incarnation = incarnation;
	w->sent_upto = 0;
	w->inflight = 0;
}

unsigned delivery_room(const struct delivery_worker *w, uint64_t incarnation)
{
	if (w->incarnation != incarnation || w->inflight >= w->window)
		return 0;
	return w->window - w->inflight;
}

uint64_t delivery_cursor(const struct delivery_worker *w)
{
	return w->sent_upto;
}

bool delivery_redelivered(const struct delivery_worker *w, uint64_t seq,
			  uint64_t inbox_seq_at_start)
{
	return seq <= w->prev_max_sent || seq <= inbox_seq_at_start;
}

void delivery_sent(struct delivery_worker *w, uint64_t seq)
{
	w->sent_upto = seq;
	w->inflight++;
}

void delivery_acked(struct delivery_worker *w, size_t n)
{
	/* An ack of more than is in flight (a duplicate, or ids sent before a Hello) empties it. */
	w->inflight = w->inflight > n ? w->inflight - (unsigned)n : 0;
}
