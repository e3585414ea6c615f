/* resolv.c — the per-namespace resolv.conf at /etc/netns/<ns>/resolv.conf: the file
 * `ip netns exec` and cellmux's session workers see as /etc/resolv.conf. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "netns/netns.h"

int resolv_path(const char *ns, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s/resolv.conf", NETNS_ETC_DIR, ns) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int resolv_write(const char *ns, const struct ip_prefix *servers, size_t n)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8], a[IP_PREFIX_STRLEN];
	_cleanup_fclose_ FILE *f = NULL;
	int r;

	if (mkdir(NETNS_ETC_DIR, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	snprintf(dir, sizeof(dir), "%s/%s", NETNS_ETC_DIR, ns);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	r = resolv_path(ns, path, sizeof(path));
	if (r < 0)
		return r;
	/* Written aside and renamed, so a reader never sees half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return negative_errno();
	/* Always written, even with no servers: the host's resolver must never be what a worker
	 * in the namespace falls back to. */
	fprintf(f, "# written by cellmuxd for %s; do not edit\n", ns);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "nameserver %s\n", ip_prefix_fmt(&servers[i], false, a));
	if (fflush(f) != 0 || ferror(f)) {
		r = negative_errno();
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = negative_errno();
		unlink(tmp);
		return r;
	}
	return 0;
}

int resolv_remove(const char *ns)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int r;

	r = resolv_path(ns, path, sizeof(path));
	if (r < 0)
		return r;
	if (unlink(path) < 0 && errno != ENOENT)
		return negative_errno();
	snprintf(dir, sizeof(dir), "%s/%s", NETNS_ETC_DIR, ns);
	/* The operator may keep other files there (hosts, nsswitch.conf): leave them. */
	if (rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY)
		return negative_errno();
	return 0;
}
