/* acct.h — traffic accounting and quotas: per-session (cgroup) and per-uplink (interface)
 * counters kept by eBPF programs in maps pinned under a bpffs directory; see bpf/README.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACCT_PIN_DIR "/sys/fs/bpf/cellmux"
#define ACCT_WHY_MAX 256

enum acct_kind {
	ACCT_SESSION = 1,
	ACCT_UPLINK = 2,
};

enum acct_quota_action {
	ACCT_QUOTA_NONE = 0,   /* acct_set_quota(): remove the quota */
	ACCT_QUOTA_NOTIFY = 1, /* reaching the limit only raises an event */
	ACCT_QUOTA_BLOCK = 2,  /* ... and every later packet, both ways, is dropped */
};

/* Bytes are IP bytes on the wire (each segment's headers, no link-layer header); packets are
 * wire packets. rx: into the session's sockets / in through the uplink's interface. Counters
 * only grow: they are cumulative since the name was first attached or last forgotten. */
struct acct_counters {
	uint64_t rx_bytes, rx_packets;
	uint64_t tx_bytes, tx_packets;
	uint64_t rx_dropped, tx_dropped; /* packets dropped by a blocking quota */
};

struct acct_quota {
	uint64_t limit_bytes;
	uint64_t used_bytes; /* rx + tx bytes since the last acct_quota_reset() */
	enum acct_quota_action action;
	bool over; /* the limit was reached (and, with BLOCK, traffic is being dropped) */
};

struct acct_event {
	enum acct_kind kind;
	const char *name; /* valid during the callback only */
	uint64_t used_bytes, limit_bytes;
	enum acct_quota_action action;
};
typedef void (*acct_event_fn)(const struct acct_event *ev, void *userdata);

struct acct;

/* What this machine lacks for accounting, without creating anything (for --check-config):
 * kernel BTF, a cgroup v2 mount, a bpf filesystem holding pin_dir (or its parent), the BPF
 * program and map types used. 0, or -ENOTSUP (-EPERM without privileges) with a sentence
 * naming what is missing in why (ACCT_WHY_MAX). */
int acct_probe(const char *pin_dir, char *why, size_t whylen);

/* Mounts a bpf filesystem on pin_dir's parent (/sys/fs/bpf) unless one is there, as systemd
 * does at boot; for daemons on systems that do not. 1: mounted now, 0: already there. */
int acct_bpffs_mount(const char *pin_dir);

/* Loads the cgroup programs and creates the maps under pin_dir (ACCT_PIN_DIR in production),
 * or reuses the maps already pinned there: counters continue where a previous daemon left
 * them. -ENOTSUP when acct_probe() fails, -EINVAL when the pinned maps have another layout
 * (an incompatible older cellmux: remove pin_dir to start over). libbpf's messages go to
 * log_debug(). Thread-safe afterwards: calls on one struct acct may run in parallel. */
int acct_open(const char *pin_dir, struct acct **ret);
/* Frees memory and file descriptors only. Attachments stay and keep counting into the pinned
 * maps (tc filters on their interfaces, cgroup links pinned under pin_dir/links): a daemon
 * that restarts or crashes loses no traffic, and the next acct_*_attach() takes them over
 * instead of adding a second counter. NULL is a no-op. */
void acct_close(struct acct *a);

/* Counts the traffic of every socket in cgroup_dir (an absolute path in the cgroup v2 tree)
 * and its descendants as session's; applies session's quota. Call after creating the cgroup
 * and before the worker starts. Idempotent: on a cgroup that already carries session's links
 * (a restarted daemon) the programs are replaced in place, so nothing is counted twice; a new
 * cgroup for the same session name continues the same counters. On failure the session is left
 * detached. */
int acct_session_attach(struct acct *a, const char *session, const char *cgroup_dir);
/* Stops counting session's cgroup (removes the links and the cgroup's key) and writes the final
 * counters to ret (may be NULL). The counters and quota stay under the name, so a later attach
 * continues them; acct_forget() drops them. -ENOENT for a name never attached. */
int acct_session_detach(struct acct *a, const char *session, struct acct_counters *ret);

/* Counts everything crossing ifname inside the network namespace nsfd, with tc clsact ingress
 * and egress filters (handle ACCT_TC_HANDLE, priority ACCT_TC_PRIO, so they run first), and
 * applies uplink's quota. An existing clsact qdisc is used, not owned; our own filters from a
 * previous daemon are replaced in place. -ENODEV when ifname is not in the namespace, -EEXIST
 * when a foreign filter holds our handle and priority. May run on any thread: enters nsfd on
 * the calling thread only and returns it to its namespace. */
int acct_uplink_attach(struct acct *a, const char *uplink, int nsfd, const char *ifname);
/* Removes our filters from ifname in nsfd and the clsact qdisc if we created it and no other
 * filter is left on it; writes the final counters to ret (may be NULL). nsfd < 0, or an
 * interface gone from the namespace: only the counters are read (moving an interface to
 * another namespace removes its qdiscs anyway). Call before the interface leaves. */
int acct_uplink_detach(struct acct *a, const char *uplink, int nsfd, const char *ifname,
		       struct acct_counters *ret);
#define ACCT_TC_HANDLE 0xc3a1
#define ACCT_TC_PRIO 1

/* The counters of a name. -ENOENT for a name never attached and without a quota. */
int acct_read(struct acct *a, enum acct_kind kind, const char *name, struct acct_counters *ret);

/* Sets name's quota (before or after attaching; the name is created if new): limit_bytes over
 * rx + tx, enforced by the programs at the next packet. Keeps the period's usage; a raised
 * limit above it clears `over`, which unblocks. action ACCT_QUOTA_NONE removes the quota. */
int acct_set_quota(struct acct *a, enum acct_kind kind, const char *name, uint64_t limit_bytes,
		   enum acct_quota_action action);
/* Starts a new quota period: the usage becomes used_bytes (0 at a period boundary; after a
 * reboot emptied the maps, the usage the daemon's store carried over) and `over` is cleared.
 * -ENOENT without a quota. */
int acct_quota_reset(struct acct *a, enum acct_kind kind, const char *name, uint64_t used_bytes);
/* -ENOENT when name has no quota. */
int acct_quota_state(struct acct *a, enum acct_kind kind, const char *name, struct acct_quota *ret);
/* The counters and quotas of every name, as they are now, read at once: for a caller about to
 * read many names (a /metrics scrape), so that each costs one map lookup instead of three. */
struct acct_snapshot;
int acct_snapshot_take(struct acct *a, struct acct_snapshot **ret);
void acct_snapshot_free(struct acct_snapshot *sn);
/* acct_read() and acct_quota_state() in one: the name looked up once, the quota's use from the
 * same counters; the values from sn when it has the name's id (NULL: from the maps). q is all
 * zero without a quota. */
int acct_read_all(struct acct *a, const struct acct_snapshot *sn, enum acct_kind kind,
		  const char *name, struct acct_counters *c, struct acct_quota *q);

/* Drops everything kept for name: counters, quota, id (detach a session first; a session's
 * links still there are removed, so its id cannot reach a later holder). For a session removed
 * from the config, once its final counters are in the store. */
int acct_forget(struct acct *a, enum acct_kind kind, const char *name);

/* ---- Carrying counters over a reboot ----
 * bpffs is empty after a reboot: the daemon keeps a copy of every name's counters and quota in
 * its store and writes them back into maps acct_open() had to create. */

/* Whether acct_open() created the maps (nothing was pinned under pin_dir: a first start, or a
 * reboot emptied bpffs) instead of reusing pinned ones, which are then the live truth. */
bool acct_maps_created(const struct acct *a);
/* Calls fn for every name in the maps with its counters and quota (q NULL: none); fn returning
 * non-zero stops. Returns the number of names visited or -errno. */
int acct_foreach(struct acct *a,
		 int (*fn)(void *userdata, enum acct_kind kind, const char *name,
			   const struct acct_counters *c, const struct acct_quota *q),
		 void *userdata);
/* Creates name with counters c and quota q (NULL: none; used_bytes and over carried as they
 * were), for a name no program counts yet: after acct_open() created the maps and before any
 * attach. -EEXIST when the name exists: live counters are never overwritten. */
int acct_restore(struct acct *a, enum acct_kind kind, const char *name,
		 const struct acct_counters *c, const struct acct_quota *q);

/* Quota events: a pollable fd (owned by a; watch it for input, e.g. with g_unix_fd_add()) that
 * becomes readable when a program flagged a quota as reached, once per crossing. fn is called
 * from acct_events_process(), which returns the number of events handled or -errno. Events
 * raised while no daemon ran wait in the pinned ring buffer (64 KiB). The ring buffer has one
 * read position: only the daemon may consume events, other readers use acct_quota_state(). */
int acct_events_fd(struct acct *a, acct_event_fn fn, void *userdata);
int acct_events_process(struct acct *a);

/* "session", "uplink"; "none", "notify", "block"; from "notify" or "block" (-EINVAL else). */
const char *acct_kind_to_string(enum acct_kind kind);
const char *acct_quota_action_to_string(enum acct_quota_action action);
int acct_quota_action_from_string(const char *s, enum acct_quota_action *ret);
