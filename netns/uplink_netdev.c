/* uplink_netdev.c — the netdev driver: an interface that already exists in the host namespace
 * (USB-ethernet modem, ModemManager's wwan0, a simulator veth) is moved in and configured
 * statically. */
#include <errno.h>
#include <sys/socket.h>

#include "common/log.h"
#include "netns/netns.h"
#include "netns/uplink-internal.h"

static int configure(struct uplink *u, struct rtnl *nl)
{
	const struct uplink_params *p = &u->p;
	int idx, lo, r;

	lo = link_index(nl, "lo");
	if (lo < 0)
		return lo;
	r = link_set_up(nl, lo, true);
	if (r < 0)
		return r;
	idx = link_index(nl, p->ifname);
	if (idx < 0)
		return idx;
	for (size_t i = 0; i < p->n_addrs; i++) {
		r = addr_add(nl, idx, &p->addrs[i]);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	r = link_set_up(nl, idx, true);
	if (r < 0)
		return r;
	if (p->gw4.family) {
		r = route_add_default(nl, idx, AF_INET, &p->gw4);
		if (r < 0)
			return r;
	}
	if (p->gw6.family) {
		r = route_add_default(nl, idx, AF_INET6, &p->gw6);
		if (r < 0)
			return r;
	}
	return 0;
}

static int netdev_up(struct uplink *u)
{
	struct rtnl *host = NULL, *nl = NULL;
	int idx, r;

	r = rtnl_open(u->host_nsfd, &host);
	if (r < 0)
		return r;
	idx = link_index(host, u->p.ifname);
	if (idx < 0) {
		r = idx;
		goto out;
	}
	/* Down first: addresses the host may have put on it go with the move anyway, and the
	 * link must not carry host traffic while it changes hands. */
	r = link_set_up(host, idx, false);
	if (r < 0)
		goto out;
	r = link_set_netns(host, idx, u->nsfd, NULL);
	if (r < 0)
		goto out;
	u->adopted = true;
	r = rtnl_open(u->nsfd, &nl);
	if (r < 0)
		goto out;
	r = configure(u, nl);
	/* Static addressing: the data path is there as soon as it is configured. */
	u->connected = r == 0;
out:
	rtnl_close(nl);
	rtnl_close(host);
	return r;
}

static void netdev_down(struct uplink *u)
{
	struct rtnl *nl = NULL;
	int idx, r;

	r = rtnl_open(u->nsfd, &nl);
	if (r < 0)
		goto fail;
	idx = link_index(nl, u->p.ifname);
	if (idx < 0) {
		r = idx;
		goto fail;
	}
	link_set_up(nl, idx, false);
	/* The kernel flushes addresses and routes on the move; the host gets a clean link. */
	r = link_set_netns(nl, idx, u->host_nsfd, NULL);
	if (r < 0)
		goto fail;
	u->adopted = false;
	rtnl_close(nl);
	return;
fail:
	log_debug("uplink %s: returning %s to the host: %d", u->p.name, u->p.ifname, r);
	rtnl_close(nl);
}

const struct uplink_driver uplink_driver_netdev = {
	.name = "netdev",
	.up = netdev_up,
	.down = netdev_down,
};
