/* config.c — cellmux.conf into struct cmx_config: one key table per section type, then name
 * resolution and session placement, so a config is whole and consistent or is rejected. */
#include "daemon/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/quota_period.h"
#include "common/macro.h"
#include "daemon/ini.h"
#include "router/router.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define CONFIG_FILE_MAX (1024 * 1024) /* a config this big is a mistake (or /dev/zero) */
#define CAPACITY_MAX 4096
#define DEFAULT_RESTART_SEC_MS 1000
#define DEFAULT_RESTART_MAX_MS 60000
#define SECTION_KEYS_MAX 64
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

struct parser;

enum {
	KEY_REQUIRED = 1 << 0,
	KEY_LIST = 1 << 1, /* comma-separated, may repeat; parse() is called once per item */
	KEY_EMPTY_OK = 1 << 2, /* "key=" means something (listen= disables the listener) */
	KEY_SECRET = 1 << 3,   /* the file must be root's alone (preflight checks) */
};

struct key_def {
	const char *key;
	int (*parse)(struct parser *p, int line, const char *key, const char *value);
	unsigned flags;
};

struct section_def {
	const char *type;
	bool (*name_valid)(const char *name); /* NULL: the section takes no name */
	const char *name_rules;
	/* Checks for a duplicate and appends the object the following keys fill in. */
	int (*begin)(struct parser *p, int line, const char *name);
	/* Checks that need the whole section, after the required keys were checked. */
	int (*end)(struct parser *p);
	const struct key_def *keys;
	size_t n_keys;
};

struct parser {
	const char *path;
	struct cmx_config *c;
	char *err;
	size_t errlen;
	bool failed;

	/* The section being read. */
	const struct section_def *sec;
	char label[64]; /* "[uplink a]", for messages */
	int sec_line;
	int key_line[SECTION_KEYS_MAX]; /* first line of each key of sec->keys, 0 if absent */
	int gw_line[2];                 /* IPv4, IPv6 gateway= lines, for the subnet check */
};

static int __attribute__((format(printf, 3, 4)))
fail(struct parser *p, int line, const char *fmt, ...)
{
	bool first = !p->failed;
	va_list ap;
	int n;

	/* The first error is the one to fix; later ones may only be its echoes. */
	p->failed = true;
	if (!first || !p->err || !p->errlen)
		return -EINVAL;
	n = snprintf(p->err, p->errlen, "%s:%d: ", p->path, line);
	if (n < 0 || (size_t)n >= p->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Grows arr by one zeroed element; evaluates to the new element, or NULL without touching arr. */
#define APPEND(arr, n)                                                                     \
	({                                                                                 \
		__typeof__(arr) _a = reallocarray((arr), (n) + 1, sizeof(*(arr)));        \
		if (_a) {                                                                  \
			memset(&_a[(n)], 0, sizeof(*_a));                                  \
			(arr) = _a;                                                        \
			_a = &_a[(n)++];                                                   \
		}                                                                          \
		_a;                                                                        \
	})

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **s = v; *s; s++)
		free(*s);
	free(v);
}

static void strv_freep(char ***v)
{
	strv_free(*v);
}

/* ---- values ---- */

static const char *const restart_names[] = {
	[RESTART_NO] = "no",
	[RESTART_ON_FAILURE] = "on-failure",
	[RESTART_ALWAYS] = "always",
};

const char *restart_policy_to_string(enum restart_policy p)
{
	if ((size_t)p >= ARRAY_SIZE(restart_names))
		return NULL;
	return restart_names[p];
}

int restart_policy_from_string(const char *s, enum restart_policy *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(restart_names); i++)
		if (!strcmp(s, restart_names[i])) {
			*ret = (enum restart_policy)i;
			return 0;
		}
	return -EINVAL;
}

bool config_name_valid(const char *s)
{
	size_t n = strlen(s);

	/* Names become cgroup directory names: "." and ".." would escape. */
	if (n == 0 || n > CONFIG_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return strspn(s, NAME_CHARS) == n;
}

bool config_uplink_name_valid(const char *s)
{
	size_t n = strlen(s);

	/* Lower case only: the name ends up in "cmx-<name>", nft table and file names. */
	if (n == 0 || n > UPLINK_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* The kernel's dev_valid_name(): at most IFNAMSIZ-1, no '/', ':' or whitespace, not . or .. */
static bool ifname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(((struct uplink_params *)0)->ifname))
		return false;
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s))
			return false;
	return true;
}

/* The portable user name set (useradd's), which also covers numeric uids. */
static bool user_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(((struct cfg_profile *)0)->user) || s[0] == '-')
		return false;
	return strspn(s, NAME_CHARS) == n;
}

/* Unsigned decimal without sign or spaces; at most 9 digits, so it cannot overflow. */
static int parse_decimal(const char *s, unsigned long long *ret, const char **ret_rest)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 9)
		return -EINVAL;
	*ret = strtoull(s, NULL, 10);
	*ret_rest = s + n;
	return 0;
}

static int parse_duration_ms(const char *s, unsigned *ret)
{
	static const struct {
		const char *unit;
		unsigned ms;
	} units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 },
	};
	unsigned long long v;
	const char *unit;

	if (parse_decimal(s, &v, &unit) < 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(unit, units[i].unit)) {
			if (v * units[i].ms > UINT_MAX)
				return -ERANGE;
			*ret = (unsigned)(v * units[i].ms);
			return 0;
		}
	return -EINVAL;
}

/* Splits s the way a POSIX shell splits a simple command into words, minus every expansion:
 * '...' is literal, "..." honours a backslash only before $ ` " and \, an unquoted backslash
 * escapes any character. No $VAR, ~ or globbing: exec= is run as written, never by a shell. */
static int split_words(struct parser *p, int line, const char *s, char ***ret)
{
	_cleanup_(strv_freep) char **argv = NULL;
	_cleanup_free_ char *word = malloc(strlen(s) + 1); /* no word is longer than s */
	size_t n = 0, len = 0;
	bool in_word = false;

	if (!word)
		return -ENOMEM;
	for (const char *c = s;; c++) {
		if (*c == '\0' || isspace((unsigned char)*c)) {
			if (in_word) {
				char **v = reallocarray(argv, n + 2, sizeof(*argv));
				if (!v)
					return -ENOMEM;
				argv = v;
				argv[n] = strndup(word, len);
				argv[n + 1] = NULL;
				if (!argv[n])
					return -ENOMEM;
				n++;
				in_word = false;
				len = 0;
			}
			if (*c == '\0')
				break;
			continue;
		}
		in_word = true; /* even '' makes a (empty) word */
		if (*c == '\'') {
			const char *end = strchr(c + 1, '\'');
			if (!end)
				return fail(p, line, "unterminated ' in exec=");
			memcpy(word + len, c + 1, (size_t)(end - c - 1));
			len += (size_t)(end - c - 1);
			c = end;
		} else if (*c == '"') {
			for (c++; *c != '"'; c++) {
				if (*c == '\0')
					return fail(p, line, "unterminated \" in exec=");
				if (*c == '\\' && c[1] && strchr("$`\"\\", c[1]))
					c++;
				word[len++] = *c;
			}
		} else if (*c == '\\') {
			if (c[1] == '\0')
				return fail(p, line, "exec= ends with a lone backslash");
			word[len++] = *++c;
		} else {
			word[len++] = *c;
		}
	}
	*ret = TAKE_PTR(argv);
	return 0;
}

/* ---- [daemon] ---- */

static int daemon_begin(struct parser *p, int line, const char *name)
{
	if (p->c->daemon.line)
		return fail(p, line, "duplicate [daemon] section (first defined at line %d)",
			    p->c->daemon.line);
	p->c->daemon.line = line;
	return 0;
}

static int daemon_cgroup(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_daemon *d = &p->c->daemon;

	if (value[0] != '/')
		return fail(p, line, "cgroup=%s is not an absolute cgroup v2 path (like /cellmux)",
			    value);
	if (strlen(value) >= sizeof(d->cgroup))
		return fail(p, line, "cgroup= is longer than %zu characters",
			    sizeof(d->cgroup) - 1);
	/* The path is joined under /sys/fs/cgroup; it must not climb out of it. */
	for (const char *s = value; *s;) {
		size_t n = strcspn(s, "/");
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return fail(p, line, "cgroup=%s must not contain '.' or '..'", value);
		s += n + (s[n] == '/');
	}
	strcpy(d->cgroup, value);
	return 0;
}

static int daemon_state_dir(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_daemon *d = &p->c->daemon;

	if (value[0] != '/' || strlen(value) >= sizeof(d->state_dir))
		return fail(p, line, "state_dir=%s is not an absolute path of at most %zu characters",
			    value, sizeof(d->state_dir) - 1);
	strcpy(d->state_dir, value);
	d->state_dir_line = line;
	return 0;
}

/* state_key=, state_key_previous=: key files, read (and their owner and mode checked) when the
 * daemon starts, not here: --check-config may run as someone else. */
static int daemon_state_key(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_daemon *d = &p->c->daemon;
	char *dst = !strcmp(key, "state_key") ? d->state_key : d->state_key_previous;

	if (value[0] != '/' || strlen(value) >= sizeof(d->state_key))
		return fail(p, line, "%s=%s is not an absolute path of at most %zu characters", key,
			    value, sizeof(d->state_key) - 1);
	strcpy(dst, value);
	return 0;
}

/* outbox_max=, outbox_session_max=, inbox_max=: a count of messages. */
static int daemon_queue_max(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_daemon *d = &p->c->daemon;
	unsigned long long v;
	const char *rest;

	if (parse_decimal(value, &v, &rest) < 0 || *rest || v < 1 || v > 100000000)
		return fail(p, line, "%s=%s is not a number of messages in 1..100000000", key,
			    value);
	if (!strcmp(key, "outbox_max"))
		d->outbox_max = (unsigned)v;
	else if (!strcmp(key, "outbox_session_max"))
		d->outbox_session_max = (unsigned)v;
	else
		d->inbox_max = (unsigned)v;
	return 0;
}

static int daemon_uid_range(struct parser *p, int line, const char *key, const char *value)
{
	unsigned long long lo, hi;
	const char *rest;

	/* Root, system accounts and nobody/nogroup (65534) are never handed to a session. */
	if (parse_decimal(value, &lo, &rest) < 0 || *rest != '-' ||
	    parse_decimal(rest + 1, &hi, &rest) < 0 || *rest || lo < 65536 || hi < lo ||
	    hi >= 0xFFFFFFFFull)
		return fail(p, line, "invalid uid_range=%s (FROM-TO with 65536 <= FROM <= TO < "
				     "4294967295)", value);
	p->c->daemon.uid_min = (uint32_t)lo;
	p->c->daemon.uid_max = (uint32_t)hi;
	return 0;
}

static int daemon_ctl_socket(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_daemon *d = &p->c->daemon;

	/* sun_path holds 108 bytes with the NUL. */
	if (value[0] != '/' || strlen(value) >= sizeof(d->ctl_socket))
		return fail(p, line, "ctl_socket=%s is not an absolute path of at most %zu characters",
			    value, sizeof(d->ctl_socket) - 1);
	strcpy(d->ctl_socket, value);
	return 0;
}

static int daemon_bpf_dir(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_daemon *d = &p->c->daemon;

	if (strncmp(value, "/sys/fs/bpf/", 12) || strlen(value) >= sizeof(d->bpf_dir) ||
	    strstr(value, "/."))
		return fail(p, line, "bpf_dir=%s is not a directory under /sys/fs/bpf/", value);
	strcpy(d->bpf_dir, value);
	return 0;
}

static int daemon_ctl_group(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_daemon *d = &p->c->daemon;

	if (strlen(value) >= sizeof(d->ctl_group) || strpbrk(value, ":/ \t"))
		return fail(p, line, "ctl_group=%s is not a group name", value);
	strcpy(d->ctl_group, value);
	d->ctl_group_set = true;
	return 0;
}

static int daemon_counters_save(struct parser *p, int line, const char *key, const char *value)
{
	unsigned v;

	if (parse_duration_ms(value, &v) < 0 || v < 1000 || v > 86400000)
		return fail(p, line, "invalid counters_save_interval=%s (a duration from 1s to 24h)",
			    value);
	p->c->daemon.counters_save_ms = v;
	return 0;
}

/* yes or no, the only spellings of a boolean key; -EINVAL otherwise. */
static int parse_yes_no(const char *value, bool *ret)
{
	if (strcmp(value, "yes") && strcmp(value, "no"))
		return -EINVAL;
	*ret = !strcmp(value, "yes");
	return 0;
}

static int daemon_favor_dynmods(struct parser *p, int line, const char *key, const char *value)
{
	if (parse_yes_no(value, &p->c->daemon.favor_dynmods) < 0)
		return fail(p, line, "cgroup_favor_dynmods=%s: want yes or no", value);
	return 0;
}

static const struct key_def daemon_keys[] = {
	{ "cgroup", daemon_cgroup, 0 },
	{ "ctl_socket", daemon_ctl_socket, 0 },
	{ "ctl_group", daemon_ctl_group, 0 },
	{ "bpf_dir", daemon_bpf_dir, 0 },
	{ "state_dir", daemon_state_dir, 0 },
	{ "state_key", daemon_state_key, 0 },
	{ "state_key_previous", daemon_state_key, 0 },
	{ "outbox_max", daemon_queue_max, 0 },
	{ "outbox_session_max", daemon_queue_max, 0 },
	{ "inbox_max", daemon_queue_max, 0 },
	{ "uid_range", daemon_uid_range, 0 },
	{ "counters_save_interval", daemon_counters_save, 0 },
	{ "cgroup_favor_dynmods", daemon_favor_dynmods, 0 },
};

/* ---- [backend] ---- */

static int backend_begin(struct parser *p, int line, const char *name)
{
	if (p->c->backend.line)
		return fail(p, line, "duplicate [backend] section (first defined at line %d)",
			    p->c->backend.line);
	p->c->backend.line = line;
	p->c->backend.enabled = true;
	p->c->backend.usage_interval_ms = CONFIG_DEFAULT_USAGE_INTERVAL_MS;
	return 0;
}

static int backend_usage_interval(struct parser *p, int line, const char *key, const char *value)
{
	unsigned v;

	/* Below a second the reports would cost more than the counters they carry. */
	if (parse_duration_ms(value, &v) < 0 || v < 1000 || v > 86400000)
		return fail(p, line, "invalid usage_interval=%s (a duration from 1s to 24h)", value);
	p->c->backend.usage_interval_ms = v;
	return 0;
}

static int backend_copy(struct parser *p, int line, const char *key, const char *value,
			char *dst, size_t size, bool path)
{
	if (strlen(value) >= size)
		return fail(p, line, "%s= is longer than %zu characters", key, size - 1);
	if (path && value[0] != '/')
		return fail(p, line, "%s=%s is not an absolute path", key, value);
	strcpy(dst, value);
	return 0;
}

static int backend_url(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_backend *b = &p->c->backend;
	const char *host;

	if (!strncmp(value, "wss://", 6))
		host = value + 6;
	else if (!strncmp(value, "ws://", 5))
		host = value + 5;
	else
		return fail(p, line, "url=%s is not a wss://HOST[:PORT]/PATH URL", value);
	if (!*host || *host == '/' || *host == ':')
		return fail(p, line, "url=%s has no host", value);
	return backend_copy(p, line, key, value, b->url, sizeof(b->url), false);
}

static int backend_ca(struct parser *p, int line, const char *key, const char *value)
{
	return backend_copy(p, line, key, value, p->c->backend.ca, sizeof(p->c->backend.ca), true);
}

static int backend_cert(struct parser *p, int line, const char *key, const char *value)
{
	return backend_copy(p, line, key, value, p->c->backend.cert, sizeof(p->c->backend.cert),
			    true);
}

static int backend_key(struct parser *p, int line, const char *key, const char *value)
{
	return backend_copy(p, line, key, value, p->c->backend.key, sizeof(p->c->backend.key), true);
}

static int backend_token_file(struct parser *p, int line, const char *key, const char *value)
{
	p->c->backend.token_file_line = line;
	return backend_copy(p, line, key, value, p->c->backend.token_file,
			    sizeof(p->c->backend.token_file), true);
}

static int backend_gateway_id(struct parser *p, int line, const char *key, const char *value)
{
	if (!config_name_valid(value))
		return fail(p, line, "gateway_id=%s: want 1-" STRINGIFY(CONFIG_NAME_MAX)
				     " of A-Z a-z 0-9 _ . -", value);
	return backend_copy(p, line, key, value, p->c->backend.gateway_id,
			    sizeof(p->c->backend.gateway_id), false);
}

static int backend_insecure(struct parser *p, int line, const char *key, const char *value)
{
	if (parse_yes_no(value, &p->c->backend.insecure) < 0)
		return fail(p, line, "insecure=%s: want yes or no", value);
	return 0;
}

static int backend_end(struct parser *p)
{
	struct cfg_backend *b = &p->c->backend;

	if (!strncmp(b->url, "ws://", 5) && !b->insecure)
		return fail(p, p->sec_line, "[backend] url=%s is not encrypted: use wss:// (ws:// "
			    "needs insecure=yes, for tests only)", b->url);
	if (!b->cert[0] != !b->key[0])
		return fail(p, p->sec_line, "[backend] needs both cert= and key= for mutual TLS");
	return 0;
}

static const struct key_def backend_keys[] = {
	{ "url", backend_url, KEY_REQUIRED },
	{ "ca", backend_ca, 0 },
	{ "insecure", backend_insecure, 0 },
	{ "cert", backend_cert, 0 },
	{ "key", backend_key, 0 },
	{ "token_file", backend_token_file, 0 },
	{ "gateway_id", backend_gateway_id, 0 },
	{ "usage_interval", backend_usage_interval, 0 },
};

/* ---- [metrics] ---- */

int config_parse_listen(const char *s, struct cfg_metrics *ret)
{
	struct cfg_metrics m = { .enabled = true, .family = AF_INET };
	unsigned char bin[sizeof(struct in6_addr)];
	char host[sizeof(m.address) + 1];
	const char *colon, *port;
	unsigned long long v;
	const char *rest;
	size_t n;

	if (!*s || !strcmp(s, "off")) {
		*ret = (struct cfg_metrics){ .enabled = false };
		return 0;
	}
	/* IPv6 needs brackets: its own colons would make the port ambiguous. */
	if (s[0] == '[') {
		colon = strchr(s, ']');
		if (!colon || colon[1] != ':')
			return -EINVAL;
		m.family = AF_INET6;
		s++;
		n = (size_t)(colon - s);
		port = colon + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - s);
		port = colon + 1;
	}
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	/* Numeric only: a name would need DNS at start-up, and "localhost" may be either family. */
	if (inet_pton(m.family, host, bin) != 1)
		return -EINVAL;
	if (!inet_ntop(m.family, bin, m.address, sizeof(m.address)))
		return -EINVAL;
	if (parse_decimal(port, &v, &rest) < 0 || *rest || v == 0 || v > 65535)
		return -EINVAL;
	m.port = (unsigned)v;
	*ret = m;
	return 0;
}

static int metrics_begin(struct parser *p, int line, const char *name)
{
	if (p->c->metrics.line)
		return fail(p, line, "duplicate [metrics] section (first defined at line %d)",
			    p->c->metrics.line);
	p->c->metrics.line = line;
	return 0;
}

static int metrics_listen(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_metrics *m = &p->c->metrics;
	int section_line = m->line;

	if (config_parse_listen(value, m) < 0)
		return fail(p, line,
			    "invalid listen=%s (want ADDRESS:PORT, [IPV6-ADDRESS]:PORT or off)",
			    value);
	m->line = section_line;
	return 0;
}

static const struct key_def metrics_keys[] = {
	{ "listen", metrics_listen, KEY_EMPTY_OK },
};

/* ---- quota=, quota_action=, quota_period= of [uplink], [profile] and [session] ---- */

static struct cfg_quota *cur_quota(struct parser *p)
{
	struct cmx_config *c = p->c;

	if (!strcmp(p->sec->type, "uplink"))
		return &c->uplinks[c->n_uplinks - 1].quota;
	if (!strcmp(p->sec->type, "profile"))
		return &c->profiles[c->n_profiles - 1].quota;
	return &c->sessions[c->n_sessions - 1].quota;
}

static int key_quota(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_quota *q = cur_quota(p);
	int r = quota_size_parse(value, &q->limit);

	if (r == -ERANGE)
		return fail(p, line, "quota=%s is too large", value);
	if (r < 0)
		return fail(p, line, "invalid quota=%s (a size like 500M, 1.5G or 10G; K, M, G, T "
				     "are powers of 1024, KB/MB/GB are not accepted)", value);
	if (q->limit == 0)
		return fail(p, line, "quota=%s is zero (for no quota, leave quota= out)", value);
	q->line = line;
	return 0;
}

static int key_quota_action(struct parser *p, int line, const char *key, const char *value)
{
	if (acct_quota_action_from_string(value, &cur_quota(p)->action) < 0)
		return fail(p, line, "invalid quota_action=%s (block or notify)", value);
	return 0;
}

static int key_quota_period(struct parser *p, int line, const char *key, const char *value)
{
	if (quota_period_parse(value, &cur_quota(p)->period) < 0)
		return fail(p, line, "invalid quota_period=%s (none, daily, monthly or monthly:DAY "
				     "with DAY 1-31)", value);
	return 0;
}

static struct cfg_limits *cur_limits(struct parser *p)
{
	struct cmx_config *c = p->c;

	if (!strcmp(p->sec->type, "profile"))
		return &c->profiles[c->n_profiles - 1].limits;
	return &c->sessions[c->n_sessions - 1].limits;
}

static bool is_infinity(const char *v)
{
	return !strcmp(v, "infinity");
}

static int key_memory_max(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_limits *l = cur_limits(p);
	uint64_t v;

	if (is_infinity(value)) {
		v = CONFIG_LIMIT_INFINITY;
	} else if (quota_size_parse(value, &v) < 0 || v < 4096 || v == CONFIG_LIMIT_INFINITY) {
		/* Below a page nothing can run; the kernel would take it and OOM at once. */
		return fail(p, line, "invalid memory_max=%s (a size of at least 4K like 64M or 1G, "
				     "K/M/G/T powers of 1024, or infinity)", value);
	}
	l->memory_max = v;
	l->memory_line = line;
	return 0;
}

static int key_pids_max(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_limits *l = cur_limits(p);
	char *end;
	unsigned long long v;

	if (is_infinity(value)) {
		l->pids_max = CONFIG_LIMIT_INFINITY;
	} else {
		errno = 0;
		v = strtoull(value, &end, 10);
		/* The session's own init and its worker are two tasks already. */
		if (errno || end == value || *end || value[0] == '-' || v < 2 || v > 4194304)
			return fail(p, line, "invalid pids_max=%s (2-4194304 tasks, or infinity)",
				    value);
		l->pids_max = v;
	}
	l->pids_line = line;
	return 0;
}

static int key_cpu_weight(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_limits *l = cur_limits(p);
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v < 1 || v > 10000)
		return fail(p, line, "invalid cpu_weight=%s (1-10000; the default is 100)", value);
	l->cpu_weight = (unsigned)v;
	l->cpu_line = line;
	return 0;
}

/* ---- listen= of [profile] and [session] ---- */

int config_parse_socket(const char *s, struct cfg_listen *ret)
{
	struct cfg_metrics m;

	if (s[0] == '/') {
		if (strlen(s) >= sizeof(ret->address) || strstr(s, "/../") || strstr(s, "/./"))
			return -EINVAL;
		*ret = (struct cfg_listen){ .family = AF_UNIX };
		strcpy(ret->address, s);
		return 0;
	}
	bool udp = !strncmp(s, "udp:", 4);

	if (udp)
		s += 4;
	if (!*s || !strcmp(s, "off") || config_parse_listen(s, &m) < 0)
		return -EINVAL;
	*ret = (struct cfg_listen){ .family = m.family, .udp = udp, .port = m.port };
	snprintf(ret->address, sizeof(ret->address), "%s", m.address);
	return 0;
}

void config_listen_format(const struct cfg_listen *l, char *buf, size_t len)
{
	if (l->family == AF_UNIX)
		snprintf(buf, len, "%s", l->address);
	else
		snprintf(buf, len, l->family == AF_INET6 ? "%s[%s]:%u" : "%s%s:%u",
			 l->udp ? "udp:" : "", l->address, l->port);
}

static bool socket_equal(const struct cfg_listen *a, const struct cfg_listen *b)
{
	return a->family == b->family && a->udp == b->udp && a->port == b->port &&
	       !strcmp(a->address, b->address);
}

static bool wildcard(const struct cfg_listen *l)
{
	return !strcmp(l->address, "0.0.0.0") || !strcmp(l->address, "::");
}

/* What bind() would refuse: the same socket, or one port where either side is a wildcard
 * (:: covers IPv4 too unless IPV6_V6ONLY, which the daemon does not set). */
static bool socket_conflict(const struct cfg_listen *a, const struct cfg_listen *b)
{
	if ((a->family == AF_UNIX) != (b->family == AF_UNIX) || a->udp != b->udp)
		return false; /* TCP and UDP ports are apart */
	if (a->family == AF_UNIX)
		return !strcmp(a->address, b->address);
	if (a->port != b->port)
		return false;
	if (a->family == b->family)
		return !strcmp(a->address, b->address) || wildcard(a) || wildcard(b);
	return (a->family == AF_INET6 && !strcmp(a->address, "::")) ||
	       (b->family == AF_INET6 && !strcmp(b->address, "::"));
}

bool config_listen_equal(const struct cfg_listens *a, const struct cfg_listens *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!socket_equal(&a->v[i], &b->v[i]))
			return false;
	return true;
}

static int key_listen(struct parser *p, int line, const char *key, const char *value)
{
	struct cmx_config *c = p->c;
	struct cfg_listens *ls = !strcmp(p->sec->type, "profile")
					 ? &c->profiles[c->n_profiles - 1].listen
					 : &c->sessions[c->n_sessions - 1].listen;
	_cleanup_(strv_freep) char **v = NULL;
	int r = split_words(p, line, value, &v);

	if (r < 0)
		return r;
	ls->n = 0;
	for (size_t i = 0; v && v[i]; i++) {
		struct cfg_listen l;

		if (ls->n == CONFIG_LISTEN_MAX)
			return fail(p, line, "listen= takes at most %d sockets", CONFIG_LISTEN_MAX);
		if (config_parse_socket(v[i], &l) < 0)
			return fail(p, line, "invalid listen= socket '%s' (want ADDRESS:PORT, "
					     "[IPV6-ADDRESS]:PORT, udp:ADDRESS:PORT or an absolute path)", v[i]);
		for (size_t k = 0; k < ls->n; k++)
			if (socket_conflict(&l, &ls->v[k]))
				return fail(p, line, "listen= names '%s' twice", v[i]);
		ls->v[ls->n++] = l;
	}
	if (!ls->n)
		return fail(p, line, "listen= names no socket");
	ls->line = line;
	return 0;
}

const struct cfg_listens *config_session_listens(const struct cfg_profile *p,
						 const struct cfg_session *s)
{
	return s && s->listen.line ? &s->listen : &p->listen;
}

/* Two sessions on one socket would steal each other's connections: one owner per socket. */
static int check_listens(struct parser *p)
{
	struct cmx_config *c = p->c;

	for (size_t i = 0; i < c->n_sessions; i++) {
		const struct cfg_listens *a =
			config_session_listens(&c->profiles[c->sessions[i].profile_idx], &c->sessions[i]);

		for (size_t j = 0; j < i; j++) {
			const struct cfg_listens *b = config_session_listens(
				&c->profiles[c->sessions[j].profile_idx], &c->sessions[j]);

			for (size_t x = 0; x < a->n; x++)
				for (size_t y = 0; y < b->n; y++) {
					char buf[160];

					if (!socket_conflict(&a->v[x], &b->v[y]))
						continue;
					config_listen_format(&a->v[x], buf, sizeof(buf));
					return fail(p, a->line ? a->line : c->sessions[i].line,
						    "session '%s' listens on %s, which session "
						    "'%s' (line %d) already does", c->sessions[i].name,
						    buf, c->sessions[j].name, c->sessions[j].line);
				}
		}
	}
	return 0;
}

#define LIMIT_KEYS                                                                         \
	{ "memory_max", key_memory_max, 0 }, { "pids_max", key_pids_max, 0 },              \
		{ "cpu_weight", key_cpu_weight, 0 }

struct cfg_limits config_session_limits(const struct cfg_profile *p, const struct cfg_session *s)
{
	struct cfg_limits l = p->limits;

	if (!s)
		return l;
	if (s->limits.memory_line)
		l.memory_max = s->limits.memory_max, l.memory_line = s->limits.memory_line;
	if (s->limits.pids_line)
		l.pids_max = s->limits.pids_max, l.pids_line = s->limits.pids_line;
	if (s->limits.cpu_line)
		l.cpu_weight = s->limits.cpu_weight, l.cpu_line = s->limits.cpu_line;
	return l;
}

/* The three quota keys, in the key tables of [uplink], [profile] and [session]. */
#define QUOTA_KEYS                                                                         \
	{ "quota", key_quota, 0 }, { "quota_action", key_quota_action, 0 },                \
		{ "quota_period", key_quota_period, 0 }

const struct cfg_quota *config_session_quota(const struct cmx_config *c,
					     const struct cfg_session *s)
{
	if (s->quota.line)
		return &s->quota;
	if (s->profile_idx >= 0 && (size_t)s->profile_idx < c->n_profiles &&
	    c->profiles[s->profile_idx].quota.line)
		return &c->profiles[s->profile_idx].quota;
	return NULL;
}

/* ---- [uplink NAME] ---- */

static struct cfg_uplink *cur_uplink(struct parser *p)
{
	return &p->c->uplinks[p->c->n_uplinks - 1];
}

int config_find_uplink(const struct cmx_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_uplinks; i++)
		if (!strcmp(c->uplinks[i].p.name, name))
			return (int)i;
	return -ENOENT;
}

static int uplink_begin(struct parser *p, int line, const char *name)
{
	struct cmx_config *c = p->c;
	struct cfg_uplink *u;
	int i = config_find_uplink(c, name);

	if (i >= 0)
		return fail(p, line, "duplicate uplink '%s' (first defined at line %d)", name,
			    c->uplinks[i].line);
	u = APPEND(c->uplinks, c->n_uplinks);
	if (!u)
		return -ENOMEM;
	strcpy(u->p.name, name);
	u->capacity = CONFIG_DEFAULT_CAPACITY;
	u->health.interval_ms = HEALTH_DEFAULT_INTERVAL_MS;
	u->health.fail = HEALTH_DEFAULT_FAIL;
	u->health.ok = HEALTH_DEFAULT_OK;
	u->recovery.after_ms = RECOVERY_DEFAULT_AFTER_MS;
	u->recovery.max_per_hour = RECOVERY_DEFAULT_MAX_PER_HOUR;
	u->line = line;
	return 0;
}

static int uplink_driver(struct parser *p, int line, const char *key, const char *value)
{
	/* The config stays pure: the names of netns/'s drivers, not a call into it. */
	if (strcmp(value, "netdev") && strcmp(value, "qmi") && strcmp(value, "host"))
		return fail(p, line, "unknown driver '%s' (known: netdev, qmi, host)", value);
	strcpy(cur_uplink(p)->p.driver, value);
	return 0;
}

static int uplink_interface(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_uplink *u = cur_uplink(p);

	if (!ifname_valid(value))
		return fail(p, line,
			    "invalid interface name '%s' (1-15 characters, no '/', ':' or spaces)",
			    value);
	for (size_t i = 0; i + 1 < p->c->n_uplinks; i++) {
		const struct cfg_uplink *o = &p->c->uplinks[i];
		if (!strcmp(o->p.ifname, value))
			return fail(p, line,
				    "interface '%s' is already used by uplink '%s' (line %d)",
				    value, o->p.name, o->iface_line);
	}
	strcpy(u->p.ifname, value);
	u->iface_line = line;
	return 0;
}

static int uplink_match(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_uplink *u = cur_uplink(p);
	struct ident_term t;
	const char *why;
	int r;

	if (ident_term_parse(value, &t, &why) < 0)
		return fail(p, line, "invalid match=%s: %s", value, why);
	r = ident_match_add(&u->match, &t);
	if (r == -EEXIST)
		return fail(p, line, "match= names %s: twice (every term must hold; one %s can)",
			    ident_kind_name(t.kind), ident_kind_name(t.kind));
	if (r < 0)
		return fail(p, line, "too many match= terms (at most %d)", IDENT_MAX_TERMS);
	/* The same MAC, port, IMEI or ICCID in two uplinks: one device, two claims. */
	for (size_t i = 0; i + 1 < p->c->n_uplinks; i++) {
		const struct ident_match *o = &p->c->uplinks[i].match;

		for (size_t k = 0; k < o->n; k++)
			if (o->t[k].kind == t.kind && !strcmp(o->t[k].value, t.value))
				return fail(p, line, "match=%s is already used by uplink '%s'",
					    value, p->c->uplinks[i].p.name);
	}
	return 0;
}

static bool same_addr(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->family == b->family && !memcmp(&a->addr, &b->addr, (size_t)ip_prefix_addrlen(a));
}

static int uplink_address(struct parser *p, int line, const char *key, const char *value)
{
	struct uplink_params *u = &cur_uplink(p)->p;
	struct ip_prefix a;

	if (!strcmp(value, "dhcp")) {
		if (u->dhcp)
			return fail(p, line, "address=dhcp given twice");
		u->dhcp = true;
		return 0;
	}
	if (ip_prefix_parse(value, &a) < 0)
		return fail(p, line, "invalid address '%s' (want ADDRESS/PREFIXLEN or dhcp)", value);
	for (size_t i = 0; i < u->n_addrs; i++)
		if (same_addr(&u->addrs[i], &a))
			return fail(p, line, "address '%s' given twice", value);
	if (u->n_addrs >= UPLINK_MAX_ADDRS)
		return fail(p, line, "too many addresses (at most %d)", UPLINK_MAX_ADDRS);
	u->addrs[u->n_addrs++] = a;
	return 0;
}

static int uplink_gateway(struct parser *p, int line, const char *key, const char *value)
{
	struct uplink_params *u = &cur_uplink(p)->p;
	struct ip_prefix gw, *slot;
	int v6;

	if (ip_addr_parse(value, &gw) < 0)
		return fail(p, line, "invalid gateway '%s' (want an address without /PREFIXLEN)",
			    value);
	v6 = gw.family == AF_INET6;
	slot = v6 ? &u->gw6 : &u->gw4;
	if (slot->family)
		return fail(p, line, "second %s gateway '%s' (first at line %d)",
			    v6 ? "IPv6" : "IPv4", value, p->gw_line[v6]);
	*slot = gw;
	p->gw_line[v6] = line;
	return 0;
}

static int uplink_dns(struct parser *p, int line, const char *key, const char *value)
{
	struct uplink_params *u = &cur_uplink(p)->p;
	struct ip_prefix a;

	if (ip_addr_parse(value, &a) < 0)
		return fail(p, line, "invalid DNS server '%s'", value);
	if (u->n_dns >= UPLINK_MAX_DNS)
		return fail(p, line, "too many DNS servers (at most %d)", UPLINK_MAX_DNS);
	u->dns[u->n_dns++] = a;
	return 0;
}

/* health_check=SPEC [SPEC...]: any passing check counts for the round. */
static int uplink_health_check(struct parser *p, int line, const char *key, const char *value)
{
	struct health_cfg *h = &cur_uplink(p)->health;
	const char *v = value;

	h->n_checks = 0;
	while (*v) {
		size_t len = strcspn(v, " \t");
		char spec[256];

		if (!len) {
			v++;
			continue;
		}
		if (h->n_checks == HEALTH_CHECKS_MAX)
			return fail(p, line, "health_check=: at most %d checks", HEALTH_CHECKS_MAX);
		if (len >= sizeof(spec) ||
		    (snprintf(spec, sizeof(spec), "%.*s", (int)len, v),
		     health_check_parse(spec, &h->checks[h->n_checks]) < 0))
			return fail(p, line,
				    "invalid health check '%.*s' (tcp:ADDR:PORT, http://ADDR[:PORT][/PATH], "
				    "dns:NAME or icmp:ADDR; addresses are numeric IPv4)",
				    (int)(len > 64 ? 64 : len), v);
		h->n_checks++;
		v += len;
	}
	if (!h->n_checks)
		return fail(p, line, "health_check= names no check");
	return 0;
}

static int uplink_health_interval(struct parser *p, int line, const char *key, const char *value)
{
	unsigned *ms = &cur_uplink(p)->health.interval_ms;
	int r = parse_duration_ms(value, ms);

	/* Below 100 ms a check cannot tell a slow carrier from a dead one. */
	if (r < 0 || *ms < 100)
		return fail(p, line, "invalid health_interval=%s (a duration of at least 100ms)",
			    value);
	return 0;
}

static int uplink_health_count(struct parser *p, int line, const char *key, const char *value)
{
	struct health_cfg *h = &cur_uplink(p)->health;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v < 1 || v > 100)
		return fail(p, line, "invalid %s=%s (1-100 rounds in a row)", key, value);
	if (!strcmp(key, "health_fail"))
		h->fail = (unsigned)v;
	else
		h->ok = (unsigned)v;
	return 0;
}

/* The recovery ladder (router/recovery.h): how long failed before the first step, "off" or 0
 * for never; and how many steps an hour at most, 0 for none. */
static int uplink_recover_after(struct parser *p, int line, const char *key, const char *value)
{
	unsigned *ms = &cur_uplink(p)->recovery.after_ms;

	if (!strcmp(value, "off") || !strcmp(value, "no")) {
		*ms = 0;
		return 0;
	}
	if (parse_duration_ms(value, ms) < 0 || *ms > 86400000 || (*ms && *ms < 1000))
		return fail(p, line,
			    "invalid recover_after=%s (a duration from 1s to 24h, or off)", value);
	return 0;
}

static int uplink_recover_max(struct parser *p, int line, const char *key, const char *value)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v > RECOVERY_PER_HOUR_LIMIT)
		return fail(p, line, "invalid recover_max_per_hour=%s (0-%d steps, 0: none)", value,
			    RECOVERY_PER_HOUR_LIMIT);
	cur_uplink(p)->recovery.max_per_hour = (unsigned)v;
	return 0;
}

/* Lower first, like mwan3's metric: a backup uplink gets priority=1 and takes sessions only
 * when every priority-0 uplink is full, down or failed. */
static int uplink_priority(struct parser *p, int line, const char *key, const char *value)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end || v < 0 || v > 1000)
		return fail(p, line, "invalid priority=%s (0-1000, lower is preferred)", value);
	cur_uplink(p)->priority = (int)v;
	return 0;
}

static int uplink_capacity(struct parser *p, int line, const char *key, const char *value)
{
	unsigned long long v;
	const char *rest;

	if (parse_decimal(value, &v, &rest) < 0 || *rest || v < 1 || v > CAPACITY_MAX)
		return fail(p, line, "invalid capacity '%s' (1-%d sessions)", value, CAPACITY_MAX);
	cur_uplink(p)->capacity = (unsigned)v;
	return 0;
}

/* A gateway must be reachable on-link, or the default route cannot be installed. */
static int check_gateway(struct parser *p, const struct ip_prefix *gw, int line)
{
	const struct uplink_params *u = &cur_uplink(p)->p;
	char buf[IP_PREFIX_STRLEN];
	bool inside = false;

	if (!gw->family)
		return 0;
	for (size_t i = 0; i < u->n_addrs; i++) {
		if (same_addr(&u->addrs[i], gw))
			return fail(p, line, "gateway %s is the uplink's own address",
				    ip_prefix_fmt(gw, false, buf));
		inside = inside || ip_prefix_contains(&u->addrs[i], gw);
	}
	if (!inside)
		return fail(p, line, "gateway %s is outside every %s address= subnet of %s",
			    ip_prefix_fmt(gw, false, buf), gw->family == AF_INET6 ? "IPv6" : "IPv4",
			    p->label);
	return 0;
}

/* ---- driver=qmi and address=dhcp ---- */

static int seen_line(const struct parser *p, const char *key);

/* A printable value of at most size-1 characters, into dst. */
static int copy_value(struct parser *p, int line, const char *key, const char *value, char *dst,
		      size_t size)
{
	if (strlen(value) >= size)
		return fail(p, line, "%s= is longer than %zu characters", key, size - 1);
	for (const char *c = value; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return fail(p, line, "%s= contains a control character", key);
	strcpy(dst, value);
	return 0;
}

static int uplink_device(struct parser *p, int line, const char *key, const char *value)
{
	struct uplink_params *u = &cur_uplink(p)->p;

	if (value[0] != '/')
		return fail(p, line, "device=%s is not an absolute path (like /dev/cdc-wdm0)", value);
	for (size_t i = 0; i + 1 < p->c->n_uplinks; i++)
		if (!strcmp(p->c->uplinks[i].p.device, value))
			return fail(p, line, "device '%s' is already used by uplink '%s'", value,
				    p->c->uplinks[i].p.name);
	return copy_value(p, line, key, value, u->device, sizeof(u->device));
}

static int uplink_apn(struct parser *p, int line, const char *key, const char *value)
{
	struct uplink_params *u = &cur_uplink(p)->p;

	return copy_value(p, line, key, value, u->apn, sizeof(u->apn));
}

static int uplink_username(struct parser *p, int line, const char *key, const char *value)
{
	struct uplink_params *u = &cur_uplink(p)->p;

	return copy_value(p, line, key, value, u->username, sizeof(u->username));
}

static int uplink_password(struct parser *p, int line, const char *key, const char *value)
{
	struct uplink_params *u = &cur_uplink(p)->p;

	return copy_value(p, line, key, value, u->password, sizeof(u->password));
}

static int uplink_auth(struct parser *p, int line, const char *key, const char *value)
{
	static const char *const names[] = {
		[UPLINK_AUTH_NONE] = "none",
		[UPLINK_AUTH_PAP] = "pap",
		[UPLINK_AUTH_CHAP] = "chap",
		[UPLINK_AUTH_BOTH] = "both",
	};

	for (size_t i = 1; i < ARRAY_SIZE(names); i++)
		if (!strcmp(value, names[i])) {
			cur_uplink(p)->p.auth = (enum uplink_auth)i;
			return 0;
		}
	return fail(p, line, "invalid auth=%s (none, pap, chap or both)", value);
}

static int uplink_ip_type(struct parser *p, int line, const char *key, const char *value)
{
	static const char *const names[] = {
		[UPLINK_IP_V4] = "ipv4",
		[UPLINK_IP_V6] = "ipv6",
		[UPLINK_IP_V4V6] = "ipv4v6",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(value, names[i])) {
			cur_uplink(p)->p.ip_type = (enum uplink_ip_type)i;
			return 0;
		}
	return fail(p, line, "invalid ip_type=%s (ipv4, ipv6 or ipv4v6)", value);
}

static int uplink_pin(struct parser *p, int line, const char *key, const char *value)
{
	size_t n = strlen(value);

	if (n < 4 || n > 8 || strspn(value, "0123456789") != n)
		return fail(p, line, "invalid pin= (4 to 8 digits)");
	strcpy(cur_uplink(p)->p.pin, value);
	return 0;
}

static int uplink_qmi_proxy(struct parser *p, int line, const char *key, const char *value)
{
	struct uplink_params *u = &cur_uplink(p)->p;

	/* An abstract socket name: sun_path minus the leading NUL, and no '@' confusion. */
	if (strlen(value) >= sizeof(u->qmi_proxy) || strchr(value, '/'))
		return fail(p, line, "qmi_proxy=%s is not an abstract socket name (at most %zu "
				     "characters, no '/')",
			    value, sizeof(u->qmi_proxy) - 1);
	strcpy(u->qmi_proxy, value);
	return 0;
}

/* Which keys belong to which driver, checked once the whole section is read. */
static int check_driver_keys(struct parser *p, const struct uplink_params *u)
{
	static const char *const qmi_only[] = { "device",   "apn", "username", "password",
						"auth",	    "ip_type", "pin", "qmi_proxy" };
	bool qmi = !strcmp(u->driver, "qmi");
	const struct ident_match *m = &cur_uplink(p)->match;
	int line;

	if (m->n && (line = seen_line(p, "interface")))
		return fail(p, line, "interface= and match= exclude each other: match= finds the "
				     "interface, whatever its name");
	if (m->n && !qmi && ident_match_needs_modem(m))
		return fail(p, seen_line(p, "match"), "match=imei: and match=iccid: ask the modem: "
						      "only driver=qmi can (netdev: mac: or usb:)");
	if (m->n && qmi && (line = seen_line(p, "device")))
		return fail(p, line, "device= and match= exclude each other: match= finds the QMI "
				     "port, whatever its number");

	for (size_t i = 0; i < ARRAY_SIZE(qmi_only) && !qmi; i++)
		if ((line = seen_line(p, qmi_only[i])))
			return fail(p, line, "%s= is only for driver=qmi", qmi_only[i]);
	if (!strcmp(u->driver, "host"))
		return 0; /* host_defaults() checked and filled it */
	if (!qmi) {
		if (!seen_line(p, "interface") && !m->n)
			return fail(p, p->sec_line, "%s needs interface= or match=", p->label);
		if (u->n_addrs == 0 && !u->dhcp)
			return fail(p, p->sec_line, "%s needs address= (ADDRESS/PREFIXLEN or dhcp)",
				    p->label);
		if (u->dhcp && u->gw4.family)
			return fail(p, p->gw_line[0], "gateway= for IPv4 comes from the DHCP lease");
		for (size_t i = 0; u->dhcp && i < u->n_addrs; i++)
			if (u->addrs[i].family == AF_INET)
				return fail(p, seen_line(p, "address"),
					    "address=dhcp and a static IPv4 address exclude each other");
		return 0;
	}
	if (!u->device[0] && !m->n)
		return fail(p, p->sec_line, "%s needs device= (the QMI port, like /dev/cdc-wdm0) "
				     "or match=", p->label);
	if ((line = seen_line(p, "address")) || (line = seen_line(p, "gateway")))
		return fail(p, line, "driver=qmi takes address and gateway from the modem");
	if (u->password[0] && !u->username[0])
		return fail(p, seen_line(p, "password"), "password= without username=");
	return 0;
}

/* driver=host: a veth pair to the host namespace, which NATs it out through the host's own
 * connection. Everything has a default, so "[uplink host]\ndriver=host" is a whole section:
 * the veth is cmxh-NAME, the namespace's end CONFIG_HOST_ADDRESS (the host's the other address
 * of the /30), and the uplink a backup (CONFIG_DEFAULT_HOST_PRIORITY) unless priority= says. */
static int host_defaults(struct parser *p, struct cfg_uplink *cu)
{
	struct uplink_params *u = &cu->p;
	struct ip_prefix *a = &u->addrs[0];
	uint32_t h, net;
	int line;

	for (size_t i = 0; i + 1 < p->c->n_uplinks; i++)
		if (!strcmp(p->c->uplinks[i].p.driver, "host"))
			return fail(p, p->sec_line, "a second driver=host uplink (the first is '%s', "
				    "line %d)", p->c->uplinks[i].p.name, p->c->uplinks[i].line);
	if (u->dhcp)
		return fail(p, seen_line(p, "address"), "driver=host takes no address=dhcp: cellmux "
			    "numbers both ends of its veth");
	if ((line = seen_line(p, "address")) &&
	    (u->n_addrs != 1 || u->addrs[0].family != AF_INET || u->addrs[0].plen > 31))
		return fail(p, line, "driver=host takes one IPv4 address= with a prefix of at most "
			    "/31 (the namespace's end of the veth, like " CONFIG_HOST_ADDRESS ")");
	if (p->gw_line[1])
		return fail(p, p->gw_line[1], "driver=host is IPv4 only: no IPv6 gateway=");
	if (!u->n_addrs) {
		if (p->gw_line[0])
			return fail(p, p->gw_line[0], "gateway= without address= (driver=host)");
		ip_prefix_parse(CONFIG_HOST_ADDRESS, a);
		u->n_addrs = 1;
	}
	if (!u->gw4.family) {
		/* The host's end: in a /31 the other address, in a /30 the other usable one. */
		h = ntohl(a->addr.v4.s_addr);
		net = h & ~(uint32_t)3;
		if (a->plen == 31)
			h ^= 1;
		else if (a->plen == 30 && h != net && h != (net | 3))
			h = net + 1 + (h == net + 1);
		else
			return fail(p, seen_line(p, "address"), "%s needs gateway= (the host's end of "
				    "the veth): only a /30 or /31 address= has an obvious one", p->label);
		u->gw4 = (struct ip_prefix){.family = AF_INET, .plen = 32};
		u->gw4.addr.v4.s_addr = htonl(h);
		p->gw_line[0] = seen_line(p, "address");
	}
	if (!u->ifname[0]) {
		if (snprintf(u->ifname, sizeof(u->ifname), "cmxh-%s", u->name) >=
		    (int)sizeof(u->ifname))
			return fail(p, p->sec_line, "%s needs interface= (the veth's name): cmxh-%s is "
				    "longer than 15 characters", p->label, u->name);
		for (size_t i = 0; i + 1 < p->c->n_uplinks; i++)
			if (!strcmp(p->c->uplinks[i].p.ifname, u->ifname))
				return fail(p, p->sec_line, "interface '%s' is already used by uplink "
					    "'%s'", u->ifname, p->c->uplinks[i].p.name);
		cu->iface_line = p->sec_line;
	}
	if (!seen_line(p, "priority"))
		cu->priority = CONFIG_DEFAULT_HOST_PRIORITY;
	return 0;
}

static int uplink_end(struct parser *p)
{
	const struct uplink_params *u = &cur_uplink(p)->p;
	int r;

	if (!strcmp(u->driver, "host")) {
		r = host_defaults(p, cur_uplink(p));
		if (r < 0)
			return r;
	}
	r = check_driver_keys(p, u);
	if (r < 0)
		return r;
	r = check_gateway(p, &u->gw4, p->gw_line[0]);
	if (r < 0)
		return r;
	return check_gateway(p, &u->gw6, p->gw_line[1]);
}

static const struct key_def uplink_keys[] = {
	{ "driver", uplink_driver, KEY_REQUIRED },
	{ "interface", uplink_interface, 0 }, /* netdev: required; qmi: found from device= */
	{ "match", uplink_match, KEY_LIST }, /* instead of interface=: by identity */
	{ "address", uplink_address, KEY_LIST },
	{ "gateway", uplink_gateway, KEY_LIST },
	{ "dns", uplink_dns, KEY_LIST },
	{ "capacity", uplink_capacity, 0 },
	{ "priority", uplink_priority, 0 },
	{ "health_check", uplink_health_check, 0 },
	{ "health_interval", uplink_health_interval, 0 },
	{ "health_fail", uplink_health_count, 0 },
	{ "health_ok", uplink_health_count, 0 },
	{ "recover_after", uplink_recover_after, 0 },
	{ "recover_max_per_hour", uplink_recover_max, 0 },
	{ "device", uplink_device, 0 },
	{ "apn", uplink_apn, 0 },
	{ "username", uplink_username, 0 },
	{ "password", uplink_password, KEY_SECRET },
	{ "auth", uplink_auth, 0 },
	{ "ip_type", uplink_ip_type, 0 },
	{ "pin", uplink_pin, KEY_SECRET },
	{ "qmi_proxy", uplink_qmi_proxy, 0 }, /* tests: the fake modem's socket */
	QUOTA_KEYS,
};

/* ---- [profile NAME] ---- */

static struct cfg_profile *cur_profile(struct parser *p)
{
	return &p->c->profiles[p->c->n_profiles - 1];
}

int config_find_profile(const struct cmx_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_profiles; i++)
		if (!strcmp(c->profiles[i].name, name))
			return (int)i;
	return -ENOENT;
}

static int profile_begin(struct parser *p, int line, const char *name)
{
	struct cmx_config *c = p->c;
	struct cfg_profile *f;
	int i = config_find_profile(c, name);

	if (i >= 0)
		return fail(p, line, "duplicate profile '%s' (first defined at line %d)", name,
			    c->profiles[i].line);
	f = APPEND(c->profiles, c->n_profiles);
	if (!f)
		return -ENOMEM;
	strcpy(f->name, name);
	f->log_burst = CONFIG_DEFAULT_LOG_BURST;
	f->log_interval_ms = CONFIG_DEFAULT_LOG_INTERVAL_MS;
	f->limits.memory_max = CONFIG_LIMIT_INFINITY;
	f->limits.pids_max = CONFIG_DEFAULT_PIDS_MAX;
	f->restart = RESTART_ON_FAILURE;
	f->restart_sec_ms = DEFAULT_RESTART_SEC_MS;
	f->failover.move_back = -1;
	f->restart_max_ms = DEFAULT_RESTART_MAX_MS;
	f->line = line;
	return 0;
}

static int profile_exec(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_profile *f = cur_profile(p);
	_cleanup_(strv_freep) char **argv = NULL;
	int r = split_words(p, line, value, &argv);

	if (r < 0)
		return r;
	if (!argv || argv[0][0] != '/')
		return fail(p, line, "exec= must start with an absolute path, not '%s'",
			    argv ? argv[0] : "");
	f->argv = TAKE_PTR(argv);
	f->exec_line = line;
	return 0;
}

static int profile_user(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_profile *f = cur_profile(p);

	if (!user_valid(value))
		return fail(p, line, "invalid user name '%s'", value);
	/* Catches root by name and uid 0 in any spelling; other names for uid 0 need the user
	 * database, which is preflight's business. */
	if (!strcmp(value, "root") || strspn(value, "0") == strlen(value))
		return fail(p, line, "user=%s is root; workers never run as root", value);
	strcpy(f->user, value);
	f->user_line = line;
	return 0;
}

static int profile_binds(struct parser *p, int line, const char *key, const char *value,
			 char ***ret, int *ret_line)
{
	_cleanup_(strv_freep) char **v = NULL;
	size_t n = 0;
	int r = split_words(p, line, value, &v);

	if (r < 0)
		return r;
	for (; v && v[n]; n++) {
		/* The sandbox binds at the same path: it must name one place, plainly. */
		if (v[n][0] != '/' || strstr(v[n], "/../") || strstr(v[n], "/./") ||
		    !strcmp(v[n], "/") || strlen(v[n]) >= 1024)
			return fail(p, line, "%s=: '%s' is not an absolute path without . or .. "
					     "(and not /)", key, v[n]);
	}
	if (n == 0 || n > CONFIG_BINDS_MAX)
		return fail(p, line, "%s= takes 1-%d paths", key, CONFIG_BINDS_MAX);
	*ret = TAKE_PTR(v);
	*ret_line = line;
	return 0;
}

static int profile_bind_ro(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_profile *f = cur_profile(p);

	return profile_binds(p, line, key, value, &f->bind_ro, &f->bind_ro_line);
}

static int profile_bind_rw(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_profile *f = cur_profile(p);

	return profile_binds(p, line, key, value, &f->bind_rw, &f->bind_rw_line);
}

static int profile_log_burst(struct parser *p, int line, const char *key, const char *value)
{
	unsigned long long v;
	const char *rest;

	if (parse_decimal(value, &v, &rest) < 0 || *rest || v > 1000000)
		return fail(p, line, "%s=%s is not a number of lines in 0..1000000 (0: no limit)", key,
			    value);
	cur_profile(p)->log_burst = (unsigned)v;
	return 0;
}

static int parse_backoff(struct parser *p, int line, const char *key, const char *value,
			 unsigned *ret);

static int profile_log_interval(struct parser *p, int line, const char *key, const char *value)
{
	return parse_backoff(p, line, key, value, &cur_profile(p)->log_interval_ms);
}

static int profile_restart(struct parser *p, int line, const char *key, const char *value)
{
	if (restart_policy_from_string(value, &cur_profile(p)->restart) < 0)
		return fail(p, line, "invalid restart=%s (no, on-failure or always)", value);
	return 0;
}

static int parse_backoff(struct parser *p, int line, const char *key, const char *value,
			 unsigned *ret)
{
	int r = parse_duration_ms(value, ret);

	if (r == -ERANGE)
		return fail(p, line, "%s=%s is too long", key, value);
	/* 0 would never grow by doubling: a crashing worker would be restarted in a busy loop. */
	if (r < 0 || *ret == 0)
		return fail(p, line, "invalid %s=%s (a duration > 0 like 500ms, 2s, 1m, 1h; "
				     "a plain number is seconds)", key, value);
	return 0;
}

static int profile_restart_sec(struct parser *p, int line, const char *key, const char *value)
{
	return parse_backoff(p, line, key, value, &cur_profile(p)->restart_sec_ms);
}

static int profile_restart_max_sec(struct parser *p, int line, const char *key, const char *value)
{
	return parse_backoff(p, line, key, value, &cur_profile(p)->restart_max_ms);
}

static int seen_line(const struct parser *p, const char *key)
{
	for (size_t i = 0; i < p->sec->n_keys; i++)
		if (!strcmp(p->sec->keys[i].key, key))
			return p->key_line[i];
	return 0;
}

static int profile_end(struct parser *p)
{
	struct cfg_profile *f = cur_profile(p);
	int sec_line = seen_line(p, "restart_sec"), max_line = seen_line(p, "restart_max_sec");

	if (f->restart_max_ms >= f->restart_sec_ms)
		return 0;
	/* Only one of the two was written: the default of the other gives way, since the
	 * config is consistent as written (restart_sec=2m alone means a constant 2m). */
	if (!max_line)
		f->restart_max_ms = f->restart_sec_ms;
	else if (!sec_line)
		f->restart_sec_ms = f->restart_max_ms;
	else
		return fail(p, max_line,
			    "restart_max_sec (%ums) is shorter than restart_sec (%ums)",
			    f->restart_max_ms, f->restart_sec_ms);
	return 0;
}

static struct cfg_failover *cur_failover(struct parser *p)
{
	struct cmx_config *c = p->c;

	if (!strcmp(p->sec->type, "profile"))
		return &c->profiles[c->n_profiles - 1].failover;
	return &c->sessions[c->n_sessions - 1].failover;
}

static int key_on_uplink_down(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_failover *f = cur_failover(p);

	if (!strcmp(value, "move"))
		f->on_down = CFG_ON_DOWN_MOVE;
	else if (!strcmp(value, "wait"))
		f->on_down = CFG_ON_DOWN_WAIT;
	else
		return fail(p, line, "invalid on_uplink_down=%s (move or wait)", value);
	return 0;
}

static int key_move_back(struct parser *p, int line, const char *key, const char *value)
{
	bool yes;

	if (parse_yes_no(value, &yes) < 0)
		return fail(p, line, "invalid move_back=%s (yes or no)", value);
	cur_failover(p)->move_back = yes; /* -1 (unset) until given */
	return 0;
}

static int key_move_hold_down(struct parser *p, int line, const char *key, const char *value)
{
	return parse_backoff(p, line, key, value, &cur_failover(p)->hold_down_ms);
}

#define FAILOVER_KEYS                                                                      \
	{ "on_uplink_down", key_on_uplink_down, 0 }, { "move_back", key_move_back, 0 },    \
		{ "move_hold_down", key_move_hold_down, 0 }

struct cfg_failover config_session_failover(const struct cfg_profile *p,
					    const struct cfg_session *s)
{
	struct cfg_failover f = {
		.on_down = CONFIG_DEFAULT_ON_DOWN,
		.move_back = CONFIG_DEFAULT_MOVE_BACK,
		.hold_down_ms = CONFIG_DEFAULT_HOLD_DOWN_MS,
	};
	const struct cfg_failover *layer[] = { p ? &p->failover : NULL, s ? &s->failover : NULL };

	for (size_t i = 0; i < ARRAY_SIZE(layer); i++) {
		if (!layer[i])
			continue;
		if (layer[i]->on_down != CFG_ON_DOWN_UNSET)
			f.on_down = layer[i]->on_down;
		if (layer[i]->move_back >= 0)
			f.move_back = layer[i]->move_back;
		if (layer[i]->hold_down_ms)
			f.hold_down_ms = layer[i]->hold_down_ms;
	}
	return f;
}

static const struct key_def profile_keys[] = {
	{ "exec", profile_exec, KEY_REQUIRED },
	{ "user", profile_user, 0 },
	{ "bind_ro", profile_bind_ro, 0 },
	{ "bind", profile_bind_rw, 0 },
	{ "log_rate_limit_burst", profile_log_burst, 0 },
	{ "log_rate_limit_interval", profile_log_interval, 0 },
	{ "restart", profile_restart, 0 },
	{ "restart_sec", profile_restart_sec, 0 },
	{ "restart_max_sec", profile_restart_max_sec, 0 },
	QUOTA_KEYS,
	LIMIT_KEYS,
	FAILOVER_KEYS,
	{ "listen", key_listen, 0 },
};

/* ---- [session NAME] ---- */

static struct cfg_session *cur_session(struct parser *p)
{
	return &p->c->sessions[p->c->n_sessions - 1];
}

int config_find_session(const struct cmx_config *c, const char *name)
{
	size_t lo = 0, hi = c->n_sessions;

	if (!c->session_order) { /* still parsing */
		for (size_t i = 0; i < c->n_sessions; i++)
			if (!strcmp(c->sessions[i].name, name))
				return (int)i;
		return -ENOENT;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t i = c->session_order[mid];
		int k = strcmp(name, c->sessions[i].name);

		if (!k)
			return (int)i;
		if (k < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

static int by_session_name(const void *a, const void *b, void *arg)
{
	const struct cmx_config *c = arg;

	return strcmp(c->sessions[*(const uint32_t *)a].name,
		      c->sessions[*(const uint32_t *)b].name);
}

static int index_sessions(struct cmx_config *c)
{
	c->session_order = malloc((c->n_sessions + 1) * sizeof(*c->session_order));
	if (!c->session_order)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_sessions; i++)
		c->session_order[i] = (uint32_t)i;
	qsort_r(c->session_order, c->n_sessions, sizeof(*c->session_order), by_session_name, c);
	return 0;
}

static int session_begin(struct parser *p, int line, const char *name)
{
	struct cmx_config *c = p->c;
	struct cfg_session *s;
	int i = config_find_session(c, name);

	if (i >= 0)
		return fail(p, line, "duplicate session '%s' (first defined at line %d)", name,
			    c->sessions[i].line);
	s = APPEND(c->sessions, c->n_sessions);
	if (!s)
		return -ENOMEM;
	strcpy(s->name, name);
	s->profile_idx = -1;
	s->uplink_idx = -1;
	s->failover.move_back = -1;
	s->line = line;
	return 0;
}

/* Names are resolved after the whole file is read: sessions may come before their targets. */
static int session_profile(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_session *s = cur_session(p);

	if (!config_name_valid(value))
		return fail(p, line, "invalid profile name '%s'", value);
	strcpy(s->profile, value);
	s->profile_line = line;
	return 0;
}

/* uplink=lte1 (a pin) or uplink=lte1,lte2,... (tried in that order). */
static int session_uplink(struct parser *p, int line, const char *key, const char *value)
{
	struct cfg_session *s = cur_session(p);
	const char *v = value;

	s->n_prefs = 0;
	for (;;) {
		size_t len = strcspn(v, ",");
		char name[UPLINK_NAME_MAX + 2];

		if (s->n_prefs == CONFIG_UPLINK_PREFS_MAX)
			return fail(p, line, "uplink=%s: at most %d uplinks", value,
				    CONFIG_UPLINK_PREFS_MAX);
		snprintf(name, sizeof(name), "%.*s", (int)len, v);
		if (len > UPLINK_NAME_MAX || !config_uplink_name_valid(name))
			return fail(p, line, "invalid uplink name '%s'", name);
		for (size_t k = 0; k < s->n_prefs; k++)
			if (!strcmp(s->prefs[k], name))
				return fail(p, line, "uplink=%s names '%s' twice", value, name);
		strcpy(s->prefs[s->n_prefs++], name);
		if (!v[len])
			break;
		v += len + 1;
	}
	strcpy(s->uplink, s->prefs[0]);
	s->uplink_line = line;
	return 0;
}

static const struct key_def session_keys[] = {
	{ "profile", session_profile, KEY_REQUIRED },
	{ "uplink", session_uplink, 0 },
	QUOTA_KEYS,
	LIMIT_KEYS,
	FAILOVER_KEYS,
	{ "listen", key_listen, 0 },
};

/* ---- sections ---- */

#define KEYS(k) k, ARRAY_SIZE(k)
static_assert(ARRAY_SIZE(daemon_keys) <= SECTION_KEYS_MAX, "key_line[] too small");
static_assert(ARRAY_SIZE(backend_keys) <= SECTION_KEYS_MAX, "key_line[] too small");
static_assert(ARRAY_SIZE(metrics_keys) <= SECTION_KEYS_MAX, "key_line[] too small");
static_assert(ARRAY_SIZE(uplink_keys) <= SECTION_KEYS_MAX, "key_line[] too small");
static_assert(ARRAY_SIZE(profile_keys) <= SECTION_KEYS_MAX, "key_line[] too small");
static_assert(ARRAY_SIZE(session_keys) <= SECTION_KEYS_MAX, "key_line[] too small");

static const struct section_def sections[] = {
	{ "daemon", NULL, NULL, daemon_begin, NULL, KEYS(daemon_keys) },
	{ "backend", NULL, NULL, backend_begin, backend_end, KEYS(backend_keys) },
	{ "metrics", NULL, NULL, metrics_begin, NULL, KEYS(metrics_keys) },
	{ "uplink", config_uplink_name_valid,
	  "1-" STRINGIFY(UPLINK_NAME_MAX) " of a-z 0-9 _ -, starting with a letter or digit",
	  uplink_begin, uplink_end, KEYS(uplink_keys) },
	{ "profile", config_name_valid, "1-" STRINGIFY(CONFIG_NAME_MAX) " of A-Z a-z 0-9 _ . -",
	  profile_begin, profile_end, KEYS(profile_keys) },
	{ "session", config_name_valid, "1-" STRINGIFY(CONFIG_NAME_MAX) " of A-Z a-z 0-9 _ . -",
	  session_begin, NULL, KEYS(session_keys) },
};

/* quota_action= and quota_period= qualify a quota=; alone they would silently do nothing. */
static int quota_end(struct parser *p)
{
	int quota = seen_line(p, "quota"), other = seen_line(p, "quota_action");

	if (!other)
		other = seen_line(p, "quota_period");
	if (!quota && other)
		return fail(p, other, "%s has quota_action= or quota_period= but no quota=",
			    p->label);
	if (quota && cur_quota(p)->action == ACCT_QUOTA_NONE)
		cur_quota(p)->action = ACCT_QUOTA_BLOCK;
	return 0;
}

static int section_end(struct parser *p)
{
	const struct section_def *sec = p->sec;
	int r;

	if (!sec)
		return 0;
	for (size_t i = 0; i < sec->n_keys; i++)
		if ((sec->keys[i].flags & KEY_REQUIRED) && !p->key_line[i])
			return fail(p, p->sec_line, "%s needs %s=", p->label, sec->keys[i].key);
	r = quota_end(p);
	if (r >= 0 && sec->end)
		r = sec->end(p);
	p->sec = NULL;
	return r;
}

static int on_section(void *userdata, int line, const char *type, const char *name)
{
	struct parser *p = userdata;
	const struct section_def *sec = NULL;
	int r;

	r = section_end(p);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (!strcmp(sections[i].type, type))
			sec = &sections[i];
	if (!sec)
		return fail(p, line, "unknown section '%s'", type);
	if (sec->name_valid && !name)
		return fail(p, line, "[%s] needs a name, as in [%s NAME]", type, type);
	if (!sec->name_valid && name)
		return fail(p, line, "[%s] takes no name", type);
	if (name && !sec->name_valid(name))
		return fail(p, line, "invalid %s name '%s' (%s)", type, name, sec->name_rules);
	r = sec->begin(p, line, name);
	if (r < 0)
		return r;

	p->sec = sec;
	p->sec_line = line;
	memset(p->key_line, 0, sizeof(p->key_line));
	memset(p->gw_line, 0, sizeof(p->gw_line));
	snprintf(p->label, sizeof(p->label), "[%s%s%s]", type, name ? " " : "", name ? name : "");
	return 0;
}

/* Calls k->parse() for every comma-separated item of value. */
static int parse_list(struct parser *p, int line, const struct key_def *k, const char *value)
{
	_cleanup_free_ char *copy = strdup(value);
	char *rest = copy, *item;
	int r;

	if (!copy)
		return -ENOMEM;
	while ((item = strsep(&rest, ","))) {
		char *end = item + strlen(item);

		while (isspace((unsigned char)*item))
			item++;
		while (end > item && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!*item)
			return fail(p, line, "empty item in %s=", k->key);
		r = k->parse(p, line, k->key, item);
		if (r < 0)
			return r;
	}
	return 0;
}

static int on_key(void *userdata, int line, const char *type, const char *name, const char *key,
		  const char *value)
{
	struct parser *p = userdata;
	const struct key_def *k = NULL;
	size_t i;
	int r;

	if (!p->sec)
		return fail(p, line, "key '%s' outside of any section", key);
	for (i = 0; i < p->sec->n_keys; i++)
		if (!strcmp(p->sec->keys[i].key, key)) {
			k = &p->sec->keys[i];
			break;
		}
	if (!k)
		return fail(p, line, "unknown key '%s' in %s", key, p->label);
	if (!(k->flags & KEY_LIST) && p->key_line[i])
		return fail(p, line, "duplicate key '%s'", key);
	if (!*value && !(k->flags & KEY_EMPTY_OK))
		return fail(p, line, "empty value for '%s'", key);

	r = k->flags & KEY_LIST ? parse_list(p, line, k, value) : k->parse(p, line, key, value);
	if (r < 0)
		return r;
	if (!p->key_line[i])
		p->key_line[i] = line;
	if ((k->flags & KEY_SECRET) && !p->c->secret_line) {
		p->c->secret_line = line;
		p->c->secret_key = k->key;
	}
	return 0;
}

static void on_syntax_error(void *userdata, int line, const char *msg)
{
	fail(userdata, line, "%s", msg);
}

static const struct ini_ops config_ini_ops = {
	.section = on_section,
	.key = on_key,
	.error = on_syntax_error,
};

/* ---- the whole file ---- */

static int resolve(struct parser *p)
{
	struct cmx_config *c = p->c;

	for (size_t i = 0; i < c->n_sessions; i++) {
		struct cfg_session *s = &c->sessions[i];

		s->profile_idx = config_find_profile(c, s->profile);
		if (s->profile_idx < 0)
			return fail(p, s->profile_line, "session '%s' names unknown profile '%s'",
				    s->name, s->profile);
		for (size_t k = 0; k < s->n_prefs; k++) {
			s->pref_idx[k] = config_find_uplink(c, s->prefs[k]);
			if (s->pref_idx[k] < 0)
				return fail(p, s->uplink_line,
					    "session '%s' names unknown uplink '%s'", s->name,
					    s->prefs[k]);
		}
	}
	return 0;
}

/* The router places every session as if all uplinks were up and empty: pinned sessions claim
 * their uplinks first, the others spread over what is left in file order, so the same config
 * always gives the same placement, and a session that cannot fit is an error at its line. */
static int place(struct parser *p)
{
	struct cmx_config *c = p->c;
	_cleanup_free_ struct router_link *rl = calloc(c->n_uplinks + 1, sizeof(*rl));
	_cleanup_free_ struct router_session *rs = calloc(c->n_sessions + 1, sizeof(*rs));
	_cleanup_free_ struct router_action *ra = calloc(c->n_sessions + 1, sizeof(*ra));
	const struct router_plan_params prm = { 0 };
	int n;

	if (!rl || !rs || !ra)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_uplinks; i++)
		rl[i] = (struct router_link){
			.capacity = c->uplinks[i].capacity,
			.up = true,
			.priority = c->uplinks[i].priority,
		};
	for (size_t i = 0; i < c->n_sessions; i++) {
		const struct cfg_session *s = &c->sessions[i];

		rs[i] = (struct router_session){ .uplink = -1, .home = -1,
						 .last_move = ROUTER_NEVER };
		rs[i].n_prefs = s->n_prefs;
		for (size_t k = 0; k < s->n_prefs; k++)
			rs[i].prefs[k] = s->pref_idx[k];
	}
	n = router_plan(rl, c->n_uplinks, rs, c->n_sessions, &prm, ra);
	if (n < 0)
		return n;
	/* Errors in file order: the first session that does not fit is the one reported. */
	for (size_t i = 0; i < c->n_sessions; i++)
		for (int k = 0; k < n; k++) {
			const struct cfg_session *s = &c->sessions[i];

			if (ra[k].session != i || ra[k].verb != ROUTER_WAIT)
				continue;
			if (ra[k].reason == ROUTER_REASON_PIN_FULL)
				return fail(p, s->line,
					    "session '%s' does not fit: uplink '%s' is at capacity %u",
					    s->name, s->uplink,
					    c->uplinks[s->pref_idx[0]].capacity);
			return fail(p, s->line, "session '%s' does not fit: %s", s->name,
				    !c->n_uplinks ? "no uplink is defined"
				    : s->n_prefs ? "every uplink it lists is at capacity"
						 : "all uplinks are at capacity");
		}
	for (int k = 0; k < n; k++)
		c->sessions[ra[k].session].uplink_idx = ra[k].to;
	return 0;
}

void config_free(struct cmx_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_profiles; i++) {
		strv_free(c->profiles[i].argv);
		strv_free(c->profiles[i].bind_ro);
		strv_free(c->profiles[i].bind_rw);
	}
	free(c->uplinks);
	free(c->profiles);
	free(c->sessions);
	free(c->session_order);
	free(c->path);
	free(c);
}

static void config_freep(struct cmx_config **c)
{
	config_free(*c);
}

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int config_parse_string(const char *path, const char *text, struct cmx_config **ret, char *err,
			size_t errlen)
{
	_cleanup_(config_freep) struct cmx_config *c = NULL;
	struct parser p = { .path = path, .err = err, .errlen = errlen };
	int r;

	set_err(err, errlen, "%s", "");
	c = calloc(1, sizeof(*c));
	r = c && (c->path = strdup(path)) ? 0 : -ENOMEM;
	p.c = c;
	if (r >= 0)
		r = config_parse_listen(CONFIG_METRICS_DEFAULT_LISTEN, &c->metrics);
	if (r >= 0) {
		strcpy(c->daemon.state_dir, CONFIG_DEFAULT_STATE_DIR);
		c->daemon.outbox_max = CONFIG_DEFAULT_OUTBOX_MAX;
		c->daemon.uid_min = CONFIG_DEFAULT_UID_MIN;
		c->daemon.uid_max = CONFIG_DEFAULT_UID_MAX;
		c->daemon.inbox_max = CONFIG_DEFAULT_INBOX_MAX;
		c->daemon.counters_save_ms = CONFIG_DEFAULT_COUNTERS_SAVE_MS;
	}
	if (r >= 0)
		r = ini_parse_string(text, &config_ini_ops, &p);
	if (r >= 0)
		r = section_end(&p);
	if (r >= 0)
		r = index_sessions(c);
	if (r >= 0)
		r = resolve(&p);
	if (r >= 0)
		r = check_listens(&p);
	if (r >= 0)
		r = place(&p);
	if (r < 0) {
		/* Every failure leaves a message, even those that are not the config's fault. */
		if (!p.failed)
			set_err(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, size = 0;

	if (fd < 0)
		return negative_errno();
	for (;;) {
		if (len == size) {
			if (size > max)
				return -EFBIG;
			size = size ? 2 * size : 4096;
			char *b = realloc(buf, size + 1);
			if (!b)
				return -ENOMEM;
			buf = b;
		}
		ssize_t k = read(fd, buf + len, size - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (len > max)
		return -EFBIG;
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int config_load(const char *path, struct cmx_config **ret, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	r = read_file(path, CONFIG_FILE_MAX, &text, &len);
	if (r < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	/* The parser works on a C string; a NUL would silently cut the file short. */
	if (strlen(text) != len) {
		int line = 1;
		for (const char *s = text; *s; s++)
			line += *s == '\n';
		set_err(err, errlen, "%s:%d: NUL byte in file", path, line);
		return -EINVAL;
	}
	return config_parse_string(path, text, ret, err, errlen);
}
