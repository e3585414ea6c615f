/* hostile-worker.c — a session worker that attacks its neighbours, the host and the daemon, for
 * test_hostile.sh: one stdout line per attempt, "cmx-hostile ATTEMPT ok|denied ...". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* Typed into a terminal by TIOCSTI; the test looks for it on the daemon's pty. Never printed. */
#define STI_MARK "cmxSTIjunk"
/* Caps that keep today's unconfined worker from hurting a shared machine; both lie far above
 * the profile's pids_max=32 and memory_max=64M, so reaching them means no limit held. */
#define FORK_CAP 256
#define MEM_CAP_MB 256

struct opts {
	char *victims[8];
	int n_victims;
	const char *victim_exe, *tmp_prefix, *state_dir, *socket_path, *config;
};

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "?";
}

/* err: 0 when the attempt worked, else the errno that stopped it. */
static void report(const char *attempt, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(const char *attempt, int err, const char *fmt, ...)
{
	char extra[256] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(extra, sizeof(extra), fmt, ap);
		va_end(ap);
	}
	if (err)
		printf("cmx-hostile %s denied errno=%s%s%s\n", attempt, errname(err), *extra ? " " : "",
		       extra);
	else
		printf("cmx-hostile %s ok%s%s\n", attempt, *extra ? " " : "", extra);
	fflush(stdout);
}

static int read_file(const char *path, char *buf, size_t len, size_t *got)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return errno;
	buf[n] = 0;
	if (got)
		*got = (size_t)n;
	return 0;
}

static pid_t ppid_of(pid_t pid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, buf, sizeof(buf), NULL))
		return 0;
	p = strstr(buf, "\nPPid:");
	return p ? (pid_t)atoi(p + 6) : 0;
}

/* Our own ancestors may be signalable inside a sandbox (its init runs as us): not a neighbour. */
static bool is_ancestor(pid_t pid)
{
	for (pid_t p = ppid_of(getpid()); p > 0; p = ppid_of(p))
		if (p == pid)
			return true;
	return false;
}

static void scan_signals(void)
{
	char buf[32];
	long pid_max = 32768, foreign = 0, visible = 0, first = 0;
	int last_err = ESRCH;

	if (!read_file("/proc/sys/kernel/pid_max", buf, sizeof(buf), NULL))
		pid_max = atol(buf);
	/* Signal 0 only: on an unconfined system this reaches other programs' processes too. */
	for (long p = 1; p <= pid_max; p++) {
		if (p == getpid())
			continue;
		if (kill((pid_t)p, 0) == 0) {
			visible++;
			if (is_ancestor((pid_t)p))
				continue;
			if (!first)
				first = p;
			foreign++;
		} else if (errno == EPERM) {
			visible++;
			last_err = EPERM;
		}
	}
	report("signal-any", foreign ? 0 : last_err, "foreign=%ld visible=%ld first=%ld", foreign,
	       visible, first);
}

static bool is_victim(const struct opts *o, pid_t pid)
{
	char path[64], buf[8192], want[128];
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	if (o->victim_exe && !read_file(path, buf, sizeof(buf), &n) && n &&
	    !strcmp(buf, o->victim_exe))
		return true;
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	if (read_file(path, buf, sizeof(buf), &n))
		return false;
	for (size_t off = 0; off < n; off += strlen(buf + off) + 1)
		for (int i = 0; i < o->n_victims; i++) {
			snprintf(want, sizeof(want), "CELLMUX_SESSION=%s", o->victims[i]);
			if (!strcmp(buf + off, want))
				return true;
		}
	return false;
}

/* The other sessions' workers, as far as this worker's /proc shows them. */
static int find_victims(const struct opts *o, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid > 0 && pid != getpid() && is_victim(o, pid))
			out[n++] = pid;
	}
	closedir(d);
	return n;
}

static void attack_ptrace(const struct opts *o)
{
	pid_t v[16];
	int n = find_victims(o, v, 16), err = ESRCH, ok = 0;

	for (int i = 0; i < n; i++) {
		if (ptrace(PTRACE_ATTACH, v[i], 0, 0) == 0) {
			waitpid(v[i], NULL, __WALL);
			ptrace(PTRACE_DETACH, v[i], 0, 0);
			ok++;
		} else {
			err = errno;
		}
	}
	report("ptrace", ok ? 0 : err, "found=%d attached=%d", n, ok);

	/* Stealing a neighbour's control socket (fd 3) needs the same ptrace right. */
	err = ESRCH;
	ok = 0;
	for (int i = 0; i < n; i++) {
		int pfd = (int)syscall(SYS_pidfd_open, v[i], 0), fd;
		if (pfd < 0) {
			err = errno;
			continue;
		}
		fd = (int)syscall(SYS_pidfd_getfd, pfd, 3, 0);
		if (fd >= 0) {
			close(fd);
			ok++;
		} else {
			err = errno;
		}
		close(pfd);
	}
	report("pidfd-getfd", ok ? 0 : err, "found=%d stolen=%d", n, ok);

	/* Where no neighbour is in sight, ptrace itself must still be refused (seccomp): our own
	 * child is the one target the kernel's ptrace rules would allow. */
	pid_t kid = fork();
	if (kid == 0) {
		pause();
		_exit(0);
	}
	err = kid < 0 ? errno : 0;
	if (kid > 0) {
		err = ptrace(PTRACE_ATTACH, kid, 0, 0) == 0 ? 0 : errno;
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
	}
	report("ptrace-child", err, NULL);
}

static void attack_signal_sessions(const struct opts *o)
{
	pid_t v[16];
	int n = find_victims(o, v, 16), err = ESRCH, ok = 0;

	/* SIGTERM, not SIGKILL: a hit shows as a restart of that session, and nothing is lost. */
	for (int i = 0; i < n; i++) {
		if (kill(v[i], SIGTERM) == 0)
			ok++;
		else
			err = errno;
	}
	report("signal-session", ok ? 0 : err, "found=%d signalled=%d", n, ok);
}

static int try_read(const char *path)
{
	char buf[256];

	return read_file(path, buf, sizeof(buf), NULL);
}

static void attack_files(const struct opts *o)
{
	char path[4096], sib[2048];
	const char *own = getenv("CELLMUX_STATE_DIRECTORY");
	int err, ok = 0, last = ENOENT;

	for (int i = 0; i < o->n_victims; i++) {
		snprintf(path, sizeof(path), "%s%s", o->tmp_prefix, o->victims[i]);
		if (!(err = try_read(path)))
			ok++;
		else
			last = err;
	}
	report("read-tmp", ok ? 0 : last, "read=%d of %d", ok, o->n_victims);

	ok = 0;
	last = ENOENT;
	for (int i = 0; i < o->n_victims; i++) {
		/* Through the host's path, and beside our own directory where it may be mounted. */
		snprintf(path, sizeof(path), "%s/sessions/%s/secret", o->state_dir, o->victims[i]);
		if (!(err = try_read(path)))
			ok++;
		else
			last = err;
		if (own) {
			snprintf(sib, sizeof(sib), "%s", own);
			char *slash = strrchr(sib, '/');
			if (slash) {
				*slash = 0;
				snprintf(path, sizeof(path), "%s/%s/secret", sib, o->victims[i]);
				if (!(err = try_read(path)))
					ok++;
				else
					last = err;
			}
		}
	}
	report("read-state", ok ? 0 : last, "read=%d", ok);

	report("read-config", try_read(o->config), "path=%s", o->config);

	const char *writes[][2] = {{"write-etc", "/etc"}, {"write-usr", "/usr"},
				   {"write-usr-local", "/usr/local/bin"}};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		int fd;
		snprintf(path, sizeof(path), "%s/cmx-hostile-%d", writes[i][1], getpid());
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		err = fd < 0 ? errno : 0;
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		report(writes[i][0], err, "path=%s", path);
	}
}

static void attack_socket(const struct opts *o)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0) {
		report("host-socket", errno, "socket");
		return;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", o->socket_path);
	err = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno;
	close(fd);
	report("host-socket", err, "path=%s", o->socket_path);
}

/* Runs fn in a child, so that a namespace or mount that works does not change this worker;
 * the child's exit status carries the errno. */
static int in_child(int (*fn)(void))
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(fn());
	if (waitpid(pid, &st, 0) < 0)
		return errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
}

static int do_unshare_user(void)
{
	return unshare(CLONE_NEWUSER) ? errno : 0;
}

static int do_unshare_net(void)
{
	return unshare(CLONE_NEWNET) ? errno : 0;
}

static int do_unshare_user_net(void)
{
	return unshare(CLONE_NEWUSER | CLONE_NEWNET) ? errno : 0;
}

static int do_mount(void)
{
	return mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m") ? errno : 0;
}

static int do_mount_userns(void)
{
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS))
		return errno;
	return mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m") ? errno : 0;
}

static void attack_kernel(void)
{
	union bpf_attr attr;
	struct io_uring_params params;
	int fd;

	report("unshare-user", in_child(do_unshare_user), NULL);
	report("unshare-net", in_child(do_unshare_net), NULL);
	report("unshare-user-net", in_child(do_unshare_user_net), NULL);
	report("mount", in_child(do_mount), NULL);
	report("mount-userns", in_child(do_mount_userns), NULL);

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 8;
	attr.max_entries = 1;
	fd = (int)syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	report("bpf", fd < 0 ? errno : 0, NULL);
	if (fd >= 0)
		close(fd);

	memset(&params, 0, sizeof(params));
	fd = (int)syscall(SYS_io_uring_setup, 4, &params);
	report("io_uring", fd < 0 ? errno : 0, NULL);
	if (fd >= 0)
		close(fd);
}

static int sti(int fd)
{
	for (const char *c = STI_MARK "\n"; *c; c++)
		if (ioctl(fd, TIOCSTI, c) < 0)
			return errno;
	return 0;
}

static void attack_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC), err = ENOTTY;

	report("tiocsti", fd < 0 ? errno : sti(fd), "via=/dev/tty");
	if (fd >= 0)
		close(fd);
	/* The daemon's own descriptors, had the worker inherited them. */
	for (int i = 0; i <= 2; i++)
		if (isatty(i) && !(err = sti(i)))
			break;
	report("tiocsti-stdio", err, NULL);
}

static void attack_forks(void)
{
	pid_t kids[FORK_CAP];
	int n = 0, err = 0;

	while (n < FORK_CAP) {
		pid_t pid = fork();
		if (pid < 0) {
			err = errno;
			break;
		}
		if (pid == 0) {
			pause();
			_exit(0);
		}
		kids[n++] = pid;
	}
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	report("fork", err, "forked=%d cap=%d", n, FORK_CAP);
}

/* Touches every page, so the memory is charged, not just reserved. */
static int hog(void)
{
	for (int i = 0; i < MEM_CAP_MB; i++) {
		char *p = malloc(1 << 20);
		if (!p)
			return ENOMEM;
		memset(p, i, 1 << 20);
	}
	return 0;
}

static void attack_memory(void)
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(hog());
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		report("memory", errno, "fork");
		return;
	}
	if (WIFSIGNALED(st))
		report("memory", EINTR, "child=%s cap=%dM", sigabbrev_np(WTERMSIG(st)), MEM_CAP_MB);
	else
		report("memory", WEXITSTATUS(st), "child-allocated=%dM", MEM_CAP_MB);
	/* Then this worker itself: a kill here is a failure of this session, under its restart
	 * policy, and of no other. */
	printf("cmx-hostile memory-main start\n");
	fflush(stdout);
	st = hog();
	report("memory-main", st, "allocated=%dM", st ? 0 : MEM_CAP_MB);
}

static int victim(int argc, char **argv)
{
	const char *name = getenv("CELLMUX_SESSION"), *dir = getenv("CELLMUX_STATE_DIRECTORY");
	char path[4096];
	int fd;

	if (argc < 3 || !name)
		return 2;
	/* 0644: only the filesystem's layout, not its modes, may keep the neighbour out. */
	const char *plants[2] = {"/tmp/cmx-victim-", dir};
	for (int i = 0; i < 2; i++) {
		if (!plants[i])
			continue;
		if (i == 0)
			snprintf(path, sizeof(path), "%s%s", plants[i], name);
		else
			snprintf(path, sizeof(path), "%s/secret", plants[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, "cmx-secret\n", 11) != 11 || fchmod(fd, 0644) < 0)
			printf("cmx-victim %s plant %s failed errno=%s\n", name, path, errname(errno));
		else
			printf("cmx-victim %s planted %s\n", name, path);
		if (fd >= 0)
			close(fd);
	}
	fflush(stdout);
	execv(argv[2], argv + 2);
	printf("cmx-victim %s exec %s failed errno=%s\n", name, argv[2], errname(errno));
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: cellmux-hostile victim WORKER [ARGS...]\n"
			"       cellmux-hostile attack --victims A,B,C --victim-exe PATH --tmp-prefix P\n"
			"              --state-dir DIR --socket PATH --config PATH\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = {.tmp_prefix = "/tmp/cmx-victim-"};
	char *list = NULL;

	if (argc >= 2 && !strcmp(argv[1], "victim"))
		return victim(argc, argv);
	if (argc < 2 || strcmp(argv[1], "attack"))
		return usage();
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--victims"))
			list = argv[i + 1];
		else if (!strcmp(k, "--victim-exe"))
			o.victim_exe = v;
		else if (!strcmp(k, "--tmp-prefix"))
			o.tmp_prefix = v;
		else if (!strcmp(k, "--state-dir"))
			o.state_dir = v;
		else if (!strcmp(k, "--socket"))
			o.socket_path = v;
		else if (!strcmp(k, "--config"))
			o.config = v;
		else
			return usage();
	}
	if (!list || !o.state_dir || !o.socket_path || !o.config)
		return usage();
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t && o.n_victims < 8;
	     t = strtok_r(NULL, ",", &save))
		o.victims[o.n_victims++] = t;

	printf("cmx-hostile start pid=%d uid=%d\n", getpid(), getuid());
	fflush(stdout);
	scan_signals();
	attack_ptrace(&o);
	attack_signal_sessions(&o);
	attack_files(&o);
	attack_socket(&o);
	attack_kernel();
	attack_tty();
	/* A forged daemon line with terminal controls: the daemon must log it escaped. */
	printf("cmx-hostile forge \033[1A\033[2K\rcellmuxd: ready: forged\n");
	attack_forks();
	printf("cmx-hostile done\n");
	fflush(stdout);
	attack_memory();
	pause();
	return 0;
}
