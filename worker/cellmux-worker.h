/* cellmux-worker.h — libcellmux-worker, the worker side of proto/worker.proto for programs run as
 * cellmux session workers: hello, events kept until the daemon has them on disk, deliveries
 * handed to the program once, the worker's Status, its per-session state blob (put/get), and the
 * adoption by a restarted daemon (a second Welcome).
 *
 * Functions return 0 (or a count) on success and a negative errno on failure; nothing logs.
 * The library owns no thread and no event loop: the program polls cmxw_fd() for POLLIN with a
 * timeout of at most cmxw_timeout_ms() and calls cmxw_dispatch() when either fires. Callbacks run
 * only from cmxw_dispatch() and may call anything but cmxw_close(). Not thread-safe: one thread
 * uses one struct cmxw.
 *
 * Sends block while the socket's buffer is full (the inherited socket is blocking): the daemon
 * is slow or restarting. A program that makes the fd non-blocking gets its events and state
 * requests kept and sent from the retry timer instead (a Status is not kept: -EAGAIN). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cmxw;

/* Unacked events kept by default and at most (cmxw_set_window). Each keeps a copy of its
 * payload, at most CMXW_PAYLOAD_MAX bytes: the window bounds the library's memory. */
#define CMXW_WINDOW_DEFAULT 256
#define CMXW_WINDOW_MAX 4096
/* Largest Event payload (WORKER_MSG_PAYLOAD_MAX of proto/worker_msg.h). */
#define CMXW_PAYLOAD_MAX (60 * 1024)
/* Deliveries remembered for dedup until the daemon confirms their ack; past that the oldest
 * acked one is forgotten (a daemon confirms within its window of 128, so this is a safety net). */
#define CMXW_DELIVERIES_MAX 4096
/* A refused event (Ack.error: ENOSPC outbox full, ENOTCONN no backend, EIO) is sent again
 * after this long. */
#define CMXW_RETRY_MS 500
/* Ids the library assigns (cmxw_event with id 0) are CMXW_AUTO_ID_BASE + 1, + 2, ...: a
 * program that also picks ids itself keeps its own below this. */
#define CMXW_AUTO_ID_BASE (UINT64_C(1) << 63)
/* Largest state blob (WORKER_MSG_STATE_MAX of proto/worker_msg.h). */
#define CMXW_STATE_MAX (32 * 1024)
/* State requests (puts and gets) without an answer yet, at most: each put keeps a copy of its
 * blob until answered, so this bounds the library's memory (512 KiB). */
#define CMXW_STATE_PENDING_MAX 16
/* Bounds of a Status (WORKER_STATUS_* of proto/worker_status.h), checked by cmxw_status():
 * the daemon drops a Status that breaks one. Byte counts. */
#define CMXW_STATUS_STATE_MAX 32    /* 1.. bytes of [a-z0-9_-] */
#define CMXW_STATUS_MESSAGE_MAX 256 /* UTF-8, no control characters */
#define CMXW_STATUS_FIELDS_MAX 16
#define CMXW_STATUS_KEY_MAX 32    /* 1.. bytes of [a-z0-9_], each key once per Status */
#define CMXW_STATUS_VALUE_MAX 256 /* UTF-8 */

/* cmxw_event() flags. */
enum {
	/* The id is the session's, not this process's (Event.session_unique): the same event sent
	 * by a successor process after this one died is a duplicate, not news. Derive such ids from
	 * something every process of the session agrees on, e.g. a Delivery id. */
	CMXW_SESSION_UNIQUE = 1 << 0,
};

struct cmxw_welcome {
	const char *session;  /* as in CELLMUX_SESSION */
	const char *uplink;   /* as in CELLMUX_UPLINK */
	uint64_t incarnation; /* this process's, 0 from a daemon without a store */
	/* 0 for the first Welcome; 1, 2, ... when a restarted daemon adopted this process. */
	unsigned again;
	/* Events sent again because of this Welcome (all those without an Ack). */
	size_t resent;
};

struct cmxw_callbacks {
	/* A Welcome arrived: first after cmxw_hello(), and again (welcome->again > 0) after every
	 * daemon restart or re-exec that adopted this process. The library has resent every
	 * unacked event already; the program has nothing to redo for the protocol. */
	void (*on_welcome)(struct cmxw *w, const struct cmxw_welcome *welcome, void *userdata);
	/* A delivery this process has not been handed before. The program calls
	 * cmxw_ack_delivery(w, id) once it has handled it (now or later); until then, the same id
	 * arriving again (redelivered after a daemon restart) is not handed again, and after the
	 * ack it is acked again by the library. payload is valid during the call only. */
	void (*on_delivery)(struct cmxw *w, uint64_t id, const void *payload, size_t len,
			    bool redelivered, void *userdata);
	/* Events the daemon has committed to disk, each reported once, in the order listed in one
	 * Ack. The library no longer keeps them. */
	void (*on_events_acked)(struct cmxw *w, const uint64_t *ids, size_t n, void *userdata);
	/* The daemon asks the process to finish and exit 0 (it escalates to SIGTERM, SIGKILL). */
	void (*on_stop)(struct cmxw *w, void *userdata);
	/* Optional, for tests and tracing. A delivery already handed to this process arrived
	 * again and was absorbed: acked again (acked) or still in the program's hands (!acked). */
	void (*on_duplicate)(struct cmxw *w, uint64_t id, bool redelivered, bool acked,
			     void *userdata);
	/* Optional: the daemon committed this process's ack of delivery id; no process of the
	 * session gets it again (Ack.delivered). */
	void (*on_delivered)(struct cmxw *w, uint64_t id, void *userdata);
	/* Optional: a packet from the daemon was dropped (-EBADMSG, -EMSGSIZE: see worker_msg.h). */
	void (*on_bad_message)(struct cmxw *w, int error, void *userdata);
	/* The answer to one cmxw_state_put() (was_put) or cmxw_state_get(), in the order they were
	 * called. error: 0, or -ENOKEY (the daemon has no state_key=: nothing is stored), -EBADMSG
	 * (a get: the stored blob does not authenticate; a put replaces it), -EIO (the store
	 * failed), another -errno from a newer daemon. A put answered with 0 is on disk; found then
	 * says the blob is not empty (an empty put deletes it). A get: found and the blob (data,
	 * len > 0, valid during the call only), or !found with error 0: nothing is stored. */
	void (*on_state)(struct cmxw *w, int error, bool found, const void *data, size_t len,
			 bool was_put, void *userdata);
};

/* Counters of what the library did, for tests and the program's own metrics. */
struct cmxw_stats {
	uint64_t events_sent;	/* Event packets, first sends and resends */
	uint64_t events_resent; /* of those, resends (second Welcome, retry after a refusal) */
	uint64_t events_refused; /* ids in Acks with an error */
	uint64_t deliveries;	/* Delivery packets received */
	uint64_t duplicates;	/* of those, absorbed (not handed to the program) */
	uint64_t forgotten;	/* acked deliveries dropped from dedup because it was full */
	uint64_t bad_messages;
	size_t unacked;	/* events kept now */
	uint64_t states_sent;	 /* StatePut and StateGet packets, first sends and resends */
	uint64_t states_resent;	 /* of those, resends after a second Welcome */
	uint64_t states_stray;	 /* State answers to no request asked (dropped, see cmxw_state_put) */
	size_t states_pending; /* requests without an answer now */
};

/* A handle on the control socket named by CELLMUX_CONTROL_FD. -ENOENT when it is unset (not
 * run by cellmuxd), -EBADF/-ENOTSOCK when it names no SOCK_SEQPACKET socket. The callbacks
 * struct is copied. */
int cmxw_open_env(const struct cmxw_callbacks *cb, void *userdata, struct cmxw **ret);
/* The same on a given socket (tests, a program that moved the fd). Takes ownership of fd on
 * success: cmxw_close() closes it. */
int cmxw_open_fd(int fd, const struct cmxw_callbacks *cb, void *userdata, struct cmxw **ret);
/* Closes the socket and frees everything; unacked events are lost. NULL is a no-op. */
void cmxw_close(struct cmxw *w);

/* Unacked events to keep, 1..CMXW_WINDOW_MAX; only while none is kept (-EBUSY otherwise). */
int cmxw_set_window(struct cmxw *w, unsigned window);

/* The first message: the program's name and version (UTF-8, at most 2048 bytes each). */
int cmxw_hello(struct cmxw *w, const char *name, const char *version);

int cmxw_fd(const struct cmxw *w);
/* Milliseconds until cmxw_dispatch() has timed work (a retry), -1 for none. */
int cmxw_timeout_ms(const struct cmxw *w);
/* Reads every packet queued, runs the callbacks, sends what is due. 0, or -ECONNRESET once the
 * socket is closed for good (the session is over), or another error of the socket. */
int cmxw_dispatch(struct cmxw *w);
/* True once Stop arrived. */
bool cmxw_stopping(const struct cmxw *w);

/* Sends an event and keeps it until the daemon acks it; resends it after a refusal and on a
 * second Welcome. id 0: the library picks one (CMXW_AUTO_ID_BASE + n; not with
 * CMXW_SESSION_UNIQUE). *ret_id (may be NULL) gets the id. -ENOBUFS: the window is full, wait
 * for on_events_acked; -EEXIST: an event with this id is still unacked; -EMSGSIZE: len above
 * CMXW_PAYLOAD_MAX. */
int cmxw_event(struct cmxw *w, uint64_t id, const void *payload, size_t len, unsigned flags,
	       uint64_t *ret_id);

/* The program has handled delivery id: acks it to the daemon. -ENOENT for an id never handed
 * to the program (or already confirmed), -EALREADY for one acked before. The list form sends
 * one Ack for up to 1024 ids, skips such ids and returns how many it acked. Either returns
 * the socket's error if the ack could not be sent; the ids stay unacked then. */
int cmxw_ack_delivery(struct cmxw *w, uint64_t id);
int cmxw_ack_deliveries(struct cmxw *w, const uint64_t *ids, size_t n);

/* One Status field: key and value (NULL: empty). */
struct cmxw_field {
	const char *key;
	const char *value;
};

/* Sends a Status: how the worker is doing, for cellmuxctl session show, the admin API and
 * /metrics (state and time only). state is a short token ("ok", "failed"), message one line for
 * people (NULL: empty), fields n details. -EINVAL when any breaks a CMXW_STATUS_* bound (nothing
 * is sent: the daemon would drop it whole), -ENOTCONN before cmxw_hello(), or the socket's error
 * (-EAGAIN on a full non-blocking socket). A Status is not kept: the daemon shows the last one
 * it got, and one lost to a full socket or a daemon restart stays lost until the next, so send
 * one whenever there is news (the probe sends one a round). cmxw_status() leaves the time to
 * the daemon (when it arrives); cmxw_status_at() gives it, in ms since the Unix epoch (UTC). */
int cmxw_status(struct cmxw *w, const char *state, const char *message,
		const struct cmxw_field *fields, size_t n);
int cmxw_status_at(struct cmxw *w, uint64_t unix_time_ms, const char *state, const char *message,
		   const struct cmxw_field *fields, size_t n);

/* The session's state blob, a few bytes of the program's own (a cursor, a checkpoint) the
 * daemon keeps encrypted on disk across worker and daemon restarts. cmxw_state_put() replaces it
 * (len 0 deletes it), cmxw_state_get() asks for it; each is answered by one on_state call, in
 * the order asked. -EMSGSIZE: len above CMXW_STATE_MAX; -ENOBUFS: CMXW_STATE_PENDING_MAX
 * requests wait for their answers already; -ENOTCONN before cmxw_hello(); or the socket's error
 * (the request is then not taken and not answered). A put's blob is copied.
 *
 * On a second Welcome every request without an answer is sent again, in order: the dead daemon
 * may have read it and died before answering (an answer to a put waits for the commit), and
 * both are safe to repeat (a put: the last write wins; a get: reads). The protocol has no
 * request ids, though: a request the dead daemon never read (still queued on the socket, e.g.
 * one asked while no daemon ran) reaches the new daemon as well and is answered twice. The
 * library pairs answers with requests by count, so after such a restart an answer may pair with
 * the wrong request of those outstanding, or with one asked next; one with nothing waiting is
 * dropped (states_stray). The common cases pair right: a put the dead daemon had read but not
 * committed (kill -9, re-exec) is answered once, for its resend; one asked while no daemon ran
 * gets its second answer dropped unless the program asks again before it arrives. Exact
 * pairing in every case needs request ids in the protocol. */
int cmxw_state_put(struct cmxw *w, const void *data, size_t len);
int cmxw_state_get(struct cmxw *w);
/* Requests waiting for their answer. */
size_t cmxw_state_pending(const struct cmxw *w);

/* From the last Welcome; before one, from the environment (may be NULL). 0 before a Welcome. */
const char *cmxw_session(const struct cmxw *w);
const char *cmxw_uplink(const struct cmxw *w);
uint64_t cmxw_incarnation(const struct cmxw *w);

void cmxw_get_stats(const struct cmxw *w, struct cmxw_stats *ret);

#ifdef __cplusplus
}
#endif
