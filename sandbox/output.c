/* output.c — worker output lines (see output.h): pure logic, no I/O, so the daemon's pipe
 * readers, the unit tests and the fuzzer drive the same code. */
#include "sandbox/output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"

#define OUTPUT_LINE_MAX_LIMIT (1u << 20)
#define OUTPUT_CUT_MARK " \\[cut]"

struct output_stream {
	char *buf; /* line_max bytes of the line being read */
	size_t len;
	bool discarding; /* a cut line's rest, up to its newline */
};

struct output {
	struct output_limits lim;
	output_emit_fn emit;
	void *arg;
	struct output_stream streams[2];
	/* 4 bytes per input byte at worst (\xNN), the mark, the NUL; big enough for the notice */
	char *esc;
	size_t esc_size;
	bool window_open;
	int64_t window_start;
	unsigned window_lines;
	uint64_t window_dropped;
	uint64_t dropped;
};

int output_new(const struct output_limits *lim, output_emit_fn emit, void *arg, struct output **ret)
{
	struct output *o;

	if (!lim || !emit || lim->line_max == 0 || lim->line_max > OUTPUT_LINE_MAX_LIMIT)
		return -EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->lim = *lim;
	o->emit = emit;
	o->arg = arg;
	o->esc_size = 4 * lim->line_max + sizeof(OUTPUT_CUT_MARK) + 128;
	o->esc = malloc(o->esc_size);
	o->streams[0].buf = malloc(lim->line_max);
	o->streams[1].buf = malloc(lim->line_max);
	if (!o->esc || !o->streams[0].buf || !o->streams[1].buf) {
		output_free(o);
		return -ENOMEM;
	}
	*ret = o;
	return 0;
}

void output_free(struct output *o)
{
	if (!o)
		return;
	free(o->streams[0].buf);
	free(o->streams[1].buf);
	free(o->esc);
	free(o);
}

static bool output_limited(const struct output *o)
{
	return o->lim.burst > 0 && o->lim.interval_ms > 0;
}

int64_t output_notice_due(const struct output *o)
{
	if (!o->window_open || o->window_dropped == 0)
		return -1;
	return o->window_start + (int64_t)o->lim.interval_ms * 1000;
}

void output_tick(struct output *o, int64_t now_us)
{
	if (!o->window_open || now_us - o->window_start < (int64_t)o->lim.interval_ms * 1000)
		return;
	if (o->window_dropped) {
		snprintf(o->esc, o->esc_size, "%" PRIu64 " lines suppressed (more than %u in %u ms)",
			 o->window_dropped, o->lim.burst, o->lim.interval_ms);
		o->emit(o->arg, OUTPUT_NOTICE, o->esc);
	}
	o->window_open = false;
	o->window_lines = 0;
	o->window_dropped = 0;
}

/* journald's scheme: a window opens with the first line after the last one closed. */
static bool output_admit(struct output *o, int64_t now_us)
{
	if (!output_limited(o))
		return true;
	output_tick(o, now_us);
	if (!o->window_open) {
		o->window_open = true;
		o->window_start = now_us;
	}
	if (o->window_lines < o->lim.burst) {
		o->window_lines++;
		return true;
	}
	o->window_dropped++;
	o->dropped++;
	return false;
}

static char *output_hex(char *p, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	*p++ = '\\';
	*p++ = 'x';
	*p++ = hex[c >> 4];
	*p++ = hex[c & 15];
	return p;
}

/* Into o->esc, which holds 4 bytes per input byte plus the mark. */
static void output_escape(struct output *o, const unsigned char *s, size_t n, bool cut)
{
	char *p = o->esc;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		int k;

		if (c == '\\') {
			*p++ = '\\';
			*p++ = '\\';
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			p = output_hex(p, c);
			i++;
			continue;
		}
		if (c < 0x80) {
			*p++ = c;
			i++;
			continue;
		}
		k = utf8_char(s + i, n - i);
		/* C1 controls (U+0080..U+009F, 0xC2 0x80..0x9F) are CSI and friends to some
		 * terminals: as dangerous as ESC. */
		if (k <= 0 || (k == 2 && c == 0xC2 && s[i + 1] < 0xA0)) {
			int bad = k == 2 ? 2 : 1;

			for (int j = 0; j < bad; j++)
				p = output_hex(p, s[i + j]);
			i += bad;
			continue;
		}
		memcpy(p, s + i, k);
		p += k;
		i += k;
	}
	if (cut) {
		memcpy(p, OUTPUT_CUT_MARK, sizeof(OUTPUT_CUT_MARK) - 1);
		p += sizeof(OUTPUT_CUT_MARK) - 1;
	}
	*p = '\0';
}

static void output_line(struct output *o, int stream, struct output_stream *st, bool cut,
			int64_t now_us)
{
	size_t n = st->len;

	st->len = 0;
	if (!output_admit(o, now_us))
		return;
	output_escape(o, (const unsigned char *)st->buf, n, cut);
	o->emit(o->arg, stream, o->esc);
}

static struct output_stream *output_stream(struct output *o, int stream)
{
	if (stream != OUTPUT_STDOUT && stream != OUTPUT_STDERR)
		return NULL;
	return &o->streams[stream - 1];
}

void output_feed(struct output *o, int stream, const char *buf, size_t len, int64_t now_us)
{
	struct output_stream *st = output_stream(o, stream);

	if (!st)
		return;
	while (len > 0) {
		const char *nl = memchr(buf, '\n', len);
		size_t seg = nl ? (size_t)(nl - buf) : len;
		size_t used = nl ? seg + 1 : seg;
		size_t room = o->lim.line_max - st->len;
		/* CRLF ends a line like LF; any other CR is escaped, so it cannot return the
		 * cursor over the session prefix. */
		size_t content = nl && seg > 0 && buf[seg - 1] == '\r' ? seg - 1 : seg;

		if (st->discarding) {
			st->discarding = !nl;
		} else if (content > room) {
			memcpy(st->buf + st->len, buf, room);
			st->len += room;
			output_line(o, stream, st, true, now_us);
			st->discarding = !nl;
		} else {
			memcpy(st->buf + st->len, buf, content);
			st->len += content;
			if (nl) {
				/* The CR of a CRLF split across two reads. */
				if (seg == 0 && st->len > 0 && st->buf[st->len - 1] == '\r')
					st->len--;
				output_line(o, stream, st, false, now_us);
			}
		}
		buf += used;
		len -= used;
	}
}

void output_flush(struct output *o, int stream, int64_t now_us)
{
	struct output_stream *st = output_stream(o, stream);

	if (!st)
		return;
	if (st->len > 0 && !st->discarding)
		output_line(o, stream, st, false, now_us);
	st->len = 0;
	st->discarding = false;
}

uint64_t output_dropped(const struct output *o)
{
	return o->dropped;
}
