/* sim.c — cellmux-sim's entry point: the table of subcommands and the small ones that only read
 * the state (status, config) or flip one carrier's upstream (cut, heal). */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/netns.h"
#include "tools/sim/sim.h"

int state_read(int *ret_modems)
{
	_cleanup_fclose_ FILE *f = fopen(SIM_STATE_FILE, "re");
	int n;

	if (!f)
		return negative_errno();
	if (fscanf(f, "modems=%d", &n) != 1 || n < 1 || n > SIM_MAX_MODEMS)
		return -EBADMSG;
	*ret_modems = n;
	return 0;
}

int state_write(int modems)
{
	char buf[64];

	int r;

	snprintf(buf, sizeof(buf), "modems=%d\n", modems);
	r = write_file(SIM_STATE_FILE ".tmp", buf);
	if (r < 0)
		return r;
	if (rename(SIM_STATE_FILE ".tmp", SIM_STATE_FILE) < 0)
		return negative_errno();
	return 0;
}

/* The modem count of the running sim, or an exit status when it is not up. */
static int need_up(int *ret_modems)
{
	int r = state_read(ret_modems);

	if (r == -ENOENT) {
		log_error("the sim is not up; run `cellmux-sim up` first");
		return 1;
	}
	if (r < 0) {
		log_error_errno(r, "reading %s: %m", SIM_STATE_FILE);
		return 1;
	}
	return 0;
}

/* Names the namespace holding ifname: "host", a named namespace, or "-" when none of them. */
static void find_link(const char *ifname, char *where, size_t len, bool *ret_up)
{
	unsigned flags;
	struct dirent *de;
	DIR *d;

	*ret_up = false;
	if (if_nametoindex(ifname) > 0) {
		snprintf(where, len, "host");
		if (link_flags_in(NULL, ifname, &flags) == 0)
			*ret_up = flags & IFF_UP;
		return;
	}
	snprintf(where, len, "-");
	d = opendir(NETNS_RUN_DIR);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    !strncmp(de->d_name, SIM_NS_PREFIX, strlen(SIM_NS_PREFIX)))
			continue;
		if (link_flags_in(de->d_name, ifname, &flags) == 0) {
			snprintf(where, len, "%s", de->d_name);
			*ret_up = flags & IFF_UP;
			break;
		}
	}
	if (d)
		closedir(d);
}

int cmd_status(int argc, char **argv)
{
	pid_t pid;
	int n, r;

	if (argc > 1) {
		fprintf(stderr, "usage: cellmux-sim status\n");
		return SIM_EXIT_USAGE;
	}
	r = need_up(&n);
	if (r)
		return r;
	r = pidfile_read(SIM_HTTPD_PID, &pid) == 0 && proc_is(pid, SIM_HTTPD_COMM);
	printf("internet %s: %s %s/%d, httpd :80 and sink :9 %s (pid %d)\n", SIM_INET_NS,
	       SIM_INET_BRIDGE, SIM_INET_ADDR, SIM_INET_PLEN, r ? "running" : "NOT RUNNING",
	       r ? (int)pid : 0);
	if (sim_qmi_running())
		printf("qmi: fake modems /dev/cdc-wdm0..%d on @%s and on @qmi-proxy in %s; "
		       "control %s\n", n - 1, SIM_QMI_PROXY, SIM_QMI_NS, SIM_QMI_CTL);
	printf("%-4s %-10s %-16s %-16s %-17s %-12s %-5s %-7s %-17s %-15s %s\n", "IDX",
	       "INTERFACE", "WHERE", "PUBLIC", "SUBSCRIBER", "GATEWAY", "WAN", "DNSMASQ", "MAC",
	       "IMEI", "ICCID");
	for (int i = 0; i < n; i++) {
		char where[256], whereup[300], sub[24], dns[32];
		struct sim_carrier c;
		const char *wan;
		unsigned flags;
		bool up;

		char ifname[16];

		sim_carrier_init(&c, i);
		sim_modem_ifname(&c, ifname, sizeof(ifname));
		find_link(ifname[0] ? ifname : c.host_if, where, sizeof(where), &up);
		snprintf(whereup, sizeof(whereup), "%s(%s)", where, up ? "up" : "down");
		if (!ifname[0])
			snprintf(whereup, sizeof(whereup), "unplugged");
		else if (!strcmp(where, "-"))
			snprintf(whereup, sizeof(whereup), "gone?");
		if (link_flags_in(c.ns, "wan", &flags) < 0)
			wan = "gone";
		else
			wan = flags & IFF_UP ? "up" : "down";
		snprintf(sub, sizeof(sub), "%s/24", c.subscriber);
		if (pidfile_read(c.dns_pid, &pid) == 0 && proc_is(pid, SIM_DNSMASQ_COMM))
			snprintf(dns, sizeof(dns), "%d", (int)pid);
		else
			snprintf(dns, sizeof(dns), "dead");
		printf("%-4d %-10s %-16s %-16s %-17s %-12s %-5s %-7s %-17s %-15s %s\n", i,
		       ifname[0] ? ifname : "-", whereup, c.public_addr, sub, c.gateway, wan, dns,
		       c.mac_str, c.imei, c.iccid);
	}
	return 0;
}

int cmd_config(int argc, char **argv)
{
	int n, r;

	if (argc > 1) {
		fprintf(stderr, "usage: cellmux-sim config\n");
		return SIM_EXIT_USAGE;
	}
	r = need_up(&n);
	if (r)
		return r;
	printf(
	    "# cellmux.conf uplinks for the cellmux-sim fake carrier network (%d modem%s),\n"
	    "# printed by `cellmux-sim config`. simwwanN is the modem: a veth whose other end is\n"
	    "# carrier namespace %sN, which NATs 100.64.N.0/24 to its own public address in\n"
	    "# the fake internet %s/%d. Nothing here reaches a real network.\n",
	    n, n == 1 ? "" : "s", SIM_NS_PREFIX "c", SIM_INET_ADDR, SIM_INET_PLEN);
	for (int i = 0; i < n; i++) {
		struct sim_carrier c;

		sim_carrier_init(&c, i);
		/* The fake QMI modem reports exactly what the netdev section would configure. */
		if (sim_qmi_running()) {
			printf("\n[uplink sim%d]\n"
			       "driver=qmi\n"
			       "device=/dev/cdc-wdm%d\n"
			       "interface=%s\n"
			       "apn=internet\n"
			       "qmi_proxy=" SIM_QMI_PROXY "\n"
			       "capacity=4\n",
			       i, i, c.host_if);
			continue;
		}
		printf("\n[uplink sim%d]\n"
		       "driver=netdev\n"
		       "interface=%s\n"
		       "address=%s/24\n"
		       "gateway=%s\n"
		       "dns=%s\n"
		       "capacity=4\n",
		       i, c.host_if, c.subscriber, c.gateway, c.gateway);
	}
	return 0;
}

/* The modem index argv[1] of a running sim into c, or an exit status. */
static int modem_arg(int argc, char **argv, int min_args, int max_args, const char *usage,
		     struct sim_carrier *c)
{
	char *end;
	long i;
	int n, r;

	if (argc < min_args || argc > max_args) {
		fprintf(stderr, "usage: cellmux-sim %s %s\n", argv[0], usage);
		return SIM_EXIT_USAGE;
	}
	errno = 0;
	i = strtol(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || i < 0 || i >= SIM_MAX_MODEMS) {
		log_error("'%s' is not a modem index", argv[1]);
		return SIM_EXIT_USAGE;
	}
	r = need_up(&n);
	if (r)
		return r;
	if (i >= n) {
		log_error("modem %ld does not exist; the sim has modems 0..%d", i, n - 1);
		return SIM_EXIT_USAGE;
	}
	sim_carrier_init(c, (int)i);
	return 0;
}

static int cut_heal(int argc, char **argv, bool up)
{
	struct sim_carrier c;
	int r;

	r = modem_arg(argc, argv, 2, 2, "<modem index>", &c);
	if (r)
		return r;
	r = carrier_set_wan(&c, up);
	if (r < 0)
		return 1;
	log_info("%s: carrier %s upstream is %s", argv[0], c.ns, up ? "back" : "cut");
	return 0;
}

int cmd_cut(int argc, char **argv)
{
	return cut_heal(argc, argv, false);
}

int cmd_heal(int argc, char **argv)
{
	return cut_heal(argc, argv, true);
}

/* One command to the fake QMI modems' control socket; 0 when it answered "ok". */
static int qmi_ctl(const char *cmd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = SIM_QMI_CTL};
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[512];
	size_t len = 0;
	ssize_t n;

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	if (write(fd, cmd, strlen(cmd)) < 0)
		return negative_errno();
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return len >= 3 && !strcmp(buf + len - 3, "ok\n") ? 0 : -EIO;
}

static int plug_note(const struct sim_carrier *c, const char *ifname)
{
	char line[32];
	int r;

	snprintf(line, sizeof(line), "%s\n", ifname);
	r = write_file(c->plug_file, line);
	if (r < 0)
		log_error_errno(r, "writing %s: %m", c->plug_file);
	return r;
}

/* The USB cable pulled: the modem's interface disappears wherever it is (the veth dies with
 * its carrier end), and with --qmi its control port too. */
int cmd_unplug(int argc, char **argv)
{
	struct sim_carrier c;
	char cmd[32];
	int r;

	r = modem_arg(argc, argv, 2, 2, "<modem index>", &c);
	if (r)
		return r;
	r = carrier_unplug(&c);
	if (r == -ENODEV) {
		log_error("modem %d is not plugged in", c.index);
		return 1;
	}
	if (r < 0)
		return 1;
	if (sim_qmi_running()) {
		snprintf(cmd, sizeof(cmd), "vanish %d\n", c.index);
		r = qmi_ctl(cmd);
		if (r < 0)
			log_warn_errno(r, "the fake QMI modem did not take 'vanish %d': %m", c.index);
		if (fakesys_unplug(c.index) < 0)
			return 1;
	}
	if (plug_note(&c, "-") < 0)
		return 1;
	log_info("unplug: modem %d is gone", c.index);
	return 0;
}

/* With --qmi: the modem's QMI port comes back as the lowest free /dev/cdc-wdmK, on hub port
 * `port` (0: the one it had), before its interface does, so whoever sees the new link finds
 * the port in place. */
static int qmi_replug(const struct sim_carrier *c, unsigned port, const char *ifname)
{
	unsigned old_port, wdm;
	char cmd[64];
	int n, r;

	r = need_up(&n);
	if (r)
		return -EINVAL;
	if (fakesys_where(c->index, &old_port, &wdm) == 0)
		return log_error_errno(-EEXIST, "modem %d is plugged in; unplug it first", c->index);
	if (!port)
		port = (unsigned)c->index + 1;
	for (int i = 0; i < n; i++) {
		unsigned p, w;

		if (fakesys_where(i, &p, &w) == 0 && p == port)
			return log_error_errno(-EBUSY, "hub port %u holds modem %d", port, i);
	}
	r = fakesys_free_wdm(n, &wdm);
	if (r < 0)
		return log_error_errno(r, "no cdc-wdm number free: %m");
	snprintf(cmd, sizeof(cmd), "set %d path=/dev/cdc-wdm%u\n", c->index, wdm);
	if ((r = qmi_ctl(cmd)) < 0 ||
	    (snprintf(cmd, sizeof(cmd), "return %d\n", c->index), r = qmi_ctl(cmd)) < 0)
		return log_error_errno(r, "the fake QMI modem did not take '%.*s': %m",
				       (int)strcspn(cmd, "\n"), cmd);
	r = fakesys_plug(c->index, port, wdm, ifname);
	if (r < 0)
		return r;
	log_info("replug: modem %d's QMI port is /dev/cdc-wdm%u on USB 1-1.%u", c->index, wdm,
		 port);
	return 0;
}

/* Plugged back, maybe into another port: a new interface (new index; the name given, or the
 * old one) with the same MAC, IMEI and ICCID. */
int cmd_replug(int argc, char **argv)
{
	_cleanup_close_ int host_nsfd = -1;
	struct sim_carrier c;
	struct undo u;
	char ifname[16];
	unsigned port = 0;
	int r;

	/* --port P: into hub port P (a QMI modem's USB path 1-1.P), anywhere in the line. */
	for (int i = 1; i < argc; i++) {
		char *end;
		unsigned long v;

		if (strcmp(argv[i], "--port"))
			continue;
		v = i + 1 < argc ? strtoul(argv[i + 1], &end, 10) : 0;
		if (i + 1 >= argc || *end || v < 1 || v > 255) {
			log_error("--port wants a hub port number 1..255");
			return SIM_EXIT_USAGE;
		}
		port = (unsigned)v;
		memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 2) * sizeof(*argv));
		argc -= 2;
		break;
	}
	r = modem_arg(argc, argv, 2, 3, "<modem index> [interface name] [--port P]", &c);
	if (r)
		return r;
	if (port && !sim_qmi_running()) {
		log_error("--port is for fake QMI modems (up --qmi)");
		return SIM_EXIT_USAGE;
	}
	snprintf(ifname, sizeof(ifname), "%s", argc > 2 ? argv[2] : c.host_if);
	if (argc > 2 && (strlen(argv[2]) >= IFNAMSIZ || !argv[2][0] || strchr(argv[2], '/'))) {
		log_error("'%s' is not an interface name", argv[2]);
		return SIM_EXIT_USAGE;
	}
	if (if_nametoindex(ifname) > 0) {
		log_error("an interface %s exists already in the host namespace", ifname);
		return 1;
	}
	if (sim_qmi_running() && qmi_replug(&c, port, ifname) < 0)
		return 1;
	host_nsfd = ns_open_current();
	if (host_nsfd < 0 || undo_init(&u, 4) < 0)
		return 1;
	r = carrier_plug(&c, host_nsfd, ifname, &u);
	if (r == -EEXIST)
		log_error("modem %d is plugged in; unplug it first", c.index);
	if (r < 0) {
		undo_run(&u);
		undo_done(&u);
		return 1;
	}
	undo_done(&u);
	if (plug_note(&c, ifname) < 0)
		return 1;
	log_info("replug: modem %d is back as %s (MAC %s)", c.index, ifname, c.mac_str);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help; /* NULL: not for people (the daemons `up` starts) */
} commands[] = {
    {"up", cmd_up, "[--modems N] [--qmi]  build the fake carrier network (N 1..200, default 3);\n"
		   "                  --qmi: the modems are fake QMI modems (cellmux's qmi driver)"},
    {"down", cmd_down, "             remove everything the sim built"},
    {"status", cmd_status, "             one line per modem"},
    {"config", cmd_config, "             print cellmux.conf uplink sections for the modems"},
    {"cut", cmd_cut, "<i>          take carrier i's upstream (its wan link) down"},
    {"heal", cmd_heal, "<i>          bring carrier i's upstream back"},
    {"unplug", cmd_unplug, "<i>          pull modem i out: its interface (and QMI port) vanish"},
    {"replug", cmd_replug, "<i> [NAME] [--port P]  plug modem i back, as a new interface NAME\n"
			   "                  (default simwwanI) with the same MAC, IMEI and ICCID;\n"
			   "                  --qmi: its port is the lowest free /dev/cdc-wdmK, on\n"
			   "                  USB hub port P (1-1.P; default i+1)"},
    {"httpd", cmd_httpd, NULL},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cellmux-sim <command> [args]\n"
		"A fake carrier network for cellmux: per modem a veth simwwanN in the host\n"
		"namespace whose carrier NATs it into a fake internet (%s/%d).\n\n",
		SIM_INET_ADDR, SIM_INET_PLEN);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].help)
			fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nState, pid files and logs (http.log, sink.log, dnsN.log) are in %s.\n",
		SIM_RUN_DIR);
}

int main(int argc, char **argv)
{
	log_open("cellmux-sim");
	if (argc < 2) {
		usage(stderr);
		return SIM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	log_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return SIM_EXIT_USAGE;
}
