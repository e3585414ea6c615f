/* notify.h — sd_notify(3)'s protocol without libsystemd: "READY=1", "STOPPING=1", "STATUS=…".
 * A no-op (0) when NOTIFY_SOCKET is unset. */
#pragma once

#include <stdint.h>

int notify_send(const char *state);
/* sd_watchdog_enabled(3): 1 and the interval in *ret when systemd watches this process
 * (WATCHDOG_USEC set, WATCHDOG_PID unset or ours), 0 when not, -EINVAL for a garbled value. */
int notify_watchdog_usec(uint64_t *ret);
