/* link.c — network interfaces over rtnetlink: look up, bring up, rename, move between
 * namespaces, and the veth/bridge pairs the simulator builds. */
#include <errno.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <string.h>

#include "netns/rtnl-internal.h"

static struct ifinfomsg *put_ifinfo(struct nlmsghdr *h, int ifindex)
{
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return ifi;
}

static int valid_ifname(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n > 0 && n < IFNAMSIZ && !strchr(name, '/') ? 0 : -EINVAL;
}

struct link_reply {
	int ifindex;
	char name[IFNAMSIZ];
};

static int link_reply_cb(const struct nlmsghdr *h, void *data)
{
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	struct link_reply *out = data;
	struct nlattr *a;

	if (h->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(h) < sizeof(*ifi))
		return MNL_CB_OK;
	out->ifindex = ifi->ifi_index;
	mnl_attr_for_each(a, h, sizeof(*ifi))
	{
		if (mnl_attr_get_type(a) != IFLA_IFNAME || mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			continue;
		strncpy(out->name, mnl_attr_get_str(a), IFNAMSIZ - 1);
	}
	return MNL_CB_OK;
}

int link_index(struct rtnl *nl, const char *ifname)
{
	struct link_reply out = { 0 };
	struct nlmsghdr *h;
	int r;

	r = valid_ifname(ifname);
	if (r < 0)
		return r;
	h = rtnl_msg(nl, RTM_GETLINK, 0);
	put_ifinfo(h, 0);
	mnl_attr_put_strz(h, IFLA_IFNAME, ifname);
	r = rtnl_talk(nl, h, link_reply_cb, &out);
	if (r < 0)
		return r;
	return out.ifindex > 0 ? out.ifindex : -ENODEV;
}

struct link_names {
	char (*names)[IFNAMSIZ];
	size_t max, n;
};

static int link_names_cb(const struct nlmsghdr *h, void *data)
{
	struct link_names *ln = data;
	struct link_reply one = {0};

	link_reply_cb(h, &one);
	if (one.ifindex > 0 && one.name[0] && ln->n < ln->max)
		memcpy(ln->names[ln->n++], one.name, IFNAMSIZ);
	return MNL_CB_OK;
}

int link_list(struct rtnl *nl, char (*names)[16], size_t max)
{
	struct link_names ln = {.names = names, .max = max};
	struct nlmsghdr *h;
	int r;

	h = rtnl_msg(nl, RTM_GETLINK, NLM_F_DUMP);
	put_ifinfo(h, 0);
	r = rtnl_talk(nl, h, link_names_cb, &ln);
	return r < 0 ? r : (int)ln.n;
}

int link_set_up(struct rtnl *nl, int ifindex, bool up)
{
	struct nlmsghdr *h = rtnl_msg(nl, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = put_ifinfo(h, ifindex);

	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	return rtnl_talk(nl, h, NULL, NULL);
}

int link_set_mtu(struct rtnl *nl, int ifindex, unsigned mtu)
{
	struct nlmsghdr *h = rtnl_msg(nl, RTM_NEWLINK, 0);

	put_ifinfo(h, ifindex);
	mnl_attr_put_u32(h, IFLA_MTU, mtu);
	return rtnl_talk(nl, h, NULL, NULL);
}

int link_set_address(struct rtnl *nl, int ifindex, const unsigned char mac[6])
{
	struct nlmsghdr *h = rtnl_msg(nl, RTM_NEWLINK, 0);

	put_ifinfo(h, ifindex);
	mnl_attr_put(h, IFLA_ADDRESS, 6, mac);
	return rtnl_talk(nl, h, NULL, NULL);
}

int link_set_netns(struct rtnl *nl, int ifindex, int nsfd, const char *newname)
{
	struct nlmsghdr *h;

	if (newname && valid_ifname(newname) < 0)
		return -EINVAL;
	h = rtnl_msg(nl, RTM_NEWLINK, 0);
	put_ifinfo(h, ifindex);
	mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)nsfd);
	/* Renaming in the same message makes the move atomic with respect to name clashes. */
	if (newname)
		mnl_attr_put_strz(h, IFLA_IFNAME, newname);
	return rtnl_talk(nl, h, NULL, NULL);
}

static int link_add(struct rtnl *nl, const char *name, const char *kind, const char *peer,
		    int peer_nsfd)
{
	struct nlattr *linkinfo, *data, *peerinfo;
	struct nlmsghdr *h;

	if (valid_ifname(name) < 0 || (peer && valid_ifname(peer) < 0))
		return -EINVAL;
	h = rtnl_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	put_ifinfo(h, 0);
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	linkinfo = mnl_attr_nest_start(h, IFLA_LINKINFO);
	mnl_attr_put_strz(h, IFLA_INFO_KIND, kind);
	if (peer) {
		data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
		peerinfo = mnl_attr_nest_start(h, VETH_INFO_PEER);
		/* The peer's attributes follow its own ifinfomsg inside the nest. */
		struct ifinfomsg *pifi = mnl_nlmsg_get_payload_tail(h);
		memset(pifi, 0, sizeof(*pifi));
		h->nlmsg_len += MNL_ALIGN(sizeof(*pifi));
		mnl_attr_put_strz(h, IFLA_IFNAME, peer);
		if (peer_nsfd >= 0)
			mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
		mnl_attr_nest_end(h, peerinfo);
		mnl_attr_nest_end(h, data);
	}
	mnl_attr_nest_end(h, linkinfo);
	return rtnl_talk(nl, h, NULL, NULL);
}

int link_add_veth(struct rtnl *nl, const char *name, const char *peer, int peer_nsfd)
{
	if (!peer)
		return -EINVAL;
	return link_add(nl, name, "veth", peer, peer_nsfd);
}

int link_add_bridge(struct rtnl *nl, const char *name)
{
	return link_add(nl, name, "bridge", NULL, -1);
}

int link_set_master(struct rtnl *nl, int ifindex, int master_ifindex)
{
	struct nlmsghdr *h = rtnl_msg(nl, RTM_NEWLINK, 0);

	put_ifinfo(h, ifindex);
	mnl_attr_put_u32(h, IFLA_MASTER, (uint32_t)master_ifindex);
	return rtnl_talk(nl, h, NULL, NULL);
}

int link_delete(struct rtnl *nl, int ifindex)
{
	struct nlmsghdr *h = rtnl_msg(nl, RTM_DELLINK, 0);

	put_ifinfo(h, ifindex);
	return rtnl_talk(nl, h, NULL, NULL);
}
