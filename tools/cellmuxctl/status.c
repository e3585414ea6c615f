/* status.c — `cellmuxctl status`: the daemon's version, uptime, config and counts. */
#include <stdio.h>

#include "tools/cellmuxctl/cellmuxctl.h"

static int show(const struct ctl_parsed *p, void *data)
{
	const struct opts *o = data;
	struct ctl_status_info st;
	char up[32];
	struct json j;

	ctl_status_decode(p->obj, &st);
	if (o->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, '{');
		json_str(&j, "version", st.version);
		json_u64(&j, "pid", st.pid);
		json_u64(&j, "uptime_ms", st.uptime_ms);
		json_str_or_null(&j, "config", st.config);
		json_u64(&j, "uplinks", st.uplinks);
		json_u64(&j, "uplinks_up", st.uplinks_up);
		json_u64(&j, "sessions", st.sessions);
		json_u64(&j, "sessions_running", st.sessions_running);
		if (st.have_backend) {
			json_open(&j, "backend", '{');
			json_str(&j, "state", st.backend_up ? "up" : "down");
			json_u64(&j, "outbox", st.backend_outbox);
			json_u64(&j, "inbox", st.backend_inbox);
			json_u64(&j, "reconnects", st.backend_reconnects);
			json_close(&j, '}');
		} else {
			json_null(&j, "backend");
		}
		json_close(&j, '}');
		json_end(&j);
		return 0;
	}
	printf("cellmuxd ");
	print_safe(stdout, st.version);
	printf(", pid %u, up %s\n", st.pid, format_duration(st.uptime_ms, up, sizeof(up)));
	printf("config:   ");
	print_safe(stdout, st.config[0] ? st.config : "-");
	printf("\nuplinks:  %u (%u up)\n", st.uplinks, st.uplinks_up);
	printf("sessions: %u (%u running)\n", st.sessions, st.sessions_running);
	if (st.have_backend)
		printf("backend:  %s, %u events queued, %u deliveries queued, %u reconnects\n",
		       st.backend_up ? "up" : "down", st.backend_outbox, st.backend_inbox,
		       st.backend_reconnects);
	return 0;
}

int status_main(int argc, char **argv, const struct opts *o)
{
	struct request q;

	if (argc > 1)
		return usage_error("status takes no arguments");
	request_start(&q, CTL_CMD_STATUS, false);
	return ipc_call(o, &q, show, (void *)o);
}
