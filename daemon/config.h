/* config.h — cellmux.conf, parsed and validated as a whole before anything touches the system.
 * Pure code: no root, no kernel; system checks (interfaces, users, executables) are preflight.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/acct.h"
#include "bpf/quota_period.h"
#include "daemon/health.h"
#include "netns/ident.h"
#include "router/recovery.h"
#include "netns/uplink.h"

#define CONFIG_DEFAULT_PATH "/etc/cellmux/cellmux.conf"
#define CONFIG_NAME_MAX 32 /* session and profile names: [A-Za-z0-9_.-], also cgroup names */
#define CONFIG_ERR_MAX 512

enum restart_policy {
	RESTART_NO,
	RESTART_ON_FAILURE,
	RESTART_ALWAYS,
};

struct cfg_daemon {
	char cgroup[256]; /* cgroup v2 path for session cgroups; "" = "<own cgroup>/cellmux" */
	char state_dir[256]; /* the store (SQLite) lives here; default CONFIG_DEFAULT_STATE_DIR */
	int state_dir_line;  /* 0 for the default */
	unsigned outbox_max; /* events waiting for the backend before new ones are refused */
	/* Key files sealing worker state blobs (daemon/seal.h); "" = none (the credential). */
	char state_key[256], state_key_previous[256];
	unsigned outbox_session_max; /* of them from one session; 0: a fair share (router/) */
	unsigned inbox_max;  /* deliveries waiting for workers before new ones are refused */
	char ctl_socket[108]; /* admin socket path; "" = CTL_SOCKET_PATH */
	char bpf_dir[128];    /* where counters are pinned (bpffs); "" = ACCT_PIN_DIR */
	char ctl_group[33];   /* group allowed on the admin socket besides root */
	bool ctl_group_set;   /* false: the default group (cellmux) */
	uint32_t uid_min, uid_max; /* dynamic session uids (uid_range=); see sandbox/identity.h */
	/* How often counters and quota use are copied to the store (counters_save_interval=):
	 * what a power cut can cost them. Default CONFIG_DEFAULT_COUNTERS_SAVE_MS. */
	unsigned counters_save_ms;
	/* cgroup_favor_dynmods=yes: set favordynmods on the cgroup2 mount when a controller is on
	 * v1 (sandbox/cgroup.h says what it costs and saves). */
	bool favor_dynmods;
	int line;
};
#define CONFIG_DEFAULT_COUNTERS_SAVE_MS 60000

/* quota=, quota_action=, quota_period= of an [uplink], [profile] or [session]: bpf/acct.h
 * enforces the limit, the daemon resets it by the period (bpf/quota_period.h). */
struct cfg_quota {
	uint64_t limit;                /* bytes, rx + tx; 0 = no quota */
	enum acct_quota_action action; /* default ACCT_QUOTA_BLOCK */
	struct quota_period period;    /* default QUOTA_PERIOD_NONE */
	int line;                      /* the quota= line, 0 if none */
};

/* memory_max=, pids_max=, cpu_weight= of a [profile] or [session]: the semantics and units of
 * systemd's MemoryMax=, TasksMax=, CPUWeight=, applied to the session's cgroup. A session's own
 * keys override its profile's one by one (config_session_limits()). */
#define CONFIG_LIMIT_INFINITY UINT64_MAX
struct cfg_limits {
	uint64_t memory_max; /* bytes; CONFIG_LIMIT_INFINITY = none (default) */
	uint64_t pids_max;   /* tasks; default CONFIG_DEFAULT_PIDS_MAX */
	unsigned cpu_weight; /* 1..10000; 0 = the kernel's default (100) */
	int memory_line, pids_line, cpu_line; /* 0 when not written */
};
#define CONFIG_DEFAULT_PIDS_MAX 256

struct cfg_uplink {
	struct uplink_params p;
	unsigned capacity; /* max sessions, >= 1; default CONFIG_DEFAULT_CAPACITY */
	int line;          /* the [uplink NAME] header */
	int iface_line;    /* the interface= line, for preflight errors */
	struct cfg_quota quota;
	int priority; /* priority=: automatic placement fills the lowest first; default 0 */
	struct health_cfg health; /* health_check=, health_interval=, health_fail=, health_ok= */
	/* match=: the device is found by identity (netns/ident.h), at start and on hot-plug,
	 * instead of by interface=; n == 0 without match=. */
	struct ident_match match;
	struct recovery_cfg recovery; /* recover_after=, recover_max_per_hour= (can_reset unset) */
};
#define CONFIG_DEFAULT_CAPACITY 16
/* driver=host: the last resort by default, behind every modem (lower priority is preferred). */
#define CONFIG_DEFAULT_HOST_PRIORITY 100
/* driver=host's default veth addressing: the namespace's end; the host's is 10.231.255.1. Apart
 * from cellmux-sim's 100.64.0.0/10 and 198.18.0.0/15, and rarely a LAN's. */
#define CONFIG_HOST_ADDRESS "10.231.255.2/30"

/* on_uplink_down=, move_back=, move_hold_down=: per profile, overridable per session. */
enum cfg_on_down { CFG_ON_DOWN_UNSET, CFG_ON_DOWN_MOVE, CFG_ON_DOWN_WAIT };
struct cfg_failover {
	enum cfg_on_down on_down;
	int move_back;            /* -1 unset, 0 no, 1 yes */
	unsigned hold_down_ms;    /* 0 unset */
};
/* A session that must keep its carrier says uplink=X (a pin) or on_uplink_down=wait; every
 * other session leaves a dead uplink: the box has several modems so that one dying does not
 * take its work down. */
#define CONFIG_DEFAULT_ON_DOWN CFG_ON_DOWN_MOVE
#define CONFIG_DEFAULT_MOVE_BACK 0
/* Longer than a health_interval x (health_fail + health_ok) cycle, so an uplink that flaps
 * moves a session at most once per 30 s. */
#define CONFIG_DEFAULT_HOLD_DOWN_MS 30000
#define CONFIG_UPLINK_PREFS_MAX 8
/* listen= of a [profile] or [session]: sockets the daemon binds on the host side and hands to
 * the worker with systemd's LISTEN_FDS convention (fds 3.. in the order written). */
#define CONFIG_LISTEN_MAX 8
struct cfg_listen {
	int family;        /* AF_INET, AF_INET6 or AF_UNIX (a stream socket at path) */
	bool udp;          /* "udp:ADDR:PORT": a datagram socket (a SOCKS5 UDP relay's) */
	char address[108]; /* numeric address, or the unix socket's absolute path */
	unsigned port;     /* IP only */
};
struct cfg_listens {
	struct cfg_listen v[CONFIG_LISTEN_MAX];
	size_t n;
	int line; /* the listen= line; 0 when not written */
};

struct cfg_profile {
	char name[CONFIG_NAME_MAX + 1];
	char **argv;              /* exec= split like a shell word list (quotes, backslash); NULL-terminated */
	char user[33];            /* "" (default) = a dynamic uid per session; never root */
	enum restart_policy restart; /* default RESTART_ON_FAILURE */
	unsigned restart_sec_ms;     /* first backoff, default 1000 */
	unsigned restart_max_ms;     /* backoff cap, default 60000 */
	int line;
	int exec_line;
	int user_line;
	struct cfg_quota quota; /* each session of the profile gets its own */
	struct cfg_limits limits;
	/* bind_ro=, bind=: host paths the sandbox shows at the same place (systemd's
	 * BindReadOnlyPaths=, BindPaths=); NULL-terminated, NULL when none. */
	char **bind_ro, **bind_rw;
	int bind_ro_line, bind_rw_line;
	struct cfg_failover failover; /* unset fields: the defaults */
	/* log_rate_limit_burst= lines per log_rate_limit_interval= of the worker's output
	 * (journald's LogRateLimitBurst=/LogRateLimitIntervalSec=); burst 0: no limit. */
	unsigned log_burst;
	unsigned log_interval_ms;
	struct cfg_listens listen;
};
#define CONFIG_DEFAULT_LOG_BURST 1000
#define CONFIG_DEFAULT_LOG_INTERVAL_MS 30000
#define CONFIG_BINDS_MAX 16

/* [metrics]: the Prometheus listener. Absent section = CONFIG_METRICS_DEFAULT_LISTEN. */
#define CONFIG_METRICS_DEFAULT_LISTEN "127.0.0.1:9577"
struct cfg_metrics {
	bool enabled;      /* false for listen= empty or "off" */
	int family;        /* AF_INET or AF_INET6 */
	char address[46];  /* numeric, normalised, no brackets (INET6_ADDRSTRLEN) */
	unsigned port;     /* 1..65535 */
	int line;          /* the [metrics] header, 0 when absent */
};

struct cfg_session {
	char name[CONFIG_NAME_MAX + 1];
	char profile[CONFIG_NAME_MAX + 1];
	char uplink[UPLINK_NAME_MAX + 1]; /* as written; "" = placed by the router */
	int profile_idx;                  /* resolved index into profiles */
	int uplink_idx;                   /* placement: index into uplinks, after config_load */
	int line;
	int profile_line; /* the profile= line */
	int uplink_line;  /* the uplink= line; 0 when placed by the router */
	struct cfg_quota quota; /* see config_session_quota() */
	struct cfg_limits limits; /* only the keys written here; see config_session_limits() */
	/* uplink=A,B,C: an ordered preference list; .uplink is its first name, one name is a
	 * pin. Indexes into uplinks, resolved by config_load. */
	char prefs[CONFIG_UPLINK_PREFS_MAX][UPLINK_NAME_MAX + 1];
	int pref_idx[CONFIG_UPLINK_PREFS_MAX];
	size_t n_prefs;
	struct cfg_failover failover; /* only the keys written here; see config_session_failover */
	struct cfg_listens listen; /* overrides the profile's when written */
};

#define CONFIG_DEFAULT_STATE_DIR "/var/lib/cellmux"
#define CONFIG_DEFAULT_OUTBOX_MAX 100000
#define CONFIG_DEFAULT_USAGE_INTERVAL_MS 60000
/* 0x636D0000 ("cm") + 65536: above every account range Debian hands out, clear of systemd's
 * DynamicUser= range (61184-65519) and below 2^31, where some tools still misbehave. */
#define CONFIG_DEFAULT_UID_MIN 1668087808u
#define CONFIG_DEFAULT_UID_MAX 1668153343u
#define CONFIG_DEFAULT_INBOX_MAX 10000

/* [backend]: the link to a central backend. Absent section: the daemon runs standalone. */
struct cfg_backend {
	bool enabled;
	char url[512];        /* wss://HOST:PORT/PATH (ws:// only with insecure=yes) */
	char ca[256];         /* CA bundle the server's certificate must chain to; "" = system */
	bool insecure;        /* tests only: no certificate or host name check; warned at connect */
	char cert[256];       /* client certificate for mutual TLS, with key; "" = none */
	char key[256];
	char token_file[256]; /* bearer token (first line), never logged; "" = none */
	int token_file_line;
	char gateway_id[64];  /* default: the host name */
	unsigned usage_interval_ms; /* Usage reports; default CONFIG_DEFAULT_USAGE_INTERVAL_MS */
	int line;
};

struct cmx_config {
	char *path;
	struct cfg_daemon daemon;
	struct cfg_backend backend;
	struct cfg_metrics metrics;
	struct cfg_uplink *uplinks;
	size_t n_uplinks;
	struct cfg_profile *profiles;
	size_t n_profiles;
	struct cfg_session *sessions;
	size_t n_sessions;
	/* sessions' indices in name order, once the file is parsed: config_find_session() is
	 * asked once a second per session (the router's plan), a linear search was O(n²). */
	uint32_t *session_order;
	/* The first key holding a secret (password=, pin=), 0 if none: such a file must be
	 * root's alone, which preflight checks. */
	int secret_line;
	const char *secret_key;
};

/* Parses and validates path. On error returns -EINVAL (or -errno for I/O) and writes one
 * "FILE:LINE: message" into err; *ret is only written on success. */
int config_load(const char *path, struct cmx_config **ret, char *err, size_t errlen);
/* The same from a string; path is used for messages only. */
int config_parse_string(const char *path, const char *text, struct cmx_config **ret, char *err,
			size_t errlen);
void config_free(struct cmx_config *c);

const char *restart_policy_to_string(enum restart_policy p);
int config_find_uplink(const struct cmx_config *c, const char *name);  /* index or -ENOENT */
int config_find_profile(const struct cmx_config *c, const char *name); /* index or -ENOENT */
int config_find_session(const struct cmx_config *c, const char *name); /* index or -ENOENT */
/* A session's quota: its own quota= keys if it has any, else its profile's; NULL for none. */
/* A session's failover policy: its own keys, else its profile's, else the defaults. */
struct cfg_failover config_session_failover(const struct cfg_profile *p,
					    const struct cfg_session *s);
const struct cfg_quota *config_session_quota(const struct cmx_config *c,
					     const struct cfg_session *s);
/* The limits a session runs with: each key of its own section (s may be NULL) over its
 * profile's. */
struct cfg_limits config_session_limits(const struct cfg_profile *p, const struct cfg_session *s);
/* The sockets a session is handed: its own listen= if written, else its profile's. */
const struct cfg_listens *config_session_listens(const struct cfg_profile *p,
						 const struct cfg_session *s);
/* One listen= word: "ADDR:PORT", "[ADDR6]:PORT" (numeric, TCP), the same after "udp:", or an
 * absolute unix socket path. */
int config_parse_socket(const char *s, struct cfg_listen *ret);
/* "127.0.0.1:1081", "[::1]:1081" or the path, for messages. */
void config_listen_format(const struct cfg_listen *l, char *buf, size_t len);
bool config_listen_equal(const struct cfg_listens *a, const struct cfg_listens *b);

/* -EINVAL for anything but "no", "on-failure", "always". */
int restart_policy_from_string(const char *s, enum restart_policy *ret);

/* "ADDR:PORT" (IPv4) or "[ADDR6]:PORT", numeric; "" or "off" disables. -EINVAL if malformed. */
int config_parse_listen(const char *s, struct cfg_metrics *ret);

/* The name rules of the config, for names that arrive by other ways (admin socket, backend):
 * sessions and profiles [A-Za-z0-9_.-]{1,CONFIG_NAME_MAX} but not "." or ".."; uplinks
 * [a-z0-9_-]{1,UPLINK_NAME_MAX} starting with a letter or digit. */
bool config_name_valid(const char *s);
bool config_uplink_name_valid(const char *s);
