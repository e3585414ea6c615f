/* proc.c — the sim's daemons as processes: started inside a namespace, found again through pid
 * files or their network namespace, and stopped only after checking they are what we think. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/netns.h"
#include "tools/sim/sim.h"

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

int write_file(const char *path, const char *content)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC | O_CREAT, 0644);
	size_t len = strlen(content);
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	n = write(fd, content, len);
	if (n < 0)
		return negative_errno();
	return (size_t)n == len ? 0 : -EIO;
}

int pidfile_read(const char *path, pid_t *ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	long pid;

	if (!f)
		return negative_errno();
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		return -EBADMSG;
	*ret = (pid_t)pid;
	return 0;
}

/* Written next to its final name and renamed, so a reader never sees it half written. */
int pidfile_write(const char *path, pid_t pid)
{
	char tmp[256], buf[32];
	int r;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	r = write_file(tmp, buf);
	if (r < 0)
		return r;
	if (rename(tmp, path) < 0) {
		r = negative_errno();
		unlink(tmp);
		return r;
	}
	return 0;
}

/* A zombie or a gone pid is not running; a reused pid with another name is not ours. */
bool proc_is(pid_t pid, const char *comm)
{
	char path[64], buf[512], *p;
	_cleanup_fclose_ FILE *f = NULL;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold spaces and parentheses, so split at the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return false;
	*p = '\0';
	p = strchr(buf, '(');
	return p && !strcmp(p + 1, comm);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* SIGTERM to all first and one wait for all: daemons exit in parallel, not one after another. */
int procs_stop(const pid_t *pids, const char *const *comms, size_t n)
{
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		if (!proc_is(pids[i], comms[i]))
			continue;
		log_debug("stopping %s (pid %d)", comms[i], (int)pids[i]);
		if (kill(pids[i], SIGTERM) < 0 && errno != ESRCH)
			ret = negative_errno();
	}
	for (int pass = 0; pass < 2; pass++) {
		bool all_gone = false;

		/* 3 s for SIGTERM, then 2 s more after SIGKILL. */
		for (long t = 0; t < (pass ? 2000 : 3000) && !all_gone; t += 10) {
			all_gone = true;
			for (size_t i = 0; i < n && all_gone; i++)
				all_gone = !proc_is(pids[i], comms[i]);
			if (!all_gone)
				sleep_ms(10);
		}
		if (all_gone)
			return ret;
		for (size_t i = 0; i < n; i++) {
			if (!proc_is(pids[i], comms[i]))
				continue;
			if (pass)
				return -ETIMEDOUT;
			log_warn("%s (pid %d) ignored SIGTERM; killing it", comms[i], (int)pids[i]);
			kill(pids[i], SIGKILL);
		}
	}
	return ret;
}

int proc_stop(pid_t pid, const char *comm)
{
	return procs_stop(&pid, &comm, 1);
}

int spawn_in_ns(int nsfd, const char *path, char *const argv[])
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		int saved, null;

		if (ns_enter(nsfd, &saved) < 0)
			_exit(126);
		close(saved);
		/* Our stdout may be a pipe someone reads to EOF; a daemon must not hold it. */
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		/* Nor any other fd our caller leaked to us without O_CLOEXEC. */
		close_range(3, ~0U, 0);
		execv(path, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOEXEC;
	return -ECHILD;
}

int ns_stop_daemons(const char *const *names, size_t n)
{
	_cleanup_(closedirp) DIR *d = NULL;
	_cleanup_free_ struct stat *nst = calloc(n ? n : 1, sizeof(*nst));
	_cleanup_free_ const char **comms = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	size_t npids = 0, cap = 0;
	struct dirent *de;
	char path[300];

	if (!nst)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", names[i]);
		if (stat(path, &nst[i]) < 0)
			nst[i].st_ino = 0;
	}
	d = opendir("/proc");
	if (!d)
		return negative_errno();
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		const char *comm;
		struct stat st;
		size_t i;

		if (pid <= 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		if (stat(path, &st) < 0)
			continue;
		for (i = 0; i < n; i++)
			if (nst[i].st_ino && st.st_ino == nst[i].st_ino &&
			    st.st_dev == nst[i].st_dev)
				break;
		if (i == n)
			continue;
		comm = proc_is(pid, SIM_DNSMASQ_COMM) ? SIM_DNSMASQ_COMM
		       : proc_is(pid, SIM_HTTPD_COMM) ? SIM_HTTPD_COMM
						      : NULL;
		if (!comm) {
			log_warn("pid %d still runs in %s; the namespace lives on until it exits",
				 (int)pid, names[i]);
			continue;
		}
		if (npids == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			pid_t *np = realloc(pids, ncap * sizeof(*np));
			const char **nc;

			if (!np)
				return -ENOMEM;
			pids = np;
			nc = realloc(comms, ncap * sizeof(*nc));
			if (!nc)
				return -ENOMEM;
			comms = nc;
			cap = ncap;
		}
		pids[npids] = pid;
		comms[npids++] = comm;
	}
	return procs_stop(pids, comms, npids);
}
