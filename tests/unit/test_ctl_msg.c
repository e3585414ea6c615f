/* test_ctl_msg.c — the admin protocol's messages: golden bytes of a request built and parsed back,
 * objects round-tripped, and every way a message from the wire is refused (never a crash). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ctl_msg.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Message buffers are 4-byte aligned, as the parser requires. */
struct buf {
	uint32_t w[CTL_MSG_MAX / 4];
};

/* session-start {profile "probe", name "s1"}, seq 7, with an ack: worked out by hand from
 * proto/ctl.h and netlink's layout (little-endian host), not produced by the code under test. */
static const uint8_t golden_start[] = {
	0x2c, 0x00, 0x00, 0x00, /* nlmsg_len 44 */
	0x6d, 0x63,		/* nlmsg_type CTL_NLMSG_TYPE */
	0x05, 0x00,		/* NLM_F_REQUEST | NLM_F_ACK */
	0x07, 0x00, 0x00, 0x00, /* seq 7 */
	0x00, 0x00, 0x00, 0x00, /* pid 0 */
	0x05, 0x01, 0x00, 0x00, /* cmd CTL_CMD_SESSION_START, version 1, reserved */
	0x18, 0x00, 0x03, 0x80, /* CTL_A_SESSION | NLA_F_NESTED, 24 bytes */
	0x0a, 0x00, 0x02, 0x00, 'p', 'r', 'o', 'b', 'e', 0x00, 0x00, 0x00, /* profile, padded */
	0x07, 0x00, 0x01, 0x00, 's', '1', 0x00, 0x00,			   /* name, padded */
};

static size_t build_start(struct buf *b)
{
	struct ctl_msg m;
	struct nlattr *n;
	size_t len;

	/* Padding must be zeroed, not left as the buffer held it. */
	memset(b, 0xee, sizeof(*b));
	ctl_msg_start(&m, b, sizeof(*b), NLM_F_REQUEST | NLM_F_ACK, 7, CTL_CMD_SESSION_START);
	n = ctl_msg_nest_start(&m, CTL_A_SESSION);
	ctl_msg_put_str(&m, CTL_SESSION_A_PROFILE, "probe");
	ctl_msg_put_str(&m, CTL_SESSION_A_NAME, "s1");
	ctl_msg_nest_end(&m, n);
	assert_int_equal(ctl_msg_finish(&m, &len), 0);
	return len;
}

static void test_golden_request_bytes_and_back(void **state)
{
	struct buf b, copy;
	struct ctl_parsed p;
	struct ctl_err err = {};
	size_t len = build_start(&b);

	assert_int_equal(len, sizeof(golden_start));
	assert_memory_equal(&b, golden_start, sizeof(golden_start));

	/* Parse the golden bytes themselves, not the builder's buffer. */
	memcpy(&copy, golden_start, sizeof(golden_start));
	assert_int_equal(ctl_msg_parse(&copy, sizeof(golden_start), CTL_DIR_REQUEST, &p, &err), 0);
	assert_int_equal(p.cmd, CTL_CMD_SESSION_START);
	assert_false(p.dump);
	assert_int_equal(p.nlh->nlmsg_seq, 7);
	assert_non_null(p.tb[CTL_A_SESSION]);
	assert_null(p.tb[CTL_A_ACTION]);
	assert_ptr_equal(p.obj, p.tb[CTL_A_SESSION]);
	assert_string_equal(ctl_attr_str(p.otb[CTL_SESSION_A_PROFILE]), "probe");
	assert_string_equal(ctl_attr_str(p.otb[CTL_SESSION_A_NAME]), "s1");
	assert_null(p.otb[CTL_SESSION_A_UPLINK]);
}

static void test_policy_has_no_holes(void **state)
{
	static const struct ctl_policy_set *const sets[] = {
		&ctl_policy_set, &ctl_status_set, &ctl_uplink_set,
		&ctl_address_set, &ctl_session_set, &ctl_report_set, &ctl_sandbox_set,
		&ctl_wstatus_set, &ctl_wfields_set, &ctl_wfield_set,
	};

	for (size_t i = 0; i < N(sets); i++) {
		for (unsigned t = 1; t <= sets[i]->max; t++) {
			const struct ctl_policy *p = &sets[i]->attrs[t];

			assert_int_not_equal(p->type, CTL_TYPE_UNUSED);
			assert_non_null(p->name);
			if (p->type == CTL_TYPE_STRING)
				assert_true(p->max > 1);
			if (p->type == CTL_TYPE_NESTED)
				assert_non_null(p->nested);
		}
	}
	for (unsigned c = 1; c <= CTL_CMD_MAX; c++) {
		assert_non_null(ctl_cmd_policy[c].name);
		assert_true(ctl_cmd_policy[c].modes & CTL_MODE_DO);
	}
}

/* Every bound of a worker Status at its limit: the schema must carry it whole. */
static void fill_full_status(struct ctl_wstatus_info *st)
{
	struct worker_status *w = &st->w;

	memset(w->state, 's', WORKER_STATUS_STATE_MAX);
	memset(w->message, 'm', WORKER_STATUS_MESSAGE_MAX);
	w->n_fields = WORKER_STATUS_FIELDS_MAX;
	for (size_t i = 0; i < w->n_fields; i++) {
		memset(w->fields[i].key, 'k', WORKER_STATUS_KEY_MAX);
		snprintf(w->fields[i].key, sizeof(w->fields[i].key), "%02zu", i);
		w->fields[i].key[2] = 'k';
		memset(w->fields[i].value, 'a' + (int)i, WORKER_STATUS_VALUE_MAX);
	}
	w->unix_time_ms = 1700000000100ULL;
	st->at_ms = 1700000000123ULL;
}

static void fill_session(struct ctl_session_info *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "s1");
	snprintf(s->profile, sizeof(s->profile), "probe");
	snprintf(s->uplink, sizeof(s->uplink), "lte1");
	s->state = CTL_SESSION_RUNNING;
	s->pid = 4242;
	s->restarts = 3;
	s->uptime_ms = 123456;
	s->counters = (struct ctl_counters){ true, 1, 2, 3, UINT64_MAX };
	s->have_quota = true;
	s->quota_reached = true;
	s->quota_bytes = 1000;
	s->quota_used_bytes = 1001;
	fill_full_status(&s->status);
	s->have_status = true;
	s->have_sandbox = true;
	s->sandbox = (struct ctl_sandbox_info){
		.pid = 4243, .worker = true, .ns_pid = 2,
		.uid = 1668087810, .euid = 1668087811, .gid = 1668087812, .egid = 1668087813,
		.pidns_inode = 4026532999ULL, .pidns_private = true,
		.seccomp = 2, .have_seccomp_filters = true, .seccomp_filters = 1,
		.no_new_privs = true,
		.cap_eff = 0, .cap_prm = 1, .cap_bnd = 0x1fffeffffffULL, .cap_amb = UINT64_MAX,
	};
	s->have_memory = s->have_memory_max = true;
	s->memory_bytes = 1234567;
	s->memory_max_bytes = 64ULL << 20;
	s->oom_kills = 2;
	s->have_tasks = s->have_tasks_max = true;
	s->tasks = 3;
	s->tasks_max = 32;
	s->have_cpu_weight = true;
	s->cpu_weight = 10000;
}

static void fill_uplink(struct ctl_uplink_info *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "lte1");
	snprintf(u->driver, sizeof(u->driver), "netdev");
	u->state = CTL_UPLINK_DRAINING;
	snprintf(u->interface, sizeof(u->interface), "simwwan0");
	snprintf(u->netns, sizeof(u->netns), "cmx-lte1");
	u->n_addresses = 2;
	snprintf(u->addresses[0], sizeof(u->addresses[0]), "100.64.0.2/24");
	snprintf(u->addresses[1], sizeof(u->addresses[1]), "2001:db8::2/64");
	u->sessions = 2;
	u->capacity = 16;
	u->counters = (struct ctl_counters){ true, 10, 20, 30, 40 };
	u->have_quota = true;
	u->quota_bytes = 5ULL << 30;
	u->quota_used_bytes = 1ULL << 30;
	u->reconnects = 7;
	u->have_signal = true;
	u->signal_dbm = -113; /* signed on the wire */
	snprintf(u->operator_name, sizeof(u->operator_name), "Carrier One");
	snprintf(u->rat, sizeof(u->rat), "lte");
	u->removed_sessions = 3;
	u->removed = (struct ctl_counters){ true, 50, 60, 70, 80 };
}

/* An answer message holding obj, as the daemon sends it. */
static size_t build_answer(struct buf *b, uint8_t cmd, uint16_t obj, const void *info)
{
	struct ctl_msg m;
	size_t len;

	ctl_msg_start(&m, b, sizeof(*b), NLM_F_MULTI, 9, cmd);
	if (obj == CTL_A_SESSION)
		ctl_session_encode(&m, info);
	else if (obj == CTL_A_UPLINK)
		ctl_uplink_encode(&m, info);
	else
		ctl_status_encode(&m, info);
	assert_int_equal(ctl_msg_finish(&m, &len), 0);
	return len;
}

static void test_session_round_trip(void **state)
{
	struct ctl_session_info in, out;
	struct ctl_parsed p;
	struct buf b;
	size_t len;

	fill_session(&in);
	len = build_answer(&b, CTL_CMD_SESSION_GET, CTL_A_SESSION, &in);
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, NULL), 0);
	ctl_session_decode(p.obj, &out);
	assert_memory_equal(&in, &out, sizeof(in));

	/* Absent values stay absent: no worker, no counters, no status. */
	in.pid = 0;
	in.uptime_ms = 0;
	memset(in.uplink, 0, sizeof(in.uplink));
	memset(&in.counters, 0, sizeof(in.counters));
	memset(&in.status, 0, sizeof(in.status));
	in.have_status = false;
	in.have_quota = in.quota_reached = false;
	in.quota_bytes = in.quota_used_bytes = 0;
	memset(&in.sandbox, 0, sizeof(in.sandbox));
	in.have_sandbox = in.have_memory = in.have_memory_max = false;
	in.memory_bytes = in.memory_max_bytes = in.oom_kills = 0;
	in.have_tasks = in.have_tasks_max = in.have_cpu_weight = false;
	in.tasks = in.tasks_max = in.cpu_weight = 0;
	len = build_answer(&b, CTL_CMD_SESSION_GET, CTL_A_SESSION, &in);
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, NULL), 0);
	assert_null(p.otb[CTL_SESSION_A_PID]);
	assert_null(p.otb[CTL_SESSION_A_RX_BYTES]);
	assert_null(p.otb[CTL_SESSION_A_REPORT]);
	assert_null(p.otb[CTL_SESSION_A_STATUS]);
	assert_null(p.otb[CTL_SESSION_A_QUOTA_REACHED]);
	assert_null(p.otb[CTL_SESSION_A_SANDBOX]);
	assert_null(p.otb[CTL_SESSION_A_MEMORY_BYTES]);
	assert_null(p.otb[CTL_SESSION_A_OOM_KILLS]);
	assert_null(p.otb[CTL_SESSION_A_TASKS]);
	assert_null(p.otb[CTL_SESSION_A_CPU_WEIGHT]);
	ctl_session_decode(p.obj, &out);
	assert_memory_equal(&in, &out, sizeof(in));
}

/* A status of n fields, as a daemon that broke the bounds would send it. */
static size_t build_status_fields(struct buf *b, unsigned n, const char *key)
{
	struct nlattr *sn, *st, *fields, *f;
	struct ctl_msg m;
	size_t len;

	ctl_msg_start(&m, b, sizeof(*b), NLM_F_MULTI, 9, CTL_CMD_SESSION_GET);
	sn = ctl_msg_nest_start(&m, CTL_A_SESSION);
	ctl_msg_put_str(&m, CTL_SESSION_A_NAME, "s1");
	st = ctl_msg_nest_start(&m, CTL_SESSION_A_STATUS);
	ctl_msg_put_str(&m, CTL_WSTATUS_A_STATE, "ok");
	fields = ctl_msg_nest_start(&m, CTL_WSTATUS_A_FIELDS);
	for (unsigned i = 0; i < n; i++) {
		f = ctl_msg_nest_start(&m, CTL_WFIELDS_A_FIELD);
		ctl_msg_put_str(&m, CTL_WFIELD_A_KEY, key);
		ctl_msg_put_str(&m, CTL_WFIELD_A_VALUE, "v");
		ctl_msg_nest_end(&m, f);
	}
	ctl_msg_nest_end(&m, fields);
	ctl_msg_nest_end(&m, st);
	ctl_msg_nest_end(&m, sn);
	assert_int_equal(ctl_msg_finish(&m, &len), 0);
	return len;
}

static void test_session_status_bounds_hold_on_the_admin_socket(void **state)
{
	char key[WORKER_STATUS_KEY_MAX + 2];
	struct ctl_session_info out;
	struct ctl_parsed p;
	struct ctl_err err;
	struct buf b;
	size_t len;

	len = build_status_fields(&b, WORKER_STATUS_FIELDS_MAX, "k");
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, NULL), 0);
	ctl_session_decode(p.obj, &out);
	assert_true(out.have_status);
	assert_int_equal(out.status.w.n_fields, WORKER_STATUS_FIELDS_MAX);
	/* No time from the worker stays no time. */
	assert_int_equal(out.status.w.unix_time_ms, 0);
	assert_null(strstr(out.status.w.message, "x"));

	len = build_status_fields(&b, WORKER_STATUS_FIELDS_MAX + 1, "k");
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, &err), -EINVAL);
	assert_string_equal(err.msg, "fields: more than 16 entries");

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	len = build_status_fields(&b, 1, key);
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, &err), -EINVAL);
	assert_string_equal(err.msg, "field: key: longer than 32 bytes");
}

/* No limit is an absent limit beside a present use; an old kernel's missing filter count stays
 * missing rather than reading as 0 filters. */
static void test_session_unlimited_and_old_kernel(void **state)
{
	struct ctl_session_info in, out;
	struct ctl_parsed p;
	const struct nlattr *xtb[CTL_SANDBOX_A_MAX + 1];
	struct buf b;
	size_t len;

	fill_session(&in);
	in.have_memory_max = in.have_tasks_max = false;
	in.memory_max_bytes = in.tasks_max = 0;
	in.sandbox.have_seccomp_filters = false;
	in.sandbox.seccomp_filters = 0;
	len = build_answer(&b, CTL_CMD_SESSION_GET, CTL_A_SESSION, &in);
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, NULL), 0);
	assert_non_null(p.otb[CTL_SESSION_A_MEMORY_BYTES]);
	assert_null(p.otb[CTL_SESSION_A_MEMORY_MAX_BYTES]);
	assert_non_null(p.otb[CTL_SESSION_A_TASKS]);
	assert_null(p.otb[CTL_SESSION_A_TASKS_MAX]);
	assert_non_null(p.otb[CTL_SESSION_A_SANDBOX]);
	ctl_nest_table(p.otb[CTL_SESSION_A_SANDBOX], xtb, CTL_SANDBOX_A_MAX);
	assert_null(xtb[CTL_SANDBOX_A_SECCOMP_FILTERS]);
	assert_int_equal(ctl_attr_u8(xtb[CTL_SANDBOX_A_SECCOMP]), 2);
	ctl_session_decode(p.obj, &out);
	assert_memory_equal(&in, &out, sizeof(in));
}

/* The sandbox nest is checked like any other: a no_new_privs of 2 or a short inode is refused. */
static void test_session_sandbox_nest_is_validated(void **state)
{
	struct ctl_session_info in;
	struct ctl_parsed p;
	struct ctl_err err;
	struct buf b;
	size_t len;
	uint8_t *u8 = NULL;
	const struct nlattr *xtb[CTL_SANDBOX_A_MAX + 1];

	fill_session(&in);
	len = build_answer(&b, CTL_CMD_SESSION_GET, CTL_A_SESSION, &in);
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, NULL), 0);
	ctl_nest_table(p.otb[CTL_SESSION_A_SANDBOX], xtb, CTL_SANDBOX_A_MAX);
	u8 = (uint8_t *)xtb[CTL_SANDBOX_A_NO_NEW_PRIVS] + NLA_HDRLEN;
	*u8 = 2;
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no_new_privs"));
	*u8 = 1;
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, NULL), 0);
	/* A u64 claiming 4 bytes: the attribute's own length is what is checked. */
	((struct nlattr *)xtb[CTL_SANDBOX_A_PIDNS])->nla_len = 8;
	assert_int_not_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, &err), 0);
}

static void test_uplink_and_status_round_trip(void **state)
{
	struct ctl_uplink_info u, u2;
	struct ctl_status_info s = { .version = "0.1.0", .pid = 1, .uptime_ms = 99,
				     .config = "/etc/cellmux/cellmux.conf", .uplinks = 3,
				     .uplinks_up = 2, .sessions = 6, .sessions_running = 5 };
	struct ctl_status_info s2;
	struct ctl_parsed p;
	struct buf b;
	size_t len;

	fill_uplink(&u);
	len = build_answer(&b, CTL_CMD_UPLINK_GET, CTL_A_UPLINK, &u);
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, NULL), 0);
	ctl_uplink_decode(p.obj, &u2);
	assert_memory_equal(&u, &u2, sizeof(u));

	len = build_answer(&b, CTL_CMD_STATUS, CTL_A_STATUS, &s);
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, NULL), 0);
	ctl_status_decode(p.obj, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
}

static void test_unterminated_fields_are_cut_not_overread(void **state)
{
	struct ctl_uplink_info u, u2;
	struct ctl_parsed p;
	struct buf b;
	size_t len;

	fill_uplink(&u);
	memset(u.name, 'x', sizeof(u.name)); /* no NUL at all */
	len = build_answer(&b, CTL_CMD_UPLINK_GET, CTL_A_UPLINK, &u);
	assert_int_equal(ctl_msg_parse(&b, len, CTL_DIR_ANSWER, &p, NULL), 0);
	ctl_uplink_decode(p.obj, &u2);
	assert_int_equal(strlen(u2.name), sizeof(u.name) - 1);
}

static void test_builder_overflow_is_sticky(void **state)
{
	uint32_t small[8];
	struct ctl_msg m;
	size_t len;

	ctl_msg_start(&m, small, sizeof(small), NLM_F_REQUEST, 1, CTL_CMD_STATUS);
	assert_int_equal(m.error, 0);
	ctl_msg_put_str(&m, CTL_A_ACTION, "far too long for twelve bytes");
	assert_int_equal(m.error, -EMSGSIZE);
	ctl_msg_put_u8(&m, CTL_A_ACTION, 1); /* would fit, but the message is already broken */
	assert_int_equal(ctl_msg_finish(&m, &len), -EMSGSIZE);

	ctl_msg_start(&m, small, 10, NLM_F_REQUEST, 1, CTL_CMD_STATUS);
	assert_int_equal(ctl_msg_finish(&m, &len), -EMSGSIZE);
}

/* Raw message construction for the malformed cases. */
struct raw {
	struct buf b;
	size_t len;
};

static void raw_header(struct raw *r, uint16_t type, uint16_t flags, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)&r->b;
	struct ctl_hdr *h = (struct ctl_hdr *)(nlh + 1);

	memset(&r->b, 0, sizeof(r->b));
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = 1;
	h->cmd = cmd;
	h->version = version;
	r->len = NLMSG_HDRLEN + sizeof(*h);
	nlh->nlmsg_len = (uint32_t)r->len;
}

static void raw_request(struct raw *r, uint8_t cmd)
{
	raw_header(r, CTL_NLMSG_TYPE, NLM_F_REQUEST | NLM_F_ACK, cmd, CTL_VERSION);
}

/* An attribute with nla_len `nla_len` (normally 4 + plen) and plen payload bytes. */
static size_t raw_attr(struct raw *r, uint16_t type, uint16_t nla_len, const void *payload,
		       size_t plen)
{
	uint8_t *p = (uint8_t *)&r->b + r->len;
	struct nlattr a = { .nla_len = nla_len, .nla_type = type };
	size_t at = r->len;

	memcpy(p, &a, sizeof(a));
	if (plen)
		memcpy(p + sizeof(a), payload, plen);
	r->len += NLA_ALIGN(sizeof(a) + plen);
	((struct nlmsghdr *)&r->b)->nlmsg_len = (uint32_t)r->len;
	return at;
}

/* Fixes up a nest's nla_len after its contents. */
static void raw_nest_end(struct raw *r, size_t at)
{
	struct nlattr *a = (struct nlattr *)((uint8_t *)&r->b + at);

	a->nla_len = (uint16_t)(r->len - at);
}

static void expect_refused(struct raw *r, enum ctl_dir dir, int want)
{
	struct ctl_parsed p;
	struct ctl_err err = {};

	memset(&p, 0xaa, sizeof(p));
	assert_int_equal(ctl_msg_parse(&r->b, r->len, dir, &p, &err), want);
	/* Every refusal says why, for the client's error message. */
	assert_true(err.msg[0] != '\0');
	/* ...and *ret is written only on success. */
	assert_int_equal(((uint8_t *)&p)[0], 0xaa);
}

static void test_truncated_header(void **state)
{
	struct raw r;

	raw_request(&r, CTL_CMD_STATUS);
	for (size_t len = 0; len < NLMSG_HDRLEN; len++) {
		r.len = len;
		expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);
	}
}

static void test_nlmsg_len_past_the_end(void **state)
{
	struct raw r;

	raw_request(&r, CTL_CMD_STATUS);
	((struct nlmsghdr *)&r.b)->nlmsg_len = (uint32_t)r.len + 4;
	expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);
	((struct nlmsghdr *)&r.b)->nlmsg_len = UINT32_MAX;
	expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);
	((struct nlmsghdr *)&r.b)->nlmsg_len = 3; /* shorter than its own header */
	expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);
}

static void test_bytes_after_the_message(void **state)
{
	struct raw r;

	raw_request(&r, CTL_CMD_STATUS);
	r.len += 4; /* a second message, or garbage: one request per packet */
	expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);
}

static void test_truncated_command_header(void **state)
{
	struct raw r;

	raw_request(&r, CTL_CMD_STATUS);
	r.len = NLMSG_HDRLEN + 2;
	((struct nlmsghdr *)&r.b)->nlmsg_len = (uint32_t)r.len;
	expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);
}

static void test_header_fields(void **state)
{
	struct raw r;

	raw_header(&r, NLMSG_ERROR, NLM_F_REQUEST, CTL_CMD_STATUS, CTL_VERSION);
	expect_refused(&r, CTL_DIR_REQUEST, -EPROTO);
	raw_header(&r, CTL_NLMSG_TYPE, NLM_F_ACK, CTL_CMD_STATUS, CTL_VERSION);
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL); /* no NLM_F_REQUEST */
	raw_header(&r, CTL_NLMSG_TYPE, NLM_F_REQUEST, CTL_CMD_STATUS, CTL_VERSION + 1);
	expect_refused(&r, CTL_DIR_REQUEST, -EPROTONOSUPPORT);
	raw_header(&r, CTL_NLMSG_TYPE, NLM_F_REQUEST, CTL_CMD_STATUS, 0);
	expect_refused(&r, CTL_DIR_REQUEST, -EPROTONOSUPPORT);
	raw_request(&r, CTL_CMD_STATUS);
	((struct ctl_hdr *)((uint8_t *)&r.b + NLMSG_HDRLEN))->reserved = 1;
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);
	/* An answer must not look like a request, and the other way round. */
	raw_request(&r, CTL_CMD_STATUS);
	expect_refused(&r, CTL_DIR_ANSWER, -EINVAL);
}

static void test_unknown_command(void **state)
{
	struct raw r;

	raw_request(&r, CTL_CMD_UNSPEC);
	expect_refused(&r, CTL_DIR_REQUEST, -EOPNOTSUPP);
	raw_request(&r, CTL_CMD_MAX + 1);
	expect_refused(&r, CTL_DIR_REQUEST, -EOPNOTSUPP);
	raw_request(&r, 255);
	expect_refused(&r, CTL_DIR_REQUEST, -EOPNOTSUPP);
}

static void test_dump_only_where_offered(void **state)
{
	struct raw r;

	raw_header(&r, CTL_NLMSG_TYPE, NLM_F_REQUEST | NLM_F_DUMP, CTL_CMD_STATUS, CTL_VERSION);
	expect_refused(&r, CTL_DIR_REQUEST, -EOPNOTSUPP);
	raw_header(&r, CTL_NLMSG_TYPE, NLM_F_REQUEST | NLM_F_DUMP, CTL_CMD_RELOAD, CTL_VERSION);
	expect_refused(&r, CTL_DIR_REQUEST, -EOPNOTSUPP);
}

static void test_dump_takes_no_attributes(void **state)
{
	struct raw r;
	size_t n;

	raw_header(&r, CTL_NLMSG_TYPE, NLM_F_REQUEST | NLM_F_DUMP, CTL_CMD_SESSION_GET,
		   CTL_VERSION);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_SESSION, 0, NULL, 0);
	raw_attr(&r, CTL_SESSION_A_NAME, 7, "s1", 3);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);
}

static void test_attr_length_past_the_end(void **state)
{
	struct raw r;

	raw_request(&r, CTL_CMD_UPLINK_SET_STATE);
	raw_attr(&r, CTL_A_ACTION, 5, "\x01", 1);
	/* nla_len larger than what is left of the message */
	((struct nlattr *)((uint8_t *)&r.b + r.len - 8))->nla_len = 200;
	expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);
	/* nla_len shorter than an attribute header */
	((struct nlattr *)((uint8_t *)&r.b + r.len - 8))->nla_len = 2;
	expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);
}

static void test_stray_bytes_after_attributes(void **state)
{
	struct raw r;

	raw_request(&r, CTL_CMD_RELOAD);
	r.len += 2;
	((struct nlmsghdr *)&r.b)->nlmsg_len = (uint32_t)r.len;
	expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);
}

/* uplink-set-state {name "lte1"} plus an action attribute of the given payload. */
static void set_state_with_action(struct raw *r, const void *action, size_t alen)
{
	size_t n;

	raw_request(r, CTL_CMD_UPLINK_SET_STATE);
	n = raw_attr(r, NLA_F_NESTED | CTL_A_UPLINK, 0, NULL, 0);
	raw_attr(r, CTL_UPLINK_A_NAME, 9, "lte1", 5);
	raw_nest_end(r, n);
	raw_attr(r, CTL_A_ACTION, (uint16_t)(4 + alen), action, alen);
}

static void test_integer_size_and_range(void **state)
{
	struct ctl_parsed p;
	struct raw r;

	set_state_with_action(&r, "\x02", 1);
	assert_int_equal(ctl_msg_parse(&r.b, r.len, CTL_DIR_REQUEST, &p, NULL), 0);
	assert_int_equal(ctl_attr_u8(p.tb[CTL_A_ACTION]), CTL_UPLINK_ACTION_DOWN);

	set_state_with_action(&r, NULL, 0); /* too short for a u8 */
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);
	set_state_with_action(&r, "\x02\x00\x00\x00", 4); /* a u32 where a u8 goes */
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);
	set_state_with_action(&r, "\x09", 1); /* no such action */
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);
}

static void test_answer_integers(void **state)
{
	struct ctl_uplink_info u;
	struct ctl_parsed p;
	struct raw r;
	size_t n;

	/* a signed one, negative */
	raw_header(&r, CTL_NLMSG_TYPE, 0, CTL_CMD_UPLINK_GET, CTL_VERSION);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_UPLINK, 0, NULL, 0);
	raw_attr(&r, CTL_UPLINK_A_SIGNAL_DBM, 8, "\x8f\xff\xff\xff", 4);
	raw_nest_end(&r, n);
	assert_int_equal(ctl_msg_parse(&r.b, r.len, CTL_DIR_ANSWER, &p, NULL), 0);
	ctl_uplink_decode(p.obj, &u);
	assert_true(u.have_signal);
	assert_int_equal(u.signal_dbm, -113);

	/* ...of the wrong size, and a flag that is neither 0 nor 1 */
	raw_header(&r, CTL_NLMSG_TYPE, 0, CTL_CMD_UPLINK_GET, CTL_VERSION);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_UPLINK, 0, NULL, 0);
	raw_attr(&r, CTL_UPLINK_A_SIGNAL_DBM, 6, "\x8f\xff", 2);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_ANSWER, -EINVAL);
	raw_header(&r, CTL_NLMSG_TYPE, 0, CTL_CMD_UPLINK_GET, CTL_VERSION);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_UPLINK, 0, NULL, 0);
	raw_attr(&r, CTL_UPLINK_A_QUOTA_REACHED, 5, "\x02", 1);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_ANSWER, -EINVAL);
	/* a u64 cut to 4 bytes */
	raw_header(&r, CTL_NLMSG_TYPE, 0, CTL_CMD_UPLINK_GET, CTL_VERSION);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_UPLINK, 0, NULL, 0);
	raw_attr(&r, CTL_UPLINK_A_RX_BYTES, 8, "\1\0\0\0", 4);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_ANSWER, -EINVAL);
}

/* session-stop {name: payload of plen bytes}. */
static void stop_with_name(struct raw *r, const void *name, size_t plen)
{
	size_t n;

	raw_request(r, CTL_CMD_SESSION_STOP);
	n = raw_attr(r, NLA_F_NESTED | CTL_A_SESSION, 0, NULL, 0);
	raw_attr(r, CTL_SESSION_A_NAME, (uint16_t)(4 + plen), name, plen);
	raw_nest_end(r, n);
}

static void test_strings(void **state)
{
	char longname[CTL_NAME_SIZE + 1];
	struct ctl_parsed p;
	struct raw r;

	stop_with_name(&r, "s1", 3);
	assert_int_equal(ctl_msg_parse(&r.b, r.len, CTL_DIR_REQUEST, &p, NULL), 0);
	assert_string_equal(ctl_attr_str(p.otb[CTL_SESSION_A_NAME]), "s1");

	stop_with_name(&r, "s1", 2); /* no NUL */
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);
	stop_with_name(&r, "s\0" "1", 4); /* NUL inside */
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);
	stop_with_name(&r, NULL, 0); /* not even the NUL */
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);

	memset(longname, 'a', sizeof(longname));
	longname[CTL_NAME_SIZE - 1] = '\0';
	stop_with_name(&r, longname, CTL_NAME_SIZE); /* the longest allowed */
	assert_int_equal(ctl_msg_parse(&r.b, r.len, CTL_DIR_REQUEST, &p, NULL), 0);
	longname[CTL_NAME_SIZE - 1] = 'a';
	longname[CTL_NAME_SIZE] = '\0';
	stop_with_name(&r, longname, CTL_NAME_SIZE + 1); /* one byte more */
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);
}

static void test_unknown_attributes(void **state)
{
	struct ctl_parsed p;
	struct raw r;
	size_t n;

	raw_request(&r, CTL_CMD_RELOAD);
	raw_attr(&r, CTL_A_MAX + 1, 8, "\0\0\0\0", 4);
	expect_refused(&r, CTL_DIR_REQUEST, -EOPNOTSUPP);

	raw_request(&r, CTL_CMD_RELOAD);
	raw_attr(&r, CTL_A_UNSPEC, 8, "\0\0\0\0", 4);
	expect_refused(&r, CTL_DIR_REQUEST, -EOPNOTSUPP);

	/* Inside a nest too. */
	raw_request(&r, CTL_CMD_SESSION_STOP);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_SESSION, 0, NULL, 0);
	raw_attr(&r, CTL_SESSION_A_NAME, 7, "s1", 3);
	raw_attr(&r, 30, 8, "\0\0\0\0", 4);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_REQUEST, -EOPNOTSUPP);

	/* An answer from a newer daemon may carry attributes this side does not know. */
	raw_header(&r, CTL_NLMSG_TYPE, 0, CTL_CMD_SESSION_GET, CTL_VERSION);
	raw_attr(&r, 20, 8, "\0\0\0\0", 4);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_SESSION, 0, NULL, 0);
	raw_attr(&r, CTL_SESSION_A_NAME, 7, "s1", 3);
	raw_attr(&r, 30, 8, "\0\0\0\0", 4);
	raw_nest_end(&r, n);
	assert_int_equal(ctl_msg_parse(&r.b, r.len, CTL_DIR_ANSWER, &p, NULL), 0);
	assert_string_equal(ctl_attr_str(p.otb[CTL_SESSION_A_NAME]), "s1");
}

static void test_attribute_rules_of_commands(void **state)
{
	struct raw r;
	size_t n;

	/* given twice */
	raw_request(&r, CTL_CMD_SESSION_STOP);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_SESSION, 0, NULL, 0);
	raw_attr(&r, CTL_SESSION_A_NAME, 7, "s1", 3);
	raw_attr(&r, CTL_SESSION_A_NAME, 7, "s2", 3);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);

	/* a field the command does not take */
	raw_request(&r, CTL_CMD_SESSION_STOP);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_SESSION, 0, NULL, 0);
	raw_attr(&r, CTL_SESSION_A_NAME, 7, "s1", 3);
	raw_attr(&r, CTL_SESSION_A_PID, 8, "\1\0\0\0", 4);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);

	/* a required one missing */
	raw_request(&r, CTL_CMD_SESSION_START);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_SESSION, 0, NULL, 0);
	raw_attr(&r, CTL_SESSION_A_NAME, 7, "s1", 3);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);

	/* the object itself missing */
	raw_request(&r, CTL_CMD_SESSION_STOP);
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);

	/* another command's object */
	raw_request(&r, CTL_CMD_SESSION_STOP);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_UPLINK, 0, NULL, 0);
	raw_attr(&r, CTL_UPLINK_A_NAME, 7, "s1", 3);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);

	/* the action of uplink-set-state missing */
	raw_request(&r, CTL_CMD_UPLINK_SET_STATE);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_UPLINK, 0, NULL, 0);
	raw_attr(&r, CTL_UPLINK_A_NAME, 9, "lte1", 5);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);
}

static void test_nested_garbage(void **state)
{
	struct raw r;
	size_t n, at;

	/* an inner length that runs past its nest, though not past the message */
	raw_request(&r, CTL_CMD_SESSION_STOP);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_SESSION, 0, NULL, 0);
	at = raw_attr(&r, CTL_SESSION_A_NAME, 7, "s1", 3);
	raw_nest_end(&r, n);
	raw_attr(&r, CTL_A_ACTION, 5, "\1", 1);
	((struct nlattr *)((uint8_t *)&r.b + at))->nla_len = 12;
	expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);

	/* a nest that holds random bytes */
	raw_request(&r, CTL_CMD_SESSION_STOP);
	raw_attr(&r, NLA_F_NESTED | CTL_A_SESSION, 11, "\xff\xff\x01\x02\x03\x04\x05", 7);
	expect_refused(&r, CTL_DIR_REQUEST, -EBADMSG);

	/* a plain attribute marked nested, and a nest in network byte order */
	set_state_with_action(&r, "\x01", 1);
	((struct nlattr *)((uint8_t *)&r.b + r.len - 8))->nla_type |= NLA_F_NESTED;
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);
	set_state_with_action(&r, "\x01", 1);
	((struct nlattr *)((uint8_t *)&r.b + r.len - 8))->nla_type |= NLA_F_NET_BYTEORDER;
	expect_refused(&r, CTL_DIR_REQUEST, -EINVAL);

	/* a list longer than its limit */
	raw_header(&r, CTL_NLMSG_TYPE, 0, CTL_CMD_UPLINK_GET, CTL_VERSION);
	n = raw_attr(&r, NLA_F_NESTED | CTL_A_UPLINK, 0, NULL, 0);
	raw_attr(&r, CTL_UPLINK_A_NAME, 9, "lte1", 5);
	at = raw_attr(&r, NLA_F_NESTED | CTL_UPLINK_A_ADDRESSES, 0, NULL, 0);
	for (int i = 0; i <= CTL_ADDRS_MAX; i++)
		raw_attr(&r, CTL_ADDRESS_A_ADDRESS, 13, "10.0.0.1/8", 9);
	raw_nest_end(&r, at);
	raw_nest_end(&r, n);
	expect_refused(&r, CTL_DIR_ANSWER, -EINVAL);
}

static void test_answers_need_their_object(void **state)
{
	struct raw r;

	raw_header(&r, CTL_NLMSG_TYPE, 0, CTL_CMD_SESSION_GET, CTL_VERSION);
	expect_refused(&r, CTL_DIR_ANSWER, -EBADMSG);
	raw_header(&r, CTL_NLMSG_TYPE, 0, CTL_CMD_RELOAD, CTL_VERSION); /* answers only with acks */
	expect_refused(&r, CTL_DIR_ANSWER, -EBADMSG);
}

/* Every prefix of a valid message, with its lengths saying so, is refused; every single-byte
 * corruption is refused or parses into something that decodes (ASan/valgrind watch the reads). */
static void test_every_truncation_and_corruption(void **state)
{
	struct ctl_session_info s, out;
	struct buf b, c;
	struct ctl_parsed p;
	size_t len;

	fill_session(&s);
	len = build_answer(&b, CTL_CMD_SESSION_GET, CTL_A_SESSION, &s);
	for (size_t l = 0; l < len; l++) {
		memcpy(&c, &b, len);
		if (l >= NLMSG_HDRLEN)
			((struct nlmsghdr *)&c)->nlmsg_len = (uint32_t)l;
		assert_true(ctl_msg_parse(&c, l, CTL_DIR_ANSWER, &p, NULL) < 0);
	}
	for (size_t i = 0; i < len; i++) {
		static const uint8_t values[] = { 0x00, 0x01, 0x04, 0x7f, 0x80, 0xff };

		for (size_t v = 0; v < N(values); v++) {
			memcpy(&c, &b, len);
			((uint8_t *)&c)[i] = values[v];
			if (ctl_msg_parse(&c, len, CTL_DIR_ANSWER, &p, NULL) == 0)
				ctl_session_decode(p.obj, &out);
		}
	}
}

static void test_error_messages(void **state)
{
	struct buf b;
	struct nlmsghdr req = { .nlmsg_len = 44, .nlmsg_type = CTL_NLMSG_TYPE,
				.nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 77, .nlmsg_pid = 5 };
	const struct nlmsghdr *nlh = (const void *)&b;
	const char *msg;
	size_t len;
	int error;

	assert_int_equal(ctl_msg_error(&b, sizeof(b), &req, -ENOENT, "no session 'x'", &len), 0);
	assert_int_equal(nlh->nlmsg_len, len);
	assert_int_equal(nlh->nlmsg_type, NLMSG_ERROR);
	assert_int_equal(nlh->nlmsg_seq, 77);
	assert_int_equal(nlh->nlmsg_pid, 5);
	assert_true(nlh->nlmsg_flags & NLM_F_CAPPED);
	assert_true(nlh->nlmsg_flags & NLM_F_ACK_TLVS);
	assert_int_equal(ctl_msg_parse_error(nlh, &error, &msg), 0);
	assert_int_equal(error, -ENOENT);
	assert_string_equal(msg, "no session 'x'");

	assert_int_equal(ctl_msg_error(&b, sizeof(b), NULL, 0, NULL, &len), 0);
	assert_int_equal(nlh->nlmsg_seq, 0);
	assert_false(nlh->nlmsg_flags & NLM_F_ACK_TLVS);
	assert_int_equal(ctl_msg_parse_error(nlh, &error, &msg), 0);
	assert_int_equal(error, 0);
	assert_null(msg);

	/* errno values must be negative and real */
	assert_int_equal(ctl_msg_error(&b, sizeof(b), NULL, 5, NULL, &len), -EINVAL);
	assert_int_equal(ctl_msg_error(&b, sizeof(b), NULL, -5000, NULL, &len), -EINVAL);
	assert_int_equal(ctl_msg_error(&b, 20, NULL, -EIO, NULL, &len), -EMSGSIZE);

	/* A hostile error message: positive error, or an uncapped request longer than itself. */
	assert_int_equal(ctl_msg_error(&b, sizeof(b), &req, -EIO, NULL, &len), 0);
	((struct nlmsgerr *)NLMSG_DATA(&b))->error = 3;
	assert_int_equal(ctl_msg_parse_error(nlh, &error, &msg), -EBADMSG);
	assert_int_equal(ctl_msg_error(&b, sizeof(b), &req, -EIO, NULL, &len), 0);
	((struct nlmsghdr *)&b)->nlmsg_flags &= (uint16_t)~NLM_F_CAPPED;
	assert_int_equal(ctl_msg_parse_error(nlh, &error, &msg), -EBADMSG);
	((struct nlmsghdr *)&b)->nlmsg_len = NLMSG_HDRLEN + 2;
	assert_int_equal(ctl_msg_parse_error(nlh, &error, &msg), -EBADMSG);
}

static void test_done_message(void **state)
{
	struct nlmsghdr req = { .nlmsg_seq = 3 };
	const struct nlmsghdr *nlh;
	struct buf b;
	size_t len;

	assert_int_equal(ctl_msg_done(&b, sizeof(b), &req, &len), 0);
	nlh = (const void *)&b;
	assert_int_equal(len, NLMSG_HDRLEN + 4);
	assert_int_equal(nlh->nlmsg_type, NLMSG_DONE);
	assert_true(nlh->nlmsg_flags & NLM_F_MULTI);
	assert_int_equal(nlh->nlmsg_seq, 3);
}

static void test_names(void **state)
{
	assert_string_equal(ctl_uplink_state_to_string(CTL_UPLINK_DRAINING), "draining");
	assert_string_equal(ctl_uplink_state_to_string(200), "unknown");
	assert_string_equal(ctl_session_state_to_string(CTL_SESSION_BACKOFF), "backoff");
	assert_int_equal(ctl_uplink_action_from_string("reconnect"), CTL_UPLINK_ACTION_RECONNECT);
	assert_int_equal(ctl_uplink_action_from_string("sideways"), -EINVAL);
	assert_string_equal(ctl_cmd_to_string(CTL_CMD_RELOAD), "reload");
	assert_string_equal(ctl_cmd_to_string(0), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_request_bytes_and_back),
		cmocka_unit_test(test_policy_has_no_holes),
		cmocka_unit_test(test_session_round_trip),
		cmocka_unit_test(test_session_status_bounds_hold_on_the_admin_socket),
		cmocka_unit_test(test_session_unlimited_and_old_kernel),
		cmocka_unit_test(test_session_sandbox_nest_is_validated),
		cmocka_unit_test(test_uplink_and_status_round_trip),
		cmocka_unit_test(test_unterminated_fields_are_cut_not_overread),
		cmocka_unit_test(test_builder_overflow_is_sticky),
		cmocka_unit_test(test_truncated_header),
		cmocka_unit_test(test_nlmsg_len_past_the_end),
		cmocka_unit_test(test_bytes_after_the_message),
		cmocka_unit_test(test_truncated_command_header),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_unknown_command),
		cmocka_unit_test(test_dump_only_where_offered),
		cmocka_unit_test(test_dump_takes_no_attributes),
		cmocka_unit_test(test_attr_length_past_the_end),
		cmocka_unit_test(test_stray_bytes_after_attributes),
		cmocka_unit_test(test_integer_size_and_range),
		cmocka_unit_test(test_answer_integers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_unknown_attributes),
		cmocka_unit_test(test_attribute_rules_of_commands),
		cmocka_unit_test(test_nested_garbage),
		cmocka_unit_test(test_answers_need_their_object),
		cmocka_unit_test(test_every_truncation_and_corruption),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_done_message),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
