/* uplink.c — `cellmuxctl uplink`: list, show, and up/down/reconnect/drain, one uplink at a time. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "tools/cellmuxctl/cellmuxctl.h"

static void json_uplink(struct json *j, const struct ctl_uplink_info *u)
{
	const struct ctl_counters *c = &u->counters;

	json_open(j, NULL, '{');
	json_str(j, "name", u->name);
	json_str_or_null(j, "driver", u->driver);
	json_str(j, "state", ctl_uplink_state_to_string(u->state));
	json_str_or_null(j, "interface", u->interface);
	json_str_or_null(j, "device", u->device);
	json_str_or_null(j, "netns", u->netns);
	json_open(j, "addresses", '[');
	for (size_t i = 0; i < u->n_addresses; i++)
		json_str(j, NULL, u->addresses[i]);
	json_close(j, ']');
	json_u64(j, "sessions", u->sessions);
	json_u64(j, "capacity", u->capacity);
	if (c->valid) {
		json_u64(j, "rx_bytes", c->rx_bytes);
		json_u64(j, "tx_bytes", c->tx_bytes);
		json_u64(j, "rx_packets", c->rx_packets);
		json_u64(j, "tx_packets", c->tx_packets);
	} else {
		json_null(j, "rx_bytes");
		json_null(j, "tx_bytes");
		json_null(j, "rx_packets");
		json_null(j, "tx_packets");
	}
	if (u->have_quota) {
		json_u64(j, "quota_bytes", u->quota_bytes);
		json_u64(j, "quota_used_bytes", u->quota_used_bytes);
		json_bool(j, "quota_reached", u->quota_reached);
	} else {
		json_null(j, "quota_bytes");
		json_null(j, "quota_used_bytes");
		json_null(j, "quota_reached");
	}
	json_u64(j, "reconnects", u->reconnects);
	if (u->have_signal)
		json_s64(j, "signal_dbm", u->signal_dbm);
	else
		json_null(j, "signal_dbm");
	json_str_or_null(j, "operator", u->operator_name);
	json_str_or_null(j, "rat", u->rat);
	if (u->removed.valid) {
		json_open(j, "removed", '{');
		json_u64(j, "sessions", u->removed_sessions);
		json_u64(j, "rx_bytes", u->removed.rx_bytes);
		json_u64(j, "tx_bytes", u->removed.tx_bytes);
		json_u64(j, "rx_packets", u->removed.rx_packets);
		json_u64(j, "tx_packets", u->removed.tx_packets);
		json_close(j, '}');
	} else {
		json_null(j, "removed");
	}
	json_str_or_null(j, "health", u->health);
	json_str_or_null(j, "health_reason", u->health_reason);
	json_open(j, "gateways", '[');
	for (size_t i = 0; i < u->n_gateways; i++)
		json_str(j, NULL, u->gateways[i]);
	json_close(j, ']');
	json_open(j, "dns", '[');
	for (size_t i = 0; i < u->n_dns; i++)
		json_str(j, NULL, u->dns[i]);
	json_close(j, ']');
	json_str_or_null(j, "last_error", u->last_error);
	if (u->last_error[0])
		json_u64(j, "last_error_at_ms", u->last_error_at_ms);
	else
		json_null(j, "last_error_at_ms");
	json_str_or_null(j, "recovery", u->recovery);
	json_str(j, "recovery_last", u->recovery_last[0] ? u->recovery_last : "none");
	json_open(j, "recoveries", '{');
	json_u64(j, "reconnect", u->recoveries_reconnect);
	json_u64(j, "reset", u->recoveries_reset);
	json_close(j, '}');
	json_close(j, '}');
}

static void join_list(const char (*a)[CTL_ADDR_SIZE], size_t n, char *buf, size_t size)
{
	size_t off = 0;

	snprintf(buf, size, "-");
	for (size_t i = 0; i < n && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "", a[i]);
}

static void join_addresses(const struct ctl_uplink_info *u, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < u->n_addresses && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "",
					u->addresses[i]);
	if (!u->n_addresses)
		snprintf(buf, size, "-");
}

static const char *quota_text(const struct ctl_uplink_info *u, char *buf, size_t size)
{
	char used[32], total[32];

	if (!u->have_quota)
		return "-";
	snprintf(buf, size, "%s/%s%s", format_bytes(u->quota_used_bytes, used, sizeof(used)),
		 format_bytes(u->quota_bytes, total, sizeof(total)), u->quota_reached ? "!" : "");
	return buf;
}

static int list_one(const struct ctl_parsed *p, void *data)
{
	struct listing *l = data;
	char addrs[CTL_ADDRS_MAX * (CTL_ADDR_SIZE + 2)], load[32], rx[32] = "-", tx[32] = "-";
	char quota[80];
	struct ctl_uplink_info u;

	ctl_uplink_decode(p->obj, &u);
	if (l->o->json) {
		if (!l->opened)
			json_open(&l->j, NULL, '[');
		l->opened = true;
		json_uplink(&l->j, &u);
		return 0;
	}
	join_addresses(&u, addrs, sizeof(addrs));
	snprintf(load, sizeof(load), "%" PRIu32 "/%" PRIu32, u.sessions, u.capacity);
	if (u.counters.valid) {
		format_bytes(u.counters.rx_bytes, rx, sizeof(rx));
		format_bytes(u.counters.tx_bytes, tx, sizeof(tx));
	}
	table_add(l->t, (const char *const[]){
				u.name,
				ctl_uplink_state_to_string(u.state),
				u.driver[0] ? u.driver : "-",
				u.interface[0] ? u.interface : "-",
				addrs,
				load,
				rx,
				tx,
				quota_text(&u, quota, sizeof(quota)),
			});
	return 0;
}

static int list(const struct opts *o)
{
	static const char *const headers[] = {
		"NAME", "STATE", "DRIVER", "INTERFACE", "ADDRESSES", "SESSIONS", "RX", "TX", "QUOTA",
	};

	return listing_run(o, CTL_CMD_UPLINK_GET, headers, ARRAY_SIZE(headers), list_one);
}

static int show_one(const struct ctl_parsed *p, void *data)
{
	const struct opts *o = data;
	char addrs[CTL_ADDRS_MAX * (CTL_ADDR_SIZE + 2)], buf[256], a[32], b[32];
	struct ctl_uplink_info u;
	const struct ctl_counters *c = &u.counters;
	struct json j;

	ctl_uplink_decode(p->obj, &u);
	if (o->json) {
		json_init(&j, stdout);
		json_uplink(&j, &u);
		json_end(&j);
		return 0;
	}
	printf("uplink ");
	print_safe(stdout, u.name);
	putchar('\n');
	show_field("state", ctl_uplink_state_to_string(u.state));
	show_field("driver", u.driver[0] ? u.driver : "-");
	snprintf(buf, sizeof(buf), "%s (namespace %s)", u.interface[0] ? u.interface : "-",
		 u.netns[0] ? u.netns : "-");
	show_field("interface", buf);
	if (u.device[0])
		show_field("device", u.device);
	join_addresses(&u, addrs, sizeof(addrs));
	show_field("addresses", addrs);
	snprintf(buf, sizeof(buf), "%" PRIu32 " of %" PRIu32, u.sessions, u.capacity);
	show_field("sessions", buf);
	if (c->valid) {
		snprintf(buf, sizeof(buf), "%s (%" PRIu64 " packets)",
			 format_bytes(c->rx_bytes, a, sizeof(a)), c->rx_packets);
		show_field("received", buf);
		snprintf(buf, sizeof(buf), "%s (%" PRIu64 " packets)",
			 format_bytes(c->tx_bytes, a, sizeof(a)), c->tx_packets);
		show_field("sent", buf);
	} else {
		show_field("traffic", "not counted");
	}
	if (u.have_quota) {
		snprintf(buf, sizeof(buf), "%s used of %s%s",
			 format_bytes(u.quota_used_bytes, a, sizeof(a)),
			 format_bytes(u.quota_bytes, b, sizeof(b)),
			 u.quota_reached ? ", reached" : "");
		show_field("quota", buf);
	} else {
		show_field("quota", "none");
	}
	snprintf(buf, sizeof(buf), "%" PRIu32, u.reconnects);
	show_field("reconnects", buf);
	if (u.have_signal || u.operator_name[0] || u.rat[0]) {
		snprintf(a, sizeof(a), "%" PRId32 " dBm", u.signal_dbm);
		snprintf(buf, sizeof(buf), "%s, %s, %s", u.operator_name[0] ? u.operator_name : "-",
			 u.rat[0] ? u.rat : "-", u.have_signal ? a : "-");
		show_field("radio", buf);
	}
	if (u.removed.valid) {
		snprintf(buf, sizeof(buf),
			 "%" PRIu32 " sessions, received %s (%" PRIu64 " packets), sent %s (%" PRIu64
			 " packets)",
			 u.removed_sessions, format_bytes(u.removed.rx_bytes, a, sizeof(a)),
			 u.removed.rx_packets, format_bytes(u.removed.tx_bytes, b, sizeof(b)),
			 u.removed.tx_packets);
		show_field("removed", buf);
	}
	if (u.health[0]) {
		/* The reason is long only when a check's error is: keep the line readable. */
		snprintf(buf, sizeof(buf), "%s (%.200s)", u.health, u.health_reason);
		show_field("health", buf);
	}
	join_list(u.gateways, u.n_gateways, buf, sizeof(buf));
	show_field("gateways", buf);
	join_list(u.dns, u.n_dns, buf, sizeof(buf));
	show_field("dns", buf);
	if (u.last_error[0]) {
		snprintf(buf, sizeof(buf), "%.240s", u.last_error);
		show_field("last error", buf);
	}
	snprintf(buf, sizeof(buf), "%" PRIu32 " reconnects, %" PRIu32 " modem resets%s%.160s",
		 u.recoveries_reconnect, u.recoveries_reset, u.recovery[0] ? "; " : "",
		 u.recovery);
	show_field("recovery", buf);
	return 0;
}

static int show(const struct opts *o, const char *name)
{
	struct request q;
	struct nlattr *n;

	request_start(&q, CTL_CMD_UPLINK_GET, false);
	n = ctl_msg_nest_start(&q.m, CTL_A_UPLINK);
	ctl_msg_put_str(&q.m, CTL_UPLINK_A_NAME, name);
	ctl_msg_nest_end(&q.m, n);
	return ipc_call(o, &q, show_one, (void *)o);
}

static int set_state(const struct opts *o, const char *name, int action)
{
	struct request q;
	struct nlattr *n;

	request_start(&q, CTL_CMD_UPLINK_SET_STATE, false);
	n = ctl_msg_nest_start(&q.m, CTL_A_UPLINK);
	ctl_msg_put_str(&q.m, CTL_UPLINK_A_NAME, name);
	ctl_msg_nest_end(&q.m, n);
	ctl_msg_put_u8(&q.m, CTL_A_ACTION, (uint8_t)action);
	return ipc_call(o, &q, NULL, NULL);
}

int uplink_main(int argc, char **argv, const struct opts *o)
{
	const char *cmd = argc > 1 ? argv[1] : "list";
	int action;

	if (!strcmp(cmd, "list")) {
		if (argc > 2)
			return usage_error("uplink list takes no arguments");
		return list(o);
	}
	if (argc != 3)
		return usage_error(argc < 3 ? "uplink %s needs an uplink NAME"
					    : "uplink %s takes one NAME",
				   cmd);
	if (strcmp(cmd, "show") && ctl_uplink_action_from_string(cmd) < 0)
		return usage_error("unknown uplink command '%s' (list, show, up, down, reconnect, "
				   "drain)",
				   cmd);
	if (!name_ok("uplink", argv[2]))
		return EXIT_USAGE;
	if (!strcmp(cmd, "show"))
		return show(o, argv[2]);
	action = ctl_uplink_action_from_string(cmd);
	return set_state(o, argv[2], action);
}
