/* version.h — the one version string of cellmux's programs (cellmuxd, cellmuxctl, the tools),
 * so that `cellmuxctl status` can tell a client and a daemon of different builds apart. */
#pragma once

#define CELLMUX_VERSION "0.1.0"
