/* worker_msg.h — framing of proto/worker.proto on the worker control socket (AF_UNIX
 * SOCK_SEQPACKET, one message per packet), shared by cellmuxd and the workers. */
#pragma once

#include <stddef.h>

#include "proto/worker.pb-c.h"
#include "proto/worker_status.h"

/* Largest packet either side sends or accepts. */
#define WORKER_MSG_MAX (64 * 1024)
/* Per-field bounds checked on receive; senders must stay within them. */
#define WORKER_MSG_TEXT_MAX 2048  /* string fields without a bound of their own */
#define WORKER_MSG_PAYLOAD_MAX (60 * 1024) /* Event/Delivery payload: fits a packet with room */
#define WORKER_MSG_ACK_IDS_MAX 1024        /* ids in one Ack */
#define WORKER_MSG_STATE_MAX (32 * 1024)   /* StatePut/State data: one session's state blob */

/* The environment a session worker starts with. */
#define WORKER_ENV_CONTROL_FD "CELLMUX_CONTROL_FD"
#define WORKER_ENV_SESSION "CELLMUX_SESSION"
#define WORKER_ENV_UPLINK "CELLMUX_UPLINK"

/* Packs m and sends it as one packet with MSG_NOSIGNAL, so a dead peer is -EPIPE, not SIGPIPE.
 * Blocks or not as the fd does. -EMSGSIZE above WORKER_MSG_MAX; -EINVAL for a message that packs
 * to zero bytes (a oneof with nothing set), which the peer could not tell from end-of-file. */
int worker_msg_send(int fd, const ProtobufCMessage *m);

/* Receives one packet and decodes it. Never blocks (MSG_DONTWAIT): call when poll() reports the fd
 * readable. Returns -EAGAIN when nothing is queued, -ECONNRESET when the peer has closed,
 * -EMSGSIZE for a packet above WORKER_MSG_MAX (dropped, so the next call reads the next packet),
 * -EBADMSG for a packet that does not decode or breaks a rule of worker.proto (no or unknown oneof
 * case, a string that is too long or not UTF-8, a Status out of its bounds). *ret is written only
 * on success; free it with worker_msg_free_worker()/_daemon(). On -EBADMSG for a message that
 * decoded, *ret_why (may be NULL) names the rule it broke (a static string, for the log). */
int worker_msg_recv_worker(int fd, Cellmux__Worker__WorkerMessage **ret, const char **ret_why);
int worker_msg_recv_daemon(int fd, Cellmux__Worker__DaemonMessage **ret);

void worker_msg_free_worker(Cellmux__Worker__WorkerMessage *m);
void worker_msg_free_daemon(Cellmux__Worker__DaemonMessage *m);

static inline void worker_msg_free_workerp(Cellmux__Worker__WorkerMessage **m)
{
	worker_msg_free_worker(*m);
}

static inline void worker_msg_free_daemonp(Cellmux__Worker__DaemonMessage **m)
{
	worker_msg_free_daemon(*m);
}

/* Copies a Status worker_msg_recv_worker() accepted (so within the bounds) into out, whole. */
/* Why st breaks the bounds of worker_status.h (a fixed string), or NULL: the daemon's check
 * on receive, and libcellmux-worker's before it sends. */
const char *worker_status_check(const Cellmux__Worker__Status *st);
void worker_status_copy(struct worker_status *out, const Cellmux__Worker__Status *st);

/* Makes len bytes of untrusted text (an HTTP body, a library's error message) fit a string field:
 * NUL bytes and invalid UTF-8 become '?', an incomplete character at the end (left by truncating
 * the input) is dropped. Works in place; s must have room for len + 1 bytes, s[ret] becomes NUL.
 * Returns the new length, <= len. */
size_t worker_msg_text_sanitize(char *s, size_t len);
