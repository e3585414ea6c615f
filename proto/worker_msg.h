/* worker_msg.h — framing of proto/worker.proto on the worker control socket (AF_UNIX
 * SOCK_SEQPACKET, one message per packet), shared by cellmuxd and the workers. */
#pragma once

#include <stddef.h>

#include "proto/worker.pb-c.h"

/* Largest packet either side sends or accepts. */
#define WORKER_MSG_MAX (64 * 1024)
/* Per-field bounds checked on receive; senders must stay within them. */
#define WORKER_MSG_BODY_MAX 4096  /* Report.body */
#define WORKER_MSG_TEXT_MAX 2048  /* every other string field */
#define WORKER_MSG_ADDRS_MAX 64   /* Report.resolved_addresses entries */
#define WORKER_MSG_ADDR_MAX 63    /* bytes of one address (INET6_ADDRSTRLEN with room) */
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
 * case, a string that is too long or not UTF-8). *ret is written only on success; free it with
 * worker_msg_free_worker()/_daemon(). */
int worker_msg_recv_worker(int fd, Cellmux__Worker__WorkerMessage **ret);
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

/* Makes len bytes of untrusted text (an HTTP body, a library's error message) fit a string field:
 * NUL bytes and invalid UTF-8 become '?', an incomplete character at the end (left by truncating
 * the input) is dropped. Works in place; s must have room for len + 1 bytes, s[ret] becomes NUL.
 * Returns the new length, <= len. */
size_t worker_msg_text_sanitize(char *s, size_t len);
