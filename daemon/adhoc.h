/* adhoc.h — sessions started over the admin socket (`cellmuxctl session start`, not from the
 * config) are kept in the store and started again by the next daemon, like the backend's;
 * `cellmuxctl session stop` (or a reload that removes one for good) forgets them. */
#pragma once

struct daemon;
struct session;

/* Records s as started by an admin, with the uplink asked for (NULL: the router places it
 * again), committed before it returns: a daemon killed right after the reply still has it. */
int dm_adhoc_record(struct daemon *d, const struct session *s, const char *uplink);
/* Forgets name, committed before it returns; a name never recorded is fine. */
void dm_adhoc_forget(struct daemon *d, const char *name);
/* Starts the recorded admin sessions (after the configured and the backend's ones); one that
 * cannot start now stays recorded, its profile or uplink may come back. */
void dm_adhoc_restore(struct daemon *d);
