/* log.c — writes one line per message to stderr; "<N>" priority prefixes when stderr is the
 * journal (JOURNAL_STREAM names stderr), a level word otherwise. */
#include "common/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int max_level = LOG_INFO;
static const char *ident = "cellmux";
static bool to_journal;

static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_open(const char *name)
{
	const char *lvl = getenv("CELLMUX_LOG_LEVEL");

	ident = name;
	to_journal = stderr_is_journal();
	if (lvl && !strcmp(lvl, "debug"))
		max_level = LOG_DEBUG;
}

void log_set_max_level(int level)
{
	max_level = level;
}

int log_get_max_level(void)
{
	return max_level;
}

void log_emit(int level, const char *fmt, ...)
{
	static const char *const words[] = { "emerg", "alert", "crit",	 "error",
					     "warning", "notice", "info", "debug" };
	int saved = errno;
	char line[2048];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	errno = saved; /* vsnprintf's %m reads errno */
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (to_journal)
		fprintf(stderr, "<%d>%s\n", level, line);
	else if (level <= LOG_WARNING)
		fprintf(stderr, "%s: %s: %s\n", ident, words[level & 7], line);
	else
		fprintf(stderr, "%s: %s\n", ident, line);
	errno = saved;
}
