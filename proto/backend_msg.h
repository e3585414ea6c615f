/* backend_msg.h — framing of proto/backend.proto on the backend WebSocket: one message per
 * binary frame, and the checks every frame from the backend passes before the daemon uses it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/backend.pb-c.h"

/* Largest frame either side sends or accepts; a bigger one is a protocol error that closes the
 * link (WebSocket close 1009), since it cannot be skipped without reading it. */
#define BACKEND_MSG_MAX (256 * 1024)
#define BACKEND_MSG_PAYLOAD_MAX (60 * 1024) /* Event/Delivery payload, as WORKER_MSG_PAYLOAD_MAX   \
					     */
#define BACKEND_MSG_TEXT_MAX 1024	    /* every string field */
#define BACKEND_MSG_ACK_IDS_MAX 8192	    /* ids in one Ack */
#define BACKEND_MSG_EVENTS_MAX 1024	    /* events in one Events */
#define BACKEND_SUBPROTOCOL "cellmux.v1"
#define BACKEND_PROTOCOL_VERSION 1

/* Decodes and validates one frame from the backend. -EMSGSIZE above BACKEND_MSG_MAX;
 * -EBADMSG for a frame that does not decode, has no or an unknown oneof case, a string that is
 * too long or not UTF-8, an invalid name, a payload above BACKEND_MSG_PAYLOAD_MAX or too many
 * ack ids. *ret is written only on success; free with backend_msg_free_backend(). */
int backend_msg_decode_backend(const uint8_t *buf, size_t len,
			       Cellmux__Backend__BackendMessage **ret);
/* The same for frames from a gateway (the backend side, tests). */
int backend_msg_decode_gateway(const uint8_t *buf, size_t len,
			       Cellmux__Backend__GatewayMessage **ret);

/* Packs m into a fresh buffer with `headroom` free bytes in front (LWS_PRE for lws_write()).
 * -EMSGSIZE above BACKEND_MSG_MAX, -EINVAL for a message that packs to nothing. *ret_buf is
 * malloc'ed; *ret_len counts the message bytes, not the headroom. */
int backend_msg_encode(const ProtobufCMessage *m, size_t headroom, uint8_t **ret_buf,
		       size_t *ret_len);

void backend_msg_free_backend(Cellmux__Backend__BackendMessage *m);
void backend_msg_free_gateway(Cellmux__Backend__GatewayMessage *m);

/* True if s (may be NULL: empty) is valid UTF-8 of at most max bytes. */
bool backend_msg_text_ok(const char *s, size_t max);
