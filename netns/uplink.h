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

/* How a QMI data session authenticates; UNSET means none without a username, PAP or CHAP
 * (whichever the network asks for) with one. */
enum uplink_auth {
	UPLINK_AUTH_UNSET,
	UPLINK_AUTH_NONE,
	UPLINK_AUTH_PAP,
	UPLINK_AUTH_CHAP,
	UPLINK_AUTH_BOTH,
};

enum uplink_ip_type {
	UPLINK_IP_V4, /* the default: what every carrier offers */
	UPLINK_IP_V6,
	UPLINK_IP_V4V6, /* both when the network gives both; up when either works */
};

/* What the config says about an uplink's interface, driver-neutral. All-zero fields mean the
 * defaults, so a zeroed struct plus name, driver and interface is a valid netdev uplink. */
struct uplink_params {
	char name[UPLINK_NAME_MAX + 1];
	char driver[16];             /* "netdev", "qmi" */
	char ifname[16];             /* interface in the host namespace; qmi: "" = from sysfs */
	struct ip_prefix addrs[UPLINK_MAX_ADDRS];
	size_t n_addrs;
	struct ip_prefix gw4, gw6;   /* family 0: none */
	struct ip_prefix dns[UPLINK_MAX_DNS];
	size_t n_dns;
	bool dhcp;                   /* netdev: IPv4 address, gateway and DNS from a DHCP lease */
	/* qmi */
	char device[64];             /* control port, /dev/cdc-wdmN */
	char apn[101];
	char username[65], password[65];
	enum uplink_auth auth;
	enum uplink_ip_type ip_type;
	char pin[9];                 /* SIM PIN, sent only when the SIM asks for it */
	char qmi_proxy[64];          /* abstract socket of the proxy; "" = qmi-proxy (tests only) */
};

/* Identity and radio state of a modem, for status and metrics; empty strings when unknown. */
struct uplink_radio {
	char imei[20];
	char imsi[20];
	char iccid[24];
	char operator_name[64]; /* the network's name, or "MCC-MNC" */
	char mcc_mnc[8];        /* "99999" */
	char rat[16];           /* radio access technology: "lte", "umts", "gsm", "5gnr" ... */
	int signal_dbm;         /* RSSI; 0 when unknown */
	bool registered, roaming;
};

/* What an uplink has now, as its driver found or learned it: the data interface (qmi: found in
 * sysfs), the addresses, gateways and DNS servers in force (the static config, a DHCP lease, a
 * QMI session's settings; empty while disconnected) and the last error with its reason. The
 * one read model: status, metrics and accounting read this, never the config's copy. */
struct uplink_live {
	char ifname[16];
	int ifindex; /* inside the namespace; 0 until the interface is there */
	struct ip_prefix addrs[UPLINK_MAX_ADDRS];
	size_t n_addrs;
	struct ip_prefix gw4, gw6; /* family 0: none */
	struct ip_prefix dns[UPLINK_MAX_DNS];
	size_t n_dns;
	char last_error[192]; /* "": none since up; kept after a recovery, for the operator */
	long long last_error_unix_ms;
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
/* Drops the data session (QMI) or the lease (DHCP) and starts over at once, as after a carrier
 * drop: DISCONNECTED now if connected, CONNECTED when back. -EOPNOTSUPP for static netdev. */
int uplink_reconnect(struct uplink *u);
/* Resets the modem behind the uplink (QMI: DMS operating mode offline, then reset): the call
 * ends, the modem re-enumerates and the driver starts over as after a drop. -EOPNOTSUPP for
 * drivers without a modem to reset (netdev), -EALREADY while one is under way. */
int uplink_reset(struct uplink *u);
bool uplink_can_reset(const struct uplink *u);
/* The modem's identity and radio state as last read. -ENODATA for drivers without a modem
 * behind them (netdev), -EAGAIN before the modem has answered. */
int uplink_radio_info(const struct uplink *u, struct uplink_radio *out);
int uplink_nsfd(const struct uplink *u);
/* Whether uplink_up() took over the namespace a killed daemon left (its sessions may still
 * run there) instead of making a new one. */
bool uplink_resumed(const struct uplink *u);
const char *uplink_ns_name(const struct uplink *u); /* "cmx-<name>" */
const struct uplink_params *uplink_params(const struct uplink *u);
/* The live state (see struct uplink_live); valid until the next return to the main loop. */
const struct uplink_live *uplink_live(const struct uplink *u);
/* "cmx-<name>" into buf. */
int uplink_ns_name_of(const char *name, char *buf, size_t len);
