/* utf8.c — see utf8.h. */
#include "proto/utf8.h"

#include <string.h>

int utf8_char(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	int need;

	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0) {
		need = 2;
	} else if (c < 0xF0) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c < 0xF5) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	for (int i = 1; i < need; i++) {
		if ((size_t)i >= n)
			return -1;
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
	}
	return need;
}

bool utf8_text_ok(const char *s, size_t max)
{
	size_t len, i = 0;

	if (!s)
		return true;
	len = strnlen(s, max + 1);
	if (len > max)
		return false;
	while (i < len) {
		int r = utf8_char((const unsigned char *)s + i, len - i);

		if (r <= 0)
			return false;
		i += r;
	}
	return true;
}
