/* session.c — session supervision (see session.h): spawn into the uplink, watch the child and
 * the control socket, apply the restart policy with exponential backoff, stop on request. */
#include "daemon/session.h"

#include <errno.h>
#include <glib-unix.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/esource.h"
#include "common/log.h"
#include "common/macro.h"
#include "sandbox/cgroup.h"
#include "daemon/daemon.h"
#include "daemon/listener.h"
#include "daemon/state_blobs.h"
#include "proto/ctl.h"
#include "sandbox/adopt.h"
#include "sandbox/fs.h"
#include "sandbox/seccomp.h"
#include "sandbox/output.h"
#include "sandbox/spawn.h"
#include "netns/netns.h"
#include "netns/uplink.h"
#include "proto/worker_msg.h"

/* A worker that ran this long without failing has its backoff reset. */
#define SESSION_STABLE_US (10 * G_USEC_PER_SEC)
/* Grace between the Stop request/SIGTERM and SIGKILL of the whole cgroup. */
#define SESSION_STOP_GRACE_MS 5000
/* Messages read from a dead worker's socket; bounded, as its children may still hold it. */
#define SESSION_DRAIN_MAX 4096

const char *session_state_to_string(enum session_state st)
{
	switch (st) {
	case SESSION_RUNNING:
		return "running";
	case SESSION_BACKOFF:
		return "backoff";
	case SESSION_STOPPING:
		return "stopping";
	case SESSION_STOPPED:
		break;
	}
	return "stopped";
}

unsigned session_backoff_ms(unsigned first_ms, unsigned max_ms, unsigned failures)
{
	unsigned long long d = first_ms ? first_ms : 1;

	for (unsigned i = 1; i < failures && d < max_ms; i++)
		d *= 2;
	return d > max_ms ? max_ms : (unsigned)d;
}

/* A limit on a controller this host lacks would fail every start; say so once, at start-up. */
static int limits_supported(const struct daemon *d, const struct cfg_limits *l, const char *what)
{
	const struct cgroup_layout *cl = &d->cg_layout;
	const char *path = d->cfg->path;

	if (l->memory_line && l->memory_max != CONFIG_LIMIT_INFINITY && !cl->on_v2[CG_MEMORY] &&
	    !cl->v1_root[CG_MEMORY])
		return log_error_errno(-EOPNOTSUPP, "%s:%d: %s: memory_max= needs the memory cgroup "
				       "controller, which this host lacks (on a Raspberry Pi: add "
				       "cgroup_enable=memory to cmdline.txt)", path, l->memory_line, what);
	if (l->pids_line && l->pids_max != CONFIG_LIMIT_INFINITY && !cl->on_v2[CG_PIDS] &&
	    !cl->v1_root[CG_PIDS])
		return log_error_errno(-EOPNOTSUPP, "%s:%d: %s: pids_max= needs the pids cgroup "
				       "controller, which this host lacks", path, l->pids_line, what);
	if (l->cpu_line && !cl->on_v2[CG_CPU] && !cl->v1_root[CG_CPU])
		return log_error_errno(-EOPNOTSUPP, "%s:%d: %s: cpu_weight= needs the cpu cgroup "
				       "controller, which this host lacks", path, l->cpu_line, what);
	return 0;
}

/* ---- orphans: sessions a killed daemon left running ---- */

bool session_orphan_named(const struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_orphans; i++)
		if (!strcmp(d->orphans[i].name, name))
			return true;
	return false;
}

static bool orphan_kept(const char *name, void *arg)
{
	return session_orphan_named(arg, name);
}

static void cgroup_empty_remove(const char *dir)
{
	for (int i = 0; i < 400 && cgroup_populated(dir); i++) {
		cgroup_kill(dir);
		usleep(5000);
	}
	if (cgroup_remove(dir) < 0 && errno != ENOENT)
		log_warn("removing cgroup %s: %m", dir);
}

int session_orphans_scan(struct daemon *d)
{
	DIR *dir = opendir(d->cgroup_root);
	struct dirent *de;

	if (!dir)
		return errno == ENOENT ? 0 : negative_errno();
	while ((de = readdir(dir))) {
		char path[PATH_MAX + CONFIG_NAME_MAX + 2];
		struct session_orphan *n;
		pid_t pid;

		if (de->d_type != DT_DIR || de->d_name[0] == '.' ||
		    strlen(de->d_name) > CONFIG_NAME_MAX)
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->cgroup_root, de->d_name);
		if (adopt_find_init(path, &pid) < 0) {
			/* No init: whatever is left there is nobody's. */
			cgroup_empty_remove(path);
			continue;
		}
		n = realloc(d->orphans, (d->n_orphans + 1) * sizeof(*n));
		if (!n) {
			closedir(dir);
			return -ENOMEM;
		}
		d->orphans = n;
		n = &d->orphans[d->n_orphans++];
		*n = (struct session_orphan){ .pid = pid };
		snprintf(n->name, sizeof(n->name), "%s", de->d_name);
	}
	closedir(dir);
	if (d->n_orphans)
		log_info("%zu session(s) outlived the previous daemon", d->n_orphans);
	return 0;
}

void session_orphans_reap(struct daemon *d)
{
	for (size_t i = 0; i < d->n_orphans; i++) {
		char path[PATH_MAX + CONFIG_NAME_MAX + 2];

		if (d->orphans[i].claimed)
			continue;
		log_info("session %s: outlived the previous daemon but is not one of this one's, "
			 "stopping it", d->orphans[i].name);
		snprintf(path, sizeof(path), "%s/%s", d->cgroup_root, d->orphans[i].name);
		cgroup_empty_remove(path);
		cgroup_layout_remove_session(&d->cg_layout, d->orphans[i].name);
	}
	free(d->orphans);
	d->orphans = NULL;
	d->n_orphans = 0;
}

/* A worker is born in its v2 cgroup (CLONE_INTO_CGROUP), but a v1 hierarchy it can only join
 * by migration, and every migration waits for an RCU grace period unless favordynmods is set. */
static void favor_dynmods(struct daemon *d)
{
	bool v1 = false;
	int r;

	for (int i = 0; i < CG_N; i++)
		v1 |= d->cg_layout.v1_root[i] != NULL;
	if (!v1)
		return;
	if (!d->cfg->daemon.favor_dynmods) {
		log_info("cgroup controllers on v1: a session with a limit on one waits an RCU grace "
			 "period to join it (cgroup_favor_dynmods=yes removes the wait)");
		return;
	}
	r = cgroup_favor_dynmods();
	if (r < 0)
		log_warn("cannot set favordynmods on the cgroup2 mount: %s", strerror(-r));
	else if (r > 0)
		log_info("favordynmods set on the cgroup2 mount: joining v1 cgroups no longer waits "
			 "for an RCU grace period");
}

int session_sandbox_open(struct daemon *d)
{
	const struct cmx_config *c = d->cfg;
	const char *sock = c->daemon.ctl_socket[0] ? c->daemon.ctl_socket : CTL_SOCKET_PATH;
	const char *slash = strrchr(sock, '/');
	int r;

	r = cgroup_layout_prepare(d->cgroup_root, &d->cg_layout);
	if (r < 0)
		return log_error_errno(r, "finding cgroup controllers for %s: %m", d->cgroup_root);
	for (int i = 0; i < CG_N; i++)
		log_debug("cgroup controller %s: %s", cgroup_controller_name(i),
			  d->cg_layout.on_v2[i] ? "v2" : d->cg_layout.v1_root[i] ? d->cg_layout.v1_root[i]
										 : "absent");
	/* Without a pids controller the default pids_max is not enforced: say it. */
	if (!d->cg_layout.on_v2[CG_PIDS] && !d->cg_layout.v1_root[CG_PIDS])
		log_warn("no pids cgroup controller: sessions run without a task limit");
	favor_dynmods(d);
	cgroup_layout_reap(&d->cg_layout, orphan_kept, d);
	for (size_t i = 0; i < c->n_profiles; i++)
		if ((r = limits_supported(d, &c->profiles[i].limits, c->profiles[i].name)) < 0)
			return r;
	for (size_t i = 0; i < c->n_sessions; i++)
		if ((r = limits_supported(d, &c->sessions[i].limits, c->sessions[i].name)) < 0)
			return r;
	r = sandbox_seccomp_build(&d->seccomp);
	if (r < 0)
		return log_error_errno(r, "building the session seccomp filter: %m");
	char init_path[PATH_MAX];
	d->init_fd = spawn_init_open(init_path, sizeof(init_path));
	if (d->init_fd < 0)
		log_warn("no %s: each session's init will be a copy of cellmuxd (its memory, ~300 kB "
			 "a session, and a slower start)", init_path);
	else
		log_debug("session init: %s", init_path);
	if (asprintf(&d->state_root, "%s/sessions", c->daemon.state_dir) < 0 ||
	    asprintf(&d->runtime_root, "%.*s/sessions", (int)(slash ? slash - sock : 0), sock) < 0)
		return log_error_errno(-ENOMEM, "out of memory");
	/* Only root walks these: each session's own directory is bound into its sandbox. */
	if (mkdir(c->daemon.state_dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(negative_errno(), "creating %s: %m", c->daemon.state_dir);
	/* The one read of the state root: from here on the daemon keeps its owners. */
	if ((r = identity_owners_load(&d->state_owners, d->state_root)) < 0)
		return log_error_errno(r, "reading %s: %m", d->state_root);
	if (slash && slash != sock) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - sock), sock);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return log_error_errno(negative_errno(), "creating %s: %m", dir);
	}
	return 0;
}

void session_sandbox_close(struct daemon *d)
{
	cgroup_layout_clear(&d->cg_layout);
	sandbox_seccomp_free(&d->seccomp);
	identity_owners_free(&d->state_owners);
	if (d->init_fd >= 0)
		close(d->init_fd);
	d->init_fd = -1;
	if (d->runtime_root)
		rmdir(d->runtime_root);
	free(d->state_root);
	free(d->runtime_root);
	d->state_root = d->runtime_root = NULL;
}

int session_new(struct daemon *d, const char *name, const struct cfg_profile *profile,
		struct dm_uplink *uplink, struct session **ret)
{
	struct session *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->profile = profile;
	s->uplink = uplink;
	s->ctl_fd = -1;
	s->out_fd = -1;
	s->pidfd = -1;
	s->status_fd = -1;
	r = cgroup_create(d->cgroup_root, name, s->cgroup, sizeof(s->cgroup));
	if (r < 0) {
		free(s);
		return r;
	}
	uplink->n_sessions++;
	*ret = s;
	return 0;
}

static void ctl_close(struct session *s)
{
	esource_remove(s->d->esrc, s->ctl_watch);
	s->ctl_watch = NULL;
	if (s->ctl_fd >= 0)
		close(s->ctl_fd);
	s->ctl_fd = -1;
}

static void timer_clear(struct session *s)
{
	if (s->timer)
		g_source_remove(s->timer);
	s->timer = 0;
}

/* Replaces the last one whole: fields of an older Status never mix into a newer one. */
static void status_store(struct session *s, const Cellmux__Worker__Status *st)
{
	worker_status_copy(&s->status.w, st);
	s->status.at_us = g_get_real_time();
	s->have_status = true;
	log_info("session %s (uplink %s): status %s%s%s", s->name, s->uplink->cfg->p.name,
		 s->status.w.state, s->status.w.message[0] ? ": " : "", s->status.w.message);
}

static void welcome(struct session *s)
{
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__Welcome w = CELLMUX__WORKER__WELCOME__INIT;
	int r;

	w.session = s->name;
	w.uplink = (char *)s->uplink->cfg->p.name;
	w.incarnation = s->incarnation;
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME;
	m.welcome = &w;
	r = worker_msg_send(s->ctl_fd, &m.base);
	if (r < 0)
		log_warn_errno(r, "session %s: sending welcome: %m", s->name);
	/* Deliveries waiting for this session go to the process that just said hello (or was
	 * just adopted: what the previous daemon sent it unconfirmed comes again). */
	s->d->session_ops->hello(s);
}

static void hello(struct session *s, const Cellmux__Worker__Hello *h)
{
	log_info("session %s: worker %s %s says hello", s->name, h->worker, h->version);
	welcome(s);
}

/* max: messages to take; bounded per wakeup so one chatty worker cannot starve the loop. */
static gboolean ctl_read(struct session *s, int fd, int max)
{
	for (int i = 0; i < max; i++) {
		Cellmux__Worker__WorkerMessage *m = NULL;
		const char *why = NULL;
		int r = worker_msg_recv_worker(fd, &m, &why);

		if (r == -EAGAIN)
			return G_SOURCE_CONTINUE;
		if (r == -ECONNRESET)
			return G_SOURCE_REMOVE;
		if (r < 0) {
			s->protocol_errors++;
			if (why)
				log_warn("session %s: bad message from worker, ignored: %s", s->name,
					 why);
			else
				log_warn_errno(r, "session %s: bad message from worker: %m", s->name);
			continue;
		}
		if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO)
			hello(s, m->hello);
		else if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATUS)
			status_store(s, m->status);
		else if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_EVENT)
			s->d->session_ops->event(s, m->event);
		else if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_ACK)
			s->d->session_ops->ack(s, m->ack);
		else if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_PUT)
			state_blobs_put(s, m->state_put);
		else if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_GET)
			state_blobs_get(s);
		worker_msg_free_worker(m);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean ctl_readable(int fd, uint32_t revents, void *data)
{
	struct session *s = data;

	if (ctl_read(s, fd, 64) == G_SOURCE_REMOVE)
		ctl_close(s); /* the watch goes with it */
	return G_SOURCE_CONTINUE;
}

static gboolean restart_due(gpointer data)
{
	struct session *s = data;

	s->timer = 0;
	s->restarts++;
	session_start(s);
	return G_SOURCE_REMOVE;
}

static void runtime_dir_remove(struct session *s);

/* ---- the worker's output: one pipe for stdout and stderr, logged line by line ---- */

static void output_emit(void *arg, int stream, const char *line)
{
	struct session *s = arg;

	/* The prefix is the daemon's: a worker's text is escaped and can never start a line. */
	if (stream == OUTPUT_NOTICE)
		log_warn("session %s: %s", s->name, line);
	else
		log_info("session %s: %s", s->name, line);
}

static gboolean output_notice_timer(gpointer data)
{
	struct session *s = data;

	s->out_timer = 0;
	output_tick(s->out, g_get_monotonic_time());
	return G_SOURCE_REMOVE;
}

static void output_arm(struct session *s)
{
	int64_t due = output_notice_due(s->out), now = g_get_monotonic_time();

	if (due < 0 || s->out_timer)
		return;
	s->out_timer = g_timeout_add((guint)(due > now ? (due - now) / 1000 + 1 : 1),
				     output_notice_timer, s);
}

static void output_close(struct session *s)
{
	esource_remove(s->d->esrc, s->out_watch);
	s->out_watch = NULL;
	if (s->out_fd >= 0) {
		output_flush(s->out, OUTPUT_STDOUT, g_get_monotonic_time());
		close(s->out_fd);
	}
	s->out_fd = -1;
}

static gboolean output_readable(int fd, uint32_t revents, void *data)
{
	struct session *s = data;
	char buf[4096];

	/* Bounded per wake-up: a worker that writes without pause cannot hold the loop. */
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			output_feed(s->out, OUTPUT_STDOUT, buf, (size_t)n, g_get_monotonic_time());
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		/* EOF: every writer (the worker and whatever it forked) is gone. */
		output_close(s);
		return G_SOURCE_CONTINUE; /* the watch went with it */
	}
	output_arm(s);
	return G_SOURCE_CONTINUE;
}

/* The worker is gone (or never started): decide between restart and stopped. */
static void worker_gone(struct session *s, bool failed)
{
	const struct cfg_profile *p = s->profile;
	bool restart;

	/* What the worker sent before it died still counts (an ack it sent must not make its
	 * successor get that delivery again): the exit may be seen before the socket is read. */
	if (s->ctl_fd >= 0)
		ctl_read(s, s->ctl_fd, SESSION_DRAIN_MAX);
	ctl_close(s);
	/* The worker's own children die with it: a session is its cgroup. */
	if (cgroup_populated(s->cgroup))
		cgroup_kill(s->cgroup);
	s->pid = 0;
	cgroup_session_usage_close(&s->cg);
	runtime_dir_remove(s);
	if (s->state == SESSION_STOPPING || s->d->stopping) {
		timer_clear(s);
		s->state = SESSION_STOPPED;
		s->d->session_ops->stopped(s);
		return;
	}
	if (g_get_monotonic_time() - s->started_us >= SESSION_STABLE_US)
		s->failures = 0;
	restart = p->restart == RESTART_ALWAYS || (p->restart == RESTART_ON_FAILURE && failed);
	if (!restart) {
		s->state = SESSION_STOPPED;
		log_info("session %s: worker finished, not restarting (restart=%s)", s->name,
			 restart_policy_to_string(p->restart));
		s->d->session_ops->stopped(s);
		return;
	}
	s->failures++;
	unsigned delay = session_backoff_ms(p->restart_sec_ms, p->restart_max_ms, s->failures);
	s->state = SESSION_BACKOFF;
	log_info("session %s: restarting in %u ms (failure %u in a row)", s->name, delay,
		 s->failures);
	s->timer = g_timeout_add(delay, restart_due, s);
}

static void runtime_dir_remove(struct session *s)
{
	if (!s->runtime_dir)
		return;
	if (identity_dir_remove(s->runtime_dir) < 0)
		log_warn("session %s: removing %s: %m", s->name, s->runtime_dir);
	free(s->runtime_dir);
	s->runtime_dir = NULL;
}

static void pid_close(struct session *s)
{
	esource_remove(s->d->esrc, s->pid_watch);
	s->pid_watch = NULL;
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (s->status_fd >= 0)
		close(s->status_fd);
	s->pidfd = s->status_fd = -1;
}

static int pid_signal(struct session *s, int sig)
{
	/* The pidfd, not the number: an adopted init is not our child, and once its parent
	 * reaps it the number may be someone else's. */
	if (s->pidfd >= 0)
		return syscall(SYS_pidfd_send_signal, s->pidfd, sig, NULL, 0) < 0 ? negative_errno() : 0;
	return s->pid > 0 && kill(s->pid, sig) < 0 ? negative_errno() : 0;
}

/* known: false when nobody could say how it ended (an adopted init that died while no daemon
 * held its status pipe); that counts as a failure for the restart policy. */
static void worker_exited(struct session *s, int status, bool known)
{
	pid_t pid = s->pid;
	bool failed;

	/* The kernel's count, not a guess from the exit status: the OOM killer's SIGKILL looks
	 * like any other. */
	struct cgroup_usage use;
	if (cgroup_session_usage(&s->d->cg_layout, s->cgroup, &s->cg, false, &use) == 0 &&
	    use.oom_kills > s->oom_kills) {
		log_warn("session %s: out of memory: the kernel killed %llu process(es) at "
			 "memory_max", s->name, (unsigned long long)(use.oom_kills - s->oom_kills));
		s->oom_kills = use.oom_kills;
	}
	if (!known) {
		failed = true;
		log_info("session %s: worker %d is gone, how it ended is unknown", s->name, (int)pid);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) > SPAWN_SIGNAL_EXIT_BASE) {
		failed = true;
		log_info("session %s: worker %d killed by signal %s", s->name, (int)pid,
			 strsignal(WEXITSTATUS(status) - SPAWN_SIGNAL_EXIT_BASE));
	} else if (WIFEXITED(status)) {
		failed = WEXITSTATUS(status) != 0;
		log_info("session %s: worker %d exited with status %d", s->name, (int)pid,
			 WEXITSTATUS(status));
	} else {
		failed = true;
		log_info("session %s: worker %d killed by signal %s", s->name, (int)pid,
			 strsignal(WTERMSIG(status)));
	}
	worker_gone(s, failed);
}

static gboolean pid_readable(int fd, uint32_t revents, void *data)
{
	struct session *s = data;
	int status = 0;
	bool known = false;

	if (adopt_exit_status(s->pidfd, s->status_fd, &status, &known) == -EAGAIN)
		return G_SOURCE_CONTINUE;
	pid_close(s);
	worker_exited(s, status, known);
	return G_SOURCE_CONTINUE;
}

static int pid_watch(struct session *s, int pidfd, int status_fd)
{
	s->pidfd = pidfd;
	s->status_fd = status_fd;
	if (status_fd >= 0)
		fcntl(status_fd, F_SETFL, O_NONBLOCK);
	return esource_add(s->d->esrc, pidfd, EPOLLIN, pid_readable, s, &s->pid_watch);
}

/* Whether uid is the dynamic uid of another session that exists now. */
static bool uid_taken(uid_t uid, void *arg)
{
	struct session *self = arg;
	struct daemon *d = self->d;

	for (size_t i = 0; i < d->n_sessions; i++)
		if (d->sessions[i] != self && d->sessions[i]->id.dynamic &&
		    d->sessions[i]->id.uid == uid)
			return true;
	return false;
}

static int identity_resolve(struct session *s)
{
	const struct cfg_daemon *cd = &s->d->cfg->daemon;

	if (s->profile->user[0])
		return identity_of_user(s->profile->user, &s->id);
	return identity_dynamic(s->d->state_root, s->name, cd->uid_min, cd->uid_max,
				&s->d->state_owners, uid_taken, s, &s->id);
}

/* The session's state directory, and its owner in the index identity_dynamic() reads. */
static int state_dir_make(struct session *s, char *dir, size_t len)
{
	int r = identity_dir(s->d->state_root, s->name, &s->id, dir, len);

	return r < 0 ? r : identity_owners_add(&s->d->state_owners, s->id.uid);
}

/* Files of the daemon's a worker must not read even where the system trees are visible. */
static int plan_masks(struct session *s, struct fs_plan *fs)
{
	const struct cmx_config *c = s->d->cfg;
	const char *paths[] = { "/etc/cellmux", c->path, c->daemon.state_dir, c->backend.token_file,
				c->backend.key, c->daemon.ctl_socket };
	int r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(paths) && r >= 0; i++) {
		char real[PATH_MAX];

		if (!paths[i] || !paths[i][0] || !realpath(paths[i], real) || !fs_plan_covers(real))
			continue;
		r = fs_plan_add(fs, FS_MASK, NULL, real, 0);
	}
	return r;
}

/* The session's private root: the system trees, its resolv.conf, state and runtime
 * directories, its executable, and masks over the daemon's own files. */
static int plan_fs(struct session *s, const char *resolv, struct fs_plan **ret)
{
	struct fs_plan *fs = NULL;
	char real[PATH_MAX];
	int r;

	r = fs_plan_new(&fs);
	if (r >= 0)
		r = fs_plan_system(fs);
	if (r >= 0)
		r = plan_masks(s, fs);
	/* /etc/resolv.conf is often a symlink (into /run for systemd-resolved): bind where it
	 * points, inside the new root, so the link a resolver follows lands on ours. */
	if (r >= 0)
		r = fs_plan_add(fs, FS_BIND_RO, resolv,
				realpath("/etc/resolv.conf", real) ? real : "/etc/resolv.conf", 0);
	for (char **b = s->profile->bind_ro; r >= 0 && b && *b; b++)
		r = fs_plan_add(fs, FS_BIND_RO, *b, *b, 0);
	for (char **b = s->profile->bind_rw; r >= 0 && b && *b; b++)
		r = fs_plan_add(fs, FS_BIND_RW, *b, *b, 0);
	if (r >= 0)
		r = fs_plan_add(fs, FS_BIND_RW, s->state_dir, s->state_dir, 0);
	if (r >= 0)
		r = fs_plan_add(fs, FS_BIND_RW, s->runtime_dir, s->runtime_dir, 0);
	/* An executable outside the system trees is bound alone, read-only, at the path exec=
	 * names: its directory's other files stay out of reach. */
	if (r >= 0 && !fs_plan_covers(s->profile->argv[0]) &&
	    !(realpath(s->profile->argv[0], real) && fs_plan_covers(real)))
		r = fs_plan_add(fs, FS_BIND_RO, s->profile->argv[0], s->profile->argv[0], 0);
	if (r < 0) {
		fs_plan_free(fs);
		return r;
	}
	*ret = fs;
	return 0;
}

static struct cgroup_limits session_limits(const struct session *s)
{
	const struct cmx_config *c = s->d->cfg;
	int i = s->from_config ? config_find_session(c, s->name) : -1;
	struct cfg_limits l = config_session_limits(s->profile, i >= 0 ? &c->sessions[i] : NULL);

	return (struct cgroup_limits){ .memory_max = l.memory_max,
				       .pids_max = l.pids_max,
				       .cpu_weight = l.cpu_weight };
}

/* Bound once per session, before its first worker and whether or not its uplink is up yet:
 * clients' connections queue in the backlog until a worker accepts them. */
static int session_listen(struct session *s, char *step, size_t steplen)
{
	const struct cmx_config *c = s->d->cfg;
	int i = s->from_config ? config_find_session(c, s->name) : -1;
	size_t failed = 0;
	char what[160];
	int r;

	s->listen = *config_session_listens(s->profile, i >= 0 ? &c->sessions[i] : NULL);
	r = listener_bind_all(&s->listen, s->listen_fds, &failed);
	if (r < 0) {
		config_listen_format(&s->listen.v[failed], what, sizeof(what));
		snprintf(step, steplen, "listen on %s", what);
		s->listen.n = 0;
		return r;
	}
	s->listen_ready = true;
	return 0;
}

static struct session_orphan *orphan_take(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_orphans; i++)
		if (!d->orphans[i].claimed && !strcmp(d->orphans[i].name, name)) {
			d->orphans[i].claimed = true;
			return &d->orphans[i];
		}
	return NULL;
}

static bool same_netns(pid_t pid, int nsfd)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	return nsfd >= 0 && stat(path, &a) == 0 && fstat(nsfd, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

static void welcome(struct session *s);

/* The worker a killed daemon left in this session's cgroup, taken over as it runs: its init
 * hands back the daemon's ends of the control socket and the output pipe (sandbox/adopt.h),
 * it keeps its pid, incarnation, uid and directories. 0: adopted. Otherwise the orphan (if
 * any) is gone when this returns and the caller starts a new worker. */
static int session_adopt(struct session *s)
{
	struct session_orphan *o = orphan_take(s->d, s->name);
	struct adopted a = { .pidfd = -1, .ctl_fd = -1, .out_fd = -1, .status_fd = -1 };
	const char *why = NULL;
	char dir[PATH_MAX];
	int r;

	if (!o)
		return -ENOENT;
	r = adopt_take(s->cgroup, o->pid, &a);
	if (r < 0)
		why = "its init cannot be taken over";
	else if (!s->uplink->u || !same_netns(o->pid, uplink_nsfd(s->uplink->u)))
		why = "it runs in another namespace than its uplink's now", r = -ESTALE;
	if (!why && !s->cg_ready) {
		struct cgroup_limits lim = session_limits(s);

		if ((r = cgroup_session_setup(&s->d->cg_layout, s->cgroup, s->name, &lim, &s->cg)) < 0)
			why = "its limits cannot be set";
		s->cg_ready = r >= 0;
	}
	if (!why && (r = identity_resolve(s)) < 0)
		why = "its identity cannot be resolved";
	if (!why && (r = state_dir_make(s, dir, sizeof(dir))) >= 0) {
		free(s->state_dir);
		s->state_dir = strdup(dir);
		r = identity_dir(s->d->runtime_root, s->name, &s->id, dir, sizeof(dir));
		if (r >= 0) {
			free(s->runtime_dir);
			s->runtime_dir = strdup(dir);
		}
		if (r >= 0 && (!s->state_dir || !s->runtime_dir))
			r = -ENOMEM;
	}
	if (!why && r < 0)
		why = "its directories are not right";
	if (!why && (r = s->d->session_ops->adopting(s)) < 0)
		why = "its incarnation cannot be read";
	if (!why && !s->out) {
		struct output_limits lim = OUTPUT_DEFAULT_LIMITS;

		lim.burst = s->profile->log_burst;
		lim.interval_ms = s->profile->log_burst ? s->profile->log_interval_ms : 0;
		if ((r = output_new(&lim, output_emit, s, &s->out)) < 0)
			why = "no memory for its output";
	}
	if (why) {
		log_warn_errno(r, "session %s: worker %d outlived the previous daemon, but %s "
			       "(%m): starting a new one", s->name, (int)o->pid, why);
		adopt_close(&a);
		/* The cgroup is the session's: empty it for the new worker. */
		for (int i = 0; i < 400 && cgroup_populated(s->cgroup); i++) {
			cgroup_kill(s->cgroup);
			g_usleep(5000);
		}
		return r < 0 ? r : -ESTALE;
	}
	s->pid = o->pid;
	s->ctl_fd = a.ctl_fd;
	s->out_fd = a.out_fd;
	g_unix_set_fd_nonblocking(s->ctl_fd, TRUE, NULL);
	g_unix_set_fd_nonblocking(s->out_fd, TRUE, NULL);
	if (pid_watch(s, a.pidfd, a.status_fd) < 0 ||
	    esource_add(s->d->esrc, s->out_fd, EPOLLIN, output_readable, s, &s->out_watch) < 0 ||
	    esource_add(s->d->esrc, s->ctl_fd, EPOLLIN, ctl_readable, s, &s->ctl_watch) < 0)
		log_warn("session %s: cannot watch the adopted worker's descriptors", s->name);
	s->state = SESSION_RUNNING;
	s->parked = false;
	s->adopted = true;
	s->started_us = g_get_monotonic_time();
	s->d->adopted++;
	log_info("session %s: worker %d outlived the previous daemon, adopted on uplink %s "
		 "(incarnation %llu, uid %u)", s->name, (int)s->pid, s->uplink->cfg->p.name,
		 (unsigned long long)s->incarnation, (unsigned)s->id.uid);
	/* Unasked: the worker learns its daemon changed, and resends what was not acked. */
	welcome(s);
	return 0;
}

int session_start(struct session *s)
{
	const struct cfg_profile *p = s->profile;
	const struct uplink_params *up = &s->uplink->cfg->p;
	char env_fd[32], env_session[64], env_uplink[64], env_state[PATH_MAX + 32],
		env_runtime[PATH_MAX + 32], env_home[PATH_MAX + 8], env_user[64];
	char resolv[4096], ns[64], dir[PATH_MAX], listen_step[200];
	char env_lfds[32], env_lpid[32], env_lnames[16 + CONFIG_LISTEN_MAX * 16];
	struct fs_plan *fs = NULL;
	struct spawn_result res = { 0 };
	const char *step = NULL;
	int sv[2] = { -1, -1 }, out[2] = { -1, -1 }, r;

	timer_clear(s);
	if (!s->adopt_checked) {
		s->adopt_checked = true;
		if (session_adopt(s) == 0)
			return 0;
	}
	if (!s->listen_ready && (r = session_listen(s, listen_step, sizeof(listen_step))) < 0) {
		step = listen_step;
		goto fail;
	}
	if (!s->uplink->u || !uplink_connected(s->uplink->u)) {
		/* Not a failure of the worker: it waits for its uplink instead of burning restarts. */
		s->parked = true;
		s->state = SESSION_STOPPED;
		log_info("session %s: uplink %s is not connected, waiting for it", s->name,
			 s->uplink->cfg->p.name);
		return -ENETDOWN;
	}
	s->parked = false;
	if (!s->cg_ready) {
		struct cgroup_limits lim = session_limits(s);

		r = cgroup_session_setup(&s->d->cg_layout, s->cgroup, s->name, &lim, &s->cg);
		if (r < 0) {
			step = r == -EOPNOTSUPP ? "set limits (a controller this host lacks)"
						: "set limits";
			goto fail;
		}
		s->cg_ready = true;
	}
	r = identity_resolve(s);
	if (r < 0) {
		step = p->user[0] ? "look up user" : "allocate a uid";
		goto fail;
	}
	if ((r = state_dir_make(s, dir, sizeof(dir))) < 0) {
		step = "state directory";
		goto fail;
	}
	free(s->state_dir);
	s->state_dir = strdup(dir);
	if ((r = identity_dir(s->d->runtime_root, s->name, &s->id, dir, sizeof(dir))) < 0) {
		step = "runtime directory";
		goto fail;
	}
	free(s->runtime_dir);
	s->runtime_dir = strdup(dir);
	if (!s->state_dir || !s->runtime_dir) {
		r = -ENOMEM;
		step = "directories";
		goto fail;
	}
	r = s->d->session_ops->spawning(s);
	if (r < 0) {
		step = "record incarnation";
		goto fail;
	}
	uplink_ns_name_of(up->name, ns, sizeof(ns));
	resolv_path(ns, resolv, sizeof(resolv));
	if ((r = plan_fs(s, resolv, &fs)) < 0) {
		step = "plan the filesystem";
		goto fail;
	}
	/* SOCK_SEQPACKET: message boundaries for free, and EOF when either side goes away. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0) {
		r = negative_errno();
		step = "control socket and output pipe";
		goto fail;
	}
	if (!s->out) {
		struct output_limits lim = OUTPUT_DEFAULT_LIMITS;

		lim.burst = p->log_burst;
		lim.interval_ms = p->log_burst ? p->log_interval_ms : 0;

		if ((r = output_new(&lim, output_emit, s, &s->out)) < 0) {
			step = "output";
			goto fail;
		}
	}
	snprintf(env_fd, sizeof(env_fd), WORKER_ENV_CONTROL_FD "=%d",
		 spawn_control_fd(s->listen.n));
	/* systemd's sd_listen_fds(3) variables; the pid is the worker's in its PID namespace. */
	snprintf(env_lfds, sizeof(env_lfds), "LISTEN_FDS=%zu", s->listen.n);
	snprintf(env_lpid, sizeof(env_lpid), "LISTEN_PID=%d", SPAWN_WORKER_PID);
	size_t off = (size_t)snprintf(env_lnames, sizeof(env_lnames), "LISTEN_FDNAMES=");
	for (size_t i = 0; i < s->listen.n && off < sizeof(env_lnames); i++) {
		if (i)
			env_lnames[off++] = ':';
		listener_fdname(&s->listen.v[i], env_lnames + off, sizeof(env_lnames) - off);
		off += strlen(env_lnames + off);
	}
	snprintf(env_session, sizeof(env_session), WORKER_ENV_SESSION "=%s", s->name);
	snprintf(env_uplink, sizeof(env_uplink), WORKER_ENV_UPLINK "=%s", up->name);
	snprintf(env_state, sizeof(env_state), "CELLMUX_STATE_DIRECTORY=%s", s->state_dir);
	snprintf(env_runtime, sizeof(env_runtime), "CELLMUX_RUNTIME_DIRECTORY=%s", s->runtime_dir);
	/* A dynamic uid has no passwd entry: its home is its state directory. */
	snprintf(env_home, sizeof(env_home), "HOME=%s", s->state_dir);
	snprintf(env_user, sizeof(env_user), "USER=%s", p->user[0] ? p->user : s->name);
	char *envp[] = { env_fd, env_session, env_uplink, env_state, env_runtime, env_home, env_user,
			 "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", NULL, NULL, NULL,
			 NULL };
	if (s->listen.n) {
		size_t e = ARRAY_SIZE(envp) - 4;

		envp[e++] = env_lfds;
		envp[e++] = env_lpid;
		envp[e++] = env_lnames;
	}
	struct spawn_params sp = {
		.argv = p->argv,
		.envp = envp,
		.nsfd = uplink_nsfd(s->uplink->u),
		.cgroup = s->cgroup,
		.v1_procs = (const char *const *)s->cg.v1_procs,
		.fs = fs,
		.listen_fds = s->listen_fds,
		.n_listen = s->listen.n,
		.control_fd = sv[1],
		.hold_fds = { sv[0], out[0] },
		.stdout_fd = out[1],
		.stderr_fd = -1,
		.uid = s->id.uid,
		.gid = s->id.gid,
		.groups = s->id.groups,
		.n_groups = s->id.n_groups,
		.seccomp = &s->d->seccomp,
		.init_fd = s->d->init_fd,
	};
	s->started_us = g_get_monotonic_time();
	r = spawn_worker(&sp, &res);
	log_debug("session %s: spawn took %lld us", s->name,
		  (long long)(g_get_monotonic_time() - s->started_us));
	close(sv[1]);
	close(out[1]);
	sv[1] = out[1] = -1;
	if (res.pid > 0) {
		int pfd = res.pidfd >= 0 ? res.pidfd : (int)syscall(SYS_pidfd_open, res.pid, 0);

		s->pid = res.pid;
		if (pfd < 0 || pid_watch(s, pfd, res.status_fd) < 0)
			log_error("session %s: cannot watch worker %d: %m", s->name, (int)res.pid);
	}
	/* The output is read even when the start failed: the worker's init may have said why. */
	s->out_fd = out[0];
	out[0] = -1;
	g_unix_set_fd_nonblocking(s->out_fd, TRUE, NULL);
	if (esource_add(s->d->esrc, s->out_fd, EPOLLIN, output_readable, s, &s->out_watch) < 0)
		log_warn("session %s: cannot watch the worker's output", s->name);
	if (r < 0 && res.pid <= 0) {
		step = res.step ? res.step : "clone";
		goto fail;
	}
	if (r < 0) {
		close(sv[0]);
		/* The child exits 127; its watch sees a failure and applies the policy. */
		s->pid = res.pid;
		s->state = SESSION_RUNNING;
		fs_plan_free(fs);
		return log_error_errno(r, "session %s: %s%s%s for %s: %m", s->name, res.step,
				       res.detail ? " " : "", res.detail ? res.detail : "",
				       p->argv[0]);
	}
	fs_plan_free(fs);
	s->pid = res.pid;
	s->ctl_fd = sv[0];
	g_unix_set_fd_nonblocking(s->ctl_fd, TRUE, NULL);
	r = esource_add(s->d->esrc, s->ctl_fd, EPOLLIN, ctl_readable, s, &s->ctl_watch);
	if (r < 0)
		log_warn_errno(r, "session %s: cannot watch the control socket: %m", s->name);
	s->state = SESSION_RUNNING;
	log_info("session %s: worker %d started on uplink %s (profile %s, uid %u%s)", s->name,
		 (int)res.pid, up->name, p->name, (unsigned)s->id.uid,
		 s->id.dynamic ? ", dynamic" : "");
	return 0;
fail:
	fs_plan_free(fs);
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	log_error_errno(r, "session %s: %s: %m", s->name, step);
	s->state = SESSION_RUNNING;
	worker_gone(s, true);
	return r;
}

static gboolean stop_grace_over(gpointer data)
{
	struct session *s = data;

	s->timer = 0;
	log_warn("session %s: worker %d did not stop in time, killing its cgroup", s->name,
		 (int)s->pid);
	cgroup_kill(s->cgroup);
	return G_SOURCE_REMOVE;
}

void session_stop(struct session *s)
{
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__Stop st = CELLMUX__WORKER__STOP__INIT;

	timer_clear(s);
	if (s->state != SESSION_RUNNING) {
		/* Nothing runs: a pending restart is simply cancelled. */
		if (s->state == SESSION_BACKOFF) {
			s->state = SESSION_STOPPED;
			s->d->session_ops->stopped(s);
		}
		return;
	}
	s->state = SESSION_STOPPING;
	if (s->ctl_fd >= 0) {
		m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STOP;
		m.stop = &st;
		worker_msg_send(s->ctl_fd, &m.base);
	}
	if (s->pid > 0)
		pid_signal(s, SIGTERM);
	s->timer = g_timeout_add(SESSION_STOP_GRACE_MS, stop_grace_over, s);
}

void session_kill(struct session *s)
{
	if (s->pid > 0)
		cgroup_kill(s->cgroup);
}

void session_free(struct session *s)
{
	if (!s)
		return;
	if (s->on_gone)
		s->on_gone(s->on_gone_arg);
	timer_clear(s);
	ctl_close(s);
	pid_close(s);
	/* The directory empties asynchronously after a kill, and a child forked meanwhile
	 * needs its own signal: kill and wait, bounded. */
	for (int i = 0; i < 400 && cgroup_populated(s->cgroup); i++) {
		cgroup_kill(s->cgroup);
		g_usleep(5000);
	}
	if (cgroup_remove(s->cgroup) < 0)
		log_warn("session %s: removing cgroup %s: %m", s->name, s->cgroup);
	cgroup_session_remove(&s->cg);
	output_close(s);
	if (s->out_timer)
		g_source_remove(s->out_timer);
	output_free(s->out);
	if (s->listen_ready)
		listener_close_all(&s->listen, s->listen_fds);
	runtime_dir_remove(s);
	free(s->state_dir);
	if (s->uplink->n_sessions)
		s->uplink->n_sessions--;
	free(s);
}
