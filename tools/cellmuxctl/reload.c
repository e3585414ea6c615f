/* reload.c — `cellmuxctl reload`: cellmuxd re-reads its config file, as on SIGHUP; a file that
 * does not load changes nothing, and its error comes back here. `cellmuxctl daemon reexec`:
 * cellmuxd execs its binary on disk (an upgrade) and the new process adopts every session. */
#include <string.h>

#include "tools/cellmuxctl/cellmuxctl.h"

int reload_main(int argc, char **argv, const struct opts *o)
{
	struct request q;

	if (argc > 1)
		return usage_error("reload takes no arguments");
	request_start(&q, CTL_CMD_RELOAD, false);
	return ipc_call(o, &q, NULL, NULL);
}

int daemon_main(int argc, char **argv, const struct opts *o)
{
	struct request q;

	if (argc != 2 || strcmp(argv[1], "reexec"))
		return usage_error("usage: daemon reexec");
	request_start(&q, CTL_CMD_DAEMON_REEXEC, false);
	return ipc_call(o, &q, NULL, NULL);
}
