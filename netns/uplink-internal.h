/* uplink-internal.h — what uplink.c shares with its drivers (uplink_netdev.c, later qmi). */
#pragma once

#include "netns/uplink.h"

struct uplink;

struct uplink_driver {
	const char *name;
	/* Optional: fills in what the config left to the hardware (the qmi driver finds its data
	 * interface in sysfs), before the namespace and its table, which name the interface. */
	int (*prepare)(struct uplink *u);
	/* Brings the data interface into u->nsfd and configures it; sets u->adopted once the
	 * interface sits in the namespace, so down() knows what to hand back. A synchronous
	 * driver sets u->connected before returning; an asynchronous one returns once it has
	 * started and reports through uplink_event() from the main loop. */
	int (*up)(struct uplink *u);
	/* Hands the interface back to u->host_nsfd under its original name. */
	void (*down)(struct uplink *u);
	/* Optional, see uplink_reconnect() and uplink_radio_info(). */
	int (*reconnect)(struct uplink *u);
	int (*reset)(struct uplink *u); /* optional, see uplink_reset() */
	int (*radio)(const struct uplink *u, struct uplink_radio *out);
	/* up() can take over a namespace a killed daemon left with the interface configured
	 * inside (u->resumed), without a moment off the air: sessions running in it are kept. */
	bool resumable;
};

struct uplink {
	struct uplink_params p;
	const struct uplink_driver *drv;
	char ns[UPLINK_NAME_MAX + sizeof(UPLINK_NS_PREFIX)];
	int nsfd;      /* cmx-<name> */
	int host_nsfd; /* where interfaces come from and go back to */
	bool ns_created, resolv_written, adopted;
	bool resumed; /* the namespace was a killed daemon's, taken over as it was */
	bool connected; /* set by the driver; see uplink_event() */
	struct uplink_live live; /* kept current by the driver; see uplink_live() */
	uplink_event_fn event_fn;
	void *event_userdata;
	void *drv_data; /* the driver's own state; the driver's down() frees it */
};

/* uplink_netdev.c, shared by the drivers: moves u->p.ifname from the host into the namespace
 * and brings it and lo up (returns its ifindex there); and back to the host, link down. */
int uplink_link_adopt(struct uplink *u);
void uplink_link_return(struct uplink *u);

/* Drivers record what went wrong, with its reason (a QMI call-end reason, a DHCP NAK). */
void uplink_live_error(struct uplink *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drivers publish the addresses, gateways and DNS servers now in force (n 0: none). */
void uplink_live_set(struct uplink *u, const struct ip_prefix *addrs, size_t n_addrs,
		     const struct ip_prefix *gw4, const struct ip_prefix *gw6,
		     const struct ip_prefix *dns, size_t n_dns);

/* Drivers call this when the data path comes or goes; it updates u->connected. */
void uplink_event(struct uplink *u, enum uplink_event ev);

extern const struct uplink_driver uplink_driver_netdev;
extern const struct uplink_driver uplink_driver_qmi;
extern const struct uplink_driver uplink_driver_host;
