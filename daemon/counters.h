/* counters.h — traffic counters and quota use carried over a reboot: the pinned maps are copied
 * into the store every counters_save_interval and at a clean stop, and written back into maps a
 * reboot emptied. A power cut loses at most one interval's counts. */
#pragma once

struct daemon;

/* Reads the saved copy, before the programs load: from the daemon's own store, or (with a
 * backend, whose relay opens the store only later) through a short-lived handle of its own. */
int dm_counters_load(struct daemon *d);
/* Right after accounting loaded and before anything attaches: maps acct_open() created get the
 * saved copy; reused pins are the live truth and the copy is dropped. Arms the save timer. */
void dm_counters_restore(struct daemon *d);
/* Copies every name's counters and quota use to the store now (a clean stop, the timer). */
void dm_counters_save(struct daemon *d);
/* The config may have a new counters_save_interval (reload). */
void dm_counters_rearm(struct daemon *d);
/* Stops the timer and frees the copy; saves nothing. NULL-safe on a daemon without one. */
void dm_counters_close(struct daemon *d);
