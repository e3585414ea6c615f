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

struct addr_list {
	int ifindex;
	struct ip_prefix found[32];
	size_t n;
};

static int addr_dump_cb(const struct nlmsghdr *h, void *data)
{
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	struct addr_list *l = data;
	struct nlattr *a;

	if (h->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(h) < sizeof(*ifa))
		return MNL_CB_OK;
	if ((int)ifa->ifa_index != l->ifindex || l->n >= sizeof(l->found) / sizeof(l->found[0]))
		return MNL_CB_OK;
	mnl_attr_for_each(a, h, sizeof(*ifa))
	{
		struct ip_prefix *p = &l->found[l->n];
		size_t want = ifa->ifa_family == AF_INET6 ? 16 : 4;

		if (mnl_attr_get_type(a) != IFA_ADDRESS || mnl_attr_get_payload_len(a) != want)
			continue;
		memset(p, 0, sizeof(*p));
		p->family = ifa->ifa_family;
		p->plen = ifa->ifa_prefixlen;
		memcpy(&p->addr, mnl_attr_get_payload(a), want);
		l->n++;
		break;
	}
	return MNL_CB_OK;
}

int addr_flush(struct rtnl *nl, int ifindex)
{
	struct addr_list l = { .ifindex = ifindex };
	struct nlmsghdr *h;
	int r;

	h = rtnl_msg(nl, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	r = rtnl_talk(nl, h, addr_dump_cb, &l);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++) {
		h = rtnl_msg(nl, RTM_DELADDR, 0);
		put_addr(h, ifindex, &l.found[i]);
		r = rtnl_talk(nl, h, NULL, NULL);
		/* IPv6 link-local addresses vanish with their IPv4 siblings' removal at times. */
		if (r < 0 && r != -EADDRNOTAVAIL)
			return r;
	}
	return 0;
}
