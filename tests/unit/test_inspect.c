/* test_inspect.c — the /proc/PID/status parser on fixed text (a session worker's, broken ones),
 * and sandbox_inspect() on real forked children: the worker child is the one read, else the init. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit_skip.h"
#include "sandbox/inspect.h"

/* A worker as the host sees it: pid 4711 outside, 2 in its session's namespace; real and
 * effective ids differ so a swap shows. */
static const char worker_status[] =
	"Name:\tcellmux-probe\n"
	"Umask:\t0077\n"
	"State:\tS (sleeping)\n"
	"Tgid:\t4711\n"
	"Ngid:\t0\n"
	"Pid:\t4711\n"
	"PPid:\t4710\n"
	"TracerPid:\t0\n"
	"Uid:\t1668087810\t1668087811\t1668087810\t1668087810\n"
	"Gid:\t1668087812\t1668087813\t1668087812\t1668087812\n"
	"FDSize:\t64\n"
	"Groups:\t \n"
	"NStgid:\t4711\t2\n"
	"NSpid:\t4711\t2\n"
	"NSpgid:\t4711\t2\n"
	"NSsid:\t4711\t2\n"
	"VmRSS:\t    1692 kB\n"
	"SigCgt:\t0000000000004000\n"
	"CapInh:\t0000000000000000\n"
	"CapPrm:\t0000000000000001\n"
	"CapEff:\t0000000000000000\n"
	"CapBnd:\t000001fffeffffff\n"
	"CapAmb:\t0000000000000020\n"
	"NoNewPrivs:\t1\n"
	"Seccomp:\t2\n"
	"Seccomp_filters:\t1\n"
	"Speculation_Store_Bypass:\tvulnerable\n"
	"Cpus_allowed_list:\t0-1\n";

static int parse(const char *text, struct sandbox_view *v)
{
	memset(v, 0, sizeof(*v));
	return sandbox_parse_status(text, strlen(text), v);
}

static void parses_a_workers_status(void **state)
{
	struct sandbox_view v;

	assert_int_equal(parse(worker_status, &v), 0);
	assert_int_equal(v.ppid, 4710);
	assert_int_equal(v.uid, 1668087810);
	assert_int_equal(v.euid, 1668087811);
	assert_int_equal(v.gid, 1668087812);
	assert_int_equal(v.egid, 1668087813);
	assert_int_equal(v.ns_pid, 2);
	assert_int_equal(v.seccomp, SANDBOX_SECCOMP_FILTER);
	assert_string_equal(sandbox_seccomp_to_string(v.seccomp), "filter");
	assert_true(v.have_seccomp_filters);
	assert_int_equal(v.seccomp_filters, 1);
	assert_true(v.no_new_privs);
	assert_true(v.cap_prm == 1);
	assert_true(v.cap_eff == 0);
	assert_true(v.cap_bnd == 0x1fffeffffffULL);
	assert_true(v.cap_amb == 0x20);
	/* Fields the parser does not own are left as they were. */
	assert_int_equal(v.pid, 0);
	assert_false(v.is_worker);
	assert_true(v.pidns_inode == 0);
}

/* A copy of worker_status with the line starting with key replaced (line NULL: removed). */
static char *edit(const char *key, const char *line)
{
	static char out[sizeof(worker_status) + 9000];
	const char *at = strstr(worker_status, key), *eol;
	size_t pre;

	assert_non_null(at);
	eol = strchr(at, '\n') + 1;
	pre = (size_t)(at - worker_status);
	snprintf(out, sizeof(out), "%.*s%s%s", (int)pre, worker_status, line ? line : "", eol);
	return out;
}

static void refuses_missing_or_broken_fields(void **state)
{
	static const char *const required[] = {
		"PPid:", "Uid:", "Gid:", "NSpid:", "Seccomp:\t", "NoNewPrivs:",
		"CapPrm:", "CapEff:", "CapBnd:", "CapAmb:",
	};
	static const struct {
		const char *key, *line;
	} broken[] = {
		{ "Uid:", "Uid:\t1000\t1000\t1000\n" },               /* three ids */
		{ "Uid:", "Uid:\t1000\t1000\t1000\t1000\t1\n" },      /* five */
		{ "Uid:", "Uid:\t99999999999\t0\t0\t0\n" },           /* beyond 32 bits */
		{ "Gid:", "Gid:\t-1\t0\t0\t0\n" },
		{ "NSpid:", "NSpid:\n" },
		{ "NSpid:", "NSpid:\t4711\tx\n" },
		{ "Seccomp:\t", "Seccomp:\t2x\n" },
		{ "NoNewPrivs:", "NoNewPrivs:\t2\n" },
		{ "CapEff:", "CapEff:\t00000000000000000\n" }, /* 17 digits */
		{ "CapEff:", "CapEff:\t000000000000000g\n" },
		{ "CapBnd:", "CapBnd:\t\n" },
		{ "CapPrm:", "CapPrm:\t0000000000000000\nCapPrm:\t0000000000000001\n" }, /* twice */
	};
	struct sandbox_view v;

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		int r = parse(edit(required[i], NULL), &v);

		if (r != -EBADMSG)
			fail_msg("without %s: %d", required[i], r);
	}
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		int r = parse(edit(broken[i].key, broken[i].line), &v);

		if (r != -EBADMSG)
			fail_msg("with '%s': %d", broken[i].line, r);
	}
	/* A refused text leaves ret alone. */
	memset(&v, 0x5a, sizeof(v));
	assert_int_equal(sandbox_parse_status("Uid:\t1\n", 7, &v), -EBADMSG);
	assert_int_equal(v.uid, 0x5a5a5a5a);
}

static void tolerates_old_kernels_and_long_lines(void **state)
{
	struct sandbox_view v;
	char *text, *groups;
	size_t n = 0;

	/* Before Linux 5.9 there is no Seccomp_filters line. */
	assert_int_equal(parse(edit("Seccomp_filters:", NULL), &v), 0);
	assert_false(v.have_seccomp_filters);
	assert_int_equal(v.seccomp, SANDBOX_SECCOMP_FILTER);

	/* A Groups: line of a member of many groups, longer than any line the parser keeps. */
	groups = malloc(8192);
	assert_non_null(groups);
	n += (size_t)sprintf(groups, "Groups:");
	while (n < 8000)
		n += (size_t)sprintf(groups + n, "\t%zu", 100000 + n);
	sprintf(groups + n, "\n");
	text = malloc(sizeof(worker_status) + 8192);
	assert_non_null(text);
	sprintf(text, "%s", edit("Groups:", groups));
	assert_int_equal(parse(text, &v), 0);
	assert_int_equal(v.uid, 1668087810);
	/* The text need not be terminated, and no line need end with a newline. */
	assert_int_equal(sandbox_parse_status(worker_status, sizeof(worker_status) - 2, &v), 0);
	assert_string_equal(sandbox_seccomp_to_string(0), "disabled");
	assert_string_equal(sandbox_seccomp_to_string(1), "strict");
	assert_string_equal(sandbox_seccomp_to_string(7), "unknown");
	free(groups);
	free(text);
}

static void read_ready(int fd)
{
	char c;

	assert_int_equal(read(fd, &c, 1), 1);
}

static void kill_and_reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

/* A stand-in session: init forks a worker, which takes no_new_privs and seccomp strict mode
 * (nothing the test process has), says so, and blocks. sandbox_inspect must read the worker. */
static void reads_the_inits_child(void **state)
{
	struct sandbox_view self = { 0 }, v;
	int p[2], block[2];
	pid_t init;
	char *buf = malloc(16384);
	FILE *f;
	size_t n;

	UNIT_NOT_EMULATED();

	assert_non_null(buf);
	f = fopen("/proc/self/status", "r");
	assert_non_null(f);
	n = fread(buf, 1, 16384, f);
	fclose(f);
	assert_int_equal(sandbox_parse_status(buf, n, &self), 0);
	free(buf);
	/* The proof needs the worker to differ from us in both. */
	assert_false(self.no_new_privs);
	assert_int_equal(self.seccomp, SANDBOX_SECCOMP_DISABLED);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(block), 0);
	init = fork();
	assert_true(init >= 0);
	if (init == 0) {
		pid_t w;

		/* A failed assertion in the test must not leave these behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		w = fork();
		if (w == 0) {
			char c = 1;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
				_exit(90);
			if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) < 0)
				_exit(91);
			/* Strict mode: read, write, exit and sigreturn only, until the SIGKILL. */
			if (write(p[1], &c, 1) != 1)
				syscall(SYS_exit, 92);
			for (;;)
				(void)!read(block[0], &c, 1);
		}
		for (;;)
			pause();
	}
	read_ready(p[0]);
	assert_int_equal(sandbox_inspect(init, &v), 0);
	assert_true(v.is_worker);
	assert_int_not_equal(v.pid, init);
	assert_int_equal(v.ppid, init);
	/* Same PID namespace as ours: the innermost pid is the host pid. */
	assert_int_equal(v.ns_pid, v.pid);
	assert_false(v.pidns_private);
	assert_true(v.pidns_inode != 0);
	assert_true(v.no_new_privs);
	assert_int_equal(v.seccomp, SANDBOX_SECCOMP_STRICT);
	assert_int_equal(v.uid, getuid());
	assert_int_equal(v.gid, getgid());
	assert_true(v.cap_eff == self.cap_eff);
	kill_and_reap(init);
	close(p[0]);
	close(p[1]);
	close(block[0]);
	close(block[1]);
}

static void reads_the_init_without_a_child_and_fails_once_gone(void **state)
{
	struct sandbox_view v;
	pid_t init = fork();

	assert_true(init >= 0);
	if (init == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	assert_int_equal(sandbox_inspect(init, &v), 0);
	assert_false(v.is_worker);
	assert_int_equal(v.pid, init);
	assert_int_equal(v.ppid, getpid());
	assert_false(v.no_new_privs);
	kill_and_reap(init);
	assert_int_equal(sandbox_inspect(init, &v), -ESRCH);
	assert_int_equal(sandbox_inspect(0, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_workers_status),
		cmocka_unit_test(refuses_missing_or_broken_fields),
		cmocka_unit_test(tolerates_old_kernels_and_long_lines),
		cmocka_unit_test(reads_the_inits_child),
		cmocka_unit_test(reads_the_init_without_a_child_and_fails_once_gone),
	};
	return unit_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
