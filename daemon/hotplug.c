/* hotplug.c — modem hot-plug for uplinks with match=: a rtnetlink watch in the host namespace
 * says "links changed", and after a short settle every absent match= uplink looks through sysfs
 * for its identity; a watch in each such uplink's namespace sees its interface go.
 *
 * rtnetlink rather than a uevent socket: a net device's uevents are sent in the namespace it
 * lives in and udev renames it after the kernel announces it, so the settle-then-look-again
 * keeps a half-renamed interface from being taken; and rtnetlink is the one interface that
 * reports a link dying inside cmx-<name>, where udev and sysfs cannot see. */
#include "daemon/hotplug.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/daemon.h"
#include "netns/ident.h"
#include "netns/netns.h"
#include "netns/qmi_ident.h"
#include "netns/uplink.h"

/* Long enough for udev to rename a new interface, short against a modem's own boot. */
#define SETTLE_MS 200
#define SYSFS "/sys"
/* How long a modem may take to say who it is (DMS Get IDs, UIM Get ICCID); the daemon's loop
 * waits that long at most per port that sysfs could not rule out. */
#define QMI_ASK_MS 2000

struct hotplug {
	struct daemon *d;
	struct linkwatch *host;
	guint host_src, settle;
};

struct hotplug_watch {
	struct daemon *d;
	struct dm_uplink *du;
	struct linkwatch *w;
	guint src;
};

/* A killed daemon's cmx-<name> still holds the interface (sysfs of the host no longer shows
 * it): the namespace only ever holds that uplink's link besides lo, so it is the one. */
static int resolve_in_stale_ns(struct dm_uplink *du)
{
	char ns[UPLINK_NAME_MAX + sizeof(UPLINK_NS_PREFIX)], names[8][16];
	struct rtnl *nl = NULL;
	int nsfd, n, r = -ENODEV;

	if (uplink_ns_name_of(du->cfg->p.name, ns, sizeof(ns)) < 0 || !ns_exists(ns))
		return -ENODEV;
	nsfd = ns_open(ns);
	if (nsfd < 0)
		return nsfd;
	if (rtnl_open(nsfd, &nl) == 0) {
		n = link_list(nl, names, 8);
		for (int i = 0; i < n; i++)
			if (strcmp(names[i], "lo")) {
				memcpy(du->found_ifname, names[i], sizeof(du->found_ifname));
				r = 0;
				break;
			}
		rtnl_close(nl);
	}
	close(nsfd);
	return r;
}

/* A port another QMI uplink has (by device=, or found by its match= and not unplugged since) is
 * that uplink's modem: not asked. Read from the config and the main thread's own fields only:
 * uplink_up() threads may still be filling in other uplinks' du->u. */
static bool port_taken(const char *device, void *data)
{
	const struct dm_uplink *self = data;
	const struct daemon *d = self->d;

	for (size_t i = 0; d && i < d->n_uplinks; i++) {
		const struct dm_uplink *o = d->uplinks[i];
		const char *has = o->cfg->match.n ? o->found_device : o->cfg->p.device;

		if (o != self && !strcmp(o->cfg->p.driver, "qmi") && !strcmp(has, device))
			return true;
	}
	return false;
}

/* driver=qmi: the port whose modem says it is the one; its data interface from sysfs, or,
 * after a killed daemon, from the namespace that still holds it. */
static int resolve_qmi(struct dm_uplink *du)
{
	char device[sizeof(du->found_device)], ifname[16] = "", why[sizeof(du->find_error)];
	struct timespec ts;
	int r;

	r = qmi_ident_find(SYSFS, &du->cfg->match, du->cfg->p.qmi_proxy, QMI_ASK_MS, port_taken,
			   du, device, sizeof(device), ifname, sizeof(ifname), why, sizeof(why));
	if (r < 0) {
		/* A modem that does not answer may be this uplink's: say so where the operator
		 * looks (uplink show), and in the log once per change, not at every search. */
		if (why[0] && strcmp(why, du->find_error))
			log_warn("uplink %s: %s; it may be this uplink's modem: searching again at "
				 "the next hot-plug event or `cellmuxctl uplink up %s`",
				 du->cfg->p.name, why, du->cfg->p.name);
		if (strcmp(why, du->find_error)) {
			memcpy(du->find_error, why, sizeof(why));
			clock_gettime(CLOCK_REALTIME, &ts);
			du->find_error_unix_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		}
		return r;
	}
	du->find_error[0] = '\0';
	memcpy(du->found_device, device, sizeof(device));
	if (ifname[0]) {
		memcpy(du->found_ifname, ifname, sizeof(ifname));
		return 0;
	}
	return resolve_in_stale_ns(du);
}

int hotplug_resolve(struct dm_uplink *du)
{
	const struct ident_match *m = &du->cfg->match;
	char ifname[16] = "";
	int r;

	if (!m->n)
		return 0;
	if (!strcmp(du->cfg->p.driver, "qmi"))
		return resolve_qmi(du);
	r = ident_find_netdev(SYSFS, m, ifname, sizeof(ifname));
	if (r == 0) {
		memcpy(du->found_ifname, ifname, sizeof(ifname));
		return 0;
	}
	return resolve_in_stale_ns(du);
}

static gboolean on_settle(gpointer data)
{
	struct hotplug *h = data;
	struct daemon *d = h->d;
	char why[128], m[160];

	h->settle = 0;
	if (d->stopping)
		return G_SOURCE_REMOVE;
	for (size_t i = 0; i < d->n_uplinks; i++) {
		struct dm_uplink *du = d->uplinks[i];

		if (!du->cfg->match.n || du->u || du->held_down || hotplug_resolve(du) < 0)
			continue;
		log_info("uplink %s: %s matches %s: bringing it up", du->cfg->p.name,
			 du->found_ifname, ident_match_fmt(&du->cfg->match, m, sizeof(m)));
		if (daemon_uplink_action(d, du->cfg->p.name, UPLINK_ACTION_UP, why, sizeof(why)) <
		    0)
			log_warn("uplink %s: %s", du->cfg->p.name, why);
		/* d->uplinks may have changed under a failed start: look again next time. */
		if (i >= d->n_uplinks || d->uplinks[i] != du)
			break;
	}
	return G_SOURCE_REMOVE;
}

static gboolean on_host_links(gint fd, GIOCondition cond, gpointer data)
{
	struct hotplug *h = data;
	int r = linkwatch_drain(h->host);

	if (r < 0) {
		log_error_errno(r, "hot-plug: reading link events: %m");
		h->host_src = 0;
		return G_SOURCE_REMOVE;
	}
	if (r > 0) {
		if (h->settle)
			g_source_remove(h->settle);
		h->settle = g_timeout_add(SETTLE_MS, on_settle, h);
	}
	return G_SOURCE_CONTINUE;
}

int hotplug_new(struct daemon *d, struct hotplug **ret)
{
	struct hotplug *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	h->d = d;
	r = linkwatch_open(-1, &h->host);
	if (r < 0) {
		free(h);
		return r;
	}
	h->host_src = g_unix_fd_add(linkwatch_fd(h->host), G_IO_IN, on_host_links, h);
	*ret = h;
	return 0;
}

void hotplug_free(struct hotplug *h)
{
	if (!h)
		return;
	if (h->settle)
		g_source_remove(h->settle);
	if (h->host_src)
		g_source_remove(h->host_src);
	linkwatch_free(h->host);
	free(h);
}

static gboolean on_uplink_links(gint fd, GIOCondition cond, gpointer data)
{
	struct hotplug_watch *hw = data;
	struct dm_uplink *du = hw->du;
	struct rtnl *nl = NULL;
	const char *ifname;
	int r, idx;

	r = linkwatch_drain(hw->w);
	if (r <= 0 || !du->u)
		return G_SOURCE_CONTINUE;
	ifname = uplink_params(du->u)->ifname;
	r = rtnl_open(uplink_nsfd(du->u), &nl);
	if (r < 0)
		return G_SOURCE_CONTINUE;
	idx = link_index(nl, ifname);
	rtnl_close(nl);
	if (idx != -ENODEV)
		return G_SOURCE_CONTINUE;
	log_warn("uplink %s: %s is gone from %s (unplugged); its sessions follow on_uplink_down=",
		 du->cfg->p.name, ifname, uplink_ns_name(du->u));
	/* Frees hw and removes this source: nothing of hw is touched after. */
	daemon_uplink_unplugged(hw->d, du);
	return G_SOURCE_CONTINUE;
}

int hotplug_watch_uplink(struct daemon *d, struct dm_uplink *du)
{
	struct hotplug_watch *hw;
	int r;

	if (!du->cfg->match.n || du->hp || !du->u)
		return 0;
	hw = calloc(1, sizeof(*hw));
	if (!hw)
		return -ENOMEM;
	r = linkwatch_open(uplink_nsfd(du->u), &hw->w);
	if (r < 0) {
		free(hw);
		return r;
	}
	hw->d = d;
	hw->du = du;
	hw->src = g_unix_fd_add(linkwatch_fd(hw->w), G_IO_IN, on_uplink_links, hw);
	du->hp = hw;
	return 0;
}

void hotplug_unwatch_uplink(struct dm_uplink *du)
{
	struct hotplug_watch *hw = du->hp;

	if (!hw)
		return;
	g_source_remove(hw->src);
	linkwatch_free(hw->w);
	free(hw);
	du->hp = NULL;
}
