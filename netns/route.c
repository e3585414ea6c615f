/* route.c — routes over rtnetlink: the uplink's default routes, and plain subnet routes. */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "netns/rtnl-internal.h"

int route_add(struct rtnl *nl, int ifindex, const struct ip_prefix *dst,
	      const struct ip_prefix *gw)
{
	struct nlmsghdr *h;
	struct rtmsg *rtm;

	if (dst->family != AF_INET && dst->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (gw && gw->family && gw->family != dst->family)
		return -EINVAL;
	h = rtnl_msg(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)dst->family;
	rtm->rtm_dst_len = dst->plen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_type = RTN_UNICAST;
	/* Without a gateway the destination is on the link (a point-to-point modem). */
	rtm->rtm_scope = gw && gw->family ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	if (dst->plen)
		mnl_attr_put(h, RTA_DST, (size_t)ip_prefix_addrlen(dst), &dst->addr);
	if (gw && gw->family)
		mnl_attr_put(h, RTA_GATEWAY, (size_t)ip_prefix_addrlen(gw), &gw->addr);
	mnl_attr_put_u32(h, RTA_OIF, (uint32_t)ifindex);
	return rtnl_talk(nl, h, NULL, NULL);
}

int route_add_default(struct rtnl *nl, int ifindex, int family, const struct ip_prefix *gw)
{
	struct ip_prefix any = { .family = family, .plen = 0 };

	return route_add(nl, ifindex, &any, gw);
}

int route_del_default(struct rtnl *nl, int ifindex, int family)
{
	struct nlmsghdr *h = rtnl_msg(nl, RTM_DELROUTE, 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));

	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_scope = RT_SCOPE_NOWHERE; /* matches any scope on delete */
	mnl_attr_put_u32(h, RTA_OIF, (uint32_t)ifindex);
	return rtnl_talk(nl, h, NULL, NULL);
}
