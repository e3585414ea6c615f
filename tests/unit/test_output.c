/* test_output.c — worker output lines: split reads, CRLF, NUL and control bytes, ANSI escapes,
 * invalid UTF-8, over-long lines, the shared rate limit with its suppression notice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/output.h"

#define MAX_LINES 64

struct capture {
	int n;
	int stream[MAX_LINES];
	char line[MAX_LINES][512];
};

static void capture_emit(void *arg, int stream, const char *line)
{
	struct capture *c = arg;

	assert_true(c->n < MAX_LINES);
	assert_null(strchr(line, '\n'));
	c->stream[c->n] = stream;
	snprintf(c->line[c->n], sizeof(c->line[0]), "%s", line);
	c->n++;
}

static struct output *make(struct capture *c, size_t line_max, unsigned burst, unsigned ms)
{
	struct output_limits lim = { line_max, burst, ms };
	struct output *o = NULL;

	memset(c, 0, sizeof(*c));
	assert_int_equal(output_new(&lim, capture_emit, c, &o), 0);
	return o;
}

static void feed(struct output *o, int stream, const char *s, int64_t now)
{
	output_feed(o, stream, s, strlen(s), now);
}

static void lines_split_across_reads(void **state)
{
	struct capture c;
	struct output *o = make(&c, 64, 0, 0);

	feed(o, OUTPUT_STDOUT, "hel", 0);
	assert_int_equal(c.n, 0);
	feed(o, OUTPUT_STDOUT, "lo\nwor", 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.line[0], "hello");
	assert_int_equal(c.stream[0], OUTPUT_STDOUT);
	feed(o, OUTPUT_STDOUT, "ld\n\nlast", 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.line[1], "world");
	assert_string_equal(c.line[2], "");
	/* the partial line waits for EOF */
	output_flush(o, OUTPUT_STDOUT, 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.line[3], "last");
	output_flush(o, OUTPUT_STDOUT, 0);
	assert_int_equal(c.n, 4);
	output_free(o);
}

static void streams_keep_their_own_partial_lines(void **state)
{
	struct capture c;
	struct output *o = make(&c, 64, 0, 0);

	feed(o, OUTPUT_STDOUT, "out-", 0);
	feed(o, OUTPUT_STDERR, "err-", 0);
	feed(o, OUTPUT_STDOUT, "1\n", 0);
	feed(o, OUTPUT_STDERR, "2\n", 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.line[0], "out-1");
	assert_int_equal(c.stream[0], OUTPUT_STDOUT);
	assert_string_equal(c.line[1], "err-2");
	assert_int_equal(c.stream[1], OUTPUT_STDERR);
	/* not a stream of a worker */
	feed(o, OUTPUT_NOTICE, "x\n", 0);
	feed(o, 3, "x\n", 0);
	assert_int_equal(c.n, 2);
	output_free(o);
}

static void crlf_ends_a_line_other_cr_is_escaped(void **state)
{
	struct capture c;
	struct output *o = make(&c, 64, 0, 0);

	feed(o, OUTPUT_STDOUT, "dos\r\n", 0);
	feed(o, OUTPUT_STDOUT, "split\r", 0);
	feed(o, OUTPUT_STDOUT, "\n", 0);
	/* a CR that would move the cursor back over the prefix and overwrite it */
	feed(o, OUTPUT_STDOUT, "ok\rcellmuxd: forged\n", 0);
	feed(o, OUTPUT_STDOUT, "two\r\r\n", 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.line[0], "dos");
	assert_string_equal(c.line[1], "split");
	assert_string_equal(c.line[2], "ok\\x0dcellmuxd: forged");
	assert_string_equal(c.line[3], "two\\x0d");
	output_free(o);
}

static void control_bytes_and_backslash_escaped(void **state)
{
	struct capture c;
	struct output *o = make(&c, 64, 0, 0);
	static const char nul[] = "a\0b\tc\x7f" "d\n";

	output_feed(o, OUTPUT_STDERR, nul, sizeof(nul) - 1, 0);
	/* ANSI: clear screen, a colour, an OSC title */
	feed(o, OUTPUT_STDERR, "\x1b[2J\x1b[31mred\x1b]0;title\x07\n", 0);
	/* a worker writing what an escape looks like gets a different line */
	feed(o, OUTPUT_STDERR, "\\x1b \\ \\[cut]\n", 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.line[0], "a\\x00b\\x09c\\x7fd");
	assert_string_equal(c.line[1], "\\x1b[2J\\x1b[31mred\\x1b]0;title\\x07");
	assert_string_equal(c.line[2], "\\\\x1b \\\\ \\\\[cut]");
	output_free(o);
}

static void utf8_valid_passes_invalid_escaped(void **state)
{
	struct capture c;
	struct output *o = make(&c, 64, 0, 0);

	feed(o, OUTPUT_STDOUT, "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x93\xb6\n", 0);
	/* a lone continuation byte, an overlong '/', a surrogate, a truncated sequence at the end */
	feed(o, OUTPUT_STDOUT, "\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82\n", 0);
	/* C1 CSI (U+009B) is valid UTF-8 but a terminal control */
	feed(o, OUTPUT_STDOUT, "\xc2\x9b" "31m \xc2\xa0\n", 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.line[0], "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x93\xb6");
	assert_string_equal(c.line[1], "\\x80|\\xc0\\xaf|\\xed\\xa0\\x80|\\xe2\\x82");
	assert_string_equal(c.line[2], "\\xc2\\x9b31m \xc2\xa0");
	output_free(o);
}

static void long_line_cut_and_rest_discarded(void **state)
{
	struct capture c;
	struct output *o = make(&c, 8, 0, 0);

	/* exactly line_max, then line_max with CRLF: not cut */
	feed(o, OUTPUT_STDOUT, "12345678\n", 0);
	feed(o, OUTPUT_STDOUT, "abcdefgh\r\n", 0);
	/* one byte more, across reads, the rest up to the newline dropped */
	feed(o, OUTPUT_STDOUT, "ABCDE", 0);
	feed(o, OUTPUT_STDOUT, "FGHIJ", 0);
	assert_int_equal(c.n, 3);
	feed(o, OUTPUT_STDOUT, "KLMNOP", 0);
	feed(o, OUTPUT_STDOUT, "QR\nnext\n", 0);
	/* escaping does not count against the cap: 8 control bytes make 32 characters */
	feed(o, OUTPUT_STDOUT, "\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\n", 0);
	/* a cut line's pending rest at EOF says nothing more */
	feed(o, OUTPUT_STDOUT, "0123456789", 0);
	output_flush(o, OUTPUT_STDOUT, 0);
	feed(o, OUTPUT_STDOUT, "after\n", 0);
	assert_int_equal(c.n, 7);
	assert_string_equal(c.line[0], "12345678");
	assert_string_equal(c.line[1], "abcdefgh");
	assert_string_equal(c.line[2], "ABCDEFGH \\[cut]");
	assert_string_equal(c.line[3], "next");
	assert_string_equal(c.line[4], "\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b");
	assert_string_equal(c.line[5], "01234567 \\[cut]");
	assert_string_equal(c.line[6], "after");
	output_free(o);
}

static void burst_suppression_notice_recovery(void **state)
{
	struct capture c;
	struct output *o = make(&c, 64, 3, 1000); /* 3 lines per second */
	char line[16];

	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "l%d\n", i);
		feed(o, OUTPUT_STDOUT, line, 100000 + i);
	}
	assert_int_equal(c.n, 3);
	assert_string_equal(c.line[2], "l2");
	assert_int_equal(output_dropped(o), 7);
	/* the window opened at the first line: due one interval later, not yet */
	assert_int_equal(output_notice_due(o), 100000 + 1000000);
	output_tick(o, 1099999);
	feed(o, OUTPUT_STDOUT, "still\n", 1099999);
	assert_int_equal(c.n, 3);
	assert_int_equal(output_dropped(o), 8);
	/* the next line after the window: first the notice, then the line */
	feed(o, OUTPUT_STDOUT, "back\n", 1100000);
	assert_int_equal(c.n, 5);
	assert_int_equal(c.stream[3], OUTPUT_NOTICE);
	assert_string_equal(c.line[3], "8 lines suppressed (more than 3 in 1000 ms)");
	assert_string_equal(c.line[4], "back");
	assert_int_equal(output_notice_due(o), -1);
	/* a quiet window ends without a notice */
	feed(o, OUTPUT_STDOUT, "one\n", 2200000);
	assert_int_equal(c.n, 6);
	assert_int_equal(output_dropped(o), 8);
	output_free(o);
}

static void notice_on_tick_when_worker_falls_silent(void **state)
{
	struct capture c;
	struct output *o = make(&c, 64, 1, 500);

	feed(o, OUTPUT_STDERR, "a\nb\nc\n", 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(output_notice_due(o), 500000);
	output_tick(o, 499999);
	assert_int_equal(c.n, 1);
	output_tick(o, 500000);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.stream[1], OUTPUT_NOTICE);
	assert_string_equal(c.line[1], "2 lines suppressed (more than 1 in 500 ms)");
	/* said once */
	output_tick(o, 900000);
	assert_int_equal(c.n, 2);
	assert_int_equal(output_dropped(o), 2);
	output_free(o);
}

static void streams_share_the_limit(void **state)
{
	struct capture c;
	struct output *o = make(&c, 64, 4, 1000);

	feed(o, OUTPUT_STDOUT, "o1\no2\n", 0);
	feed(o, OUTPUT_STDERR, "e1\ne2\ne3\n", 1);
	feed(o, OUTPUT_STDOUT, "o3\n", 2);
	/* a partial line at EOF is a line like any other */
	feed(o, OUTPUT_STDERR, "e4", 3);
	output_flush(o, OUTPUT_STDERR, 3);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.line[2], "e1");
	assert_string_equal(c.line[3], "e2");
	assert_int_equal(output_dropped(o), 3);
	output_free(o);
}

static void bad_limits_refused(void **state)
{
	struct output_limits zero = { 0, 1, 1 }, huge = { (1u << 20) + 1, 1, 1 };
	struct output_limits def = OUTPUT_DEFAULT_LIMITS;
	struct capture c;
	struct output *o = NULL;

	assert_int_equal(output_new(&zero, capture_emit, &c, &o), -EINVAL);
	assert_int_equal(output_new(&huge, capture_emit, &c, &o), -EINVAL);
	assert_int_equal(output_new(&def, NULL, &c, &o), -EINVAL);
	assert_null(o);
	assert_int_equal(output_new(&def, capture_emit, &c, &o), 0);
	output_free(o);
	output_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_split_across_reads),
		cmocka_unit_test(streams_keep_their_own_partial_lines),
		cmocka_unit_test(crlf_ends_a_line_other_cr_is_escaped),
		cmocka_unit_test(control_bytes_and_backslash_escaped),
		cmocka_unit_test(utf8_valid_passes_invalid_escaped),
		cmocka_unit_test(long_line_cut_and_rest_discarded),
		cmocka_unit_test(burst_suppression_notice_recovery),
		cmocka_unit_test(notice_on_tick_when_worker_falls_silent),
		cmocka_unit_test(streams_share_the_limit),
		cmocka_unit_test(bad_limits_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
