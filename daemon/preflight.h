/* preflight.h — the checks of a parsed config against this system (interfaces, executables,
 * users), still before anything is created: errors are "FILE:LINE: message" like parse errors. */
#pragma once

#include <stddef.h>

#include "daemon/config.h"

int preflight_check(const struct cmx_config *c, char *err, size_t errlen);
