/* uplink-internal.h — what uplink.c shares with its drivers (uplink_netdev.c, later qmi). */
#pragma once

#include "netns/uplink.h"

struct uplink;

struct uplink_driver {
	const char *name;
	/* Brings the data interface into u->nsfd and configures it; sets u->adopted once the
	 * interface sits in the namespace, so down() knows what to hand back. A synchronous
	 * driver sets u->connected before returning; an asynchronous one returns once it has
	 * started and reports through uplink_event() from the main loop. */
	int (*up)(struct uplink *u);
	/* Hands the interface back to u->host_nsfd under its original name. */
	void (*down)(struct uplink *u);
};

struct uplink {
	struct uplink_params p;
	const struct uplink_driver *drv;
	char ns[UPLINK_NAME_MAX + sizeof(UPLINK_NS_PREFIX)];
	int nsfd;      /* cmx-<name> */
	int host_nsfd; /* where interfaces come from and go back to */
	bool ns_created, resolv_written, adopted;
	bool connected; /* set by the driver; see uplink_event() */
	uplink_event_fn event_fn;
	void *event_userdata;
};

/* Drivers call this when the data path comes or goes; it updates u->connected. */
void uplink_event(struct uplink *u, enum uplink_event ev);

extern const struct uplink_driver uplink_driver_netdev;
