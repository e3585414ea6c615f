/* log.h — the one logger of cellmux: journald-friendly lines on stderr.
 * Libraries (netns/, bpf/, router/, proto/) log at debug only; daemon and tools add context. */
#pragma once

#include <errno.h>
#include <syslog.h>

void log_open(const char *ident);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Keeps errno intact so callers may use %m after it. */
void log_emit(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_emit(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_emit(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_emit(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_emit(LOG_ERR, __VA_ARGS__)

/* systemd style: log with %m standing for the negative errno r, and hand r back. */
#define log_full_errno(level, r, ...)                                                      \
	({                                                                                 \
		int _r = (r);                                                              \
		errno = _r < 0 ? -_r : _r;                                                 \
		log_emit(level, __VA_ARGS__);                                              \
		_r < 0 ? _r : -_r;                                                         \
	})
#define log_error_errno(r, ...) log_full_errno(LOG_ERR, r, __VA_ARGS__)
#define log_warn_errno(r, ...) log_full_errno(LOG_WARNING, r, __VA_ARGS__)
#define log_debug_errno(r, ...) log_full_errno(LOG_DEBUG, r, __VA_ARGS__)
