/* fuzz_output.c — libFuzzer target for worker output lines (sandbox/output.c, included): any
 * bytes, any split into reads on two streams, any limits give lines that cannot forge a log line. */
#include "sandbox/output.c"
#include "proto/utf8.c"

#include <ctype.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t line_max;

/* Printable, valid UTF-8, bounded; a backslash starts \\ or \xNN, or is the cut mark at the end. */
static void check_line(void *arg, int stream, const char *line)
{
	size_t n = strlen(line), mark = sizeof(OUTPUT_CUT_MARK) - 1;

	if (stream < OUTPUT_NOTICE || stream > OUTPUT_STDERR || !utf8_text_ok(line, n))
		abort();
	if (stream != OUTPUT_NOTICE && n > 4 * line_max + mark)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = line[i];

		if (c < 0x20 || c == 0x7f || (c == 0xc2 && (unsigned char)line[i + 1] < 0xa0))
			abort();
		if (c != '\\')
			continue;
		if (line[i + 1] == '\\') {
			i++;
		} else if (line[i + 1] == 'x') {
			if (!isxdigit((unsigned char)line[i + 2]) || !isxdigit((unsigned char)line[i + 3]))
				abort();
			i += 3;
		} else if (i + mark - 1 != n || strcmp(line + n - mark, OUTPUT_CUT_MARK)) {
			abort();
		}
	}
	(*(uint64_t *)arg)++;
}

/* data[0]: line_max, data[1]: burst and interval; then chunks of one header byte (bit 0: the
 * stream, bits 1-5: length, bits 6-7: feed, feed a few ms later, flush, tick) and its bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct output_limits lim;
	struct output *o = NULL;
	uint64_t emitted = 0, dropped_before = 0;
	int64_t now = 0;
	size_t i = 2;

	if (size < 2)
		return 0;
	lim.line_max = line_max = 1 + (data[0] & 63);
	lim.burst = data[1] & 7;
	lim.interval_ms = (data[1] >> 3) * 5;
	if (output_new(&lim, check_line, &emitted, &o) < 0)
		abort();
	while (i < size) {
		uint8_t h = data[i++];
		int stream = 1 + (h & 1);
		size_t len = (h >> 1) & 31;

		if (len > size - i)
			len = size - i;
		switch (h >> 6) {
		case 1:
			now += 3000;
			/* fall through */
		case 0:
			output_feed(o, stream, (const char *)data + i, len, now);
			i += len;
			break;
		case 2:
			output_flush(o, stream, now);
			break;
		default:
			now += 1000 * len;
			output_tick(o, now);
			/* a tick at or after the due time says the notice */
			if (output_notice_due(o) >= 0 && output_notice_due(o) <= now)
				abort();
			break;
		}
		if (output_dropped(o) < dropped_before)
			abort();
		dropped_before = output_dropped(o);
	}
	output_free(o);
	return 0;
}
