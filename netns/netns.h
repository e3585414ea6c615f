/* netns.h — the kernel plumbing of an uplink: named network namespaces (iproute2's
 * /run/netns convention), rtnetlink links/addresses/routes, resolv.conf and the nftables
 * egress table. Every function returns 0 (or a positive index/fd) or a negative errno and logs
 * at debug level only; callers add context. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "netns/ipaddr.h"

#define NETNS_RUN_DIR "/run/netns"
#define NETNS_ETC_DIR "/etc/netns"

/* ns.c — named namespaces, made the way `ip netns add` makes them so `ip netns exec` works. */
int ns_create(const char *name);            /* -EEXIST when the name is taken */
int ns_delete(const char *name);            /* -ENOENT when absent */
bool ns_exists(const char *name);
int ns_open(const char *name);              /* O_RDONLY|O_CLOEXEC fd, or -errno */
int ns_open_current(void);                  /* fd of the calling thread's netns */
/* Switches the calling thread into nsfd; *ret_saved gets an fd of the namespace left. */
int ns_enter(int nsfd, int *ret_saved);
/* Returns to a namespace saved by ns_enter() and closes the saved fd. */
int ns_leave(int saved);

/* rtnl.c — one NETLINK_ROUTE socket, bound to the namespace it was opened in. */
struct rtnl;
int rtnl_open(int nsfd, struct rtnl **ret); /* nsfd < 0: the caller's namespace */
void rtnl_close(struct rtnl *nl);

/* link.c */
int link_index(struct rtnl *nl, const char *ifname);       /* ifindex > 0, or -ENODEV */
int link_set_up(struct rtnl *nl, int ifindex, bool up);
int link_set_mtu(struct rtnl *nl, int ifindex, unsigned mtu);
/* Moves a link into the namespace nsfd, renaming it on the way when newname is set. */
int link_set_netns(struct rtnl *nl, int ifindex, int nsfd, const char *newname);
/* Creates a veth pair; the peer is created directly inside peer_nsfd when >= 0. */
int link_add_veth(struct rtnl *nl, const char *name, const char *peer, int peer_nsfd);
int link_add_bridge(struct rtnl *nl, const char *name);
int link_set_master(struct rtnl *nl, int ifindex, int master_ifindex);
int link_delete(struct rtnl *nl, int ifindex);

/* Names of the links of nl's namespace, at most max of them; returns how many. */
int link_list(struct rtnl *nl, char (*names)[16], size_t max);
/* Sets a link's hardware address (6 bytes: Ethernet-like links). */
int link_set_address(struct rtnl *nl, int ifindex, const unsigned char mac[6]);

/* linkwatch.c — link events of one namespace (nsfd < 0: ours), as a pollable fd. */
struct linkwatch;
int linkwatch_open(int nsfd, struct linkwatch **ret);
int linkwatch_fd(const struct linkwatch *w);
/* Reads what is queued without blocking: 1 when a link came, went or changed (or events were
 * lost), 0 when nothing did. */
int linkwatch_drain(struct linkwatch *w);
void linkwatch_free(struct linkwatch *w);

/* addr.c */
int addr_add(struct rtnl *nl, int ifindex, const struct ip_prefix *p);
int addr_del(struct rtnl *nl, int ifindex, const struct ip_prefix *p); /* -EADDRNOTAVAIL if absent */

/* route.c — gw may have family 0 for an on-link default route (point-to-point modems). */
int route_add_default(struct rtnl *nl, int ifindex, int family, const struct ip_prefix *gw);
int route_add(struct rtnl *nl, int ifindex, const struct ip_prefix *dst,
	      const struct ip_prefix *gw);
/* Removes the default route of family through ifindex; -ESRCH when there is none. */
int route_del_default(struct rtnl *nl, int ifindex, int family);

/* resolv.c — /etc/netns/<ns>/resolv.conf, bind-mounted over /etc/resolv.conf for workers. */
int resolv_write(const char *ns, const struct ip_prefix *servers, size_t n);
int resolv_remove(const char *ns);
/* "/etc/netns/<ns>/resolv.conf" into buf. */
int resolv_path(const char *ns, char *buf, size_t len);

/* fw.c — nftables through libnftables, run inside a namespace. */
/* Runs an nft script in nsfd (< 0: current). libnftables' message, if any, into err. */
int fw_apply(int nsfd, const char *script, char *err, size_t errlen);
/* The uplink's egress table "inet cellmux": output may leave only via ifname and lo. */
int fw_uplink_install(int nsfd, const char *ifname);
#define FW_TABLE "cellmux"
