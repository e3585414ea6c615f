/* up.c — `cellmux-sim up` and `down`: build the fake network idempotently, take back what a
 * failed run built, and tear everything down however much of it is left. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/netns.h"
#include "tools/sim/sim.h"

int undo_init(struct undo *u, size_t cap)
{
	u->recs = calloc(cap, sizeof(*u->recs));
	if (!u->recs)
		return -ENOMEM;
	u->n = 0;
	u->cap = cap;
	return 0;
}

static struct undo_rec *undo_push(struct undo *u, enum undo_kind kind)
{
	/* Sized for the worst case in cmd_up(); running out is a bug, not a runtime error. */
	if (u->n >= u->cap)
		abort();
	u->recs[u->n] = (struct undo_rec){.kind = kind};
	return &u->recs[u->n++];
}

void undo_ns(struct undo *u, const char *ns)
{
	snprintf(undo_push(u, UNDO_NS)->ns, sizeof(u->recs->ns), "%s", ns);
}

void undo_link(struct undo *u, const char *ns, const char *ifname)
{
	struct undo_rec *rec = undo_push(u, UNDO_LINK);

	snprintf(rec->ns, sizeof(rec->ns), "%s", ns);
	snprintf(rec->ifname, sizeof(rec->ifname), "%s", ifname);
}

void undo_proc(struct undo *u, pid_t pid, const char *comm)
{
	struct undo_rec *rec = undo_push(u, UNDO_PROC);

	rec->pid = pid;
	rec->comm = comm;
}

static int link_delete_in(const char *ns, const char *ifname)
{
	_cleanup_close_ int nsfd = ns_open(ns);
	struct rtnl *nl;
	int idx, r;

	if (nsfd < 0)
		return nsfd;
	r = rtnl_open(nsfd, &nl);
	if (r < 0)
		return r;
	idx = link_index(nl, ifname);
	r = idx < 0 ? idx : link_delete(nl, idx);
	rtnl_close(nl);
	return r;
}

/* Reverse order: daemons first, since a process inside a namespace keeps it alive. */
void undo_run(struct undo *u)
{
	while (u->n > 0) {
		struct undo_rec *rec = &u->recs[--u->n];
		int r = 0;

		switch (rec->kind) {
		case UNDO_PROC:
			r = proc_stop(rec->pid, rec->comm);
			break;
		case UNDO_LINK:
			r = link_delete_in(rec->ns, rec->ifname);
			if (r == -ENODEV || r == -ENOENT)
				r = 0;
			break;
		case UNDO_NS: {
			const char *names[] = {rec->ns};

			ns_stop_daemons(names, 1);
			r = carrier_destroy(rec->ns);
			break;
		}
		}
		if (r < 0)
			log_warn_errno(r, "undoing: %m");
	}
}

void undo_done(struct undo *u)
{
	free(u->recs);
	*u = (struct undo){0};
}

static int httpd_ensure(int inet_nsfd, struct undo *u)
{
	char *argv[] = {"cellmux-sim", "httpd",
			"--listen",    SIM_INET_ADDR ":80",
			"--sink",      SIM_INET_ADDR ":9",
			"--log",       SIM_HTTPD_LOG,
			"--sink-log",  SIM_SINK_LOG,
			"--pid-file",  SIM_HTTPD_PID,
			"--daemon",    NULL};
	pid_t pid;
	int r;

	if (pidfile_read(SIM_HTTPD_PID, &pid) == 0 && proc_is(pid, SIM_HTTPD_COMM))
		return 0;
	/* Re-executing ourselves gives the daemon a clean process, free of this run's fds. */
	r = spawn_in_ns(inet_nsfd, "/proc/self/exe", argv);
	if (r < 0)
		return log_error_errno(r, "starting httpd in %s: %m", SIM_INET_NS);
	r = pidfile_read(SIM_HTTPD_PID, &pid);
	if (r < 0)
		return log_error_errno(r, "httpd left no pid file %s: %m", SIM_HTTPD_PID);
	undo_proc(u, pid, SIM_HTTPD_COMM);
	return 0;
}

/* Carrier namespaces beyond n mean an earlier, bigger sim whose state file is gone. */
static int check_leftovers(int n)
{
	DIR *d = opendir(NETNS_RUN_DIR);
	struct dirent *de;
	int i, r = 0;
	char c;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (sscanf(de->d_name, SIM_NS_PREFIX "c%d%c", &i, &c) == 1 && i >= n) {
			r = -EEXIST;
			log_error("namespace %s is left from a bigger sim; run `cellmux-sim down` "
				  "first",
				  de->d_name);
			break;
		}
	closedir(d);
	return r;
}

static void usage_up(void)
{
	fprintf(stderr, "usage: cellmux-sim up [--modems N] [--qmi]   (N: 1..%d, default %d)\n",
		SIM_MAX_MODEMS, SIM_DEFAULT_MODEMS);
}

bool sim_qmi_running(void)
{
	pid_t pid;

	return pidfile_read(SIM_QMI_PID, &pid) == 0 && proc_is(pid, SIM_QMI_COMM);
}

/* The fake QMI modems: a test helper built next to us (build/helpers/fake-qmi-modem). */
static int qmi_ensure(int host_nsfd, int n, struct undo *u)
{
	char exe[4096], helper[4200], modems[16], *slash;
	char listen_lab[64] = "qmi-proxy@" SIM_QMI_NS;
	char *argv[] = { SIM_QMI_COMM,	 "--modems", modems,	   "--listen", SIM_QMI_PROXY,
			 "--listen",	 listen_lab, "--ctl",	   SIM_QMI_CTL, "--pid-file",
			 SIM_QMI_PID,	 "--log",    SIM_QMI_LOG,  "--daemon", NULL };
	ssize_t len;
	pid_t pid;
	int r;

	if (sim_qmi_running())
		return 0;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		return log_error_errno(negative_errno(), "finding our own binary: %m");
	exe[len] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(helper, sizeof(helper), "%s/helpers/" SIM_QMI_COMM, exe);
	snprintf(modems, sizeof(modems), "%d", n);
	if (!ns_exists(SIM_QMI_NS)) {
		r = ns_create(SIM_QMI_NS);
		if (r < 0)
			return log_error_errno(r, "creating namespace %s: %m", SIM_QMI_NS);
		undo_ns(u, SIM_QMI_NS);
	}
	r = spawn_in_ns(host_nsfd, helper, argv);
	if (r < 0)
		return log_error_errno(r, "starting %s: %m", helper);
	r = pidfile_read(SIM_QMI_PID, &pid);
	if (r < 0)
		return log_error_errno(r, "%s left no pid file %s: %m", helper, SIM_QMI_PID);
	undo_proc(u, pid, SIM_QMI_COMM);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"modems", required_argument, NULL, 'n'}, {"qmi", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'}, {}};
	_cleanup_close_ int host_nsfd = -1, inet_nsfd = -1;
	struct undo u = {0};
	bool made_dir = false, qmi = false;
	int n = SIM_DEFAULT_MODEMS, running, opt, r;
	long long t0 = now_ms();
	char *end;

	while ((opt = getopt_long(argc, argv, "n:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			qmi = true;
			break;
		case 'n':
			errno = 0;
			n = (int)strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 1 || n > SIM_MAX_MODEMS) {
				log_error("--modems wants a number from 1 to %d, not '%s'",
					  SIM_MAX_MODEMS, optarg);
				return SIM_EXIT_USAGE;
			}
			break;
		case 'h':
			usage_up();
			return 0;
		default:
			usage_up();
			return SIM_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage_up();
		return SIM_EXIT_USAGE;
	}

	r = state_read(&running);
	if (r == 0 && running != n) {
		log_error("the sim is up with %d modems, not %d; run `cellmux-sim down` first",
			  running, n);
		return 1;
	}
	if (r < 0 && r != -ENOENT) {
		log_error_errno(r, "reading %s: %m", SIM_STATE_FILE);
		return 1;
	}
	if (check_leftovers(n) < 0)
		return 1;
	if (mkdir(SIM_RUN_DIR, 0755) == 0)
		made_dir = true;
	else if (errno != EEXIST) {
		log_error_errno(negative_errno(), "creating %s: %m", SIM_RUN_DIR);
		return 1;
	}
	/* Per carrier a namespace, two veths and dnsmasq; the internet adds three more. */
	r = undo_init(&u, 4 * (size_t)n + 3 + 2);
	if (r < 0) {
		log_error_errno(r, "undo log: %m");
		goto fail;
	}
	host_nsfd = ns_open_current();
	if (host_nsfd < 0) {
		r = log_error_errno(host_nsfd, "opening the host namespace: %m");
		goto fail;
	}

	r = inet_ensure(&u);
	if (r < 0)
		goto fail;
	inet_nsfd = ns_open(SIM_INET_NS);
	if (inet_nsfd < 0) {
		r = log_error_errno(inet_nsfd, "opening %s: %m", SIM_INET_NS);
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		struct sim_carrier c;

		sim_carrier_init(&c, i);
		r = carrier_ensure(&c, inet_nsfd, host_nsfd, &u);
		if (r < 0)
			goto fail;
	}
	r = httpd_ensure(inet_nsfd, &u);
	if (r < 0)
		goto fail;
	if (qmi) {
		r = qmi_ensure(host_nsfd, n, &u);
		if (r < 0)
			goto fail;
		/* Modem i on hub port i+1 as /dev/cdc-wdmi: what a first enumeration gives. */
		for (int i = 0; i < n && r == 0; i++) {
			struct sim_carrier c;

			sim_carrier_init(&c, i);
			r = fakesys_plug(i, (unsigned)i + 1, (unsigned)i, c.host_if);
		}
		if (r < 0)
			goto fail;
	}
	r = state_write(n);
	if (r < 0) {
		log_error_errno(r, "writing %s: %m", SIM_STATE_FILE);
		goto fail;
	}
	log_info("up: %d fake modem%s (%s0..%s%d) in %lld ms; the internet is %s, see `cellmux-sim "
		 "status`",
		 n, n == 1 ? "" : "s", SIM_HOST_IF_PREFIX, SIM_HOST_IF_PREFIX, n - 1, now_ms() - t0,
		 SIM_INET_ADDR);
	undo_done(&u);
	return 0;

fail:
	if (u.n > 0)
		log_info("up failed; removing what this run created");
	undo_run(&u);
	undo_done(&u);
	if (made_dir) {
		/* Nothing else ran here before us, so whatever is inside is ours (logs, pid files).
		 */
		fakesys_remove();
		DIR *d = opendir(SIM_RUN_DIR);
		struct dirent *de;

		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		if (d)
			closedir(d);
		rmdir(SIM_RUN_DIR);
	}
	return 1;
}

static int stop_by_pidfiles(void)
{
	pid_t pids[SIM_MAX_MODEMS + 2];
	const char *comms[SIM_MAX_MODEMS + 2];
	DIR *d = opendir(SIM_RUN_DIR);
	struct dirent *de;
	size_t n = 0;
	int r;

	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	while ((de = readdir(d)) && n < ARRAY_SIZE(pids)) {
		char path[300];
		int i, end = 0;

		if (!strcmp(de->d_name, "httpd.pid"))
			comms[n] = SIM_HTTPD_COMM;
		else if (!strcmp(de->d_name, "qmi.pid"))
			comms[n] = SIM_QMI_COMM;
		else if (sscanf(de->d_name, "dns%d.pid%n", &i, &end) == 1 && end > 0 &&
			 !de->d_name[end])
			comms[n] = SIM_DNSMASQ_COMM;
		else
			continue;
		snprintf(path, sizeof(path), SIM_RUN_DIR "/%s", de->d_name);
		if (pidfile_read(path, &pids[n]) == 0)
			n++;
	}
	closedir(d);
	r = procs_stop(pids, comms, n);
	if (r < 0)
		return log_error_errno(r, "stopping the sim's daemons: %m");
	return 0;
}

/* A simwwan veth outlives its carrier only while something still holds that carrier's
 * namespace; deleting it by name wherever it sits takes the pair down now. */
static int delete_modems_in(int nsfd, const char *where)
{
	struct if_nameindex *ifs, *i;
	struct rtnl *nl;
	int saved, r;

	r = ns_enter(nsfd, &saved);
	if (r < 0)
		return r;
	ifs = if_nameindex(); /* a netlink dump of the namespace we are in */
	r = ifs ? 0 : negative_errno();
	if (ns_leave(saved) < 0)
		abort(); /* stuck in another namespace: nothing sensible can follow */
	if (r < 0)
		return r;
	r = rtnl_open(nsfd, &nl);
	if (r < 0)
		goto out;
	for (i = ifs; i->if_index; i++) {
		if (strncmp(i->if_name, SIM_HOST_IF_PREFIX, strlen(SIM_HOST_IF_PREFIX)))
			continue;
		r = link_delete(nl, (int)i->if_index);
		if (r < 0 && r != -ENODEV)
			log_warn_errno(r, "deleting %s in %s: %m", i->if_name, where);
		else
			log_debug("deleted %s in %s", i->if_name, where);
	}
	r = 0;
	rtnl_close(nl);
out:
	if_freenameindex(ifs);
	return r;
}

static int rm_run_dir(void)
{
	DIR *d = opendir(SIM_RUN_DIR);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    unlinkat(dirfd(d), de->d_name, 0) < 0)
			ret = negative_errno();
	closedir(d);
	if (rmdir(SIM_RUN_DIR) < 0 && ret == 0)
		ret = negative_errno();
	return ret;
}

/* The names of the sim's namespaces, NULL-terminated. */
static char **sim_namespaces(size_t *ret_n)
{
	DIR *d = opendir(NETNS_RUN_DIR);
	char **names = NULL, **grown;
	struct dirent *de;
	size_t n = 0;

	*ret_n = 0;
	names = calloc(1, sizeof(*names));
	while (names && d && (de = readdir(d))) {
		if (strncmp(de->d_name, SIM_NS_PREFIX, strlen(SIM_NS_PREFIX)))
			continue;
		grown = realloc(names, (n + 2) * sizeof(*names));
		if (!grown)
			break;
		names = grown;
		names[n] = strdup(de->d_name);
		if (names[n])
			names[++n] = NULL;
	}
	if (d)
		closedir(d);
	*ret_n = n;
	return names;
}

static bool host_has_modems(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	bool found = false;

	for (i = ifs; i && i->if_index && !found; i++)
		found = !strncmp(i->if_name, SIM_HOST_IF_PREFIX, strlen(SIM_HOST_IF_PREFIX));
	if (ifs)
		if_freenameindex(ifs);
	return found;
}

int cmd_down(int argc, char **argv)
{
	struct dirent *de;
	size_t n = 0;
	char **names;
	int ret = 0, r;
	DIR *d;

	if (argc > 1) {
		fprintf(stderr, "usage: cellmux-sim down\n");
		return SIM_EXIT_USAGE;
	}
	if (stop_by_pidfiles() < 0)
		ret = 1;
	names = sim_namespaces(&n);
	if (!names) {
		log_error("out of memory");
		return 1;
	}
	/* Daemons whose pid files are lost would keep their namespace, and its veths, alive. */
	if (ns_stop_daemons((const char *const *)names, n) < 0)
		ret = 1;
	for (size_t i = 0; i < n; i++) {
		r = ns_delete(names[i]);
		if (r < 0 && r != -ENOENT) {
			log_error_errno(r, "deleting namespace %s: %m", names[i]);
			ret = 1;
		}
		free(names[i]);
	}
	free(names);

	/* The kernel frees the unnamed namespaces, and every veth with an end in them, in one
	 * batch: far faster than deleting each veth (a grace period per link). Wait for that. */
	for (int t = 0; t < 3000 && n > 0 && host_has_modems(); t += 10)
		nanosleep(&(struct timespec){0, 10000000}, NULL);

	/* What is still there is held by someone else; delete it by name wherever it sits. */
	r = ns_open_current();
	if (r >= 0) {
		_cleanup_close_ int fd = r;

		if (delete_modems_in(fd, "the host namespace") < 0)
			ret = 1;
	}
	d = opendir(NETNS_RUN_DIR);
	while (d && (de = readdir(d))) {
		_cleanup_close_ int fd = -1;

		if (de->d_name[0] == '.')
			continue;
		fd = ns_open(de->d_name);
		if (fd >= 0 && (r = delete_modems_in(fd, de->d_name)) < 0)
			log_warn_errno(r, "looking for %s* in %s: %m", SIM_HOST_IF_PREFIX,
				       de->d_name);
	}
	if (d)
		closedir(d);

	r = fakesys_remove();
	if (r < 0)
		log_warn_errno(r, "removing %s: %m", SIM_SYS_DIR);
	r = rm_run_dir();
	if (r < 0) {
		log_error_errno(r, "removing %s: %m", SIM_RUN_DIR);
		ret = 1;
	}
	return ret;
}
