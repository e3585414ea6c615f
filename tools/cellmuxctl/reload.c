/* reload.c — `cellmuxctl reload`: cellmuxd re-reads its config file, as on SIGHUP; a file that
 * does not load changes nothing, and its error comes back here. */
#include "tools/cellmuxctl/cellmuxctl.h"

int reload_main(int argc, char **argv, const struct opts *o)
{
	struct request q;

	if (argc > 1)
		return usage_error("reload takes no arguments");
	request_start(&q, CTL_CMD_RELOAD, false);
	return ipc_call(o, &q, NULL, NULL);
}
