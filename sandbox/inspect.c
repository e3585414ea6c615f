/* inspect.c — reads a session worker's confinement back from procfs: credentials, PID namespace,
 * seccomp, no_new_privs and capabilities, so what is shown is what the kernel enforces. */
#include "sandbox/inspect.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /proc/PID/status is about 1.5 KiB; room for a kernel that adds many lines. */
#define STATUS_MAX 16384

enum field {
	F_PPID,
	F_UID,
	F_GID,
	F_NSPID,
	F_SECCOMP,
	F_SECCOMP_FILTERS,
	F_NNP,
	F_CAPPRM,
	F_CAPEFF,
	F_CAPBND,
	F_CAPAMB,
	F_N,
};

static const char *const field_names[F_N] = {
	[F_PPID] = "PPid",
	[F_UID] = "Uid",
	[F_GID] = "Gid",
	[F_NSPID] = "NSpid",
	[F_SECCOMP] = "Seccomp",
	[F_SECCOMP_FILTERS] = "Seccomp_filters",
	[F_NNP] = "NoNewPrivs",
	[F_CAPPRM] = "CapPrm",
	[F_CAPEFF] = "CapEff",
	[F_CAPBND] = "CapBnd",
	[F_CAPAMB] = "CapAmb",
};

/* Up to max decimal numbers separated by blanks, the whole value consumed. */
static int parse_decimals(const char *v, uint64_t *out, size_t max, size_t *ret_n)
{
	size_t n = 0;

	for (;;) {
		char *end;

		while (*v == ' ' || *v == '\t')
			v++;
		if (!*v)
			break;
		if (n == max || !isdigit((unsigned char)*v))
			return -EBADMSG;
		errno = 0;
		out[n] = strtoull(v, &end, 10);
		if (errno)
			return -EBADMSG;
		n++;
		v = end;
		if (*v && *v != ' ' && *v != '\t')
			return -EBADMSG;
	}
	if (n == 0)
		return -EBADMSG;
	*ret_n = n;
	return 0;
}

static int parse_one(const char *v, uint64_t lim, uint64_t *ret)
{
	uint64_t x;
	size_t n;
	int r = parse_decimals(v, &x, 1, &n);

	if (r < 0)
		return r;
	if (x > lim)
		return -EBADMSG;
	*ret = x;
	return 0;
}

/* The kernel prints capability sets as exactly 16 hex digits. */
static int parse_cap(const char *v, uint64_t *ret)
{
	uint64_t x = 0;
	size_t n;

	while (*v == ' ' || *v == '\t')
		v++;
	for (n = 0; isxdigit((unsigned char)v[n]); n++) {
		int c = tolower((unsigned char)v[n]);

		if (n == 16)
			return -EBADMSG;
		x = x << 4 | (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
	}
	if (n == 0 || v[n])
		return -EBADMSG;
	*ret = x;
	return 0;
}

/* Real and effective ids of a "Uid:"/"Gid:" line (real, effective, saved, filesystem). */
static int parse_ids(const char *v, uint32_t *real, uint32_t *eff)
{
	uint64_t x[4];
	size_t n;
	int r = parse_decimals(v, x, 4, &n);

	if (r < 0)
		return r;
	if (n != 4 || x[0] > UINT32_MAX || x[1] > UINT32_MAX)
		return -EBADMSG;
	*real = (uint32_t)x[0];
	*eff = (uint32_t)x[1];
	return 0;
}

static int parse_field(enum field f, const char *v, struct sandbox_view *ret)
{
	uint64_t x[32], one;
	uint32_t a, b;
	size_t n;
	int r;

	switch (f) {
	case F_PPID:
		r = parse_one(v, INT_MAX, &one);
		ret->ppid = (pid_t)one;
		return r;
	case F_UID:
		r = parse_ids(v, &a, &b);
		ret->uid = a, ret->euid = b;
		return r;
	case F_GID:
		r = parse_ids(v, &a, &b);
		ret->gid = a, ret->egid = b;
		return r;
	case F_NSPID:
		/* One pid per nested PID namespace (at most 32 levels), outermost first. */
		r = parse_decimals(v, x, 32, &n);
		if (r == 0 && x[n - 1] > INT_MAX)
			r = -EBADMSG;
		if (r == 0)
			ret->ns_pid = (pid_t)x[n - 1];
		return r;
	case F_SECCOMP:
		r = parse_one(v, UINT_MAX, &one);
		ret->seccomp = (unsigned)one;
		return r;
	case F_SECCOMP_FILTERS:
		r = parse_one(v, UINT_MAX, &one);
		ret->seccomp_filters = (unsigned)one;
		ret->have_seccomp_filters = r == 0;
		return r;
	case F_NNP:
		r = parse_one(v, 1, &one);
		ret->no_new_privs = one;
		return r;
	case F_CAPPRM:
		return parse_cap(v, &ret->cap_prm);
	case F_CAPEFF:
		return parse_cap(v, &ret->cap_eff);
	case F_CAPBND:
		return parse_cap(v, &ret->cap_bnd);
	case F_CAPAMB:
		return parse_cap(v, &ret->cap_amb);
	case F_N:
		break;
	}
	return -EBADMSG;
}

int sandbox_parse_status(const char *text, size_t len, struct sandbox_view *ret)
{
	struct sandbox_view v = *ret;
	bool seen[F_N] = { 0 };
	const char *p = text, *end = text + len;
	char line[512];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		char *colon;
		int f;

		/* No field we read is near this long; a long line (Groups: of a big account) is
		 * skipped whole rather than cut and misread. */
		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			colon = strchr(line, ':');
			for (f = 0; colon && f < F_N; f++) {
				if ((size_t)(colon - line) != strlen(field_names[f]) ||
				    memcmp(line, field_names[f], (size_t)(colon - line)))
					continue;
				if (seen[f] || parse_field(f, colon + 1, &v) < 0)
					return -EBADMSG;
				seen[f] = true;
				break;
			}
		}
		p += n + (nl != NULL);
	}
	for (int f = 0; f < F_N; f++)
		if (!seen[f] && f != F_SECCOMP_FILTERS)
			return -EBADMSG;
	*ret = v;
	return 0;
}

static int read_text(const char *path, char *buf, size_t size, size_t *ret_len)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			close(fd);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*ret_len = len;
	return 0;
}

/* The inode of "pid:[NNN]". */
static int pidns_inode(const char *path, uint64_t *ret)
{
	char link[64], *end;
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	uint64_t ino;

	if (n < 0)
		return -errno;
	link[n] = '\0';
	if (strncmp(link, "pid:[", 5) || !isdigit((unsigned char)link[5]))
		return -EBADMSG;
	errno = 0;
	ino = strtoull(link + 5, &end, 10);
	if (errno || strcmp(end, "]"))
		return -EBADMSG;
	*ret = ino;
	return 0;
}

/* The reader's own PID namespace: fixed for a process's life (unshare changes its children's),
 * so read once, not once per session a /metrics scrape inspects. Per thread, so no lock; keyed
 * on the pid for a child cloned into a namespace of its own. */
static int self_pidns_inode(uint64_t *ret)
{
	static _Thread_local pid_t at;
	static _Thread_local uint64_t ino;
	pid_t me = getpid();

	if (at != me) {
		int r = pidns_inode("/proc/self/ns/pid", &ino);

		if (r < 0)
			return r;
		at = me;
	}
	*ret = ino;
	return 0;
}

static int first_child(pid_t pid, pid_t *ret)
{
	char path[64], buf[64];
	unsigned long long c;
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	/* Only the first pid matters; a buffer that cuts a long list still holds it whole. */
	r = read_text(path, buf, sizeof(buf), &len);
	if (r < 0)
		return r;
	if (sscanf(buf, "%llu", &c) != 1 || c == 0 || c > INT_MAX)
		return -ENOENT;
	*ret = (pid_t)c;
	return 0;
}

static int read_one(pid_t pid, struct sandbox_view *ret)
{
	char path[64], *buf;
	uint64_t self = 0;
	size_t len = 0;
	int r;

	buf = malloc(STATUS_MAX);
	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	r = read_text(path, buf, STATUS_MAX, &len);
	if (r == 0)
		r = sandbox_parse_status(buf, len, ret);
	free(buf);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	r = pidns_inode(path, &ret->pidns_inode);
	if (r == 0)
		r = self_pidns_inode(&self);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	ret->pid = pid;
	ret->pidns_private = ret->pidns_inode != self;
	return 0;
}

int sandbox_inspect(pid_t init_pid, struct sandbox_view *ret)
{
	struct sandbox_view v = { 0 };
	pid_t worker;
	int r;

	if (init_pid <= 0)
		return -EINVAL;
	/* The worker may exit, and its pid be reused, between reading the list and reading its
	 * status: the PPid line tells whether what was read is still the init's child. */
	if (first_child(init_pid, &worker) == 0 && read_one(worker, &v) == 0 &&
	    v.ppid == init_pid) {
		v.is_worker = true;
		*ret = v;
		return 0;
	}
	memset(&v, 0, sizeof(v));
	r = read_one(init_pid, &v);
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

const char *sandbox_seccomp_to_string(unsigned mode)
{
	switch (mode) {
	case SANDBOX_SECCOMP_DISABLED:
		return "disabled";
	case SANDBOX_SECCOMP_STRICT:
		return "strict";
	case SANDBOX_SECCOMP_FILTER:
		return "filter";
	}
	return "unknown";
}
