/* recovery.h — the recovery ladder of an uplink whose health checks stay failed: redo the data
 * session, then reset the modem, with exponential backoff and a per-hour cap so a dead SIM does
 * not thrash the modem. Pure policy: the daemon feeds it the verdict and the clock, carries out
 * the step it answers and asks again when it says. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum recovery_step {
	RECOVERY_NONE,
	RECOVERY_RECONNECT, /* uplink_reconnect(): a new QMI call, a new DHCP lease */
	RECOVERY_RESET,     /* the modem itself: QMI DMS operating mode offline, reset */
	/* Real hardware would take a further rung here: a USB power cycle of the modem's port
	 * (uhubctl), after a reset that did not help. Not implemented: see README, failover. */
	__RECOVERY_STEP_MAX,
};

/* Defaults (recover_after=, recover_max_per_hour=). 30 s failed before the first step: longer
 * than a carrier's usual hiccup and the health checks' own 6 s, short next to the minutes an
 * operator would wait before doing the same by hand. */
#define RECOVERY_DEFAULT_AFTER_MS 30000
#define RECOVERY_DEFAULT_MAX_PER_HOUR 6
#define RECOVERY_BACKOFF_MAX_MS (30 * 60 * 1000) /* steps at least this often while failed */
#define RECOVERY_HOUR_MS (3600 * 1000LL)
#define RECOVERY_PER_HOUR_LIMIT 60 /* the most recover_max_per_hour= accepts */

struct recovery_cfg {
	unsigned after_ms;     /* failed this long before the first step; 0: the ladder is off */
	unsigned max_per_hour; /* steps in any sliding hour; 0: the ladder is off */
	bool can_reset;        /* the driver can reset its modem (qmi); else every step reconnects */
};

/* Where an uplink is on its ladder. Zeroed is "healthy, nothing done". */
struct recovery {
	bool failed;             /* in a failure (see recovery_next()) */
	bool connected;          /* the driver had its data path at the last call */
	int64_t next_at_ms;      /* when the next step is due (while failed) */
	unsigned rung;           /* steps taken in this failure */
	int64_t recent[RECOVERY_PER_HOUR_LIMIT]; /* when the steps of the last hour were taken */
	unsigned n_recent;
	bool capped;             /* the last answer was held back by the cap */
	enum recovery_step last; /* the last step taken, in this failure or before */
	unsigned taken[__RECOVERY_STEP_MAX]; /* steps taken, by kind, since start */
};

/* The step to take now, given whether the uplink's health checks say failed and whether its
 * driver has a data path (connected), at now_ms (any monotonic clock in ms); *wake_ms gets when
 * to ask again (INT64_MAX: not before the health or the driver's state changes).
 *
 * A failure starts at the first call failed while connected: an uplink still coming up, or
 * disconnected, is its driver's business (it retries by itself). The first step comes after_ms
 * later, the next ones after after_ms x 2, x 4 ... (at most RECOVERY_BACKOFF_MAX_MS); the first
 * is a reconnect, every later one a reset where the driver can. No step while disconnected (the
 * last one is still taking effect), and after the data path is back the health checks get at
 * least after_ms to judge it. A step that would make more than max_per_hour in the last hour
 * waits until the oldest of them is an hour old. Not failed: the ladder starts over (the hour's
 * record is kept, so a flapping uplink does not escape the cap). */
enum recovery_step recovery_next(struct recovery *r, const struct recovery_cfg *c, bool failed,
				 bool connected, int64_t now_ms, int64_t *wake_ms);
const char *recovery_step_to_string(enum recovery_step s); /* "none", "reconnect", "reset" */
