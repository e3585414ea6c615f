/* metrics_text.c — renders cellmuxd's status as Prometheus text (format 0.0.4): every family
 * once, with HELP and TYPE, its series grouped under it; label values escaped. */
#include "daemon/metrics_text.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"

void mbuf_free(struct mbuf *b)
{
	free(b->data);
	*b = (struct mbuf){ 0 };
}

int mbuf_reserve(struct mbuf *b, size_t cap)
{
	char *d;

	if (cap <= b->cap)
		return 0;
	d = realloc(b->data, cap);
	if (!d) {
		b->failed = true;
		return -ENOMEM;
	}
	b->data = d;
	b->cap = cap;
	return 0;
}

/* Room for n more bytes plus a NUL, growing by doubling so a scrape reallocates a few times. */
static bool room(struct mbuf *b, size_t n)
{
	size_t want = b->len + n + 1, cap = b->cap ? b->cap : 4096;

	if (b->failed)
		return false;
	if (want <= b->cap)
		return true;
	while (cap < want)
		cap *= 2;
	return mbuf_reserve(b, cap) == 0;
}

void mbuf_put(struct mbuf *b, const char *s, size_t n)
{
	if (!room(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void mbuf_puts(struct mbuf *b, const char *s)
{
	mbuf_put(b, s, strlen(s));
}

/* Numbers are formatted into a caller's char[24], right-aligned: returns the first digit. */
static char *fmt_u64(char *end, uint64_t v)
{
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

static uint64_t magnitude(int64_t v)
{
	/* -(v + 1) + 1 stays in range for INT64_MIN. */
	return v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
}

static char *fmt_i64(char *end, int64_t v)
{
	char *p = fmt_u64(end, magnitude(v));

	if (v < 0)
		*--p = '-';
	return p;
}

static char *fmt_milli(char *end, int64_t v)
{
	uint64_t a = magnitude(v);
	char *p = end;

	for (int i = 0; i < 3; i++, a /= 10)
		*--p = (char)('0' + a % 10);
	*--p = '.';
	p = fmt_u64(p, a);
	if (v < 0)
		*--p = '-';
	return p;
}

#define NUM_MAX 24
#define PUT_NUM(b, fmt, v)                                                                 \
	do {                                                                               \
		char _n[NUM_MAX], *_p = fmt(_n + NUM_MAX, v);                              \
		mbuf_put(b, _p, (size_t)(_n + NUM_MAX - _p));                              \
	} while (0)

void mbuf_put_u64(struct mbuf *b, uint64_t v)
{
	PUT_NUM(b, fmt_u64, v);
}

void mbuf_put_i64(struct mbuf *b, int64_t v)
{
	PUT_NUM(b, fmt_i64, v);
}

void mbuf_put_milli(struct mbuf *b, int64_t v)
{
	PUT_NUM(b, fmt_milli, v);
}

/* Copies runs of plain bytes at once; only the three special ones are escaped. */
static void put_escaped(struct mbuf *b, const char *v, const char *special)
{
	while (*v) {
		size_t n = strcspn(v, special);

		mbuf_put(b, v, n);
		v += n;
		if (!*v)
			break;
		mbuf_put(b, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\", 2);
		v++;
	}
}

void mbuf_put_label_value(struct mbuf *b, const char *v)
{
	put_escaped(b, v ? v : "", "\\\"\n");
}

/* ---- series ---- */

/* A series' name and labels as rendered text, without the closing brace. Each object's labels
 * are escaped once per scrape, not once per family: a scrape of 1,000 sessions writes each of
 * them in some twenty families. */
struct text {
	const char *s;
	size_t n;
};

static struct text text_of(const char *s)
{
	return (struct text){ s, strlen(s) };
}

/* name + labels + extra + "} " + value + "\n", with one bounds check. */
static void series(struct mbuf *b, struct text name, struct text labels, struct text extra,
		   const char *num, size_t num_n)
{
	char *p;

	if (!room(b, name.n + labels.n + extra.n + num_n + 3))
		return;
	p = b->data + b->len;
	memcpy(p, name.s, name.n);
	p += name.n;
	memcpy(p, labels.s, labels.n);
	p += labels.n;
	memcpy(p, extra.s, extra.n);
	p += extra.n;
	*p++ = '}';
	*p++ = ' ';
	memcpy(p, num, num_n);
	p += num_n;
	*p++ = '\n';
	*p = '\0';
	b->len = (size_t)(p - b->data);
}

#define SERIES(b, name, labels, extra, fmt, v)                                             \
	do {                                                                               \
		char _n[NUM_MAX], *_p = fmt(_n + NUM_MAX, v);                              \
		series(b, name, labels, extra, _p, (size_t)(_n + NUM_MAX - _p));           \
	} while (0)

static const struct text no_extra = { "", 0 };

static void family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mbuf_puts(b, "# HELP ");
	mbuf_puts(b, name);
	mbuf_put(b, " ", 1);
	put_escaped(b, help, "\\\n"); /* HELP escapes backslash and newline only */
	mbuf_puts(b, "\n# TYPE ");
	mbuf_puts(b, name);
	mbuf_put(b, " ", 1);
	mbuf_puts(b, type);
	mbuf_put(b, "\n", 1);
}

static void label(struct mbuf *b, const char *sep, const char *name, const char *value)
{
	mbuf_puts(b, sep);
	mbuf_puts(b, name);
	mbuf_put(b, "=\"", 2);
	mbuf_put_label_value(b, value);
	mbuf_put(b, "\"", 1);
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* A state set (the _state{state} convention): one series per known state, 1 for the current;
 * a state this list does not know yet still shows, as the only 1. */
struct state {
	const char *name;
	struct text extra; /* ,state="NAME" */
};
#define STATE(s) { s, { ",state=\"" s "\"", sizeof(",state=\"" s "\"") - 1 } }
static const struct state uplink_states[] = {
	STATE("up"), STATE("down"), STATE("connecting"), STATE("draining"),
};
static const struct state health_states[] = {
	STATE("healthy"), STATE("degraded"), STATE("failed"),
};
static const struct state session_states[] = {
	STATE("running"), STATE("backoff"), STATE("stopping"), STATE("stopped"),
};

static void state_set(struct mbuf *b, struct text name, struct text labels,
		      const struct state *states, size_t n, const char *current)
{
	bool known = false;

	for (size_t i = 0; i < n; i++) {
		bool on = str_eq(states[i].name, current);

		known |= on;
		series(b, name, labels, states[i].extra, on ? "1" : "0", 1);
	}
	if (!known && current) {
		mbuf_put(b, name.s, name.n);
		mbuf_put(b, labels.s, labels.n);
		label(b, ",", "state", current);
		mbuf_put(b, "} 1\n", 4);
	}
}

/* The four traffic counters of an uplink and of a session, by field. Without accounting
 * (counters_valid false) an object has no sample: a 0 would read as "no traffic". */
struct traffic_family {
	const char *suffix, *help;
	size_t uplink_off, session_off;
};

#define TRAFFIC(sfx, field, help)                                                          \
	{ sfx, help, offsetof(struct status_uplink, field),                                \
	  offsetof(struct status_session, field) }
static const struct traffic_family traffic[] = {
	TRAFFIC("receive_bytes_total", rx_bytes, "Bytes received"),
	TRAFFIC("transmit_bytes_total", tx_bytes, "Bytes transmitted"),
	TRAFFIC("receive_packets_total", rx_packets, "Packets received"),
	TRAFFIC("transmit_packets_total", tx_packets, "Packets transmitted"),
};

#define REMOVED(sfx, field, help) { sfx, help, offsetof(struct status_uplink, field), 0 }
static const struct traffic_family removed_traffic[] = {
	REMOVED("receive_bytes_total", removed_rx_bytes, "Bytes received"),
	REMOVED("transmit_bytes_total", removed_tx_bytes, "Bytes transmitted"),
	REMOVED("receive_packets_total", removed_rx_packets, "Packets received"),
	REMOVED("transmit_packets_total", removed_tx_packets, "Packets transmitted"),
};

static uint64_t field_u64(const void *obj, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)obj + off, sizeof(v));
	return v;
}

/* ---- the exposition ---- */

struct render {
	const struct metrics_input *in;
	struct mbuf *b;
	/* {uplink="U" per uplink, then {uplink="U",session="S" per session, back to back */
	struct mbuf labels;
	size_t *off; /* n_uplinks + n_sessions + 1 offsets into labels */
};

static struct text uplink_labels(const struct render *r, size_t i)
{
	return (struct text){ r->labels.data + r->off[i], r->off[i + 1] - r->off[i] };
}

static struct text session_labels(const struct render *r, size_t i)
{
	return uplink_labels(r, r->in->n_uplinks + i);
}

static int render_labels(struct render *r)
{
	const struct metrics_input *in = r->in;
	size_t k = 0;

	r->off = malloc((in->n_uplinks + in->n_sessions + 1) * sizeof(*r->off));
	if (!r->off)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_uplinks; i++) {
		r->off[k++] = r->labels.len;
		label(&r->labels, "{", "uplink", in->uplinks[i].name);
	}
	for (size_t i = 0; i < in->n_sessions; i++) {
		r->off[k++] = r->labels.len;
		label(&r->labels, "{", "uplink", in->sessions[i].uplink);
		label(&r->labels, ",", "session", in->sessions[i].name);
	}
	r->off[k] = r->labels.len;
	/* An empty gateway has no labels at all: give data a valid address. */
	mbuf_put(&r->labels, "", 0);
	return r->labels.failed || !r->labels.data ? -ENOMEM : 0;
}

static void render_build(const struct metrics_input *in, struct mbuf *b)
{
	family(b, "cellmux_build_info", "gauge",
	       "cellmux build information; the value is always 1.");
	mbuf_puts(b, "cellmux_build_info");
	label(b, "{", "version", in->daemon ? in->daemon->version : NULL);
	for (size_t i = 0; i < in->n_build_labels; i++)
		label(b, ",", in->build_labels[i].name, in->build_labels[i].value);
	mbuf_put(b, "} 1\n", 4);
}

static void render_backend_one(struct mbuf *b, const char *name, const char *type,
			       const char *help, uint64_t v);

/* The backend link, only where one is configured: a gateway without one has no such series. */
static void render_backend(const struct metrics_input *in, struct mbuf *b)
{
	const struct status_daemon *d = in->daemon;

	if (!d || !d->have_backend)
		return;
	render_backend_one(b, "cellmux_backend_up", "gauge",
			   "Whether the link to the backend is up (hello answered).", d->backend_up);
	render_backend_one(b, "cellmux_backend_queued_events", "gauge",
			   "Worker events stored and waiting for the backend's ack.",
			   d->backend_outbox);
	render_backend_one(b, "cellmux_backend_queued_deliveries", "gauge",
			   "Backend deliveries stored and waiting for a worker's ack.",
			   d->backend_inbox);
	render_backend_one(b, "cellmux_backend_reconnects_total", "counter",
			   "Connection attempts to the backend after the first.",
			   d->backend_reconnects);
}

static void render_uplinks(const struct render *r)
{
	const struct status_uplink *u = r->in->uplinks;
	size_t n = r->in->n_uplinks;
	struct mbuf *b = r->b;
	struct text name;
	char buf[64], help[128];

#define UPLINK_FAMILY(fam, type, help_text)                                                \
	family(b, fam, type, help_text);                                                   \
	name = text_of(fam);

	UPLINK_FAMILY("cellmux_uplink_up", "gauge", "Whether the uplink is up (1) or not (0).");
	for (size_t i = 0; i < n; i++)
		series(b, name, uplink_labels(r, i), no_extra,
		       str_eq(u[i].state, "up") ? "1" : "0", 1);
	UPLINK_FAMILY("cellmux_uplink_state", "gauge",
		      "Uplink state: 1 for the current state, 0 for the others.");
	for (size_t i = 0; i < n; i++)
		state_set(b, name, uplink_labels(r, i), uplink_states, ARRAY_SIZE(uplink_states),
			  u[i].state);
	UPLINK_FAMILY("cellmux_uplink_info", "gauge",
		      "Uplink description: driver, interface, and operator and radio access "
		      "technology where the driver knows them; the value is always 1.");
	for (size_t i = 0; i < n; i++) {
		struct text l = uplink_labels(r, i);

		mbuf_put(b, name.s, name.n);
		mbuf_put(b, l.s, l.n);
		label(b, ",", "driver", u[i].driver);
		label(b, ",", "interface", u[i].ifname);
		if (u[i].operator_name)
			label(b, ",", "operator", u[i].operator_name);
		if (u[i].rat)
			label(b, ",", "rat", u[i].rat);
		mbuf_put(b, "} 1\n", 4);
	}
	for (size_t k = 0; k < ARRAY_SIZE(traffic); k++) {
		snprintf(buf, sizeof(buf), "cellmux_uplink_%s", traffic[k].suffix);
		snprintf(help, sizeof(help), "%s through the uplink's interface.", traffic[k].help);
		family(b, buf, "counter", help);
		name = text_of(buf);
		for (size_t i = 0; i < n; i++)
			if (u[i].counters_valid)
				SERIES(b, name, uplink_labels(r, i), no_extra, fmt_u64,
				       field_u64(&u[i], traffic[k].uplink_off));
	}
	/* Removed sessions' final counters (the store's sums), per uplink: with the live sessions'
	 * series they add up to everything the uplink's sessions ever moved, across restarts. */
	UPLINK_FAMILY("cellmux_uplink_removed_sessions_total", "counter",
		      "Sessions removed from the uplink whose final counters are kept.");
	for (size_t i = 0; i < n; i++)
		if (u[i].removed_valid)
			SERIES(b, name, uplink_labels(r, i), no_extra, fmt_u64,
			       u[i].removed_sessions);
	for (size_t k = 0; k < ARRAY_SIZE(removed_traffic); k++) {
		snprintf(buf, sizeof(buf), "cellmux_uplink_removed_sessions_%s",
			 removed_traffic[k].suffix);
		snprintf(help, sizeof(help), "%s by sessions since removed from the uplink.",
			 removed_traffic[k].help);
		family(b, buf, "counter", help);
		name = text_of(buf);
		for (size_t i = 0; i < n; i++)
			if (u[i].removed_valid)
				SERIES(b, name, uplink_labels(r, i), no_extra, fmt_u64,
				       field_u64(&u[i], removed_traffic[k].uplink_off));
	}
	UPLINK_FAMILY("cellmux_uplink_quota_limit_bytes", "gauge",
		      "Data quota of the uplink, for uplinks that have one.");
	for (size_t i = 0; i < n; i++)
		if (u[i].quota_bytes)
			SERIES(b, name, uplink_labels(r, i), no_extra, fmt_u64, u[i].quota_bytes);
	UPLINK_FAMILY("cellmux_uplink_quota_used_bytes", "gauge",
		      "Data counted against the uplink's quota, for uplinks that have one.");
	for (size_t i = 0; i < n; i++)
		if (u[i].quota_bytes)
			SERIES(b, name, uplink_labels(r, i), no_extra, fmt_u64,
			       u[i].quota_used_bytes);
	UPLINK_FAMILY("cellmux_uplink_quota_reached", "gauge",
		      "Whether the uplink's quota is used up (1) or not (0), for uplinks that have "
		      "one.");
	for (size_t i = 0; i < n; i++)
		if (u[i].quota_bytes)
			series(b, name, uplink_labels(r, i), no_extra,
			       u[i].quota_reached ? "1" : "0", 1);
	UPLINK_FAMILY("cellmux_uplink_reconnects_total", "counter",
		      "Times the uplink's data connection was re-established.");
	for (size_t i = 0; i < n; i++)
		SERIES(b, name, uplink_labels(r, i), no_extra, fmt_u64, u[i].reconnects);
	UPLINK_FAMILY("cellmux_uplink_sessions", "gauge",
		      "Sessions placed on the uplink, whatever their state.");
	for (size_t i = 0; i < n; i++)
		SERIES(b, name, uplink_labels(r, i), no_extra, fmt_u64, u[i].sessions);
	UPLINK_FAMILY("cellmux_uplink_capacity_sessions", "gauge",
		      "Most sessions the uplink takes.");
	for (size_t i = 0; i < n; i++)
		SERIES(b, name, uplink_labels(r, i), no_extra, fmt_u64, u[i].capacity);
	UPLINK_FAMILY("cellmux_uplink_signal_dbm", "gauge",
		      "Signal strength reported by the modem in dBm, where the driver knows it.");
	for (size_t i = 0; i < n; i++)
		if (u[i].signal_dbm != INT_MIN)
			SERIES(b, name, uplink_labels(r, i), no_extra, fmt_i64, u[i].signal_dbm);
	UPLINK_FAMILY("cellmux_uplink_healthy", "gauge",
		      "Whether the uplink's health checks pass (1: healthy or degraded) or not (0).");
	for (size_t i = 0; i < n; i++)
		if (u[i].health)
			series(b, name, uplink_labels(r, i), no_extra,
			       str_eq(u[i].health, "failed") ? "0" : "1", 1);
	UPLINK_FAMILY("cellmux_uplink_health", "gauge",
		      "Uplink health: 1 for the current verdict, 0 for the others.");
	for (size_t i = 0; i < n; i++)
		if (u[i].health)
			state_set(b, name, uplink_labels(r, i), health_states,
				  ARRAY_SIZE(health_states), u[i].health);
	/* The live state: what the driver learned (DHCP lease, QMI settings), never the
	 * config's copy. One series per address, so a query can join on it. */
	UPLINK_FAMILY("cellmux_uplink_address_info", "gauge",
		      "Addresses, gateways and DNS servers the uplink has now, as its driver "
		      "learned them; the value is always 1.");
	for (size_t i = 0; i < n; i++) {
		static const struct {
			const char *kind;
			size_t arr, n, size, max;
		} lists[] = {
			{ "address", offsetof(struct status_uplink, addresses),
			  offsetof(struct status_uplink, n_addresses), 48, STATUS_MAX_ADDRS },
			{ "gateway", offsetof(struct status_uplink, gateways),
			  offsetof(struct status_uplink, n_gateways), 48, 2 },
			{ "dns", offsetof(struct status_uplink, dns),
			  offsetof(struct status_uplink, n_dns), 48, 3 },
		};
		struct text l = uplink_labels(r, i);

		for (size_t k = 0; k < ARRAY_SIZE(lists); k++) {
			size_t cnt;

			memcpy(&cnt, (const char *)&u[i] + lists[k].n, sizeof(cnt));
			for (size_t a = 0; a < cnt && a < lists[k].max; a++) {
				mbuf_put(b, name.s, name.n);
				mbuf_put(b, l.s, l.n);
				label(b, ",", "kind", lists[k].kind);
				label(b, ",", "address",
				      (const char *)&u[i] + lists[k].arr + a * lists[k].size);
				mbuf_put(b, "} 1\n", 4);
			}
		}
	}
	UPLINK_FAMILY("cellmux_uplink_last_error_timestamp_seconds", "gauge",
		      "When the uplink's driver last reported an error (cellmuxctl uplink show "
		      "has its reason), for uplinks that had one.");
	for (size_t i = 0; i < n; i++)
		if (u[i].last_error) {
			struct text l = uplink_labels(r, i);

			mbuf_put(b, name.s, name.n);
			mbuf_put(b, l.s, l.n);
			mbuf_put(b, "} ", 2);
			mbuf_put_milli(b, u[i].last_error_unix_ms);
			mbuf_put(b, "\n", 1);
		}
	UPLINK_FAMILY("cellmux_uplink_recoveries_total", "counter",
		      "Steps of the recovery ladder taken on the uplink while it stayed failed: "
		      "reconnect (the data session redone), reset (the modem reset).");
	for (size_t i = 0; i < n; i++) {
		static const struct text steps[] = {
			{ ",step=\"reconnect\"", sizeof(",step=\"reconnect\"") - 1 },
			{ ",step=\"reset\"", sizeof(",step=\"reset\"") - 1 },
		};

		SERIES(b, name, uplink_labels(r, i), steps[0], fmt_u64,
		       u[i].recoveries[RECOVERY_RECONNECT]);
		SERIES(b, name, uplink_labels(r, i), steps[1], fmt_u64,
		       u[i].recoveries[RECOVERY_RESET]);
	}
#undef UPLINK_FAMILY
}

/* What the kernel says of each session's cgroup, only while it has a worker: a stopped
 * session has no series rather than stale ones, and an unlimited one no *_max series. */
static const struct cgroup_family {
	const char *name, *type, *help;
	size_t have_off;  /* the bool of struct cgroup_usage that says it was read */
	size_t value_off; /* its uint64_t (cpu_weight, an unsigned, is done apart) */
	bool limit;       /* CGROUP_MAX: no series */
} cgroup_families[] = {
#define CGF(n, t, h, have, field, lim) \
	{ n, t, h, offsetof(struct cgroup_usage, have), offsetof(struct cgroup_usage, field), lim }
	CGF("cellmux_session_memory_bytes", "gauge",
	    "Memory charged to the session's cgroup, for sessions with a worker.", have_memory,
	    memory_current, false),
	CGF("cellmux_session_memory_max_bytes", "gauge",
	    "Memory limit of the session's cgroup, for sessions with a worker and a limit.",
	    have_memory, memory_max, true),
	CGF("cellmux_session_oom_kills_total", "counter",
	    "Processes of the session's cgroup killed by the OOM killer, for sessions with a "
	    "worker.",
	    have_memory, oom_kills, false),
	CGF("cellmux_session_tasks", "gauge",
	    "Processes and threads in the session's cgroup, for sessions with a worker.", have_pids,
	    pids_current, false),
	CGF("cellmux_session_tasks_max", "gauge",
	    "Limit on processes and threads in the session's cgroup, for sessions with a worker "
	    "and a limit.",
	    have_pids, pids_max, true),
#undef CGF
};

static void render_session_cgroups(const struct render *r)
{
	const struct status_session *s = r->in->sessions;
	size_t n = r->in->n_sessions;
	struct mbuf *b = r->b;
	struct text name;

	for (size_t k = 0; k < ARRAY_SIZE(cgroup_families); k++) {
		const struct cgroup_family *f = &cgroup_families[k];

		family(b, f->name, f->type, f->help);
		name = text_of(f->name);
		for (size_t i = 0; i < n; i++) {
			const char *u = (const char *)&s[i].usage;
			uint64_t v = field_u64(u, f->value_off);

			if (s[i].have_usage && u[f->have_off] && !(f->limit && v == CGROUP_MAX))
				SERIES(b, name, session_labels(r, i), no_extra, fmt_u64, v);
		}
	}
	family(b, "cellmux_session_cpu_weight", "gauge",
	       "CPU weight of the session's cgroup (1 to 10000, 100 by default), for sessions with "
	       "a worker.");
	name = text_of("cellmux_session_cpu_weight");
	for (size_t i = 0; i < n; i++)
		if (s[i].have_usage && s[i].usage.have_cpu)
			SERIES(b, name, session_labels(r, i), no_extra, fmt_u64, s[i].usage.cpu_weight);
}

static void render_sessions(const struct render *r)
{
	const struct status_session *s = r->in->sessions;
	size_t n = r->in->n_sessions;
	struct mbuf *b = r->b;
	struct text name;
	char buf[64], help[128];

#define SESSION_FAMILY(fam, type, help_text)                                               \
	family(b, fam, type, help_text);                                                   \
	name = text_of(fam);

	SESSION_FAMILY("cellmux_session_info", "gauge",
		       "Session description: the profile its worker runs; the value is always 1.");
	for (size_t i = 0; i < n; i++) {
		struct text l = session_labels(r, i);

		mbuf_put(b, name.s, name.n);
		mbuf_put(b, l.s, l.n);
		label(b, ",", "profile", s[i].profile);
		mbuf_put(b, "} 1\n", 4);
	}
	SESSION_FAMILY("cellmux_session_up", "gauge",
		       "Whether the session's worker is running (1) or not (0).");
	for (size_t i = 0; i < n; i++)
		series(b, name, session_labels(r, i), no_extra,
		       str_eq(s[i].state, "running") ? "1" : "0", 1);
	SESSION_FAMILY("cellmux_session_state", "gauge",
		       "Session state: 1 for the current state, 0 for the others.");
	for (size_t i = 0; i < n; i++)
		state_set(b, name, session_labels(r, i), session_states,
			  ARRAY_SIZE(session_states), s[i].state);
	SESSION_FAMILY("cellmux_session_restarts_total", "counter",
		       "Times the session's worker was started again after the first start.");
	for (size_t i = 0; i < n; i++)
		SERIES(b, name, session_labels(r, i), no_extra, fmt_u64, s[i].restarts);
	SESSION_FAMILY("cellmux_session_moves_total", "counter",
		       "Times the router moved the session to another uplink.");
	for (size_t i = 0; i < n; i++)
		SERIES(b, name, session_labels(r, i), no_extra, fmt_u64, s[i].moves);
	for (size_t k = 0; k < ARRAY_SIZE(traffic); k++) {
		snprintf(buf, sizeof(buf), "cellmux_session_%s", traffic[k].suffix);
		snprintf(help, sizeof(help), "%s by the session's workers.", traffic[k].help);
		family(b, buf, "counter", help);
		name = text_of(buf);
		for (size_t i = 0; i < n; i++)
			if (s[i].counters_valid)
				SERIES(b, name, session_labels(r, i), no_extra, fmt_u64,
				       field_u64(&s[i], traffic[k].session_off));
	}
	SESSION_FAMILY("cellmux_session_quota_limit_bytes", "gauge",
		       "Data quota of the session, for sessions that have one.");
	for (size_t i = 0; i < n; i++)
		if (s[i].quota_bytes)
			SERIES(b, name, session_labels(r, i), no_extra, fmt_u64, s[i].quota_bytes);
	SESSION_FAMILY("cellmux_session_quota_used_bytes", "gauge",
		       "Data counted against the session's quota, for sessions that have one.");
	for (size_t i = 0; i < n; i++)
		if (s[i].quota_bytes)
			SERIES(b, name, session_labels(r, i), no_extra, fmt_u64,
			       s[i].quota_used_bytes);
	SESSION_FAMILY("cellmux_session_quota_reached", "gauge",
		       "Whether the session's quota is used up (1) or not (0), for sessions that "
		       "have one.");
	for (size_t i = 0; i < n; i++)
		if (s[i].quota_bytes)
			series(b, name, session_labels(r, i), no_extra,
			       s[i].quota_reached ? "1" : "0", 1);
	/* The worker's state token only: its message and fields are free text, a label each
	 * would make a new series per value. */
	SESSION_FAMILY("cellmux_session_status_info", "gauge",
		       "The state the session's worker gave in its last Status; the value is always "
		       "1. For sessions with a Status.");
	for (size_t i = 0; i < n; i++)
		if (s[i].worker_status) {
			struct text l = session_labels(r, i);

			mbuf_put(b, name.s, name.n);
			mbuf_put(b, l.s, l.n);
			label(b, ",", "state", s[i].worker_status->state);
			mbuf_put(b, "} 1\n", 4);
		}
	SESSION_FAMILY("cellmux_session_status_timestamp_seconds", "gauge",
		       "When the daemon received the last Status of the session's worker, seconds "
		       "since the Unix epoch. For sessions with a Status.");
	for (size_t i = 0; i < n; i++)
		if (s[i].worker_status)
			SERIES(b, name, session_labels(r, i), no_extra, fmt_milli,
			       s[i].worker_status_unix_ms);
	render_session_cgroups(r);
#undef SESSION_FAMILY
}

static void plain(struct mbuf *b, const char *name, const char *num, size_t num_n)
{
	mbuf_puts(b, name);
	mbuf_put(b, " ", 1);
	mbuf_put(b, num, num_n);
	mbuf_put(b, "\n", 1);
}

#define PLAIN(b, name, fmt, v)                                                             \
	do {                                                                               \
		char _n[NUM_MAX], *_p = fmt(_n + NUM_MAX, v);                              \
		plain(b, name, _p, (size_t)(_n + NUM_MAX - _p));                           \
	} while (0)

static void render_backend_one(struct mbuf *b, const char *name, const char *type,
			       const char *help, uint64_t v)
{
	family(b, name, type, help);
	PLAIN(b, name, fmt_u64, v);
}

/* The names, types and help of the Prometheus client libraries, so dashboards just work. */
static void render_process(const struct metrics_process *p, struct mbuf *b)
{
	family(b, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds.");
	PLAIN(b, "process_cpu_seconds_total", fmt_milli, p->cpu_ms);
	family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
	PLAIN(b, "process_open_fds", fmt_u64, p->open_fds);
	family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
	PLAIN(b, "process_max_fds", fmt_u64, p->max_fds);
	family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	PLAIN(b, "process_virtual_memory_bytes", fmt_u64, p->virtual_bytes);
	family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	PLAIN(b, "process_resident_memory_bytes", fmt_u64, p->resident_bytes);
	family(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	if (p->start_time_ms) /* 0: the boot time was unreadable; no sample beats a wrong one */
		PLAIN(b, "process_start_time_seconds", fmt_milli, p->start_time_ms);
}

int metrics_render(const struct metrics_input *in, struct mbuf *out)
{
	struct render r = { .in = in, .b = out };
	int ret = render_labels(&r);

	if (ret == 0) {
		render_build(in, out);
		render_backend(in, out);
		render_uplinks(&r);
		render_sessions(&r);
		if (in->process)
			render_process(in->process, out);
		ret = out->failed ? -ENOMEM : 0;
	}
	mbuf_free(&r.labels);
	free(r.off);
	return ret;
}
