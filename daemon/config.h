/* config.h — cellmux.conf, parsed and validated as a whole before anything touches the system.
 * Pure code: no root, no kernel; system checks (interfaces, users, executables) are preflight.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "netns/uplink.h"

#define CONFIG_DEFAULT_PATH "/etc/cellmux/cellmux.conf"
#define CONFIG_NAME_MAX 32 /* session and profile names: [A-Za-z0-9_.-], also cgroup names */
#define CONFIG_ERR_MAX 512

enum restart_policy {
	RESTART_NO,
	RESTART_ON_FAILURE,
	RESTART_ALWAYS,
};

struct cfg_daemon {
	char cgroup[256]; /* cgroup v2 path for session cgroups; "" = "<own cgroup>/cellmux" */
	int line;
};

struct cfg_uplink {
	struct uplink_params p;
	unsigned capacity; /* max sessions, >= 1; default CONFIG_DEFAULT_CAPACITY */
	int line;          /* the [uplink NAME] header */
	int iface_line;    /* the interface= line, for preflight errors */
};
#define CONFIG_DEFAULT_CAPACITY 16

struct cfg_profile {
	char name[CONFIG_NAME_MAX + 1];
	char **argv;              /* exec= split like a shell word list (quotes, backslash); NULL-terminated */
	char user[33];            /* default "nobody"; never root */
	enum restart_policy restart; /* default RESTART_ON_FAILURE */
	unsigned restart_sec_ms;     /* first backoff, default 1000 */
	unsigned restart_max_ms;     /* backoff cap, default 60000 */
	int line;
	int exec_line;
	int user_line;
};

struct cfg_session {
	char name[CONFIG_NAME_MAX + 1];
	char profile[CONFIG_NAME_MAX + 1];
	char uplink[UPLINK_NAME_MAX + 1]; /* as written; "" = placed by the router */
	int profile_idx;                  /* resolved index into profiles */
	int uplink_idx;                   /* placement: index into uplinks, after config_load */
	int line;
	int profile_line; /* the profile= line */
	int uplink_line;  /* the uplink= line; 0 when placed by the router */
};

struct cmx_config {
	char *path;
	struct cfg_daemon daemon;
	struct cfg_uplink *uplinks;
	size_t n_uplinks;
	struct cfg_profile *profiles;
	size_t n_profiles;
	struct cfg_session *sessions;
	size_t n_sessions;
};

/* Parses and validates path. On error returns -EINVAL (or -errno for I/O) and writes one
 * "FILE:LINE: message" into err; *ret is only written on success. */
int config_load(const char *path, struct cmx_config **ret, char *err, size_t errlen);
/* The same from a string; path is used for messages only. */
int config_parse_string(const char *path, const char *text, struct cmx_config **ret, char *err,
			size_t errlen);
void config_free(struct cmx_config *c);

const char *restart_policy_to_string(enum restart_policy p);
int config_find_uplink(const struct cmx_config *c, const char *name);  /* index or -ENOENT */
int config_find_profile(const struct cmx_config *c, const char *name); /* index or -ENOENT */
int config_find_session(const struct cmx_config *c, const char *name); /* index or -ENOENT */
/* -EINVAL for anything but "no", "on-failure", "always". */
int restart_policy_from_string(const char *s, enum restart_policy *ret);

/* The name rules of the config, for names that arrive by other ways (admin socket, backend):
 * sessions and profiles [A-Za-z0-9_.-]{1,CONFIG_NAME_MAX} but not "." or ".."; uplinks
 * [a-z0-9_-]{1,UPLINK_NAME_MAX} starting with a letter or digit. */
bool config_name_valid(const char *s);
bool config_uplink_name_valid(const char *s);
