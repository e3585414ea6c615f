/* ctl_ops.h — the daemon's side of the admin socket: struct ctl_ops over daemon.h's
 * operations and status.h's view. */
#pragma once

#include "daemon/ctl.h"

struct daemon;

/* Listens on the config's ctl_socket (or the default) for d. */
int ctl_ops_server_new(struct daemon *d, struct ctl_server **ret);
