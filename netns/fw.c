/* fw.c — nftables inside a namespace through libnftables: a generic script runner and the
 * uplink's table, the kill switch: output leaves only via the uplink and lo, and from outside
 * only answers to what the namespace opened come in. */
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/netns.h"

int fw_apply(int nsfd, const char *script, char *err, size_t errlen)
{
	struct nft_ctx *ctx = NULL;
	int saved = -1, r;

	if (err && errlen)
		err[0] = 0;
	/* libnftables opens its netlink socket inside nft_ctx_new() or at the first command;
	 * either way both happen while this thread sits in the target namespace. */
	if (nsfd >= 0) {
		r = ns_enter(nsfd, &saved);
		if (r < 0)
			return r;
	}
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		r = -ENOMEM;
		goto out;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	r = nft_run_cmd_from_buffer(ctx, script) == 0 ? 0 : -EINVAL;
	if (r < 0) {
		const char *msg = nft_ctx_get_error_buffer(ctx);
		if (err && errlen && msg)
			snprintf(err, errlen, "%s", msg);
		log_debug("nft: %s", msg ? msg : "failed");
	}
	nft_ctx_free(ctx);
out:
	if (saved >= 0) {
		int q = ns_leave(saved);
		if (r == 0)
			r = q;
	}
	return r;
}

int fw_uplink_install(int nsfd, const char *ifname)
{
	char script[2048], err[512];

	if (!ifname[0] || strpbrk(ifname, "\"\\ \n"))
		return -EINVAL;
	/* "add; delete; define" in one transaction replaces a stale table atomically. Matching by
	 * name (oifname) keeps the rule valid when a modem driver recreates its interface. The
	 * counter makes the kill switch observable: what it stopped is counted, not guessed.
	 * Input: nothing in the namespace listens for the internet (listeners are bound on the host
	 * side), so a packet that answers nothing it sent is dropped unanswered, as a leak audit
	 * expects of a probe's SYN/ACK or stray datagram (no RST, no port unreachable). Neighbour
	 * discovery and DHCP replies (the client reads them on a packet socket; its UDP socket
	 * would otherwise answer a unicast renewal with port unreachable) stay allowed. */
	snprintf(script, sizeof(script),
		 "add table inet " FW_TABLE "\n"
		 "delete table inet " FW_TABLE "\n"
		 "table inet " FW_TABLE " {\n"
		 "	counter blocked { }\n"
		 "	counter refused { }\n"
		 "	chain input {\n"
		 "		type filter hook input priority filter; policy drop;\n"
		 "		iifname \"lo\" accept\n"
		 "		ct state established,related accept\n"
		 "		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert }"
		 " accept\n"
		 "		udp sport 67 udp dport 68 accept\n"
		 "		counter name refused\n"
		 "	}\n"
		 "	chain output {\n"
		 "		type filter hook output priority filter; policy drop;\n"
		 "		oifname \"lo\" accept\n"
		 "		oifname \"%s\" accept\n"
		 "		counter name blocked\n"
		 "	}\n"
		 "	chain forward {\n"
		 "		type filter hook forward priority filter; policy drop;\n"
		 "	}\n"
		 "}\n",
		 ifname);
	return fw_apply(nsfd, script, err, sizeof(err));
}

