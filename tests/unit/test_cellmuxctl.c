/* test_cellmuxctl.c — build/cellmuxctl against daemon/ctl.c with fake ops: the JSON schema, tables,
 * exit statuses 0/1/2, "not running", "permission denied", text made safe for a terminal. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/unit_skip.h"

#include "common/log.h"
#include "daemon/ctl.h"

#define NOBODY 65534

struct fake {
	unsigned n_sessions;
	uint8_t last_action;
	char last_start[3][CTL_NAME_SIZE];
	const char *body; /* of every session's status */
};

static int fake_status(void *ctx, struct ctl_reply *r)
{
	struct ctl_status_info st = { .version = "9.9.9", .pid = 77, .uptime_ms = 3723000,
				      .config = "/etc/cellmux/cellmux.conf", .uplinks = 3,
				      .uplinks_up = 2, .sessions = 6, .sessions_running = 5 };

	return ctl_reply_status(r, &st);
}

static void fake_uplink(struct ctl_uplink_info *u, unsigned i)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "lte%u", i);
	snprintf(u->driver, sizeof(u->driver), "netdev");
	u->state = i == 1 ? CTL_UPLINK_UP : CTL_UPLINK_DRAINING;
	snprintf(u->interface, sizeof(u->interface), "simwwan%u", i);
	snprintf(u->netns, sizeof(u->netns), "cmx-lte%u", i);
	u->n_addresses = 1;
	snprintf(u->addresses[0], sizeof(u->addresses[0]), "100.64.%u.2/24", i);
	u->sessions = i;
	u->capacity = 16;
	if (i == 2) {
		u->counters = (struct ctl_counters){ true, 1536, 2048, 3, 4 };
		u->have_quota = true;
		u->quota_bytes = 5ULL << 30;
		u->quota_used_bytes = 1ULL << 30;
		u->have_signal = true;
		u->signal_dbm = -71;
		snprintf(u->rat, sizeof(u->rat), "lte");
	}
	u->reconnects = i - 1;
}

static int fake_uplink_dump(void *ctx, struct ctl_reply *r)
{
	struct ctl_uplink_info u;

	for (unsigned i = 1; i <= 3; i++) {
		fake_uplink(&u, i);
		ctl_reply_uplink(r, &u);
	}
	return 0;
}

static int fake_uplink_get(void *ctx, const char *name, struct ctl_reply *r)
{
	struct ctl_uplink_info u;

	if (strcmp(name, "lte2")) {
		ctl_reply_set_error(r, "no uplink '%s'", name);
		return -ENOENT;
	}
	fake_uplink(&u, 2);
	return ctl_reply_uplink(r, &u);
}

static int fake_uplink_set_state(void *ctx, const char *name, enum ctl_uplink_action a,
				 struct ctl_reply *r)
{
	struct fake *f = ctx;

	f->last_action = (uint8_t)a;
	return 0;
}

static void fake_session(struct fake *f, struct ctl_session_info *s, unsigned i)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "s%u", i);
	snprintf(s->profile, sizeof(s->profile), "probe");
	snprintf(s->uplink, sizeof(s->uplink), "lte%u", i % 3 + 1);
	s->state = i % 2 ? CTL_SESSION_RUNNING : CTL_SESSION_BACKOFF;
	s->pid = i % 2 ? 1000 + i : 0;
	s->uptime_ms = 5000;
	s->restarts = i % 2 ? 0 : 2;
	s->have_status = i % 2;
	s->status.at_ms = 1700000000000ULL;
	s->status.w.unix_time_ms = 1700000000000ULL - 15;
	snprintf(s->status.w.state, sizeof(s->status.w.state), "ok");
	snprintf(s->status.w.message, sizeof(s->status.w.message), "HTTP 200 in 12.3 ms");
	s->status.w.n_fields = 3;
	s->status.w.fields[0] = (struct worker_status_field){ "url", "http://198.18.0.1/ip" };
	s->status.w.fields[1] = (struct worker_status_field){ "http_status", "200" };
	snprintf(s->status.w.fields[2].key, sizeof(s->status.w.fields[2].key), "body");
	snprintf(s->status.w.fields[2].value, sizeof(s->status.w.fields[2].value), "%s",
		 f->body ? f->body : "198.18.1.1");
	if (!s->pid)
		return;
	s->have_sandbox = true;
	s->sandbox = (struct ctl_sandbox_info){
		.pid = 2000 + i, .worker = true, .ns_pid = 2,
		.uid = 1668087810, .euid = 1668087810, .gid = 1668087810, .egid = 1668087810,
		.pidns_inode = 4026532999ULL, .pidns_private = true,
		.seccomp = 2, .have_seccomp_filters = true, .seccomp_filters = 1, .no_new_privs = true,
		.cap_bnd = 0x1fffeffffffULL,
	};
	s->have_memory = s->have_memory_max = true;
	s->memory_bytes = 3 << 20;
	s->memory_max_bytes = 64 << 20;
	s->have_tasks = true; /* no tasks limit: shown as unlimited */
	s->tasks = 2;
	s->have_cpu_weight = true;
	s->cpu_weight = 100;
}

static int fake_session_dump(void *ctx, struct ctl_reply *r)
{
	struct fake *f = ctx;
	struct ctl_session_info s;

	for (unsigned i = 0; i < f->n_sessions; i++) {
		fake_session(f, &s, i);
		ctl_reply_session(r, &s);
	}
	return 0;
}

static int fake_session_get(void *ctx, const char *name, struct ctl_reply *r)
{
	struct fake *f = ctx;
	struct ctl_session_info s;

	/* s1 has a worker, s0 none. */
	if (strcmp(name, "s1") && strcmp(name, "s0"))
		return -ENOENT; /* no reason given: the client falls back to strerror */
	fake_session(f, &s, name[1] == '1');
	return ctl_reply_session(r, &s);
}

static int fake_session_start(void *ctx, const struct ctl_session_start *req,
			      struct ctl_reply *r)
{
	struct fake *f = ctx;
	struct ctl_session_info s;

	snprintf(f->last_start[0], CTL_NAME_SIZE, "%s", req->profile);
	snprintf(f->last_start[1], CTL_NAME_SIZE, "%s", req->uplink ? req->uplink : "");
	snprintf(f->last_start[2], CTL_NAME_SIZE, "%s", req->name ? req->name : "");
	fake_session(f, &s, 7);
	snprintf(s.name, sizeof(s.name), "%s", req->name ? req->name : "auto-1");
	return ctl_reply_session(r, &s);
}

static const struct ctl_ops fake_ops = {
	.status = fake_status,
	.uplink_dump = fake_uplink_dump,
	.uplink_get = fake_uplink_get,
	.uplink_set_state = fake_uplink_set_state,
	.session_dump = fake_session_dump,
	.session_get = fake_session_get,
	.session_start = fake_session_start,
};

struct fix {
	char dir[64];
	char path[100];
	char ctl[256];
	struct fake f;
	struct ctl_server *s;
	/* the last run */
	int status;
	char *out, *err;
};

static int start_server(struct fix *x, const char *group, mode_t mode)
{
	struct ctl_server_params p = { .path = x->path, .group = group, .mode = mode };
	struct group *g = getgrgid(getegid());

	if (!p.group)
		p.group = g ? g->gr_name : "";
	return ctl_server_new(&p, &fake_ops, &x->f, &x->s);
}

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));
	const char *build = getenv("BUILD");

	if (!x)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "/tmp/ctl-tool.XXXXXX");
	if (!mkdtemp(x->dir) || chmod(x->dir, 0755) < 0)
		return -1;
	snprintf(x->path, sizeof(x->path), "%s/ctl.sock", x->dir);
	snprintf(x->ctl, sizeof(x->ctl), "%s/cellmuxctl", build ? build : "build");
	if (access(x->ctl, X_OK) < 0) {
		fprintf(stderr, "no %s: build it first\n", x->ctl);
		return -1;
	}
	*state = x;
	return start_server(x, NULL, 0);
}

static int teardown(void **state)
{
	struct fix *x = *state;
	char cmd[128];

	ctl_server_free(x->s);
	while (g_main_context_iteration(NULL, FALSE))
		;
	free(x->out);
	free(x->err);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
	if (system(cmd) != 0)
		return -1;
	free(x);
	return 0;
}

static char *slurp(const char *path)
{
	gchar *s = NULL;

	assert_true(g_file_get_contents(path, &s, NULL, NULL));
	return s;
}

/* Runs cellmuxctl --socket PATH args... (as nobody if as_nobody) while the loop serves it. */
static void run_as(struct fix *x, bool as_nobody, const char *socket, ...)
{
	char outp[128], errp[128];
	const char *argv[40] = { 0 };
	const char *wrapper = getenv("CELLMUX_TEST_WRAPPER");
	gchar **wargv = NULL;
	size_t n = 0;
	va_list ap;
	pid_t pid;
	int st;

	/* A cross build's cellmuxctl runs under the emulator the test itself runs under (tests/run.sh
	 * exports it): without binfmt_misc the kernel cannot exec it. Parsed before the fork. */
	if (wrapper && wrapper[0]) {
		assert_true(g_shell_parse_argv(wrapper, NULL, &wargv, NULL));
		for (gchar **w = wargv; *w && n < 7; w++)
			argv[n++] = *w;
	}
	argv[n++] = x->ctl;
	argv[n++] = "--socket";
	argv[n++] = socket ? socket : x->path;
	va_start(ap, socket);
	while ((argv[n] = va_arg(ap, const char *)) && n < 39)
		n++;
	va_end(ap);
	snprintf(outp, sizeof(outp), "%s/out", x->dir);
	snprintf(errp, sizeof(errp), "%s/err", x->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(100);
		if (as_nobody &&
		    (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0))
			_exit(101);
		execvp(argv[0], (char *const *)argv);
		_exit(102);
	}
	g_strfreev(wargv);
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		assert_true(w >= 0);
		if (w == pid)
			break;
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(200);
	}
	assert_true(WIFEXITED(st));
	x->status = WEXITSTATUS(st);
	free(x->out);
	free(x->err);
	x->out = slurp(outp);
	x->err = slurp(errp);
}

#define run(x, ...) run_as(x, false, NULL, __VA_ARGS__, NULL)

static void expect(struct fix *x, int status, const char *out_has, const char *err_is)
{
	if (x->status != status || (out_has && !strstr(x->out, out_has)) ||
	    (err_is && strcmp(x->err, err_is)))
		fprintf(stderr, "exit %d\nstdout:\n%s\nstderr:\n%s\n", x->status, x->out, x->err);
	assert_int_equal(x->status, status);
	if (out_has)
		assert_non_null(strstr(x->out, out_has));
	if (err_is)
		assert_string_equal(x->err, err_is);
}

/* The JSON is parsed and the field names checked exactly; python3 is a build and test
 * dependency (make deps), so its absence fails the test instead of passing it unchecked. */
static void check_json(struct fix *x, const char *python_check)
{
	char path[128], cmd[1024];
	FILE *f;

	if (system("command -v python3 >/dev/null 2>&1") != 0)
		fail_msg("python3 is missing: the JSON cannot be checked (make deps installs it)");
	snprintf(path, sizeof(path), "%s/json", x->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(x->out, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; d=json.load(open(\"%s\")); %s'",
		 path, python_check);
	assert_int_equal(system(cmd), 0);
}

static void test_status(void **state)
{
	struct fix *x = *state;

	run(x, "status");
	expect(x, 0, "cellmuxd 9.9.9, pid 77, up 1h 02m\n", "");
	assert_non_null(strstr(x->out, "uplinks:  3 (2 up)\n"));
	run(x, "--json", "status");
	expect(x, 0, "\"uptime_ms\": 3723000", "");
	check_json(x, "assert d[\"version\"] == \"9.9.9\" and d[\"sessions_running\"] == 5");
}

static void test_uplink_list_and_show(void **state)
{
	struct fix *x = *state;

	run(x, "uplink", "list");
	expect(x, 0, NULL, "");
	assert_true(g_str_has_prefix(
		x->out, "NAME  STATE     DRIVER  INTERFACE  ADDRESSES      SESSIONS  RX"));
	assert_non_null(strstr(x->out, "lte2  draining  netdev  simwwan2   100.64.2.2/24  2/16   "
					"   1.5 KiB  2.0 KiB  1.0 GiB/5.0 GiB\n"));
	/* `uplink` alone lists, like `ip link` */
	run(x, "uplink");
	expect(x, 0, "lte3", "");

	run(x, "--json", "uplink", "list");
	expect(x, 0, "\"quota_used_bytes\": 1073741824", "");
	check_json(x, "need = {\"name\", \"driver\", \"state\", \"interface\", \"addresses\", "
		      "\"sessions\", \"capacity\", \"rx_bytes\", \"tx_bytes\", \"quota_bytes\", "
		      "\"quota_used_bytes\"}; "
		      "assert len(d) == 3 and all(need <= set(u) for u in d); "
		      "assert d[0][\"rx_bytes\"] is None and d[1][\"rx_bytes\"] == 1536; "
		      "assert d[1][\"state\"] == \"draining\" and d[0][\"addresses\"] == "
		      "[\"100.64.1.2/24\"]; "
		      "assert d[1][\"quota_reached\"] is False; "
		      "assert d[0][\"quota_reached\"] is None; "
		      "assert d[1][\"signal_dbm\"] == -71 and d[0][\"signal_dbm\"] is None; "
		      "assert d[1][\"rat\"] == \"lte\" and d[1][\"operator\"] is None; "
		      "assert d[2][\"reconnects\"] == 2");

	run(x, "uplink", "show", "lte2");
	expect(x, 0, "uplink lte2\n  state       draining\n", "");
	assert_non_null(strstr(x->out, "  quota       1.0 GiB used of 5.0 GiB\n"));
	assert_non_null(strstr(x->out, "  radio       -, lte, -71 dBm\n"));
	run(x, "--json", "uplink", "show", "lte2");
	check_json(x, "assert d[\"name\"] == \"lte2\" and d[\"capacity\"] == 16");
	run(x, "uplink", "show", "lte9");
	expect(x, 1, NULL, "cellmuxctl: no uplink 'lte9'\n");
	assert_string_equal(x->out, "");
}

static void test_uplink_actions(void **state)
{
	struct fix *x = *state;
	static const char *const actions[] = { "up", "down", "reconnect", "drain" };

	for (unsigned i = 0; i < 4; i++) {
		run(x, "uplink", actions[i], "lte1");
		expect(x, 0, NULL, "");
		assert_string_equal(x->out, "");
		assert_int_equal(x->f.last_action, i + 1);
	}
}

static void test_session_commands(void **state)
{
	struct fix *x = *state;

	x->f.n_sessions = 3;
	run(x, "session", "list");
	expect(x, 0, "NAME  PROFILE  UPLINK  STATE    PID   RESTARTS  UPTIME  RX  TX\n", "");
	assert_non_null(
		strstr(x->out, "s0    probe    lte1    backoff  -     2         -       -   -\n"));
	run(x, "--json", "session", "list");
	check_json(x, "need = {\"name\", \"profile\", \"uplink\", \"pid\", \"state\", "
		      "\"restarts\", \"rx_bytes\", \"tx_bytes\"}; "
		      "assert len(d) == 3 and all(need <= set(s) for s in d); "
		      "assert d[0][\"pid\"] is None and d[1][\"pid\"] == 1001; "
		      "assert d[0][\"status\"] is None and d[1][\"last_report\"] is None; "
		      "st = d[1][\"status\"]; "
		      "assert st[\"state\"] == \"ok\" and st[\"message\"] == \"HTTP 200 in 12.3 ms\"; "
		      "assert st[\"fields\"] == {\"url\": \"http://198.18.0.1/ip\", "
		      "\"http_status\": \"200\", \"body\": \"198.18.1.1\"}; "
		      "assert list(st[\"fields\"]) == [\"url\", \"http_status\", \"body\"]; "
		      "assert st[\"time_ms\"] == 1700000000000 - 15; "
		      "assert st[\"at_ms\"] == 1700000000000");

	run(x, "session", "show", "s1");
	expect(x, 0, "session s1\n  profile     probe\n  uplink      lte2\n  state       running\n",
	       "");
	assert_non_null(strstr(x->out, " ago\n"
				       "              HTTP 200 in 12.3 ms\n"
				       "              url: http://198.18.0.1/ip\n"
				       "              http_status: 200\n"
				       "              body: 198.18.1.1\n"));
	assert_non_null(strstr(x->out, "\n  status      ok, "));
	assert_non_null(strstr(x->out, "  sandbox     pid 2001 is 2 in its own PID namespace\n"
				       "  pid ns      pid:[4026532999]\n"
				       "  uid         1668087810\n"
				       "  gid         1668087810\n"
				       "  seccomp     filter, 1 filter\n"
				       "  no_new_privs 1\n"
				       "  caps        eff 0000000000000000 prm 0000000000000000\n"
				       "              bnd 000001fffeffffff amb 0000000000000000\n"
				       "  memory      3.0 MiB of 64 MiB, 0 OOM kills\n"
				       "  tasks       2 of unlimited\n"
				       "  cpu weight  100\n"));
	run(x, "--json", "session", "show", "s1");
	check_json(x, "x = d[\"sandbox\"]; "
		      "assert x[\"pid\"] == 2001 and x[\"worker\"] is True and x[\"ns_pid\"] == 2; "
		      "assert x[\"uid\"] == x[\"euid\"] == 1668087810; "
		      "assert x[\"pidns\"] == 4026532999 and x[\"pidns_private\"] is True; "
		      "assert x[\"seccomp\"] == \"filter\" and x[\"seccomp_filters\"] == 1; "
		      "assert x[\"no_new_privs\"] is True and x[\"cap_eff\"] == \"0000000000000000\"; "
		      "assert x[\"cap_bnd\"] == \"000001fffeffffff\"; "
		      "assert d[\"memory_bytes\"] == 3 << 20 and d[\"memory_max_bytes\"] == 64 << 20; "
		      "assert d[\"oom_kills\"] == 0 and d[\"tasks\"] == 2; "
		      "assert d[\"tasks_max\"] is None and d[\"cpu_weight\"] == 100");
	run(x, "session", "show", "s0");
	expect(x, 0, "  sandbox     -\n", "");
	assert_non_null(strstr(x->out, "\n  status      none yet\n"));
	assert_null(strstr(x->out, "  memory "));
	run(x, "--json", "session", "show", "s0");
	check_json(x, "assert d[\"sandbox\"] is None and d[\"memory_bytes\"] is None; "
		      "assert d[\"tasks\"] is None and d[\"cpu_weight\"] is None");
	run(x, "session", "show", "s9");
	expect(x, 1, NULL, "cellmuxctl: no such file or directory\n");

	run(x, "session", "start", "--profile", "probe", "--uplink", "lte3", "--name", "mine");
	expect(x, 0, "session mine started on uplink lte2 (pid 1007)\n", "");
	assert_string_equal(x->f.last_start[0], "probe");
	assert_string_equal(x->f.last_start[1], "lte3");
	assert_string_equal(x->f.last_start[2], "mine");
	run(x, "--json", "session", "start", "--profile", "probe");
	check_json(x, "assert d[\"name\"] == \"auto-1\"");
	assert_string_equal(x->f.last_start[1], "");

	/* Ops the daemon does not have (yet): refused, exit 1. */
	run(x, "session", "stop", "s1");
	expect(x, 1, NULL, "cellmuxctl: operation not supported\n");
	run(x, "reload");
	expect(x, 1, NULL, "cellmuxctl: operation not supported\n");
}

static void test_thousand_sessions_json(void **state)
{
	struct fix *x = *state;
	gint64 t0;

	x->f.n_sessions = 1000;
	t0 = g_get_monotonic_time();
	run(x, "--json", "session", "list");
	/* Not a timed assertion: the figure is for the log (the issue aims under 50 ms). */
	fprintf(stderr, "    session list --json, 1000 sessions: %.1f ms (client and server)\n",
		(double)(g_get_monotonic_time() - t0) / 1000.0);
	expect(x, 0, "\"name\": \"s999\"", "");
	check_json(x, "assert len(d) == 1000");
}

static void test_text_is_made_safe(void **state)
{
	struct fix *x = *state;

	x->f.body = "\x1b[31mred\x07 \xff ok \xc2\x9b";
	run(x, "session", "show", "s1");
	expect(x, 0, "  body: ?[31mred? ? ok ?\n", "");
	run(x, "--json", "session", "show", "s1");
	expect(x, 0, "\"body\": \"\\u001b[31mred\\u0007 \\ufffd ok \xc2\x9b\"", "");
	check_json(x, "assert d[\"status\"][\"fields\"][\"body\"].startswith(\"\\x1b[31m\")");
}

static void test_usage_errors_exit_2(void **state)
{
	struct fix *x = *state;

	run(x, "uplink", "show");
	expect(x, 2, NULL, NULL);
	assert_true(g_str_has_prefix(x->err, "cellmuxctl: uplink show needs an uplink NAME\n"));
	run(x, "uplink", "sideways", "lte1");
	expect(x, 2, NULL, NULL);
	run(x, "frobnicate");
	expect(x, 2, NULL, NULL);
	run(x, "session", "start", "--uplink", "lte1");
	expect(x, 2, NULL, NULL);
	run(x, "session", "start", "--profile");
	expect(x, 2, NULL, NULL);
	run(x, "session", "stop", "a", "b");
	expect(x, 2, NULL, NULL);
	run(x, "status", "now");
	expect(x, 2, NULL, NULL);
	run(x, "--bogus", "status");
	expect(x, 2, NULL, NULL);
	run(x, "session", "show",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect(x, 2, NULL, NULL);
	run(x, "--help");
	expect(x, 0, "Usage: cellmuxctl", "");
}

static void test_daemon_not_running(void **state)
{
	struct fix *x = *state;
	char missing[128], msg[256];

	snprintf(missing, sizeof(missing), "%s/nothing.sock", x->dir);
	run_as(x, false, missing, "status", NULL);
	snprintf(msg, sizeof(msg), "cellmuxctl: cellmuxd is not running (no socket at %s)\n",
		 missing);
	expect(x, 1, NULL, msg);
	/* A socket nobody listens on any more reads the same. */
	ctl_server_free(x->s);
	x->s = NULL;
	assert_int_equal(mknod(x->path, S_IFSOCK | 0600, 0), 0);
	run(x, "status");
	expect(x, 1, NULL, NULL);
	assert_non_null(strstr(x->err, "cellmuxd is not running"));
	assert_int_equal(unlink(x->path), 0);
	assert_int_equal(start_server(x, NULL, 0), 0);
}

static void test_permission_denied(void **state)
{
	struct fix *x = *state;
	char msg[256];

	UNIT_REQUIRE(geteuid() == 0, "root (to connect as another user)");
	/* 0660 root:root: the kernel turns nobody away at connect(). */
	ctl_server_free(x->s);
	assert_int_equal(start_server(x, "root", 0), 0);
	run_as(x, true, NULL, "status", NULL);
	snprintf(msg, sizeof(msg), "cellmuxctl: permission denied (connecting to %s)\n", x->path);
	expect(x, 1, NULL, msg);
	/* 0666: the daemon refuses by SO_PEERCRED and says so. */
	ctl_server_free(x->s);
	assert_int_equal(start_server(x, "root", 0666), 0);
	run_as(x, true, NULL, "uplink", "drain", "lte1", NULL);
	expect(x, 1, NULL,
	       "cellmuxctl: permission denied: only root and members of group root may use "
	       "cellmuxd\n");
	assert_int_equal(x->f.last_action, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uplink_list_and_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uplink_actions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thousand_sessions_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_is_made_safe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors_exit_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_not_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission_denied, setup, teardown),
	};

	log_set_max_level(LOG_ERR);
	return unit_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
