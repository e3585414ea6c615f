/* accounting.h — the daemon's use of bpf/acct: attach counters to uplinks and sessions as they
 * come and go, apply the configured quotas and their reset periods, log quota events once. */
#pragma once

#include <stdbool.h>

#include "bpf/acct.h"
#include "daemon/store.h"

struct daemon;
struct dm_uplink;
struct session;

/* Opens accounting when this machine supports it; without it the daemon runs uncounted (a
 * warning), unless a quota is configured: then -ENOTSUP and a message naming what is missing.
 * The programs load on a thread of their own, overlapping the uplinks' bring-up; every dm_acct_*
 * call waits for that load first. */
int dm_acct_open(struct daemon *d);
/* Waits for the load dm_acct_open() started: 0, or its error when a quota is configured (the
 * daemon must not run with quotas it cannot enforce). */
int dm_acct_wait(struct daemon *d);
/* Leaves the attachments counting (pinned) and frees the rest. */
void dm_acct_close(struct daemon *d);
void dm_acct_uplink_attach(struct daemon *d, struct dm_uplink *du);
void dm_acct_uplink_detach(struct daemon *d, struct dm_uplink *du);
void dm_acct_session_attach(struct daemon *d, struct session *s);
/* Logs the session's final counts. A session removed for good (remove_when_stopped) has them
 * committed to the store, and only then are its pinned counters forgotten: without a store
 * they stay pinned, so nothing is lost. */
void dm_acct_session_detach(struct daemon *d, struct session *s);
/* The store's sums over uplink's removed sessions; -ENOENT without a store. */
int dm_acct_removed_total(struct daemon *d, const char *uplink, struct store_removed_total *ret);
/* Quotas of every uplink and session again, as the config now says (start, reload). */
void dm_acct_apply_quotas(struct daemon *d);
bool dm_acct_read(struct daemon *d, enum acct_kind kind, const char *name,
		  struct acct_counters *c, struct acct_quota *q);
/* Between the two, dm_acct_read() takes the values of a copy of the maps made at begin (one read
 * of them all, not three lookups per name): for the reads of one /metrics scrape, in one turn of
 * the loop. */
void dm_acct_snapshot_begin(struct daemon *d);
void dm_acct_snapshot_end(struct daemon *d);
