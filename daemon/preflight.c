/* preflight.c — see preflight.h. Read-only: it looks, it never creates. */
#include "daemon/preflight.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "netns/netns.h"

static int fail(char *err, size_t errlen, const struct cmx_config *c, int line, const char *fmt,
		...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "%s:%d: ", c->path, line);
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The interface is where an operator expects it (host namespace), or still inside the uplink's
 * namespace left by a daemon that was killed: uplink_up() reclaims it from there. */
static bool interface_present(const struct uplink_params *p)
{
	char ns[64];
	struct rtnl *nl = NULL;
	bool found = false;
	int nsfd;

	if (rtnl_open(-1, &nl) == 0) {
		found = link_index(nl, p->ifname) > 0;
		rtnl_close(nl);
		nl = NULL;
	}
	if (found || uplink_ns_name_of(p->name, ns, sizeof(ns)) < 0 || !ns_exists(ns))
		return found;
	nsfd = ns_open(ns);
	if (nsfd >= 0 && rtnl_open(nsfd, &nl) == 0) {
		found = link_index(nl, p->ifname) > 0;
		rtnl_close(nl);
	}
	if (nsfd >= 0)
		close(nsfd);
	return found;
}

int preflight_check(const struct cmx_config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->n_uplinks; i++) {
		const struct cfg_uplink *u = &c->uplinks[i];

		/* A qmi uplink without interface= finds it from its device once that is there. */
		if (!u->p.ifname[0])
			continue;
		if (!interface_present(&u->p))
			return fail(err, errlen, c, u->iface_line,
				    "uplink '%s': interface '%s' not found", u->p.name, u->p.ifname);
	}
	for (size_t i = 0; i < c->n_profiles; i++) {
		const struct cfg_profile *p = &c->profiles[i];
		struct passwd *pw;

		if (access(p->argv[0], X_OK) < 0)
			return fail(err, errlen, c, p->exec_line, "profile '%s': exec %s: %s", p->name,
				    p->argv[0], strerror(errno));
		if (!p->user[0])
			continue; /* a dynamic uid per session (sandbox/identity.h) */
		errno = 0;
		pw = getpwnam(p->user);
		if (!pw)
			return fail(err, errlen, c, p->user_line ? p->user_line : p->line,
				    "profile '%s': no such user '%s'", p->name, p->user);
		if (pw->pw_uid == 0)
			return fail(err, errlen, c, p->user_line ? p->user_line : p->line,
				    "profile '%s': user '%s' is root; workers never run as root",
				    p->name, p->user);
	}
	return 0;
}
