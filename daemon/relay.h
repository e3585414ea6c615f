/* relay.h — durable delivery between the backend link and session workers, through the store:
 * worker events are committed, then acked to the worker and sent to the backend until it acks;
 * backend deliveries are committed, then acked to the backend and sent to the session's worker
 * until it acks. Also the backend's requests (start/stop session, uplink actions), the sessions
 * it started (recorded, started again after a restart), Hello, status changes and usage. */
#pragma once

#include <stdbool.h>

#include "proto/worker_msg.h"

struct daemon;
struct session;
struct relay;

/* Opens the store in cfg's state_dir and connects. Call once uplinks are up and before any
 * session starts (workers get their incarnations from the store). */
int relay_new(struct daemon *d, struct relay **ret);
/* Starts the sessions the backend had started; after the configured ones. NULL is a no-op. */
void relay_restore_sessions(struct relay *r);
/* Commits what is pending, closes the link and the store. NULL is a no-op. */
void relay_free(struct relay *r);

/* The link's state for status output and metrics (cellmux_backend_up, queued, reconnects). */
struct relay_status {
	bool up;             /* Welcome received, link usable */
	unsigned outbox;     /* events waiting for the backend's ack */
	unsigned inbox;      /* deliveries waiting for a worker's ack */
	unsigned reconnects; /* connection attempts after the first */
};
/* r NULL (no [backend]): all zero. */
void relay_status(const struct relay *r, struct relay_status *out);

/* From session_start(), before a worker process is spawned: gives it the session's next
 * incarnation (s->incarnation), committed to the store before this returns, so every process
 * of a session name has its own, also across daemon restarts; events are keyed on it. r NULL
 * (no store): 0. A store error fails the start (-errno). */
int relay_session_spawning(struct relay *r, struct session *s);
/* A worker that outlived the previous daemon keeps its incarnation: read it back. */
int relay_session_adopting(struct relay *r, struct session *s);

/* From session.c's control-socket dispatch. r may be NULL (no [backend]): events are then
 * refused with ENOTCONN. */
void relay_worker_hello(struct relay *r, struct session *s);
void relay_worker_event(struct relay *r, struct session *s, const Cellmux__Worker__Event *ev);
void relay_worker_ack(struct relay *r, struct session *s, const Cellmux__Worker__Ack *ack);

/* The store the relay opened; the daemon keeps removed sessions' final counters there too. */
struct store *relay_store(struct relay *r);
