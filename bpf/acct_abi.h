/* acct_abi.h — the layout of the pinned accounting maps, shared by the eBPF programs and acct.c.
 * Changing a struct here changes the pinned maps: libbpf then refuses to reuse old pins. */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Map names are also the file names under the pin directory (bpffs limits them to 15 chars). */
#define ACCT_MAP_NAMES "cmx_names"
#define ACCT_MAP_COUNTERS "cmx_counters"
#define ACCT_MAP_QUOTA "cmx_quota"
#define ACCT_MAP_CGROUPS "cmx_cgroups"
#define ACCT_MAP_CG_SESSION "cmx_cg_session"
#define ACCT_MAP_EVENTS "cmx_events"

#define ACCT_MAX_KEYS 8192 /* ids 1..8191: live names (sessions + uplinks); id 0 is unused */
#define ACCT_NAME_LEN 40   /* session names are <= 32, uplink names <= 15 */

/* Values of acct_map_name.kind and acct_map_quota.action; acct.h's enums use the same numbers. */
#define ACCT_MAP_KIND_SESSION 1
#define ACCT_MAP_KIND_UPLINK 2
#define ACCT_MAP_ACTION_NOTIFY 1
#define ACCT_MAP_ACTION_BLOCK 2

/* cmx_names (hash): (kind, name) -> id. Control plane only; it is what keeps ids stable across
 * daemon restarts. Zero-padded names, so equal names are equal keys. */
struct acct_map_name {
	__u32 kind;
	char name[ACCT_NAME_LEN];
};

#define ACCT_MAP_F_QDISC 0x1 /* uplink: the clsact qdisc is ours; remove it with our filters */
struct acct_map_id {
	__u32 id;
	__u32 flags;
};

/* cmx_counters (array, index id): counters. Arrays, not hashes: the verifier inlines an array
 * lookup into an address computation, where a hash lookup costs ~30 ns a packet. Only the
 * programs write an entry in use (atomic adds); the control plane zeroes it when it hands out or
 * takes back an id. */
struct acct_map_dir {
	__u64 bytes;        /* IP bytes, each segment's headers included, link-layer header not */
	__u64 packets;      /* IP packets on the wire: a GSO/GRO skb counts as its segments */
	__u64 drop_bytes;   /* dropped by a blocking quota, not in bytes */
	__u64 drop_packets;
};

struct acct_map_counters {
	struct acct_map_dir rx; /* session: cgroup ingress; uplink: tc ingress (download) */
	struct acct_map_dir tx; /* session: cgroup egress; uplink: tc egress (upload) */
};

/* cmx_quota (array, index id): quota; action 0 means none. used = rx.bytes + tx.bytes - base,
 * modulo 2^64: base may lie "above" the counters to carry usage into a new map (a reboot). The
 * control plane rewrites an entry whole; a program reading during the copy may see one field
 * old and one new, which can only decide that one packet on a mix of the two settings. */
struct acct_map_quota {
	__u64 limit;  /* bytes; when used >= limit the action applies */
	__u64 base;   /* rx.bytes + tx.bytes at the start of the quota period */
	__u32 action; /* ACCT_MAP_ACTION_*, 0: no quota */
	__u32 over;   /* set once by a program when used reached limit, cleared by the daemon */
};

/* cmx_cgroups (hash): cgroup id (u64) -> id. Control plane only since the programs read the
 * cgroup's local storage; still kept, so that an earlier daemon's programs (swapped back into the
 * links by a downgrade) find their sessions. */

/* cmx_cg_session (cgroup local storage, key: cgroup id): the session id of the cgroup the
 * program is attached to; 0 until the control plane has written it. */
struct acct_map_cg_session {
	__u32 id;
};

/* The classid of our tc filters (TCA_BPF_CLASSID), which cls_bpf hands to the program in
 * skb->tc_classid before each run: one loaded program serves every uplink, the filter says whose
 * packet it is. The kernel keeps only 16 bits of it (qdisc_skb_cb's tc_classid is a u16): the
 * uplink's id below bit 15, and bit 15 set when the interface has an Ethernet header (14 bytes
 * before the IP header; raw-IP modems have none). clsact has no classes: nothing else reads it. */
#define ACCT_TC_CLASSID_ETH 0x8000
#define ACCT_TC_ETH_HLEN 14
#define ACCT_TC_CLASSID(id, eth) ((__u32)(id) | ((eth) ? ACCT_TC_CLASSID_ETH : 0))
#define ACCT_TC_CLASSID_ID(c) ((c) & (ACCT_TC_CLASSID_ETH - 1))
#define ACCT_TC_CLASSID_L2(c) ((c) & ACCT_TC_CLASSID_ETH ? ACCT_TC_ETH_HLEN : 0)

/* cmx_events: ring buffer, one record when a quota is reached (over went 0 -> 1). */
struct acct_map_event {
	__u32 id;
	__u32 action;
	__u64 used;
	__u64 limit;
};
