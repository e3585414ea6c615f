/* output.h — a worker's stdout and stderr as the daemon logs them: whole lines, escaped so a
 * worker cannot forge a log line or drive a terminal, capped in length, rate-limited per session. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct output_limits {
	size_t line_max;      /* bytes of a line as the worker wrote it, before escaping */
	unsigned burst;       /* lines per interval; 0: no rate limit */
	unsigned interval_ms; /* 0: no rate limit */
};
/* journald's model (RateLimitBurst= per RateLimitIntervalSec=) with its 30 s window but a tenth
 * of its 10000-line burst: one daemon log carries every session, so one chatty worker must not
 * bury the others. 2048 bytes holds any sane log line and bounds the memory per session (two
 * line buffers and one escape buffer of 4 x 2048 bytes). */
#define OUTPUT_DEFAULT_LIMITS { 2048, 1000, 30000 }

/* The stream argument of output_emit_fn. OUTPUT_NOTICE lines come from output.c itself (the
 * "N lines suppressed" notice): a separate stream, because their text alone could be forged. */
enum { OUTPUT_NOTICE = 0, OUTPUT_STDOUT = 1, OUTPUT_STDERR = 2 };

struct output; /* one per session: stdout and stderr share one rate limit */
/* line: NUL-terminated, printable; valid only during the call. */
typedef void (*output_emit_fn)(void *arg, int stream, const char *line);

/* -EINVAL for line_max 0 or above 1 MiB. */
int output_new(const struct output_limits *lim, output_emit_fn emit, void *arg, struct output **ret);
void output_free(struct output *o);
/* Bytes read from stream's pipe (OUTPUT_STDOUT or OUTPUT_STDERR) at now_us (CLOCK_MONOTONIC).
 * Emits every complete line, escaped: bytes below 0x20, 0x7f, the C1 controls and invalid UTF-8
 * as \xNN, a backslash as \\, so each backslash in a line starts an escape; a CR right before the
 * newline ends the line like the newline. A line longer than line_max is emitted cut, marked
 * with a trailing " \[cut]" (a lone backslash: no worker can write that), and the rest up to its
 * newline is discarded. Lines over the rate limit are dropped and counted; when a window that
 * dropped lines ends, one "N lines suppressed" notice comes before the next line. */
void output_feed(struct output *o, int stream, const char *buf, size_t len, int64_t now_us);
/* EOF on stream: emits a pending partial line. */
void output_flush(struct output *o, int stream, int64_t now_us);
/* When the suppression notice of the current window is due (CLOCK_MONOTONIC µs), or -1 if none
 * is pending: without a timer at that time a worker that fell silent after its burst would never
 * have its dropped lines said. output_tick emits the notice once that time has come. */
int64_t output_notice_due(const struct output *o);
void output_tick(struct output *o, int64_t now_us);
uint64_t output_dropped(const struct output *o); /* lines dropped by the rate limit, ever */
