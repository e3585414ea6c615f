/* ini.h — the small INI reader under cellmux.conf: [type] and [type NAME] headers, key=value,
 * '#'/';' comment lines. Ours rather than libinih because every error needs its exact line. */
#pragma once

#define INI_LINE_MAX 4096 /* characters per line, not counting the newline */

/* Callbacks get the 1-based line number. type is NULL for keys before the first header; name
 * is NULL for a header without one. Strings are trimmed and valid only during the call. A
 * negative return stops parsing and is handed back by ini_parse_string(). */
struct ini_ops {
	int (*section)(void *userdata, int line, const char *type, const char *name);
	int (*key)(void *userdata, int line, const char *type, const char *name, const char *key,
		   const char *value);
	/* A malformed line; parsing stops with -EINVAL right after. May be NULL. */
	void (*error)(void *userdata, int line, const char *msg);
};

int ini_parse_string(const char *text, const struct ini_ops *ops, void *userdata);
