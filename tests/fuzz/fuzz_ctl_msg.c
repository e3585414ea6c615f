/* fuzz_ctl_msg.c — libFuzzer target for the admin protocol's parser (proto/ctl_msg.c, included):
 * any bytes are refused, or parse into objects that re-encode and re-parse unchanged. */
#include "proto/ctl_msg.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parsed objects re-encoded must parse again, to the same thing. */
static void round_trip(const struct ctl_parsed *p)
{
	static uint32_t out[CTL_MSG_MAX / 4];
	static struct ctl_session_info s1, s2;
	static struct ctl_uplink_info u1, u2;
	static struct ctl_status_info st1, st2;
	uint16_t obj = ctl_cmd_policy[p->cmd].answer;
	struct ctl_parsed q;
	struct ctl_msg m;
	size_t len;

	ctl_msg_start(&m, out, sizeof(out), 0, 1, p->cmd);
	if (obj == CTL_A_SESSION) {
		ctl_session_decode(p->obj, &s1);
		ctl_session_encode(&m, &s1);
	} else if (obj == CTL_A_UPLINK) {
		ctl_uplink_decode(p->obj, &u1);
		ctl_uplink_encode(&m, &u1);
	} else {
		ctl_status_decode(p->obj, &st1);
		ctl_status_encode(&m, &st1);
	}
	if (ctl_msg_finish(&m, &len) < 0 || ctl_msg_parse(out, len, CTL_DIR_ANSWER, &q, NULL) < 0)
		abort();
	if (obj == CTL_A_SESSION) {
		ctl_session_decode(q.obj, &s2);
		if (memcmp(&s1, &s2, sizeof(s1)))
			abort();
	} else if (obj == CTL_A_UPLINK) {
		ctl_uplink_decode(q.obj, &u2);
		if (memcmp(&u1, &u2, sizeof(u1)))
			abort();
	} else {
		ctl_status_decode(q.obj, &st2);
		if (memcmp(&st1, &st2, sizeof(st1)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The server hands the parser a 4-byte aligned buffer of at most CTL_MSG_MAX bytes. */
	static uint32_t buf[CTL_MSG_MAX / 4];
	struct ctl_parsed p;
	struct ctl_err err;
	const char *msg;
	int error;

	if (size > sizeof(buf))
		return -1;
	memcpy(buf, data, size);

	if (ctl_msg_parse(buf, size, CTL_DIR_REQUEST, &p, &err) == 0) {
		/* What the server's dispatch reads. */
		const struct ctl_policy_set *set = ctl_policy[ctl_cmd_policy[p.cmd].obj].nested;

		for (unsigned t = 0; p.obj && t < CTL_OBJ_TB_SIZE; t++)
			if (p.otb[t] && set->attrs[t].type == CTL_TYPE_STRING)
				(void)strlen(ctl_attr_str(p.otb[t]));
		if (p.tb[CTL_A_ACTION])
			(void)ctl_uplink_action_to_string(ctl_attr_u8(p.tb[CTL_A_ACTION]));
	} else if (!err.msg[0]) {
		abort(); /* every refusal says why */
	}
	if (ctl_msg_parse(buf, size, CTL_DIR_ANSWER, &p, NULL) == 0)
		round_trip(&p);
	if (size >= NLMSG_HDRLEN && ((struct nlmsghdr *)buf)->nlmsg_len >= NLMSG_HDRLEN &&
	    ((struct nlmsghdr *)buf)->nlmsg_len <= size)
		(void)ctl_msg_parse_error((struct nlmsghdr *)buf, &error, &msg);
	return 0;
}
