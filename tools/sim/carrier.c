/* carrier.c — the fake network's kernel objects: the internet namespace with its bridge, and per
 * modem a carrier namespace that NATs its subscriber veth to its own public address. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/ident.h"
#include "netns/netns.h"
#include "tools/sim/sim.h"

static void rtnl_closep(struct rtnl **nl)
{
	if (*nl)
		rtnl_close(*nl);
}
#define _cleanup_rtnl_ _cleanup_(rtnl_closep)

void sim_carrier_init(struct sim_carrier *c, int index)
{
	/* SIM_MAX_MODEMS < 1000; the modulo shows the compiler that every name fits. */
	unsigned i = (unsigned)index % 1000;

	memset(c, 0, sizeof(*c));
	c->index = index;
	snprintf(c->ns, sizeof(c->ns), SIM_NS_PREFIX "c%u", i);
	snprintf(c->inet_if, sizeof(c->inet_if), "c%u", i);
	snprintf(c->host_if, sizeof(c->host_if), SIM_HOST_IF_PREFIX "%u", i);
	/* .0 and .255 are skipped so every public address looks like a plain host. */
	snprintf(c->public_addr, sizeof(c->public_addr), "198.18.%u.%u", 1 + i / 254, 1 + i % 254);
	snprintf(c->gateway, sizeof(c->gateway), "100.64.%u.1", i % 256);
	snprintf(c->subscriber, sizeof(c->subscriber), "100.64.%u.2", i % 256);
	snprintf(c->dns_pid, sizeof(c->dns_pid), SIM_RUN_DIR "/dns%u.pid", i);
	snprintf(c->dns_log, sizeof(c->dns_log), SIM_RUN_DIR "/dns%u.log", i);
	snprintf(c->plug_file, sizeof(c->plug_file), SIM_RUN_DIR "/modem%u.if", i);
	memcpy(c->mac, (unsigned char[6]){0x02, 0xc3, 0x4d, 0x00, (unsigned char)(i >> 8),
					  (unsigned char)i},
	       6);
	snprintf(c->mac_str, sizeof(c->mac_str), "%02x:%02x:%02x:%02x:%02x:%02x", c->mac[0],
		 c->mac[1], c->mac[2], c->mac[3], c->mac[4], c->mac[5]);
	/* As tests/fakeqmi/fake-qmi-modem.c numbers its modems. */
	char d[20];
	snprintf(d, sizeof(d), "35000000%06u", i);
	snprintf(c->imei, sizeof(c->imei), "%.14s%c", d, ident_luhn(d));
	snprintf(d, sizeof(d), "899990000000%06u", i);
	snprintf(c->iccid, sizeof(c->iccid), "%.18s%c", d, ident_luhn(d));
}

static int ns_ensure(const char *name, struct undo *u)
{
	int r = ns_create(name);

	if (r == -EEXIST)
		return 0;
	if (r < 0)
		return log_error_errno(r, "creating namespace %s: %m", name);
	undo_ns(u, name);
	return 0;
}

/* Returns the ifindex of veth name in nl's namespace, creating the pair when it is missing. */
static int veth_ensure(struct rtnl *nl, const char *ns, const char *name, const char *peer,
		       int peer_nsfd, struct undo *u)
{
	int r = link_index(nl, name);

	if (r > 0)
		return r;
	if (r != -ENODEV)
		return log_error_errno(r, "link %s in %s: %m", name, ns);
	r = link_add_veth(nl, name, peer, peer_nsfd);
	if (r == -EEXIST)
		return log_error_errno(r,
				       "creating veth %s/%s in %s: %m (a leftover %s? run "
				       "`cellmux-sim down` first)",
				       name, peer, ns, peer);
	if (r < 0)
		return log_error_errno(r, "creating veth %s/%s in %s: %m", name, peer, ns);
	undo_link(u, ns, name);
	r = link_index(nl, name);
	if (r < 0)
		return log_error_errno(r, "link %s in %s after creating it: %m", name, ns);
	return r;
}

static int addr_ensure(struct rtnl *nl, int ifindex, const char *addr, int plen)
{
	struct ip_prefix p;
	char s[IP_PREFIX_STRLEN];
	int r;

	snprintf(s, sizeof(s), "%s/%d", addr, plen);
	r = ip_prefix_parse(s, &p);
	if (r < 0)
		return r;
	r = addr_add(nl, ifindex, &p);
	return r == -EEXIST ? 0 : r;
}

static int lo_up(struct rtnl *nl)
{
	int idx = link_index(nl, "lo");

	if (idx < 0)
		return idx;
	return link_set_up(nl, idx, true);
}

/* /proc/sys/net shows the namespace of whoever opens it, so write it from inside. */
static int sysctl_write_in(int nsfd, const char *path, const char *value)
{
	int saved, r, q;

	r = ns_enter(nsfd, &saved);
	if (r < 0)
		return r;
	r = write_file(path, value);
	q = ns_leave(saved);
	return r < 0 ? r : q;
}

int inet_ensure(struct undo *u)
{
	_cleanup_rtnl_ struct rtnl *nl = NULL;
	_cleanup_close_ int nsfd = -1;
	int br, r;

	r = ns_ensure(SIM_INET_NS, u);
	if (r < 0)
		return r;
	nsfd = ns_open(SIM_INET_NS);
	if (nsfd < 0)
		return log_error_errno(nsfd, "opening namespace %s: %m", SIM_INET_NS);
	r = rtnl_open(nsfd, &nl);
	if (r < 0)
		return log_error_errno(r, "rtnetlink in %s: %m", SIM_INET_NS);
	r = lo_up(nl);
	if (r < 0)
		return log_error_errno(r, "setting lo up in %s: %m", SIM_INET_NS);

	br = link_index(nl, SIM_INET_BRIDGE);
	if (br == -ENODEV) {
		r = link_add_bridge(nl, SIM_INET_BRIDGE);
		if (r < 0)
			return log_error_errno(r, "creating bridge %s: %m", SIM_INET_BRIDGE);
		undo_link(u, SIM_INET_NS, SIM_INET_BRIDGE);
		br = link_index(nl, SIM_INET_BRIDGE);
	}
	if (br < 0)
		return log_error_errno(br, "bridge %s in %s: %m", SIM_INET_BRIDGE, SIM_INET_NS);
	r = addr_ensure(nl, br, SIM_INET_ADDR, SIM_INET_PLEN);
	if (r < 0)
		return log_error_errno(r, "adding %s to %s: %m", SIM_INET_ADDR, SIM_INET_BRIDGE);
	r = link_set_up(nl, br, true);
	if (r < 0)
		return log_error_errno(r, "setting %s up: %m", SIM_INET_BRIDGE);
	return 0;
}

/* Only replies come back in from the wan: like a real CGNAT, subscribers cannot be reached. An
 * existing table is kept (a commit costs the kernel a grace period, ~15 ms per carrier); a new
 * one is created with add-delete-define so a half-made one can never pile up rules. */
static int carrier_firewall(const struct sim_carrier *c, int nsfd)
{
	char script[1024], err[512] = "";
	int r;

	if (fw_apply(nsfd, "list table ip cmxsim\n", NULL, 0) == 0)
		return 0;
	snprintf(
	    script, sizeof(script),
	    "table ip cmxsim\n"
	    "delete table ip cmxsim\n"
	    "table ip cmxsim {\n"
	    "	chain post {\n"
	    "		type nat hook postrouting priority srcnat; policy accept;\n"
	    "		oifname \"wan\" ip saddr 100.64.0.0/10 snat to %s\n"
	    "	}\n"
	    "	chain forward {\n"
	    "		type filter hook forward priority filter; policy drop;\n"
	    "		iifname \"sub\" oifname \"wan\" accept\n"
	    "		iifname \"wan\" oifname \"sub\" ct state established,related accept\n"
	    "	}\n"
	    "}\n",
	    c->public_addr);
	r = fw_apply(nsfd, script, err, sizeof(err));
	if (r < 0)
		return log_error_errno(r, "nftables in %s: %m%s%s", c->ns, *err ? ": " : "", err);
	return 0;
}

static int carrier_dnsmasq(const struct sim_carrier *c, int nsfd, struct undo *u)
{
	char listen[64], pidfile[96], carrier_rr[96], ip_rr[96], logf[96];
	char *argv[] = {"dnsmasq",
			"--conf-file=/dev/null",
			"--no-resolv",
			"--no-hosts",
			"--bind-interfaces",
			listen,
			pidfile,
			carrier_rr,
			ip_rr,
			"--user=nobody",
			logf,
			"--log-queries",
			NULL};
	pid_t pid;
	int r;

	if (pidfile_read(c->dns_pid, &pid) == 0 && proc_is(pid, SIM_DNSMASQ_COMM))
		return 0;
	snprintf(listen, sizeof(listen), "--listen-address=%s", c->gateway);
	snprintf(pidfile, sizeof(pidfile), "--pid-file=%s", c->dns_pid);
	snprintf(carrier_rr, sizeof(carrier_rr), "--address=/carrier.cellmux.test/%s",
		 c->public_addr);
	snprintf(ip_rr, sizeof(ip_rr), "--address=/ip.cellmux.test/%s", SIM_INET_ADDR);
	snprintf(logf, sizeof(logf), "--log-facility=%s", c->dns_log);

	r = spawn_in_ns(nsfd, SIM_DNSMASQ, argv);
	if (r < 0)
		return log_error_errno(r, "starting dnsmasq in %s: %m", c->ns);
	r = pidfile_read(c->dns_pid, &pid);
	if (r < 0)
		return log_error_errno(r, "dnsmasq in %s left no pid file %s: %m", c->ns,
				       c->dns_pid);
	undo_proc(u, pid, SIM_DNSMASQ_COMM);
	return 0;
}

int carrier_ensure(const struct sim_carrier *c, int inet_nsfd, int host_nsfd, struct undo *u)
{
	_cleanup_rtnl_ struct rtnl *nl = NULL, *inl = NULL;
	_cleanup_close_ int nsfd = -1;
	int wan, peer, br, r;

	r = ns_ensure(c->ns, u);
	if (r < 0)
		return r;
	nsfd = ns_open(c->ns);
	if (nsfd < 0)
		return log_error_errno(nsfd, "opening namespace %s: %m", c->ns);
	r = rtnl_open(nsfd, &nl);
	if (r < 0)
		return log_error_errno(r, "rtnetlink in %s: %m", c->ns);
	r = rtnl_open(inet_nsfd, &inl);
	if (r < 0)
		return log_error_errno(r, "rtnetlink in %s: %m", SIM_INET_NS);
	r = lo_up(nl);
	if (r < 0)
		return log_error_errno(r, "setting lo up in %s: %m", c->ns);

	/* Upstream: wan in the carrier, its peer on the internet bridge. */
	wan = veth_ensure(nl, c->ns, "wan", c->inet_if, inet_nsfd, u);
	if (wan < 0)
		return wan;
	peer = link_index(inl, c->inet_if);
	br = link_index(inl, SIM_INET_BRIDGE);
	if (peer < 0 || br < 0)
		return log_error_errno(peer < 0 ? peer : br, "links %s/%s in %s: %m", c->inet_if,
				       SIM_INET_BRIDGE, SIM_INET_NS);
	r = link_set_master(inl, peer, br);
	if (r >= 0)
		r = link_set_up(inl, peer, true);
	if (r < 0)
		return log_error_errno(r, "attaching %s to %s: %m", c->inet_if, SIM_INET_BRIDGE);
	r = addr_ensure(nl, wan, c->public_addr, SIM_INET_PLEN);
	if (r < 0)
		return log_error_errno(r, "adding %s to wan in %s: %m", c->public_addr, c->ns);
	r = link_set_up(nl, wan, true);
	if (r < 0)
		return log_error_errno(r, "setting wan up in %s: %m", c->ns);

	/* Downstream: sub in the carrier, its peer is the modem, left down in the host. An
	 * unplugged modem stays unplugged: `up` again repairs, it does not replug. */
	char ifname[16];
	sim_modem_ifname(c, ifname, sizeof(ifname));
	if (ifname[0]) {
		r = carrier_plug(c, host_nsfd, ifname, u);
		if (r < 0 && r != -EEXIST)
			return r;
	}

	r = sysctl_write_in(nsfd, "/proc/sys/net/ipv4/ip_forward", "1\n");
	if (r < 0)
		return log_error_errno(r, "enabling forwarding in %s: %m", c->ns);
	r = carrier_firewall(c, nsfd);
	if (r < 0)
		return r;
	return carrier_dnsmasq(c, nsfd, u);
}

void sim_modem_ifname(const struct sim_carrier *c, char *buf, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen(c->plug_file, "re");
	char line[32];

	snprintf(buf, len, "%s", c->host_if);
	if (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, len, "%s", strcmp(line, "-") ? line : "");
	}
}

int carrier_plug(const struct sim_carrier *c, int host_nsfd, const char *ifname, struct undo *u)
{
	_cleanup_rtnl_ struct rtnl *nl = NULL, *host = NULL;
	_cleanup_close_ int nsfd = -1;
	int sub, idx, r;

	nsfd = ns_open(c->ns);
	if (nsfd < 0)
		return log_error_errno(nsfd, "opening namespace %s: %m", c->ns);
	r = rtnl_open(nsfd, &nl);
	if (r >= 0)
		r = rtnl_open(host_nsfd, &host);
	if (r < 0)
		return log_error_errno(r, "rtnetlink: %m");
	sub = link_index(nl, "sub");
	if (sub > 0)
		return -EEXIST;
	sub = veth_ensure(nl, c->ns, "sub", ifname, host_nsfd, u);
	if (sub < 0)
		return sub;
	/* The modem's MAC is what match=mac: finds, whatever the name. */
	idx = link_index(host, ifname);
	r = idx < 0 ? idx : link_set_address(host, idx, c->mac);
	if (r < 0)
		return log_error_errno(r, "setting the MAC of %s: %m", ifname);
	r = addr_ensure(nl, sub, c->gateway, 24);
	if (r < 0)
		return log_error_errno(r, "adding %s to sub in %s: %m", c->gateway, c->ns);
	r = link_set_up(nl, sub, true);
	if (r < 0)
		return log_error_errno(r, "setting sub up in %s: %m", c->ns);
	return 0;
}

int carrier_unplug(const struct sim_carrier *c)
{
	_cleanup_rtnl_ struct rtnl *nl = NULL;
	_cleanup_close_ int nsfd = -1;
	int sub, r;

	nsfd = ns_open(c->ns);
	if (nsfd < 0)
		return log_error_errno(nsfd, "opening namespace %s: %m", c->ns);
	r = rtnl_open(nsfd, &nl);
	if (r < 0)
		return log_error_errno(r, "rtnetlink in %s: %m", c->ns);
	sub = link_index(nl, "sub");
	if (sub < 0)
		return sub;
	r = link_delete(nl, sub);
	if (r < 0)
		return log_error_errno(r, "deleting sub in %s: %m", c->ns);
	return 0;
}

int carrier_set_wan(const struct sim_carrier *c, bool up)
{
	_cleanup_rtnl_ struct rtnl *nl = NULL;
	_cleanup_close_ int nsfd = -1;
	int wan, r;

	nsfd = ns_open(c->ns);
	if (nsfd < 0)
		return log_error_errno(nsfd, "opening namespace %s: %m", c->ns);
	r = rtnl_open(nsfd, &nl);
	if (r < 0)
		return log_error_errno(r, "rtnetlink in %s: %m", c->ns);
	wan = link_index(nl, "wan");
	if (wan < 0)
		return log_error_errno(wan, "link wan in %s: %m", c->ns);
	r = link_set_up(nl, wan, up);
	if (r < 0)
		return log_error_errno(r, "setting wan %s in %s: %m", up ? "up" : "down", c->ns);
	return 0;
}

int carrier_destroy(const char *ns)
{
	static const char *const links[] = {"sub", "wan"};
	_cleanup_rtnl_ struct rtnl *nl = NULL;
	_cleanup_close_ int nsfd = ns_open(ns);
	int r;

	if (nsfd == -ENOENT)
		return 0;
	if (nsfd >= 0 && rtnl_open(nsfd, &nl) >= 0) {
		for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
			int idx = link_index(nl, links[i]);

			if (idx > 0 && (r = link_delete(nl, idx)) < 0 && r != -ENODEV)
				log_warn_errno(r, "deleting %s in %s: %m", links[i], ns);
		}
	}
	r = ns_delete(ns);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "deleting namespace %s: %m", ns);
	return 0;
}

int link_flags_in(const char *ns, const char *ifname, unsigned *ret_flags)
{
	_cleanup_close_ int nsfd = -1, fd = -1;
	struct ifreq ifr = {0};
	int saved, r;

	nsfd = ns ? ns_open(ns) : ns_open_current();
	if (nsfd < 0)
		return nsfd;
	/* A socket belongs to the namespace it was created in; ioctls on it ask there. */
	r = ns_enter(nsfd, &saved);
	if (r < 0)
		return r;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	r = fd < 0 ? negative_errno() : 0;
	if (ns_leave(saved) < 0 && r == 0)
		r = -EIO;
	if (r < 0)
		return r;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return negative_errno();
	*ret_flags = (unsigned short)ifr.ifr_flags;
	return 0;
}
