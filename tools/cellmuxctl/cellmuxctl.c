/* cellmuxctl.c — the admin tool of cellmuxd, in the style of ip and wg: global options, then an
 * object from the table below, whose file handles the rest of the command line.
 *
 * The --json output is a stable interface: fields are added, never renamed or removed. It is
 * documented in docs/cellmuxctl.8; in short (null where the daemon does not know a value):
 *
 *   status        {"version", "pid", "uptime_ms", "config", "uplinks", "uplinks_up",
 *                  "sessions", "sessions_running",
 *                  "backend": null | {"state": "up"|"down", "outbox", "inbox", "reconnects"}}
 *   uplink list   [uplink...]; uplink show NAME: uplink
 *     uplink      {"name", "driver", "state": "up"|"down"|"connecting"|"draining",
 *                  "interface", "netns", "addresses": ["ADDR/PLEN"...], "sessions", "capacity",
 *                  "rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "quota_bytes",
 *                  "quota_used_bytes", "quota_reached", "reconnects", "signal_dbm",
 *                  "operator", "rat", "removed": null | {"sessions", "rx_bytes",
 *                  "tx_bytes", "rx_packets", "tx_packets"},
 *                  "health": null|"healthy"|"degraded"|"failed", "health_reason",
 *                  "gateways": ["ADDR"...], "dns": ["ADDR"...] (live: as the driver learned
 *                  them), "last_error": null|"...", "last_error_at_ms": null|N,
 *                  "recovery": null|"...", "recovery_last": "none"|"reconnect"|"reset",
 *                  "recoveries": {"reconnect": N, "reset": N}}
 *   session list  [session...]; session show NAME, session start: session
 *     session     {"name", "profile", "uplink", "pid", "state": "running"|"backoff"|"stopped"|
 *                  "stopping", "restarts", "moves", "wait_reason": null|"...", "uptime_ms", "rx_bytes", "tx_bytes", "rx_packets",
 *                  "tx_packets", "quota_bytes", "quota_used_bytes", "quota_reached",
 *                  "last_report": null (retired, always null),
 *                  "status": null | {"state", "message", "fields": {"KEY": "VALUE"...},
 *                  "time_ms": null | N (the worker's clock), "at_ms" (when it arrived)}}
 *
 * Commands that only act (uplink up, session stop, reload...) print nothing on success. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/version.h"
#include "tools/cellmuxctl/cellmuxctl.h"

const char *program_name = "cellmuxctl";

static const struct {
	const char *name;
	int (*main)(int argc, char **argv, const struct opts *o);
	const char *summary;
} objects[] = {
	{ "status", status_main, "status                     the daemon: version, uptime, counts" },
	{ "uplink", uplink_main,
	  "uplink list | show NAME    uplinks\n"
	  "  uplink up|down|reconnect|drain NAME" },
	{ "session", session_main,
	  "session list | show NAME   sessions\n"
	  "  session start --profile P [--uplink U] [--name N]\n"
	  "  session stop|restart NAME" },
	{ "reload", reload_main, "reload                     re-read the config file, as SIGHUP" },
	{ "daemon", daemon_main,
	  "daemon reexec              exec the binary on disk, keeping every session (SIGUSR2)" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [--json] [--socket PATH] OBJECT [COMMAND [ARGS]]\n"
		"\n"
		"  -j, --json          print JSON (a stable schema, see cellmuxctl(8))\n"
		"  -s, --socket PATH   cellmuxd's admin socket (default " CTL_SOCKET_PATH ")\n"
		"  -h, --help          print this help\n"
		"  -V, --version       print the version\n"
		"\nObjects and commands:\n",
		program_name);
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		fprintf(f, "  %s\n", objects[i].summary);
	fprintf(f, "\nExit status: 0 ok, 1 refused by cellmuxd or not reachable, 2 usage.\n");
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", program_name);
	return EXIT_USAGE;
}

bool name_ok(const char *what, const char *name)
{
	if (!name[0] || strlen(name) >= CTL_NAME_SIZE) {
		usage_error("%s name must be 1 to %d bytes", what, CTL_NAME_SIZE - 1);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	struct opts o = { .socket = CTL_SOCKET_PATH };
	int c;

	/* '+': options end at the object, whose own options are its file's business. */
	while ((c = getopt_long(argc, argv, "+js:hV", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 's':
			o.socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("cellmuxctl " CELLMUX_VERSION "\n");
			return EXIT_OK;
		default:
			fprintf(stderr, "Try '%s --help'.\n", program_name);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		if (strcmp(argv[optind], objects[i].name))
			continue;
		c = objects[i].main(argc - optind, argv + optind, &o);
		/* Output that did not get out (a full disk, a closed pipe) is a failure too. */
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "%s: writing the output: %m\n", program_name);
			return EXIT_REFUSED;
		}
		return c;
	}
	return usage_error("unknown object '%s'", argv[optind]);
}
