/* status.h — a read-only view of cellmuxd's state for the admin socket and the metrics
 * endpoint: plain structs filled on demand, valid until the next return to the main loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/worker_status.h"
#include "router/recovery.h"
#include "sandbox/cgroup.h"
#include "sandbox/inspect.h"

struct daemon;

#define STATUS_MAX_ADDRS 8

struct status_daemon {
	const char *version;
	int64_t start_time_unix;
	unsigned uplinks_total, uplinks_up, sessions_total, sessions_running;
	bool have_backend; /* a [backend] is configured; the rest is zero without one */
	bool backend_up;
	unsigned backend_outbox, backend_inbox, backend_reconnects;
};

struct status_uplink {
	const char *name, *driver, *state; /* "up", "down", "connecting", "draining" */
	const char *ifname;
	const char *device; /* qmi: the control port in use (or, down, to look for); "" else */
	char addresses[STATUS_MAX_ADDRS][48];
	size_t n_addresses;
	unsigned sessions, capacity, reconnects;
	bool counters_valid; /* accounting runs: the counters below mean something */
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint64_t quota_bytes; /* 0: none */
	uint64_t quota_used_bytes;
	bool quota_reached;
	/* Final counters of the sessions removed from this uplink (the store's sums): kept apart
	 * from the live sessions, so live + removed is everything its sessions ever moved. */
	bool removed_valid; /* false: no store to read them from */
	unsigned removed_sessions;
	uint64_t removed_rx_bytes, removed_tx_bytes, removed_rx_packets, removed_tx_packets;
	int signal_dbm;                   /* INT_MIN: unknown */
	const char *operator_name, *rat;  /* NULL: unknown; may point into the buffers below */
	char radio_operator[64], radio_rat[16];
	const char *health;        /* "healthy", "degraded", "failed" (health.h) */
	const char *health_reason; /* why, as logged */
	/* From the uplink's live state (uplink_live()), as its driver learned them. */
	char gateways[2][48];
	size_t n_gateways;
	char dns[3][48];
	size_t n_dns;
	const char *last_error; /* NULL: none; with its reason (call-end reason, DHCP NAK ...) */
	int64_t last_error_unix_ms;
	/* The recovery ladder (router/recovery.h): steps taken since start, by kind; the last
	 * one; and where it stands now ("": not failed), e.g. "reset due in 40s". */
	unsigned recoveries[__RECOVERY_STEP_MAX];
	const char *recovery_last;
	char recovery[96];
};

struct status_session {
	const char *name, *profile, *uplink, *state; /* "running", "backoff", "stopped", "stopping" */
	int pid;                                     /* 0: none */
	unsigned restarts;
	bool counters_valid;
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint64_t quota_bytes, quota_used_bytes;
	bool quota_reached;
	uint64_t uptime_ms;          /* of the current worker; 0 without one */
	/* The worker's last Status, as it sent it (NULL: none yet), and when it arrived. */
	const struct worker_status *worker_status;
	int64_t worker_status_unix_ms;
	/* The sandbox as the kernel sees it, filled by status_session_sandbox() only: false and
	 * zero while the session has no worker. */
	bool have_sandbox;
	struct sandbox_view sandbox;
	bool have_usage; /* then each controller's have_* says what could be read */
	struct cgroup_usage usage;
	unsigned moves;          /* times the router moved it to another uplink */
	const char *wait_reason; /* NULL: not waiting */
};

void status_daemon(struct daemon *d, struct status_daemon *out);
size_t status_n_uplinks(struct daemon *d);
int status_uplink(struct daemon *d, size_t i, struct status_uplink *out); /* -ENOENT past the end */
size_t status_n_sessions(struct daemon *d);
int status_session(struct daemon *d, size_t i, struct status_session *out);
/* The same without the counters and quota (left zero, counters_valid false): what the relay's
 * once-a-second look for changes of state needs, without a map read per session. */
int status_session_state(struct daemon *d, size_t i, struct status_session *out);
/* Adds the sandbox view and cgroup limits and use to out (filled by status_session() for the
 * same i). Apart from status_session() because it reads procfs and cgroupfs: the backend's
 * once-a-second status poll has no use for it; `session show` does. */
int status_session_sandbox(struct daemon *d, size_t i, struct status_session *out);
/* The cgroup limits and use alone (have_usage, usage), without the sandbox view: what /metrics
 * shows of a session's kernel side, and no more read per scrape. spare: descriptors the call
 * may keep open for the next one while the worker runs (cgroup_session_usage()), less those
 * it opened; while it is under CGF_N none are kept. NULL: none. */
int status_session_usage(struct daemon *d, size_t i, uint64_t *spare, struct status_session *out);
