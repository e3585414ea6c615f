/* ctl.c — the admin socket's server side: accept, authorise by SO_PEERCRED, read one request per
 * packet, check it with proto/ctl_msg.c, hand it to the daemon's ctl_ops, queue the answer. */
#include "daemon/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"

#define ACCEPTS_PER_WAKEUP 16
/* Bounded so one client pipelining requests cannot starve the loop. */
#define REQUESTS_PER_WAKEUP 32
/* Peers that are not allowed in get their EPERM answer, then go; until then they hold a slot, so
 * only a few at a time, and not for long. */
#define UNAUTH_MAX 8
#define UNAUTH_MS 5000
/* The largest answer one request may build (a dump of every session is ~1 KiB a session). */
#define REPLY_MAX (64u << 20)
#define LISTEN_BACKLOG 128
/* Refusals are logged, but a local user looping on connect() must not flood the journal (nor use
 * up journald's per-service rate limit, which would drop the daemon's other lines): at most this
 * many lines per window, then a count. */
#define REFUSAL_LOG_BURST 10
#define REFUSAL_LOG_WINDOW_US (10 * G_USEC_PER_SEC)

struct ctl_conn {
	struct ctl_server *s;
	struct ctl_conn *prev, *next;
	int fd;
	guint watch;
	GIOCondition watch_cond;
	struct ucred cred;
	bool authorised;
	bool close_after_flush;
	struct ctl_reply *pending; /* a deferred request; the daemon owns it */
	uint8_t *out;              /* whole netlink messages still to send */
	size_t out_len, out_off;
	gint64 deadline; /* monotonic us; 0: none */
};

struct ctl_server {
	const struct ctl_ops *ops;
	void *ctx;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	int fd;
	guint listen_watch, accept_retry, sweep;
	char group[64];
	gid_t gid;
	bool have_group;
	bool freeing;
	unsigned max_conns, idle_ms, stall_ms, unauth_ms;
	unsigned n_conns, n_unauth;
	gint64 refusal_window;
	unsigned refusals_logged, refusals_unlogged;
	struct ctl_conn *conns;
	/* One receive buffer for every connection: there is one thread. Aligned for netlink. */
	uint8_t rbuf[CTL_MSG_MAX] __attribute__((aligned(8)));
};

struct ctl_reply {
	struct ctl_conn *conn; /* NULL once the client or the server is gone */
	struct nlmsghdr req;   /* header of the request, echoed */
	struct ucred cred;
	uint8_t cmd;
	bool dump;
	bool deferred;
	bool in_op;     /* the op is still running: completing now only records the result */
	bool completed;
	int completion;
	int error; /* sticky, from building the answer */
	unsigned n_objects;
	uint8_t *buf;
	size_t len, cap;
	char msg[CTL_ERRMSG_SIZE];
};

static void conn_free(struct ctl_conn *c);
static bool conn_update(struct ctl_conn *c);
static void server_update_listener(struct ctl_server *s);

/* Replies */

static struct ctl_reply *reply_new(struct ctl_conn *c, const struct nlmsghdr *req, uint8_t cmd,
				   bool dump)
{
	struct ctl_reply *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->conn = c;
	if (req)
		r->req = *req;
	r->cred = c->cred;
	r->cmd = cmd;
	r->dump = dump;
	return r;
}

static void reply_free(struct ctl_reply *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

/* Room for one more message of up to CTL_MSG_MAX at the end of r->buf. */
static int reply_reserve(struct ctl_reply *r)
{
	size_t cap;
	uint8_t *b;

	if (r->cap - r->len >= CTL_MSG_MAX)
		return 0;
	if (r->len + CTL_MSG_MAX > REPLY_MAX)
		return -ENOBUFS;
	cap = MAX(r->cap * 2, r->len + CTL_MSG_MAX);
	b = realloc(r->buf, cap);
	if (!b)
		return -ENOMEM;
	r->buf = b;
	r->cap = cap;
	return 0;
}

/* Appends a finished message built in place by ctl_msg_*() after reply_reserve(). */
static void reply_commit(struct ctl_reply *r, struct ctl_msg *m)
{
	size_t len;
	int k = ctl_msg_finish(m, &len);

	if (k < 0) {
		r->error = k;
		return;
	}
	r->len += NLMSG_ALIGN(len);
}

static int reply_object(struct ctl_reply *r, uint16_t obj, const void *info)
{
	struct ctl_msg m;
	int k;

	if (r->error)
		return r->error;
	/* An op answering with the wrong object, or twice to a "get", is a daemon bug; the client
	 * gets an error rather than an answer it would misread. */
	if (ctl_cmd_policy[r->cmd].answer != obj || (!r->dump && r->n_objects > 0)) {
		log_error("ctl: %s answered with a wrong object", ctl_cmd_to_string(r->cmd));
		return r->error = -EINVAL;
	}
	k = reply_reserve(r);
	if (k < 0)
		return r->error = k;
	ctl_msg_start(&m, r->buf + r->len, CTL_MSG_MAX, r->dump ? NLM_F_MULTI : 0,
		      r->req.nlmsg_seq, r->cmd);
	if (!m.error)
		m.nlh->nlmsg_pid = r->req.nlmsg_pid;
	if (obj == CTL_A_STATUS)
		ctl_status_encode(&m, info);
	else if (obj == CTL_A_UPLINK)
		ctl_uplink_encode(&m, info);
	else
		ctl_session_encode(&m, info);
	reply_commit(r, &m);
	if (r->error)
		return r->error;
	r->n_objects++;
	return 0;
}

int ctl_reply_status(struct ctl_reply *r, const struct ctl_status_info *s)
{
	return reply_object(r, CTL_A_STATUS, s);
}

int ctl_reply_uplink(struct ctl_reply *r, const struct ctl_uplink_info *u)
{
	return reply_object(r, CTL_A_UPLINK, u);
}

int ctl_reply_session(struct ctl_reply *r, const struct ctl_session_info *s)
{
	return reply_object(r, CTL_A_SESSION, s);
}

void ctl_reply_set_error(struct ctl_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
}

const struct ucred *ctl_reply_peer(const struct ctl_reply *r)
{
	return &r->cred;
}

uint8_t ctl_reply_cmd(const struct ctl_reply *r)
{
	return r->cmd;
}

struct ctl_reply *ctl_reply_defer(struct ctl_reply *r)
{
	r->deferred = true;
	return r;
}

/* Turns r into the bytes the client gets: its objects and then DONE (dump) or an ack (if asked
 * for), or only an NLMSG_ERROR. -ENOMEM if there is no room even for the error. */
static int reply_finish(struct ctl_reply *r, int error)
{
	size_t len;
	int k;

	if (!error && r->error)
		error = r->error;
	if (!error && !r->dump && ctl_cmd_policy[r->cmd].answer && r->n_objects != 1) {
		log_error("ctl: %s succeeded without an answer", ctl_cmd_to_string(r->cmd));
		error = -EIO;
	}
	if (error) {
		/* An error replaces whatever was built: a dump is complete or not at all. */
		r->len = 0;
		if (!r->msg[0] && error == -ENOBUFS)
			snprintf(r->msg, sizeof(r->msg), "answer larger than %u MiB",
				 REPLY_MAX >> 20);
	}
	k = reply_reserve(r);
	if (k < 0)
		return -ENOMEM;
	if (error || !r->dump) {
		if (!error && !(r->req.nlmsg_flags & NLM_F_ACK))
			return 0;
		k = ctl_msg_error(r->buf + r->len, r->cap - r->len, &r->req, error,
				  error ? r->msg : NULL, &len);
	} else {
		k = ctl_msg_done(r->buf + r->len, r->cap - r->len, &r->req, &len);
	}
	if (k < 0)
		return k;
	r->len += NLMSG_ALIGN(len);
	return 0;
}

/* Connections: output */

/* One packet: as many whole messages as fit in CTL_MSG_MAX. The messages are our own. */
static size_t next_packet(const struct ctl_conn *c)
{
	size_t off = c->out_off, n = 0;

	while (off + n < c->out_len) {
		const struct nlmsghdr *nlh = (const void *)(c->out + off + n);
		size_t l = NLMSG_ALIGN(nlh->nlmsg_len);

		if (n + l > CTL_MSG_MAX)
			break;
		n += l;
	}
	return n;
}

static void out_clear(struct ctl_conn *c)
{
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

/* Sends what it can without blocking. Returns 0 (all sent or the rest waits for G_IO_OUT) or
 * -errno when the client is gone. */
static int conn_flush(struct ctl_conn *c)
{
	bool progress = false;

	while (c->out_off < c->out_len) {
		size_t n = next_packet(c);
		ssize_t k;

		k = send(c->fd, c->out + c->out_off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			break;
		if (k < 0)
			return negative_errno();
		c->out_off += n;
		progress = true;
	}
	if (c->out_off >= c->out_len)
		out_clear(c);
	if (progress && c->out)
		c->deadline = g_get_monotonic_time() + (gint64)c->s->stall_ms * 1000;
	return 0;
}

/* Finishes r with error (see reply_finish()), hands its bytes to the connection, frees r and
 * sends what the socket takes. Returns false once c is freed (client gone, or out of memory:
 * a client that cannot be answered is better closed than left waiting). */
static bool conn_answer(struct ctl_conn *c, struct ctl_reply *r, int error)
{
	int k;

	if (c->pending == r)
		c->pending = NULL;
	k = reply_finish(r, error);
	if (k < 0) {
		log_warn_errno(k, "ctl: pid %d: answering: %m", (int)c->cred.pid);
		reply_free(r);
		conn_free(c);
		return false;
	}
	if (r->len) {
		c->out = TAKE_PTR(r->buf);
		c->out_len = r->len;
		c->out_off = 0;
	}
	reply_free(r);
	k = conn_flush(c);
	if (k < 0) {
		log_debug_errno(k, "ctl: pid %d: sending: %m", (int)c->cred.pid);
		conn_free(c);
		return false;
	}
	return conn_update(c);
}

void ctl_reply_complete(struct ctl_reply *r, int error)
{
	struct ctl_conn *c;

	if (!r)
		return;
	/* Completed from inside the op that deferred it: conn_request() sends it on return. */
	if (r->in_op) {
		r->deferred = false;
		r->completed = true;
		r->completion = error;
		return;
	}
	c = r->conn;
	if (!c) {
		reply_free(r);
		return;
	}
	r->deferred = false;
	conn_answer(c, r, error);
}

/* Connections: input */

static bool cmd_mutates(uint8_t cmd)
{
	return cmd != CTL_CMD_STATUS && cmd != CTL_CMD_UPLINK_GET && cmd != CTL_CMD_SESSION_GET;
}

static const char *obj_name(const struct ctl_parsed *p, uint16_t type)
{
	return p->otb[type] ? ctl_attr_str(p->otb[type]) : NULL;
}

static int dispatch(struct ctl_server *s, const struct ctl_parsed *p, struct ctl_reply *r)
{
	const struct ctl_ops *o = s->ops;
	struct ctl_session_start start;
	void *x = s->ctx;
	uint8_t action;

	switch (p->cmd) {
	case CTL_CMD_STATUS:
		return o->status ? o->status(x, r) : -EOPNOTSUPP;
	case CTL_CMD_UPLINK_GET:
		if (p->dump)
			return o->uplink_dump ? o->uplink_dump(x, r) : -EOPNOTSUPP;
		return o->uplink_get ? o->uplink_get(x, obj_name(p, CTL_UPLINK_A_NAME), r)
				     : -EOPNOTSUPP;
	case CTL_CMD_UPLINK_SET_STATE:
		action = ctl_attr_u8(p->tb[CTL_A_ACTION]);
		if (action == CTL_UPLINK_ACTION_UNSPEC) {
			ctl_reply_set_error(r, "uplink-set-state needs an action");
			return -EINVAL;
		}
		return o->uplink_set_state
			       ? o->uplink_set_state(x, obj_name(p, CTL_UPLINK_A_NAME), action, r)
			       : -EOPNOTSUPP;
	case CTL_CMD_SESSION_GET:
		if (p->dump)
			return o->session_dump ? o->session_dump(x, r) : -EOPNOTSUPP;
		return o->session_get ? o->session_get(x, obj_name(p, CTL_SESSION_A_NAME), r)
				      : -EOPNOTSUPP;
	case CTL_CMD_SESSION_START:
		start.profile = obj_name(p, CTL_SESSION_A_PROFILE);
		start.name = obj_name(p, CTL_SESSION_A_NAME);
		start.uplink = obj_name(p, CTL_SESSION_A_UPLINK);
		return o->session_start ? o->session_start(x, &start, r) : -EOPNOTSUPP;
	case CTL_CMD_SESSION_STOP:
		return o->session_stop ? o->session_stop(x, obj_name(p, CTL_SESSION_A_NAME), r)
				       : -EOPNOTSUPP;
	case CTL_CMD_SESSION_RESTART:
		return o->session_restart
			       ? o->session_restart(x, obj_name(p, CTL_SESSION_A_NAME), r)
			       : -EOPNOTSUPP;
	case CTL_CMD_RELOAD:
		return o->reload ? o->reload(x, r) : -EOPNOTSUPP;
	case CTL_CMD_DAEMON_REEXEC:
		return o->reexec ? o->reexec(x, r) : -EOPNOTSUPP;
	}
	return -EOPNOTSUPP;
}

/* For log lines: names come from clients and may hold anything but a NUL. */
static const char *printable(const char *in, char *out, size_t size)
{
	size_t i = 0;

	for (; in && in[i] && i + 1 < size; i++)
		out[i] = in[i] > 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
	return out;
}

/* An audit line for every command that changes something. */
static void log_request(const struct ctl_conn *c, const struct ctl_parsed *p)
{
	static const struct {
		uint16_t type;
		const char *label;
	} shown[] = {
		{ CTL_SESSION_A_NAME, "" },
		{ CTL_SESSION_A_PROFILE, "profile " },
		{ CTL_SESSION_A_UPLINK, "uplink " },
	};
	char line[512], text[CTL_NAME_SIZE];
	size_t off, n;

	if (!cmd_mutates(p->cmd)) {
		log_debug("ctl: uid %u (pid %d): %s", c->cred.uid, (int)c->cred.pid,
			  ctl_cmd_to_string(p->cmd));
		return;
	}
	off = (size_t)snprintf(line, sizeof(line), "%s", ctl_cmd_to_string(p->cmd));
	/* Uplink requests carry only their name, attribute 1 as in sessions. */
	n = p->cmd == CTL_CMD_SESSION_START ? ARRAY_SIZE(shown) : 1;
	for (size_t i = 0; i < n && off < sizeof(line); i++)
		if (obj_name(p, shown[i].type))
			off += (size_t)snprintf(line + off, sizeof(line) - off, " %s%s",
						shown[i].label,
						printable(obj_name(p, shown[i].type), text,
							  sizeof(text)));
	if (p->tb[CTL_A_ACTION] && off < sizeof(line))
		snprintf(line + off, sizeof(line) - off, " %s",
			 ctl_uplink_action_to_string(ctl_attr_u8(p->tb[CTL_A_ACTION])));
	log_info("ctl: uid %u (pid %d): %s", c->cred.uid, (int)c->cred.pid, line);
}

static void log_refusal(struct ctl_server *s, const struct ucred *cred)
{
	gint64 now = g_get_monotonic_time();
	unsigned unlogged = 0;

	if (now - s->refusal_window >= REFUSAL_LOG_WINDOW_US) {
		s->refusal_window = now;
		unlogged = s->refusals_unlogged;
		s->refusals_logged = s->refusals_unlogged = 0;
	}
	if (s->refusals_logged >= REFUSAL_LOG_BURST) {
		s->refusals_unlogged++;
		return;
	}
	s->refusals_logged++;
	if (unlogged)
		log_warn("ctl: %u more requests were refused and not logged", unlogged);
	log_warn("ctl: refused a request from uid %u (pid %d): only root%s%s may use %s",
		 cred->uid, (int)cred->pid, s->have_group ? " and group " : "",
		 s->have_group ? s->group : "", s->path);
}

/* Answers one packet of n bytes (real length `real`, larger when it was cut short). Returns false
 * once c is freed. */
static bool conn_request(struct ctl_conn *c, size_t n, size_t real)
{
	struct ctl_server *s = c->s;
	const struct nlmsghdr *hdr = n >= NLMSG_HDRLEN ? (const void *)s->rbuf : NULL;
	struct ctl_parsed p = {};
	struct ctl_reply *r;
	struct ctl_err err = {};
	int k;

	if (!c->authorised) {
		log_refusal(s, &c->cred);
		r = reply_new(c, hdr, 0, false);
		if (!r) {
			conn_free(c);
			return false;
		}
		ctl_reply_set_error(r, "permission denied: only root%s%s may use cellmuxd",
				    s->have_group ? " and members of group " : "",
				    s->have_group ? s->group : "");
		c->close_after_flush = true;
		return conn_answer(c, r, -EPERM);
	}
	if (real > CTL_MSG_MAX) {
		k = -EMSGSIZE;
		snprintf(err.msg, sizeof(err.msg), "request of %zu bytes, the limit is %d", real,
			 CTL_MSG_MAX);
	} else {
		k = ctl_msg_parse(s->rbuf, n, CTL_DIR_REQUEST, &p, &err);
	}
	r = k < 0 ? reply_new(c, hdr, 0, false) : reply_new(c, p.nlh, p.cmd, p.dump);
	if (!r) {
		conn_free(c);
		return false;
	}
	if (k < 0) {
		log_debug("ctl: pid %d: bad request: %s", (int)c->cred.pid, err.msg);
		snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
		return conn_answer(c, r, k);
	}
	log_request(c, &p);
	r->in_op = true;
	k = dispatch(s, &p, r);
	r->in_op = false;
	if (r->completed) {
		k = r->completion;
	} else if (r->deferred) {
		if (k < 0)
			log_error("ctl: %s deferred and failed; waiting for its completion",
				  ctl_cmd_to_string(p.cmd));
		c->pending = r;
		return conn_update(c);
	}
	return conn_answer(c, r, k);
}

static bool conn_busy(const struct ctl_conn *c)
{
	return c->out || c->pending || c->close_after_flush;
}

/* Reads requests until the connection has an answer waiting (then it reads no more until that is
 * sent: a client that does not read cannot make the daemon queue without bound). Returns false
 * once c is freed. */
static bool conn_read(struct ctl_conn *c)
{
	struct ctl_server *s = c->s;

	for (int i = 0; i < REQUESTS_PER_WAKEUP && !conn_busy(c); i++) {
		ssize_t n = recv(c->fd, s->rbuf, sizeof(s->rbuf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0) {
			/* 0 is the client closing; a zero-length packet reads the same and is no
			 * request either. */
			if (n < 0)
				log_debug("ctl: pid %d: receiving: %m", (int)c->cred.pid);
			conn_free(c);
			return false;
		}
		c->deadline = g_get_monotonic_time() + (gint64)s->idle_ms * 1000;
		if (!conn_request(c, MIN((size_t)n, sizeof(s->rbuf)), (size_t)n))
			return false;
	}
	return true;
}

static gboolean on_conn(gint fd, GIOCondition cond, gpointer data)
{
	struct ctl_conn *c = data;

	if (cond & G_IO_OUT) {
		int k = conn_flush(c);

		if (k < 0) {
			log_debug_errno(k, "ctl: pid %d: sending: %m", (int)c->cred.pid);
			conn_free(c);
			return G_SOURCE_REMOVE;
		}
	}
	if ((cond & G_IO_IN) && !conn_busy(c)) {
		if (!conn_read(c))
			return G_SOURCE_REMOVE;
	} else if (cond & (G_IO_HUP | G_IO_ERR)) {
		conn_free(c);
		return G_SOURCE_REMOVE;
	}
	/* conn_update() may replace this watch by one for another condition; returning CONTINUE
	 * for a source already destroyed is harmless. */
	return conn_update(c) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Points the watch at what the connection waits for now: room to send, a deferred answer (only
 * hang-ups), or the next request, and sets the matching deadline when that changes. Closes the
 * connection once a last answer is out; returns false then. */
static bool conn_update(struct ctl_conn *c)
{
	struct ctl_server *s = c->s;
	GIOCondition want = G_IO_HUP | G_IO_ERR;
	gint64 now = g_get_monotonic_time();

	if (!c->out && c->close_after_flush) {
		conn_free(c);
		return false;
	}
	if (c->out)
		want |= G_IO_OUT;
	else if (!c->pending)
		want |= G_IO_IN;
	if (c->watch && c->watch_cond == want)
		return true;
	/* Waiting for the daemon is not the client's fault: no deadline then. */
	if (want & G_IO_OUT)
		c->deadline = now + (gint64)s->stall_ms * 1000;
	else if (want & G_IO_IN)
		c->deadline = now + (gint64)(c->authorised ? s->idle_ms
							   : MIN(s->idle_ms, s->unauth_ms)) * 1000;
	else
		c->deadline = 0;
	if (c->watch)
		g_source_remove(c->watch);
	c->watch = g_unix_fd_add(c->fd, want, on_conn, c);
	c->watch_cond = want;
	return true;
}

static void conn_free(struct ctl_conn *c)
{
	struct ctl_server *s;

	if (!c)
		return;
	s = c->s;
	if (c->watch)
		g_source_remove(c->watch);
	if (c->pending)
		c->pending->conn = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	if (!c->authorised)
		s->n_unauth--;
	out_clear(c);
	close(c->fd);
	free(c);
	server_update_listener(s);
}

/* Authorisation */

static bool gid_in(gid_t gid, const gid_t *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == gid)
			return true;
	return false;
}

/* The peer's own supplementary groups at connect time (SO_PEERGROUPS, Linux 4.13): covers a
 * process given the group without the user database knowing (systemd SupplementaryGroups=). */
static bool peer_groups_have(int fd, gid_t gid)
{
	gid_t buf[64];
	_cleanup_free_ gid_t *big = NULL;
	socklen_t len = sizeof(buf);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len) == 0)
		return gid_in(gid, buf, len / sizeof(gid_t));
	if (errno != ERANGE || len == 0 || len > 65536 * sizeof(gid_t))
		return false;
	big = malloc(len);
	if (!big || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, big, &len) < 0)
		return false;
	return gid_in(gid, big, len / sizeof(gid_t));
}

/* The peer user's groups in the user database. NSS may sit on a network (LDAP, sssd) and block;
 * it runs only for a non-root peer whose own groups did not already say yes. */
static bool user_groups_have(uid_t uid, gid_t gid)
{
	_cleanup_free_ char *pwbuf = NULL;
	_cleanup_free_ gid_t *groups = NULL;
	struct passwd pw, *pwp = NULL;
	int n = 64;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);

	if (sz <= 0)
		sz = 16384;
	pwbuf = malloc(sz);
	if (!pwbuf || getpwuid_r(uid, &pw, pwbuf, sz, &pwp) != 0 || !pwp)
		return false;
	for (int tries = 0; tries < 4; tries++) {
		int want = n;

		free(groups);
		groups = malloc(sizeof(gid_t) * (size_t)n);
		if (!groups)
			return false;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) >= 0)
			return gid_in(gid, groups, (size_t)n);
		if (n <= want)
			n = want * 4;
	}
	return false;
}

static bool peer_allowed(const struct ctl_server *s, int fd, const struct ucred *cred)
{
	if (cred->uid == 0)
		return true;
	if (!s->have_group)
		return false;
	return cred->gid == s->gid || peer_groups_have(fd, s->gid) ||
	       user_groups_have(cred->uid, s->gid);
}

/* Listening */

static void conn_new(struct ctl_server *s, int fd)
{
	struct ctl_conn *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int sndbuf = 4 * CTL_MSG_MAX;
	bool ok;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("ctl: SO_PEERCRED: %m");
		close(fd);
		return;
	}
	ok = peer_allowed(s, fd, &cred);
	if (!ok && s->n_unauth >= UNAUTH_MAX) {
		log_debug("ctl: uid %u (pid %d) refused without answer: too many refused peers",
			  cred.uid, (int)cred.pid);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	/* Room for a few full packets; above net.core.wmem_max only root gets it, as we are. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	c->s = s;
	c->fd = fd;
	c->cred = cred;
	c->authorised = ok;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	if (!ok)
		s->n_unauth++;
	conn_update(c);
}

static gboolean on_sweep(gpointer data)
{
	struct ctl_server *s = data;
	gint64 now = g_get_monotonic_time();
	struct ctl_conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (!c->deadline || now < c->deadline)
			continue;
		if (c->out)
			log_warn("ctl: closing the connection of pid %d: it reads no answers",
				 (int)c->cred.pid);
		else
			log_debug("ctl: closing the idle connection of pid %d", (int)c->cred.pid);
		conn_free(c);
	}
	if (s->conns)
		return G_SOURCE_CONTINUE;
	s->sweep = 0;
	return G_SOURCE_REMOVE;
}

static gboolean on_listen(gint fd, GIOCondition cond, gpointer data);

static gboolean on_accept_retry(gpointer data)
{
	struct ctl_server *s = data;

	s->accept_retry = 0;
	server_update_listener(s);
	return G_SOURCE_REMOVE;
}

/* Watches the listener while there is room for a connection; a full server leaves clients in
 * the backlog rather than turning them away. Also keeps the timeout sweep running while there are
 * connections. */
static void server_update_listener(struct ctl_server *s)
{
	bool want = s->n_conns < s->max_conns && !s->accept_retry;

	if (s->freeing)
		return;
	if (want && !s->listen_watch)
		s->listen_watch = g_unix_fd_add(s->fd, G_IO_IN, on_listen, s);
	else if (!want && s->listen_watch) {
		g_source_remove(s->listen_watch);
		s->listen_watch = 0;
	}
	if (s->conns && !s->sweep) {
		unsigned every = MIN(MIN(s->idle_ms, s->stall_ms), s->unauth_ms) / 4;

		s->sweep = g_timeout_add(CLAMP(every, 10, 1000), on_sweep, s);
	}
}

static gboolean on_listen(gint fd, GIOCondition cond, gpointer data)
{
	struct ctl_server *s = data;

	for (int i = 0; i < ACCEPTS_PER_WAKEUP && s->n_conns < s->max_conns; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd >= 0) {
			conn_new(s, cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN)
			break;
		/* Out of descriptors or memory: the listener stays readable, so stop watching
		 * it for a moment instead of spinning. */
		log_warn("ctl: accept: %m; pausing for 1 s");
		if (s->listen_watch) {
			g_source_remove(s->listen_watch);
			s->listen_watch = 0;
		}
		s->accept_retry = g_timeout_add(1000, on_accept_retry, s);
		return G_SOURCE_REMOVE;
	}
	/* server_update_listener() may have removed this very watch: it is then gone already, and
	 * returning CONTINUE for a destroyed source is harmless. */
	server_update_listener(s);
	return G_SOURCE_CONTINUE;
}

/* Is somebody listening at path? A socket left by a daemon that died refuses connections. */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN;
}

static int make_parent(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	const char *dir;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

static int server_listen(struct ctl_server *s, mode_t mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct stat st;
	int k;

	k = make_parent(s->path);
	if (k < 0)
		return log_error_errno(k, "ctl: making the directory of %s: %m", s->path);
	if (lstat(s->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return log_error_errno(-EEXIST, "ctl: %s exists and is no socket", s->path);
		if (socket_alive(s->path))
			return log_error_errno(-EADDRINUSE, "ctl: %s is in use (another cellmuxd?)",
					       s->path);
		if (unlink(s->path) < 0 && errno != ENOENT)
			return log_error_errno(negative_errno(), "ctl: removing stale %s: %m",
					       s->path);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(negative_errno(), "ctl: socket: %m");
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return log_error_errno(negative_errno(), "ctl: bind %s: %m", s->path);
	/* Owner and mode before listen(): until then a connect() is refused, so nobody gets in
	 * through the umask-made mode. */
	if ((s->have_group && chown(s->path, (uid_t)-1, s->gid) < 0) || chmod(s->path, mode) < 0 ||
	    lstat(s->path, &st) < 0) {
		k = log_error_errno(negative_errno(), "ctl: setting owner and mode of %s: %m",
				    s->path);
		unlink(s->path);
		return k;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		k = log_error_errno(negative_errno(), "ctl: listen %s: %m", s->path);
		unlink(s->path);
		return k;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->fd = TAKE_FD(fd);
	return 0;
}

static int resolve_group(struct ctl_server *s, const char *group)
{
	_cleanup_free_ char *buf = NULL;
	struct group gr, *grp = NULL;
	long sz = sysconf(_SC_GETGR_R_SIZE_MAX);
	int k;

	if (!group[0])
		return 0;
	if (strlen(group) >= sizeof(s->group))
		return -EINVAL;
	snprintf(s->group, sizeof(s->group), "%s", group);
	/* Groups with many members need more than the suggested size. */
	for (sz = sz > 0 ? sz : 16384; sz <= (1 << 24); sz *= 4) {
		free(buf);
		buf = malloc(sz);
		if (!buf)
			return -ENOMEM;
		k = getgrnam_r(group, &gr, buf, sz, &grp);
		if (k != ERANGE)
			break;
	}
	if (k != 0 && k != ENOENT && k != ESRCH)
		return log_error_errno(-k, "ctl: looking up group %s: %m", group);
	if (!grp) {
		log_notice("ctl: group %s does not exist; %s is for root only", group, s->path);
		return 0;
	}
	s->gid = grp->gr_gid;
	s->have_group = true;
	return 0;
}

int ctl_server_new(const struct ctl_server_params *params, const struct ctl_ops *ops, void *ctx,
		   struct ctl_server **ret)
{
	static const struct ctl_server_params defaults = {};
	const struct ctl_server_params *p = params ? params : &defaults;
	const char *path = p->path ? p->path : CTL_SOCKET_PATH;
	struct ctl_server *s;
	mode_t mode;
	int k;

	if (!ops)
		return -EINVAL;
	if (!path[0] || strlen(path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->ops = ops;
	s->ctx = ctx;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->max_conns = p->max_conns ? p->max_conns : CTL_SERVER_MAX_CONNS;
	s->idle_ms = p->idle_ms ? p->idle_ms : CTL_SERVER_IDLE_MS;
	s->stall_ms = p->stall_ms ? p->stall_ms : CTL_SERVER_STALL_MS;
	s->unauth_ms = UNAUTH_MS;
	k = resolve_group(s, p->group ? p->group : CTL_GROUP_DEFAULT);
	if (k < 0)
		goto fail;
	mode = p->mode ? p->mode : s->have_group ? 0660 : 0600;
	k = server_listen(s, mode);
	if (k < 0)
		goto fail;
	server_update_listener(s);
	log_debug("ctl: listening at %s (mode %04o%s%s)", s->path, (unsigned)mode,
		  s->have_group ? ", group " : ", root only", s->have_group ? s->group : "");
	*ret = s;
	return 0;
fail:
	free(s);
	return k;
}

void ctl_server_free(struct ctl_server *s)
{
	struct stat st;

	if (!s)
		return;
	s->freeing = true;
	while (s->conns)
		conn_free(s->conns);
	if (s->listen_watch)
		g_source_remove(s->listen_watch);
	if (s->accept_retry)
		g_source_remove(s->accept_retry);
	if (s->sweep)
		g_source_remove(s->sweep);
	/* Only our own socket: a newer daemon may have replaced it meanwhile. */
	if (lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	close(s->fd);
	free(s);
}

unsigned ctl_server_connections(const struct ctl_server *s)
{
	return s ? s->n_conns : 0;
}
