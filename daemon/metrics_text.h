/* metrics_text.h — the Prometheus text exposition (format 0.0.4) of cellmuxd's status: a pure
 * renderer from the status structs into one buffer, apart from the HTTP glue, unit-tested. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/status.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A growing text buffer. Zeroed is empty; after a failed allocation it keeps what it had and
 * stays failed, so a renderer checks once at the end. */
struct mbuf {
	char *data;
	size_t len, cap;
	bool failed;
};

void mbuf_free(struct mbuf *b);
int mbuf_reserve(struct mbuf *b, size_t cap); /* 0 or -ENOMEM */
void mbuf_put(struct mbuf *b, const char *s, size_t n);
void mbuf_puts(struct mbuf *b, const char *s);
void mbuf_put_u64(struct mbuf *b, uint64_t v);
void mbuf_put_i64(struct mbuf *b, int64_t v);
/* v / 1000 with exactly three decimals ("12.345"): exact, and faster than printf. */
void mbuf_put_milli(struct mbuf *b, int64_t v);
/* A label value as the format wants it: backslash, double quote and newline escaped. */
void mbuf_put_label_value(struct mbuf *b, const char *v);

/* /proc/self figures for the standard process_* families. */
struct metrics_process {
	uint64_t resident_bytes, virtual_bytes;
	int64_t cpu_ms;        /* user + system */
	int64_t start_time_ms; /* Unix time; 0: unknown, no sample */
	uint64_t open_fds, max_fds;
};

struct metrics_label {
	const char *name, *value;
};

struct metrics_input {
	const struct status_daemon *daemon;
	const struct status_uplink *uplinks;
	size_t n_uplinks;
	const struct status_session *sessions;
	size_t n_sessions;
	const struct metrics_process *process; /* NULL: no process_* families */
	/* Labels of cellmux_build_info after version (library versions, say). */
	const struct metrics_label *build_labels;
	size_t n_build_labels;
};

/* Appends the whole exposition to out: 0, or -ENOMEM (out then holds a truncated text). */
int metrics_render(const struct metrics_input *in, struct mbuf *out);
