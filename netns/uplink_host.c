/* uplink_host.c — the host driver: the namespace reaches the network through the host's own
 * connection, over a veth pair whose host end is masqueraded by a table of cellmux's own. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/netns.h"
#include "netns/uplink-internal.h"

/* Which interfaces' IPv4 forwarding this driver turned on, so a stop (or the next daemon, after
 * a crash) turns them off again. /run: the sysctls do not outlive a reboot either. */
#define HOST_STATE_DIR "/run/cellmux-host"
#define HOST_FWD_MAX 16
#define HOST_TABLE_PREFIX "cellmux-host-"

struct host_state {
	char fwd[HOST_FWD_MAX][IFNAMSIZ]; /* forwarding=1 is ours on these, veth aside */
	size_t n_fwd;
};

static int state_path(const struct uplink *u, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, HOST_STATE_DIR "/%s.forwarding", u->p.name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int sysctl_path(const char *ifname, char *buf, size_t len)
{
	if (!ifname[0] || strchr(ifname, '/') || strstr(ifname, ".."))
		return -EINVAL;
	if ((size_t)snprintf(buf, len, "/proc/sys/net/ipv4/conf/%s/forwarding", ifname) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Reads a 0/1 sysctl: 1, 0, or -errno. */
static int read_flag(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	int c;

	if (!f)
		return negative_errno();
	c = fgetc(f);
	return c == '1' ? 1 : c == '0' ? 0 : -EIO;
}

static int write_flag(const char *path, bool on)
{
	_cleanup_fclose_ FILE *f = fopen(path, "we");

	if (!f)
		return negative_errno();
	if (fputs(on ? "1\n" : "0\n", f) < 0 || fflush(f) != 0)
		return negative_errno();
	return 0;
}

static int set_forwarding(const char *ifname, bool on)
{
	char path[128];
	int r = sysctl_path(ifname, path, sizeof(path));

	return r < 0 ? r : write_flag(path, on);
}

static bool state_has(const struct host_state *s, const char *ifname)
{
	for (size_t i = 0; i < s->n_fwd; i++)
		if (!strcmp(s->fwd[i], ifname))
			return true;
	return false;
}

static void state_add(struct host_state *s, const char *ifname)
{
	if (state_has(s, ifname) || s->n_fwd == HOST_FWD_MAX || strlen(ifname) >= IFNAMSIZ)
		return;
	strcpy(s->fwd[s->n_fwd++], ifname);
}

/* A killed daemon's record: those interfaces are still ours to turn off. */
static void state_load(const struct uplink *u, struct host_state *s)
{
	char path[256], line[64];
	_cleanup_fclose_ FILE *f = NULL;

	if (state_path(u, path, sizeof(path)) < 0 || !(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0])
			state_add(s, line);
	}
}

static int state_save(const struct uplink *u, const struct host_state *s)
{
	char path[256], tmp[264];
	_cleanup_fclose_ FILE *f = NULL;
	int r;

	r = state_path(u, path, sizeof(path));
	if (r < 0)
		return r;
	if (!s->n_fwd) {
		if (unlink(path) < 0 && errno != ENOENT)
			return negative_errno();
		rmdir(HOST_STATE_DIR); /* ENOTEMPTY: another record; fine */
		return 0;
	}
	if (mkdir(HOST_STATE_DIR, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return negative_errno();
	for (size_t i = 0; i < s->n_fwd; i++)
		fprintf(f, "%s\n", s->fwd[i]);
	if (fflush(f) != 0 || rename(tmp, path) < 0) {
		r = negative_errno();
		unlink(tmp);
		return r;
	}
	return 0;
}

/* IPv4 checks forwarding on the interface a packet comes in on: the veth's host end for the
 * namespace's traffic, and the host's own interfaces for the replies. Where the global switch
 * (net.ipv4.ip_forward) is off, only those interfaces get it, per interface, and the table
 * keeps them from forwarding anything else; the global switch is never touched. */
static int forwarding_enable(struct uplink *u, struct host_state *s)
{
	struct ifaddrs *ifa = NULL;
	char path[128];
	int r;

	r = set_forwarding(u->p.ifname, true);
	if (r < 0)
		return r;
	if (read_flag("/proc/sys/net/ipv4/ip_forward") == 1)
		return 0; /* a router already: every interface forwards; nothing of ours to undo */
	if (getifaddrs(&ifa) < 0)
		return negative_errno();
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
		    !strcmp(i->ifa_name, u->p.ifname) || state_has(s, i->ifa_name))
			continue;
		if (sysctl_path(i->ifa_name, path, sizeof(path)) < 0 || read_flag(path) != 0)
			continue;
		if (s->n_fwd == HOST_FWD_MAX) {
			log_debug("uplink %s: more than %d host interfaces; %s left as it is",
				  u->p.name, HOST_FWD_MAX, i->ifa_name);
			continue;
		}
		/* Recorded before it is set: a crash in between leaves a record, not a leak. */
		state_add(s, i->ifa_name);
		r = state_save(u, s);
		if (r >= 0)
			r = write_flag(path, true);
		if (r < 0)
			break;
		log_debug("uplink %s: IPv4 forwarding on for %s", u->p.name, i->ifa_name);
	}
	freeifaddrs(ifa);
	return r < 0 ? r : 0;
}

static void forwarding_restore(struct uplink *u, struct host_state *s)
{
	for (size_t i = 0; i < s->n_fwd; i++) {
		int r = set_forwarding(s->fwd[i], false);
		if (r < 0 && r != -ENOENT)
			log_debug("uplink %s: forwarding off for %s: %d", u->p.name, s->fwd[i], r);
	}
	s->n_fwd = 0;
	state_save(u, s);
}

static bool nft_name_ok(const char *s)
{
	return s[0] && !strpbrk(s, "\"\\ \n\t;{}");
}

/* The host-side table: the namespace's address masqueraded behind whatever interface the host
 * routes it out of; nothing from outside but answers goes in; the host's own services are not
 * the session's internet (input from the veth: answers only); link-local destinations
 * (169.254.169.254 is a cloud's metadata service) are never forwarded; and interfaces whose
 * forwarding this driver turned on forward nothing but the namespace's traffic. */
static int table_install(const struct uplink *u, const struct host_state *s)
{
	char script[4096], ours[HOST_FWD_MAX * (IFNAMSIZ + 4) + 8], a[IP_PREFIX_STRLEN];
	const char *ifn = u->p.ifname;
	size_t n = 0;

	if (!nft_name_ok(ifn) || !nft_name_ok(u->p.name) || u->p.addrs[0].family != AF_INET)
		return -EINVAL;
	ours[0] = 0;
	for (size_t i = 0; i < s->n_fwd; i++) {
		if (!nft_name_ok(s->fwd[i]))
			continue;
		n += (size_t)snprintf(ours + n, sizeof(ours) - n, "%s\"%s\"", n ? ", " : "",
				      s->fwd[i]);
	}
	ip_prefix_fmt(&u->p.addrs[0], false, a);
	snprintf(script, sizeof(script),
		 "add table inet " HOST_TABLE_PREFIX "%s\n"
		 "delete table inet " HOST_TABLE_PREFIX "%s\n"
		 "table inet " HOST_TABLE_PREFIX "%s {\n"
		 "	chain postrouting {\n"
		 "		type nat hook postrouting priority srcnat; policy accept;\n"
		 "		ip saddr %s oifname != \"%s\" masquerade\n"
		 "	}\n"
		 "	chain forward {\n"
		 "		type filter hook forward priority filter; policy accept;\n"
		 "		iifname \"%s\" ip daddr 169.254.0.0/16 drop\n"
		 "		iifname \"%s\" ip saddr != %s drop\n"
		 "		iifname \"%s\" meta nfproto ipv4 accept\n"
		 "		iifname \"%s\" drop\n"
		 "		oifname \"%s\" ct state established,related accept\n"
		 "		oifname \"%s\" drop\n"
		 "		%s%s%s\n"
		 "	}\n"
		 "	chain input {\n"
		 "		type filter hook input priority filter; policy accept;\n"
		 "		iifname \"%s\" ct state established,related accept\n"
		 "		iifname \"%s\" drop\n"
		 "	}\n"
		 "}\n",
		 u->p.name, u->p.name, u->p.name, a, ifn, ifn, ifn, a, ifn, ifn, ifn, ifn,
		 n ? "iifname { " : "", ours, n ? " } drop" : "", ifn, ifn);
	return fw_apply(u->host_nsfd, script, NULL, 0);
}

static void table_remove(const struct uplink *u)
{
	char script[256];
	int r;

	if (!nft_name_ok(u->p.name))
		return;
	/* add-then-delete: no error when a failed start never made it. */
	snprintf(script, sizeof(script),
		 "add table inet " HOST_TABLE_PREFIX "%s\ndelete table inet " HOST_TABLE_PREFIX "%s\n",
		 u->p.name, u->p.name);
	r = fw_apply(u->host_nsfd, script, NULL, 0);
	if (r < 0)
		log_debug("uplink %s: removing the host table: %d", u->p.name, r);
}

static bool loopback(const struct ip_prefix *a)
{
	return a->family == AF_INET ? (ntohl(a->addr.v4.s_addr) >> 24) == 127
				    : IN6_IS_ADDR_LOOPBACK(&a->addr.v6);
}

/* IPv4 "nameserver" lines of a resolv.conf that the namespace can reach: a resolver on the
 * host's loopback (systemd-resolved's 127.0.0.53, a local dnsmasq) cannot be. */
static size_t read_resolvers(const char *path, struct ip_prefix *out, size_t max)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[256], addr[64];
	size_t n = 0;

	while (f && n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " nameserver %63s", addr) != 1)
			continue;
		if (ip_addr_parse(addr, &out[n]) < 0 || out[n].family != AF_INET ||
		    loopback(&out[n]))
			continue;
		n++;
	}
	return n;
}

static int host_dns(struct uplink *u)
{
	struct ip_prefix dns[UPLINK_MAX_DNS];
	size_t n;

	if (u->p.n_dns)
		return 0; /* dns= was written by uplink_up() already */
	n = read_resolvers("/etc/resolv.conf", dns, UPLINK_MAX_DNS);
	/* systemd-resolved's stub points at itself; its upstream servers are here. */
	if (!n)
		n = read_resolvers("/run/systemd/resolve/resolv.conf", dns, UPLINK_MAX_DNS);
	if (!n)
		log_warn("uplink %s: the host has no resolver the namespace can reach (only "
			 "loopback ones); set dns=", u->p.name);
	return resolv_write(u->ns, dns, n);
}

static int host_up(struct uplink *u)
{
	const struct uplink_params *p = &u->p;
	struct ip_prefix host_end = p->gw4;
	struct rtnl *host = NULL, *nl = NULL;
	struct host_state *s;
	int idx, lo, r;

	if (p->n_addrs != 1 || p->addrs[0].family != AF_INET || p->gw4.family != AF_INET)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	u->drv_data = s;
	state_load(u, s);
	r = rtnl_open(u->host_nsfd, &host);
	if (r < 0)
		goto out;
	if (!u->resumed) {
		r = link_add_veth(host, p->ifname, p->ifname, u->nsfd);
		if (r < 0)
			goto out;
	}
	u->adopted = true;
	r = rtnl_open(u->nsfd, &nl);
	if (r < 0)
		goto out;
	lo = link_index(nl, "lo");
	r = lo < 0 ? lo : link_set_up(nl, lo, true);
	if (r < 0)
		goto out;
	idx = link_index(nl, p->ifname);
	r = idx < 0 ? idx : link_set_up(nl, idx, true);
	if (r < 0)
		goto out;
	/* The live record: accounting and status read the interface from there. */
	snprintf(u->live.ifname, sizeof(u->live.ifname), "%s", p->ifname);
	u->live.ifindex = idx;
	/* EEXIST: a resumed namespace has them already. */
	r = addr_add(nl, idx, &p->addrs[0]);
	if (r < 0 && r != -EEXIST)
		goto out;
	r = route_add_default(nl, idx, AF_INET, &p->gw4);
	if (r < 0 && r != -EEXIST)
		goto out;
	idx = link_index(host, p->ifname);
	if (idx < 0) {
		r = idx;
		goto out;
	}
	host_end.plen = p->addrs[0].plen;
	r = addr_add(host, idx, &host_end);
	if (r < 0 && r != -EEXIST)
		goto out;
	r = link_set_up(host, idx, true);
	if (r < 0)
		goto out;
	r = forwarding_enable(u, s);
	if (r < 0)
		goto out;
	r = table_install(u, s);
	if (r < 0)
		goto out;
	r = host_dns(u);
	if (r < 0)
		goto out;
	uplink_live_set(u, p->addrs, 1, &p->gw4, NULL, p->dns, p->n_dns);
	u->connected = true;
out:
	rtnl_close(nl);
	rtnl_close(host);
	return r;
}

static void host_down(struct uplink *u)
{
	struct host_state *s = u->drv_data;
	struct rtnl *host = NULL;
	int idx, r;

	/* The table first: the moment the veth goes, nothing may be NAT'd on its behalf. */
	table_remove(u);
	if (u->adopted && rtnl_open(u->host_nsfd, &host) == 0) {
		/* Deleting one end deletes the pair. */
		idx = link_index(host, u->p.ifname);
		r = idx < 0 ? idx : link_delete(host, idx);
		if (r < 0 && r != -ENODEV)
			log_debug("uplink %s: deleting %s: %d", u->p.name, u->p.ifname, r);
		rtnl_close(host);
	}
	u->adopted = false;
	if (s) {
		forwarding_restore(u, s);
		free(s);
		u->drv_data = NULL;
	}
}

const struct uplink_driver uplink_driver_host = {
    .name = "host",
    .up = host_up,
    .down = host_down,
    .resumable = true,
};
