/* uplink.c — an uplink's life: namespace cmx-<name>, the driver that brings its one data
 * interface, the per-namespace resolv.conf and egress table; and undoing all of it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/netns.h"
#include "netns/uplink-internal.h"

static const struct uplink_driver *const drivers[] = {
	&uplink_driver_netdev,
	&uplink_driver_qmi,
	&uplink_driver_host,
};

static const struct uplink_driver *driver_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}

bool uplink_driver_known(const char *driver)
{
	return driver_find(driver) != NULL;
}

int uplink_ns_name_of(const char *name, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, UPLINK_NS_PREFIX "%s", name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* A daemon killed with SIGKILL leaves cmx-<name> behind with the interface inside. Hand the
 * interface back to the host first: deleting the namespace would destroy a veth with it. */
static int reclaim_stale(const struct uplink_params *p, const char *ns, int host_nsfd)
{
	_cleanup_close_ int nsfd = -1;
	struct rtnl *nl = NULL;
	int idx, r;

	nsfd = ns_open(ns);
	if (nsfd >= 0 && rtnl_open(nsfd, &nl) == 0) {
		idx = link_index(nl, p->ifname);
		if (idx > 0) {
			link_set_up(nl, idx, false);
			r = link_set_netns(nl, idx, host_nsfd, NULL);
			if (r < 0)
				log_debug("uplink %s: reclaiming %s: %d", p->name, p->ifname, r);
		}
		rtnl_close(nl);
	}
	r = ns_delete(ns);
	return r == -ENOENT ? 0 : r;
}

static bool holds_interface(const char *ns, const char *ifname)
{
	_cleanup_close_ int nsfd = ns_open(ns);
	struct rtnl *nl = NULL;
	bool r = false;

	if (nsfd >= 0 && rtnl_open(nsfd, &nl) == 0) {
		r = link_index(nl, ifname) > 0;
		rtnl_close(nl);
	}
	return r;
}

bool uplink_resumed(const struct uplink *u)
{
	return u->resumed;
}

int uplink_up(const struct uplink_params *p, struct uplink **ret)
{
	const struct uplink_driver *drv = driver_find(p->driver);
	struct uplink *u;
	int r;

	if (!drv)
		return -EPROTONOSUPPORT;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->p = *p;
	u->drv = drv;
	u->nsfd = u->host_nsfd = -1;
	r = uplink_ns_name_of(p->name, u->ns, sizeof(u->ns));
	if (r < 0)
		goto fail;
	if (drv->prepare) {
		r = drv->prepare(u);
		if (r < 0)
			goto fail;
		p = &u->p; /* reclaiming and the table want what prepare() found */
	}
	u->host_nsfd = ns_open_current();
	if (u->host_nsfd < 0) {
		r = u->host_nsfd;
		goto fail;
	}
	if (ns_exists(u->ns) && drv->resumable && holds_interface(u->ns, p->ifname)) {
		/* A killed daemon's namespace with the modem inside: the sessions that outlived it
		 * run in there, so it is taken over, not rebuilt (uplink_resumed()). */
		u->resumed = true;
		log_info("uplink %s: taking over %s as a killed daemon left it", p->name, u->ns);
	} else if (ns_exists(u->ns)) {
		r = reclaim_stale(p, u->ns, u->host_nsfd);
		if (r < 0)
			goto fail;
	}
	if (!u->resumed) {
		r = ns_create(u->ns);
		if (r < 0)
			goto fail;
	}
	u->ns_created = true;
	u->nsfd = ns_open(u->ns);
	if (u->nsfd < 0) {
		r = u->nsfd;
		goto fail;
	}
	r = resolv_write(u->ns, p->dns, p->n_dns);
	if (r < 0)
		goto fail;
	u->resolv_written = true;
	/* The kill switch goes in before the interface arrives: never a moment without it. */
	r = fw_uplink_install(u->nsfd, p->ifname);
	if (r < 0)
		goto fail;
	r = drv->up(u);
	if (r < 0)
		goto fail;
	*ret = u;
	return 0;
fail:
	uplink_down(u);
	return r;
}

void uplink_down(struct uplink *u)
{
	int r;

	if (!u)
		return;
	/* A driver may hold state (a modem session, a lease) before or without adopting. */
	if (u->drv && (u->adopted || u->drv_data))
		u->drv->down(u);
	if (u->resolv_written && (r = resolv_remove(u->ns)) < 0)
		log_debug("uplink %s: removing resolv.conf: %d", u->p.name, r);
	if (u->nsfd >= 0)
		close(u->nsfd);
	/* The table dies with the namespace; nothing else holds it. */
	if (u->ns_created && (r = ns_delete(u->ns)) < 0)
		log_debug("uplink %s: deleting %s: %d", u->p.name, u->ns, r);
	if (u->host_nsfd >= 0)
		close(u->host_nsfd);
	free(u);
}

void uplink_set_event_handler(struct uplink *u, uplink_event_fn fn, void *userdata)
{
	u->event_fn = fn;
	u->event_userdata = userdata;
}

bool uplink_connected(const struct uplink *u)
{
	return u->connected;
}

void uplink_event(struct uplink *u, enum uplink_event ev)
{
	u->connected = ev == UPLINK_EVENT_CONNECTED;
	if (u->event_fn)
		u->event_fn(u, ev, u->event_userdata);
}

int uplink_reconnect(struct uplink *u)
{
	if (!u->drv->reconnect)
		return -EOPNOTSUPP;
	return u->drv->reconnect(u);
}

int uplink_reset(struct uplink *u)
{
	if (!u->drv->reset)
		return -EOPNOTSUPP;
	return u->drv->reset(u);
}

bool uplink_can_reset(const struct uplink *u)
{
	return u->drv->reset != NULL;
}

int uplink_radio_info(const struct uplink *u, struct uplink_radio *out)
{
	if (!u->drv->radio)
		return -ENODATA;
	return u->drv->radio(u, out);
}

int uplink_nsfd(const struct uplink *u)
{
	return u->nsfd;
}

const char *uplink_ns_name(const struct uplink *u)
{
	return u->ns;
}

const struct uplink_params *uplink_params(const struct uplink *u)
{
	return &u->p;
}

const struct uplink_live *uplink_live(const struct uplink *u)
{
	return &u->live;
}

void uplink_live_error(struct uplink *u, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(u->live.last_error, sizeof(u->live.last_error), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	u->live.last_error_unix_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void uplink_live_set(struct uplink *u, const struct ip_prefix *addrs, size_t n_addrs,
		     const struct ip_prefix *gw4, const struct ip_prefix *gw6,
		     const struct ip_prefix *dns, size_t n_dns)
{
	struct uplink_live *l = &u->live;

	l->n_addrs = n_addrs < UPLINK_MAX_ADDRS ? n_addrs : UPLINK_MAX_ADDRS;
	for (size_t i = 0; i < l->n_addrs; i++)
		l->addrs[i] = addrs[i];
	l->gw4 = gw4 ? *gw4 : (struct ip_prefix){0};
	l->gw6 = gw6 ? *gw6 : (struct ip_prefix){0};
	l->n_dns = n_dns < UPLINK_MAX_DNS ? n_dns : UPLINK_MAX_DNS;
	for (size_t i = 0; i < l->n_dns; i++)
		l->dns[i] = dns[i];
}
