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
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool wait_gone(pid_t pid, const char *comm, long ms)
{
	for (long t = 0; t < ms; t += 10) {
		if (!proc_is(pid, comm))
			return true;
		sleep_ms(10);
	}
	return !proc_is(pid, comm);
}

int proc_stop(pid_t pid, const char *comm)
{
	if (!proc_is(pid, comm))
		return 0;
	log_debug("stopping %s (pid %d)", comm, (int)pid);
	if (kill(pid, SIGTERM) < 0)
		return errno == ESRCH ? 0 : negative_errno();
	if (wait_gone(pid, comm, 3000))
		return 0;
	log_warn("%s (pid %d) ignored SIGTERM; killing it", comm, (int)pid);
	if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
		return negative_errno();
	return wait_gone(pid, comm, 2000) ? 0 : -ETIMEDOUT;
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

int ns_stop_daemons(const char *ns)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct stat nst, st;
	struct dirent *de;
	char path[300];
	int ret = 0;

	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", ns);
	if (stat(path, &nst) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	d = opendir("/proc");
	if (!d)
		return negative_errno();
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		const char *comm;

		if (pid <= 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		if (stat(path, &st) < 0 || st.st_ino != nst.st_ino || st.st_dev != nst.st_dev)
			continue;
		comm = proc_is(pid, SIM_DNSMASQ_COMM) ? SIM_DNSMASQ_COMM
		       : proc_is(pid, SIM_HTTPD_COMM) ? SIM_HTTPD_COMM
						      : NULL;
		if (comm) {
			int r = proc_stop(pid, comm);

			if (r < 0)
				ret = log_warn_errno(r, "stopping %s (pid %d) in %s: %m", comm,
						     (int)pid, ns);
		} else {
			log_warn("pid %d still runs in %s; the namespace lives on until it exits",
				 (int)pid, ns);
		}
	}
	return ret;
}
