/* ini.c — the INI reader (see ini.h). Line-based and strict: anything that is not a header, a
 * key=value, a comment or blank is an error, so typos never silently vanish from a config. */
#include "daemon/ini.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

static int __attribute__((format(printf, 4, 5)))
syntax_error(const struct ini_ops *ops, void *userdata, int line, const char *fmt, ...)
{
	char msg[128];
	va_list ap;

	if (ops->error) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		ops->error(userdata, line, msg);
	}
	return -EINVAL;
}

/* Splits "[type name]" in place. Returns NULL, or what is wrong with the header. */
static const char *parse_header(char *s, char **ret_type, char **ret_name)
{
	char *close = strchr(s, ']');
	char *type, *name;

	if (!close)
		return "unterminated section header (missing ']')";
	if (*trim(close + 1))
		return "unexpected text after ']'";
	*close = '\0';
	type = trim(s + 1);
	if (strchr(type, '['))
		return "unexpected '[' in section header";
	if (!*type)
		return "empty section header";
	name = type + strcspn(type, " \t");
	if (*name) {
		*name = '\0';
		name = trim(name + 1);
		if (name[strcspn(name, " \t")])
			return "section header has more than one name";
	}
	*ret_type = type;
	*ret_name = *name ? name : NULL;
	return NULL;
}

int ini_parse_string(const char *text, const struct ini_ops *ops, void *userdata)
{
	/* Two line buffers that swap roles, so the current header outlives the lines under it. */
	static_assert(INI_LINE_MAX <= 16384, "two lines must fit on the stack");
	char buf_a[INI_LINE_MAX + 1], buf_b[INI_LINE_MAX + 1];
	char *cur = buf_a, *hdr = buf_b;
	char *type = NULL, *name = NULL;
	const char *p = text;
	int line = 0, r;

	/* Editors on other systems like to start files with a UTF-8 byte order mark. */
	if (!strncmp(p, "\xef\xbb\xbf", 3))
		p += 3;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *why;
		char *s, *eq;

		line++;
		if (len > INI_LINE_MAX)
			return syntax_error(ops, userdata, line, "line longer than %d characters",
					    INI_LINE_MAX);
		memcpy(cur, p, len);
		cur[len] = '\0';
		p += nl ? len + 1 : len;

		s = trim(cur);
		if (!*s || *s == '#' || *s == ';')
			continue;

		if (*s == '[') {
			why = parse_header(s, &type, &name);
			if (why)
				return syntax_error(ops, userdata, line, "%s", why);
			char *swap = hdr; /* type and name point into cur */
			hdr = cur;
			cur = swap;
			r = ops->section ? ops->section(userdata, line, type, name) : 0;
			if (r < 0)
				return r;
			continue;
		}

		eq = strchr(s, '=');
		if (!eq)
			return syntax_error(ops, userdata, line,
					    "expected key=value, [section] or a comment");
		*eq = '\0';
		char *key = trim(s);
		if (!*key)
			return syntax_error(ops, userdata, line, "empty key before '='");
		r = ops->key ? ops->key(userdata, line, type, name, key, trim(eq + 1)) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}
