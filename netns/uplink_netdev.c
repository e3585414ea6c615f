/* uplink_netdev.c — the netdev driver: an interface that already exists in the host namespace
 * (USB-ethernet modem, ModemManager's wwan0, a simulator veth) is moved in and configured
 * statically, or by DHCP (address=dhcp) for modems that hand out their address that way. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "netns/dhcp.h"
#include "netns/netns.h"
#include "netns/uplink-internal.h"

static int configure(struct uplink *u, struct rtnl *nl, int idx)
{
	const struct uplink_params *p = &u->p;
	int r;

	for (size_t i = 0; i < p->n_addrs; i++) {
		r = addr_add(nl, idx, &p->addrs[i]);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	/* EEXIST: a resumed namespace has them already. */
	if (p->gw4.family) {
		r = route_add_default(nl, idx, AF_INET, &p->gw4);
		if (r < 0 && !(r == -EEXIST && u->resumed))
			return r;
	}
	if (p->gw6.family) {
		r = route_add_default(nl, idx, AF_INET6, &p->gw6);
		if (r < 0 && !(r == -EEXIST && u->resumed))
			return r;
	}
	return 0;
}

int uplink_link_adopt(struct uplink *u)
{
	struct rtnl *host = NULL, *nl = NULL;
	int idx, lo, r;

	r = rtnl_open(u->host_nsfd, &host);
	if (r < 0)
		return r;
	if (u->resumed) {
		/* Already inside, configured: only make sure it and lo are up. */
		u->adopted = true;
		r = rtnl_open(u->nsfd, &nl);
		if (r < 0)
			goto out;
		goto inside;
	}
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
inside:
	lo = link_index(nl, "lo");
	r = lo < 0 ? lo : link_set_up(nl, lo, true);
	if (r < 0)
		goto out;
	idx = link_index(nl, u->p.ifname);
	r = idx < 0 ? idx : link_set_up(nl, idx, true);
	if (r >= 0) {
		r = idx;
		/* Whatever found the interface (interface=, sysfs), this is the one in use. */
		snprintf(u->live.ifname, sizeof(u->live.ifname), "%s", u->p.ifname);
		u->live.ifindex = idx;
	}
out:
	rtnl_close(nl);
	rtnl_close(host);
	return r;
}

void uplink_link_return(struct uplink *u)
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
	u->live.ifindex = 0;
	uplink_live_set(u, NULL, 0, NULL, NULL, NULL, 0);
	rtnl_close(nl);
	return;
fail:
	log_debug("uplink %s: returning %s to the host: %d", u->p.name, u->p.ifname, r);
	rtnl_close(nl);
}

/* ---- address=dhcp ---- */

struct netdev_dhcp {
	struct dhcp_client *client;
	struct ip_prefix addr, gw; /* applied, to take back */
};

static void lease_unapply(struct uplink *u, struct netdev_dhcp *d, struct rtnl *nl, int idx)
{
	if (d->gw.family && route_del_default(nl, idx, AF_INET) < 0)
		log_debug("uplink %s: removing the lease's route", u->p.name);
	if (d->addr.family && addr_del(nl, idx, &d->addr) < 0)
		log_debug("uplink %s: removing the lease's address", u->p.name);
	d->addr = d->gw = (struct ip_prefix){0};
}

static int lease_apply(struct uplink *u, struct netdev_dhcp *d, const struct dhcp_reply *l)
{
	struct ip_prefix addr = {.family = AF_INET, .plen = l->plen ? l->plen : 32};
	struct ip_prefix gw = {0}, dns[DHCP_MAX_DNS];
	struct rtnl *nl = NULL;
	int idx, r;

	addr.addr.v4 = l->yiaddr;
	if (l->router.s_addr) {
		gw = (struct ip_prefix){.family = AF_INET, .plen = 32};
		gw.addr.v4 = l->router;
	}
	r = rtnl_open(u->nsfd, &nl);
	if (r < 0)
		return r;
	idx = link_index(nl, u->p.ifname);
	if (idx < 0) {
		r = idx;
		goto out;
	}
	lease_unapply(u, d, nl, idx);
	if (l->mtu >= 576)
		link_set_mtu(nl, idx, l->mtu);
	r = addr_add(nl, idx, &addr);
	if (r < 0 && r != -EEXIST)
		goto out;
	d->addr = addr;
	if (gw.family) {
		r = route_add_default(nl, idx, AF_INET,
				      ip_prefix_contains(&addr, &gw) ? &gw : NULL);
		if (r < 0 && r != -EEXIST)
			goto out;
		d->gw = gw;
	}
	/* The config's dns= wins over the lease's. */
	if (!u->p.n_dns) {
		for (size_t i = 0; i < l->n_dns; i++) {
			dns[i] = (struct ip_prefix){.family = AF_INET, .plen = 32};
			dns[i].addr.v4 = l->dns[i];
		}
		r = resolv_write(u->ns, dns, l->n_dns);
	} else {
		r = 0;
	}
	if (r == 0)
		uplink_live_set(u, &addr, 1, &gw, NULL, u->p.n_dns ? u->p.dns : dns,
				u->p.n_dns ? u->p.n_dns : l->n_dns);
out:
	rtnl_close(nl);
	return r;
}

static void on_dhcp(struct dhcp_client *c, enum dhcp_event ev, const struct dhcp_reply *lease,
		    void *userdata)
{
	struct uplink *u = userdata;
	struct netdev_dhcp *d = u->drv_data;
	struct rtnl *nl = NULL;
	int idx, r;

	switch (ev) {
	case DHCP_EVENT_BOUND:
		r = lease_apply(u, d, lease);
		if (r < 0) {
			log_debug("uplink %s: applying the lease: %d", u->p.name, r);
			uplink_live_error(u, "DHCP: applying the lease: %s", strerror(-r));
			dhcp_client_restart(c);
			return;
		}
		uplink_event(u, UPLINK_EVENT_CONNECTED);
		break;
	case DHCP_EVENT_RENEWED:
		break;
	case DHCP_EVENT_LOST:
		if (rtnl_open(u->nsfd, &nl) == 0) {
			idx = link_index(nl, u->p.ifname);
			if (idx > 0)
				lease_unapply(u, d, nl, idx);
			rtnl_close(nl);
		}
		uplink_live_set(u, NULL, 0, NULL, NULL, NULL, 0);
		if (dhcp_client_lost_reason(c))
			uplink_live_error(u, "DHCP: %s", dhcp_client_lost_reason(c));
		if (u->connected)
			uplink_event(u, UPLINK_EVENT_DISCONNECTED);
		break;
	case DHCP_EVENT_STALLED:
		log_info("uplink %s: DHCP: %s", u->p.name, dhcp_client_lost_reason(c));
		uplink_live_error(u, "DHCP: %s", dhcp_client_lost_reason(c));
		break;
	}
}

static int netdev_up(struct uplink *u)
{
	struct netdev_dhcp *d;
	struct rtnl *nl = NULL;
	int idx, r;

	idx = uplink_link_adopt(u);
	if (idx < 0)
		return idx;
	if (u->p.dhcp) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		r = dhcp_client_new(u->nsfd, u->p.ifname, on_dhcp, u, &d->client);
		if (r < 0) {
			free(d);
			return r;
		}
		u->drv_data = d;
		/* Connected when the lease comes, from the daemon's loop. */
		dhcp_client_start(d->client);
		return 0;
	}
	r = rtnl_open(u->nsfd, &nl);
	if (r < 0)
		return r;
	r = configure(u, nl, idx);
	/* Static addressing: the data path is there as soon as it is configured. */
	u->connected = r == 0;
	if (r == 0)
		uplink_live_set(u, u->p.addrs, u->p.n_addrs, &u->p.gw4, &u->p.gw6, u->p.dns,
				u->p.n_dns);
	else
		uplink_live_error(u, "configuring %s: %s", u->p.ifname, strerror(-r));
	rtnl_close(nl);
	return r;
}

static void netdev_down(struct uplink *u)
{
	struct netdev_dhcp *d = u->drv_data;

	if (d) {
		dhcp_client_free(d->client);
		free(d);
		u->drv_data = NULL;
	}
	if (u->adopted)
		uplink_link_return(u);
}

static int netdev_reconnect(struct uplink *u)
{
	struct netdev_dhcp *d = u->drv_data;

	if (!d)
		return -EOPNOTSUPP; /* static: nothing to renegotiate */
	dhcp_client_restart(d->client);
	return 0;
}

const struct uplink_driver uplink_driver_netdev = {
    .name = "netdev",
    .up = netdev_up,
    .down = netdev_down,
    .reconnect = netdev_reconnect,
    .resumable = true,
};
