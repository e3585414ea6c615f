/* test_metrics_text.c — unit tests for daemon/metrics_text.c: the exact exposition text for a
 * known status (golden), label escaping, number formats, and the format's grouping rules. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/metrics_text.h"

static const struct status_daemon daemon_st = {
	.version = "0.1.0",
	.start_time_unix = 1700000000,
	.uplinks_total = 2,
	.uplinks_up = 1,
	.sessions_total = 2,
	.sessions_running = 1,
};

/* lte1 knows everything a modem driver may know, hilink almost nothing. */
static const struct status_uplink uplinks[] = {
	{
		.name = "lte1",
		.driver = "qmi",
		.state = "up",
		.ifname = "wwan0",
		.sessions = 2,
		.capacity = 16,
		.reconnects = 3,
		.counters_valid = true,
		.rx_bytes = 18446744073709551615ull,
		.tx_bytes = 2000,
		.rx_packets = 30,
		.tx_packets = 40,
		.quota_bytes = 1000000000,
		.quota_used_bytes = 123456789,
		.quota_reached = false,
		.removed_valid = true,
		.removed_sessions = 2,
		.removed_rx_bytes = 5000,
		.removed_tx_bytes = 6000,
		.removed_rx_packets = 7,
		.removed_tx_packets = 8,
		.signal_dbm = -71,
		.operator_name = "Tele \"2\"\nback\\slash",
		.rat = "lte",
		.health = "healthy",
		.addresses = { "100.64.0.2/24" },
		.n_addresses = 1,
		.gateways = { "100.64.0.1" },
		.n_gateways = 1,
		.dns = { "100.64.0.1", "9.9.9.9" },
		.n_dns = 2,
		.last_error = "the network ended the data session (no-service)",
		.last_error_unix_ms = 1700000090123,
		.recoveries = { [RECOVERY_RECONNECT] = 2, [RECOVERY_RESET] = 1 },
	},
	{
		.name = "hilink",
		.driver = "netdev",
		.state = "connecting",
		.ifname = "usb0",
		.capacity = 4,
		.signal_dbm = INT_MIN,
		.health = "failed",
	},
};

static const struct worker_status status_s1 = {
	.state = "ok",
	.message = "HTTP 200 in 12.3 ms",
	.fields = { { "url", "http://198.18.0.1/ip" }, { "body", "198.18.1.1" } },
	.n_fields = 2,
	.unix_time_ms = 1700000098000,
};

static const struct status_session sessions[] = {
	{
		.name = "s1",
		.profile = "probe",
		.uplink = "lte1",
		.state = "running",
		.pid = 1234,
		.restarts = 2,
		.moves = 1,
		.counters_valid = true,
		.rx_bytes = 100,
		.tx_bytes = 200,
		.rx_packets = 3,
		.tx_packets = 4,
		.quota_bytes = 5000,
		.quota_used_bytes = 5000,
		.quota_reached = true,
		.worker_status = &status_s1,
		.worker_status_unix_ms = 1700000098500,
		/* A memory limit but no tasks limit: the unlimited one has no *_max series. */
		.have_usage = true,
		.usage = {
			.memory_current = 1234567,
			.memory_max = 67108864,
			.pids_current = 3,
			.pids_max = CGROUP_MAX,
			.oom_kills = 1,
			.cpu_weight = 100,
			.have_memory = true,
			.have_pids = true,
			.have_cpu = true,
		},
	},
	{
		.name = "s2",
		.profile = "idle",
		.uplink = "lte1",
		.state = "backoff",
	},
};

static const struct metrics_process process = {
	.resident_bytes = 4096000,
	.virtual_bytes = 123456789,
	.cpu_ms = 1250,
	.start_time_ms = 1700000000120,
	.open_fds = 17,
	.max_fds = 1024,
};

static const struct metrics_label build_labels[] = { { "libwebsockets", "4.1.6" } };

static const struct metrics_input input = {
	.daemon = &daemon_st,
	.uplinks = uplinks,
	.n_uplinks = 2,
	.sessions = sessions,
	.n_sessions = 2,
	.process = &process,
	.build_labels = build_labels,
	.n_build_labels = 1,
};

static const char golden[] =
	"# HELP cellmux_build_info cellmux build information; the value is always 1.\n"
	"# TYPE cellmux_build_info gauge\n"
	"cellmux_build_info{version=\"0.1.0\",libwebsockets=\"4.1.6\"} 1\n"
	"# HELP cellmux_uplink_up Whether the uplink is up (1) or not (0).\n"
	"# TYPE cellmux_uplink_up gauge\n"
	"cellmux_uplink_up{uplink=\"lte1\"} 1\n"
	"cellmux_uplink_up{uplink=\"hilink\"} 0\n"
	"# HELP cellmux_uplink_state Uplink state: 1 for the current state, 0 for the others.\n"
	"# TYPE cellmux_uplink_state gauge\n"
	"cellmux_uplink_state{uplink=\"lte1\",state=\"up\"} 1\n"
	"cellmux_uplink_state{uplink=\"lte1\",state=\"down\"} 0\n"
	"cellmux_uplink_state{uplink=\"lte1\",state=\"connecting\"} 0\n"
	"cellmux_uplink_state{uplink=\"lte1\",state=\"draining\"} 0\n"
	"cellmux_uplink_state{uplink=\"hilink\",state=\"up\"} 0\n"
	"cellmux_uplink_state{uplink=\"hilink\",state=\"down\"} 0\n"
	"cellmux_uplink_state{uplink=\"hilink\",state=\"connecting\"} 1\n"
	"cellmux_uplink_state{uplink=\"hilink\",state=\"draining\"} 0\n"
	"# HELP cellmux_uplink_info Uplink description: driver, interface, and operator and radio "
	"access technology where the driver knows them; the value is always 1.\n"
	"# TYPE cellmux_uplink_info gauge\n"
	"cellmux_uplink_info{uplink=\"lte1\",driver=\"qmi\",interface=\"wwan0\","
	"operator=\"Tele \\\"2\\\"\\nback\\\\slash\",rat=\"lte\"} 1\n"
	"cellmux_uplink_info{uplink=\"hilink\",driver=\"netdev\",interface=\"usb0\"} 1\n"
	"# HELP cellmux_uplink_receive_bytes_total Bytes received through the uplink's interface.\n"
	"# TYPE cellmux_uplink_receive_bytes_total counter\n"
	"cellmux_uplink_receive_bytes_total{uplink=\"lte1\"} 18446744073709551615\n"
	"# HELP cellmux_uplink_transmit_bytes_total Bytes transmitted through the uplink's "
	"interface.\n"
	"# TYPE cellmux_uplink_transmit_bytes_total counter\n"
	"cellmux_uplink_transmit_bytes_total{uplink=\"lte1\"} 2000\n"
	"# HELP cellmux_uplink_receive_packets_total Packets received through the uplink's "
	"interface.\n"
	"# TYPE cellmux_uplink_receive_packets_total counter\n"
	"cellmux_uplink_receive_packets_total{uplink=\"lte1\"} 30\n"
	"# HELP cellmux_uplink_transmit_packets_total Packets transmitted through the uplink's "
	"interface.\n"
	"# TYPE cellmux_uplink_transmit_packets_total counter\n"
	"cellmux_uplink_transmit_packets_total{uplink=\"lte1\"} 40\n"
	"# HELP cellmux_uplink_removed_sessions_total Sessions removed from the uplink whose final "
	"counters are kept.\n"
	"# TYPE cellmux_uplink_removed_sessions_total counter\n"
	"cellmux_uplink_removed_sessions_total{uplink=\"lte1\"} 2\n"
	"# HELP cellmux_uplink_removed_sessions_receive_bytes_total Bytes received by sessions since "
	"removed from the uplink.\n"
	"# TYPE cellmux_uplink_removed_sessions_receive_bytes_total counter\n"
	"cellmux_uplink_removed_sessions_receive_bytes_total{uplink=\"lte1\"} 5000\n"
	"# HELP cellmux_uplink_removed_sessions_transmit_bytes_total Bytes transmitted by sessions "
	"since removed from the uplink.\n"
	"# TYPE cellmux_uplink_removed_sessions_transmit_bytes_total counter\n"
	"cellmux_uplink_removed_sessions_transmit_bytes_total{uplink=\"lte1\"} 6000\n"
	"# HELP cellmux_uplink_removed_sessions_receive_packets_total Packets received by sessions "
	"since removed from the uplink.\n"
	"# TYPE cellmux_uplink_removed_sessions_receive_packets_total counter\n"
	"cellmux_uplink_removed_sessions_receive_packets_total{uplink=\"lte1\"} 7\n"
	"# HELP cellmux_uplink_removed_sessions_transmit_packets_total Packets transmitted by "
	"sessions since removed from the uplink.\n"
	"# TYPE cellmux_uplink_removed_sessions_transmit_packets_total counter\n"
	"cellmux_uplink_removed_sessions_transmit_packets_total{uplink=\"lte1\"} 8\n"
	"# HELP cellmux_uplink_quota_limit_bytes Data quota of the uplink, for uplinks that have "
	"one.\n"
	"# TYPE cellmux_uplink_quota_limit_bytes gauge\n"
	"cellmux_uplink_quota_limit_bytes{uplink=\"lte1\"} 1000000000\n"
	"# HELP cellmux_uplink_quota_used_bytes Data counted against the uplink's quota, for "
	"uplinks that have one.\n"
	"# TYPE cellmux_uplink_quota_used_bytes gauge\n"
	"cellmux_uplink_quota_used_bytes{uplink=\"lte1\"} 123456789\n"
	"# HELP cellmux_uplink_quota_reached Whether the uplink's quota is used up (1) or not (0), "
	"for uplinks that have one.\n"
	"# TYPE cellmux_uplink_quota_reached gauge\n"
	"cellmux_uplink_quota_reached{uplink=\"lte1\"} 0\n"
	"# HELP cellmux_uplink_reconnects_total Times the uplink's data connection was "
	"re-established.\n"
	"# TYPE cellmux_uplink_reconnects_total counter\n"
	"cellmux_uplink_reconnects_total{uplink=\"lte1\"} 3\n"
	"cellmux_uplink_reconnects_total{uplink=\"hilink\"} 0\n"
	"# HELP cellmux_uplink_sessions Sessions placed on the uplink, whatever their state.\n"
	"# TYPE cellmux_uplink_sessions gauge\n"
	"cellmux_uplink_sessions{uplink=\"lte1\"} 2\n"
	"cellmux_uplink_sessions{uplink=\"hilink\"} 0\n"
	"# HELP cellmux_uplink_capacity_sessions Most sessions the uplink takes.\n"
	"# TYPE cellmux_uplink_capacity_sessions gauge\n"
	"cellmux_uplink_capacity_sessions{uplink=\"lte1\"} 16\n"
	"cellmux_uplink_capacity_sessions{uplink=\"hilink\"} 4\n"
	"# HELP cellmux_uplink_signal_dbm Signal strength reported by the modem in dBm, where the "
	"driver knows it.\n"
	"# TYPE cellmux_uplink_signal_dbm gauge\n"
	"cellmux_uplink_signal_dbm{uplink=\"lte1\"} -71\n"
	"# HELP cellmux_uplink_healthy Whether the uplink's health checks pass (1: healthy or "
	"degraded) or not (0).\n"
	"# TYPE cellmux_uplink_healthy gauge\n"
	"cellmux_uplink_healthy{uplink=\"lte1\"} 1\n"
	"cellmux_uplink_healthy{uplink=\"hilink\"} 0\n"
	"# HELP cellmux_uplink_health Uplink health: 1 for the current verdict, 0 for the others.\n"
	"# TYPE cellmux_uplink_health gauge\n"
	"cellmux_uplink_health{uplink=\"lte1\",state=\"healthy\"} 1\n"
	"cellmux_uplink_health{uplink=\"lte1\",state=\"degraded\"} 0\n"
	"cellmux_uplink_health{uplink=\"lte1\",state=\"failed\"} 0\n"
	"cellmux_uplink_health{uplink=\"hilink\",state=\"healthy\"} 0\n"
	"cellmux_uplink_health{uplink=\"hilink\",state=\"degraded\"} 0\n"
	"cellmux_uplink_health{uplink=\"hilink\",state=\"failed\"} 1\n"
	"# HELP cellmux_uplink_address_info Addresses, gateways and DNS servers the uplink has "
	"now, as its driver learned them; the value is always 1.\n"
	"# TYPE cellmux_uplink_address_info gauge\n"
	"cellmux_uplink_address_info{uplink=\"lte1\",kind=\"address\",address=\"100.64.0.2/24\"} 1\n"
	"cellmux_uplink_address_info{uplink=\"lte1\",kind=\"gateway\",address=\"100.64.0.1\"} 1\n"
	"cellmux_uplink_address_info{uplink=\"lte1\",kind=\"dns\",address=\"100.64.0.1\"} 1\n"
	"cellmux_uplink_address_info{uplink=\"lte1\",kind=\"dns\",address=\"9.9.9.9\"} 1\n"
	"# HELP cellmux_uplink_last_error_timestamp_seconds When the uplink's driver last reported "
	"an error (cellmuxctl uplink show has its reason), for uplinks that had one.\n"
	"# TYPE cellmux_uplink_last_error_timestamp_seconds gauge\n"
	"cellmux_uplink_last_error_timestamp_seconds{uplink=\"lte1\"} 1700000090.123\n"
	"# HELP cellmux_uplink_recoveries_total Steps of the recovery ladder taken on the uplink "
	"while it stayed failed: reconnect (the data session redone), reset (the modem reset).\n"
	"# TYPE cellmux_uplink_recoveries_total counter\n"
	"cellmux_uplink_recoveries_total{uplink=\"lte1\",step=\"reconnect\"} 2\n"
	"cellmux_uplink_recoveries_total{uplink=\"lte1\",step=\"reset\"} 1\n"
	"cellmux_uplink_recoveries_total{uplink=\"hilink\",step=\"reconnect\"} 0\n"
	"cellmux_uplink_recoveries_total{uplink=\"hilink\",step=\"reset\"} 0\n"
	"# HELP cellmux_session_info Session description: the profile its worker runs; the value "
	"is always 1.\n"
	"# TYPE cellmux_session_info gauge\n"
	"cellmux_session_info{uplink=\"lte1\",session=\"s1\",profile=\"probe\"} 1\n"
	"cellmux_session_info{uplink=\"lte1\",session=\"s2\",profile=\"idle\"} 1\n"
	"# HELP cellmux_session_up Whether the session's worker is running (1) or not (0).\n"
	"# TYPE cellmux_session_up gauge\n"
	"cellmux_session_up{uplink=\"lte1\",session=\"s1\"} 1\n"
	"cellmux_session_up{uplink=\"lte1\",session=\"s2\"} 0\n"
	"# HELP cellmux_session_state Session state: 1 for the current state, 0 for the others.\n"
	"# TYPE cellmux_session_state gauge\n"
	"cellmux_session_state{uplink=\"lte1\",session=\"s1\",state=\"running\"} 1\n"
	"cellmux_session_state{uplink=\"lte1\",session=\"s1\",state=\"backoff\"} 0\n"
	"cellmux_session_state{uplink=\"lte1\",session=\"s1\",state=\"stopping\"} 0\n"
	"cellmux_session_state{uplink=\"lte1\",session=\"s1\",state=\"stopped\"} 0\n"
	"cellmux_session_state{uplink=\"lte1\",session=\"s2\",state=\"running\"} 0\n"
	"cellmux_session_state{uplink=\"lte1\",session=\"s2\",state=\"backoff\"} 1\n"
	"cellmux_session_state{uplink=\"lte1\",session=\"s2\",state=\"stopping\"} 0\n"
	"cellmux_session_state{uplink=\"lte1\",session=\"s2\",state=\"stopped\"} 0\n"
	"# HELP cellmux_session_restarts_total Times the session's worker was started again after "
	"the first start.\n"
	"# TYPE cellmux_session_restarts_total counter\n"
	"cellmux_session_restarts_total{uplink=\"lte1\",session=\"s1\"} 2\n"
	"cellmux_session_restarts_total{uplink=\"lte1\",session=\"s2\"} 0\n"
	"# HELP cellmux_session_moves_total Times the router moved the session to another uplink.\n"
	"# TYPE cellmux_session_moves_total counter\n"
	"cellmux_session_moves_total{uplink=\"lte1\",session=\"s1\"} 1\n"
	"cellmux_session_moves_total{uplink=\"lte1\",session=\"s2\"} 0\n"
	"# HELP cellmux_session_receive_bytes_total Bytes received by the session's workers.\n"
	"# TYPE cellmux_session_receive_bytes_total counter\n"
	"cellmux_session_receive_bytes_total{uplink=\"lte1\",session=\"s1\"} 100\n"
	"# HELP cellmux_session_transmit_bytes_total Bytes transmitted by the session's workers.\n"
	"# TYPE cellmux_session_transmit_bytes_total counter\n"
	"cellmux_session_transmit_bytes_total{uplink=\"lte1\",session=\"s1\"} 200\n"
	"# HELP cellmux_session_receive_packets_total Packets received by the session's workers.\n"
	"# TYPE cellmux_session_receive_packets_total counter\n"
	"cellmux_session_receive_packets_total{uplink=\"lte1\",session=\"s1\"} 3\n"
	"# HELP cellmux_session_transmit_packets_total Packets transmitted by the session's "
	"workers.\n"
	"# TYPE cellmux_session_transmit_packets_total counter\n"
	"cellmux_session_transmit_packets_total{uplink=\"lte1\",session=\"s1\"} 4\n"
	"# HELP cellmux_session_quota_limit_bytes Data quota of the session, for sessions that "
	"have one.\n"
	"# TYPE cellmux_session_quota_limit_bytes gauge\n"
	"cellmux_session_quota_limit_bytes{uplink=\"lte1\",session=\"s1\"} 5000\n"
	"# HELP cellmux_session_quota_used_bytes Data counted against the session's quota, for "
	"sessions that have one.\n"
	"# TYPE cellmux_session_quota_used_bytes gauge\n"
	"cellmux_session_quota_used_bytes{uplink=\"lte1\",session=\"s1\"} 5000\n"
	"# HELP cellmux_session_quota_reached Whether the session's quota is used up (1) or not "
	"(0), for sessions that have one.\n"
	"# TYPE cellmux_session_quota_reached gauge\n"
	"cellmux_session_quota_reached{uplink=\"lte1\",session=\"s1\"} 1\n"
	"# HELP cellmux_session_status_info The state the session's worker gave in its last "
	"Status; the value is always 1. For sessions with a Status.\n"
	"# TYPE cellmux_session_status_info gauge\n"
	"cellmux_session_status_info{uplink=\"lte1\",session=\"s1\",state=\"ok\"} 1\n"
	"# HELP cellmux_session_status_timestamp_seconds When the daemon received the last Status "
	"of the session's worker, seconds since the Unix epoch. For sessions with a Status.\n"
	"# TYPE cellmux_session_status_timestamp_seconds gauge\n"
	"cellmux_session_status_timestamp_seconds{uplink=\"lte1\",session=\"s1\"} "
	"1700000098.500\n"
	"# HELP cellmux_session_memory_bytes Memory charged to the session's cgroup, for sessions "
	"with a worker.\n"
	"# TYPE cellmux_session_memory_bytes gauge\n"
	"cellmux_session_memory_bytes{uplink=\"lte1\",session=\"s1\"} 1234567\n"
	"# HELP cellmux_session_memory_max_bytes Memory limit of the session's cgroup, for "
	"sessions with a worker and a limit.\n"
	"# TYPE cellmux_session_memory_max_bytes gauge\n"
	"cellmux_session_memory_max_bytes{uplink=\"lte1\",session=\"s1\"} 67108864\n"
	"# HELP cellmux_session_oom_kills_total Processes of the session's cgroup killed by the "
	"OOM killer, for sessions with a worker.\n"
	"# TYPE cellmux_session_oom_kills_total counter\n"
	"cellmux_session_oom_kills_total{uplink=\"lte1\",session=\"s1\"} 1\n"
	"# HELP cellmux_session_tasks Processes and threads in the session's cgroup, for sessions "
	"with a worker.\n"
	"# TYPE cellmux_session_tasks gauge\n"
	"cellmux_session_tasks{uplink=\"lte1\",session=\"s1\"} 3\n"
	"# HELP cellmux_session_tasks_max Limit on processes and threads in the session's cgroup, "
	"for sessions with a worker and a limit.\n"
	"# TYPE cellmux_session_tasks_max gauge\n"
	"# HELP cellmux_session_cpu_weight CPU weight of the session's cgroup (1 to 10000, 100 by "
	"default), for sessions with a worker.\n"
	"# TYPE cellmux_session_cpu_weight gauge\n"
	"cellmux_session_cpu_weight{uplink=\"lte1\",session=\"s1\"} 100\n"
	"# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
	"# TYPE process_cpu_seconds_total counter\n"
	"process_cpu_seconds_total 1.250\n"
	"# HELP process_open_fds Number of open file descriptors.\n"
	"# TYPE process_open_fds gauge\n"
	"process_open_fds 17\n"
	"# HELP process_max_fds Maximum number of open file descriptors.\n"
	"# TYPE process_max_fds gauge\n"
	"process_max_fds 1024\n"
	"# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
	"# TYPE process_virtual_memory_bytes gauge\n"
	"process_virtual_memory_bytes 123456789\n"
	"# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
	"# TYPE process_resident_memory_bytes gauge\n"
	"process_resident_memory_bytes 4096000\n"
	"# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
	"# TYPE process_start_time_seconds gauge\n"
	"process_start_time_seconds 1700000000.120\n";

/* Shows the first differing line, which a 6 KiB string comparison would bury. */
static void assert_text_equal(const char *got, const char *want)
{
	size_t line = 1;
	const char *g = got, *w = want;

	while (*g && *g == *w) {
		line += *g == '\n';
		g++;
		w++;
	}
	if (*g || *w) {
		const char *gl = g, *wl = w;

		while (gl > got && gl[-1] != '\n')
			gl--;
		while (wl > want && wl[-1] != '\n')
			wl--;
		fail_msg("line %zu differs:\n got: %.*s\nwant: %.*s", line, (int)strcspn(gl, "\n"),
			 gl, (int)strcspn(wl, "\n"), wl);
	}
}

static void test_known_status_renders_the_golden_text(void **state)
{
	struct mbuf b = { 0 };

	assert_int_equal(metrics_render(&input, &b), 0);
	assert_text_equal(b.data, golden);
	assert_int_equal(b.len, strlen(golden));
	mbuf_free(&b);
}

static void test_render_appends_to_what_the_buffer_holds(void **state)
{
	struct mbuf b = { 0 };

	mbuf_puts(&b, "x\n");
	assert_int_equal(metrics_render(&input, &b), 0);
	assert_int_equal(b.len, strlen(golden) + 2);
	assert_memory_equal(b.data + 2, golden, strlen(golden));
	mbuf_free(&b);
}

static char *render_to_string(const struct metrics_input *in)
{
	struct mbuf b = { 0 };

	assert_int_equal(metrics_render(in, &b), 0);
	return b.data;
}

static void test_label_values_escape_backslash_quote_and_newline_only(void **state)
{
	struct mbuf b = { 0 };

	mbuf_put_label_value(&b, "a\\b\"c\nd\te{f}=,ü");
	assert_string_equal(b.data, "a\\\\b\\\"c\\nd\te{f}=,ü");
	mbuf_free(&b);
	mbuf_put_label_value(&b, "\\\\\"\"\n\n");
	assert_string_equal(b.data, "\\\\\\\\\\\"\\\"\\n\\n");
	mbuf_free(&b);
	mbuf_put_label_value(&b, NULL); /* an unknown value is an empty label */
	assert_int_equal(b.len, 0);
	mbuf_free(&b);
}

static void test_numbers_are_exact_at_their_limits(void **state)
{
	struct mbuf b = { 0 };

	mbuf_put_u64(&b, 0);
	mbuf_puts(&b, " ");
	mbuf_put_u64(&b, UINT64_MAX);
	mbuf_puts(&b, " ");
	mbuf_put_i64(&b, INT64_MIN);
	mbuf_puts(&b, " ");
	mbuf_put_i64(&b, -1);
	mbuf_puts(&b, " ");
	mbuf_put_milli(&b, 0);
	mbuf_puts(&b, " ");
	mbuf_put_milli(&b, 7);
	mbuf_puts(&b, " ");
	mbuf_put_milli(&b, -1500);
	mbuf_puts(&b, " ");
	mbuf_put_milli(&b, 1000);
	assert_string_equal(b.data, "0 18446744073709551615 -9223372036854775808 -1 0.000 0.007 "
				    "-1.500 1.000");
	mbuf_free(&b);
}

static void test_a_state_not_in_the_list_still_shows_as_current(void **state)
{
	struct status_uplink u = uplinks[1];
	struct metrics_input in = { .daemon = &daemon_st, .uplinks = &u, .n_uplinks = 1 };
	char *text;

	u.state = "resetting";
	text = render_to_string(&in);
#define S "cellmux_uplink_state{uplink=\"hilink\",state="
	assert_non_null(strstr(text, S "\"up\"} 0\n" S "\"down\"} 0\n" S "\"connecting\"} 0\n"
				     S "\"draining\"} 0\n" S "\"resetting\"} 1\n"));
#undef S
	assert_non_null(strstr(text, "cellmux_uplink_up{uplink=\"hilink\"} 0\n"));
	free(text);
}

/* The state is the one part of a Status that becomes a label: escaped like any label value
 * (the daemon let only [a-z0-9_-] in, but the renderer does not rely on that), and the free
 * text (message, fields) never reaches /metrics. */
static void test_status_gives_its_state_as_a_label_and_nothing_else(void **state)
{
	struct worker_status w = status_s1;
	struct status_session s = sessions[0];
	struct metrics_input in = { .daemon = &daemon_st, .sessions = &s, .n_sessions = 1 };
	char *text;

	snprintf(w.state, sizeof(w.state), "a\"b\\c\nd");
	s.worker_status = &w;
	text = render_to_string(&in);
	assert_non_null(strstr(text, "cellmux_session_status_info{uplink=\"lte1\",session=\"s1\","
				     "state=\"a\\\"b\\\\c\\nd\"} 1\n"));
	assert_null(strstr(text, "HTTP 200"));
	assert_null(strstr(text, "198.18.0.1"));
	assert_null(strstr(text, "198.18.1.1"));
	free(text);

	s.worker_status = NULL;
	text = render_to_string(&in);
	assert_non_null(strstr(text, "# TYPE cellmux_session_status_info gauge\n"));
	assert_null(strstr(text, "cellmux_session_status_info{"));
	assert_null(strstr(text, "cellmux_session_status_timestamp_seconds{"));
	free(text);
}

static void test_without_process_figures_no_process_family_appears(void **state)
{
	struct metrics_input in = input;
	char *text;

	in.process = NULL;
	text = render_to_string(&in);
	assert_null(strstr(text, "process_"));
	assert_non_null(strstr(text, "cellmux_session_status_timestamp_seconds"));
	free(text);
}

static void test_unknown_start_time_is_declared_without_a_sample(void **state)
{
	struct metrics_process p = process;
	struct metrics_input in = input;
	char *text;

	p.start_time_ms = 0;
	in.process = &p;
	text = render_to_string(&in);
	assert_non_null(strstr(text, "# TYPE process_start_time_seconds gauge\n"));
	assert_null(strstr(text, "\nprocess_start_time_seconds "));
	assert_non_null(strstr(text, "\nprocess_resident_memory_bytes 4096000\n"));
	free(text);
}

static void test_without_accounting_traffic_families_have_no_sample(void **state)
{
	struct status_uplink u = uplinks[0];
	struct status_session s = sessions[0];
	struct metrics_input in = { .daemon = &daemon_st, .uplinks = &u, .n_uplinks = 1,
				    .sessions = &s, .n_sessions = 1 };
	char *text;

	u.counters_valid = s.counters_valid = false;
	u.removed_valid = false; /* and no store: no removed-sessions sample either */
	text = render_to_string(&in);
	assert_non_null(strstr(text, "# TYPE cellmux_uplink_receive_bytes_total counter\n"
				     "# HELP cellmux_uplink_transmit_bytes_total"));
	assert_non_null(strstr(text, "# TYPE cellmux_session_transmit_packets_total counter\n"
				     "# HELP cellmux_session_quota_limit_bytes"));
	assert_null(strstr(text, "_bytes_total{"));
	assert_null(strstr(text, "_packets_total{"));
	assert_non_null(
		strstr(text, "cellmux_session_restarts_total{uplink=\"lte1\",session=\"s1\"} 2\n"));
	free(text);
}

/* The grouping rules promtool and Prometheus enforce: each family's TYPE once, before all its
 * samples, samples of a family contiguous, and a HELP right before every TYPE. */
static void check_grouping(const char *text)
{
	char families[128][80], current[80] = "", line[1024];
	size_t n_families = 0, samples = 0;
	const char *p = text;

	while (*p) {
		size_t len = strcspn(p, "\n");

		assert_true(p[len] == '\n'); /* the text ends with a newline */
		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + 1;
		if (!strncmp(line, "# HELP ", 7)) {
			char name[80];

			assert_int_equal(sscanf(line + 7, "%79s", name), 1);
			assert_true(!strncmp(p, "# TYPE ", 7));
			assert_true(!strncmp(p + 7, name, strlen(name)));
			assert_true(p[7 + strlen(name)] == ' ');
			for (size_t i = 0; i < n_families; i++)
				assert_string_not_equal(families[i], name);
			assert_true(n_families < 128);
			strcpy(families[n_families++], name);
			strcpy(current, name);
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7))
			continue;
		/* A sample: its name is the family just declared. */
		line[strcspn(line, "{ ")] = '\0';
		assert_string_equal(line, current);
		samples++;
	}
	assert_true(samples > 0);
}

static void test_every_sample_follows_its_own_help_and_type(void **state)
{
	char *text = render_to_string(&input);

	check_grouping(text);
	free(text);
}

static void test_no_uplinks_or_sessions_still_declares_every_family(void **state)
{
	struct metrics_input in = { .daemon = &daemon_st };
	char *text = render_to_string(&in);

	check_grouping(text);
	assert_non_null(strstr(text, "# TYPE cellmux_uplink_up gauge\n"));
	assert_non_null(strstr(text, "# TYPE cellmux_session_transmit_bytes_total counter\n"));
	assert_null(strstr(text, "cellmux_uplink_up{"));
	free(text);
}

static void test_backend_link_series_only_with_a_backend(void **state)
{
	struct status_daemon d = daemon_st;
	struct metrics_input in = { .daemon = &d };
	char *text = render_to_string(&in);

	assert_null(strstr(text, "cellmux_backend_up"));
	free(text);
	d.have_backend = true;
	d.backend_up = true;
	d.backend_outbox = 7;
	d.backend_inbox = 2;
	d.backend_reconnects = 3;
	text = render_to_string(&in);
	check_grouping(text);
	assert_non_null(strstr(text, "\ncellmux_backend_up 1\n"));
	assert_non_null(strstr(text, "\ncellmux_backend_queued_events 7\n"));
	assert_non_null(strstr(text, "\ncellmux_backend_queued_deliveries 2\n"));
	assert_non_null(strstr(text, "# TYPE cellmux_backend_reconnects_total counter\n"
				   "cellmux_backend_reconnects_total 3\n"));
	free(text);
}

/* The other way round from the golden text: a tasks limit and no memory limit; and a session
 * whose cgroup could not be read (worker just gone) has no cgroup series at all. */
static void test_cgroup_limits_only_where_there_is_one(void **state)
{
	struct status_session s[2] = { sessions[0], sessions[0] };
	struct metrics_input in = { .daemon = &daemon_st, .sessions = s, .n_sessions = 2 };
	char *text;

	s[0].usage.memory_max = CGROUP_MAX;
	s[0].usage.pids_max = 32;
	s[0].usage.oom_kills = 0;
	s[1].name = "gone";
	s[1].have_usage = false;
	text = render_to_string(&in);
	check_grouping(text);
	assert_non_null(strstr(text, "# TYPE cellmux_session_tasks_max gauge\n"
				     "cellmux_session_tasks_max{uplink=\"lte1\",session=\"s1\"} 32\n"));
	assert_non_null(strstr(text, "# TYPE cellmux_session_memory_max_bytes gauge\n"
				     "# HELP cellmux_session_oom_kills_total"));
	assert_non_null(strstr(text, "cellmux_session_oom_kills_total{uplink=\"lte1\","
				     "session=\"s1\"} 0\n"));
	assert_non_null(strstr(text, "cellmux_session_memory_bytes{uplink=\"lte1\",session=\"s1\"} "
				     "1234567\n"));
	assert_null(strstr(text, "cellmux_session_memory_bytes{uplink=\"lte1\",session=\"gone\"}"));
	assert_null(strstr(text, "cellmux_session_tasks{uplink=\"lte1\",session=\"gone\"}"));
	assert_null(strstr(text, "cellmux_session_cpu_weight{uplink=\"lte1\",session=\"gone\"}"));
	assert_non_null(strstr(text, "cellmux_session_up{uplink=\"lte1\",session=\"gone\"} 1\n"));
	free(text);
}

/* The figure the scrape budget is about: 64 uplinks x 16 sessions. */
static void test_a_large_gateway_renders_every_series(void **state)
{
	struct status_uplink *u = calloc(64, sizeof(*u));
	struct status_session *s = calloc(64 * 16, sizeof(*s));
	char (*names)[16] = calloc(64 + 64 * 16, sizeof(*names));
	struct metrics_input in = { .daemon = &daemon_st, .uplinks = u, .n_uplinks = 64,
				    .sessions = s, .n_sessions = 64 * 16 };
	struct mbuf b = { 0 };
	size_t lines = 0;

	assert_non_null(u);
	assert_non_null(s);
	assert_non_null(names);
	for (size_t i = 0; i < 64; i++) {
		snprintf(names[i], sizeof(names[i]), "sim%zu", i);
		u[i] = uplinks[1];
		u[i].name = names[i];
	}
	for (size_t i = 0; i < 64 * 16; i++) {
		snprintf(names[64 + i], sizeof(names[i]), "b%zu", i);
		s[i] = sessions[0];
		s[i].name = names[64 + i];
		s[i].uplink = names[i / 16];
	}
	assert_int_equal(metrics_render(&in, &b), 0);
	for (size_t i = 0; i < b.len; i++)
		lines += b.data[i] == '\n';
	/* build_info, 45 families' HELP and TYPE, 15 series per uplink (no accounting, store,
	 * quota, signal, addresses or error; health 1 + 3; recoveries 2) and 22 per session (counters, quota, a status and its
	 * time, moves, and cgroup use with a memory but no tasks limit). */
	assert_int_equal(lines, 1 + 2 * 45 + 64 * 15 + 1024 * 22);
	check_grouping(b.data);
	mbuf_free(&b);
	free(names);
	free(s);
	free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_status_renders_the_golden_text),
		cmocka_unit_test(test_cgroup_limits_only_where_there_is_one),
		cmocka_unit_test(test_backend_link_series_only_with_a_backend),
		cmocka_unit_test(test_render_appends_to_what_the_buffer_holds),
		cmocka_unit_test(test_label_values_escape_backslash_quote_and_newline_only),
		cmocka_unit_test(test_numbers_are_exact_at_their_limits),
		cmocka_unit_test(test_a_state_not_in_the_list_still_shows_as_current),
		cmocka_unit_test(test_status_gives_its_state_as_a_label_and_nothing_else),
		cmocka_unit_test(test_without_process_figures_no_process_family_appears),
		cmocka_unit_test(test_without_accounting_traffic_families_have_no_sample),
		cmocka_unit_test(test_unknown_start_time_is_declared_without_a_sample),
		cmocka_unit_test(test_every_sample_follows_its_own_help_and_type),
		cmocka_unit_test(test_no_uplinks_or_sessions_still_declares_every_family),
		cmocka_unit_test(test_a_large_gateway_renders_every_series),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
