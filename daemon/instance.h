/* instance.h — one cellmuxd per state directory and per BPF pin directory. */
#pragma once

#include "daemon/config.h"

/* Takes an exclusive flock(2) on the state directory and on the pin directory (each created if
 * its parent exists), held by descriptors the caller keeps open for the daemon's life (CLOEXEC:
 * a re-exec'd daemon takes them again). -EBUSY when another process holds either; *which then
 * names the directory. A directory that cannot be made is not locked (what needs it fails
 * later with its own error). */
int instance_lock(const struct cmx_config *c, int fds[2], const char **which);
void instance_unlock(int fds[2]);
