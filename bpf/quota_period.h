/* quota_period.h — the quota bookkeeping that needs no kernel: sizes ("500M", "1.5G") and reset
 * periods (none, daily, monthly on a day), every instant in UTC. Pure functions, unit-tested. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "SIZE": a decimal number with an optional fraction ("1.5") and an optional unit K, M, G, T
 * (or KiB, MiB, GiB, TiB: the same), powers of 1024 like systemd's and iproute2's sizes; no
 * unit (or "B") means bytes and then no fraction. "KB"/"MB"/... are refused: whether a plan's
 * "GB" is 10^9 or 2^30 bytes is exactly what an operator should not have to guess about us.
 * A fraction is truncated to whole bytes. -EINVAL on syntax, -ERANGE above UINT64_MAX. */
int quota_size_parse(const char *s, uint64_t *ret);

enum quota_period_kind {
	QUOTA_PERIOD_NONE,    /* the quota never resets by itself */
	QUOTA_PERIOD_DAILY,   /* at 00:00 UTC */
	QUOTA_PERIOD_MONTHLY, /* at 00:00 UTC on day `day` of each month */
};

struct quota_period {
	enum quota_period_kind kind;
	/* MONTHLY: 1..31; a month without that day resets on its last day (31 -> Feb 28/29,
	 * Apr 30). 0 for the other kinds. */
	unsigned day;
};

#define QUOTA_PERIOD_STRLEN 16 /* "monthly:31" and a NUL, with room */

/* "none", "daily", "monthly" (day 1) or "monthly:DAY" with DAY 1..31. -EINVAL otherwise. */
int quota_period_parse(const char *s, struct quota_period *ret);
/* The inverse of quota_period_parse(), into buf (QUOTA_PERIOD_STRLEN); returns buf. */
const char *quota_period_format(const struct quota_period *p, char *buf, size_t len);

/* The start of the period that holds now: the latest reset instant <= now. A daemon that finds
 * its stored "last reset" older than this missed a reset while it was down, and resets now.
 * -ENOENT for QUOTA_PERIOD_NONE, -EINVAL for a malformed period. */
int quota_period_start(const struct quota_period *p, time_t now, time_t *ret);
/* The next reset: the earliest reset instant > now; when to arm the daemon's timer. Errors as
 * quota_period_start(). */
int quota_period_next(const struct quota_period *p, time_t now, time_t *ret);
