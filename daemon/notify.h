/* notify.h — sd_notify(3)'s protocol without libsystemd: "READY=1", "STOPPING=1", "STATUS=…".
 * A no-op (0) when NOTIFY_SOCKET is unset. */
#pragma once

int notify_send(const char *state);
