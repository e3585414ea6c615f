/* output.c — how cellmuxctl prints: JSON that stays valid whatever bytes the daemon relays, tables
 * with aligned columns, text made safe for a terminal, and human units. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cellmuxctl/cellmuxctl.h"

/* The valid UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or values above U+10FFFF):
 * its length and code point, or 0 when s does not start one. s is NUL-terminated, and a NUL never
 * continues a sequence, so reading stops at the end. */
static int utf8_next(const unsigned char *s, uint32_t *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	int need;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xC2 || c > 0xF4)
		return 0;
	if (c < 0xE0) {
		need = 2;
		*cp = c & 0x1F;
	} else if (c < 0xF0) {
		need = 3;
		*cp = c & 0x0F;
		lo = c == 0xE0 ? 0xA0 : 0x80;
		hi = c == 0xED ? 0x9F : 0xBF;
	} else {
		need = 4;
		*cp = c & 0x07;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF;
	}
	for (int i = 1; i < need; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	return need;
}

/* Copies s to f, or to buf when f is NULL (buf has room for strlen(s) + 1: the output is never
 * longer), replacing what a terminal would act on. Returns the width in code points. */
static size_t safe_copy(FILE *f, char *buf, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t width = 0, o = 0;

	while (*u) {
		uint32_t cp;
		int n = utf8_next(u, &cp);

		if (n == 0 || cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) {
			if (f)
				fputc('?', f);
			else
				buf[o++] = '?';
			u += n ? n : 1;
		} else {
			if (f)
				fwrite(u, 1, (size_t)n, f);
			else
				memcpy(buf + o, u, (size_t)n);
			o += (size_t)n;
			u += n;
		}
		width++;
	}
	if (!f)
		buf[o] = '\0';
	return width;
}

void print_safe(FILE *f, const char *s)
{
	safe_copy(f, NULL, s);
}

/* JSON */

void json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first = true;
}

static void json_string(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', f);
	while (*u) {
		uint32_t cp;
		int n = utf8_next(u, &cp);

		if (n == 0) {
			/* JSON must be Unicode: a stray byte becomes U+FFFD. */
			fputs("\\ufffd", f);
			u++;
			continue;
		}
		if (cp == '"' || cp == '\\')
			fprintf(f, "\\%c", (char)cp);
		else if (cp == '\n')
			fputs("\\n", f);
		else if (cp == '\t')
			fputs("\\t", f);
		else if (cp < 0x20 || cp == 0x7F)
			fprintf(f, "\\u%04x", (unsigned)cp);
		else
			fwrite(u, 1, (size_t)n, f);
		u += n;
	}
	fputc('"', f);
}

/* Comma, newline and indentation before the next value; its key, if in an object. */
static void json_key(struct json *j, const char *key)
{
	if (j->depth > 0)
		fputs(j->first ? "\n" : ",\n", j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
	if (key) {
		json_string(j->f, key);
		fputs(": ", j->f);
	}
	j->first = false;
}

void json_open(struct json *j, const char *key, char bracket)
{
	json_key(j, key);
	fputc(bracket, j->f);
	j->depth++;
	j->first = true;
}

void json_close(struct json *j, char bracket)
{
	j->depth--;
	if (!j->first) {
		fputc('\n', j->f);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	fputc(bracket, j->f);
	j->first = false;
}

void json_str(struct json *j, const char *key, const char *v)
{
	json_key(j, key);
	json_string(j->f, v);
}

void json_str_or_null(struct json *j, const char *key, const char *v)
{
	if (v[0])
		json_str(j, key, v);
	else
		json_null(j, key);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void json_s64(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	json_key(j, key);
	fputs("null", j->f);
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
}

/* Tables */

struct table {
	unsigned ncols;
	size_t nrows, cap; /* rows, the header row included */
	char **cells;
	size_t *width;
};

static void table_oom(void)
{
	fprintf(stderr, "%s: out of memory\n", program_name);
	exit(EXIT_REFUSED);
}

struct table *table_new(unsigned ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		table_oom();
	t->ncols = ncols;
	t->width = calloc(ncols, sizeof(*t->width));
	if (!t->width)
		table_oom();
	table_add(t, headers);
	return t;
}

void table_add(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (!c)
			table_oom();
		t->cells = c;
		t->cap = cap;
	}
	for (unsigned i = 0; i < t->ncols; i++) {
		char *copy = malloc(strlen(cells[i]) + 1);
		size_t w;

		if (!copy)
			table_oom();
		w = safe_copy(NULL, copy, cells[i]);
		t->cells[t->nrows * t->ncols + i] = copy;
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->nrows++;
}

static size_t width_of(const char *s)
{
	size_t w = 0;

	/* Cells are valid UTF-8 by now: count the bytes that start a character. */
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

void table_print(const struct table *t, FILE *f)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (unsigned i = 0; i < t->ncols; i++) {
			const char *c = t->cells[r * t->ncols + i];

			fputs(c, f);
			if (i + 1 == t->ncols)
				break;
			for (size_t w = width_of(c); w < t->width[i] + 2; w++)
				fputc(' ', f);
		}
		fputc('\n', f);
	}
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

/* Units */

const char *format_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)n;
	unsigned u = 0;

	if (n < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", n);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

const char *format_duration(uint64_t ms, char *buf, size_t size)
{
	uint64_t s = ms / 1000;

	if (s >= 86400)
		snprintf(buf, size, "%" PRIu64 "d %" PRIu64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%" PRIu64 "h %02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%" PRIu64 "m %02" PRIu64 "s", s / 60, s % 60);
	else if (s >= 10)
		snprintf(buf, size, "%" PRIu64 "s", s);
	else
		snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "s", s, ms % 1000 / 100);
	return buf;
}

int listing_run(const struct opts *o, uint8_t cmd, const char *const *headers, unsigned n,
		object_fn fn)
{
	struct listing l = { .o = o };
	struct request q;
	int r;

	json_init(&l.j, stdout);
	if (!o->json)
		l.t = table_new(n, headers);
	request_start(&q, cmd, true);
	r = ipc_call(o, &q, fn, &l);
	if (r == EXIT_OK && o->json) {
		if (!l.opened)
			json_open(&l.j, NULL, '[');
		json_close(&l.j, ']');
		json_end(&l.j);
	} else if (r == EXIT_OK) {
		table_print(l.t, stdout);
	}
	table_free(l.t);
	return r;
}

void show_field(const char *key, const char *value)
{
	printf("  %-11s ", key);
	print_safe(stdout, value);
	putchar('\n');
}
