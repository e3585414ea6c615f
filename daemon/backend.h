/* backend.h — the WebSocket link to the central backend: a libwebsockets client on the daemon's
 * GLib loop (its own lws context, client only), TLS with CA and host name checks, subprotocol
 * cellmux.v1, a bearer token, ping/pong dead-link detection and reconnect with backoff.
 * It moves frames; what they mean is relay.c's business. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"
#include "proto/backend_msg.h"

/* A link that has seen no valid frame or pong for PING_S gets a ping; for HANGUP_S it is dead
 * and dropped (a blackholed link is detected within HANGUP_S, < 30 s). */
#define BACKEND_PING_S 10
#define BACKEND_HANGUP_S 25
/* Reconnect delays: first, doubling to the cap, each with up to half of it taken off at random
 * so a fleet that lost its backend at once does not come back at once. */
#define BACKEND_RETRY_FIRST_MS 500
#define BACKEND_RETRY_MAX_MS 15000
/* The backend must answer Hello with Welcome within this. */
#define BACKEND_WELCOME_S 10

struct backend_link;

struct backend_link_ops {
	/* WebSocket open: send Hello now (nothing else goes until up()). */
	void (*connected)(void *userdata);
	/* The backend's Welcome arrived: the link carries everything from now on. */
	void (*up)(void *userdata);
	/* The link is gone (closed, refused, dead); a reconnect is scheduled. */
	void (*down)(void *userdata);
	/* A validated frame after Welcome. The message is freed on return. */
	void (*message)(void *userdata, const Cellmux__Backend__BackendMessage *m);
	/* The send queue ran empty: room for more. */
	void (*drained)(void *userdata);
};

/* Copies what it needs of cfg; connects at once (on the default GMainContext's loop). */
int backend_link_new(const struct cfg_backend *cfg, GMainLoop *loop,
		     const struct backend_link_ops *ops, void *userdata, struct backend_link **ret);
void backend_link_free(struct backend_link *l);

/* Queues one frame. -ENOTCONN without an open WebSocket; -EMSGSIZE above BACKEND_MSG_MAX. */
int backend_link_send(struct backend_link *l, const ProtobufCMessage *m);
bool backend_link_is_up(const struct backend_link *l);
size_t backend_link_queued(const struct backend_link *l);
unsigned backend_link_reconnects(const struct backend_link *l);
const char *backend_link_gateway_id(const struct backend_link *l);
