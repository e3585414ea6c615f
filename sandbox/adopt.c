/* adopt.c — finding and taking back an orphaned session (see adopt.h). */
#include "sandbox/adopt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "sandbox/spawn.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* Whether /proc/PID/status says it is PID 1 of a namespace below ours: "NSpid: 1234 1". */
static bool is_ns_init(pid_t pid)
{
	char path[64], line[256];
	bool r = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *last, *p;

		if (strncmp(line, "NSpid:", 6))
			continue;
		line[strcspn(line, "\n")] = 0;
		last = strrchr(line, '\t');
		p = strchr(line, '\t');
		r = last && p != last && !strcmp(last + 1, "1");
		break;
	}
	fclose(f);
	return r;
}

int adopt_find_init(const char *dir, pid_t *ret)
{
	char path[PATH_MAX];
	FILE *f;
	int pid, r = -ENOENT;

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fscanf(f, "%d", &pid) == 1)
		if (pid > 0 && is_ns_init(pid)) {
			*ret = pid;
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

/* Whether pid's cgroup v2 path ends in dir's path below the v2 mount. */
static bool in_cgroup(pid_t pid, const char *dir)
{
	char path[64], line[PATH_MAX + 8];
	bool r = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		size_t n, d = strlen(dir);

		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		n = strlen(line + 3);
		/* dir is absolute on the v2 mount; /proc shows the path below the mount. */
		r = n > 1 && n <= d && !strcmp(dir + d - n, line + 3);
		break;
	}
	fclose(f);
	return r;
}

static int getfd(int pidfd, int target, int *ret)
{
	int fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);

	if (fd < 0)
		return negative_errno();
	*ret = fd; /* O_CLOEXEC, as pidfd_getfd(2) always sets */
	return 0;
}

int adopt_take(const char *dir, pid_t pid, struct adopted *ret)
{
	struct adopted a = { .pid = pid, .pidfd = -1, .ctl_fd = -1, .out_fd = -1, .status_fd = -1 };
	struct stat st;
	int type = 0, r;
	socklen_t len = sizeof(type);

	a.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (a.pidfd < 0)
		return negative_errno();
	/* With the pidfd held the pid cannot be reused; before, it could have been. */
	if (!in_cgroup(pid, dir) || !is_ns_init(pid)) {
		r = -ESRCH;
		goto fail;
	}
	if ((r = getfd(a.pidfd, SPAWN_INIT_HOLD_FD, &a.ctl_fd)) < 0 ||
	    (r = getfd(a.pidfd, SPAWN_INIT_HOLD_FD + 1, &a.out_fd)) < 0 ||
	    (r = getfd(a.pidfd, SPAWN_INIT_STATUS_FD, &a.status_fd)) < 0)
		goto fail;
	/* What an init of ours holds there: anything else is not one of our sessions. */
	if (getsockopt(a.ctl_fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET ||
	    fstat(a.out_fd, &st) < 0 || !S_ISFIFO(st.st_mode) || fstat(a.status_fd, &st) < 0 ||
	    !S_ISFIFO(st.st_mode)) {
		r = -EPROTO;
		goto fail;
	}
	*ret = a;
	return 0;
fail:
	adopt_close(&a);
	return r;
}

void adopt_close(struct adopted *a)
{
	int *fds[] = { &a->pidfd, &a->ctl_fd, &a->out_fd, &a->status_fd };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int adopt_exit_status(int pidfd, int status_fd, int *status, bool *known)
{
	siginfo_t si = { 0 };
	int st;
	ssize_t n;

	*known = false;
	*status = 0;
	if (syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED | WNOHANG, NULL) == 0) {
		if (si.si_pid == 0)
			return -EAGAIN; /* still running */
		*known = true;
		*status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0)
						   : W_EXITCODE(0, si.si_status);
		return 0;
	}
	if (errno != ECHILD)
		return negative_errno();
	/* Not ours to wait for: what the init wrote before exiting, if anyone held the pipe. */
	if (status_fd >= 0) {
		int fl = fcntl(status_fd, F_GETFL);

		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(status_fd, F_SETFL, fl | O_NONBLOCK);
		n = read(status_fd, &st, sizeof(st));
		if (n == (ssize_t)sizeof(st) && st >= 0 && st <= 255) {
			*status = W_EXITCODE(st, 0);
			*known = true;
		}
	}
	return 0;
}
