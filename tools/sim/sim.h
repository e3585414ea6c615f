/* sim.h — what the files of cellmux-sim share: the names and addresses of the fake carrier
 * network, its state directory, and the undo log that lets `up` take back a half-built network. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SIM_MAX_MODEMS 200
#define SIM_DEFAULT_MODEMS 3
#define SIM_EXIT_USAGE 2

#define SIM_RUN_DIR "/run/cellmux-sim"
#define SIM_STATE_FILE SIM_RUN_DIR "/state"
#define SIM_HTTPD_PID SIM_RUN_DIR "/httpd.pid"
#define SIM_HTTPD_LOG SIM_RUN_DIR "/http.log"
#define SIM_SINK_LOG SIM_RUN_DIR "/sink.log"

#define SIM_NS_PREFIX "cmxsim-"
#define SIM_INET_NS SIM_NS_PREFIX "inet"
#define SIM_INET_BRIDGE "inet0"
#define SIM_INET_ADDR "198.18.0.1"
#define SIM_INET_PLEN 16
#define SIM_HOST_IF_PREFIX "simwwan"
#define SIM_DNSMASQ "/usr/sbin/dnsmasq"
#define SIM_DNSMASQ_COMM "dnsmasq"
/* `up --qmi`: one fake-qmi-modem serves every modem as /dev/cdc-wdmN, on the abstract socket
 * SIM_QMI_PROXY of the host (for cellmuxd, qmi_proxy=) and on @qmi-proxy inside SIM_QMI_NS, where
 * the real qmicli -p finds it. */
#define SIM_QMI_NS SIM_NS_PREFIX "qmi"
#define SIM_QMI_PROXY "cellmux-sim-qmi"
#define SIM_QMI_PID SIM_RUN_DIR "/qmi.pid"
#define SIM_QMI_CTL SIM_RUN_DIR "/qmi.ctl"
#define SIM_QMI_LOG SIM_RUN_DIR "/qmi.log"
#define SIM_QMI_COMM "fake-qmi-modem"
/* Whether the fake QMI modems run (the sim was brought up with --qmi). */
bool sim_qmi_running(void);

/* The httpd renames itself so `down` can tell it from any other cellmux-sim process. */
#define SIM_HTTPD_COMM "cmxsim-httpd"

/* Everything about carrier i that is derived from i alone. */
struct sim_carrier {
	int index;
	char ns[16];	      /* cmxsim-c<i> */
	char inet_if[16];     /* c<i>: the wan veth's end on the internet bridge */
	char host_if[16];     /* simwwan<i>: the "modem" left in the host namespace */
	char public_addr[16]; /* 198.18.1.<i+1>, on wan, /16 */
	char gateway[16];     /* 100.64.<i>.1, on sub, /24 */
	char subscriber[16];  /* 100.64.<i>.2, what the daemon puts on simwwan<i> */
	char dns_pid[64];
	char dns_log[64];
	/* The modem's identity, for match=: the same IMEI and ICCID the fake QMI modem i reports,
	 * and the MAC the host end carries (locally administered, 02:c3:4d:00:HI:LO). */
	unsigned char mac[6];
	char mac_str[18];
	char imei[16];
	char iccid[24];
	char plug_file[64]; /* where unplug/replug note the modem's current interface name */
};

void sim_carrier_init(struct sim_carrier *c, int index);

/* The undo log of one `up` run: what it created, taken back in reverse on failure. */
enum undo_kind { UNDO_NS, UNDO_LINK, UNDO_PROC };

struct undo_rec {
	enum undo_kind kind;
	char ns[16];
	char ifname[16];
	pid_t pid;
	const char *comm;
};

struct undo {
	struct undo_rec *recs;
	size_t n, cap;
};

/* The log is sized up front so recording a step never fails after the step succeeded. */
int undo_init(struct undo *u, size_t cap);
void undo_ns(struct undo *u, const char *ns);
void undo_link(struct undo *u, const char *ns, const char *ifname);
void undo_proc(struct undo *u, pid_t pid, const char *comm);
void undo_run(struct undo *u);
void undo_done(struct undo *u);

/* carrier.c — the topology, through the netns library. */
int inet_ensure(struct undo *u);
int carrier_ensure(const struct sim_carrier *c, int inet_nsfd, int host_nsfd, struct undo *u);
int carrier_set_wan(const struct sim_carrier *c, bool up);
/* Deletes the veths of a carrier namespace (so the host end disappears now, not when the
 * kernel gets round to freeing the namespace) and then the namespace. */
int carrier_destroy(const char *ns);
/* Creates the subscriber veth: sub (gateway address, up) in the carrier, its peer ifname in
 * the host namespace carrying the modem's MAC; -EEXIST when the modem is plugged in already. */
int carrier_plug(const struct sim_carrier *c, int host_nsfd, const char *ifname, struct undo *u);
/* Deletes sub, which takes the modem's end with it wherever it is (cellmuxd's namespace). */
int carrier_unplug(const struct sim_carrier *c);
/* The modem's interface name now: host_if unless replugged under another; "" when unplugged. */
void sim_modem_ifname(const struct sim_carrier *c, char *buf, size_t len);

/* fakesys.c — the sysfs of the fake QMI modems (`up --qmi`), for match=: a modem plugged into
 * port P of the sim's hub is /dev/cdc-wdmK with its data interface beside it. A test mounts
 * SIM_SYS_DIR/class/usbmisc over /sys/class/usbmisc in the daemon's mount namespace. */
#define SIM_SYS_DIR SIM_RUN_DIR "/sys"
int fakesys_plug(int modem, unsigned port, unsigned wdm, const char *ifname);
int fakesys_unplug(int modem); /* 0 when it was not plugged */
/* Where modem is plugged: -ENODEV when it is not. */
int fakesys_where(int modem, unsigned *port, unsigned *wdm);
/* The lowest cdc-wdm number no modem has, as the kernel gives them out. */
int fakesys_free_wdm(int n_modems, unsigned *wdm);
int fakesys_remove(void);
/* IFF_* flags of ifname inside the named namespace (NULL: ours). */
int link_flags_in(const char *ns, const char *ifname, unsigned *ret_flags);

/* proc.c — daemons: start them inside a namespace, find and stop them safely. */
int pidfile_read(const char *path, pid_t *ret);
int pidfile_write(const char *path, pid_t pid);
bool proc_is(pid_t pid, const char *comm);
/* SIGTERM, then SIGKILL; only if pid still has that comm (pid files outlive processes). */
int proc_stop(pid_t pid, const char *comm);
int procs_stop(const pid_t *pids, const char *const *comms, size_t n);
/* Runs path inside nsfd and waits for it; daemons fork away and leave a pid file. */
int spawn_in_ns(int nsfd, const char *path, char *const argv[]);
/* Stops dnsmasq and httpd processes living in the named namespaces, pid file or not. */
int ns_stop_daemons(const char *const *names, size_t n);
int write_file(const char *path, const char *content);

/* state file: the sim is up with this many modems. -ENOENT when not up. */
int state_read(int *ret_modems);
int state_write(int modems);

/* Subcommands; each returns an exit status. */
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_cut(int argc, char **argv);
int cmd_heal(int argc, char **argv);
int cmd_httpd(int argc, char **argv);
int cmd_unplug(int argc, char **argv);
int cmd_replug(int argc, char **argv);
