/* preflight.c — see preflight.h. Read-only: it looks, it never creates (the store makes state_dir
 * 0700 later, daemon/store.c). */
#include "daemon/preflight.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "daemon/listener.h"
#include "netns/netns.h"

static int fail(char *err, size_t errlen, const struct cmx_config *c, int line, const char *fmt,
		...)
{
	va_list ap;
	int n;

	/* line 0: a default value, not written anywhere in the file */
	n = line > 0 ? snprintf(err, errlen, "%s:%d: ", c->path, line)
		     : snprintf(err, errlen, "%s: ", c->path);
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

static bool host_name_taken(const struct uplink_params *p)
{
	struct rtnl *nl = NULL;
	char ns[64];
	bool in_host = false, in_ns = false;
	int nsfd;

	if (rtnl_open(-1, &nl) == 0) {
		in_host = link_index(nl, p->ifname) > 0;
		rtnl_close(nl);
		nl = NULL;
	}
	if (!in_host || uplink_ns_name_of(p->name, ns, sizeof(ns)) < 0 || !ns_exists(ns))
		return in_host;
	nsfd = ns_open(ns);
	if (nsfd >= 0 && rtnl_open(nsfd, &nl) == 0) {
		in_ns = link_index(nl, p->ifname) > 0;
		rtnl_close(nl);
	}
	if (nsfd >= 0)
		close(nsfd);
	return !in_ns;
}

/* A SIM PIN or APN password in the config makes the file root's alone: workers run under other
 * uids on the same host and must not read it (nor must any local user). */
static int check_secret_file(const struct cmx_config *c, char *err, size_t errlen)
{
	struct stat st;

	if (!c->secret_line)
		return 0;
	if (stat(c->path, &st) < 0)
		return fail(err, errlen, c, c->secret_line, "%s= here, but the file cannot be checked: %s",
			    c->secret_key, strerror(errno));
	if (st.st_uid != 0)
		return fail(err, errlen, c, c->secret_line,
			    "%s= in a file owned by uid %u, not root: chown root %s", c->secret_key,
			    (unsigned)st.st_uid, c->path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return fail(err, errlen, c, c->secret_line,
			    "%s= in a file group or others can read (mode %04o): chmod 600 %s",
			    c->secret_key, (unsigned)(st.st_mode & 07777), c->path);
	return 0;
}

/* The bearer token lets anyone act as this gateway towards the backend. A missing file is left to
 * the connect that reads it (it may be provisioned later). */
static int check_token_file(const struct cmx_config *c, char *err, size_t errlen)
{
	const struct cfg_backend *b = &c->backend;
	struct stat st;

	if (!b->enabled || !b->token_file[0])
		return 0;
	if (stat(b->token_file, &st) < 0)
		return errno == ENOENT ? 0
				       : fail(err, errlen, c, b->token_file_line, "token_file=%s: %s",
					      b->token_file, strerror(errno));
	if (st.st_uid != 0)
		return fail(err, errlen, c, b->token_file_line,
			    "token_file=%s is owned by uid %u, not root", b->token_file,
			    (unsigned)st.st_uid);
	if (st.st_mode & S_IRWXO)
		return fail(err, errlen, c, b->token_file_line,
			    "token_file=%s is readable by others (mode %04o): chmod o-rwx it",
			    b->token_file, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* The store holds what the backend sent and what workers reported: another user who owned the
 * directory could swap the database under the daemon. Its mode is forced to 0700 when the store
 * opens; an existing directory is only looked at here. */
static int check_state_dir(const struct cmx_config *c, char *err, size_t errlen)
{
	const char *dir = c->daemon.state_dir[0] ? c->daemon.state_dir : CONFIG_DEFAULT_STATE_DIR;
	int line = c->daemon.state_dir_line;
	struct stat st;

	if (lstat(dir, &st) < 0)
		return 0; /* made by the store, 0700 */
	if (!S_ISDIR(st.st_mode))
		return fail(err, errlen, c, line, "state_dir %s is not a directory", dir);
	if (st.st_uid != 0)
		return fail(err, errlen, c, line, "state_dir %s is owned by uid %u, not root", dir,
			    (unsigned)st.st_uid);
	return 0;
}

/* A port another program holds would fail the session at every start: say so now. */
static int check_listens(const struct cmx_config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->n_sessions; i++) {
		const struct cfg_session *s = &c->sessions[i];
		const struct cfg_listens *ls =
			config_session_listens(&c->profiles[s->profile_idx], s);

		for (size_t k = 0; k < ls->n; k++) {
			char what[160];
			int r = listener_probe(&ls->v[k]);

			if (r >= 0)
				continue;
			config_listen_format(&ls->v[k], what, sizeof(what));
			return fail(err, errlen, c, ls->line ? ls->line : s->line,
				    "session '%s': listen on %s: %s", s->name, what,
				    r == -EADDRINUSE ? "address already in use" : strerror(-r));
		}
	}
	return 0;
}

int preflight_check(const struct cmx_config *c, char *err, size_t errlen)
{
	int r;

	r = check_secret_file(c, err, errlen);
	if (r < 0)
		return r;
	r = check_token_file(c, err, errlen);
	if (r < 0)
		return r;
	r = check_state_dir(c, err, errlen);
	if (r < 0)
		return r;
	r = check_listens(c, err, errlen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n_uplinks; i++) {
		const struct cfg_uplink *u = &c->uplinks[i];

		/* A qmi uplink without interface= finds it from its device once that is there. */
		if (!u->p.ifname[0])
			continue;
		if (!strcmp(u->p.driver, "host")) {
			/* cellmux makes this veth: a name already taken in the host namespace is
			 * someone else's interface, unless its peer sits in a namespace a killed
			 * daemon left (uplink_up() takes that over). */
			if (host_name_taken(&u->p))
				return fail(err, errlen, c, u->iface_line,
					    "uplink '%s': interface '%s' already exists in the host "
					    "namespace (driver=host creates it; choose another "
					    "interface=)",
					    u->p.name, u->p.ifname);
			continue;
		}
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
		for (int k = 0; k < 2; k++)
			for (char **b = k ? p->bind_rw : p->bind_ro; b && *b; b++)
				if (access(*b, F_OK) < 0)
					return fail(err, errlen, c, k ? p->bind_rw_line : p->bind_ro_line,
						    "profile '%s': %s %s: %s", p->name,
						    k ? "bind" : "bind_ro", *b, strerror(errno));
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
