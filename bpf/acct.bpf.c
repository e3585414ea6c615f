/* acct.bpf.c — the accounting datapath: cgroup_skb programs count a session's traffic, tc
 * programs an uplink's; both enforce quotas by dropping, with the counters in pinned maps. */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/acct_abi.h"

/* From UAPI headers that vmlinux.h cannot carry (macros). */
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_SHOT 2
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ACCT_MAX_KEYS);
	__type(key, struct acct_map_name);
	__type(value, struct acct_map_id);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cmx_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ACCT_MAX_KEYS);
	__type(key, __u32);
	__type(value, struct acct_map_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cmx_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ACCT_MAX_KEYS);
	__type(key, __u32);
	__type(value, struct acct_map_quota);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cmx_quota SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ACCT_MAX_KEYS);
	__type(key, __u64);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cmx_cgroups SEC(".maps");

/* The session id of each session cgroup, in the cgroup's local storage: the slot the kernel
 * allocates for the cgroup when our program is attached to it, and hands to the program through
 * bpf_get_local_storage() for every packet it runs on, the packets of descendant cgroups
 * included (the storage is the attached cgroup's, not the socket's). Keyed by the cgroup id
 * alone (no attach type: 5.9+), so ingress and egress share one slot; the control plane writes
 * it at attach (acct_session_attach()). Pinned, so that a restarted daemon's programs, swapped
 * into the same links, find the slots the links were made with. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, __u64);
	__type(value, struct acct_map_cg_session);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cmx_cg_session SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cmx_events SEC(".maps");

/* The first bytes of the network header: read in place when the skb's linear part holds them
 * (nearly always: ~1 ns), else copied by the helper (~20 ns). */
static __always_inline int net_bytes(struct __sk_buff *skb, __u32 l2, __u32 off, void *buf,
				     __u32 len)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u8 *p = (__u8 *)data + l2 + off;

	/* len is a constant once inlined; off is bounded for the verifier. */
	if (off <= 64 && (void *)(p + len) <= end) {
		__builtin_memcpy(buf, p, len);
		return 0;
	}
	return bpf_skb_load_bytes_relative(skb, off, buf, len, BPF_HDR_START_NET);
}

/* What the packet weighs on the wire at the IP layer, the unit a carrier bills: the IP length
 * from the header (no link-layer header, no Ethernet padding), and for a GSO/GRO super-packet
 * the headers every further segment repeats. l2: where the network header starts in skb->data
 * (0 in cgroup_skb programs, which see the packet from it). */
static __always_inline void wire_size(struct __sk_buff *skb, __u32 l2, __u64 *ret_bytes,
				      __u64 *ret_packets)
{
	__u32 segs = skb->gso_segs > 1 ? skb->gso_segs : 1;
	__u32 len = skb->len > l2 ? skb->len - l2 : skb->len;
	__u32 ip_len = 0, hlen = 0, l4 = 0;
	__u8 h[10], proto = 0, doff;

	if (net_bytes(skb, l2, 0, h, sizeof(h)) == 0) {
		if (skb->protocol == bpf_htons(ETH_P_IP) && (h[0] >> 4) == 4) {
			hlen = (h[0] & 0xf) * 4;
			ip_len = (__u32)h[2] << 8 | h[3];
			proto = h[9];
		} else if (skb->protocol == bpf_htons(ETH_P_IPV6) && (h[0] >> 4) == 6) {
			hlen = 40;
			ip_len = ((__u32)h[4] << 8 | h[5]) + 40;
			proto = h[6];
			/* A jumbogram / BIG TCP: no length in the header. */
			if (ip_len == 40 && len > 40)
				ip_len = 0;
		}
	}
	/* 0: IPv4 BIG TCP; above len: a lying header. The skb's own length is the better guess. */
	if (ip_len >= hlen && ip_len && ip_len <= len)
		len = ip_len;
	if (segs > 1 && hlen) {
		if (proto == IPPROTO_TCP && net_bytes(skb, l2, hlen + 12, &doff, 1) == 0)
			l4 = (doff >> 4) * 4;
		else if (proto == IPPROTO_UDP)
			l4 = 8;
		len += (segs - 1) * (hlen + l4);
	}
	*ret_bytes = len;
	*ret_packets = segs;
}

/* True once used >= limit; the first program to see it flags the key and tells the daemon. */
static __always_inline bool over_quota(const struct acct_map_counters *c, struct acct_map_quota *q,
				       __u32 id)
{
	__u64 used = c->rx.bytes + c->tx.bytes - q->base;
	struct acct_map_event ev;

	if (used < q->limit)
		return false;
	if (!q->over && __sync_val_compare_and_swap(&q->over, 0, 1) == 0) {
		ev.id = id;
		ev.action = q->action;
		ev.used = used;
		ev.limit = q->limit;
		bpf_ringbuf_output(&cmx_events, &ev, sizeof(ev), 0);
	}
	return true;
}

/* Counts one packet for id; false: drop it. Atomic adds into one shared entry rather than
 * per-CPU slots: a blocking quota must compare the exact total at every packet, which per-CPU
 * counters cannot give without summing every CPU's slot in the datapath. */
static __always_inline bool account(struct __sk_buff *skb, __u32 id, bool egress, __u32 l2)
{
	struct acct_map_counters *c = bpf_map_lookup_elem(&cmx_counters, &id);
	struct acct_map_quota *q;
	struct acct_map_dir *d;
	__u64 bytes, packets;

	if (!c)
		return true;
	d = egress ? &c->tx : &c->rx;
	wire_size(skb, l2, &bytes, &packets);
	q = bpf_map_lookup_elem(&cmx_quota, &id);
	if (q && q->action && over_quota(c, q, id) && q->action == ACCT_MAP_ACTION_BLOCK) {
		__sync_fetch_and_add(&d->drop_bytes, bytes);
		__sync_fetch_and_add(&d->drop_packets, packets);
		return false;
	}
	__sync_fetch_and_add(&d->bytes, bytes);
	__sync_fetch_and_add(&d->packets, packets);
	return true;
}

/* The session of a packet is the session cgroup the program is attached to: the kernel runs it
 * for the packets of sockets in that cgroup or below it (a worker's own child cgroups), and
 * bpf_get_local_storage() gives that cgroup's slot, which holds the session's id. No lookup and
 * no walk of the socket's ancestors: one helper call where bpf_skb_cgroup_id() + a hash lookup
 * (+ one bpf_skb_ancestor_cgroup_id() and lookup per level for a child cgroup) cost ~40 ns a
 * packet (acct_iperf.py: 135/134 -> 96/94 ns per run, egress/ingress). The slot lives with the
 * cgroup, not with the id: a freed id is unreachable once our links are off the cgroup
 * (acct_forget() removes them). bpf_get_current_cgroup_id() was never an option: it names
 * whatever task the CPU happens to run, any task in softirq on ingress, and on egress too for
 * TCP segments sent from timers, ACK processing or the TSQ tasklet. Id 0: a slot not written
 * yet (the instant between the attach and the control plane's write, before the session's
 * worker exists): not ours. */
static __always_inline int session(struct __sk_buff *skb, bool egress)
{
	struct acct_map_cg_session *s = bpf_get_local_storage(&cmx_cg_session, 0);
	__u32 id = s->id;

	return !id || account(skb, id, egress, 0) ? 1 : 0;
}

SEC("cgroup_skb/ingress")
int cmx_cg_ingress(struct __sk_buff *skb)
{
	return session(skb, false);
}

SEC("cgroup_skb/egress")
int cmx_cg_egress(struct __sk_buff *skb)
{
	return session(skb, true);
}

/* One program for every uplink: the uplink is named by the filter that runs it, through the
 * classid cls_bpf copies into skb->tc_classid (acct_abi.h), so ifindexes that repeat across
 * namespaces cannot be confused and the datapath needs no lookup to find its key.
 * TC_ACT_UNSPEC rather than TC_ACT_OK: filters after ours still run (we only count). */
static __always_inline int uplink(struct __sk_buff *skb, bool egress)
{
	__u32 c = skb->tc_classid, id = ACCT_TC_CLASSID_ID(c), l2 = ACCT_TC_CLASSID_L2(c);

	if (!id) /* not a filter of ours (ids start at 1): nothing to count into */
		return TC_ACT_UNSPEC;
	return account(skb, id, egress, l2) ? TC_ACT_UNSPEC : TC_ACT_SHOT;
}

SEC("tc")
int cmx_tc_ingress(struct __sk_buff *skb)
{
	return uplink(skb, false);
}

SEC("tc")
int cmx_tc_egress(struct __sk_buff *skb)
{
	return uplink(skb, true);
}
