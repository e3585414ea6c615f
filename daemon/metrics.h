/* metrics.h — cellmuxd's Prometheus endpoint: GET/HEAD /metrics and /healthz over HTTP/1.1,
 * served by libwebsockets on the daemon's own GLib main loop (no thread, no second loop). */
#pragma once

#include "daemon/config.h"

struct daemon;
struct metrics;

/* Binds cfg's address and serves until metrics_free(). Logs why when it cannot (address in
 * use, say) and returns -errno. A disabled cfg gives *ret = NULL and 0. */
int metrics_new(struct daemon *d, const struct cfg_metrics *cfg, struct metrics **ret);
/* Closes the listener and every connection at once; NULL is a no-op. */
void metrics_free(struct metrics *m);
