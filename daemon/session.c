/* session.c — session supervision (see session.h): spawn into the uplink, watch the child and
 * the control socket, apply the restart policy with exponential backoff, stop on request. */
#include "daemon/session.h"

#include <errno.h>
#include <glib-unix.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "sandbox/cgroup.h"
#include "daemon/daemon.h"
#include "daemon/relay.h"
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
	if (s->ctl_watch)
		g_source_remove(s->ctl_watch);
	s->ctl_watch = 0;
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

static void report_store(struct session *s, const Cellmux__Worker__Report *rp)
{
	struct session_report *r = &s->report;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	r->seq = rp->seq;
	r->http_status = rp->http_status;
	snprintf(r->url, sizeof(r->url), "%s", rp->url);
	snprintf(r->body, sizeof(r->body), "%s", rp->body);
	snprintf(r->error, sizeof(r->error), "%s", rp->error[0] ? rp->error : rp->resolve_error);
	snprintf(r->resolved_name, sizeof(r->resolved_name), "%s", rp->resolved_name);
	for (size_t i = 0; i < rp->n_resolved_addresses && off < sizeof(r->resolved); i++)
		off += (size_t)snprintf(r->resolved + off, sizeof(r->resolved) - off, "%s%s",
					i ? "," : "", rp->resolved_addresses[i]);
	r->at_us = g_get_real_time();
	s->have_report = true;
	log_info("session %s (uplink %s): report %llu: GET %s -> %d '%s'%s%s%s%s",
		 s->name, s->uplink->cfg->p.name, (unsigned long long)r->seq, r->url,
		 r->http_status, r->body, r->resolved_name[0] ? " " : "", r->resolved_name,
		 r->resolved_name[0] ? "=" : "", r->resolved);
	if (r->error[0])
		log_info("session %s: worker error: %s", s->name, r->error);
}

static void hello(struct session *s, const Cellmux__Worker__Hello *h)
{
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__Welcome w = CELLMUX__WORKER__WELCOME__INIT;
	int r;

	log_info("session %s: worker %s %s says hello", s->name, h->worker, h->version);
	w.session = s->name;
	w.uplink = (char *)s->uplink->cfg->p.name;
	w.incarnation = s->incarnation;
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME;
	m.welcome = &w;
	r = worker_msg_send(s->ctl_fd, &m.base);
	if (r < 0)
		log_warn_errno(r, "session %s: sending welcome: %m", s->name);
	/* Deliveries waiting for this session go to the process that just said hello. */
	relay_worker_hello(s->d->relay, s);
}

/* max: messages to take; bounded per wakeup so one chatty worker cannot starve the loop. */
static gboolean ctl_read(struct session *s, int fd, int max)
{
	for (int i = 0; i < max; i++) {
		Cellmux__Worker__WorkerMessage *m = NULL;
		int r = worker_msg_recv_worker(fd, &m);

		if (r == -EAGAIN)
			return G_SOURCE_CONTINUE;
		if (r == -ECONNRESET)
			return G_SOURCE_REMOVE;
		if (r < 0) {
			s->protocol_errors++;
			log_warn_errno(r, "session %s: bad message from worker: %m", s->name);
			continue;
		}
		if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO)
			hello(s, m->hello);
		else if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_REPORT)
			report_store(s, m->report);
		else if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_EVENT)
			relay_worker_event(s->d->relay, s, m->event);
		else if (m->msg_case == CELLMUX__WORKER__WORKER_MESSAGE__MSG_ACK)
			relay_worker_ack(s->d->relay, s, m->ack);
		worker_msg_free_worker(m);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean ctl_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct session *s = data;

	if (ctl_read(s, fd, 64) == G_SOURCE_CONTINUE)
		return G_SOURCE_CONTINUE;
	s->ctl_watch = 0;
	close(s->ctl_fd);
	s->ctl_fd = -1;
	return G_SOURCE_REMOVE;
}

static gboolean restart_due(gpointer data)
{
	struct session *s = data;

	s->timer = 0;
	s->restarts++;
	session_start(s);
	return G_SOURCE_REMOVE;
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
	if (s->state == SESSION_STOPPING || s->d->stopping) {
		timer_clear(s);
		s->state = SESSION_STOPPED;
		daemon_session_stopped(s->d, s);
		return;
	}
	if (g_get_monotonic_time() - s->started_us >= SESSION_STABLE_US)
		s->failures = 0;
	restart = p->restart == RESTART_ALWAYS || (p->restart == RESTART_ON_FAILURE && failed);
	if (!restart) {
		s->state = SESSION_STOPPED;
		log_info("session %s: worker finished, not restarting (restart=%s)", s->name,
			 restart_policy_to_string(p->restart));
		daemon_session_stopped(s->d, s);
		return;
	}
	s->failures++;
	unsigned delay = session_backoff_ms(p->restart_sec_ms, p->restart_max_ms, s->failures);
	s->state = SESSION_BACKOFF;
	log_info("session %s: restarting in %u ms (failure %u in a row)", s->name, delay,
		 s->failures);
	s->timer = g_timeout_add(delay, restart_due, s);
}

static void child_exited(GPid pid, gint status, gpointer data)
{
	struct session *s = data;
	bool failed;

	s->child_watch = 0;
	g_spawn_close_pid(pid);
	if (WIFEXITED(status)) {
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

int session_start(struct session *s)
{
	const struct cfg_profile *p = s->profile;
	const struct uplink_params *up = &s->uplink->cfg->p;
	char env_fd[32], env_session[64], env_uplink[64], env_user[64], env_home[4096 + 8];
	char resolv[4096], ns[64];
	struct passwd *pw;
	const char *step = NULL;
	int sv[2] = { -1, -1 }, r;
	pid_t pid = 0;

	timer_clear(s);
	if (!s->uplink->u || !uplink_connected(s->uplink->u)) {
		/* Not a failure of the worker: it waits for its uplink instead of burning restarts. */
		s->parked = true;
		s->state = SESSION_STOPPED;
		log_info("session %s: uplink %s is not connected, waiting for it", s->name,
			 s->uplink->cfg->p.name);
		return -ENETDOWN;
	}
	s->parked = false;
	pw = getpwnam(p->user);
	if (!pw || pw->pw_uid == 0) {
		r = pw ? -EPERM : -ENOENT;
		step = "look up user";
		goto fail;
	}
	r = relay_session_spawning(s->d->relay, s);
	if (r < 0) {
		step = "record incarnation";
		goto fail;
	}
	/* SOCK_SEQPACKET: message boundaries for free, and EOF when either side goes away. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = negative_errno();
		step = "socketpair";
		goto fail;
	}
	uplink_ns_name_of(up->name, ns, sizeof(ns));
	resolv_path(ns, resolv, sizeof(resolv));
	snprintf(env_fd, sizeof(env_fd), WORKER_ENV_CONTROL_FD "=%d", SPAWN_CONTROL_FD);
	snprintf(env_session, sizeof(env_session), WORKER_ENV_SESSION "=%s", s->name);
	snprintf(env_uplink, sizeof(env_uplink), WORKER_ENV_UPLINK "=%s", up->name);
	snprintf(env_user, sizeof(env_user), "USER=%s", pw->pw_name);
	snprintf(env_home, sizeof(env_home), "HOME=%s", pw->pw_dir);
	char *envp[] = { env_fd, env_session, env_uplink, env_user, env_home,
			 "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", NULL };
	struct spawn_params sp = {
		.argv = p->argv,
		.envp = envp,
		.nsfd = uplink_nsfd(s->uplink->u),
		.resolv = resolv,
		.cgroup = s->cgroup,
		.control_fd = sv[1],
		.uid = pw->pw_uid,
		.gid = pw->pw_gid,
		.user = pw->pw_name,
	};
	s->started_us = g_get_monotonic_time();
	r = spawn_worker(&sp, &pid, &step);
	log_debug("session %s: spawn took %lld us", s->name,
		  (long long)(g_get_monotonic_time() - s->started_us));
	close(sv[1]);
	if (pid > 0)
		s->child_watch = g_child_watch_add(pid, child_exited, s);
	if (r < 0 && pid <= 0) {
		close(sv[0]);
		step = "fork";
		goto fail;
	}
	if (r < 0) {
		close(sv[0]);
		/* The child exits 127; its watch sees a failure and applies the policy. */
		s->pid = pid;
		s->state = SESSION_RUNNING;
		return log_error_errno(r, "session %s: %s for %s: %m", s->name, step, p->argv[0]);
	}
	s->pid = pid;
	s->ctl_fd = sv[0];
	g_unix_set_fd_nonblocking(s->ctl_fd, TRUE, NULL);
	s->ctl_watch = g_unix_fd_add(s->ctl_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, ctl_readable, s);
	s->state = SESSION_RUNNING;
	log_info("session %s: worker %d started on uplink %s (profile %s)", s->name, (int)pid,
		 up->name, p->name);
	return 0;
fail:
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
			daemon_session_stopped(s->d, s);
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
		kill(s->pid, SIGTERM);
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
	if (s->child_watch)
		g_source_remove(s->child_watch);
	/* The directory empties asynchronously after a kill, and a child forked meanwhile
	 * needs its own signal: kill and wait, bounded. */
	for (int i = 0; i < 400 && cgroup_populated(s->cgroup); i++) {
		cgroup_kill(s->cgroup);
		g_usleep(5000);
	}
	if (cgroup_remove(s->cgroup) < 0)
		log_warn("session %s: removing cgroup %s: %m", s->name, s->cgroup);
	if (s->uplink->n_sessions)
		s->uplink->n_sessions--;
	free(s);
}
