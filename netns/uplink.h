/* uplink.h — an uplink is a named namespace cmx-<name> holding exactly one data interface,
 * configured by a driver. The seam for drivers: netdev now, qmi and DHCP later. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "netns/ipaddr.h"

#define UPLINK_NS_PREFIX "cmx-"
#define UPLINK_NAME_MAX 15 /* "cmx-" + name stays a sane file and nft name */
#define UPLINK_MAX_ADDRS 8
#define UPLINK_MAX_DNS 3

/* What the config says about an uplink's interface, driver-neutral. */
struct uplink_params {
	char name[UPLINK_NAME_MAX + 1];
	char driver[16];             /* "netdev" */
	char ifname[16];             /* interface in the host namespace */
	struct ip_prefix addrs[UPLINK_MAX_ADDRS];
	size_t n_addrs;
	struct ip_prefix gw4, gw6;   /* family 0: none */
	struct ip_prefix dns[UPLINK_MAX_DNS];
	size_t n_dns;
};

struct uplink;

/* Drivers whose link comes and goes on its own (QMI data sessions, DHCP leases) report it;
 * static netdev uplinks are connected from the moment uplink_up() returns. Events are
 * delivered on the daemon's main loop. */
enum uplink_event {
	UPLINK_EVENT_CONNECTED,    /* addresses and routes applied: sessions may run */
	UPLINK_EVENT_DISCONNECTED, /* the data path is gone; the driver retries by itself */
};
typedef void (*uplink_event_fn)(struct uplink *u, enum uplink_event ev, void *userdata);

/* Whether a driver by that name exists. */
bool uplink_driver_known(const char *driver);
/* Creates cmx-<name>, adopts and configures the interface, installs the egress table.
 * Stale state from a killed daemon (namespace left holding the interface) is reclaimed.
 * On failure nothing is left behind. */
int uplink_up(const struct uplink_params *p, struct uplink **ret);
/* Where events go; set right after uplink_up(). */
void uplink_set_event_handler(struct uplink *u, uplink_event_fn fn, void *userdata);
/* Whether the data path is usable now. */
bool uplink_connected(const struct uplink *u);
/* Returns the interface to the host namespace under its original name and removes the
 * namespace, the resolv.conf and the table. NULL is a no-op. */
void uplink_down(struct uplink *u);
int uplink_nsfd(const struct uplink *u);
const char *uplink_ns_name(const struct uplink *u); /* "cmx-<name>" */
const struct uplink_params *uplink_params(const struct uplink *u);
/* "cmx-<name>" into buf. */
int uplink_ns_name_of(const char *name, char *buf, size_t len);
