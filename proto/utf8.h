/* utf8.h — UTF-8 checks shared by the wire formats that carry text (worker and backend
 * messages): proto3 peers in other languages reject strings that are not UTF-8. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 character at s (RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF), 0 if s does not start one, -1 if the n bytes end inside an otherwise valid one. */
int utf8_char(const unsigned char *s, size_t n);
/* s is NULL (an absent field), or valid UTF-8 of at most max bytes. */
bool utf8_text_ok(const char *s, size_t max);
