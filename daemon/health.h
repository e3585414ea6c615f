/* health.h — active checks of one uplink from inside its namespace (tcp:, http://, dns:, icmp:)
 * and the verdict they add up to: healthy, degraded or failed, separate from driver state. */
#pragma once

#include <glib.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "router/router.h"

enum health_kind { HEALTH_TCP, HEALTH_HTTP, HEALTH_DNS, HEALTH_ICMP };

#define HEALTH_CHECKS_MAX 8
/* 2 s rather than mwan3's 5 s: one small probe per check per interval costs little, and a
 * dead carrier is noticed in 6 s (2 s x health_fail=3) instead of 15 s. */
#define HEALTH_DEFAULT_INTERVAL_MS 2000
#define HEALTH_DEFAULT_FAIL 3 /* mwan3's down= */
#define HEALTH_DEFAULT_OK 3   /* mwan3's up= */

struct health_check {
	enum health_kind kind;
	struct in_addr addr;  /* tcp, http, icmp: numeric IPv4 (the daemon resolves nothing) */
	unsigned port;        /* tcp, http */
	char host[64];        /* http: the Host header (as written); dns: the name asked for */
	char path[128];       /* http: the path, "/" by default */
};

struct health_cfg {
	struct health_check checks[HEALTH_CHECKS_MAX];
	size_t n_checks; /* 0: no active checks, the uplink is always healthy */
	unsigned interval_ms, fail, ok;
};

/* Parses one check: "tcp:A.B.C.D:PORT", "http://A.B.C.D[:PORT][/path]", "dns:NAME",
 * "icmp:A.B.C.D". Returns 0 or -EINVAL. */
int health_check_parse(const char *spec, struct health_check *ret);

/* The verdict after one more round (pass: any check of the round succeeded). The counts are
 * consecutive rounds; healthy falls to degraded at the first failed round and to failed at
 * the fail-th in a row; failed comes back to healthy after ok passing rounds in a row. */
enum router_health health_next(enum router_health cur, bool pass, unsigned *fails, unsigned *oks,
			       unsigned fail, unsigned ok);
const char *health_to_string(enum router_health h);

struct health;
/* Called on every change of verdict, with a reason for the log ("tcp:1.2.3.4:80: Connection
 * refused"). */
typedef void (*health_cb)(void *userdata, enum router_health h, const char *reason);

/* Starts checking: every interval, one socket per check opened inside nsfd's namespace and then
 * driven non-blocking from the main loop. resolv names the uplink's resolv.conf (dns:). cfg
 * must outlive the checker (it points into the daemon's config). */
int health_new(const struct health_cfg *cfg, int nsfd, const char *resolv, health_cb cb,
	       void *userdata, struct health **ret);
void health_free(struct health *h);
enum router_health health_state(const struct health *h);
const char *health_reason(const struct health *h);
