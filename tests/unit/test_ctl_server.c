/* test_ctl_server.c — daemon/ctl.c on this process's main loop, fake ops, a real socket: answers,
 * dumps, errors, deferral, bad and huge packets, floods, slow readers, limits, SO_PEERCRED. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <grp.h>
#include <libmnl/libmnl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/unit_skip.h"

#include "common/log.h"
#include "daemon/ctl.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NOBODY 65534

/* The fake daemon. */
struct fake {
	unsigned calls[CTL_CMD_MAX + 1];
	unsigned n_sessions;
	uint8_t last_action;
	bool defer_stop, complete_inside, wrong_object;
	struct ctl_reply *deferred;
};

static int fake_status(void *ctx, struct ctl_reply *r)
{
	struct fake *f = ctx;
	struct ctl_status_info st = { .version = "test", .pid = (uint32_t)getpid() };

	f->calls[CTL_CMD_STATUS]++;
	st.sessions = f->n_sessions;
	return ctl_reply_status(r, &st);
}

static void fake_uplink(struct ctl_uplink_info *u, const char *name)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", name);
	snprintf(u->driver, sizeof(u->driver), "netdev");
	u->state = CTL_UPLINK_UP;
	u->capacity = 16;
}

static int fake_uplink_dump(void *ctx, struct ctl_reply *r)
{
	static const char *const names[] = { "lte1", "lte2", "lte3" };
	struct fake *f = ctx;
	struct ctl_uplink_info u;

	f->calls[CTL_CMD_UPLINK_GET]++;
	for (size_t i = 0; i < N(names); i++) {
		fake_uplink(&u, names[i]);
		ctl_reply_uplink(r, &u);
	}
	return 0;
}

static int fake_uplink_get(void *ctx, const char *name, struct ctl_reply *r)
{
	struct fake *f = ctx;
	struct ctl_uplink_info u;

	f->calls[CTL_CMD_UPLINK_GET]++;
	if (strcmp(name, "lte1")) {
		ctl_reply_set_error(r, "no uplink '%s'", name);
		return -ENOENT;
	}
	fake_uplink(&u, name);
	return ctl_reply_uplink(r, &u);
}

static int fake_uplink_set_state(void *ctx, const char *name, enum ctl_uplink_action action,
				 struct ctl_reply *r)
{
	struct fake *f = ctx;

	f->calls[CTL_CMD_UPLINK_SET_STATE]++;
	f->last_action = (uint8_t)action;
	return 0;
}

static void fake_session(struct ctl_session_info *s, unsigned i)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "s%u", i);
	snprintf(s->profile, sizeof(s->profile), "probe");
	snprintf(s->uplink, sizeof(s->uplink), "lte%u", i % 3 + 1);
	s->state = CTL_SESSION_RUNNING;
	s->pid = 1000 + i;
	s->have_status = true;
	snprintf(s->status.w.state, sizeof(s->status.w.state), "ok");
	s->status.w.n_fields = 2;
	s->status.w.fields[0] = (struct worker_status_field){ "url", "http://198.18.0.1/ip" };
	snprintf(s->status.w.fields[1].key, sizeof(s->status.w.fields[1].key), "body");
	snprintf(s->status.w.fields[1].value, sizeof(s->status.w.fields[1].value), "%0250u", i);
}

static int fake_session_dump(void *ctx, struct ctl_reply *r)
{
	struct fake *f = ctx;
	struct ctl_session_info s;

	f->calls[CTL_CMD_SESSION_GET]++;
	for (unsigned i = 0; i < f->n_sessions; i++) {
		fake_session(&s, i);
		ctl_reply_session(r, &s);
	}
	return 0;
}

static int fake_session_get(void *ctx, const char *name, struct ctl_reply *r)
{
	struct fake *f = ctx;
	struct ctl_session_info s;
	struct ctl_uplink_info u;

	f->calls[CTL_CMD_SESSION_GET]++;
	if (f->wrong_object) {
		fake_uplink(&u, "lte1");
		ctl_reply_uplink(r, &u);
		return 0;
	}
	if (strcmp(name, "s1"))
		return -ENOENT;
	fake_session(&s, 1);
	return ctl_reply_session(r, &s);
}

static int fake_session_start(void *ctx, const struct ctl_session_start *req,
			      struct ctl_reply *r)
{
	struct fake *f = ctx;
	struct ctl_session_info s;

	f->calls[CTL_CMD_SESSION_START]++;
	fake_session(&s, 7);
	snprintf(s.name, sizeof(s.name), "%s", req->name ? req->name : "auto-1");
	snprintf(s.profile, sizeof(s.profile), "%s", req->profile);
	snprintf(s.uplink, sizeof(s.uplink), "%s", req->uplink ? req->uplink : "lte1");
	return ctl_reply_session(r, &s);
}

static int fake_session_stop(void *ctx, const char *name, struct ctl_reply *r)
{
	struct fake *f = ctx;

	f->calls[CTL_CMD_SESSION_STOP]++;
	if (f->defer_stop)
		f->deferred = ctl_reply_defer(r);
	if (f->complete_inside) {
		ctl_reply_complete(f->deferred, 0);
		f->deferred = NULL;
	}
	return 0;
}

static const struct ctl_ops fake_ops = {
	.status = fake_status,
	.uplink_dump = fake_uplink_dump,
	.uplink_get = fake_uplink_get,
	.uplink_set_state = fake_uplink_set_state,
	.session_dump = fake_session_dump,
	.session_get = fake_session_get,
	.session_start = fake_session_start,
	.session_stop = fake_session_stop,
	/* session_restart and reload left out: -EOPNOTSUPP */
};

/* Fixture */

struct fix {
	char dir[64];
	char path[100]; /* fits sun_path */
	struct fake f;
	struct ctl_server *s;
};

static int server_start(struct fix *x, const struct ctl_server_params *params)
{
	struct ctl_server_params p = params ? *params : (struct ctl_server_params){};
	struct group *g;

	/* As root: group root. Otherwise our own group, so the peer check lets us in. */
	if (!p.group) {
		g = getgrgid(getegid());
		p.group = g ? g->gr_name : "";
	}
	p.path = x->path;
	return ctl_server_new(&p, &fake_ops, &x->f, &x->s);
}

static int setup_dir(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "/tmp/ctl-test.XXXXXX");
	if (!mkdtemp(x->dir) || chmod(x->dir, 0755) < 0)
		return -1;
	snprintf(x->path, sizeof(x->path), "%s/run/ctl.sock", x->dir);
	*state = x;
	return 0;
}

static int setup(void **state)
{
	struct ctl_server_params p = { .stall_ms = 300, .idle_ms = 5000 };
	struct fix *x;

	if (setup_dir(state) < 0)
		return -1;
	x = *state;
	return server_start(x, &p) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;
	char cmd[200];

	ctl_server_free(x->s);
	/* Drain what freeing left for the loop (removed sources are freed there). */
	while (g_main_context_iteration(NULL, FALSE))
		;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
	if (system(cmd) != 0)
		return -1;
	free(x);
	return 0;
}

/* Runs the loop until done(data) or timeout_ms; returns done's last answer. */
static bool pump_until(bool (*done)(void *), void *data, int timeout_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	for (;;) {
		while (g_main_context_iteration(NULL, FALSE))
			;
		if (done && done(data))
			return true;
		if (g_get_monotonic_time() >= end)
			return false;
		g_usleep(200);
	}
}

static void pump(int ms)
{
	pump_until(NULL, NULL, ms);
}

static bool fd_readable(void *data)
{
	struct pollfd p = { .fd = *(int *)data, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

static int client(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static size_t build(void *buf, uint8_t cmd, uint16_t flags, uint32_t seq, uint16_t obj,
		    const char *name)
{
	struct ctl_msg m;
	struct nlattr *n;
	size_t len;

	ctl_msg_start(&m, buf, 4096, NLM_F_REQUEST | flags, seq, cmd);
	if (obj) {
		n = ctl_msg_nest_start(&m, obj);
		ctl_msg_put_str(&m, 1, name); /* NAME is attribute 1 of uplinks and sessions */
		ctl_msg_nest_end(&m, n);
	}
	assert_int_equal(ctl_msg_finish(&m, &len), 0);
	return len;
}

static void send_req(int fd, uint8_t cmd, uint16_t flags, uint32_t seq, uint16_t obj,
		     const char *name)
{
	uint32_t buf[1024];
	size_t len = build(buf, cmd, flags, seq, obj, name);

	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* What came back for one request. */
struct answer {
	unsigned packets, objects, multi;
	bool done, acked, eof;
	int error;
	uint32_t seq;
	char msg[CTL_ERRMSG_SIZE];
	char first_name[CTL_NAME_SIZE];
};

static uint32_t rbuf[CTL_MSG_MAX / 4];

/* Reads packets (running the loop meanwhile) until the answer to seq is complete: an ack, an error,
 * NLMSG_DONE, or (want_ack false) one object. */
static void collect(int fd, uint32_t seq, bool want_ack, struct answer *a, int timeout_ms)
{
	memset(a, 0, sizeof(*a));
	while (!a->done) {
		const struct nlmsghdr *nlh;
		ssize_t n;
		int len;

		assert_true(pump_until(fd_readable, &fd, timeout_ms));
		n = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT | MSG_TRUNC);
		if (n == 0) {
			a->eof = true;
			return;
		}
		assert_true(n > 0);
		assert_true(n <= CTL_MSG_MAX);
		a->packets++;
		len = (int)n;
		for (nlh = (const void *)rbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			struct ctl_parsed p;
			const char *msg;

			a->seq = nlh->nlmsg_seq;
			assert_true(nlh->nlmsg_seq == seq || nlh->nlmsg_seq == 0);
			if (nlh->nlmsg_type == NLMSG_DONE) {
				a->done = true;
			} else if (nlh->nlmsg_type == NLMSG_ERROR) {
				assert_int_equal(ctl_msg_parse_error(nlh, &a->error, &msg), 0);
				if (msg)
					snprintf(a->msg, sizeof(a->msg), "%s", msg);
				a->acked = a->error == 0;
				a->done = true;
			} else {
				assert_int_equal(ctl_msg_parse(nlh, nlh->nlmsg_len, CTL_DIR_ANSWER,
							       &p, NULL),
						 0);
				if (a->objects++ == 0 && p.otb[1])
					snprintf(a->first_name, sizeof(a->first_name), "%s",
						 ctl_attr_str(p.otb[1]));
				if (nlh->nlmsg_flags & NLM_F_MULTI)
					a->multi++;
				if (!want_ack)
					a->done = true;
			}
		}
		assert_int_equal(len, 0);
	}
}

static void expect_error(int fd, uint32_t seq, int error)
{
	struct answer a;

	collect(fd, seq, true, &a, 2000);
	assert_int_equal(a.error, error);
	assert_int_equal(a.objects, 0);
}

static void expect_status(int fd, uint32_t seq)
{
	struct answer a;

	send_req(fd, CTL_CMD_STATUS, NLM_F_ACK, seq, 0, NULL);
	collect(fd, seq, true, &a, 2000);
	assert_int_equal(a.error, 0);
	assert_true(a.acked);
	assert_int_equal(a.objects, 1);
}

/* Tests */

static void test_request_gets_object_then_ack(void **state)
{
	struct fix *x = *state;
	struct stat st;
	struct answer a;
	int fd = client(x->path);

	assert_int_equal(stat(x->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getegid());

	expect_status(fd, 1);
	assert_int_equal(x->f.calls[CTL_CMD_STATUS], 1);

	/* Without NLM_F_ACK: the object alone, and the connection goes on. */
	send_req(fd, CTL_CMD_STATUS, 0, 2, 0, NULL);
	collect(fd, 2, false, &a, 2000);
	assert_int_equal(a.objects, 1);
	assert_int_equal(a.multi, 0);
	send_req(fd, CTL_CMD_UPLINK_GET, NLM_F_ACK, 3, CTL_A_UPLINK, "lte1");
	collect(fd, 3, true, &a, 2000);
	assert_true(a.acked);
	assert_int_equal(a.objects, 1);
	assert_string_equal(a.first_name, "lte1");
	close(fd);
}

static void test_dump_spans_packets_and_ends_with_done(void **state)
{
	struct fix *x = *state;
	struct answer a;
	int fd = client(x->path);

	x->f.n_sessions = 1000;
	send_req(fd, CTL_CMD_SESSION_GET, NLM_F_DUMP, 5, 0, NULL);
	collect(fd, 5, true, &a, 5000);
	assert_true(a.done);
	assert_int_equal(a.error, 0);
	assert_int_equal(a.objects, 1000);
	assert_int_equal(a.multi, 1000);
	assert_true(a.packets > 1); /* ~400 KiB cannot go in one 64 KiB packet */
	assert_string_equal(a.first_name, "s0");

	/* An empty dump is DONE alone. */
	x->f.n_sessions = 0;
	send_req(fd, CTL_CMD_SESSION_GET, NLM_F_DUMP, 6, 0, NULL);
	collect(fd, 6, true, &a, 2000);
	assert_true(a.done);
	assert_int_equal(a.objects, 0);
	close(fd);
}

static void test_errors_carry_errno_and_reason(void **state)
{
	struct fix *x = *state;
	struct answer a;
	int fd = client(x->path);

	send_req(fd, CTL_CMD_UPLINK_GET, NLM_F_ACK, 1, CTL_A_UPLINK, "lte9");
	collect(fd, 1, true, &a, 2000);
	assert_int_equal(a.error, -ENOENT);
	assert_string_equal(a.msg, "no uplink 'lte9'");

	/* An error goes back without NLM_F_ACK too. */
	send_req(fd, CTL_CMD_SESSION_GET, 0, 2, CTL_A_SESSION, "nope");
	expect_error(fd, 2, -ENOENT);

	/* Ops the daemon leaves out. */
	send_req(fd, CTL_CMD_RELOAD, NLM_F_ACK, 3, 0, NULL);
	expect_error(fd, 3, -EOPNOTSUPP);

	/* An op that answers with the wrong object is refused, not passed on. */
	x->f.wrong_object = true;
	send_req(fd, CTL_CMD_SESSION_GET, NLM_F_ACK, 4, CTL_A_SESSION, "s1");
	expect_error(fd, 4, -EINVAL);
	expect_status(fd, 5);
	close(fd);
}

static void test_start_and_set_state(void **state)
{
	struct fix *x = *state;
	uint32_t buf[1024];
	struct ctl_msg m;
	struct nlattr *n;
	struct answer a;
	size_t len;
	int fd = client(x->path);

	ctl_msg_start(&m, buf, sizeof(buf), NLM_F_REQUEST | NLM_F_ACK, 1, CTL_CMD_SESSION_START);
	n = ctl_msg_nest_start(&m, CTL_A_SESSION);
	ctl_msg_put_str(&m, CTL_SESSION_A_PROFILE, "probe");
	ctl_msg_put_str(&m, CTL_SESSION_A_NAME, "mine");
	ctl_msg_nest_end(&m, n);
	assert_int_equal(ctl_msg_finish(&m, &len), 0);
	assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
	collect(fd, 1, true, &a, 2000);
	assert_true(a.acked);
	assert_string_equal(a.first_name, "mine");

	ctl_msg_start(&m, buf, sizeof(buf), NLM_F_REQUEST | NLM_F_ACK, 2,
		      CTL_CMD_UPLINK_SET_STATE);
	n = ctl_msg_nest_start(&m, CTL_A_UPLINK);
	ctl_msg_put_str(&m, CTL_UPLINK_A_NAME, "lte1");
	ctl_msg_nest_end(&m, n);
	ctl_msg_put_u8(&m, CTL_A_ACTION, CTL_UPLINK_ACTION_DRAIN);
	assert_int_equal(ctl_msg_finish(&m, &len), 0);
	assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
	collect(fd, 2, true, &a, 2000);
	assert_true(a.acked);
	assert_int_equal(a.objects, 0);
	assert_int_equal(x->f.last_action, CTL_UPLINK_ACTION_DRAIN);

	/* Action 0 passes the policy (a u8 below the limit) but means nothing. */
	((uint8_t *)buf)[len - 4] = CTL_UPLINK_ACTION_UNSPEC;
	assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
	expect_error(fd, 2, -EINVAL);
	close(fd);
}

static void test_malformed_packets_get_errors_and_service_goes_on(void **state)
{
	struct fix *x = *state;
	uint32_t buf[1024];
	size_t len;
	int fd = client(x->path);

	/* 3 bytes: not even a header, so the error has seq 0 */
	assert_int_equal(send(fd, "\x01\x02\x03", 3, 0), 3);
	expect_error(fd, 0, -EBADMSG);

	/* nlmsg_len past the end */
	len = build(buf, CTL_CMD_STATUS, NLM_F_ACK, 10, 0, NULL);
	buf[0] = 4000;
	assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
	expect_error(fd, 10, -EBADMSG);

	/* an attribute length past the end */
	len = build(buf, CTL_CMD_SESSION_STOP, NLM_F_ACK, 11, CTL_A_SESSION, "s1");
	((uint16_t *)buf)[10] = 0x4000;
	assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
	expect_error(fd, 11, -EBADMSG);

	/* wrong type for an attribute: a string where the action's u8 goes */
	len = build(buf, CTL_CMD_UPLINK_SET_STATE, NLM_F_ACK, 12, CTL_A_UPLINK, "lte1");
	{
		struct nlattr *a = (struct nlattr *)((uint8_t *)buf + len);

		a->nla_type = CTL_A_ACTION;
		a->nla_len = 4 + 6;
		memcpy(a + 1, "drain\0\0", 8);
		len += 12;
		buf[0] = (uint32_t)len;
	}
	assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
	expect_error(fd, 12, -EINVAL);

	/* an unknown command */
	len = build(buf, 99, NLM_F_ACK, 13, 0, NULL);
	assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
	expect_error(fd, 13, -EOPNOTSUPP);

	/* two messages in one packet */
	len = build(buf, CTL_CMD_STATUS, NLM_F_ACK, 14, 0, NULL);
	memcpy((uint8_t *)buf + len, buf, len);
	assert_int_equal(send(fd, buf, 2 * len, 0), (ssize_t)(2 * len));
	expect_error(fd, 14, -EBADMSG);

	expect_status(fd, 15);
	assert_int_equal(x->f.calls[CTL_CMD_STATUS], 1);
	assert_int_equal(x->f.calls[CTL_CMD_SESSION_STOP], 0);
	assert_int_equal(x->f.calls[CTL_CMD_UPLINK_SET_STATE], 0);
	close(fd);
}

static void test_oversized_packet_is_refused(void **state)
{
	struct fix *x = *state;
	size_t big = 1 << 20;
	uint8_t *buf = calloc(1, big);
	int fd = client(x->path), other = client(x->path);
	int sndbuf = 4 << 20;
	ssize_t n;

	assert_non_null(buf);
	build(buf, CTL_CMD_STATUS, NLM_F_ACK, 21, 0, NULL);
	/* A 1 MiB packet needs a send buffer beyond net.core.wmem_max: root may force one. If the
	 * kernel refuses the packet here already, send the largest one it takes. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	n = send(fd, buf, big, MSG_DONTWAIT);
	if (n < 0) {
		assert_int_equal(errno, EMSGSIZE);
		big = 150000;
		n = send(fd, buf, big, MSG_DONTWAIT);
	}
	assert_int_equal(n, (ssize_t)big);
	expect_error(fd, 21, -EMSGSIZE);
	/* Both the sender and everyone else are still served. */
	expect_status(other, 22);
	expect_status(fd, 23);
	free(buf);
	close(fd);
	close(other);
}

static void test_empty_packet_closes_cleanly(void **state)
{
	struct fix *x = *state;
	struct answer a;
	int fd = client(x->path), other = client(x->path);

	expect_status(fd, 1);
	assert_int_equal(send(fd, "", 0, 0), 0);
	collect(fd, 0, true, &a, 2000);
	assert_true(a.eof);
	expect_status(other, 2);
	close(fd);
	close(other);
}

/* 10,000 requests as fast as the socket takes them, the answers read as they come: all answered,
 * in order, each with its object and ack. */
static void test_flood_of_ten_thousand_requests(void **state)
{
	struct fix *x = *state;
	const uint32_t total = 10000;
	uint32_t sent = 0, acked = 0, objects = 0, req[256];
	gint64 end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
	size_t len = build(req, CTL_CMD_STATUS, NLM_F_ACK, 0, 0, NULL);
	int fd = client(x->path);

	while (acked < total) {
		ssize_t n;

		assert_true(g_get_monotonic_time() < end);
		while (sent < total) {
			((struct nlmsghdr *)req)->nlmsg_seq = sent + 1;
			if (send(fd, req, len, MSG_DONTWAIT) < 0) {
				assert_int_equal(errno, EAGAIN);
				break;
			}
			sent++;
		}
		while (g_main_context_iteration(NULL, FALSE))
			;
		while ((n = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT)) > 0) {
			const struct nlmsghdr *nlh;
			int l = (int)n;

			for (nlh = (const void *)rbuf; mnl_nlmsg_ok(nlh, l);
			     nlh = mnl_nlmsg_next(nlh, &l)) {
				if (nlh->nlmsg_type == CTL_NLMSG_TYPE) {
					assert_int_equal(nlh->nlmsg_seq, acked + 1);
					objects++;
					continue;
				}
				assert_int_equal(nlh->nlmsg_type, NLMSG_ERROR);
				assert_int_equal(((struct nlmsgerr *)NLMSG_DATA(nlh))->error, 0);
				assert_int_equal(nlh->nlmsg_seq, ++acked);
			}
		}
	}
	assert_int_equal(objects, total);
	assert_int_equal(x->f.calls[CTL_CMD_STATUS], total);
	close(fd);
}

struct conns {
	struct ctl_server *s;
	unsigned want;
};

static bool conns_are(void *data)
{
	struct conns *c = data;

	return ctl_server_connections(c->s) == c->want;
}

/* A client that sends and never reads: the server stops reading it once its answers back up,
 * keeps serving others meanwhile, and closes it after stall_ms. */
static void test_slow_reader_is_dropped_others_served(void **state)
{
	struct fix *x = *state;
	uint32_t req[256];
	size_t len = build(req, CTL_CMD_SESSION_GET, NLM_F_DUMP, 1, 0, NULL);
	int hog = client(x->path), fd = client(x->path);
	struct conns c = { x->s, 1 };
	gint64 t0;
	unsigned sent = 0;

	x->f.n_sessions = 200;
	/* Until the hog's sends block for a while: the server has stopped reading it. */
	for (int blocked = 0; blocked < 5;) {
		unsigned before = sent;

		while (send(hog, req, len, MSG_DONTWAIT) > 0)
			sent++;
		blocked = sent == before ? blocked + 1 : 0;
		pump(5);
	}
	assert_true(sent > 0);
	assert_int_equal(ctl_server_connections(x->s), 2);
	/* Nothing waits on the hog: another client is answered at once. */
	t0 = g_get_monotonic_time();
	expect_status(fd, 2);
	assert_true(g_get_monotonic_time() - t0 < G_USEC_PER_SEC / 2);
	/* The hog goes after stall_ms (300 here); the idle client stays. */
	assert_true(pump_until(conns_are, &c, 3000));
	expect_status(fd, 3);
	close(fd);
	/* What it got before being cut off is whole packets, then end of file. The requests it
	 * left unread make the kernel report ECONNRESET once, first. */
	for (int resets = 0;;) {
		ssize_t n = recv(hog, rbuf, sizeof(rbuf), MSG_DONTWAIT);

		if (n < 0 && errno == ECONNRESET && resets++ == 0)
			continue;
		if (n == 0)
			break;
		assert_true(n > 0);
		assert_true(n <= CTL_MSG_MAX);
		assert_int_equal(((struct nlmsghdr *)rbuf)->nlmsg_type, CTL_NLMSG_TYPE);
	}
	close(hog);
}

static void test_connection_limit_queues_the_rest(void **state)
{
	struct ctl_server_params p = { .max_conns = 4 };
	struct fix *x = *state;
	int fds[4], late;
	struct answer a;

	ctl_server_free(x->s);
	assert_int_equal(server_start(x, &p), 0);
	for (size_t i = 0; i < N(fds); i++) {
		fds[i] = client(x->path);
		expect_status(fds[i], (uint32_t)i + 1);
	}
	late = client(x->path); /* in the backlog */
	send_req(late, CTL_CMD_STATUS, NLM_F_ACK, 9, 0, NULL);
	assert_false(pump_until(fd_readable, &late, 300));
	assert_int_equal(ctl_server_connections(x->s), 4);
	close(fds[0]);
	collect(late, 9, true, &a, 2000);
	assert_true(a.acked);
	for (size_t i = 1; i < N(fds); i++)
		close(fds[i]);
	close(late);
}

static void test_idle_connection_is_closed(void **state)
{
	struct ctl_server_params p = { .idle_ms = 100 };
	struct fix *x = *state;
	struct answer a;
	int fd;

	ctl_server_free(x->s);
	assert_int_equal(server_start(x, &p), 0);
	fd = client(x->path);
	expect_status(fd, 1);
	collect(fd, 0, true, &a, 2000);
	assert_true(a.eof);
	assert_int_equal(ctl_server_connections(x->s), 0);
	close(fd);
}

static void test_deferred_answer_waits_and_orders(void **state)
{
	struct fix *x = *state;
	struct answer a;
	int fd = client(x->path);

	x->f.defer_stop = true;
	send_req(fd, CTL_CMD_SESSION_STOP, NLM_F_ACK, 1, CTL_A_SESSION, "s1");
	send_req(fd, CTL_CMD_STATUS, NLM_F_ACK, 2, 0, NULL);
	assert_false(pump_until(fd_readable, &fd, 200));
	assert_non_null(x->f.deferred);
	/* The connection reads nothing while its request is open. */
	assert_int_equal(x->f.calls[CTL_CMD_STATUS], 0);
	ctl_reply_complete(x->f.deferred, 0);
	x->f.deferred = NULL;
	collect(fd, 1, true, &a, 2000);
	assert_true(a.acked);
	collect(fd, 2, true, &a, 2000);
	assert_true(a.acked);
	assert_int_equal(a.objects, 1);

	/* Deferred and failed, with a reason. */
	send_req(fd, CTL_CMD_SESSION_STOP, NLM_F_ACK, 3, CTL_A_SESSION, "s1");
	assert_false(pump_until(fd_readable, &fd, 50));
	ctl_reply_set_error(x->f.deferred, "worker %s would not stop", "s1");
	ctl_reply_complete(x->f.deferred, -ETIMEDOUT);
	x->f.deferred = NULL;
	collect(fd, 3, true, &a, 2000);
	assert_int_equal(a.error, -ETIMEDOUT);
	assert_string_equal(a.msg, "worker s1 would not stop");

	/* Completed before the op even returned. */
	x->f.complete_inside = true;
	send_req(fd, CTL_CMD_SESSION_STOP, NLM_F_ACK, 4, CTL_A_SESSION, "s1");
	collect(fd, 4, true, &a, 2000);
	assert_true(a.acked);
	close(fd);
}

static void test_deferred_answer_outlives_client_and_server(void **state)
{
	struct fix *x = *state;
	struct conns c = { x->s, 0 };
	int fd = client(x->path);

	x->f.defer_stop = true;
	send_req(fd, CTL_CMD_SESSION_STOP, NLM_F_ACK, 1, CTL_A_SESSION, "s1");
	pump(50);
	assert_non_null(x->f.deferred);
	close(fd);
	assert_true(pump_until(conns_are, &c, 2000));
	ctl_reply_complete(x->f.deferred, 0); /* goes nowhere, frees */
	x->f.deferred = NULL;

	fd = client(x->path);
	send_req(fd, CTL_CMD_SESSION_STOP, NLM_F_ACK, 2, CTL_A_SESSION, "s1");
	pump(50);
	assert_non_null(x->f.deferred);
	ctl_server_free(x->s);
	x->s = NULL;
	ctl_reply_complete(x->f.deferred, 0);
	x->f.deferred = NULL;
	close(fd);
}

static void test_socket_path_rules(void **state)
{
	struct fix *x = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_server *other;
	struct ctl_server_params p = { .path = x->path };
	char longpath[200];
	struct stat st;
	int fd;

	/* somebody listens there */
	assert_int_equal(ctl_server_new(&p, &fake_ops, &x->f, &other), -EADDRINUSE);
	/* freeing removes the socket */
	ctl_server_free(x->s);
	x->s = NULL;
	assert_int_equal(stat(x->path, &st), -1);
	/* a stale socket (bound, nobody listening) is replaced */
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", x->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(server_start(x, NULL), 0);
	/* a socket replaced behind our back is not ours to remove */
	assert_int_equal(unlink(x->path), 0);
	fd = open(x->path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	ctl_server_free(x->s);
	x->s = NULL;
	assert_int_equal(stat(x->path, &st), 0);
	/* anything else at the path is refused */
	assert_int_equal(server_start(x, NULL), -EEXIST);
	unlink(x->path);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	p.path = longpath;
	assert_int_equal(ctl_server_new(&p, &fake_ops, &x->f, &other), -ENAMETOOLONG);
	assert_int_equal(server_start(x, NULL), 0);
}

/* Authorisation: a forked client drops to uid nobody with the given groups, connects and asks for
 * the status. Returns the errno of the answer (0: served), or 1000 + reason on a client failure. */
static int peer_as_nobody(struct fix *x, gid_t gid, const gid_t *groups, size_t n_groups,
			  char *msg, size_t msglen)
{
	int pfd[2], status;
	pid_t pid;
	ssize_t got;
	struct {
		int error;
		char msg[CTL_ERRMSG_SIZE];
	} res = {};

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		struct timeval tv = { .tv_sec = 5 };
		const char *m;
		uint32_t buf[1024];
		int fd;
		ssize_t k;

		close(pfd[0]);
		if (setgroups(n_groups, groups) < 0 || setgid(gid) < 0 || setuid(NOBODY) < 0)
			_exit(10);
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", x->path);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(11);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		k = (ssize_t)build(buf, CTL_CMD_STATUS, NLM_F_ACK, 1, 0, NULL);
		if (send(fd, buf, (size_t)k, 0) != k)
			_exit(12);
		k = recv(fd, buf, sizeof(buf), 0);
		if (k <= 0)
			_exit(13);
		if (((struct nlmsghdr *)buf)->nlmsg_type == NLMSG_ERROR) {
			if (ctl_msg_parse_error((struct nlmsghdr *)buf, &res.error, &m) < 0)
				_exit(14);
			snprintf(res.msg, sizeof(res.msg), "%s", m ? m : "");
			/* A refused peer is closed after its answer. */
			if (recv(fd, buf, sizeof(buf), 0) != 0)
				_exit(15);
		}
		if (write(pfd[1], &res, sizeof(res)) != sizeof(res))
			_exit(16);
		_exit(0);
	}
	close(pfd[1]);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		assert_true(w >= 0);
		if (w == pid)
			break;
		pump(2);
	}
	got = read(pfd[0], &res, sizeof(res));
	close(pfd[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1000 + (WIFEXITED(status) ? WEXITSTATUS(status) : 99);
	assert_int_equal(got, sizeof(res));
	snprintf(msg, msglen, "%s", res.msg);
	return res.error;
}

/* Sends the server's log lines (warnings included) to DIR/log, or back to stderr. */
static void log_to_file(struct fix *x, bool on)
{
	static int saved = -1;
	char path[128];
	int fd;

	fflush(stderr);
	if (on) {
		snprintf(path, sizeof(path), "%s/log", x->dir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		saved = dup(2);
		assert_int_equal(dup2(fd, 2), 2);
		close(fd);
		log_set_max_level(LOG_WARNING);
	} else {
		log_set_max_level(LOG_ERR);
		assert_int_equal(dup2(saved, 2), 2);
		close(saved);
	}
}

static int count_lines(struct fix *x, const char *needle)
{
	char path[128], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/log", x->dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void restart_for_group(struct fix *x, const char *group)
{
	/* 0666: the file mode would otherwise turn nobody away before SO_PEERCRED is asked. */
	struct ctl_server_params p = { .group = group, .mode = 0666 };

	ctl_server_free(x->s);
	x->s = NULL;
	assert_int_equal(server_start(x, &p), 0);
}

static void test_peer_credentials(void **state)
{
	struct fix *x = *state;
	const gid_t root_group[] = { 0 };
	char msg[CTL_ERRMSG_SIZE];
	struct stat st;

	UNIT_REQUIRE(geteuid() == 0, "root (to connect as another user)");
	/* Outside the group: refused, told why, logged, and nothing reaches the daemon. */
	restart_for_group(x, "root");
	log_to_file(x, true);
	assert_int_equal(peer_as_nobody(x, NOBODY, NULL, 0, msg, sizeof(msg)), -EPERM);
	log_to_file(x, false);
	assert_non_null(strstr(msg, "permission denied"));
	assert_int_equal(x->f.calls[CTL_CMD_STATUS], 0);
	assert_int_equal(count_lines(x, "refused a request from uid 65534"), 1);
	/* A peer that keeps trying fills the log only so far. */
	log_to_file(x, true);
	for (int i = 0; i < 15; i++)
		assert_int_equal(peer_as_nobody(x, NOBODY, NULL, 0, msg, sizeof(msg)), -EPERM);
	log_to_file(x, false);
	assert_int_equal(count_lines(x, "refused a request from uid 65534"), 9);
	/* In it by the process's supplementary groups (SO_PEERGROUPS)... */
	assert_int_equal(peer_as_nobody(x, 12345, root_group, 1, msg, sizeof(msg)), 0);

	restart_for_group(x, "nogroup");
	/* ...by its primary group... */
	assert_int_equal(peer_as_nobody(x, NOBODY, NULL, 0, msg, sizeof(msg)), 0);
	/* ...and by the user database (nobody's passwd group is nogroup), with neither. */
	assert_int_equal(peer_as_nobody(x, 12345, NULL, 0, msg, sizeof(msg)), 0);
	assert_int_equal(x->f.calls[CTL_CMD_STATUS], 3);

	/* A group that does not exist: root only. */
	restart_for_group(x, "cellmux-test-no-such-group");
	assert_int_equal(peer_as_nobody(x, NOBODY, NULL, 0, msg, sizeof(msg)), -EPERM);

	/* Default modes: 0660 with the group, 0600 for root only. */
	ctl_server_free(x->s);
	assert_int_equal(server_start(x, &(struct ctl_server_params){ .group = "nogroup" }), 0);
	assert_int_equal(stat(x->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, NOBODY);
	ctl_server_free(x->s);
	assert_int_equal(server_start(x, &(struct ctl_server_params){ .group = "" }), 0);
	assert_int_equal(stat(x->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Without a group even a 0666 socket serves root alone. */
	restart_for_group(x, "");
	assert_int_equal(peer_as_nobody(x, NOBODY, NULL, 0, msg, sizeof(msg)), -EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_gets_object_then_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_spans_packets_and_ends_with_done, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_errors_carry_errno_and_reason, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_start_and_set_state, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_malformed_packets_get_errors_and_service_goes_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_packet_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_packet_closes_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_of_ten_thousand_requests, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_slow_reader_is_dropped_others_served, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit_queues_the_rest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_idle_connection_is_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_answer_waits_and_orders, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deferred_answer_outlives_client_and_server,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_path_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_credentials, setup, teardown),
	};

	/* Refusals and closed slow readers are logged as warnings: expected here. */
	log_set_max_level(LOG_ERR);
	return unit_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
