/* addr.c — interface addresses over rtnetlink. */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "netns/rtnl-internal.h"

static void put_addr(struct nlmsghdr *h, int ifindex, const struct ip_prefix *p)
{
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)p->family;
	ifa->ifa_prefixlen = p->plen;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(h, IFA_LOCAL, (size_t)ip_prefix_addrlen(p), &p->addr);
	mnl_attr_put(h, IFA_ADDRESS, (size_t)ip_prefix_addrlen(p), &p->addr);
}

int addr_add(struct rtnl *nl, int ifindex, const struct ip_prefix *p)
{
	struct nlmsghdr *h;

	if (p->family != AF_INET && p->family != AF_INET6)
		return -EAFNOSUPPORT;
	h = rtnl_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	put_addr(h, ifindex, p);
	/* The modem link is point-to-point to the carrier: no one else can hold the address, and
	 * waiting out DAD would only delay sessions. */
	if (p->family == AF_INET6)
		mnl_attr_put_u32(h, IFA_FLAGS, IFA_F_NODAD);
	return rtnl_talk(nl, h, NULL, NULL);
}

int addr_del(struct rtnl *nl, int ifindex, const struct ip_prefix *p)
{
	struct nlmsghdr *h;

	if (p->family != AF_INET && p->family != AF_INET6)
		return -EAFNOSUPPORT;
	h = rtnl_msg(nl, RTM_DELADDR, 0);
	put_addr(h, ifindex, p);
	return rtnl_talk(nl, h, NULL, NULL);
}
