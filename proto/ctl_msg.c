/* ctl_msg.c — the admin protocol's messages: libmnl builders, the one validator every message
 * from the wire passes (policy from proto/ctl.h), and the struct <-> attribute mapping. */
#include "proto/ctl_msg.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"

/* Every table covers its enum up to the last attribute (the unit test checks there are no holes
 * below it), and every attribute number fits the bit masks of ctl_cmd_policy and the tables of
 * struct ctl_parsed. */
_Static_assert(ARRAY_SIZE(ctl_policy) == CTL_A_MAX + 1, "ctl_policy");
_Static_assert(ARRAY_SIZE(ctl_status_policy) == CTL_STATUS_A_MAX + 1, "ctl_status_policy");
_Static_assert(ARRAY_SIZE(ctl_uplink_policy) == CTL_UPLINK_A_MAX + 1, "ctl_uplink_policy");
_Static_assert(ARRAY_SIZE(ctl_address_policy) == CTL_ADDRESS_A_MAX + 1, "ctl_address_policy");
_Static_assert(ARRAY_SIZE(ctl_session_policy) == CTL_SESSION_A_MAX + 1, "ctl_session_policy");
_Static_assert(ARRAY_SIZE(ctl_report_policy) == CTL_REPORT_A_MAX + 1, "ctl_report_policy");
_Static_assert(ARRAY_SIZE(ctl_wstatus_policy) == CTL_WSTATUS_A_MAX + 1, "ctl_wstatus_policy");
_Static_assert(ARRAY_SIZE(ctl_wfields_policy) == CTL_WFIELDS_A_MAX + 1, "ctl_wfields_policy");
_Static_assert(ARRAY_SIZE(ctl_wfield_policy) == CTL_WFIELD_A_MAX + 1, "ctl_wfield_policy");
_Static_assert(ARRAY_SIZE(ctl_sandbox_policy) == CTL_SANDBOX_A_MAX + 1, "ctl_sandbox_policy");
_Static_assert(ARRAY_SIZE(ctl_cmd_policy) == CTL_CMD_MAX + 1, "ctl_cmd_policy");
_Static_assert(CTL_STATUS_A_MAX < CTL_OBJ_TB_SIZE && CTL_UPLINK_A_MAX < CTL_OBJ_TB_SIZE &&
		       CTL_SESSION_A_MAX < CTL_OBJ_TB_SIZE && CTL_REPORT_A_MAX < CTL_OBJ_TB_SIZE,
	       "CTL_OBJ_TB_SIZE");
_Static_assert(sizeof(struct ctl_hdr) == 4, "ctl_hdr is genlmsghdr-sized");

#define CTL_HDRLEN (NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ctl_hdr)))

/* Building */

void ctl_msg_start(struct ctl_msg *m, void *buf, size_t size, uint16_t flags, uint32_t seq,
		   uint8_t cmd)
{
	struct ctl_hdr *h;

	m->nlh = buf;
	m->size = size;
	m->error = 0;
	if (size < CTL_HDRLEN) {
		m->error = -EMSGSIZE;
		return;
	}
	m->nlh = mnl_nlmsg_put_header(buf);
	m->nlh->nlmsg_type = CTL_NLMSG_TYPE;
	m->nlh->nlmsg_flags = flags;
	m->nlh->nlmsg_seq = seq;
	h = mnl_nlmsg_put_extra_header(m->nlh, sizeof(*h));
	h->cmd = cmd;
	h->version = CTL_VERSION;
}

/* Appends an attribute of len payload bytes and returns its payload, or NULL once out of room.
 * Not mnl_attr_put(): libmnl 1.0.4 leaves the padding as it was, which would carry old buffer
 * contents (stack, heap) onto the wire. */
static void *put(struct ctl_msg *m, uint16_t type, size_t len)
{
	struct nlattr *a;
	size_t need;

	if (m->error)
		return NULL;
	need = NLA_HDRLEN + NLA_ALIGN(len);
	if (len > UINT16_MAX - NLA_HDRLEN || need > m->size - m->nlh->nlmsg_len) {
		m->error = -EMSGSIZE;
		return NULL;
	}
	a = mnl_nlmsg_get_payload_tail(m->nlh);
	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	memset((char *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	m->nlh->nlmsg_len += (uint32_t)need;
	return mnl_attr_get_payload(a);
}

void ctl_msg_put_u8(struct ctl_msg *m, uint16_t type, uint8_t v)
{
	void *p = put(m, type, sizeof(v));

	if (p)
		memcpy(p, &v, sizeof(v));
}

void ctl_msg_put_u32(struct ctl_msg *m, uint16_t type, uint32_t v)
{
	void *p = put(m, type, sizeof(v));

	if (p)
		memcpy(p, &v, sizeof(v));
}

void ctl_msg_put_s32(struct ctl_msg *m, uint16_t type, int32_t v)
{
	void *p = put(m, type, sizeof(v));

	if (p)
		memcpy(p, &v, sizeof(v));
}

void ctl_msg_put_u64(struct ctl_msg *m, uint16_t type, uint64_t v)
{
	void *p = put(m, type, sizeof(v));

	if (p)
		memcpy(p, &v, sizeof(v));
}

void ctl_msg_put_strn(struct ctl_msg *m, uint16_t type, const char *s, size_t size)
{
	size_t len = size ? strnlen(s, size - 1) : 0;
	char *p = put(m, type, len + 1);

	/* s need not be terminated within size: a fixed array filled to the brim still goes out
	 * as a proper string, cut. */
	if (!p)
		return;
	memcpy(p, s, len);
	p[len] = '\0';
}

void ctl_msg_put_str(struct ctl_msg *m, uint16_t type, const char *s)
{
	ctl_msg_put_strn(m, type, s, strlen(s) + 1);
}

struct nlattr *ctl_msg_nest_start(struct ctl_msg *m, uint16_t type)
{
	struct nlattr *n;

	if (m->error)
		return NULL;
	n = mnl_attr_nest_start_check(m->nlh, m->size, type);
	if (!n)
		m->error = -EMSGSIZE;
	return n;
}

void ctl_msg_nest_end(struct ctl_msg *m, struct nlattr *nest)
{
	if (m->error || !nest)
		return;
	/* nla_len is 16 bits: a bigger nest would wrap into a valid-looking short one. */
	if ((char *)mnl_nlmsg_get_payload_tail(m->nlh) - (char *)nest > UINT16_MAX) {
		m->error = -EMSGSIZE;
		return;
	}
	mnl_attr_nest_end(m->nlh, nest);
}

int ctl_msg_finish(const struct ctl_msg *m, size_t *ret_len)
{
	if (m->error)
		return m->error;
	*ret_len = m->nlh->nlmsg_len;
	return 0;
}

static struct nlmsghdr *reply_header(void *buf, uint16_t type, uint16_t flags,
				     const struct nlmsghdr *req)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = req ? req->nlmsg_seq : 0;
	nlh->nlmsg_pid = req ? req->nlmsg_pid : 0;
	return nlh;
}

int ctl_msg_error(void *buf, size_t size, const struct nlmsghdr *req, int error, const char *msg,
		  size_t *ret_len)
{
	bool with_msg = msg && msg[0];
	size_t need = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nlmsgerr)) +
		      (with_msg ? MNL_ATTR_HDRLEN + NLMSG_ALIGN(CTL_ERRMSG_SIZE) : 0);
	struct ctl_msg m;
	struct nlmsgerr *e;

	if (error > 0 || error < -4095)
		return -EINVAL;
	if (size < need)
		return -EMSGSIZE;
	m.nlh = reply_header(buf, NLMSG_ERROR, NLM_F_CAPPED | (with_msg ? NLM_F_ACK_TLVS : 0), req);
	m.size = size;
	m.error = 0;
	e = mnl_nlmsg_put_extra_header(m.nlh, sizeof(*e));
	e->error = error;
	if (req)
		e->msg = *req;
	if (with_msg)
		ctl_msg_put_strn(&m, NLMSGERR_ATTR_MSG, msg, CTL_ERRMSG_SIZE);
	return ctl_msg_finish(&m, ret_len);
}

int ctl_msg_done(void *buf, size_t size, const struct nlmsghdr *req, size_t *ret_len)
{
	struct nlmsghdr *nlh;
	int *zero;

	if (size < NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(int)))
		return -EMSGSIZE;
	nlh = reply_header(buf, NLMSG_DONE, NLM_F_MULTI, req);
	zero = mnl_nlmsg_put_extra_header(nlh, sizeof(int));
	*zero = 0;
	*ret_len = nlh->nlmsg_len;
	return 0;
}

/* Checking */

static int fail(struct ctl_err *err, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ctl_err *err, int r, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Unaligned-safe reads: a u64 payload is only 4-byte aligned in a netlink message. */
uint8_t ctl_attr_u8(const struct nlattr *a)
{
	return *(const uint8_t *)mnl_attr_get_payload(a);
}

uint32_t ctl_attr_u32(const struct nlattr *a)
{
	uint32_t v;

	memcpy(&v, mnl_attr_get_payload(a), sizeof(v));
	return v;
}

int32_t ctl_attr_s32(const struct nlattr *a)
{
	int32_t v;

	memcpy(&v, mnl_attr_get_payload(a), sizeof(v));
	return v;
}

uint64_t ctl_attr_u64(const struct nlattr *a)
{
	uint64_t v;

	memcpy(&v, mnl_attr_get_payload(a), sizeof(v));
	return v;
}

const char *ctl_attr_str(const struct nlattr *a)
{
	return mnl_attr_get_payload(a);
}

static int check_attr(const struct ctl_policy_set *set, const struct ctl_policy *p,
		      const struct nlattr *a, enum ctl_dir dir, struct ctl_err *err);

/* Walks len bytes of attributes at data against set. Lengths come from the wire: each is checked
 * against what is left before the attribute is touched, and nothing may be left over at the end.
 * tb (may be NULL) gets each attribute by type. Recursion follows the policy, which is static and
 * acyclic, so its depth does not depend on the input. */
static int check_set(const struct ctl_policy_set *set, const void *data, size_t len,
		     enum ctl_dir dir, const struct nlattr **tb, struct ctl_err *err)
{
	uint64_t seen = 0;
	unsigned count = 0;
	size_t off = 0;

	while (len - off >= NLA_HDRLEN) {
		const struct nlattr *a = (const struct nlattr *)((const char *)data + off);
		uint16_t type = a->nla_type & NLA_TYPE_MASK;
		const struct ctl_policy *p;
		int r;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off)
			return fail(err, -EBADMSG, "%s: attribute %u: length %u past the end",
				    set->name, type, a->nla_len);
		off += NLA_ALIGN((size_t)a->nla_len);
		/* The last attribute's padding may be missing. */
		if (off > len)
			off = len;
		if (type > set->max || set->attrs[type].type == CTL_TYPE_UNUSED) {
			if (dir == CTL_DIR_ANSWER)
				continue;
			return fail(err, -EOPNOTSUPP, "%s: unknown attribute %u", set->name, type);
		}
		p = &set->attrs[type];
		if (set->list_max) {
			if (++count > set->list_max)
				return fail(err, -EINVAL, "%s: more than %u entries", set->name,
					    set->list_max);
		} else {
			if (seen & CTL_BIT(type))
				return fail(err, -EINVAL, "%s: %s given twice", set->name, p->name);
			seen |= CTL_BIT(type);
		}
		r = check_attr(set, p, a, dir, err);
		if (r < 0)
			return r;
		if (tb && !set->list_max)
			tb[type] = a;
	}
	if (off != len)
		return fail(err, -EBADMSG, "%s: %zu stray bytes after the attributes", set->name,
			    len - off);
	return 0;
}

static int check_attr(const struct ctl_policy_set *set, const struct ctl_policy *p,
		      const struct nlattr *a, enum ctl_dir dir, struct ctl_err *err)
{
	size_t plen = a->nla_len - NLA_HDRLEN;
	const char *payload = mnl_attr_get_payload(a);
	uint32_t v;

	if (a->nla_type & NLA_F_NET_BYTEORDER)
		return fail(err, -EINVAL, "%s: %s: network byte order flag", set->name, p->name);
	if ((a->nla_type & NLA_F_NESTED) && p->type != CTL_TYPE_NESTED)
		return fail(err, -EINVAL, "%s: %s: nested flag on a %s", set->name, p->name,
			    "plain attribute");
	switch (p->type) {
	case CTL_TYPE_U8:
	case CTL_TYPE_U32:
		if (plen != (p->type == CTL_TYPE_U8 ? 1 : 4))
			return fail(err, -EINVAL, "%s: %s: %zu bytes, want %d", set->name, p->name,
				    plen, p->type == CTL_TYPE_U8 ? 1 : 4);
		v = p->type == CTL_TYPE_U8 ? ctl_attr_u8(a) : ctl_attr_u32(a);
		if (p->max && v >= p->max)
			return fail(err, -EINVAL, "%s: %s: %u out of range", set->name, p->name, v);
		return 0;
	case CTL_TYPE_S32:
		if (plen != 4)
			return fail(err, -EINVAL, "%s: %s: %zu bytes, want 4", set->name, p->name,
				    plen);
		return 0;
	case CTL_TYPE_U64:
		if (plen != 8)
			return fail(err, -EINVAL, "%s: %s: %zu bytes, want 8", set->name, p->name,
				    plen);
		return 0;
	case CTL_TYPE_STRING:
		if (plen == 0 || payload[plen - 1] != '\0')
			return fail(err, -EINVAL, "%s: %s: string not NUL-terminated", set->name,
				    p->name);
		if (strlen(payload) != plen - 1)
			return fail(err, -EINVAL, "%s: %s: NUL inside the string", set->name,
				    p->name);
		if (plen > p->max)
			return fail(err, -EINVAL, "%s: %s: longer than %u bytes", set->name,
				    p->name, p->max - 1);
		return 0;
	case CTL_TYPE_NESTED:
		return check_set(p->nested, payload, plen, dir, NULL, err);
	case CTL_TYPE_UNUSED:
		break;
	}
	return fail(err, -EOPNOTSUPP, "%s: %s: no such type", set->name, p->name);
}

static const struct ctl_policy_set *obj_set(uint16_t attr)
{
	return ctl_policy[attr].nested;
}

/* What a request carries against what its command takes: extra and missing attributes both
 * refused, so a client learns at once that it and the daemon disagree. */
static int check_request(const struct ctl_cmd_policy *cp, struct ctl_parsed *p,
			 struct ctl_err *err)
{
	uint64_t want = p->dump ? 0 : cp->attrs, have = 0, allowed;
	const struct ctl_policy_set *set;

	for (unsigned t = 1; t <= CTL_A_MAX; t++)
		if (p->tb[t])
			have |= CTL_BIT(t);
	for (unsigned t = 1; t <= CTL_A_MAX; t++) {
		if ((have & ~want) & CTL_BIT(t))
			return fail(err, -EINVAL, "%s%s takes no %s attribute", cp->name,
				    p->dump ? " dump" : "", ctl_policy[t].name);
		if ((want & ~have) & CTL_BIT(t))
			return fail(err, -EINVAL, "%s needs a %s attribute", cp->name,
				    ctl_policy[t].name);
	}
	if (p->dump || !cp->obj)
		return 0;
	set = obj_set(cp->obj);
	p->obj = p->tb[cp->obj];
	ctl_nest_table(p->obj, p->otb, set->max);
	allowed = cp->obj_required | cp->obj_optional;
	for (unsigned t = 1; t <= set->max; t++) {
		if (p->otb[t] && !(allowed & CTL_BIT(t)))
			return fail(err, -EINVAL, "%s takes no %s.%s", cp->name, set->name,
				    set->attrs[t].name);
		if (!p->otb[t] && (cp->obj_required & CTL_BIT(t)))
			return fail(err, -EINVAL, "%s needs %s.%s", cp->name, set->name,
				    set->attrs[t].name);
	}
	return 0;
}

int ctl_msg_parse(const void *buf, size_t len, enum ctl_dir dir, struct ctl_parsed *ret,
		  struct ctl_err *err)
{
	const struct nlmsghdr *nlh = buf;
	const struct ctl_cmd_policy *cp;
	const struct ctl_hdr *h;
	struct ctl_parsed p = {};
	size_t plen;
	int r;

	if (len < NLMSG_HDRLEN)
		return fail(err, -EBADMSG, "truncated header: %zu bytes", len);
	if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len)
		return fail(err, -EBADMSG, "message length %u, packet %zu bytes", nlh->nlmsg_len,
			    len);
	if (len > NLMSG_ALIGN((size_t)nlh->nlmsg_len))
		return fail(err, -EBADMSG, "%zu bytes after the message (one request per packet)",
			    len - nlh->nlmsg_len);
	if (nlh->nlmsg_type != CTL_NLMSG_TYPE)
		return fail(err, -EPROTO, "message type %u is not cellmux's", nlh->nlmsg_type);
	if (dir == CTL_DIR_REQUEST && !(nlh->nlmsg_flags & NLM_F_REQUEST))
		return fail(err, -EINVAL, "request without NLM_F_REQUEST");
	if (dir == CTL_DIR_ANSWER && (nlh->nlmsg_flags & NLM_F_REQUEST))
		return fail(err, -EINVAL, "answer with NLM_F_REQUEST");
	plen = nlh->nlmsg_len - NLMSG_HDRLEN;
	if (plen < sizeof(*h))
		return fail(err, -EBADMSG, "truncated command header");
	h = mnl_nlmsg_get_payload(nlh);
	if (h->version != CTL_VERSION)
		return fail(err, -EPROTONOSUPPORT, "protocol version %u, this side speaks %u",
			    h->version, CTL_VERSION);
	if (h->reserved)
		return fail(err, -EINVAL, "reserved header field set");
	if (h->cmd == CTL_CMD_UNSPEC || h->cmd > CTL_CMD_MAX)
		return fail(err, -EOPNOTSUPP, "unknown command %u", h->cmd);
	cp = &ctl_cmd_policy[h->cmd];
	p.nlh = nlh;
	p.cmd = h->cmd;
	p.dump = dir == CTL_DIR_REQUEST && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	if (dir == CTL_DIR_REQUEST && !(cp->modes & (p.dump ? CTL_MODE_DUMP : CTL_MODE_DO)))
		return fail(err, -EOPNOTSUPP, p.dump ? "%s cannot be dumped" : "%s is dump only",
			    cp->name);
	/* ctl_hdr is 4 bytes, already aligned: attributes start right after it. */
	r = check_set(&ctl_policy_set, (const char *)nlh + CTL_HDRLEN, nlh->nlmsg_len - CTL_HDRLEN,
		      dir, p.tb, err);
	if (r < 0)
		return r;
	if (dir == CTL_DIR_REQUEST) {
		r = check_request(cp, &p, err);
		if (r < 0)
			return r;
	} else {
		if (!cp->answer || !p.tb[cp->answer])
			return fail(err, -EBADMSG, "%s answer without its object", cp->name);
		p.obj = p.tb[cp->answer];
		ctl_nest_table(p.obj, p.otb, obj_set(cp->answer)->max);
	}
	*ret = p;
	return 0;
}

int ctl_msg_parse_error(const struct nlmsghdr *nlh, int *ret_error, const char **ret_msg)
{
	static const struct ctl_policy ext_policy[] = {
		[NLMSGERR_ATTR_MSG] = CTL_POLICY_STR("msg", CTL_ERRMSG_SIZE),
	};
	static const struct ctl_policy_set ext_set = { "extended ack", ext_policy,
						       NLMSGERR_ATTR_MSG, 0 };
	const struct nlattr *tb[NLMSGERR_ATTR_MSG + 1] = {};
	size_t len = nlh->nlmsg_len, off = NLMSG_HDRLEN + sizeof(struct nlmsgerr);
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	int r;

	if (nlh->nlmsg_type != NLMSG_ERROR || len < off)
		return -EBADMSG;
	if (e->error > 0 || e->error < -4095)
		return -EBADMSG;
	/* Without NLM_F_CAPPED the whole request follows its header. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN || e->msg.nlmsg_len > len - off + NLMSG_HDRLEN)
			return -EBADMSG;
		off += NLMSG_ALIGN((size_t)e->msg.nlmsg_len) - NLMSG_HDRLEN;
		if (off > len)
			off = len;
	}
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		r = check_set(&ext_set, (const char *)nlh + off, len - off, CTL_DIR_ANSWER, tb,
			      NULL);
		if (r < 0)
			return r;
	}
	*ret_error = e->error;
	*ret_msg = tb[NLMSGERR_ATTR_MSG] ? ctl_attr_str(tb[NLMSGERR_ATTR_MSG]) : NULL;
	return 0;
}

void ctl_nest_table(const struct nlattr *nest, const struct nlattr **tb, uint16_t max)
{
	const struct nlattr *a;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	mnl_attr_for_each_nested(a, nest) {
		uint16_t type = mnl_attr_get_type(a);

		if (type <= max)
			tb[type] = a;
	}
}

/* Objects */

static void put_counters(struct ctl_msg *m, const struct ctl_counters *c, uint16_t rx_bytes,
			 uint16_t tx_bytes, uint16_t rx_packets, uint16_t tx_packets)
{
	if (!c->valid)
		return;
	ctl_msg_put_u64(m, rx_bytes, c->rx_bytes);
	ctl_msg_put_u64(m, tx_bytes, c->tx_bytes);
	ctl_msg_put_u64(m, rx_packets, c->rx_packets);
	ctl_msg_put_u64(m, tx_packets, c->tx_packets);
}

#define PUT_TEXT(m, type, field)                                                           \
	do {                                                                               \
		if ((field)[0])                                                            \
			ctl_msg_put_strn(m, type, field, sizeof(field));                   \
	} while (0)

void ctl_status_encode(struct ctl_msg *m, const struct ctl_status_info *s)
{
	struct nlattr *n = ctl_msg_nest_start(m, CTL_A_STATUS);

	PUT_TEXT(m, CTL_STATUS_A_VERSION, s->version);
	ctl_msg_put_u32(m, CTL_STATUS_A_PID, s->pid);
	ctl_msg_put_u64(m, CTL_STATUS_A_UPTIME_MS, s->uptime_ms);
	PUT_TEXT(m, CTL_STATUS_A_CONFIG, s->config);
	ctl_msg_put_u32(m, CTL_STATUS_A_UPLINKS, s->uplinks);
	ctl_msg_put_u32(m, CTL_STATUS_A_UPLINKS_UP, s->uplinks_up);
	ctl_msg_put_u32(m, CTL_STATUS_A_SESSIONS, s->sessions);
	ctl_msg_put_u32(m, CTL_STATUS_A_SESSIONS_RUNNING, s->sessions_running);
	if (s->have_backend) {
		ctl_msg_put_u8(m, CTL_STATUS_A_BACKEND_UP, s->backend_up);
		ctl_msg_put_u32(m, CTL_STATUS_A_BACKEND_OUTBOX, s->backend_outbox);
		ctl_msg_put_u32(m, CTL_STATUS_A_BACKEND_INBOX, s->backend_inbox);
		ctl_msg_put_u32(m, CTL_STATUS_A_BACKEND_RECONNECTS, s->backend_reconnects);
	}
	ctl_msg_nest_end(m, n);
}

static void put_addr_list(struct ctl_msg *m, uint16_t type, const char (*a)[CTL_ADDR_SIZE],
			  size_t n)
{
	struct nlattr *nest = ctl_msg_nest_start(m, type);

	for (size_t i = 0; i < n; i++)
		ctl_msg_put_strn(m, CTL_ADDRESS_A_ADDRESS, a[i], CTL_ADDR_SIZE);
	ctl_msg_nest_end(m, nest);
}

void ctl_uplink_encode(struct ctl_msg *m, const struct ctl_uplink_info *u)
{
	struct nlattr *n = ctl_msg_nest_start(m, CTL_A_UPLINK), *addrs;

	ctl_msg_put_strn(m, CTL_UPLINK_A_NAME, u->name, sizeof(u->name));
	PUT_TEXT(m, CTL_UPLINK_A_DRIVER, u->driver);
	ctl_msg_put_u8(m, CTL_UPLINK_A_STATE, u->state);
	PUT_TEXT(m, CTL_UPLINK_A_INTERFACE, u->interface);
	PUT_TEXT(m, CTL_UPLINK_A_DEVICE, u->device);
	PUT_TEXT(m, CTL_UPLINK_A_NETNS, u->netns);
	addrs = ctl_msg_nest_start(m, CTL_UPLINK_A_ADDRESSES);
	for (size_t i = 0; i < u->n_addresses && i < CTL_ADDRS_MAX; i++)
		ctl_msg_put_strn(m, CTL_ADDRESS_A_ADDRESS, u->addresses[i],
				 sizeof(u->addresses[i]));
	ctl_msg_nest_end(m, addrs);
	ctl_msg_put_u32(m, CTL_UPLINK_A_SESSIONS, u->sessions);
	ctl_msg_put_u32(m, CTL_UPLINK_A_CAPACITY, u->capacity);
	put_counters(m, &u->counters, CTL_UPLINK_A_RX_BYTES, CTL_UPLINK_A_TX_BYTES,
		     CTL_UPLINK_A_RX_PACKETS, CTL_UPLINK_A_TX_PACKETS);
	if (u->have_quota) {
		ctl_msg_put_u64(m, CTL_UPLINK_A_QUOTA_BYTES, u->quota_bytes);
		ctl_msg_put_u64(m, CTL_UPLINK_A_QUOTA_USED_BYTES, u->quota_used_bytes);
		ctl_msg_put_u8(m, CTL_UPLINK_A_QUOTA_REACHED, u->quota_reached);
	}
	ctl_msg_put_u32(m, CTL_UPLINK_A_RECONNECTS, u->reconnects);
	if (u->have_signal)
		ctl_msg_put_s32(m, CTL_UPLINK_A_SIGNAL_DBM, u->signal_dbm);
	PUT_TEXT(m, CTL_UPLINK_A_OPERATOR, u->operator_name);
	PUT_TEXT(m, CTL_UPLINK_A_RAT, u->rat);
	if (u->removed.valid)
		ctl_msg_put_u32(m, CTL_UPLINK_A_REMOVED_SESSIONS, u->removed_sessions);
	put_counters(m, &u->removed, CTL_UPLINK_A_REMOVED_RX_BYTES, CTL_UPLINK_A_REMOVED_TX_BYTES,
		     CTL_UPLINK_A_REMOVED_RX_PACKETS, CTL_UPLINK_A_REMOVED_TX_PACKETS);
	PUT_TEXT(m, CTL_UPLINK_A_HEALTH, u->health);
	PUT_TEXT(m, CTL_UPLINK_A_HEALTH_REASON, u->health_reason);
	put_addr_list(m, CTL_UPLINK_A_GATEWAYS, u->gateways, u->n_gateways);
	put_addr_list(m, CTL_UPLINK_A_DNS, u->dns, u->n_dns);
	if (u->last_error[0]) {
		PUT_TEXT(m, CTL_UPLINK_A_LAST_ERROR, u->last_error);
		ctl_msg_put_u64(m, CTL_UPLINK_A_LAST_ERROR_AT_MS, u->last_error_at_ms);
	}
	PUT_TEXT(m, CTL_UPLINK_A_RECOVERY, u->recovery);
	PUT_TEXT(m, CTL_UPLINK_A_RECOVERY_LAST, u->recovery_last);
	ctl_msg_put_u32(m, CTL_UPLINK_A_RECOVERIES_RECONNECT, u->recoveries_reconnect);
	ctl_msg_put_u32(m, CTL_UPLINK_A_RECOVERIES_RESET, u->recoveries_reset);
	ctl_msg_nest_end(m, n);
}

static void put_sandbox(struct ctl_msg *m, const struct ctl_session_info *s)
{
	const struct ctl_sandbox_info *x = &s->sandbox;
	struct nlattr *n;

	if (s->have_sandbox) {
		n = ctl_msg_nest_start(m, CTL_SESSION_A_SANDBOX);
		ctl_msg_put_u32(m, CTL_SANDBOX_A_PID, x->pid);
		ctl_msg_put_u8(m, CTL_SANDBOX_A_WORKER, x->worker);
		ctl_msg_put_u32(m, CTL_SANDBOX_A_NS_PID, x->ns_pid);
		ctl_msg_put_u32(m, CTL_SANDBOX_A_UID, x->uid);
		ctl_msg_put_u32(m, CTL_SANDBOX_A_EUID, x->euid);
		ctl_msg_put_u32(m, CTL_SANDBOX_A_GID, x->gid);
		ctl_msg_put_u32(m, CTL_SANDBOX_A_EGID, x->egid);
		ctl_msg_put_u64(m, CTL_SANDBOX_A_PIDNS, x->pidns_inode);
		ctl_msg_put_u8(m, CTL_SANDBOX_A_PIDNS_PRIVATE, x->pidns_private);
		ctl_msg_put_u8(m, CTL_SANDBOX_A_SECCOMP, x->seccomp);
		if (x->have_seccomp_filters)
			ctl_msg_put_u32(m, CTL_SANDBOX_A_SECCOMP_FILTERS, x->seccomp_filters);
		ctl_msg_put_u8(m, CTL_SANDBOX_A_NO_NEW_PRIVS, x->no_new_privs);
		ctl_msg_put_u64(m, CTL_SANDBOX_A_CAP_EFF, x->cap_eff);
		ctl_msg_put_u64(m, CTL_SANDBOX_A_CAP_PRM, x->cap_prm);
		ctl_msg_put_u64(m, CTL_SANDBOX_A_CAP_BND, x->cap_bnd);
		ctl_msg_put_u64(m, CTL_SANDBOX_A_CAP_AMB, x->cap_amb);
		ctl_msg_nest_end(m, n);
	}
	if (s->have_memory) {
		ctl_msg_put_u64(m, CTL_SESSION_A_MEMORY_BYTES, s->memory_bytes);
		if (s->have_memory_max)
			ctl_msg_put_u64(m, CTL_SESSION_A_MEMORY_MAX_BYTES, s->memory_max_bytes);
		ctl_msg_put_u64(m, CTL_SESSION_A_OOM_KILLS, s->oom_kills);
	}
	if (s->have_tasks) {
		ctl_msg_put_u64(m, CTL_SESSION_A_TASKS, s->tasks);
		if (s->have_tasks_max)
			ctl_msg_put_u64(m, CTL_SESSION_A_TASKS_MAX, s->tasks_max);
	}
	if (s->have_cpu_weight)
		ctl_msg_put_u32(m, CTL_SESSION_A_CPU_WEIGHT, s->cpu_weight);
	ctl_msg_put_u32(m, CTL_SESSION_A_MOVES, s->moves);
	PUT_TEXT(m, CTL_SESSION_A_WAIT_REASON, s->wait_reason);
}

static void put_wstatus(struct ctl_msg *m, const struct ctl_wstatus_info *st)
{
	const struct worker_status *w = &st->w;
	struct nlattr *n = ctl_msg_nest_start(m, CTL_SESSION_A_STATUS), *fields, *f;

	ctl_msg_put_strn(m, CTL_WSTATUS_A_STATE, w->state, sizeof(w->state));
	PUT_TEXT(m, CTL_WSTATUS_A_MESSAGE, w->message);
	fields = ctl_msg_nest_start(m, CTL_WSTATUS_A_FIELDS);
	for (size_t i = 0; i < w->n_fields && i < WORKER_STATUS_FIELDS_MAX; i++) {
		f = ctl_msg_nest_start(m, CTL_WFIELDS_A_FIELD);
		ctl_msg_put_strn(m, CTL_WFIELD_A_KEY, w->fields[i].key, sizeof(w->fields[i].key));
		PUT_TEXT(m, CTL_WFIELD_A_VALUE, w->fields[i].value);
		ctl_msg_nest_end(m, f);
	}
	ctl_msg_nest_end(m, fields);
	if (w->unix_time_ms)
		ctl_msg_put_u64(m, CTL_WSTATUS_A_TIME_MS, w->unix_time_ms);
	ctl_msg_put_u64(m, CTL_WSTATUS_A_AT_MS, st->at_ms);
	ctl_msg_nest_end(m, n);
}

void ctl_session_encode(struct ctl_msg *m, const struct ctl_session_info *s)
{
	struct nlattr *n = ctl_msg_nest_start(m, CTL_A_SESSION);

	ctl_msg_put_strn(m, CTL_SESSION_A_NAME, s->name, sizeof(s->name));
	PUT_TEXT(m, CTL_SESSION_A_PROFILE, s->profile);
	PUT_TEXT(m, CTL_SESSION_A_UPLINK, s->uplink);
	ctl_msg_put_u8(m, CTL_SESSION_A_STATE, s->state);
	if (s->pid) {
		ctl_msg_put_u32(m, CTL_SESSION_A_PID, s->pid);
		ctl_msg_put_u64(m, CTL_SESSION_A_UPTIME_MS, s->uptime_ms);
	}
	ctl_msg_put_u32(m, CTL_SESSION_A_RESTARTS, s->restarts);
	put_counters(m, &s->counters, CTL_SESSION_A_RX_BYTES, CTL_SESSION_A_TX_BYTES,
		     CTL_SESSION_A_RX_PACKETS, CTL_SESSION_A_TX_PACKETS);
	if (s->have_quota) {
		ctl_msg_put_u64(m, CTL_SESSION_A_QUOTA_BYTES, s->quota_bytes);
		ctl_msg_put_u64(m, CTL_SESSION_A_QUOTA_USED_BYTES, s->quota_used_bytes);
		ctl_msg_put_u8(m, CTL_SESSION_A_QUOTA_REACHED, s->quota_reached);
	}
	if (s->have_status)
		put_wstatus(m, &s->status);
	put_sandbox(m, s);
	ctl_msg_nest_end(m, n);
}

/* The policy already bounded every string by its field's size (CTL_*_SIZE both). */
static void get_text(char *dst, size_t size, const struct nlattr *a)
{
	if (a)
		snprintf(dst, size, "%s", ctl_attr_str(a));
}

static uint8_t get_u8(const struct nlattr *a)
{
	return a ? ctl_attr_u8(a) : 0;
}

static uint32_t get_u32(const struct nlattr *a)
{
	return a ? ctl_attr_u32(a) : 0;
}

static uint64_t get_u64(const struct nlattr *a)
{
	return a ? ctl_attr_u64(a) : 0;
}

static void get_counters(const struct nlattr *const *tb, uint16_t rx_bytes, uint16_t tx_bytes,
			 uint16_t rx_packets, uint16_t tx_packets, struct ctl_counters *c)
{
	c->valid = tb[rx_bytes] || tb[tx_bytes] || tb[rx_packets] || tb[tx_packets];
	c->rx_bytes = get_u64(tb[rx_bytes]);
	c->tx_bytes = get_u64(tb[tx_bytes]);
	c->rx_packets = get_u64(tb[rx_packets]);
	c->tx_packets = get_u64(tb[tx_packets]);
}

static void get_quota(const struct nlattr *const *tb, uint16_t bytes, uint16_t used,
		      uint16_t reached, bool *have, uint64_t *ret_bytes, uint64_t *ret_used,
		      bool *ret_reached)
{
	*have = tb[bytes] || tb[used] || tb[reached];
	*ret_bytes = get_u64(tb[bytes]);
	*ret_used = get_u64(tb[used]);
	*ret_reached = tb[reached] && ctl_attr_u8(tb[reached]);
}

void ctl_status_decode(const struct nlattr *nest, struct ctl_status_info *ret)
{
	const struct nlattr *tb[CTL_STATUS_A_MAX + 1];

	ctl_nest_table(nest, tb, CTL_STATUS_A_MAX);
	memset(ret, 0, sizeof(*ret));
	get_text(ret->version, sizeof(ret->version), tb[CTL_STATUS_A_VERSION]);
	ret->pid = get_u32(tb[CTL_STATUS_A_PID]);
	ret->uptime_ms = get_u64(tb[CTL_STATUS_A_UPTIME_MS]);
	get_text(ret->config, sizeof(ret->config), tb[CTL_STATUS_A_CONFIG]);
	ret->uplinks = get_u32(tb[CTL_STATUS_A_UPLINKS]);
	ret->uplinks_up = get_u32(tb[CTL_STATUS_A_UPLINKS_UP]);
	ret->sessions = get_u32(tb[CTL_STATUS_A_SESSIONS]);
	ret->sessions_running = get_u32(tb[CTL_STATUS_A_SESSIONS_RUNNING]);
	/* The backend attributes travel together, keyed by BACKEND_UP. */
	ret->have_backend = tb[CTL_STATUS_A_BACKEND_UP] != NULL;
	if (ret->have_backend) {
		ret->backend_up = get_u8(tb[CTL_STATUS_A_BACKEND_UP]);
		ret->backend_outbox = get_u32(tb[CTL_STATUS_A_BACKEND_OUTBOX]);
		ret->backend_inbox = get_u32(tb[CTL_STATUS_A_BACKEND_INBOX]);
		ret->backend_reconnects = get_u32(tb[CTL_STATUS_A_BACKEND_RECONNECTS]);
	}
}

static size_t get_addr_list(const struct nlattr *nest, char (*a)[CTL_ADDR_SIZE], size_t max)
{
	const struct nlattr *x;
	size_t n = 0;

	if (!nest)
		return 0;
	mnl_attr_for_each_nested(x, nest) {
		if (mnl_attr_get_type(x) != CTL_ADDRESS_A_ADDRESS || n >= max)
			continue;
		get_text(a[n++], CTL_ADDR_SIZE, x);
	}
	return n;
}

void ctl_uplink_decode(const struct nlattr *nest, struct ctl_uplink_info *ret)
{
	const struct nlattr *tb[CTL_UPLINK_A_MAX + 1], *a;

	ctl_nest_table(nest, tb, CTL_UPLINK_A_MAX);
	memset(ret, 0, sizeof(*ret));
	get_text(ret->name, sizeof(ret->name), tb[CTL_UPLINK_A_NAME]);
	get_text(ret->driver, sizeof(ret->driver), tb[CTL_UPLINK_A_DRIVER]);
	ret->state = tb[CTL_UPLINK_A_STATE] ? ctl_attr_u8(tb[CTL_UPLINK_A_STATE]) : 0;
	get_text(ret->interface, sizeof(ret->interface), tb[CTL_UPLINK_A_INTERFACE]);
	get_text(ret->device, sizeof(ret->device), tb[CTL_UPLINK_A_DEVICE]);
	get_text(ret->netns, sizeof(ret->netns), tb[CTL_UPLINK_A_NETNS]);
	if (tb[CTL_UPLINK_A_ADDRESSES]) {
		mnl_attr_for_each_nested(a, tb[CTL_UPLINK_A_ADDRESSES]) {
			if (mnl_attr_get_type(a) != CTL_ADDRESS_A_ADDRESS ||
			    ret->n_addresses >= CTL_ADDRS_MAX)
				continue;
			get_text(ret->addresses[ret->n_addresses++], CTL_ADDR_SIZE, a);
		}
	}
	ret->sessions = get_u32(tb[CTL_UPLINK_A_SESSIONS]);
	ret->capacity = get_u32(tb[CTL_UPLINK_A_CAPACITY]);
	get_counters(tb, CTL_UPLINK_A_RX_BYTES, CTL_UPLINK_A_TX_BYTES, CTL_UPLINK_A_RX_PACKETS,
		     CTL_UPLINK_A_TX_PACKETS, &ret->counters);
	get_quota(tb, CTL_UPLINK_A_QUOTA_BYTES, CTL_UPLINK_A_QUOTA_USED_BYTES,
		  CTL_UPLINK_A_QUOTA_REACHED, &ret->have_quota, &ret->quota_bytes,
		  &ret->quota_used_bytes, &ret->quota_reached);
	ret->reconnects = get_u32(tb[CTL_UPLINK_A_RECONNECTS]);
	ret->have_signal = tb[CTL_UPLINK_A_SIGNAL_DBM];
	ret->signal_dbm = ret->have_signal ? ctl_attr_s32(tb[CTL_UPLINK_A_SIGNAL_DBM]) : 0;
	get_text(ret->operator_name, sizeof(ret->operator_name), tb[CTL_UPLINK_A_OPERATOR]);
	get_text(ret->rat, sizeof(ret->rat), tb[CTL_UPLINK_A_RAT]);
	ret->removed_sessions = get_u32(tb[CTL_UPLINK_A_REMOVED_SESSIONS]);
	get_counters(tb, CTL_UPLINK_A_REMOVED_RX_BYTES, CTL_UPLINK_A_REMOVED_TX_BYTES,
		     CTL_UPLINK_A_REMOVED_RX_PACKETS, CTL_UPLINK_A_REMOVED_TX_PACKETS, &ret->removed);
	ret->removed.valid |= tb[CTL_UPLINK_A_REMOVED_SESSIONS] != NULL;
	get_text(ret->health, sizeof(ret->health), tb[CTL_UPLINK_A_HEALTH]);
	get_text(ret->health_reason, sizeof(ret->health_reason), tb[CTL_UPLINK_A_HEALTH_REASON]);
	ret->n_gateways = get_addr_list(tb[CTL_UPLINK_A_GATEWAYS], ret->gateways,
					ARRAY_SIZE(ret->gateways));
	ret->n_dns = get_addr_list(tb[CTL_UPLINK_A_DNS], ret->dns, ARRAY_SIZE(ret->dns));
	get_text(ret->last_error, sizeof(ret->last_error), tb[CTL_UPLINK_A_LAST_ERROR]);
	/* The time travels with its error: alone it would mean nothing. */
	if (ret->last_error[0])
		ret->last_error_at_ms = get_u64(tb[CTL_UPLINK_A_LAST_ERROR_AT_MS]);
	get_text(ret->recovery, sizeof(ret->recovery), tb[CTL_UPLINK_A_RECOVERY]);
	get_text(ret->recovery_last, sizeof(ret->recovery_last), tb[CTL_UPLINK_A_RECOVERY_LAST]);
	ret->recoveries_reconnect = get_u32(tb[CTL_UPLINK_A_RECOVERIES_RECONNECT]);
	ret->recoveries_reset = get_u32(tb[CTL_UPLINK_A_RECOVERIES_RESET]);
}

static void get_sandbox(const struct nlattr *const *tb, struct ctl_session_info *ret)
{
	const struct nlattr *xtb[CTL_SANDBOX_A_MAX + 1];
	struct ctl_sandbox_info *x = &ret->sandbox;

	/* Limits travel with their use: a limit without it would be a config value. */
	ret->have_memory = tb[CTL_SESSION_A_MEMORY_BYTES];
	if (ret->have_memory) {
		ret->memory_bytes = get_u64(tb[CTL_SESSION_A_MEMORY_BYTES]);
		ret->have_memory_max = tb[CTL_SESSION_A_MEMORY_MAX_BYTES];
		ret->memory_max_bytes = get_u64(tb[CTL_SESSION_A_MEMORY_MAX_BYTES]);
		ret->oom_kills = get_u64(tb[CTL_SESSION_A_OOM_KILLS]);
	}
	ret->have_tasks = tb[CTL_SESSION_A_TASKS];
	if (ret->have_tasks) {
		ret->tasks = get_u64(tb[CTL_SESSION_A_TASKS]);
		ret->have_tasks_max = tb[CTL_SESSION_A_TASKS_MAX];
		ret->tasks_max = get_u64(tb[CTL_SESSION_A_TASKS_MAX]);
	}
	ret->have_cpu_weight = tb[CTL_SESSION_A_CPU_WEIGHT];
	ret->cpu_weight = get_u32(tb[CTL_SESSION_A_CPU_WEIGHT]);
	ret->moves = get_u32(tb[CTL_SESSION_A_MOVES]);
	get_text(ret->wait_reason, sizeof(ret->wait_reason), tb[CTL_SESSION_A_WAIT_REASON]);
	if (!tb[CTL_SESSION_A_SANDBOX])
		return;
	ret->have_sandbox = true;
	ctl_nest_table(tb[CTL_SESSION_A_SANDBOX], xtb, CTL_SANDBOX_A_MAX);
	x->pid = get_u32(xtb[CTL_SANDBOX_A_PID]);
	x->worker = get_u8(xtb[CTL_SANDBOX_A_WORKER]);
	x->ns_pid = get_u32(xtb[CTL_SANDBOX_A_NS_PID]);
	x->uid = get_u32(xtb[CTL_SANDBOX_A_UID]);
	x->euid = get_u32(xtb[CTL_SANDBOX_A_EUID]);
	x->gid = get_u32(xtb[CTL_SANDBOX_A_GID]);
	x->egid = get_u32(xtb[CTL_SANDBOX_A_EGID]);
	x->pidns_inode = get_u64(xtb[CTL_SANDBOX_A_PIDNS]);
	x->pidns_private = get_u8(xtb[CTL_SANDBOX_A_PIDNS_PRIVATE]);
	x->seccomp = get_u8(xtb[CTL_SANDBOX_A_SECCOMP]);
	x->have_seccomp_filters = xtb[CTL_SANDBOX_A_SECCOMP_FILTERS];
	x->seccomp_filters = get_u32(xtb[CTL_SANDBOX_A_SECCOMP_FILTERS]);
	x->no_new_privs = get_u8(xtb[CTL_SANDBOX_A_NO_NEW_PRIVS]);
	x->cap_eff = get_u64(xtb[CTL_SANDBOX_A_CAP_EFF]);
	x->cap_prm = get_u64(xtb[CTL_SANDBOX_A_CAP_PRM]);
	x->cap_bnd = get_u64(xtb[CTL_SANDBOX_A_CAP_BND]);
	x->cap_amb = get_u64(xtb[CTL_SANDBOX_A_CAP_AMB]);
}

/* The policy bounded the list (WORKER_STATUS_FIELDS_MAX) and every string by its array. */
static void get_wstatus(const struct nlattr *nest, struct ctl_wstatus_info *st)
{
	const struct nlattr *tb[CTL_WSTATUS_A_MAX + 1], *ftb[CTL_WFIELD_A_MAX + 1];
	struct worker_status *w = &st->w;
	const struct nlattr *a;

	ctl_nest_table(nest, tb, CTL_WSTATUS_A_MAX);
	get_text(w->state, sizeof(w->state), tb[CTL_WSTATUS_A_STATE]);
	get_text(w->message, sizeof(w->message), tb[CTL_WSTATUS_A_MESSAGE]);
	w->unix_time_ms = get_u64(tb[CTL_WSTATUS_A_TIME_MS]);
	st->at_ms = get_u64(tb[CTL_WSTATUS_A_AT_MS]);
	if (!tb[CTL_WSTATUS_A_FIELDS])
		return;
	mnl_attr_for_each_nested(a, tb[CTL_WSTATUS_A_FIELDS]) {
		struct worker_status_field *f;

		/* Unknown entry types (a newer daemon's) were let through: skip them. */
		if (mnl_attr_get_type(a) != CTL_WFIELDS_A_FIELD || w->n_fields >= WORKER_STATUS_FIELDS_MAX)
			continue;
		ctl_nest_table(a, ftb, CTL_WFIELD_A_MAX);
		if (!ftb[CTL_WFIELD_A_KEY])
			continue;
		f = &w->fields[w->n_fields++];
		get_text(f->key, sizeof(f->key), ftb[CTL_WFIELD_A_KEY]);
		get_text(f->value, sizeof(f->value), ftb[CTL_WFIELD_A_VALUE]);
	}
}

void ctl_session_decode(const struct nlattr *nest, struct ctl_session_info *ret)
{
	const struct nlattr *tb[CTL_SESSION_A_MAX + 1];

	ctl_nest_table(nest, tb, CTL_SESSION_A_MAX);
	memset(ret, 0, sizeof(*ret));
	get_text(ret->name, sizeof(ret->name), tb[CTL_SESSION_A_NAME]);
	get_text(ret->profile, sizeof(ret->profile), tb[CTL_SESSION_A_PROFILE]);
	get_text(ret->uplink, sizeof(ret->uplink), tb[CTL_SESSION_A_UPLINK]);
	ret->state = tb[CTL_SESSION_A_STATE] ? ctl_attr_u8(tb[CTL_SESSION_A_STATE]) : 0;
	ret->pid = get_u32(tb[CTL_SESSION_A_PID]);
	ret->restarts = get_u32(tb[CTL_SESSION_A_RESTARTS]);
	/* An uptime belongs to a worker; without one it is meaningless (and never sent). */
	ret->uptime_ms = ret->pid ? get_u64(tb[CTL_SESSION_A_UPTIME_MS]) : 0;
	get_counters(tb, CTL_SESSION_A_RX_BYTES, CTL_SESSION_A_TX_BYTES, CTL_SESSION_A_RX_PACKETS,
		     CTL_SESSION_A_TX_PACKETS, &ret->counters);
	get_quota(tb, CTL_SESSION_A_QUOTA_BYTES, CTL_SESSION_A_QUOTA_USED_BYTES,
		  CTL_SESSION_A_QUOTA_REACHED, &ret->have_quota, &ret->quota_bytes,
		  &ret->quota_used_bytes, &ret->quota_reached);
	get_sandbox(tb, ret);
	if (tb[CTL_SESSION_A_STATUS]) {
		ret->have_status = true;
		get_wstatus(tb[CTL_SESSION_A_STATUS], &ret->status);
	}
}

/* Names */

static const char *name_of(const char *const *names, size_t n, unsigned v)
{
	return v < n && names[v] ? names[v] : "unknown";
}

const char *ctl_cmd_to_string(unsigned cmd)
{
	return cmd && cmd <= CTL_CMD_MAX ? ctl_cmd_policy[cmd].name : "unknown";
}

static const char *const uplink_states[] = {
	[CTL_UPLINK_DOWN] = "down",
	[CTL_UPLINK_UP] = "up",
	[CTL_UPLINK_CONNECTING] = "connecting",
	[CTL_UPLINK_DRAINING] = "draining",
};

static const char *const session_states[] = {
	[CTL_SESSION_STOPPED] = "stopped",
	[CTL_SESSION_RUNNING] = "running",
	[CTL_SESSION_BACKOFF] = "backoff",
	[CTL_SESSION_STOPPING] = "stopping",
};

static const char *const uplink_actions[] = {
	[CTL_UPLINK_ACTION_UP] = "up",
	[CTL_UPLINK_ACTION_DOWN] = "down",
	[CTL_UPLINK_ACTION_RECONNECT] = "reconnect",
	[CTL_UPLINK_ACTION_DRAIN] = "drain",
};

_Static_assert(ARRAY_SIZE(uplink_states) == __CTL_UPLINK_STATE_MAX, "uplink state names");
_Static_assert(ARRAY_SIZE(session_states) == __CTL_SESSION_STATE_MAX, "session state names");
_Static_assert(ARRAY_SIZE(uplink_actions) == __CTL_UPLINK_ACTION_MAX, "uplink action names");

const char *ctl_uplink_state_to_string(unsigned st)
{
	return name_of(uplink_states, ARRAY_SIZE(uplink_states), st);
}

const char *ctl_session_state_to_string(unsigned st)
{
	return name_of(session_states, ARRAY_SIZE(session_states), st);
}

const char *ctl_uplink_action_to_string(unsigned a)
{
	return name_of(uplink_actions, ARRAY_SIZE(uplink_actions), a);
}

int ctl_uplink_action_from_string(const char *s)
{
	for (unsigned i = 1; i < ARRAY_SIZE(uplink_actions); i++)
		if (!strcmp(s, uplink_actions[i]))
			return (int)i;
	return -EINVAL;
}
