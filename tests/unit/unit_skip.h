/* unit_skip.h — how a unit test says it could not run here: counted as skipped (exit 77 for
 * tests/run.sh), never as passed, and a failure under `make check` (CELLMUX_CHECK_STRICT=1). */
#pragma once

#include <stdlib.h>

static int unit_skipped;

/* A requirement a user's `make unit` may lack (root); make check always has it, so there it
 * fails. cmocka's skip() leaves the test at once. */
#define UNIT_REQUIRE(cond, what)                                                                 \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			const char *strict_ = getenv("CELLMUX_CHECK_STRICT");                    \
			if (strict_ && *strict_)                                                 \
				fail_msg("needs %s, which make check must have", what);         \
			print_message("SKIP: needs %s\n", what);                                 \
			unit_skipped = 1;                                                        \
			skip();                                                                  \
		}                                                                                \
	} while (0)

/* main's return: failures first, then 77 when anything was skipped. */
static inline int unit_exit(int failures)
{
	return failures ? failures : unit_skipped ? 77 : 0;
}
