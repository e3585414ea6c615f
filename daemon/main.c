/* main.c — cellmuxd's entry: arguments, config validation, the GLib main loop and signals.
 * Exit status: 0 clean stop, 1 runtime failure, 2 bad usage or configuration. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "sandbox/cgroup.h"
#include "daemon/config.h"
#include "daemon/ctl_ops.h"
#include "daemon/daemon.h"
#include "daemon/instance.h"
#include "daemon/notify.h"
#include "daemon/preflight.h"

#include "common/version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cellmuxd [-c PATH] [--check-config] [--debug]\n"
		"Turns cellular modems into isolated uplinks and runs session workers in them.\n\n"
		"  -c, --config PATH   configuration file (default " CONFIG_DEFAULT_PATH ")\n"
		"      --check-config  validate the configuration and exit (0 ok, 2 invalid)\n"
		"  -d, --debug         log debug messages\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n");
}

static gboolean on_stop_signal(gpointer data)
{
	struct daemon **d = data;

	log_info("signal received, shutting down");
	if (*d)
		daemon_shutdown(*d, 0);
	return G_SOURCE_CONTINUE;
}

static gboolean on_reexec_signal(gpointer data)
{
	struct daemon **d = data;

	if (*d) {
		log_info("SIGUSR2: re-executing");
		daemon_reexec(*d);
	}
	return G_SOURCE_CONTINUE;
}

/* The binary on disk, as it was found at start: after a package upgrade /proc/self/exe names
 * the replaced file ("... (deleted)"), and the new one is what a re-exec is for. */
static char exe_path[PATH_MAX];

static void exe_path_save(void)
{
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
	const char *del = " (deleted)";

	if (n <= 0) {
		exe_path[0] = 0;
		return;
	}
	exe_path[n] = 0;
	if ((size_t)n > strlen(del) && !strcmp(exe_path + n - strlen(del), del))
		exe_path[n - strlen(del)] = 0;
}

static gboolean on_reload_signal(gpointer data)
{
	struct daemon **d = data;
	char err[CONFIG_ERR_MAX];
	int r;

	if (!*d)
		return G_SOURCE_CONTINUE;
	log_info("SIGHUP: reloading the configuration");
	r = daemon_reload(*d, err, sizeof(err));
	if (r < 0)
		log_error("reload refused, nothing changed: %s", err);
	return G_SOURCE_CONTINUE;
}

/* Runs on the main loop itself, so a loop that hangs (a blocking call, a busy handler) stops
 * the pings and systemd restarts the daemon (WatchdogSec=). */
static gboolean on_watchdog(gpointer data)
{
	notify_send("WATCHDOG=1");
	return G_SOURCE_CONTINUE;
}

/* Pings at half the interval, as sd_watchdog_enabled(3) advises, so one late tick is no miss. */
static guint watchdog_start(void)
{
	uint64_t usec;
	int r;

	r = notify_watchdog_usec(&usec);
	if (r < 0)
		log_warn("WATCHDOG_USEC/WATCHDOG_PID unreadable, no watchdog pings");
	if (r <= 0)
		return 0;
	log_info("watchdog: pinging every %" PRIu64 " ms", usec / 2000);
	notify_send("WATCHDOG=1");
	return g_timeout_add((guint)MIN(MAX(usec / 2000, 1), G_MAXUINT), on_watchdog, NULL);
}

/* Under systemd (Delegate=yes) cellmuxd starts in its unit's own cgroup, which then could not
 * enable controllers for session cgroups below it (cgroup v2 allows no processes in a cgroup
 * that hands controllers down). So, when the config names no cgroup=, the daemon moves to a
 * leaf <unit>/supervisor and makes <unit>/cellmux the session root beside it. */
static int cgroup_leave_unit_root(struct cmx_config *cfg, const char *mnt)
{
	static const char leaf[] = "/supervisor";
	char self[PATH_MAX], dir[PATH_MAX + 32], pid[32];
	size_t n;
	int r;

	if (cfg->daemon.cgroup[0] || !getenv("INVOCATION_ID"))
		return 0;
	r = cgroup_self(self, sizeof(self));
	if (r < 0)
		return r;
	n = strlen(self);
	/* A daemon started again in the same unit cgroup is there already. */
	if (n > strlen(leaf) && !strcmp(self + n - strlen(leaf), leaf))
		self[n - strlen(leaf)] = 0;
	if (!strcmp(self, "/"))
		return 0; /* the root cgroup may hold processes */
	if ((size_t)snprintf(cfg->daemon.cgroup, sizeof(cfg->daemon.cgroup), "%s/cellmux", self) >=
	    sizeof(cfg->daemon.cgroup))
		return -ENAMETOOLONG;
	if ((size_t)snprintf(dir, sizeof(dir), "%s%s%s/cgroup.procs", mnt, self, leaf) >= sizeof(dir))
		return -ENAMETOOLONG;
	*strrchr(dir, '/') = 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	strcat(dir, "/cgroup.procs");
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	_cleanup_close_ int fd = open(dir, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, pid, strlen(pid)) < 0)
		return -errno;
	log_info("cgroup: daemon in %s%s, sessions under %s", self, leaf, cfg->daemon.cgroup);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	const char *path = CONFIG_DEFAULT_PATH;
	char err[CONFIG_ERR_MAX], mnt[256];
	struct cmx_config *cfg = NULL;
	int lock_fds[2] = { -1, -1 };
	const char *locked_dir = NULL;
	struct daemon *d = NULL;
	struct ctl_server *ctl = NULL;
	bool check_only = false;
	guint watchdog;
	int c, r, status;

	/* Descriptors inherited from whoever started us (a shell's lock, a test harness's pipe)
	 * would be held for the daemon's whole life and leak into nothing good: keep 0-2 only. */
	close_range(3, ~0U, 0);
	exe_path_save();
	log_open("cellmuxd");
	while ((c = getopt_long(argc, argv, "c:dhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'd':
			log_set_max_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("cellmuxd " CELLMUX_VERSION "\n");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* The whole file is validated, against the system too, before anything is created. */
	r = config_load(path, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	r = preflight_check(cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "%s\n", err);
		config_free(cfg);
		return 2;
	}
	if (check_only) {
		printf("%s: ok (%zu uplinks, %zu profiles, %zu sessions)\n", path, cfg->n_uplinks,
		       cfg->n_profiles, cfg->n_sessions);
		config_free(cfg);
		return 0;
	}
	if (geteuid() != 0) {
		log_error("must run as root (it creates namespaces, moves interfaces, makes cgroups)");
		config_free(cfg);
		return 1;
	}
	r = cgroup_v2_mount(mnt, sizeof(mnt));
	if (r < 0) {
		log_error_errno(r, "cgroup v2 is not mounted (need a unified or hybrid hierarchy): %m");
		config_free(cfg);
		return 1;
	}

	r = instance_lock(cfg, lock_fds, &locked_dir);
	if (r < 0) {
		log_error_errno(r, "%s is in use%s: %m", locked_dir,
				r == -EBUSY ? " by another cellmuxd (one per state_dir and bpf_dir)"
					    : "");
		config_free(cfg);
		return 1;
	}
	r = cgroup_leave_unit_root(cfg, mnt);
	if (r < 0) {
		log_error_errno(r, "moving out of the unit's cgroup: %m");
		config_free(cfg);
		return 1;
	}
	log_info("cellmuxd " CELLMUX_VERSION " starting with %s", path);
	/* Handlers first: a SIGTERM that arrives during start-up (right after READY=1, say) is
	 * queued by GLib and handled by the loop, never the default action that leaves
	 * namespaces behind. */
	g_unix_signal_add(SIGTERM, on_stop_signal, &d);
	g_unix_signal_add(SIGINT, on_stop_signal, &d);
	g_unix_signal_add(SIGHUP, on_reload_signal, &d);
	g_unix_signal_add(SIGUSR2, on_reexec_signal, &d);
	signal(SIGPIPE, SIG_IGN);
	r = daemon_new(cfg, &d); /* owns cfg from here, on failure too */
	if (r < 0) {
		log_error_errno(r, "start failed, everything created was removed: %m");
		return 1;
	}
	r = ctl_ops_server_new(d, &ctl);
	if (r < 0) {
		log_error_errno(r, "admin socket %s: %m%s",
				d->cfg->daemon.ctl_socket[0] ? d->cfg->daemon.ctl_socket
							     : CTL_SOCKET_PATH,
				r == -EADDRINUSE ? " (is another cellmuxd running?)" : "");
		daemon_free(d);
		return 1;
	}
	watchdog = watchdog_start();
again:
	g_main_loop_run(d->loop);
	if (d->reexec) {
		/* Nothing is torn down: the new process adopts the sessions, the namespaces and the
		 * pins; every descriptor of this one is CLOEXEC or closed by the new one at start. */
		log_info("re-executing %s", exe_path);
		notify_send("RELOADING=1");
		execv(exe_path[0] ? exe_path : "/proc/self/exe", argv);
		log_error("re-exec of %s failed, running on: %m", exe_path);
		notify_send("READY=1");
		d->reexec = false;
		goto again;
	}
	if (watchdog)
		g_source_remove(watchdog);
	status = d->exit_status;
	ctl_server_free(ctl);
	daemon_free(d);
	instance_unlock(lock_fds); /* last: everything the lock guards is gone */
	return status;
}
