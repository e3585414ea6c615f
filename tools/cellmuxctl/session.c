/* session.c — `cellmuxctl session`: list, show, start from a profile, stop, restart. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/macro.h"
#include "tools/cellmuxctl/cellmuxctl.h"

static const char *seccomp_name(uint8_t mode)
{
	static const char *const names[] = { "disabled", "strict", "filter" };

	return mode < ARRAY_SIZE(names) ? names[mode] : "unknown";
}

/* Capability sets as the kernel prints them in /proc/PID/status, so they compare as text. */
static const char *cap_hex(uint64_t v, char *buf, size_t size)
{
	snprintf(buf, size, "%016" PRIx64, v);
	return buf;
}

static void json_u64_or_null(struct json *j, const char *key, bool have, uint64_t v)
{
	if (have)
		json_u64(j, key, v);
	else
		json_null(j, key);
}

static void json_sandbox(struct json *j, const struct ctl_session_info *s)
{
	const struct ctl_sandbox_info *x = &s->sandbox;
	char hex[20];

	if (s->have_sandbox) {
		json_open(j, "sandbox", '{');
		json_u64(j, "pid", x->pid);
		json_bool(j, "worker", x->worker);
		json_u64(j, "ns_pid", x->ns_pid);
		json_u64(j, "uid", x->uid);
		json_u64(j, "euid", x->euid);
		json_u64(j, "gid", x->gid);
		json_u64(j, "egid", x->egid);
		json_u64(j, "pidns", x->pidns_inode);
		json_bool(j, "pidns_private", x->pidns_private);
		json_str(j, "seccomp", seccomp_name(x->seccomp));
		json_u64_or_null(j, "seccomp_filters", x->have_seccomp_filters, x->seccomp_filters);
		json_bool(j, "no_new_privs", x->no_new_privs);
		json_str(j, "cap_eff", cap_hex(x->cap_eff, hex, sizeof(hex)));
		json_str(j, "cap_prm", cap_hex(x->cap_prm, hex, sizeof(hex)));
		json_str(j, "cap_bnd", cap_hex(x->cap_bnd, hex, sizeof(hex)));
		json_str(j, "cap_amb", cap_hex(x->cap_amb, hex, sizeof(hex)));
		json_close(j, '}');
	} else {
		json_null(j, "sandbox");
	}
	json_u64_or_null(j, "memory_bytes", s->have_memory, s->memory_bytes);
	json_u64_or_null(j, "memory_max_bytes", s->have_memory_max, s->memory_max_bytes);
	json_u64_or_null(j, "oom_kills", s->have_memory, s->oom_kills);
	json_u64_or_null(j, "tasks", s->have_tasks, s->tasks);
	json_u64_or_null(j, "tasks_max", s->have_tasks_max, s->tasks_max);
	json_u64_or_null(j, "cpu_weight", s->have_cpu_weight, s->cpu_weight);
}

static void json_wstatus(struct json *j, const struct ctl_wstatus_info *st)
{
	const struct worker_status *w = &st->w;

	json_open(j, "status", '{');
	json_str(j, "state", w->state);
	json_str(j, "message", w->message);
	/* The daemon let no key in twice, so an object loses nothing. */
	json_open(j, "fields", '{');
	for (size_t i = 0; i < w->n_fields; i++)
		json_str(j, w->fields[i].key, w->fields[i].value);
	json_close(j, '}');
	json_u64_or_null(j, "time_ms", w->unix_time_ms != 0, w->unix_time_ms);
	json_u64(j, "at_ms", st->at_ms);
	json_close(j, '}');
}

static void json_session(struct json *j, const struct ctl_session_info *s)
{
	const struct ctl_counters *c = &s->counters;

	json_open(j, NULL, '{');
	json_str(j, "name", s->name);
	json_str_or_null(j, "profile", s->profile);
	json_str_or_null(j, "uplink", s->uplink);
	if (s->pid)
		json_u64(j, "pid", s->pid);
	else
		json_null(j, "pid");
	json_str(j, "state", ctl_session_state_to_string(s->state));
	json_u64(j, "restarts", s->restarts);
	json_u64(j, "moves", s->moves);
	json_str_or_null(j, "wait_reason", s->wait_reason);
	if (s->pid)
		json_u64(j, "uptime_ms", s->uptime_ms);
	else
		json_null(j, "uptime_ms");
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
	if (s->have_quota) {
		json_u64(j, "quota_bytes", s->quota_bytes);
		json_u64(j, "quota_used_bytes", s->quota_used_bytes);
		json_bool(j, "quota_reached", s->quota_reached);
	} else {
		json_null(j, "quota_bytes");
		json_null(j, "quota_used_bytes");
		json_null(j, "quota_reached");
	}
	/* Retired with the probe's own Report; kept, null, as the schema never drops a key. */
	json_null(j, "last_report");
	if (s->have_status)
		json_wstatus(j, &s->status);
	else
		json_null(j, "status");
	json_sandbox(j, s);
	json_close(j, '}');
}

static int list_one(const struct ctl_parsed *p, void *data)
{
	struct listing *l = data;
	char pid[16], restarts[16], up[32], rx[32] = "-", tx[32] = "-";
	struct ctl_session_info s;

	ctl_session_decode(p->obj, &s);
	if (l->o->json) {
		if (!l->opened)
			json_open(&l->j, NULL, '[');
		l->opened = true;
		json_session(&l->j, &s);
		return 0;
	}
	snprintf(pid, sizeof(pid), "%" PRIu32, s.pid);
	if (s.counters.valid) {
		format_bytes(s.counters.rx_bytes, rx, sizeof(rx));
		format_bytes(s.counters.tx_bytes, tx, sizeof(tx));
	}
	snprintf(restarts, sizeof(restarts), "%" PRIu32, s.restarts);
	table_add(l->t, (const char *const[]){
				s.name,
				s.profile[0] ? s.profile : "-",
				s.uplink[0] ? s.uplink : "-",
				ctl_session_state_to_string(s.state),
				s.pid ? pid : "-",
				restarts,
				s.pid ? format_duration(s.uptime_ms, up, sizeof(up)) : "-",
				rx,
				tx,
			});
	return 0;
}

static int list(const struct opts *o)
{
	static const char *const headers[] = { "NAME",	   "PROFILE", "UPLINK", "STATE", "PID",
					       "RESTARTS", "UPTIME",  "RX",	"TX" };

	return listing_run(o, CTL_CMD_SESSION_GET, headers, ARRAY_SIZE(headers), list_one);
}

static void show_wstatus(const struct ctl_wstatus_info *st)
{
	const struct worker_status *w = &st->w;
	uint64_t now_ms = (uint64_t)time(NULL) * 1000;
	char buf[WORKER_STATUS_KEY_MAX + WORKER_STATUS_VALUE_MAX + 64], ago[32];

	snprintf(buf, sizeof(buf), "%s, %s ago", w->state,
		 format_duration(now_ms > st->at_ms ? now_ms - st->at_ms : 0, ago, sizeof(ago)));
	show_field("status", buf);
	if (w->message[0])
		show_field("", w->message);
	for (size_t i = 0; i < w->n_fields; i++) {
		snprintf(buf, sizeof(buf), "%s: %s", w->fields[i].key, w->fields[i].value);
		show_field("", buf);
	}
}

/* A real id, and the effective one only when it differs (it never should in a session). */
static void show_id(const char *key, uint32_t real, uint32_t eff)
{
	char buf[64];

	if (real == eff)
		snprintf(buf, sizeof(buf), "%" PRIu32, real);
	else
		snprintf(buf, sizeof(buf), "%" PRIu32 " (effective %" PRIu32 ")", real, eff);
	show_field(key, buf);
}

static void show_sandbox(const struct ctl_session_info *s)
{
	const struct ctl_sandbox_info *x = &s->sandbox;
	char buf[160], a[32], b[32], c[20], d[20];

	if (!s->have_sandbox) {
		show_field("sandbox", "-");
	} else {
		snprintf(buf, sizeof(buf), "pid %" PRIu32 " is %" PRIu32 " in %s PID namespace%s",
			 x->pid, x->ns_pid, x->pidns_private ? "its own" : "the daemon's",
			 x->worker ? "" : " (the session's init: no worker yet)");
		show_field("sandbox", buf);
		snprintf(buf, sizeof(buf), "pid:[%" PRIu64 "]", x->pidns_inode);
		show_field("pid ns", buf);
		show_id("uid", x->uid, x->euid);
		show_id("gid", x->gid, x->egid);
		if (x->have_seccomp_filters)
			snprintf(buf, sizeof(buf), "%s, %" PRIu32 " filter%s", seccomp_name(x->seccomp),
				 x->seccomp_filters, x->seccomp_filters == 1 ? "" : "s");
		else
			snprintf(buf, sizeof(buf), "%s", seccomp_name(x->seccomp));
		show_field("seccomp", buf);
		show_field("no_new_privs", x->no_new_privs ? "1" : "0");
		snprintf(buf, sizeof(buf), "eff %s prm %s", cap_hex(x->cap_eff, c, sizeof(c)),
			 cap_hex(x->cap_prm, d, sizeof(d)));
		show_field("caps", buf);
		snprintf(buf, sizeof(buf), "bnd %s amb %s", cap_hex(x->cap_bnd, c, sizeof(c)),
			 cap_hex(x->cap_amb, d, sizeof(d)));
		show_field("", buf);
	}
	if (s->have_memory) {
		snprintf(buf, sizeof(buf), "%s of %s, %" PRIu64 " OOM kill%s",
			 format_bytes(s->memory_bytes, a, sizeof(a)),
			 s->have_memory_max ? format_bytes(s->memory_max_bytes, b, sizeof(b))
					    : "unlimited",
			 s->oom_kills, s->oom_kills == 1 ? "" : "s");
		show_field("memory", buf);
	}
	if (s->have_tasks) {
		snprintf(b, sizeof(b), "%" PRIu64, s->tasks_max);
		snprintf(buf, sizeof(buf), "%" PRIu64 " of %s", s->tasks,
			 s->have_tasks_max ? b : "unlimited");
		show_field("tasks", buf);
	}
	if (s->have_cpu_weight) {
		snprintf(buf, sizeof(buf), "%" PRIu32, s->cpu_weight);
		show_field("cpu weight", buf);
	}
}

static void show_human(const struct ctl_session_info *s)
{
	const struct ctl_counters *c = &s->counters;
	char buf[128], a[32];

	printf("session ");
	print_safe(stdout, s->name);
	putchar('\n');
	show_field("profile", s->profile[0] ? s->profile : "-");
	show_field("uplink", s->uplink[0] ? s->uplink : "-");
	show_field("state", ctl_session_state_to_string(s->state));
	if (s->pid) {
		snprintf(buf, sizeof(buf), "%" PRIu32 " (up %s)", s->pid,
			 format_duration(s->uptime_ms, a, sizeof(a)));
		show_field("pid", buf);
	} else {
		show_field("pid", "-");
	}
	snprintf(buf, sizeof(buf), "%" PRIu32, s->restarts);
	show_field("restarts", buf);
	snprintf(buf, sizeof(buf), "%" PRIu32, s->moves);
	show_field("moves", buf);
	if (s->wait_reason[0])
		show_field("waiting", s->wait_reason);
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
	if (s->have_quota) {
		char b[32];

		snprintf(buf, sizeof(buf), "%s used of %s%s",
			 format_bytes(s->quota_used_bytes, a, sizeof(a)),
			 format_bytes(s->quota_bytes, b, sizeof(b)),
			 s->quota_reached ? ", reached" : "");
		show_field("quota", buf);
	}
	if (s->have_status)
		show_wstatus(&s->status);
	else
		show_field("status", "none yet");
	show_sandbox(s);
}

static int show_one(const struct ctl_parsed *p, void *data)
{
	const struct opts *o = data;
	struct ctl_session_info s;
	struct json j;

	ctl_session_decode(p->obj, &s);
	if (o->json) {
		json_init(&j, stdout);
		json_session(&j, &s);
		json_end(&j);
	} else {
		show_human(&s);
	}
	return 0;
}

static int started(const struct ctl_parsed *p, void *data)
{
	const struct opts *o = data;
	struct ctl_session_info s;
	struct json j;

	ctl_session_decode(p->obj, &s);
	if (o->json) {
		json_init(&j, stdout);
		json_session(&j, &s);
		json_end(&j);
		return 0;
	}
	printf("session ");
	print_safe(stdout, s.name);
	printf(" started on uplink ");
	print_safe(stdout, s.uplink[0] ? s.uplink : "-");
	if (s.pid)
		printf(" (pid %" PRIu32 ")", s.pid);
	else
		printf(" (%s)", ctl_session_state_to_string(s.state));
	putchar('\n');
	return 0;
}

static int by_name(const struct opts *o, uint8_t cmd, const char *name, object_fn fn)
{
	struct request q;
	struct nlattr *n;

	request_start(&q, cmd, false);
	n = ctl_msg_nest_start(&q.m, CTL_A_SESSION);
	ctl_msg_put_str(&q.m, CTL_SESSION_A_NAME, name);
	ctl_msg_nest_end(&q.m, n);
	return ipc_call(o, &q, fn, (void *)o);
}

static int start(int argc, char **argv, const struct opts *o)
{
	static const struct option options[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "uplink", required_argument, NULL, 'u' },
		{ "name", required_argument, NULL, 'n' },
		{},
	};
	const char *profile = NULL, *uplink = NULL, *name = NULL;
	struct request q;
	struct nlattr *n;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+p:u:n:", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			profile = optarg;
			break;
		case 'u':
			uplink = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		default:
			return usage_error("session start --profile P [--uplink U] [--name N]");
		}
	}
	if (optind != argc)
		return usage_error("session start: unexpected '%s'", argv[optind]);
	if (!profile)
		return usage_error("session start needs --profile");
	if (!name_ok("profile", profile) || (uplink && !name_ok("uplink", uplink)) ||
	    (name && !name_ok("session", name)))
		return EXIT_USAGE;
	request_start(&q, CTL_CMD_SESSION_START, false);
	n = ctl_msg_nest_start(&q.m, CTL_A_SESSION);
	ctl_msg_put_str(&q.m, CTL_SESSION_A_PROFILE, profile);
	if (uplink)
		ctl_msg_put_str(&q.m, CTL_SESSION_A_UPLINK, uplink);
	if (name)
		ctl_msg_put_str(&q.m, CTL_SESSION_A_NAME, name);
	ctl_msg_nest_end(&q.m, n);
	return ipc_call(o, &q, started, (void *)o);
}

int session_main(int argc, char **argv, const struct opts *o)
{
	const char *cmd = argc > 1 ? argv[1] : "list";
	uint8_t by_cmd;
	object_fn fn = NULL;

	if (!strcmp(cmd, "list")) {
		if (argc > 2)
			return usage_error("session list takes no arguments");
		return list(o);
	}
	if (!strcmp(cmd, "start"))
		return start(argc - 1, argv + 1, o);
	if (!strcmp(cmd, "show")) {
		by_cmd = CTL_CMD_SESSION_GET;
		fn = show_one;
	} else if (!strcmp(cmd, "stop")) {
		by_cmd = CTL_CMD_SESSION_STOP;
	} else if (!strcmp(cmd, "restart")) {
		by_cmd = CTL_CMD_SESSION_RESTART;
	} else {
		return usage_error("unknown session command '%s' (list, show, start, stop, "
				   "restart)",
				   cmd);
	}
	if (argc != 3)
		return usage_error(argc < 3 ? "session %s needs a session NAME"
					    : "session %s takes one NAME",
				   cmd);
	if (!name_ok("session", argv[2]))
		return EXIT_USAGE;
	return by_name(o, by_cmd, argv[2], fn);
}
