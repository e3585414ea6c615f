/* ctl.h — the admin protocol between cellmuxctl and cellmuxd, all of it: socket, framing,
 * commands, attributes with their types and limits, and the policy every attribute must pass.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET at CTL_SOCKET_PATH. A request is exactly one packet holding one
 * netlink message; the daemon's answer is one or more packets, each holding one or more whole
 * messages, and no packet on the socket is larger than CTL_MSG_MAX in either direction.
 *
 * A message is laid out like generic netlink:
 *
 *   struct nlmsghdr   nlmsg_type CTL_NLMSG_TYPE, flags, seq (echoed), pid (echoed)
 *   struct ctl_hdr    cmd (enum ctl_cmd), version CTL_VERSION, reserved 0
 *   struct nlattr...  CTL_A_* attributes, 4-byte aligned TLVs
 *
 * Semantics are netlink's:
 *  * "do" request (NLM_F_REQUEST, optionally NLM_F_ACK): the daemon answers with at most one object
 *    message (same cmd, the object in its nest) and then, if NLM_F_ACK was set, an NLMSG_ERROR with
 *    error 0. A failure is always an NLMSG_ERROR with a negative errno, ACK flag or not.
 *  * "dump" request (NLM_F_REQUEST | NLM_F_DUMP, only on the *_GET commands): zero or more object
 *    messages with NLM_F_MULTI, then NLMSG_DONE (payload: int 0). A dump is taken in one go on the
 *    daemon's loop, so it is never interrupted (no NLM_F_DUMP_INTR) and never partial: a dump that
 *    fails is a single NLMSG_ERROR.
 *  * NLMSG_ERROR: struct nlmsgerr with the request's header only (NLM_F_CAPPED), and, when the
 *    daemon has a reason to give, NLM_F_ACK_TLVS and an NLMSGERR_ATTR_MSG string (extended ack).
 *    An error the daemon sends before it has read a request (seq unknown) carries seq 0.
 *
 * Validation: the daemon checks every request against the policy below before any handler sees it:
 * lengths from the wire are never trusted, integers have their exact size, strings are
 * NUL-terminated with no NUL inside and no longer than their limit, nests are checked recursively,
 * an attribute appears at most once (lists excepted), and an attribute the command does not take,
 * or one the daemon does not know, is refused. Clients check answers the same way, except that they
 * skip attribute types they do not know, so a newer daemon may add attributes to its objects.
 * Attribute and command numbers are never reused or renumbered; new ones go at the end.
 */
#pragma once

#include <linux/netlink.h>
#include <stdint.h>

#include "proto/worker_status.h"

#define CTL_SOCKET_PATH "/run/cellmux/ctl.sock"
/* Group whose members may use the socket besides root; root only if no such group exists. */
#define CTL_GROUP_DEFAULT "cellmux"
/* Largest packet on the socket, either way. A larger request is answered with -EMSGSIZE. */
#define CTL_MSG_MAX (64 * 1024)
/* nlmsg_type of every cellmux message ("cm"), so a stray message of another protocol is refused. */
#define CTL_NLMSG_TYPE 0x636d
#define CTL_VERSION 1

/* The generic-netlink-style header after nlmsghdr; same layout as struct genlmsghdr. */
struct ctl_hdr {
	uint8_t cmd;
	uint8_t version;
	uint16_t reserved; /* 0 */
};

enum ctl_cmd {
	CTL_CMD_UNSPEC,
	/* do: the daemon's status. Answer: CTL_A_STATUS. */
	CTL_CMD_STATUS,
	/* dump: every uplink; do with CTL_A_UPLINK{NAME}: that uplink. Answer: CTL_A_UPLINK. */
	CTL_CMD_UPLINK_GET,
	/* do with CTL_A_UPLINK{NAME} and CTL_A_ACTION. Answer: ack. */
	CTL_CMD_UPLINK_SET_STATE,
	/* dump: every session; do with CTL_A_SESSION{NAME}: that session. Answer: CTL_A_SESSION. */
	CTL_CMD_SESSION_GET,
	/* do with CTL_A_SESSION{PROFILE, optional NAME, optional UPLINK}. Answer: CTL_A_SESSION,
	 * the new session with the name and uplink the daemon chose. */
	CTL_CMD_SESSION_START,
	/* do with CTL_A_SESSION{NAME}. Answer: ack. */
	CTL_CMD_SESSION_STOP,
	CTL_CMD_SESSION_RESTART,
	/* do: re-read the config file, as SIGHUP does. Answer: ack. */
	CTL_CMD_RELOAD,
	/* do: cellmuxd execs its binary on disk, keeping every session (an upgrade). Answer: ack,
	 * sent before the exec. */
	CTL_CMD_DAEMON_REEXEC,
	__CTL_CMD_MAX,
};
#define CTL_CMD_MAX (__CTL_CMD_MAX - 1)

/* Top-level attributes: one object nest per message, plus the action of UPLINK_SET_STATE. */
enum ctl_attr {
	CTL_A_UNSPEC,
	CTL_A_STATUS,  /* nested, CTL_STATUS_A_* */
	CTL_A_UPLINK,  /* nested, CTL_UPLINK_A_* */
	CTL_A_SESSION, /* nested, CTL_SESSION_A_* */
	CTL_A_ACTION,  /* u8, enum ctl_uplink_action */
	__CTL_A_MAX,
};
#define CTL_A_MAX (__CTL_A_MAX - 1)

/* Limits; string sizes count the terminating NUL. */
#define CTL_NAME_SIZE 64     /* uplink, session, profile, namespace names */
#define CTL_SHORT_SIZE 32    /* driver, interface, version */
#define CTL_ADDR_SIZE 64     /* "ADDR/PLEN", IPv4 or IPv6 */
#define CTL_ADDRS_MAX 16     /* addresses of one uplink */
#define CTL_PATH_SIZE 1024
#define CTL_TEXT_SIZE 1024   /* longer texts: reasons, retired report fields */
#define CTL_ERRMSG_SIZE 256  /* NLMSGERR_ATTR_MSG */

enum ctl_status_attr {
	CTL_STATUS_A_UNSPEC,
	CTL_STATUS_A_VERSION,          /* string: "0.1.0" */
	CTL_STATUS_A_PID,              /* u32 */
	CTL_STATUS_A_UPTIME_MS,        /* u64: since the daemon started */
	CTL_STATUS_A_CONFIG,           /* string: path of the config file */
	CTL_STATUS_A_UPLINKS,          /* u32: configured uplinks */
	CTL_STATUS_A_UPLINKS_UP,       /* u32: of those, up */
	CTL_STATUS_A_SESSIONS,         /* u32: sessions, whatever their state */
	CTL_STATUS_A_SESSIONS_RUNNING, /* u32: of those, with a live worker */
	/* The backend link; all absent when no [backend] is configured. */
	CTL_STATUS_A_BACKEND_UP,         /* u8: 1 when the link is usable (hello answered) */
	CTL_STATUS_A_BACKEND_OUTBOX,     /* u32: events waiting for the backend's ack */
	CTL_STATUS_A_BACKEND_INBOX,      /* u32: deliveries waiting for a worker's ack */
	CTL_STATUS_A_BACKEND_RECONNECTS, /* u32: connection attempts after the first */
	__CTL_STATUS_A_MAX,
};
#define CTL_STATUS_A_MAX (__CTL_STATUS_A_MAX - 1)

enum ctl_uplink_state {
	CTL_UPLINK_DOWN,
	CTL_UPLINK_UP,
	CTL_UPLINK_CONNECTING,
	CTL_UPLINK_DRAINING, /* up, keeps its sessions, takes no new ones */
	__CTL_UPLINK_STATE_MAX,
};

enum ctl_uplink_action {
	CTL_UPLINK_ACTION_UNSPEC,
	CTL_UPLINK_ACTION_UP,        /* bring up; on a draining uplink: take new sessions again */
	CTL_UPLINK_ACTION_DOWN,      /* stop its sessions, return the interface to the host */
	CTL_UPLINK_ACTION_RECONNECT, /* down and up again; sessions are kept where the driver can */
	CTL_UPLINK_ACTION_DRAIN,     /* take no new sessions */
	__CTL_UPLINK_ACTION_MAX,
};

enum ctl_uplink_attr {
	CTL_UPLINK_A_UNSPEC,
	CTL_UPLINK_A_NAME,             /* string */
	CTL_UPLINK_A_DRIVER,           /* string: "netdev", "qmi" */
	CTL_UPLINK_A_STATE,            /* u8: enum ctl_uplink_state */
	CTL_UPLINK_A_INTERFACE,        /* string: the data interface, inside the namespace */
	CTL_UPLINK_A_NETNS,            /* string: "cmx-<name>" */
	CTL_UPLINK_A_ADDRESSES,        /* nested list: CTL_ADDRESS_A_ADDRESS, repeated */
	CTL_UPLINK_A_SESSIONS,         /* u32: sessions placed on it */
	CTL_UPLINK_A_CAPACITY,         /* u32: most sessions it takes */
	/* Counters: absent while the daemon counts nothing (accounting not loaded). */
	CTL_UPLINK_A_RX_BYTES,         /* u64 */
	CTL_UPLINK_A_TX_BYTES,         /* u64 */
	CTL_UPLINK_A_RX_PACKETS,       /* u64 */
	CTL_UPLINK_A_TX_PACKETS,       /* u64 */
	/* Quota: absent when the uplink has none. */
	CTL_UPLINK_A_QUOTA_BYTES,      /* u64 */
	CTL_UPLINK_A_QUOTA_USED_BYTES, /* u64 */
	CTL_UPLINK_A_QUOTA_REACHED,    /* u8: 0 or 1 */
	CTL_UPLINK_A_RECONNECTS,       /* u32: since the daemon started */
	/* Radio: absent when the driver cannot tell (netdev). */
	CTL_UPLINK_A_SIGNAL_DBM,       /* s32 */
	CTL_UPLINK_A_OPERATOR,         /* string: network operator's name */
	CTL_UPLINK_A_RAT,              /* string: radio access technology, "lte", "5gnr"... */
	/* Sums of the final counters of sessions removed from this uplink, kept in the store
	 * (survive restarts); absent when the daemon has no store. */
	CTL_UPLINK_A_REMOVED_SESSIONS,   /* u32: removals recorded */
	CTL_UPLINK_A_REMOVED_RX_BYTES,   /* u64 */
	CTL_UPLINK_A_REMOVED_TX_BYTES,   /* u64 */
	CTL_UPLINK_A_REMOVED_RX_PACKETS, /* u64 */
	CTL_UPLINK_A_REMOVED_TX_PACKETS, /* u64 */
	CTL_UPLINK_A_HEALTH,             /* string: "healthy", "degraded", "failed" */
	CTL_UPLINK_A_HEALTH_REASON,      /* string: why, as logged */
	/* The uplink's live state, as its driver learned it (DHCP lease, QMI settings). */
	CTL_UPLINK_A_GATEWAYS,           /* nested list: CTL_ADDRESS_A_ADDRESS, repeated */
	CTL_UPLINK_A_DNS,                /* nested list: CTL_ADDRESS_A_ADDRESS, repeated */
	CTL_UPLINK_A_LAST_ERROR,         /* string: with its reason; absent: none */
	CTL_UPLINK_A_LAST_ERROR_AT_MS,   /* u64: Unix time of it */
	/* The recovery ladder. */
	CTL_UPLINK_A_RECOVERY,           /* string: where it stands, absent when not failed */
	CTL_UPLINK_A_RECOVERY_LAST,      /* string: "none", "reconnect", "reset" */
	CTL_UPLINK_A_RECOVERIES_RECONNECT, /* u32: reconnect steps since start */
	CTL_UPLINK_A_RECOVERIES_RESET,   /* u32: modem resets since start */
	CTL_UPLINK_A_DEVICE,             /* string: qmi: the control port in use or matched */
	__CTL_UPLINK_A_MAX,
};
#define CTL_UPLINK_A_MAX (__CTL_UPLINK_A_MAX - 1)

enum ctl_address_attr {
	CTL_ADDRESS_A_UNSPEC,
	CTL_ADDRESS_A_ADDRESS, /* string: "100.64.0.2/24", "2001:db8::2/64" */
	__CTL_ADDRESS_A_MAX,
};
#define CTL_ADDRESS_A_MAX (__CTL_ADDRESS_A_MAX - 1)

enum ctl_session_state {
	CTL_SESSION_STOPPED,
	CTL_SESSION_RUNNING,
	CTL_SESSION_BACKOFF,  /* worker gone, restart timer running */
	CTL_SESSION_STOPPING, /* asked to stop, worker not gone yet */
	__CTL_SESSION_STATE_MAX,
};

enum ctl_session_attr {
	CTL_SESSION_A_UNSPEC,
	CTL_SESSION_A_NAME,       /* string */
	CTL_SESSION_A_PROFILE,    /* string */
	CTL_SESSION_A_UPLINK,     /* string: absent while not placed */
	CTL_SESSION_A_STATE,      /* u8: enum ctl_session_state */
	CTL_SESSION_A_PID,        /* u32: the worker; absent when there is none */
	CTL_SESSION_A_RESTARTS,   /* u32: starts after the first */
	CTL_SESSION_A_UPTIME_MS,  /* u64: of the current worker; absent when there is none */
	/* Counters: absent while the daemon counts nothing. */
	CTL_SESSION_A_RX_BYTES,   /* u64 */
	CTL_SESSION_A_TX_BYTES,   /* u64 */
	CTL_SESSION_A_RX_PACKETS, /* u64 */
	CTL_SESSION_A_TX_PACKETS, /* u64 */
	CTL_SESSION_A_REPORT,     /* retired (nested, CTL_REPORT_A_*): see CTL_SESSION_A_STATUS */
	/* Quota: absent when the session has none. */
	CTL_SESSION_A_QUOTA_BYTES,      /* u64 */
	CTL_SESSION_A_QUOTA_USED_BYTES, /* u64 */
	CTL_SESSION_A_QUOTA_REACHED,    /* u8: 0 or 1 */
	/* The sandbox and cgroup as the kernel reports them, not as configured: all absent while
	 * the session has no worker, each one absent when the kernel would not say. */
	CTL_SESSION_A_SANDBOX,          /* nested, CTL_SANDBOX_A_*: the worker's /proc view */
	CTL_SESSION_A_MEMORY_BYTES,     /* u64: memory charged to the session's cgroup */
	CTL_SESSION_A_MEMORY_MAX_BYTES, /* u64: its limit; absent when unlimited */
	CTL_SESSION_A_TASKS,            /* u64: processes and threads in the cgroup */
	CTL_SESSION_A_TASKS_MAX,        /* u64: their limit; absent when unlimited */
	CTL_SESSION_A_OOM_KILLS,        /* u64: processes the OOM killer took, this cgroup's life */
	CTL_SESSION_A_CPU_WEIGHT,       /* u32: 1..10000, 100 the kernel's default */
	CTL_SESSION_A_MOVES,            /* u32: times the router moved it to another uplink */
	CTL_SESSION_A_WAIT_REASON,      /* string: why it waits; absent while it may run */
	CTL_SESSION_A_STATUS, /* nested, CTL_WSTATUS_A_*: the worker's last Status; absent: none */
	__CTL_SESSION_A_MAX,
};
#define CTL_SESSION_A_MAX (__CTL_SESSION_A_MAX - 1)

/* Retired with worker.proto's Report: no daemon sends it any more, a client skips it; the numbers
 * stay taken. */
enum ctl_report_attr {
	CTL_REPORT_A_UNSPEC,
	CTL_REPORT_A_SEQ,           /* u64 */
	CTL_REPORT_A_AT_MS,         /* u64: when it arrived, ms since the Unix epoch */
	CTL_REPORT_A_URL,           /* string */
	CTL_REPORT_A_HTTP_STATUS,   /* u32: 0 when no response arrived */
	CTL_REPORT_A_BODY,          /* string: first bytes of the body */
	CTL_REPORT_A_ERROR,         /* string: why the round failed; absent on success */
	CTL_REPORT_A_RESOLVED_NAME, /* string */
	CTL_REPORT_A_RESOLVED,      /* string: its addresses, comma-separated */
	__CTL_REPORT_A_MAX,
};
#define CTL_REPORT_A_MAX (__CTL_REPORT_A_MAX - 1)

/* A worker's last Status (proto/worker.proto) as the daemon kept it, uninterpreted. The daemon
 * checked the WORKER_STATUS_* bounds on receive; the policy holds them again. */
enum ctl_wstatus_attr {
	CTL_WSTATUS_A_UNSPEC,
	CTL_WSTATUS_A_STATE,   /* string: 1..32 of [a-z0-9_-] */
	CTL_WSTATUS_A_MESSAGE, /* string; absent when empty */
	CTL_WSTATUS_A_FIELDS,  /* nested list of CTL_WFIELDS_A_FIELD, in the worker's order */
	CTL_WSTATUS_A_TIME_MS, /* u64: the worker's time, ms since the Unix epoch; absent: none given */
	CTL_WSTATUS_A_AT_MS,   /* u64: when the daemon received it, ms since the Unix epoch */
	__CTL_WSTATUS_A_MAX,
};
#define CTL_WSTATUS_A_MAX (__CTL_WSTATUS_A_MAX - 1)

enum ctl_wfields_attr {
	CTL_WFIELDS_A_UNSPEC,
	CTL_WFIELDS_A_FIELD, /* nested, CTL_WFIELD_A_* */
	__CTL_WFIELDS_A_MAX,
};
#define CTL_WFIELDS_A_MAX (__CTL_WFIELDS_A_MAX - 1)

enum ctl_wfield_attr {
	CTL_WFIELD_A_UNSPEC,
	CTL_WFIELD_A_KEY,   /* string: 1..32 of [a-z0-9_] */
	CTL_WFIELD_A_VALUE, /* string; absent when empty */
	__CTL_WFIELD_A_MAX,
};
#define CTL_WFIELD_A_MAX (__CTL_WFIELD_A_MAX - 1)

/* A session's worker as /proc/PID/status and /proc/PID/ns/pid show it. */
enum ctl_sandbox_attr {
	CTL_SANDBOX_A_UNSPEC,
	CTL_SANDBOX_A_PID,             /* u32: the process read, as the host sees it */
	CTL_SANDBOX_A_WORKER,          /* u8: 1 the worker, 0 the session's init (no worker yet) */
	CTL_SANDBOX_A_NS_PID,          /* u32: its pid inside the session's PID namespace */
	CTL_SANDBOX_A_UID,             /* u32: real */
	CTL_SANDBOX_A_EUID,            /* u32: effective */
	CTL_SANDBOX_A_GID,             /* u32: real */
	CTL_SANDBOX_A_EGID,            /* u32: effective */
	CTL_SANDBOX_A_PIDNS,           /* u64: inode of its PID namespace */
	CTL_SANDBOX_A_PIDNS_PRIVATE,   /* u8: 1 when that is not the daemon's */
	CTL_SANDBOX_A_SECCOMP,         /* u8: 0 disabled, 1 strict, 2 filter (unchecked: newer kernels) */
	CTL_SANDBOX_A_SECCOMP_FILTERS, /* u32: filters attached; absent before Linux 5.9 */
	CTL_SANDBOX_A_NO_NEW_PRIVS,    /* u8: 0 or 1 */
	CTL_SANDBOX_A_CAP_EFF,         /* u64: capability sets, bit n = capability n */
	CTL_SANDBOX_A_CAP_PRM,         /* u64 */
	CTL_SANDBOX_A_CAP_BND,         /* u64 */
	CTL_SANDBOX_A_CAP_AMB,         /* u64 */
	__CTL_SANDBOX_A_MAX,
};
#define CTL_SANDBOX_A_MAX (__CTL_SANDBOX_A_MAX - 1)

/* The policy. Kept here, next to the enums, so that no attribute exists without its type and
 * limit; proto/ctl_msg.c checks at build time that every table covers its whole enum. */

enum ctl_type {
	CTL_TYPE_UNUSED, /* a number nobody may send: refused like an unknown attribute */
	CTL_TYPE_U8,
	CTL_TYPE_U32,
	CTL_TYPE_S32,
	CTL_TYPE_U64,
	CTL_TYPE_STRING,
	CTL_TYPE_NESTED,
};

struct ctl_policy_set;

struct ctl_policy {
	const char *name;      /* for error messages */
	enum ctl_type type;
	uint32_t max;          /* STRING: size with NUL; U8/U32: highest value + 1 when not 0 */
	const struct ctl_policy_set *nested; /* NESTED */
};

struct ctl_policy_set {
	const char *name;
	const struct ctl_policy *attrs;
	uint16_t max;          /* highest attribute type */
	uint16_t list_max;     /* 0: each attribute at most once; else a list of up to this many */
};

#define CTL_POLICY_STR(n, size) { .name = (n), .type = CTL_TYPE_STRING, .max = (size) }
#define CTL_POLICY_U8(n, lim) { .name = (n), .type = CTL_TYPE_U8, .max = (lim) }
#define CTL_POLICY_U32(n) { .name = (n), .type = CTL_TYPE_U32 }
#define CTL_POLICY_S32(n) { .name = (n), .type = CTL_TYPE_S32 }
#define CTL_POLICY_U64(n) { .name = (n), .type = CTL_TYPE_U64 }
#define CTL_POLICY_NEST(n, set) { .name = (n), .type = CTL_TYPE_NESTED, .nested = (set) }

/* Static: a few hundred bytes per reader, in exchange for the schema staying in one header. */
static const struct ctl_policy ctl_status_policy[] = {
	[CTL_STATUS_A_VERSION] = CTL_POLICY_STR("version", CTL_SHORT_SIZE),
	[CTL_STATUS_A_PID] = CTL_POLICY_U32("pid"),
	[CTL_STATUS_A_UPTIME_MS] = CTL_POLICY_U64("uptime_ms"),
	[CTL_STATUS_A_CONFIG] = CTL_POLICY_STR("config", CTL_PATH_SIZE),
	[CTL_STATUS_A_UPLINKS] = CTL_POLICY_U32("uplinks"),
	[CTL_STATUS_A_UPLINKS_UP] = CTL_POLICY_U32("uplinks_up"),
	[CTL_STATUS_A_SESSIONS] = CTL_POLICY_U32("sessions"),
	[CTL_STATUS_A_SESSIONS_RUNNING] = CTL_POLICY_U32("sessions_running"),
	[CTL_STATUS_A_BACKEND_UP] = CTL_POLICY_U8("backend_up", 2),
	[CTL_STATUS_A_BACKEND_OUTBOX] = CTL_POLICY_U32("backend_outbox"),
	[CTL_STATUS_A_BACKEND_INBOX] = CTL_POLICY_U32("backend_inbox"),
	[CTL_STATUS_A_BACKEND_RECONNECTS] = CTL_POLICY_U32("backend_reconnects"),
};

static const struct ctl_policy ctl_address_policy[] = {
	[CTL_ADDRESS_A_ADDRESS] = CTL_POLICY_STR("address", CTL_ADDR_SIZE),
};

static const struct ctl_policy_set ctl_address_set = {
	"addresses", ctl_address_policy, CTL_ADDRESS_A_MAX, CTL_ADDRS_MAX,
};

/* Replies carry their state unchecked (a newer daemon may have more states); the tool prints
 * "unknown". */
static const struct ctl_policy ctl_uplink_policy[] = {
	[CTL_UPLINK_A_NAME] = CTL_POLICY_STR("name", CTL_NAME_SIZE),
	[CTL_UPLINK_A_DRIVER] = CTL_POLICY_STR("driver", CTL_SHORT_SIZE),
	[CTL_UPLINK_A_STATE] = CTL_POLICY_U8("state", 0),
	[CTL_UPLINK_A_INTERFACE] = CTL_POLICY_STR("interface", CTL_SHORT_SIZE),
	[CTL_UPLINK_A_NETNS] = CTL_POLICY_STR("netns", CTL_NAME_SIZE),
	[CTL_UPLINK_A_ADDRESSES] = CTL_POLICY_NEST("addresses", &ctl_address_set),
	[CTL_UPLINK_A_SESSIONS] = CTL_POLICY_U32("sessions"),
	[CTL_UPLINK_A_CAPACITY] = CTL_POLICY_U32("capacity"),
	[CTL_UPLINK_A_RX_BYTES] = CTL_POLICY_U64("rx_bytes"),
	[CTL_UPLINK_A_TX_BYTES] = CTL_POLICY_U64("tx_bytes"),
	[CTL_UPLINK_A_RX_PACKETS] = CTL_POLICY_U64("rx_packets"),
	[CTL_UPLINK_A_TX_PACKETS] = CTL_POLICY_U64("tx_packets"),
	[CTL_UPLINK_A_QUOTA_BYTES] = CTL_POLICY_U64("quota_bytes"),
	[CTL_UPLINK_A_QUOTA_USED_BYTES] = CTL_POLICY_U64("quota_used_bytes"),
	[CTL_UPLINK_A_QUOTA_REACHED] = CTL_POLICY_U8("quota_reached", 2),
	[CTL_UPLINK_A_RECONNECTS] = CTL_POLICY_U32("reconnects"),
	[CTL_UPLINK_A_SIGNAL_DBM] = CTL_POLICY_S32("signal_dbm"),
	[CTL_UPLINK_A_OPERATOR] = CTL_POLICY_STR("operator", CTL_NAME_SIZE),
	[CTL_UPLINK_A_RAT] = CTL_POLICY_STR("rat", CTL_SHORT_SIZE),
	[CTL_UPLINK_A_REMOVED_SESSIONS] = CTL_POLICY_U32("removed_sessions"),
	[CTL_UPLINK_A_REMOVED_RX_BYTES] = CTL_POLICY_U64("removed_rx_bytes"),
	[CTL_UPLINK_A_REMOVED_TX_BYTES] = CTL_POLICY_U64("removed_tx_bytes"),
	[CTL_UPLINK_A_REMOVED_RX_PACKETS] = CTL_POLICY_U64("removed_rx_packets"),
	[CTL_UPLINK_A_REMOVED_TX_PACKETS] = CTL_POLICY_U64("removed_tx_packets"),
	[CTL_UPLINK_A_HEALTH] = CTL_POLICY_STR("health", CTL_SHORT_SIZE),
	[CTL_UPLINK_A_HEALTH_REASON] = CTL_POLICY_STR("health_reason", CTL_TEXT_SIZE),
	[CTL_UPLINK_A_GATEWAYS] = CTL_POLICY_NEST("gateways", &ctl_address_set),
	[CTL_UPLINK_A_DNS] = CTL_POLICY_NEST("dns", &ctl_address_set),
	[CTL_UPLINK_A_LAST_ERROR] = CTL_POLICY_STR("last_error", CTL_TEXT_SIZE),
	[CTL_UPLINK_A_LAST_ERROR_AT_MS] = CTL_POLICY_U64("last_error_at_ms"),
	[CTL_UPLINK_A_RECOVERY] = CTL_POLICY_STR("recovery", CTL_TEXT_SIZE),
	[CTL_UPLINK_A_RECOVERY_LAST] = CTL_POLICY_STR("recovery_last", CTL_SHORT_SIZE),
	[CTL_UPLINK_A_RECOVERIES_RECONNECT] = CTL_POLICY_U32("recoveries_reconnect"),
	[CTL_UPLINK_A_RECOVERIES_RESET] = CTL_POLICY_U32("recoveries_reset"),
	[CTL_UPLINK_A_DEVICE] = CTL_POLICY_STR("device", CTL_NAME_SIZE),
};

static const struct ctl_policy ctl_report_policy[] = {
	[CTL_REPORT_A_SEQ] = CTL_POLICY_U64("seq"),
	[CTL_REPORT_A_AT_MS] = CTL_POLICY_U64("at_ms"),
	[CTL_REPORT_A_URL] = CTL_POLICY_STR("url", CTL_TEXT_SIZE),
	[CTL_REPORT_A_HTTP_STATUS] = CTL_POLICY_U32("http_status"),
	[CTL_REPORT_A_BODY] = CTL_POLICY_STR("body", CTL_TEXT_SIZE),
	[CTL_REPORT_A_ERROR] = CTL_POLICY_STR("error", CTL_TEXT_SIZE),
	[CTL_REPORT_A_RESOLVED_NAME] = CTL_POLICY_STR("resolved_name", CTL_TEXT_SIZE),
	[CTL_REPORT_A_RESOLVED] = CTL_POLICY_STR("resolved", CTL_TEXT_SIZE),
};

static const struct ctl_policy_set ctl_report_set = {
	"report", ctl_report_policy, CTL_REPORT_A_MAX, 0,
};

static const struct ctl_policy ctl_wfield_policy[] = {
	[CTL_WFIELD_A_KEY] = CTL_POLICY_STR("key", WORKER_STATUS_KEY_MAX + 1),
	[CTL_WFIELD_A_VALUE] = CTL_POLICY_STR("value", WORKER_STATUS_VALUE_MAX + 1),
};

static const struct ctl_policy_set ctl_wfield_set = {
	"field", ctl_wfield_policy, CTL_WFIELD_A_MAX, 0,
};

static const struct ctl_policy ctl_wfields_policy[] = {
	[CTL_WFIELDS_A_FIELD] = CTL_POLICY_NEST("field", &ctl_wfield_set),
};

static const struct ctl_policy_set ctl_wfields_set = {
	"fields", ctl_wfields_policy, CTL_WFIELDS_A_MAX, WORKER_STATUS_FIELDS_MAX,
};

static const struct ctl_policy ctl_wstatus_policy[] = {
	[CTL_WSTATUS_A_STATE] = CTL_POLICY_STR("state", WORKER_STATUS_STATE_MAX + 1),
	[CTL_WSTATUS_A_MESSAGE] = CTL_POLICY_STR("message", WORKER_STATUS_MESSAGE_MAX + 1),
	[CTL_WSTATUS_A_FIELDS] = CTL_POLICY_NEST("fields", &ctl_wfields_set),
	[CTL_WSTATUS_A_TIME_MS] = CTL_POLICY_U64("time_ms"),
	[CTL_WSTATUS_A_AT_MS] = CTL_POLICY_U64("at_ms"),
};

static const struct ctl_policy_set ctl_wstatus_set = {
	"status", ctl_wstatus_policy, CTL_WSTATUS_A_MAX, 0,
};

static const struct ctl_policy ctl_sandbox_policy[] = {
	[CTL_SANDBOX_A_PID] = CTL_POLICY_U32("pid"),
	[CTL_SANDBOX_A_WORKER] = CTL_POLICY_U8("worker", 2),
	[CTL_SANDBOX_A_NS_PID] = CTL_POLICY_U32("ns_pid"),
	[CTL_SANDBOX_A_UID] = CTL_POLICY_U32("uid"),
	[CTL_SANDBOX_A_EUID] = CTL_POLICY_U32("euid"),
	[CTL_SANDBOX_A_GID] = CTL_POLICY_U32("gid"),
	[CTL_SANDBOX_A_EGID] = CTL_POLICY_U32("egid"),
	[CTL_SANDBOX_A_PIDNS] = CTL_POLICY_U64("pidns"),
	[CTL_SANDBOX_A_PIDNS_PRIVATE] = CTL_POLICY_U8("pidns_private", 2),
	[CTL_SANDBOX_A_SECCOMP] = CTL_POLICY_U8("seccomp", 0),
	[CTL_SANDBOX_A_SECCOMP_FILTERS] = CTL_POLICY_U32("seccomp_filters"),
	[CTL_SANDBOX_A_NO_NEW_PRIVS] = CTL_POLICY_U8("no_new_privs", 2),
	[CTL_SANDBOX_A_CAP_EFF] = CTL_POLICY_U64("cap_eff"),
	[CTL_SANDBOX_A_CAP_PRM] = CTL_POLICY_U64("cap_prm"),
	[CTL_SANDBOX_A_CAP_BND] = CTL_POLICY_U64("cap_bnd"),
	[CTL_SANDBOX_A_CAP_AMB] = CTL_POLICY_U64("cap_amb"),
};

static const struct ctl_policy_set ctl_sandbox_set = {
	"sandbox", ctl_sandbox_policy, CTL_SANDBOX_A_MAX, 0,
};

static const struct ctl_policy ctl_session_policy[] = {
	[CTL_SESSION_A_NAME] = CTL_POLICY_STR("name", CTL_NAME_SIZE),
	[CTL_SESSION_A_PROFILE] = CTL_POLICY_STR("profile", CTL_NAME_SIZE),
	[CTL_SESSION_A_UPLINK] = CTL_POLICY_STR("uplink", CTL_NAME_SIZE),
	[CTL_SESSION_A_STATE] = CTL_POLICY_U8("state", 0),
	[CTL_SESSION_A_PID] = CTL_POLICY_U32("pid"),
	[CTL_SESSION_A_RESTARTS] = CTL_POLICY_U32("restarts"),
	[CTL_SESSION_A_UPTIME_MS] = CTL_POLICY_U64("uptime_ms"),
	[CTL_SESSION_A_RX_BYTES] = CTL_POLICY_U64("rx_bytes"),
	[CTL_SESSION_A_TX_BYTES] = CTL_POLICY_U64("tx_bytes"),
	[CTL_SESSION_A_RX_PACKETS] = CTL_POLICY_U64("rx_packets"),
	[CTL_SESSION_A_TX_PACKETS] = CTL_POLICY_U64("tx_packets"),
	[CTL_SESSION_A_REPORT] = CTL_POLICY_NEST("report", &ctl_report_set),
	[CTL_SESSION_A_QUOTA_BYTES] = CTL_POLICY_U64("quota_bytes"),
	[CTL_SESSION_A_QUOTA_USED_BYTES] = CTL_POLICY_U64("quota_used_bytes"),
	[CTL_SESSION_A_QUOTA_REACHED] = CTL_POLICY_U8("quota_reached", 2),
	[CTL_SESSION_A_SANDBOX] = CTL_POLICY_NEST("sandbox", &ctl_sandbox_set),
	[CTL_SESSION_A_MEMORY_BYTES] = CTL_POLICY_U64("memory_bytes"),
	[CTL_SESSION_A_MEMORY_MAX_BYTES] = CTL_POLICY_U64("memory_max_bytes"),
	[CTL_SESSION_A_TASKS] = CTL_POLICY_U64("tasks"),
	[CTL_SESSION_A_TASKS_MAX] = CTL_POLICY_U64("tasks_max"),
	[CTL_SESSION_A_OOM_KILLS] = CTL_POLICY_U64("oom_kills"),
	[CTL_SESSION_A_CPU_WEIGHT] = CTL_POLICY_U32("cpu_weight"),
	[CTL_SESSION_A_MOVES] = CTL_POLICY_U32("moves"),
	[CTL_SESSION_A_WAIT_REASON] = CTL_POLICY_STR("wait_reason", CTL_TEXT_SIZE),
	[CTL_SESSION_A_STATUS] = CTL_POLICY_NEST("status", &ctl_wstatus_set),
};

static const struct ctl_policy_set ctl_status_set = {
	"status", ctl_status_policy, CTL_STATUS_A_MAX, 0,
};
static const struct ctl_policy_set ctl_uplink_set = {
	"uplink", ctl_uplink_policy, CTL_UPLINK_A_MAX, 0,
};
static const struct ctl_policy_set ctl_session_set = {
	"session", ctl_session_policy, CTL_SESSION_A_MAX, 0,
};

static const struct ctl_policy ctl_policy[] = {
	[CTL_A_STATUS] = CTL_POLICY_NEST("status", &ctl_status_set),
	[CTL_A_UPLINK] = CTL_POLICY_NEST("uplink", &ctl_uplink_set),
	[CTL_A_SESSION] = CTL_POLICY_NEST("session", &ctl_session_set),
	[CTL_A_ACTION] = CTL_POLICY_U8("action", __CTL_UPLINK_ACTION_MAX),
};

static const struct ctl_policy_set ctl_policy_set = {
	"message", ctl_policy, CTL_A_MAX, 0,
};

#define CTL_BIT(a) (1ULL << (a))

/* What each command takes and answers. A dump request carries no attributes at all; a do request
 * carries exactly the top-level attributes in `attrs`, and inside its object nest `obj` the ones
 * in `obj_required` and any of `obj_optional`. */
struct ctl_cmd_policy {
	const char *name;
	uint8_t modes;         /* CTL_MODE_* */
	uint64_t attrs;        /* CTL_BIT(CTL_A_*) */
	uint16_t obj;          /* CTL_A_* nest of a do request, 0: none */
	uint64_t obj_required; /* CTL_BIT(CTL_*_A_*) */
	uint64_t obj_optional;
	uint16_t answer;       /* CTL_A_* nest of the answer objects, 0: an ack only */
};
#define CTL_MODE_DO 1
#define CTL_MODE_DUMP 2

static const struct ctl_cmd_policy ctl_cmd_policy[] = {
	[CTL_CMD_STATUS] = {
		.name = "status", .modes = CTL_MODE_DO, .answer = CTL_A_STATUS,
	},
	[CTL_CMD_UPLINK_GET] = {
		.name = "uplink-get", .modes = CTL_MODE_DO | CTL_MODE_DUMP,
		.attrs = CTL_BIT(CTL_A_UPLINK), .obj = CTL_A_UPLINK,
		.obj_required = CTL_BIT(CTL_UPLINK_A_NAME), .answer = CTL_A_UPLINK,
	},
	[CTL_CMD_UPLINK_SET_STATE] = {
		.name = "uplink-set-state", .modes = CTL_MODE_DO,
		.attrs = CTL_BIT(CTL_A_UPLINK) | CTL_BIT(CTL_A_ACTION), .obj = CTL_A_UPLINK,
		.obj_required = CTL_BIT(CTL_UPLINK_A_NAME),
	},
	[CTL_CMD_SESSION_GET] = {
		.name = "session-get", .modes = CTL_MODE_DO | CTL_MODE_DUMP,
		.attrs = CTL_BIT(CTL_A_SESSION), .obj = CTL_A_SESSION,
		.obj_required = CTL_BIT(CTL_SESSION_A_NAME), .answer = CTL_A_SESSION,
	},
	[CTL_CMD_SESSION_START] = {
		.name = "session-start", .modes = CTL_MODE_DO,
		.attrs = CTL_BIT(CTL_A_SESSION), .obj = CTL_A_SESSION,
		.obj_required = CTL_BIT(CTL_SESSION_A_PROFILE),
		.obj_optional = CTL_BIT(CTL_SESSION_A_NAME) | CTL_BIT(CTL_SESSION_A_UPLINK),
		.answer = CTL_A_SESSION,
	},
	[CTL_CMD_SESSION_STOP] = {
		.name = "session-stop", .modes = CTL_MODE_DO,
		.attrs = CTL_BIT(CTL_A_SESSION), .obj = CTL_A_SESSION,
		.obj_required = CTL_BIT(CTL_SESSION_A_NAME),
	},
	[CTL_CMD_SESSION_RESTART] = {
		.name = "session-restart", .modes = CTL_MODE_DO,
		.attrs = CTL_BIT(CTL_A_SESSION), .obj = CTL_A_SESSION,
		.obj_required = CTL_BIT(CTL_SESSION_A_NAME),
	},
	[CTL_CMD_RELOAD] = {
		.name = "reload", .modes = CTL_MODE_DO,
	},
	[CTL_CMD_DAEMON_REEXEC] = {
		.name = "daemon-reexec", .modes = CTL_MODE_DO,
	},
};
