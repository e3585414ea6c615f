/* ctl.h — cellmuxd's admin socket (proto/ctl.h) on the GLib main loop: listening, SO_PEERCRED
 * authorisation, request checking and answering. It knows nothing of the daemon: struct ctl_ops. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "proto/ctl_msg.h"

#define CTL_SERVER_MAX_CONNS 64
#define CTL_SERVER_IDLE_MS 60000  /* an authorised client that sends nothing is closed */
#define CTL_SERVER_STALL_MS 10000 /* a client that reads none of its answer is closed */

struct ctl_server;
/* One request's answer in the making. Owned by the server while an op runs; by the daemon from
 * ctl_reply_defer() until ctl_reply_complete(). */
struct ctl_reply;

struct ctl_session_start {
	const char *profile;
	const char *name;   /* NULL: the daemon picks one */
	const char *uplink; /* NULL: the router places it */
};

/* What the daemon implements. Every op runs on the main loop and returns 0, or -errno for the
 * client's NLMSG_ERROR (with ctl_reply_set_error()'s text, if set); it must not block. Names
 * arrive checked against the policy (NUL-terminated, within CTL_NAME_SIZE) but not against the
 * config's name rules. A NULL op answers -EOPNOTSUPP. Ops that answer with objects add them with
 * ctl_reply_status/_uplink/_session(): exactly one for a "get" or "start", one per object for a
 * dump, in the order the client should print them. An op that cannot finish now (stop waits for the
 * worker to exit, say) calls ctl_reply_defer(), returns 0 and later ctl_reply_complete(). */
struct ctl_ops {
	int (*status)(void *ctx, struct ctl_reply *r);
	int (*uplink_dump)(void *ctx, struct ctl_reply *r);
	int (*uplink_get)(void *ctx, const char *name, struct ctl_reply *r); /* -ENOENT if none */
	int (*uplink_set_state)(void *ctx, const char *name, enum ctl_uplink_action action,
				struct ctl_reply *r);
	int (*session_dump)(void *ctx, struct ctl_reply *r);
	int (*session_get)(void *ctx, const char *name, struct ctl_reply *r);
	/* Answers with the new session (its name and uplink as chosen). */
	int (*session_start)(void *ctx, const struct ctl_session_start *req, struct ctl_reply *r);
	int (*session_stop)(void *ctx, const char *name, struct ctl_reply *r);
	int (*session_restart)(void *ctx, const char *name, struct ctl_reply *r);
	/* As SIGHUP: a file that does not load changes nothing and is the error. */
	int (*reload)(void *ctx, struct ctl_reply *r);
	int (*reexec)(void *ctx, struct ctl_reply *r);
};

struct ctl_server_params {
	const char *path;   /* NULL: CTL_SOCKET_PATH; its directory is made (0755) if missing */
	const char *group;  /* NULL: CTL_GROUP_DEFAULT; "" or a group that is not there: root only */
	mode_t mode;        /* 0: 0660, or 0600 when root only */
	unsigned max_conns; /* 0: CTL_SERVER_MAX_CONNS; beyond it clients wait in the backlog */
	unsigned idle_ms;   /* 0: CTL_SERVER_IDLE_MS */
	unsigned stall_ms;  /* 0: CTL_SERVER_STALL_MS */
};

/* Listens at params->path on the default main context. A socket left there by a daemon that died
 * is replaced; one that somebody still listens on is -EADDRINUSE, anything else at the path
 * -EEXIST. *ret is written only on success. */
int ctl_server_new(const struct ctl_server_params *params, const struct ctl_ops *ops, void *ctx,
		   struct ctl_server **ret);
/* Closes every connection (deferred replies stay valid until completed, then go nowhere) and
 * removes the socket if it is still ours. NULL is a no-op. Not from inside an op: the server is
 * still using the request's connection then (free it from an idle callback). */
void ctl_server_free(struct ctl_server *s);
/* Connections open now, for status output and tests. */
unsigned ctl_server_connections(const struct ctl_server *s);

/* Adds one object to the answer; the object must be the command's (an uplink to an uplink
 * command...). An error (-EMSGSIZE, -ENOMEM) is also kept and becomes the answer, so ops may
 * ignore the return value. */
int ctl_reply_status(struct ctl_reply *r, const struct ctl_status_info *s);
int ctl_reply_uplink(struct ctl_reply *r, const struct ctl_uplink_info *u);
int ctl_reply_session(struct ctl_reply *r, const struct ctl_session_info *s);
/* The text the client prints if the request fails, e.g. "no uplink 'lte9'". */
void ctl_reply_set_error(struct ctl_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Who asked (SO_PEERCRED at connect time), for logs. */
const struct ucred *ctl_reply_peer(const struct ctl_reply *r);
/* The command (enum ctl_cmd) being answered. */
uint8_t ctl_reply_cmd(const struct ctl_reply *r);
/* Takes r over from the server; the op then returns 0. The client keeps waiting (and its
 * connection reads nothing else) until ctl_reply_complete(). */
struct ctl_reply *ctl_reply_defer(struct ctl_reply *r);
/* Sends the answer of a deferred request (error 0: its objects and ack; -errno: the error) and
 * frees r. If the client has gone, or the server was freed, it only frees r. */
void ctl_reply_complete(struct ctl_reply *r, int error);
