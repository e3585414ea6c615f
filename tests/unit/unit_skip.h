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

/* Under a user-mode emulator (a cross build's tests: tests/run.sh's CELLMUX_TEST_WRAPPER): the
 * kernel sees the emulator's system calls, not the program's, and qemu-user refuses
 * PR_SET_SECCOMP outright (a filter would stop the emulator itself). */
static inline int unit_emulated(void)
{
	const char *w = getenv("CELLMUX_TEST_WRAPPER");

	return w && *w;
}
#define UNIT_NOT_EMULATED() UNIT_REQUIRE(!unit_emulated(), "a real kernel, not qemu-user (seccomp)")
