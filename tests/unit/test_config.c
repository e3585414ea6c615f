/* test_config.c — unit tests for daemon/config.c and daemon/ini.c: what cellmux.conf accepts,
 * its defaults, session placement, and the exact "FILE:LINE: message" of every rejection. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/config.h"
#include "daemon/ini.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Fragments; each ends with a newline so they concatenate. */
#define UPLINK_A "[uplink a]\ndriver=netdev\ninterface=wwan0\naddress=10.0.0.2/24\n" /* 4 lines */
#define PROFILE_P "[profile p]\nexec=/bin/true\n"                                    /* 2 lines */

static struct cmx_config *parse_ok(const char *text)
{
	struct cmx_config *c = NULL;
	char err[CONFIG_ERR_MAX];
	int r = config_parse_string("t.conf", text, &c, err, sizeof(err));

	if (r < 0)
		fail_msg("config rejected (%d): %s", r, err);
	assert_non_null(c);
	assert_string_equal(err, "");
	return c;
}

static void expect_error(const char *text, const char *msg)
{
	struct cmx_config *sentinel = (struct cmx_config *)&sentinel, *c = sentinel;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(config_parse_string("t.conf", text, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, msg);
	assert_ptr_equal(c, sentinel); /* *ret is written only on success */
}

/* One test per rejection, named after the rule it proves. */
#define ERROR_TEST(name, text, msg)                                                        \
	static void name(void **state)                                                     \
	{                                                                                  \
		expect_error(text, msg);                                                   \
	}

/* ---- accepted configs ---- */

static void test_empty_file_is_a_valid_config_without_uplinks(void **state)
{
	struct cmx_config *c = parse_ok("");

	assert_string_equal(c->path, "t.conf");
	assert_int_equal(c->n_uplinks, 0);
	assert_int_equal(c->n_profiles, 0);
	assert_int_equal(c->n_sessions, 0);
	assert_string_equal(c->daemon.cgroup, "");
	assert_int_equal(c->daemon.line, 0);
	config_free(c);
}

static void test_comments_blank_lines_and_spaces_are_ignored(void **state)
{
	struct cmx_config *c = parse_ok("# a comment\n"
					"; another one\n"
					"\n"
					"   \t\n"
					"  [ uplink   a ]  \n"
					"\tdriver =  netdev \n"
					"  # indented comment\n"
					"interface\t=\twwan0\n"
					"address=10.0.0.2/24");

	assert_int_equal(c->n_uplinks, 1);
	assert_string_equal(c->uplinks[0].p.name, "a");
	assert_string_equal(c->uplinks[0].p.driver, "netdev");
	assert_string_equal(c->uplinks[0].p.ifname, "wwan0");
	assert_int_equal(c->uplinks[0].line, 5);
	assert_int_equal(c->uplinks[0].iface_line, 8);
	config_free(c);
}

static void test_crlf_line_endings_and_bom_are_accepted(void **state)
{
	struct cmx_config *c = parse_ok("\xef\xbb\xbf[uplink a]\r\ndriver=netdev\r\n"
					"interface=wwan0\r\naddress=10.0.0.2/24\r\n");

	assert_string_equal(c->uplinks[0].p.ifname, "wwan0");
	assert_int_equal(c->uplinks[0].iface_line, 3);
	config_free(c);
}

static void test_full_config_fills_every_field(void **state)
{
	char buf[IP_PREFIX_STRLEN];
	struct cmx_config *c = parse_ok("[daemon]\n"
					"cgroup=/cellmux.slice/sessions\n"
					"[uplink lte-1]\n"
					"driver=netdev\n"
					"interface=usb0\n"
					"address=100.64.0.2/10\n"
					"gateway=100.64.0.1\n"
					"dns=192.0.2.53, 2001:db8::53\n"
					"capacity=3\n"
					"[profile probe.v2]\n"
					"exec=/usr/bin/probe --interval 5\n"
					"user=cellmux-worker\n"
					"restart=always\n"
					"restart_sec=500ms\n"
					"restart_max_sec=1m\n"
					"[session S_1]\n"
					"profile=probe.v2\n"
					"uplink=lte-1\n");
	const struct cfg_uplink *u = &c->uplinks[0];
	const struct cfg_profile *f = &c->profiles[0];
	const struct cfg_session *s = &c->sessions[0];

	assert_string_equal(c->daemon.cgroup, "/cellmux.slice/sessions");
	assert_int_equal(c->daemon.line, 1);

	assert_int_equal(c->n_uplinks, 1);
	assert_string_equal(u->p.name, "lte-1");
	assert_string_equal(u->p.ifname, "usb0");
	assert_int_equal(u->p.n_addrs, 1);
	assert_string_equal(ip_prefix_fmt(&u->p.addrs[0], true, buf), "100.64.0.2/10");
	assert_string_equal(ip_prefix_fmt(&u->p.gw4, false, buf), "100.64.0.1");
	assert_int_equal(u->p.gw6.family, 0);
	assert_int_equal(u->p.n_dns, 2);
	assert_string_equal(ip_prefix_fmt(&u->p.dns[0], false, buf), "192.0.2.53");
	assert_string_equal(ip_prefix_fmt(&u->p.dns[1], false, buf), "2001:db8::53");
	assert_int_equal(u->capacity, 3);
	assert_int_equal(u->line, 3);
	assert_int_equal(u->iface_line, 5);

	assert_int_equal(c->n_profiles, 1);
	assert_string_equal(f->name, "probe.v2");
	assert_string_equal(f->argv[0], "/usr/bin/probe");
	assert_string_equal(f->argv[1], "--interval");
	assert_string_equal(f->argv[2], "5");
	assert_null(f->argv[3]);
	assert_string_equal(f->user, "cellmux-worker");
	assert_int_equal(f->restart, RESTART_ALWAYS);
	assert_int_equal(f->restart_sec_ms, 500);
	assert_int_equal(f->restart_max_ms, 60000);
	assert_int_equal(f->line, 10);
	assert_int_equal(f->exec_line, 11);
	assert_int_equal(f->user_line, 12);

	assert_int_equal(c->n_sessions, 1);
	assert_string_equal(s->name, "S_1");
	assert_string_equal(s->profile, "probe.v2");
	assert_string_equal(s->uplink, "lte-1");
	assert_int_equal(s->profile_idx, 0);
	assert_int_equal(s->uplink_idx, 0);
	assert_int_equal(s->line, 16);
	assert_int_equal(s->profile_line, 17);
	assert_int_equal(s->uplink_line, 18);
	config_free(c);
}

static void test_uplink_capacity_defaults(void **state)
{
	struct cmx_config *c = parse_ok(UPLINK_A);

	assert_int_equal(c->uplinks[0].capacity, CONFIG_DEFAULT_CAPACITY);
	assert_int_equal(c->uplinks[0].p.n_dns, 0);
	assert_int_equal(c->uplinks[0].p.gw4.family, 0);
	config_free(c);
}

static void test_capacity_accepts_its_bounds(void **state)
{
	struct cmx_config *c = parse_ok("[uplink a]\ndriver=netdev\ninterface=a0\n"
					"address=10.0.0.2/24\ncapacity=1\n"
					"[uplink b]\ndriver=netdev\ninterface=b0\n"
					"address=10.0.1.2/24\ncapacity=4096\n");

	assert_int_equal(c->uplinks[0].capacity, 1);
	assert_int_equal(c->uplinks[1].capacity, 4096);
	config_free(c);
}

static void test_profile_defaults_are_dynamic_user_on_failure_1s_60s(void **state)
{
	struct cmx_config *c = parse_ok(PROFILE_P);
	const struct cfg_profile *f = &c->profiles[0];

	assert_string_equal(f->user, ""); /* a dynamic uid per session */
	assert_int_equal(f->limits.pids_max, CONFIG_DEFAULT_PIDS_MAX);
	assert_true(f->limits.memory_max == CONFIG_LIMIT_INFINITY);
	assert_int_equal(f->limits.cpu_weight, 0);
	assert_int_equal(c->daemon.uid_min, CONFIG_DEFAULT_UID_MIN);
	assert_int_equal(c->daemon.uid_max, CONFIG_DEFAULT_UID_MAX);
	assert_int_equal(f->user_line, 0);
	assert_int_equal(f->restart, RESTART_ON_FAILURE);
	assert_int_equal(f->restart_sec_ms, 1000);
	assert_int_equal(f->restart_max_ms, 60000);
	config_free(c);
}

static void test_limits_parse_and_session_keys_override_one_by_one(void **state)
{
	struct cmx_config *c = parse_ok("[profile p]\nexec=/bin/true\nmemory_max=64M\npids_max=32\n"
					"cpu_weight=50\n"
					"[session s]\nprofile=p\npids_max=infinity\n"
					"[uplink a]\ndriver=netdev\ninterface=a0\naddress=10.0.0.2/24\n");
	struct cfg_limits l = config_session_limits(&c->profiles[0], &c->sessions[0]);

	assert_true(c->profiles[0].limits.memory_max == 64ull << 20);
	assert_true(c->profiles[0].limits.pids_max == 32);
	assert_int_equal(c->profiles[0].limits.cpu_weight, 50);
	/* The session's own key wins; the others come from the profile. */
	assert_true(l.pids_max == CONFIG_LIMIT_INFINITY);
	assert_int_equal(l.pids_line, 8);
	assert_true(l.memory_max == 64ull << 20);
	assert_int_equal(l.memory_line, 3);
	assert_int_equal(l.cpu_weight, 50);
	config_free(c);
}

ERROR_TEST(test_memory_max_below_a_page_is_refused, PROFILE_P "memory_max=1K\n",
	   "t.conf:3: invalid memory_max=1K (a size of at least 4K like 64M or 1G, K/M/G/T "
	   "powers of 1024, or infinity)")
ERROR_TEST(test_pids_max_of_one_is_refused, PROFILE_P "pids_max=1\n",
	   "t.conf:3: invalid pids_max=1 (2-4194304 tasks, or infinity)")
ERROR_TEST(test_cpu_weight_out_of_range_is_refused, PROFILE_P "cpu_weight=10001\n",
	   "t.conf:3: invalid cpu_weight=10001 (1-10000; the default is 100)")
ERROR_TEST(test_uid_range_must_stay_clear_of_system_accounts, "[daemon]\nuid_range=1000-2000\n",
	   "t.conf:2: invalid uid_range=1000-2000 (FROM-TO with 65536 <= FROM <= TO < 4294967295)")

static void test_log_rate_limit_defaults_and_keys(void **state)
{
	struct cmx_config *c = parse_ok(PROFILE_P "[profile q]\nexec=/bin/true\n"
					"log_rate_limit_burst=0\nlog_rate_limit_interval=5s\n");

	assert_int_equal(c->profiles[0].log_burst, 1000);
	assert_int_equal(c->profiles[0].log_interval_ms, 30000);
	assert_int_equal(c->profiles[1].log_burst, 0);
	assert_int_equal(c->profiles[1].log_interval_ms, 5000);
	config_free(c);
}

static void test_bind_paths_are_word_lists(void **state)
{
	struct cmx_config *c = parse_ok(PROFILE_P "bind_ro=/srv/w/run.py '/srv/w/my conf'\n"
					"bind=/srv/out\n");
	const struct cfg_profile *f = &c->profiles[0];

	assert_string_equal(f->bind_ro[0], "/srv/w/run.py");
	assert_string_equal(f->bind_ro[1], "/srv/w/my conf");
	assert_null(f->bind_ro[2]);
	assert_string_equal(f->bind_rw[0], "/srv/out");
	assert_null(f->bind_rw[1]);
	config_free(c);
}

ERROR_TEST(test_bind_path_must_be_plain_and_absolute, PROFILE_P "bind_ro=/srv/../etc\n",
	   "t.conf:3: bind_ro=: '/srv/../etc' is not an absolute path without . or .. (and not /)")
ERROR_TEST(test_bind_given_twice_is_refused, PROFILE_P "bind=/a\nbind=/b\n",
	   "t.conf:4: duplicate key 'bind'")

static void test_uid_range_parses(void **state)
{
	struct cmx_config *c = parse_ok("[daemon]\nuid_range=100000-100099\n");

	assert_int_equal(c->daemon.uid_min, 100000);
	assert_int_equal(c->daemon.uid_max, 100099);
	config_free(c);
}

static void test_counters_save_interval_defaults_to_60s_and_parses(void **state)
{
	struct cmx_config *c = parse_ok("");

	assert_int_equal(c->daemon.counters_save_ms, 60000);
	config_free(c);
	c = parse_ok("[daemon]\ncounters_save_interval=5m\n");
	assert_int_equal(c->daemon.counters_save_ms, 300000);
	config_free(c);
	c = parse_ok("[daemon]\ncounters_save_interval=1s\n");
	assert_int_equal(c->daemon.counters_save_ms, 1000);
	config_free(c);
}

ERROR_TEST(test_counters_save_interval_below_1s_is_refused,
	   "[daemon]\ncounters_save_interval=500ms\n",
	   "t.conf:2: invalid counters_save_interval=500ms (a duration from 1s to 24h)")

static void test_addresses_accumulate_over_lines_and_commas_with_ipv6(void **state)
{
	char buf[IP_PREFIX_STRLEN];
	struct cmx_config *c = parse_ok("[uplink a]\n"
					"driver=netdev\n"
					"interface=wwan0\n"
					"address=10.0.0.2/24 , 2001:db8:1::2/64\n"
					"address=10.0.1.2/24\n"
					"address=fd00::2/8,192.168.1.2/30\n"
					"gateway=10.0.1.1,2001:db8:1::1\n");
	const struct uplink_params *u = &c->uplinks[0].p;
	static const char *const want[] = { "10.0.0.2/24", "2001:db8:1::2/64", "10.0.1.2/24",
					    "fd00::2/8", "192.168.1.2/30" };

	assert_int_equal(u->n_addrs, N(want));
	for (size_t i = 0; i < N(want); i++)
		assert_string_equal(ip_prefix_fmt(&u->addrs[i], true, buf), want[i]);
	assert_string_equal(ip_prefix_fmt(&u->gw4, false, buf), "10.0.1.1");
	assert_string_equal(ip_prefix_fmt(&u->gw6, false, buf), "2001:db8:1::1");
	config_free(c);
}

static void test_eight_addresses_fit(void **state)
{
	struct cmx_config *c = parse_ok("[uplink a]\ndriver=netdev\ninterface=wwan0\n"
					"address=10.0.0.1/24,10.0.0.2/24,10.0.0.3/24\n"
					"address=10.0.0.4/24,10.0.0.5/24,10.0.0.6/24\n"
					"address=10.0.0.7/24,10.0.0.8/24\n");

	assert_int_equal(c->uplinks[0].p.n_addrs, UPLINK_MAX_ADDRS);
	config_free(c);
}

static void test_gateways_may_be_given_once_per_family_on_separate_lines(void **state)
{
	char buf[IP_PREFIX_STRLEN];
	struct cmx_config *c = parse_ok("[uplink a]\ndriver=netdev\ninterface=wwan0\n"
					"gateway=2001:db8::1\n"
					"address=10.0.0.2/24,2001:db8::2/64\n"
					"gateway=10.0.0.1\n");

	assert_string_equal(ip_prefix_fmt(&c->uplinks[0].p.gw4, false, buf), "10.0.0.1");
	assert_string_equal(ip_prefix_fmt(&c->uplinks[0].p.gw6, false, buf), "2001:db8::1");
	config_free(c);
}

static void test_exec_is_split_like_shell_words_without_expansion(void **state)
{
	struct cmx_config *c = parse_ok("[profile p]\n"
					"exec=/opt/my\\ worker/run  'a b'  "
					"\"c \\\"d\\\" $HOME\" e\\ f "
					"'' \"x\\y\" mi'x'\"ed\" 'it''s' \\'q *\n");
	static const char *const want[] = {
		"/opt/my worker/run", "a b", "c \"d\" $HOME", "e f", "", "x\\y", "mixed", "its",
		"'q", "*",
	};
	char **argv = c->profiles[0].argv;
	size_t n = 0;

	while (argv[n])
		n++;
	assert_int_equal(n, N(want));
	for (size_t i = 0; i < N(want); i++)
		assert_string_equal(argv[i], want[i]);
	config_free(c);
}

static void test_durations_take_ms_s_m_h_and_plain_seconds(void **state)
{
	static const struct {
		const char *sec, *max;
		unsigned sec_ms, max_ms;
	} cases[] = {
		{ "500ms", "2s", 500, 2000 },
		{ "3", "1m", 3000, 60000 },
		{ "1s", "1h", 1000, 3600000 },
		{ "250ms", "250ms", 250, 250 },
	};

	for (size_t i = 0; i < N(cases); i++) {
		char text[256];
		snprintf(text, sizeof(text),
			 "[profile p]\nexec=/bin/true\nrestart_sec=%s\nrestart_max_sec=%s\n",
			 cases[i].sec, cases[i].max);
		struct cmx_config *c = parse_ok(text);
		assert_int_equal(c->profiles[0].restart_sec_ms, cases[i].sec_ms);
		assert_int_equal(c->profiles[0].restart_max_ms, cases[i].max_ms);
		config_free(c);
	}
}

static void test_restart_sec_alone_above_default_max_raises_the_max(void **state)
{
	struct cmx_config *c = parse_ok(PROFILE_P "restart_sec=2m\n");

	assert_int_equal(c->profiles[0].restart_sec_ms, 120000);
	assert_int_equal(c->profiles[0].restart_max_ms, 120000);
	config_free(c);
}

static void test_restart_max_alone_below_default_sec_lowers_the_first_delay(void **state)
{
	struct cmx_config *c = parse_ok(PROFILE_P "restart_max_sec=200ms\n");

	assert_int_equal(c->profiles[0].restart_sec_ms, 200);
	assert_int_equal(c->profiles[0].restart_max_ms, 200);
	config_free(c);
}

static void test_restart_policies_parse_and_print(void **state)
{
	static const char *const names[] = { "no", "on-failure", "always" };
	static const enum restart_policy want[] = { RESTART_NO, RESTART_ON_FAILURE,
						    RESTART_ALWAYS };

	for (size_t i = 0; i < N(names); i++) {
		char text[128];
		snprintf(text, sizeof(text), PROFILE_P "restart=%s\n", names[i]);
		struct cmx_config *c = parse_ok(text);
		assert_int_equal(c->profiles[0].restart, want[i]);
		assert_string_equal(restart_policy_to_string(want[i]), names[i]);
		config_free(c);
	}
	assert_null(restart_policy_to_string((enum restart_policy)42));
}

static void test_numeric_non_root_user_is_accepted(void **state)
{
	struct cmx_config *c = parse_ok(PROFILE_P "user=65534\n");

	assert_string_equal(c->profiles[0].user, "65534");
	config_free(c);
}

static void test_sessions_may_name_profiles_and_uplinks_defined_later(void **state)
{
	struct cmx_config *c = parse_ok("[session s1]\nprofile=q\nuplink=b\n"
					"[session s2]\nprofile=p\n" PROFILE_P
					"[profile q]\nexec=/bin/false\n" UPLINK_A
					"[uplink b]\ndriver=netdev\ninterface=wwan1\n"
					"address=10.0.1.2/24\n");

	assert_int_equal(c->sessions[0].profile_idx, 1);
	assert_int_equal(c->sessions[0].uplink_idx, 1);
	assert_int_equal(c->sessions[1].profile_idx, 0);
	assert_int_equal(c->sessions[1].uplink_idx, 0);
	assert_int_equal(c->sessions[1].uplink_line, 0);
	assert_string_equal(c->sessions[1].uplink, "");
	config_free(c);
}

static void test_find_functions_return_index_or_enoent(void **state)
{
	struct cmx_config *c = parse_ok(UPLINK_A PROFILE_P "[session s]\nprofile=p\n");

	assert_int_equal(config_find_uplink(c, "a"), 0);
	assert_int_equal(config_find_uplink(c, "b"), -ENOENT);
	assert_int_equal(config_find_profile(c, "p"), 0);
	assert_int_equal(config_find_profile(c, "a"), -ENOENT);
	assert_int_equal(config_find_session(c, "s"), 0);
	assert_int_equal(config_find_session(c, "p"), -ENOENT);
	config_free(c);
}

static void test_name_rules_are_exported(void **state)
{
	assert_true(config_name_valid("A-b_c.9"));
	assert_true(config_name_valid("12345678901234567890123456789012"));
	assert_false(config_name_valid("123456789012345678901234567890123"));
	assert_false(config_name_valid(""));
	assert_false(config_name_valid("."));
	assert_false(config_name_valid(".."));
	assert_true(config_name_valid("..."));
	assert_false(config_name_valid("a/b"));
	assert_false(config_name_valid("a b"));

	assert_true(config_uplink_name_valid("0lte_a-b"));
	assert_true(config_uplink_name_valid("abcdefghijklmno"));
	assert_false(config_uplink_name_valid("abcdefghijklmnop"));
	assert_false(config_uplink_name_valid("Lte"));
	assert_false(config_uplink_name_valid("-a"));
	assert_false(config_uplink_name_valid("_a"));
	assert_false(config_uplink_name_valid("a.b"));
	assert_false(config_uplink_name_valid(""));
}

static void test_config_free_null_is_a_noop(void **state)
{
	config_free(NULL);
}

/* ---- placement ---- */

/* 10 lines: a has room for 2 sessions, b for 4. */
#define UPLINKS_A2_B4                                                                      \
	"[uplink a]\ndriver=netdev\ninterface=wwan0\naddress=10.0.0.2/24\ncapacity=2\n"    \
	"[uplink b]\ndriver=netdev\ninterface=wwan1\naddress=10.0.1.2/24\ncapacity=4\n"

static void assert_placement(const struct cmx_config *c, const char *want)
{
	char got[64] = "";

	for (size_t i = 0; i < c->n_sessions; i++)
		got[i] = c->uplinks[c->sessions[i].uplink_idx].p.name[0];
	assert_string_equal(got, want);
}

static void test_unpinned_sessions_spread_by_load_relative_to_capacity(void **state)
{
	struct cmx_config *c = parse_ok(UPLINKS_A2_B4 PROFILE_P
					"[session s1]\nprofile=p\n[session s2]\nprofile=p\n"
					"[session s3]\nprofile=p\n[session s4]\nprofile=p\n"
					"[session s5]\nprofile=p\n[session s6]\nprofile=p\n");

	/* 0/2 vs 0/4 tie → a; then b (0/4 < 1/2); b again (1/4 < 1/2); tie 1/2 = 2/4 → a;
	 * then a is full, so b, b. */
	assert_placement(c, "abbabb");
	config_free(c);
}

static void test_pinned_sessions_are_counted_before_unpinned_ones(void **state)
{
	struct cmx_config *c = parse_ok(UPLINKS_A2_B4 PROFILE_P
					"[session s1]\nprofile=p\n"
					"[session s2]\nprofile=p\nuplink=a\n"
					"[session s3]\nprofile=p\nuplink=a\n"
					"[session s4]\nprofile=p\n");

	/* s1 comes first in the file, yet a is already full with s2 and s3. */
	assert_placement(c, "baab");
	config_free(c);
}

static void test_sessions_fill_every_uplink_to_capacity_exactly(void **state)
{
	struct cmx_config *c = parse_ok(UPLINKS_A2_B4 PROFILE_P
					"[session s1]\nprofile=p\n[session s2]\nprofile=p\n"
					"[session s3]\nprofile=p\n[session s4]\nprofile=p\n"
					"[session s5]\nprofile=p\n"
					"[session s6]\nprofile=p\nuplink=b\n");

	/* s6 claims b first; then a 0/2 < b 1/4, b 1/4 < a 1/2, a 1/2 = b 2/4 tie, b, b. */
	assert_placement(c, "ababbb");
	config_free(c);
}

ERROR_TEST(test_pinned_session_over_capacity_is_rejected_at_its_header,
	   UPLINKS_A2_B4 PROFILE_P "[session s1]\nprofile=p\nuplink=a\n"
				   "[session s2]\nprofile=p\n"
				   "[session s3]\nprofile=p\nuplink=a\n"
				   "[session s7]\nprofile=p\nuplink=a\n",
	   "t.conf:21: session 's7' does not fit: uplink 'a' is at capacity 2")
ERROR_TEST(test_unpinned_session_beyond_total_capacity_is_rejected,
	   "[uplink a]\ndriver=netdev\ninterface=wwan0\naddress=10.0.0.2/24\ncapacity=1\n" PROFILE_P
	   "[session s1]\nprofile=p\n[session s2]\nprofile=p\n",
	   "t.conf:10: session 's2' does not fit: all uplinks are at capacity")
ERROR_TEST(test_session_without_any_uplink_is_rejected, PROFILE_P "[session s1]\nprofile=p\n",
	   "t.conf:3: session 's1' does not fit: no uplink is defined")

/* ---- ini syntax ---- */

ERROR_TEST(test_line_without_equals_is_rejected, "[daemon]\ncgroup /x\n",
	   "t.conf:2: expected key=value, [section] or a comment")
ERROR_TEST(test_unterminated_header_is_rejected, "\n[uplink a\n",
	   "t.conf:2: unterminated section header (missing ']')")
ERROR_TEST(test_text_after_header_is_rejected, "[daemon] # comment\n",
	   "t.conf:1: unexpected text after ']'")
ERROR_TEST(test_header_with_two_names_is_rejected, "[uplink a b]\n",
	   "t.conf:1: section header has more than one name")
ERROR_TEST(test_empty_header_is_rejected, "[ ]\n", "t.conf:1: empty section header")
ERROR_TEST(test_nested_bracket_in_header_is_rejected, "[uplink [a]\n",
	   "t.conf:1: unexpected '[' in section header")
ERROR_TEST(test_empty_key_is_rejected, "[daemon]\n = /x\n", "t.conf:2: empty key before '='")
ERROR_TEST(test_key_before_any_section_is_rejected, "# hi\ncgroup=/x\n",
	   "t.conf:2: key 'cgroup' outside of any section")
ERROR_TEST(test_empty_value_is_rejected, UPLINK_A "capacity=\n",
	   "t.conf:5: empty value for 'capacity'")
ERROR_TEST(test_empty_list_item_is_rejected, UPLINK_A "dns=192.0.2.1,,192.0.2.2\n",
	   "t.conf:5: empty item in dns=")

static void test_overlong_line_is_rejected_but_4096_fits(void **state)
{
	size_t n = 4096 - strlen("exec=/");
	char *text = malloc(64 + n + 2);

	assert_non_null(text);
	/* Exactly INI_LINE_MAX characters on line 2: accepted. */
	strcpy(text, "[profile p]\nexec=/");
	memset(text + strlen(text), 'x', n);
	strcpy(text + strlen("[profile p]\nexec=/") + n, "\n");
	struct cmx_config *c = parse_ok(text);
	assert_int_equal(strlen(c->profiles[0].argv[0]), n + 1);
	config_free(c);

	/* One more: rejected with the line number. */
	strcpy(text + strlen("[profile p]\nexec=/") + n, "x\n");
	expect_error(text, "t.conf:2: line longer than 4096 characters");
	free(text);
}

/* ---- sections ---- */

ERROR_TEST(test_unknown_section_is_rejected, UPLINK_A "[foo]\n", "t.conf:5: unknown section 'foo'")
ERROR_TEST(test_section_types_are_case_sensitive, "[Uplink a]\n",
	   "t.conf:1: unknown section 'Uplink'")
ERROR_TEST(test_unnamed_uplink_is_rejected, "[uplink]\n",
	   "t.conf:1: [uplink] needs a name, as in [uplink NAME]")
ERROR_TEST(test_named_daemon_section_is_rejected, "[daemon main]\n",
	   "t.conf:1: [daemon] takes no name")
ERROR_TEST(test_second_daemon_section_is_rejected, "[daemon]\n\n[daemon]\n",
	   "t.conf:3: duplicate [daemon] section (first defined at line 1)")
ERROR_TEST(test_uplink_name_with_upper_case_is_rejected, "[uplink LTE]\n",
	   "t.conf:1: invalid uplink name 'LTE' (1-15 of a-z 0-9 _ -, starting with a letter or "
	   "digit)")
ERROR_TEST(test_uplink_name_starting_with_dash_is_rejected, "[uplink -a]\n",
	   "t.conf:1: invalid uplink name '-a' (1-15 of a-z 0-9 _ -, starting with a letter or "
	   "digit)")
ERROR_TEST(test_uplink_name_of_16_chars_is_rejected, "[uplink abcdefghijklmnop]\n",
	   "t.conf:1: invalid uplink name 'abcdefghijklmnop' (1-15 of a-z 0-9 _ -, starting with a "
	   "letter or digit)")
ERROR_TEST(test_profile_name_dotdot_is_rejected, "[profile ..]\n",
	   "t.conf:1: invalid profile name '..' (1-32 of A-Z a-z 0-9 _ . -)")
ERROR_TEST(test_session_name_of_33_chars_is_rejected,
	   "[session 123456789012345678901234567890123]\n",
	   "t.conf:1: invalid session name '123456789012345678901234567890123' "
	   "(1-32 of A-Z a-z 0-9 _ . -)")
ERROR_TEST(test_duplicate_uplink_is_rejected,
	   "\n\n" UPLINK_A "[uplink a]\ndriver=netdev\ninterface=wwan1\n",
	   "t.conf:7: duplicate uplink 'a' (first defined at line 3)")
ERROR_TEST(test_duplicate_profile_is_rejected, PROFILE_P PROFILE_P,
	   "t.conf:3: duplicate profile 'p' (first defined at line 1)")
ERROR_TEST(test_duplicate_session_is_rejected,
	   UPLINK_A PROFILE_P "[session s]\nprofile=p\n[session s]\nprofile=p\n",
	   "t.conf:9: duplicate session 's' (first defined at line 7)")
ERROR_TEST(test_unknown_key_names_its_section, UPLINK_A "foo=1\n",
	   "t.conf:5: unknown key 'foo' in [uplink a]")
ERROR_TEST(test_keys_are_case_sensitive, "[daemon]\nCgroup=/x\n",
	   "t.conf:2: unknown key 'Cgroup' in [daemon]")
ERROR_TEST(test_key_of_another_section_is_unknown, PROFILE_P "interface=wwan0\n",
	   "t.conf:3: unknown key 'interface' in [profile p]")
ERROR_TEST(test_duplicate_single_valued_key_is_rejected, UPLINK_A "interface=wwan1\n",
	   "t.conf:5: duplicate key 'interface'")
ERROR_TEST(test_duplicate_exec_is_rejected, PROFILE_P "exec=/bin/false\n",
	   "t.conf:3: duplicate key 'exec'")

/* ---- [daemon] ---- */

ERROR_TEST(test_relative_cgroup_is_rejected, "[daemon]\ncgroup=cellmux\n",
	   "t.conf:2: cgroup=cellmux is not an absolute cgroup v2 path (like /cellmux)")
ERROR_TEST(test_cgroup_climbing_up_is_rejected, "[daemon]\ncgroup=/a/../../etc\n",
	   "t.conf:2: cgroup=/a/../../etc must not contain '.' or '..'")

/* ---- [uplink] ---- */

ERROR_TEST(test_uplink_without_driver_is_rejected,
	   "[uplink a]\ninterface=wwan0\naddress=10.0.0.2/24\n",
	   "t.conf:1: [uplink a] needs driver=")
ERROR_TEST(test_uplink_without_interface_is_rejected_at_its_header,
	   PROFILE_P "\n\n\n[uplink a]\ndriver=netdev\naddress=10.0.0.2/24\n",
	   "t.conf:6: [uplink a] needs interface= or match=")
/* ---- match= ---- */

#define MATCH_A "[uplink a]\ndriver=netdev\naddress=10.0.0.2/24\n" /* 3 lines */

static void test_match_terms_accumulate_over_lines_and_commas(void **state)
{
	struct cmx_config *c = parse_ok(MATCH_A "match=mac:02:C3:4D:00:00:01,usb:1-1.2\n"
						"[uplink b]\ndriver=netdev\naddress=10.0.1.2/24\n"
						"match=usb:1-1.3\n");
	const struct ident_match *m = &c->uplinks[0].match;

	assert_int_equal(m->n, 2);
	assert_int_equal(m->t[0].kind, IDENT_MAC);
	assert_string_equal(m->t[0].value, "02:c3:4d:00:00:01");
	assert_int_equal(m->t[1].kind, IDENT_USB);
	assert_string_equal(c->uplinks[0].p.ifname, ""); /* found at run time */
	assert_int_equal(c->uplinks[1].match.n, 1);
	config_free(c);
	/* Without match= nothing changes. */
	c = parse_ok(UPLINK_A);
	assert_int_equal(c->uplinks[0].match.n, 0);
	config_free(c);
}

ERROR_TEST(test_match_with_a_bad_mac_is_rejected_at_its_line, MATCH_A "match=mac:02:c3:4d\n",
	   "t.conf:4: invalid match=mac:02:c3:4d: a MAC is six hex bytes like 02:00:5e:10:00:01")
ERROR_TEST(test_match_of_unknown_kind_is_rejected, MATCH_A "match=serial:42\n",
	   "t.conf:4: invalid match=serial:42: want KIND:VALUE with KIND imei, iccid, mac or usb")
ERROR_TEST(test_match_imei_with_a_bad_check_digit_is_rejected,
	   "[uplink a]\ndriver=qmi\ndevice=/dev/cdc-wdm0\nmatch=imei:350000000000001\n",
	   "t.conf:4: invalid match=imei:350000000000001: an IMEI is 15 digits with a valid Luhn "
	   "check digit")
ERROR_TEST(test_match_of_two_macs_is_rejected, MATCH_A "match=mac:02:00:00:00:00:01\n"
						       "match=mac:02:00:00:00:00:02\n",
	   "t.conf:5: match= names mac: twice (every term must hold; one mac can)")
ERROR_TEST(test_match_and_interface_exclude_each_other,
	   MATCH_A "interface=wwan0\nmatch=mac:02:00:00:00:00:01\n",
	   "t.conf:4: interface= and match= exclude each other: match= finds the interface, "
	   "whatever its name")
ERROR_TEST(test_match_imei_on_netdev_is_rejected, MATCH_A "match=imei:350000000000006\n",
	   "t.conf:4: match=imei: and match=iccid: ask the modem: only driver=qmi can (netdev: "
	   "mac: or usb:)")
/* driver=qmi: match= finds the port by what the modem says of itself. */
static void test_qmi_match_by_imei_and_iccid_is_accepted(void **state)
{
	struct cmx_config *c =
	    parse_ok("[uplink q]\ndriver=qmi\napn=internet\nmatch=imei:350000000000006\n"
		     "[uplink r]\ndriver=qmi\nmatch=iccid:8999900000000000014,usb:1-1.3\n");

	assert_int_equal(c->uplinks[0].match.n, 1);
	assert_int_equal(c->uplinks[0].match.t[0].kind, IDENT_IMEI);
	assert_string_equal(c->uplinks[0].p.device, ""); /* found at run time */
	assert_int_equal(c->uplinks[1].match.n, 2);
	assert_int_equal(c->uplinks[1].match.t[0].kind, IDENT_ICCID);
	config_free(c);
}
ERROR_TEST(test_qmi_match_and_device_exclude_each_other,
	   "[uplink q]\ndriver=qmi\nmatch=imei:350000000000006\ndevice=/dev/cdc-wdm0\n",
	   "t.conf:4: device= and match= exclude each other: match= finds the QMI port, whatever "
	   "its number")
ERROR_TEST(test_qmi_match_and_interface_exclude_each_other,
	   "[uplink q]\ndriver=qmi\ninterface=wwan0\nmatch=imei:350000000000006\n",
	   "t.conf:3: interface= and match= exclude each other: match= finds the interface, "
	   "whatever its name")
ERROR_TEST(test_qmi_same_imei_twice_is_rejected,
	   "[uplink q]\ndriver=qmi\nmatch=imei:350000000000006\n"
	   "[uplink r]\ndriver=qmi\nmatch=imei:350000000000006\n",
	   "t.conf:6: match=imei:350000000000006 is already used by uplink 'q'")
ERROR_TEST(test_one_identity_in_two_uplinks_is_rejected,
	   MATCH_A "match=usb:1-1.2\n[uplink b]\ndriver=netdev\naddress=10.0.1.2/24\n"
		   "match=usb:1-1.2\n",
	   "t.conf:8: match=usb:1-1.2 is already used by uplink 'a'")

ERROR_TEST(test_netdev_uplink_without_address_is_rejected,
	   "[uplink a]\ndriver=netdev\ninterface=wwan0\n[uplink b]\n",
	   "t.conf:1: [uplink a] needs address= (ADDRESS/PREFIXLEN or dhcp)")
ERROR_TEST(test_unknown_driver_is_rejected, "[uplink a]\ndriver=mbim\n",
	   "t.conf:2: unknown driver 'mbim' (known: netdev, qmi, host)")
ERROR_TEST(test_interface_name_of_16_chars_is_rejected,
	   "[uplink a]\ninterface=abcdefghijklmnop\n",
	   "t.conf:2: invalid interface name 'abcdefghijklmnop' (1-15 characters, no '/', ':' or "
	   "spaces)")
ERROR_TEST(test_interface_name_with_slash_is_rejected, "[uplink a]\ninterface=usb/0\n",
	   "t.conf:2: invalid interface name 'usb/0' (1-15 characters, no '/', ':' or spaces)")
ERROR_TEST(test_interface_name_with_space_is_rejected, "[uplink a]\ninterface=usb 0\n",
	   "t.conf:2: invalid interface name 'usb 0' (1-15 characters, no '/', ':' or spaces)")
ERROR_TEST(test_two_uplinks_on_one_interface_are_rejected,
	   UPLINK_A "[uplink b]\ndriver=netdev\ninterface=wwan0\n",
	   "t.conf:7: interface 'wwan0' is already used by uplink 'a' (line 3)")
ERROR_TEST(test_address_with_plen_33_is_rejected, UPLINK_A "address=10.0.0.3/33\n",
	   "t.conf:5: invalid address '10.0.0.3/33' (want ADDRESS/PREFIXLEN or dhcp)")
ERROR_TEST(test_address_without_plen_is_rejected, UPLINK_A "address=10.0.0.3\n",
	   "t.conf:5: invalid address '10.0.0.3' (want ADDRESS/PREFIXLEN or dhcp)")
ERROR_TEST(test_ipv6_address_with_plen_129_is_rejected, UPLINK_A "address=::1/129\n",
	   "t.conf:5: invalid address '::1/129' (want ADDRESS/PREFIXLEN or dhcp)")
/* driver=qmi and address=dhcp */
ERROR_TEST(test_qmi_uplink_without_device_is_rejected, "[uplink q]\ndriver=qmi\napn=internet\n",
	   "t.conf:1: [uplink q] needs device= (the QMI port, like /dev/cdc-wdm0) or match=")
ERROR_TEST(test_qmi_uplink_with_static_address_is_rejected,
	   "[uplink q]\ndriver=qmi\ndevice=/dev/cdc-wdm0\naddress=10.0.0.2/24\n",
	   "t.conf:4: driver=qmi takes address and gateway from the modem")
ERROR_TEST(test_qmi_keys_on_netdev_are_rejected, UPLINK_A "apn=internet\n",
	   "t.conf:5: apn= is only for driver=qmi")
ERROR_TEST(test_qmi_relative_device_is_rejected, "[uplink q]\ndriver=qmi\ndevice=cdc-wdm0\n",
	   "t.conf:3: device=cdc-wdm0 is not an absolute path (like /dev/cdc-wdm0)")
ERROR_TEST(test_qmi_bad_auth_is_rejected, "[uplink q]\ndriver=qmi\nauth=mschap\n",
	   "t.conf:3: invalid auth=mschap (none, pap, chap or both)")
ERROR_TEST(test_qmi_bad_ip_type_is_rejected, "[uplink q]\ndriver=qmi\nip_type=ip\n",
	   "t.conf:3: invalid ip_type=ip (ipv4, ipv6 or ipv4v6)")
ERROR_TEST(test_qmi_pin_must_be_4_to_8_digits, "[uplink q]\ndriver=qmi\npin=12a4\n",
	   "t.conf:3: invalid pin= (4 to 8 digits)")
ERROR_TEST(test_qmi_password_without_username_is_rejected,
	   "[uplink q]\ndriver=qmi\ndevice=/dev/cdc-wdm0\npassword=x\n",
	   "t.conf:4: password= without username=")
ERROR_TEST(test_qmi_two_uplinks_on_one_device_are_rejected,
	   "[uplink q]\ndriver=qmi\ndevice=/dev/cdc-wdm0\n[uplink r]\ndriver=qmi\n"
	   "device=/dev/cdc-wdm0\n",
	   "t.conf:6: device '/dev/cdc-wdm0' is already used by uplink 'q'")
ERROR_TEST(test_qmi_proxy_with_slash_is_rejected, "[uplink q]\ndriver=qmi\nqmi_proxy=/run/x\n",
	   "t.conf:3: qmi_proxy=/run/x is not an abstract socket name (at most 63 characters, no "
	   "'/')")
ERROR_TEST(test_dhcp_and_static_ipv4_exclude_each_other,
	   "[uplink a]\ndriver=netdev\ninterface=usb0\naddress=dhcp,10.0.0.2/24\n",
	   "t.conf:4: address=dhcp and a static IPv4 address exclude each other")
ERROR_TEST(test_dhcp_takes_the_ipv4_gateway_from_the_lease,
	   "[uplink a]\ndriver=netdev\ninterface=usb0\naddress=dhcp\ngateway=10.0.0.1\n",
	   "t.conf:5: gateway= for IPv4 comes from the DHCP lease")

static void test_qmi_uplink_fills_every_field(void **state)
{
	struct cmx_config *c = parse_ok("[uplink lte1]\n"
					"driver=qmi\n"
					"device=/dev/cdc-wdm0\n"
					"apn=internet.example\n"
					"username=user\n"
					"password=secret\n"
					"auth=chap\n"
					"ip_type=ipv4v6\n"
					"pin=1234\n"
					"qmi_proxy=cellmux-sim-qmi\n"
					"dns=192.0.2.53\n");
	const struct uplink_params *p = &c->uplinks[0].p;

	assert_string_equal(p->driver, "qmi");
	assert_string_equal(p->device, "/dev/cdc-wdm0");
	assert_string_equal(p->ifname, ""); /* found from the device's sysfs at bring-up */
	assert_string_equal(p->apn, "internet.example");
	assert_string_equal(p->username, "user");
	assert_string_equal(p->password, "secret");
	assert_int_equal(p->auth, UPLINK_AUTH_CHAP);
	assert_int_equal(p->ip_type, UPLINK_IP_V4V6);
	assert_string_equal(p->pin, "1234");
	assert_string_equal(p->qmi_proxy, "cellmux-sim-qmi");
	assert_int_equal(p->n_dns, 1);
	assert_int_equal(p->n_addrs, 0);
	config_free(c);
}

static void test_qmi_defaults_are_ipv4_auth_unset_interface_from_sysfs(void **state)
{
	struct cmx_config *c = parse_ok("[uplink q]\ndriver=qmi\ndevice=/dev/cdc-wdm1\n"
					"interface=wwan1\n");
	const struct uplink_params *p = &c->uplinks[0].p;

	assert_int_equal(p->ip_type, UPLINK_IP_V4);
	assert_int_equal(p->auth, UPLINK_AUTH_UNSET);
	assert_string_equal(p->ifname, "wwan1");
	assert_string_equal(p->qmi_proxy, "");
	assert_false(p->dhcp);
	config_free(c);
}

static void test_netdev_address_dhcp_sets_the_flag_and_keeps_ipv6(void **state)
{
	struct cmx_config *c = parse_ok("[uplink hilink]\ndriver=netdev\ninterface=usb0\n"
					"address=dhcp,2001:db8::2/64\ngateway=2001:db8::1\n");
	const struct uplink_params *p = &c->uplinks[0].p;

	assert_true(p->dhcp);
	assert_int_equal(p->n_addrs, 1);
	assert_int_equal(p->gw6.family, AF_INET6);
	assert_int_equal(p->gw4.family, 0);
	config_free(c);
}

ERROR_TEST(test_address_given_twice_is_rejected, UPLINK_A "address=10.0.0.2/16\n",
	   "t.conf:5: address '10.0.0.2/16' given twice")
ERROR_TEST(test_ninth_address_is_rejected,
	   UPLINK_A "address=10.0.0.3/24,10.0.0.4/24,10.0.0.5/24,10.0.0.6/24\n"
		    "address=10.0.0.7/24,10.0.0.8/24,10.0.0.9/24,10.0.0.10/24\n",
	   "t.conf:6: too many addresses (at most 8)")
ERROR_TEST(test_gateway_with_plen_is_rejected, UPLINK_A "gateway=10.0.0.1/24\n",
	   "t.conf:5: invalid gateway '10.0.0.1/24' (want an address without /PREFIXLEN)")
ERROR_TEST(test_gateway_outside_every_subnet_is_rejected_at_its_line,
	   "[uplink a]\ndriver=netdev\ninterface=wwan0\ngateway=10.0.1.1\naddress=10.0.0.2/24\n",
	   "t.conf:4: gateway 10.0.1.1 is outside every IPv4 address= subnet of [uplink a]")
ERROR_TEST(test_ipv6_gateway_needs_an_ipv6_subnet, UPLINK_A "gateway=2001:db8::1\n",
	   "t.conf:5: gateway 2001:db8::1 is outside every IPv6 address= subnet of [uplink a]")
ERROR_TEST(test_gateway_equal_to_own_address_is_rejected, UPLINK_A "gateway=10.0.0.2\n",
	   "t.conf:5: gateway 10.0.0.2 is the uplink's own address")
ERROR_TEST(test_second_ipv4_gateway_is_rejected, UPLINK_A "gateway=10.0.0.1\ngateway=10.0.0.3\n",
	   "t.conf:6: second IPv4 gateway '10.0.0.3' (first at line 5)")
ERROR_TEST(test_two_ipv4_gateways_on_one_line_are_rejected, UPLINK_A "gateway=10.0.0.1,10.0.0.3\n",
	   "t.conf:5: second IPv4 gateway '10.0.0.3' (first at line 5)")
ERROR_TEST(test_invalid_dns_is_rejected, UPLINK_A "dns=1.2.3\n",
	   "t.conf:5: invalid DNS server '1.2.3'")
ERROR_TEST(test_fourth_dns_server_is_rejected, UPLINK_A "dns=192.0.2.1,192.0.2.2\ndns=::1,::2\n",
	   "t.conf:6: too many DNS servers (at most 3)")
ERROR_TEST(test_capacity_zero_is_rejected, UPLINK_A "capacity=0\n",
	   "t.conf:5: invalid capacity '0' (1-4096 sessions)")
ERROR_TEST(test_capacity_4097_is_rejected, UPLINK_A "capacity=4097\n",
	   "t.conf:5: invalid capacity '4097' (1-4096 sessions)")
ERROR_TEST(test_negative_capacity_is_rejected, UPLINK_A "capacity=-1\n",
	   "t.conf:5: invalid capacity '-1' (1-4096 sessions)")
ERROR_TEST(test_capacity_with_garbage_is_rejected, UPLINK_A "capacity=8x\n",
	   "t.conf:5: invalid capacity '8x' (1-4096 sessions)")

/* ---- [profile] ---- */

ERROR_TEST(test_profile_without_exec_is_rejected, "[profile p]\nuser=worker\n",
	   "t.conf:1: [profile p] needs exec=")
ERROR_TEST(test_relative_exec_is_rejected, "[profile p]\nexec=probe --x\n",
	   "t.conf:2: exec= must start with an absolute path, not 'probe'")
ERROR_TEST(test_exec_with_empty_program_is_rejected, "[profile p]\nexec='' /bin/true\n",
	   "t.conf:2: exec= must start with an absolute path, not ''")
ERROR_TEST(test_unterminated_single_quote_is_rejected, "[profile p]\nexec=/bin/echo 'a b\n",
	   "t.conf:2: unterminated ' in exec=")
ERROR_TEST(test_unterminated_double_quote_is_rejected, "[profile p]\nexec=/bin/echo \"a\\\"\n",
	   "t.conf:2: unterminated \" in exec=")
ERROR_TEST(test_trailing_backslash_is_rejected, "[profile p]\nexec=/bin/echo a\\\n",
	   "t.conf:2: exec= ends with a lone backslash")
ERROR_TEST(test_root_user_is_rejected, PROFILE_P "user=root\n",
	   "t.conf:3: user=root is root; workers never run as root")
ERROR_TEST(test_uid_0_is_rejected, PROFILE_P "user=0\n",
	   "t.conf:3: user=0 is root; workers never run as root")
ERROR_TEST(test_uid_0_with_leading_zeros_is_rejected, PROFILE_P "user=000\n",
	   "t.conf:3: user=000 is root; workers never run as root")
ERROR_TEST(test_user_starting_with_dash_is_rejected, PROFILE_P "user=-x\n",
	   "t.conf:3: invalid user name '-x'")
ERROR_TEST(test_unknown_restart_policy_is_rejected, PROFILE_P "restart=sometimes\n",
	   "t.conf:3: invalid restart=sometimes (no, on-failure or always)")
ERROR_TEST(test_duration_with_unknown_unit_is_rejected, PROFILE_P "restart_sec=2x\n",
	   "t.conf:3: invalid restart_sec=2x (a duration > 0 like 500ms, 2s, 1m, 1h; a plain "
	   "number is seconds)")
ERROR_TEST(test_fractional_duration_is_rejected, PROFILE_P "restart_max_sec=1.5s\n",
	   "t.conf:3: invalid restart_max_sec=1.5s (a duration > 0 like 500ms, 2s, 1m, 1h; a plain "
	   "number is seconds)")
ERROR_TEST(test_zero_duration_is_rejected, PROFILE_P "restart_sec=0\n",
	   "t.conf:3: invalid restart_sec=0 (a duration > 0 like 500ms, 2s, 1m, 1h; a plain "
	   "number is seconds)")
ERROR_TEST(test_duration_overflowing_32_bits_of_ms_is_rejected, PROFILE_P "restart_sec=5000h\n",
	   "t.conf:3: restart_sec=5000h is too long")
ERROR_TEST(test_restart_max_below_restart_sec_is_rejected, PROFILE_P "restart_max_sec=1s\n"
									"restart_sec=2s\n",
	   "t.conf:3: restart_max_sec (1000ms) is shorter than restart_sec (2000ms)")

/* ---- [session] ---- */

ERROR_TEST(test_session_without_profile_is_rejected, UPLINK_A "[session s]\nuplink=a\n",
	   "t.conf:5: [session s] needs profile=")
ERROR_TEST(test_session_naming_unknown_profile_is_rejected,
	   UPLINK_A PROFILE_P "[session s1]\nprofile=x\n",
	   "t.conf:8: session 's1' names unknown profile 'x'")
ERROR_TEST(test_session_naming_unknown_uplink_is_rejected,
	   UPLINK_A PROFILE_P "[session s1]\nprofile=p\nuplink=b\n",
	   "t.conf:9: session 's1' names unknown uplink 'b'")
ERROR_TEST(test_session_with_invalid_profile_name_is_rejected, "[session s1]\nprofile=a/b\n",
	   "t.conf:2: invalid profile name 'a/b'")
ERROR_TEST(test_session_with_invalid_uplink_name_is_rejected, "[session s1]\nuplink=A\n",
	   "t.conf:2: invalid uplink name 'A'")

/* ---- whole file ---- */

ERROR_TEST(test_first_error_in_file_order_wins, PROFILE_P "[session s]\nprofile=x\nbogus\n",
	   "t.conf:5: expected key=value, [section] or a comment")
ERROR_TEST(test_error_after_allocations_is_reported_and_freed,
	   UPLINK_A PROFILE_P "[profile q]\nexec=/bin/sh -c 'exit 1'\n[session s]\nprofile=p\n"
			      "[bad]\n",
	   "t.conf:11: unknown section 'bad'")

static void test_err_may_be_null(void **state)
{
	struct cmx_config *c = NULL;

	assert_int_equal(config_parse_string("t.conf", "[x]\n", &c, NULL, 0), -EINVAL);
	assert_null(c);
	assert_int_equal(config_parse_string("t.conf", "", &c, NULL, 0), 0);
	config_free(c);
}

static void test_long_message_is_truncated_not_overflowed(void **state)
{
	struct cmx_config *c = NULL;
	char err[16];

	memset(err, 'z', sizeof(err));
	assert_int_equal(config_parse_string("t.conf", "[foo]\n", &c, err, 12), -EINVAL);
	assert_string_equal(err, "t.conf:1: u");
	assert_int_equal(err[12], 'z');
}

/* ---- config_load ---- */

static char *write_temp(const char *text, size_t len)
{
	char *path = strdup("/tmp/test_config.XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_load_reads_the_file_and_remembers_its_path(void **state)
{
	static const char text[] = UPLINK_A;
	char *path = write_temp(text, strlen(text));
	struct cmx_config *c = NULL;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_string_equal(c->path, path);
	assert_string_equal(c->uplinks[0].p.ifname, "wwan0");
	config_free(c);
	unlink(path);
	free(path);
}

static void test_load_reports_errors_with_the_file_name(void **state)
{
	static const char text[] = UPLINK_A "[session s]\n";
	char *path = write_temp(text, strlen(text));
	struct cmx_config *c = NULL;
	char err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];

	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:5: [session s] needs profile=", path);
	assert_string_equal(err, want);
	assert_null(c);
	unlink(path);
	free(path);
}

static void test_load_of_missing_file_is_enoent_with_strerror(void **state)
{
	struct cmx_config *c = NULL;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(config_load("/nonexistent/cellmux.conf", &c, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/cellmux.conf: No such file or directory");
	assert_null(c);
}

static void test_load_of_directory_is_eisdir(void **state)
{
	struct cmx_config *c = NULL;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(config_load("/tmp", &c, err, sizeof(err)), -EISDIR);
	assert_string_equal(err, "/tmp: Is a directory");
}

static void test_load_rejects_nul_byte_with_its_line(void **state)
{
	static const char text[] = "[daemon]\n\ncgroup=/a\0b\n";
	char *path = write_temp(text, sizeof(text) - 1);
	struct cmx_config *c = NULL;
	char err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];

	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: NUL byte in file", path);
	assert_string_equal(err, want);
	unlink(path);
	free(path);
}

/* ---- ini.c directly ---- */

struct ini_log {
	char lines[16][128];
	size_t n;
	int fail_at; /* a callback returns -ECANCELED on this line */
};

static int log_section(void *userdata, int line, const char *type, const char *name)
{
	struct ini_log *l = userdata;

	snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%d S %s|%s", line, type,
		 name ? name : "(null)");
	return line == l->fail_at ? -ECANCELED : 0;
}

static int log_key(void *userdata, int line, const char *type, const char *name, const char *key,
		   const char *value)
{
	struct ini_log *l = userdata;

	snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%d K %s|%s|%s|%s", line,
		 type ? type : "(null)", name ? name : "(null)", key, value);
	return line == l->fail_at ? -ECANCELED : 0;
}

static void log_error(void *userdata, int line, const char *msg)
{
	struct ini_log *l = userdata;

	snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%d E %s", line, msg);
}

static const struct ini_ops log_ops = { log_section, log_key, log_error };

static void test_ini_reports_type_name_key_value_and_lines(void **state)
{
	struct ini_log l = { .fail_at = -1 };
	static const char *const want[] = {
		"1 K (null)|(null)|top|level",
		"3 S daemon|(null)",
		"4 K daemon|(null)|a|b = c",
		"5 S uplink|x",
		"6 K uplink|x|k|",
		"7 K uplink|x|q|#not a comment",
	};

	assert_int_equal(ini_parse_string("top=level\n"
					  "; c\n"
					  "[daemon]\n"
					  "  a = b = c  \n"
					  "[uplink\tx]\n"
					  "k=\n"
					  "q=#not a comment",
					  &log_ops, &l),
			 0);
	assert_int_equal(l.n, N(want));
	for (size_t i = 0; i < N(want); i++)
		assert_string_equal(l.lines[i], want[i]);
}

static void test_ini_callback_error_stops_parsing(void **state)
{
	struct ini_log l = { .fail_at = 2 };

	assert_int_equal(ini_parse_string("[a]\nk=v\nbroken\n", &log_ops, &l), -ECANCELED);
	assert_int_equal(l.n, 2);
}

static void test_ini_syntax_error_calls_error_once_and_stops(void **state)
{
	struct ini_log l = { .fail_at = -1 };

	assert_int_equal(ini_parse_string("[a]\nbroken\n[b\n", &log_ops, &l), -EINVAL);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.lines[1], "2 E expected key=value, [section] or a comment");
}

static void test_ini_without_error_callback_still_fails(void **state)
{
	static const struct ini_ops ops = { 0 };

	assert_int_equal(ini_parse_string("[a]\nk=v\n", &ops, NULL), 0);
	assert_int_equal(ini_parse_string("=v\n", &ops, NULL), -EINVAL);
}

/* ---- [metrics] ---- */

static void test_metrics_listen_defaults_to_loopback_9577(void **state)
{
	struct cmx_config *c = parse_ok("");

	assert_true(c->metrics.enabled);
	assert_int_equal(c->metrics.family, AF_INET);
	assert_string_equal(c->metrics.address, "127.0.0.1");
	assert_int_equal(c->metrics.port, 9577);
	assert_int_equal(c->metrics.line, 0);
	config_free(c);
}

static void test_metrics_listen_takes_ipv4_address_and_port(void **state)
{
	struct cmx_config *c = parse_ok("[daemon]\n\n[metrics]\nlisten = 0.0.0.0:19100\n");

	assert_true(c->metrics.enabled);
	assert_int_equal(c->metrics.family, AF_INET);
	assert_string_equal(c->metrics.address, "0.0.0.0");
	assert_int_equal(c->metrics.port, 19100);
	assert_int_equal(c->metrics.line, 3);
	config_free(c);
}

static void test_metrics_listen_takes_bracketed_ipv6_normalised(void **state)
{
	struct cmx_config *c = parse_ok("[metrics]\nlisten=[0:0::0001]:9577\n");

	assert_true(c->metrics.enabled);
	assert_int_equal(c->metrics.family, AF_INET6);
	assert_string_equal(c->metrics.address, "::1");
	assert_int_equal(c->metrics.port, 9577);
	config_free(c);
}

static void test_metrics_listen_empty_or_off_disables_the_listener(void **state)
{
	struct cmx_config *c = parse_ok("[metrics]\nlisten=\n");

	assert_false(c->metrics.enabled);
	assert_int_equal(c->metrics.line, 1);
	config_free(c);
	c = parse_ok("[metrics]\nlisten=off\n");
	assert_false(c->metrics.enabled);
	config_free(c);
}

static void test_metrics_section_without_listen_keeps_the_default(void **state)
{
	struct cmx_config *c = parse_ok("[metrics]\n");

	assert_true(c->metrics.enabled);
	assert_string_equal(c->metrics.address, "127.0.0.1");
	assert_int_equal(c->metrics.port, 9577);
	config_free(c);
}

static void test_parse_listen_accepts_only_numeric_address_and_port(void **state)
{
	static const char *const bad[] = {
		"9577", ":9577", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:-1", "127.0.0.1:95x", "127.0.0.1: 9577", "localhost:9577", "127.1:9577",
		"::1:9577", "[::1]", "[::1]9577", "[::1:9577", "[]:9577", "[127.0.0.1]:9577",
		"[fe80::1%lo]:9577", "1.2.3.4:1234567890", "OFF",
	};
	struct cfg_metrics m;

	for (size_t i = 0; i < N(bad); i++)
		if (config_parse_listen(bad[i], &m) != -EINVAL)
			fail_msg("listen=%s was accepted", bad[i]);
	assert_int_equal(config_parse_listen("127.0.0.1:65535", &m), 0);
	assert_int_equal(m.port, 65535);
	assert_int_equal(config_parse_listen("[::]:1", &m), 0);
	assert_string_equal(m.address, "::");
	assert_int_equal(m.family, AF_INET6);
}

ERROR_TEST(test_metrics_listen_without_port_is_rejected, "[metrics]\nlisten=127.0.0.1\n",
	   "t.conf:2: invalid listen=127.0.0.1 (want ADDRESS:PORT, [IPV6-ADDRESS]:PORT or off)")
ERROR_TEST(test_metrics_listen_with_unbracketed_ipv6_is_rejected, "[metrics]\nlisten=::1:9577\n",
	   "t.conf:2: invalid listen=::1:9577 (want ADDRESS:PORT, [IPV6-ADDRESS]:PORT or off)")
ERROR_TEST(test_metrics_listen_given_twice_is_rejected,
	   "[metrics]\nlisten=127.0.0.1:1\nlisten=off\n", "t.conf:3: duplicate key 'listen'")
ERROR_TEST(test_second_metrics_section_is_rejected, "[metrics]\n\n[metrics]\n",
	   "t.conf:3: duplicate [metrics] section (first defined at line 1)")
ERROR_TEST(test_named_metrics_section_is_rejected, "[metrics prom]\n",
	   "t.conf:1: [metrics] takes no name")
ERROR_TEST(test_unknown_metrics_key_is_rejected, "[metrics]\nport=9577\n",
	   "t.conf:2: unknown key 'port' in [metrics]")
ERROR_TEST(test_empty_value_stays_an_error_for_other_keys, "[daemon]\ncgroup=\n",
	   "t.conf:2: empty value for 'cgroup'")

/* ---- [backend] and the store's [daemon] keys ---- */

static void test_no_backend_section_runs_standalone_with_default_state_dir(void **state)
{
	struct cmx_config *c = parse_ok("");

	assert_false(c->backend.enabled);
	assert_string_equal(c->daemon.state_dir, "/var/lib/cellmux");
	assert_int_equal(c->daemon.outbox_max, 100000);
	assert_int_equal(c->daemon.inbox_max, 10000);
	/* 0: the router's fair share applies. */
	assert_int_equal(c->daemon.outbox_session_max, 0);
	config_free(c);
}

static void test_inbox_max_and_outbox_session_max_are_read(void **state)
{
	struct cmx_config *c = parse_ok("[daemon]\ninbox_max=7\noutbox_session_max=9\n");

	assert_int_equal(c->daemon.inbox_max, 7);
	assert_int_equal(c->daemon.outbox_session_max, 9);
	config_free(c);
}

static void test_backend_section_fills_every_field(void **state)
{
	struct cmx_config *c = parse_ok("[daemon]\nstate_dir=/tmp/st\noutbox_max=50\n"
					"[backend]\nurl=wss://backend.example:8443/gw\n"
					"ca=/etc/ca.pem\ncert=/etc/c.pem\nkey=/etc/k.pem\n"
					"token_file=/etc/token\ngateway_id=box-1\n");

	assert_string_equal(c->daemon.state_dir, "/tmp/st");
	assert_int_equal(c->daemon.outbox_max, 50);
	assert_true(c->backend.enabled);
	assert_false(c->backend.insecure);
	assert_string_equal(c->backend.url, "wss://backend.example:8443/gw");
	assert_string_equal(c->backend.ca, "/etc/ca.pem");
	assert_string_equal(c->backend.cert, "/etc/c.pem");
	assert_string_equal(c->backend.key, "/etc/k.pem");
	assert_string_equal(c->backend.token_file, "/etc/token");
	assert_string_equal(c->backend.gateway_id, "box-1");
	config_free(c);
}

ERROR_TEST(test_backend_needs_url, "[backend]\nca=/x\n", "t.conf:1: [backend] needs url=")
ERROR_TEST(test_backend_url_must_be_websocket, "[backend]\nurl=https://x/\n",
	   "t.conf:2: url=https://x/ is not a wss://HOST[:PORT]/PATH URL")
ERROR_TEST(test_backend_plain_ws_needs_insecure, "[backend]\nurl=ws://x:1/\n",
	   "t.conf:1: [backend] url=ws://x:1/ is not encrypted: use wss:// (ws:// needs "
	   "insecure=yes, for tests only)")
ERROR_TEST(test_backend_cert_without_key_is_rejected, "[backend]\nurl=wss://x/\ncert=/c\n",
	   "t.conf:1: [backend] needs both cert= and key= for mutual TLS")
ERROR_TEST(test_backend_paths_must_be_absolute, "[backend]\nurl=wss://x/\nca=ca.pem\n",
	   "t.conf:3: ca=ca.pem is not an absolute path")
ERROR_TEST(test_outbox_max_must_be_positive, "[daemon]\noutbox_max=0\n",
	   "t.conf:2: outbox_max=0 is not a number of messages in 1..100000000")
ERROR_TEST(test_inbox_max_must_be_positive, "[daemon]\ninbox_max=0\n",
	   "t.conf:2: inbox_max=0 is not a number of messages in 1..100000000")
ERROR_TEST(test_outbox_session_max_must_be_a_number, "[daemon]\noutbox_session_max=lots\n",
	   "t.conf:2: outbox_session_max=lots is not a number of messages in 1..100000000")
/* The key files are only named here; cellmuxd reads (and checks) them at start. */
static void test_state_keys_are_paths(void **state)
{
	struct cmx_config *c = parse_ok("[daemon]\nstate_key=/etc/cellmux/state.key\n"
					"state_key_previous=/etc/cellmux/old.key\n");

	assert_string_equal(c->daemon.state_key, "/etc/cellmux/state.key");
	assert_string_equal(c->daemon.state_key_previous, "/etc/cellmux/old.key");
	config_free(c);
	c = parse_ok("");
	assert_string_equal(c->daemon.state_key, "");
	config_free(c);
}

ERROR_TEST(test_state_key_must_be_absolute, "[daemon]\nstate_key=state.key\n",
	   "t.conf:2: state_key=state.key is not an absolute path of at most 255 characters")

ERROR_TEST(test_state_dir_must_be_absolute, "[daemon]\nstate_dir=var\n",
	   "t.conf:2: state_dir=var is not an absolute path of at most 255 characters")

/* ---- quota=, quota_action=, quota_period= ---- */

static void test_quota_keys_on_uplink_profile_and_session(void **state)
{
	struct cmx_config *c = parse_ok(UPLINK_A "quota=10G\nquota_action=notify\n"
					"quota_period=monthly:15\n"
					"[profile p]\nexec=/bin/true\nquota=1.5G\n"
					"[session s1]\nprofile=p\n"
					"[session s2]\nprofile=p\nquota_period=daily\nquota=500M\n");
	const struct cfg_quota *u = &c->uplinks[0].quota, *f = &c->profiles[0].quota;
	const struct cfg_quota *q;

	assert_int_equal(u->limit, 10ULL << 30);
	assert_int_equal(u->action, ACCT_QUOTA_NOTIFY);
	assert_int_equal(u->period.kind, QUOTA_PERIOD_MONTHLY);
	assert_int_equal(u->period.day, 15);
	assert_int_equal(u->line, 5);
	/* Defaults: block, no period. 1.5G in 1024 powers. */
	assert_int_equal(f->limit, 1610612736ULL);
	assert_int_equal(f->action, ACCT_QUOTA_BLOCK);
	assert_int_equal(f->period.kind, QUOTA_PERIOD_NONE);
	/* s1 inherits its profile's quota, s2 has its own. */
	assert_ptr_equal(config_session_quota(c, &c->sessions[0]), f);
	q = config_session_quota(c, &c->sessions[1]);
	assert_ptr_equal(q, &c->sessions[1].quota);
	assert_int_equal(q->limit, 500ULL << 20);
	assert_int_equal(q->action, ACCT_QUOTA_BLOCK);
	assert_int_equal(q->period.kind, QUOTA_PERIOD_DAILY);
	config_free(c);
}

static void test_no_quota_keys_means_no_quota(void **state)
{
	struct cmx_config *c = parse_ok(UPLINK_A PROFILE_P "[session s1]\nprofile=p\n");

	assert_int_equal(c->uplinks[0].quota.limit, 0);
	assert_int_equal(c->uplinks[0].quota.line, 0);
	assert_null(config_session_quota(c, &c->sessions[0]));
	config_free(c);
}

ERROR_TEST(test_quota_with_decimal_unit_is_rejected, UPLINK_A "quota=10GB\n",
	   "t.conf:5: invalid quota=10GB (a size like 500M, 1.5G or 10G; K, M, G, T are powers of "
	   "1024, KB/MB/GB are not accepted)")
ERROR_TEST(test_quota_malformed_size_is_rejected, PROFILE_P "quota=1.5\n",
	   "t.conf:3: invalid quota=1.5 (a size like 500M, 1.5G or 10G; K, M, G, T are powers of "
	   "1024, KB/MB/GB are not accepted)")
ERROR_TEST(test_quota_too_large_is_rejected, UPLINK_A "quota=16777216T\n",
	   "t.conf:5: quota=16777216T is too large")
ERROR_TEST(test_quota_zero_is_rejected, PROFILE_P "quota=0M\n",
	   "t.conf:3: quota=0M is zero (for no quota, leave quota= out)")
ERROR_TEST(test_quota_action_unknown_is_rejected, UPLINK_A "quota=1G\nquota_action=drop\n",
	   "t.conf:6: invalid quota_action=drop (block or notify)")
ERROR_TEST(test_quota_period_unknown_is_rejected, PROFILE_P "quota=1G\nquota_period=weekly\n",
	   "t.conf:4: invalid quota_period=weekly (none, daily, monthly or monthly:DAY with DAY "
	   "1-31)")
ERROR_TEST(test_quota_period_bad_day_is_rejected,
	   PROFILE_P "[session s]\nprofile=p\nquota=1G\nquota_period=monthly:32\n",
	   "t.conf:6: invalid quota_period=monthly:32 (none, daily, monthly or monthly:DAY with DAY "
	   "1-31)")
ERROR_TEST(test_quota_action_without_quota_is_rejected, UPLINK_A "quota_action=block\n",
	   "t.conf:5: [uplink a] has quota_action= or quota_period= but no quota=")
ERROR_TEST(test_quota_period_without_quota_is_rejected,
	   PROFILE_P "[session s]\nprofile=p\nquota_period=daily\n",
	   "t.conf:5: [session s] has quota_action= or quota_period= but no quota=")
ERROR_TEST(test_quota_given_twice_is_rejected, UPLINK_A "quota=1G\nquota=2G\n",
	   "t.conf:6: duplicate key 'quota'")

static void test_config_load_of_bad_quota_names_file_and_line(void **state)
{
	char path[] = "/tmp/cellmux-test-quota-XXXXXX", err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];
	struct cmx_config *c = NULL;
	int fd = mkstemp(path);
	static const char text[] = UPLINK_A "quota=lots\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:5: invalid quota=lots (a size like 500M, 1.5G or 10G; K, M, G, T are powers "
		 "of 1024, KB/MB/GB are not accepted)", path);
	assert_string_equal(err, want);
	assert_null(c);
	unlink(path);
}

/* ---- failover: preference lists, on_uplink_down=, move_back=, move_hold_down=, priority= ---- */

static void test_preference_list_parses_in_order_and_places_first_with_room(void **state)
{
	struct cmx_config *c = parse_ok(UPLINKS_A2_B4 PROFILE_P
					"[session s1]\nprofile=p\nuplink=a,b\n"
					"[session s2]\nprofile=p\nuplink=a,b\n"
					"[session s3]\nprofile=p\nuplink=a,b\n");

	assert_int_equal(c->sessions[0].n_prefs, 2);
	assert_string_equal(c->sessions[0].prefs[0], "a");
	assert_string_equal(c->sessions[0].prefs[1], "b");
	assert_string_equal(c->sessions[0].uplink, "a");
	assert_int_equal(c->sessions[0].pref_idx[1], 1);
	/* a has two seats: the third falls through to b. */
	assert_placement(c, "aab");
	config_free(c);
}

static void test_priority_backup_uplink_fills_last(void **state)
{
	struct cmx_config *c = parse_ok(
		"[uplink a]\ndriver=netdev\ninterface=wwan0\naddress=10.0.0.2/24\ncapacity=1\n"
		"priority=1\n"
		"[uplink b]\ndriver=netdev\ninterface=wwan1\naddress=10.0.1.2/24\ncapacity=2\n"
		PROFILE_P "[session s1]\nprofile=p\n[session s2]\nprofile=p\n"
		"[session s3]\nprofile=p\n");

	assert_int_equal(c->uplinks[0].priority, 1);
	assert_placement(c, "bba");
	config_free(c);
}

/* ---- driver=host ---- */

static void test_host_uplink_defaults(void **state)
{
	struct cmx_config *c = parse_ok("[uplink wired]\ndriver=host\n");
	const struct uplink_params *u = &c->uplinks[0].p;
	char a[IP_PREFIX_STRLEN];

	assert_string_equal(u->ifname, "cmxh-wired");
	assert_int_equal(u->n_addrs, 1);
	assert_string_equal(ip_prefix_fmt(&u->addrs[0], true, a), "10.231.255.2/30");
	assert_string_equal(ip_prefix_fmt(&u->gw4, false, a), "10.231.255.1");
	assert_int_equal(c->uplinks[0].priority, CONFIG_DEFAULT_HOST_PRIORITY);
	config_free(c);
}

static void test_host_uplink_is_placed_last(void **state)
{
	struct cmx_config *c = parse_ok(
		"[uplink wired]\ndriver=host\n"
		"[uplink a]\ndriver=netdev\ninterface=wwan0\naddress=10.0.0.2/24\ncapacity=1\n"
		PROFILE_P "[session s1]\nprofile=p\n[session s2]\nprofile=p\n");

	/* a first (priority 0), the host uplink only when a is full. */
	assert_placement(c, "aw");
	config_free(c);
}

static void test_host_uplink_address_gateway_and_priority(void **state)
{
	struct cmx_config *c = parse_ok("[uplink h]\ndriver=host\ninterface=up0\n"
					"address=192.168.250.1/31\npriority=7\n");
	const struct uplink_params *u = &c->uplinks[0].p;
	char a[IP_PREFIX_STRLEN];

	assert_string_equal(u->ifname, "up0");
	assert_string_equal(ip_prefix_fmt(&u->gw4, false, a), "192.168.250.0");
	assert_int_equal(c->uplinks[0].priority, 7);
	config_free(c);
	c = parse_ok("[uplink h]\ndriver=host\naddress=10.9.0.1/30\n");
	assert_string_equal(ip_prefix_fmt(&c->uplinks[0].p.gw4, false, a), "10.9.0.2");
	config_free(c);
	c = parse_ok("[uplink h]\ndriver=host\naddress=10.9.0.5/24\ngateway=10.9.0.9\n");
	assert_string_equal(ip_prefix_fmt(&c->uplinks[0].p.gw4, false, a), "10.9.0.9");
	config_free(c);
}

ERROR_TEST(test_host_uplink_dhcp_is_rejected, "[uplink h]\ndriver=host\naddress=dhcp\n",
	   "t.conf:3: driver=host takes no address=dhcp: cellmux numbers both ends of its veth")
ERROR_TEST(test_host_uplink_ipv6_address_is_rejected,
	   "[uplink h]\ndriver=host\naddress=fd00::2/64\n",
	   "t.conf:3: driver=host takes one IPv4 address= with a prefix of at most /31 (the "
	   "namespace's end of the veth, like 10.231.255.2/30)")
ERROR_TEST(test_host_uplink_wide_subnet_needs_gateway,
	   "[uplink h]\ndriver=host\naddress=10.9.0.5/24\n",
	   "t.conf:3: [uplink h] needs gateway= (the host's end of the veth): only a /30 or /31 "
	   "address= has an obvious one")
ERROR_TEST(test_host_uplink_network_address_of_a_30_is_rejected,
	   "[uplink h]\ndriver=host\naddress=10.9.0.4/30\n",
	   "t.conf:3: [uplink h] needs gateway= (the host's end of the veth): only a /30 or /31 "
	   "address= has an obvious one")
ERROR_TEST(test_host_uplink_gateway_without_address_is_rejected,
	   "[uplink h]\ndriver=host\ngateway=10.9.0.1\n",
	   "t.conf:3: gateway= without address= (driver=host)")
ERROR_TEST(test_host_uplink_long_name_needs_interface,
	   "[uplink wiredlineone]\ndriver=host\n",
	   "t.conf:1: [uplink wiredlineone] needs interface= (the veth's name): cmxh-wiredlineone is "
	   "longer than 15 characters")
ERROR_TEST(test_second_host_uplink_is_rejected,
	   "[uplink h]\ndriver=host\n[uplink g]\ndriver=host\ninterface=g0\naddress=10.1.1.2/30\n",
	   "t.conf:3: a second driver=host uplink (the first is 'h', line 1)")
ERROR_TEST(test_host_uplink_qmi_keys_are_rejected, "[uplink h]\ndriver=host\napn=x\n",
	   "t.conf:3: apn= is only for driver=qmi")
ERROR_TEST(test_host_uplink_name_clash_is_rejected,
	   "[uplink a]\ndriver=netdev\ninterface=cmxh-h\naddress=10.0.0.2/24\n"
	   "[uplink h]\ndriver=host\n",
	   "t.conf:5: interface 'cmxh-h' is already used by uplink 'a'")

static void test_failover_defaults_profile_and_session_override(void **state)
{
	struct cmx_config *c = parse_ok(UPLINK_A "[profile p]\nexec=/bin/true\n"
				       "on_uplink_down=wait\nmove_back=yes\n"
				       "[profile q]\nexec=/bin/true\n"
				       "[session s1]\nprofile=p\nmove_back=no\nmove_hold_down=2m\n"
				       "[session s2]\nprofile=q\n");
	struct cfg_failover f1 = config_session_failover(&c->profiles[0], &c->sessions[0]);
	struct cfg_failover f2 = config_session_failover(&c->profiles[1], &c->sessions[1]);

	assert_int_equal(f1.on_down, CFG_ON_DOWN_WAIT);
	assert_int_equal(f1.move_back, 0);
	assert_int_equal(f1.hold_down_ms, 120000);
	assert_int_equal(f2.on_down, CFG_ON_DOWN_MOVE);
	assert_int_equal(f2.move_back, 0);
	assert_int_equal(f2.hold_down_ms, CONFIG_DEFAULT_HOLD_DOWN_MS);
	/* The profile's yes shows through where the session says nothing. */
	f1 = config_session_failover(&c->profiles[0], NULL);
	assert_int_equal(f1.move_back, 1);
	config_free(c);
}

ERROR_TEST(test_preference_list_with_unknown_uplink_is_rejected_at_its_line,
	   UPLINK_A PROFILE_P "[session s1]\nprofile=p\nuplink=a,zz\n",
	   "t.conf:9: session 's1' names unknown uplink 'zz'")
ERROR_TEST(test_preference_list_naming_an_uplink_twice_is_rejected,
	   UPLINK_A PROFILE_P "[session s1]\nprofile=p\nuplink=a,a\n",
	   "t.conf:9: uplink=a,a names 'a' twice")
ERROR_TEST(test_preference_list_with_empty_name_is_rejected,
	   UPLINK_A PROFILE_P "[session s1]\nprofile=p\nuplink=a,\n",
	   "t.conf:9: invalid uplink name ''")
ERROR_TEST(test_preference_list_of_nine_is_rejected,
	   UPLINK_A PROFILE_P "[session s1]\nprofile=p\nuplink=a,b,c,d,e,f,g,h,i\n",
	   "t.conf:9: uplink=a,b,c,d,e,f,g,h,i: at most 8 uplinks")
ERROR_TEST(test_preference_list_all_full_is_rejected,
	   UPLINKS_A2_B4 PROFILE_P "[session s1]\nprofile=p\nuplink=a\n"
				   "[session s2]\nprofile=p\nuplink=a\n"
				   "[session s3]\nprofile=p\nuplink=a,a2\n"
				   "[uplink a2]\ndriver=netdev\ninterface=wwan2\n"
				   "address=10.0.2.2/24\ncapacity=1\n"
				   "[session s4]\nprofile=p\nuplink=a,a2\n",
	   "t.conf:27: session 's4' does not fit: every uplink it lists is at capacity")
ERROR_TEST(test_on_uplink_down_garbage_is_rejected,
	   UPLINK_A PROFILE_P "[session s1]\nprofile=p\non_uplink_down=stay\n",
	   "t.conf:9: invalid on_uplink_down=stay (move or wait)")
ERROR_TEST(test_move_back_garbage_is_rejected,
	   UPLINK_A "[profile p]\nexec=/bin/true\nmove_back=1\n",
	   "t.conf:7: invalid move_back=1 (yes or no)")
ERROR_TEST(test_move_hold_down_zero_is_rejected,
	   UPLINK_A PROFILE_P "[session s1]\nprofile=p\nmove_hold_down=0\n",
	   "t.conf:9: invalid move_hold_down=0 (a duration > 0 like 500ms, 2s, 1m, 1h; "
	   "a plain number is seconds)")
ERROR_TEST(test_priority_negative_is_rejected,
	   "[uplink a]\ndriver=netdev\ninterface=wwan0\npriority=-1\n",
	   "t.conf:4: invalid priority=-1 (0-1000, lower is preferred)")

static void test_health_keys_parse_with_defaults(void **state)
{
	struct cmx_config *c = parse_ok(UPLINK_A "health_check=tcp:198.18.0.1:80  icmp:9.9.9.9\n"
				       "health_interval=500ms\nhealth_fail=2\n"
				       "[uplink b]\ndriver=netdev\ninterface=wwan1\n"
				       "address=10.0.1.2/24\n");

	assert_int_equal(c->uplinks[0].health.n_checks, 2);
	assert_int_equal(c->uplinks[0].health.checks[1].kind, HEALTH_ICMP);
	assert_int_equal(c->uplinks[0].health.interval_ms, 500);
	assert_int_equal(c->uplinks[0].health.fail, 2);
	assert_int_equal(c->uplinks[0].health.ok, HEALTH_DEFAULT_OK);
	assert_int_equal(c->uplinks[1].health.n_checks, 0);
	assert_int_equal(c->uplinks[1].health.interval_ms, HEALTH_DEFAULT_INTERVAL_MS);
	config_free(c);
}

ERROR_TEST(test_health_check_garbage_is_rejected_at_its_line,
	   UPLINK_A "health_check=tcp:198.18.0.1:80 ping:1.2.3.4\n",
	   "t.conf:5: invalid health check 'ping:1.2.3.4' (tcp:ADDR:PORT, "
	   "http://ADDR[:PORT][/PATH], dns:NAME or icmp:ADDR; addresses are numeric IPv4)")
ERROR_TEST(test_health_interval_below_100ms_is_rejected,
	   UPLINK_A "health_interval=50ms\n",
	   "t.conf:5: invalid health_interval=50ms (a duration of at least 100ms)")
ERROR_TEST(test_health_fail_zero_is_rejected, UPLINK_A "health_fail=0\n",
	   "t.conf:5: invalid health_fail=0 (1-100 rounds in a row)")

/* Sessions are found by name through the sorted index built after parsing: each one at its
 * own position in the file, whatever the order of names; a name not there, or one that sorts
 * before or after every name, is not found. */
static void test_find_session_by_name(void **state)
{
	static const char *names[] = { "m", "b", "z9", "a", "zz", "b2", "k", "c" };
	char text[4096];
	size_t off = (size_t)snprintf(text, sizeof(text), UPLINK_A PROFILE_P);
	struct cmx_config *c;

	for (size_t i = 0; i < N(names); i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "[session %s]\nprofile=p\n",
					names[i]);
	c = parse_ok(text);
	assert_int_equal(c->n_sessions, N(names));
	for (size_t i = 0; i < N(names); i++)
		assert_int_equal(config_find_session(c, names[i]), (int)i);
	assert_int_equal(config_find_session(c, "0"), -ENOENT);
	assert_int_equal(config_find_session(c, "b1"), -ENOENT);
	assert_int_equal(config_find_session(c, "zzz"), -ENOENT);
	assert_int_equal(config_find_session(c, ""), -ENOENT);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_file_is_a_valid_config_without_uplinks),
		cmocka_unit_test(test_comments_blank_lines_and_spaces_are_ignored),
		cmocka_unit_test(test_crlf_line_endings_and_bom_are_accepted),
		cmocka_unit_test(test_full_config_fills_every_field),
		cmocka_unit_test(test_uplink_capacity_defaults),
		cmocka_unit_test(test_capacity_accepts_its_bounds),
		cmocka_unit_test(test_profile_defaults_are_dynamic_user_on_failure_1s_60s),
		cmocka_unit_test(test_limits_parse_and_session_keys_override_one_by_one),
		cmocka_unit_test(test_memory_max_below_a_page_is_refused),
		cmocka_unit_test(test_pids_max_of_one_is_refused),
		cmocka_unit_test(test_cpu_weight_out_of_range_is_refused),
		cmocka_unit_test(test_uid_range_must_stay_clear_of_system_accounts),
		cmocka_unit_test(test_uid_range_parses),
		cmocka_unit_test(test_counters_save_interval_defaults_to_60s_and_parses),
		cmocka_unit_test(test_counters_save_interval_below_1s_is_refused),
		cmocka_unit_test(test_bind_paths_are_word_lists),
		cmocka_unit_test(test_log_rate_limit_defaults_and_keys),
		cmocka_unit_test(test_bind_path_must_be_plain_and_absolute),
		cmocka_unit_test(test_bind_given_twice_is_refused),
		cmocka_unit_test(test_addresses_accumulate_over_lines_and_commas_with_ipv6),
		cmocka_unit_test(test_eight_addresses_fit),
		cmocka_unit_test(test_gateways_may_be_given_once_per_family_on_separate_lines),
		cmocka_unit_test(test_exec_is_split_like_shell_words_without_expansion),
		cmocka_unit_test(test_durations_take_ms_s_m_h_and_plain_seconds),
		cmocka_unit_test(test_restart_sec_alone_above_default_max_raises_the_max),
		cmocka_unit_test(test_restart_max_alone_below_default_sec_lowers_the_first_delay),
		cmocka_unit_test(test_restart_policies_parse_and_print),
		cmocka_unit_test(test_numeric_non_root_user_is_accepted),
		cmocka_unit_test(test_sessions_may_name_profiles_and_uplinks_defined_later),
		cmocka_unit_test(test_find_functions_return_index_or_enoent),
		cmocka_unit_test(test_name_rules_are_exported),
		cmocka_unit_test(test_config_free_null_is_a_noop),

		cmocka_unit_test(test_unpinned_sessions_spread_by_load_relative_to_capacity),
		cmocka_unit_test(test_pinned_sessions_are_counted_before_unpinned_ones),
		cmocka_unit_test(test_sessions_fill_every_uplink_to_capacity_exactly),
		cmocka_unit_test(test_pinned_session_over_capacity_is_rejected_at_its_header),
		cmocka_unit_test(test_unpinned_session_beyond_total_capacity_is_rejected),
		cmocka_unit_test(test_session_without_any_uplink_is_rejected),
		cmocka_unit_test(test_health_keys_parse_with_defaults),
		cmocka_unit_test(test_health_check_garbage_is_rejected_at_its_line),
		cmocka_unit_test(test_health_interval_below_100ms_is_rejected),
		cmocka_unit_test(test_health_fail_zero_is_rejected),
		cmocka_unit_test(test_preference_list_parses_in_order_and_places_first_with_room),
		cmocka_unit_test(test_priority_backup_uplink_fills_last),
		cmocka_unit_test(test_host_uplink_defaults),
		cmocka_unit_test(test_host_uplink_is_placed_last),
		cmocka_unit_test(test_host_uplink_address_gateway_and_priority),
		cmocka_unit_test(test_host_uplink_dhcp_is_rejected),
		cmocka_unit_test(test_host_uplink_ipv6_address_is_rejected),
		cmocka_unit_test(test_host_uplink_wide_subnet_needs_gateway),
		cmocka_unit_test(test_host_uplink_network_address_of_a_30_is_rejected),
		cmocka_unit_test(test_host_uplink_gateway_without_address_is_rejected),
		cmocka_unit_test(test_host_uplink_long_name_needs_interface),
		cmocka_unit_test(test_second_host_uplink_is_rejected),
		cmocka_unit_test(test_host_uplink_qmi_keys_are_rejected),
		cmocka_unit_test(test_host_uplink_name_clash_is_rejected),
		cmocka_unit_test(test_failover_defaults_profile_and_session_override),
		cmocka_unit_test(test_preference_list_with_unknown_uplink_is_rejected_at_its_line),
		cmocka_unit_test(test_preference_list_naming_an_uplink_twice_is_rejected),
		cmocka_unit_test(test_preference_list_with_empty_name_is_rejected),
		cmocka_unit_test(test_preference_list_of_nine_is_rejected),
		cmocka_unit_test(test_preference_list_all_full_is_rejected),
		cmocka_unit_test(test_on_uplink_down_garbage_is_rejected),
		cmocka_unit_test(test_move_back_garbage_is_rejected),
		cmocka_unit_test(test_move_hold_down_zero_is_rejected),
		cmocka_unit_test(test_priority_negative_is_rejected),

		cmocka_unit_test(test_line_without_equals_is_rejected),
		cmocka_unit_test(test_unterminated_header_is_rejected),
		cmocka_unit_test(test_text_after_header_is_rejected),
		cmocka_unit_test(test_header_with_two_names_is_rejected),
		cmocka_unit_test(test_empty_header_is_rejected),
		cmocka_unit_test(test_nested_bracket_in_header_is_rejected),
		cmocka_unit_test(test_empty_key_is_rejected),
		cmocka_unit_test(test_key_before_any_section_is_rejected),
		cmocka_unit_test(test_empty_value_is_rejected),
		cmocka_unit_test(test_empty_list_item_is_rejected),
		cmocka_unit_test(test_overlong_line_is_rejected_but_4096_fits),

		cmocka_unit_test(test_unknown_section_is_rejected),
		cmocka_unit_test(test_section_types_are_case_sensitive),
		cmocka_unit_test(test_unnamed_uplink_is_rejected),
		cmocka_unit_test(test_named_daemon_section_is_rejected),
		cmocka_unit_test(test_second_daemon_section_is_rejected),
		cmocka_unit_test(test_uplink_name_with_upper_case_is_rejected),
		cmocka_unit_test(test_uplink_name_starting_with_dash_is_rejected),
		cmocka_unit_test(test_uplink_name_of_16_chars_is_rejected),
		cmocka_unit_test(test_profile_name_dotdot_is_rejected),
		cmocka_unit_test(test_session_name_of_33_chars_is_rejected),
		cmocka_unit_test(test_duplicate_uplink_is_rejected),
		cmocka_unit_test(test_duplicate_profile_is_rejected),
		cmocka_unit_test(test_duplicate_session_is_rejected),
		cmocka_unit_test(test_unknown_key_names_its_section),
		cmocka_unit_test(test_keys_are_case_sensitive),
		cmocka_unit_test(test_key_of_another_section_is_unknown),
		cmocka_unit_test(test_duplicate_single_valued_key_is_rejected),
		cmocka_unit_test(test_duplicate_exec_is_rejected),

		cmocka_unit_test(test_relative_cgroup_is_rejected),
		cmocka_unit_test(test_cgroup_climbing_up_is_rejected),

		cmocka_unit_test(test_uplink_without_driver_is_rejected),
		cmocka_unit_test(test_uplink_without_interface_is_rejected_at_its_header),
		cmocka_unit_test(test_netdev_uplink_without_address_is_rejected),
		cmocka_unit_test(test_unknown_driver_is_rejected),
		cmocka_unit_test(test_qmi_uplink_without_device_is_rejected),
		cmocka_unit_test(test_qmi_uplink_with_static_address_is_rejected),
		cmocka_unit_test(test_qmi_keys_on_netdev_are_rejected),
		cmocka_unit_test(test_qmi_relative_device_is_rejected),
		cmocka_unit_test(test_qmi_bad_auth_is_rejected),
		cmocka_unit_test(test_qmi_bad_ip_type_is_rejected),
		cmocka_unit_test(test_qmi_pin_must_be_4_to_8_digits),
		cmocka_unit_test(test_qmi_password_without_username_is_rejected),
		cmocka_unit_test(test_qmi_two_uplinks_on_one_device_are_rejected),
		cmocka_unit_test(test_qmi_proxy_with_slash_is_rejected),
		cmocka_unit_test(test_dhcp_and_static_ipv4_exclude_each_other),
		cmocka_unit_test(test_dhcp_takes_the_ipv4_gateway_from_the_lease),
		cmocka_unit_test(test_qmi_uplink_fills_every_field),
		cmocka_unit_test(test_qmi_defaults_are_ipv4_auth_unset_interface_from_sysfs),
		cmocka_unit_test(test_netdev_address_dhcp_sets_the_flag_and_keeps_ipv6),
		cmocka_unit_test(test_interface_name_of_16_chars_is_rejected),
		cmocka_unit_test(test_interface_name_with_slash_is_rejected),
		cmocka_unit_test(test_interface_name_with_space_is_rejected),
		cmocka_unit_test(test_two_uplinks_on_one_interface_are_rejected),
		cmocka_unit_test(test_address_with_plen_33_is_rejected),
		cmocka_unit_test(test_address_without_plen_is_rejected),
		cmocka_unit_test(test_ipv6_address_with_plen_129_is_rejected),
		cmocka_unit_test(test_address_given_twice_is_rejected),
		cmocka_unit_test(test_ninth_address_is_rejected),
		cmocka_unit_test(test_gateway_with_plen_is_rejected),
		cmocka_unit_test(test_gateway_outside_every_subnet_is_rejected_at_its_line),
		cmocka_unit_test(test_ipv6_gateway_needs_an_ipv6_subnet),
		cmocka_unit_test(test_gateway_equal_to_own_address_is_rejected),
		cmocka_unit_test(test_second_ipv4_gateway_is_rejected),
		cmocka_unit_test(test_two_ipv4_gateways_on_one_line_are_rejected),
		cmocka_unit_test(test_invalid_dns_is_rejected),
		cmocka_unit_test(test_fourth_dns_server_is_rejected),
		cmocka_unit_test(test_capacity_zero_is_rejected),
		cmocka_unit_test(test_capacity_4097_is_rejected),
		cmocka_unit_test(test_negative_capacity_is_rejected),
		cmocka_unit_test(test_capacity_with_garbage_is_rejected),

		cmocka_unit_test(test_profile_without_exec_is_rejected),
		cmocka_unit_test(test_relative_exec_is_rejected),
		cmocka_unit_test(test_exec_with_empty_program_is_rejected),
		cmocka_unit_test(test_unterminated_single_quote_is_rejected),
		cmocka_unit_test(test_unterminated_double_quote_is_rejected),
		cmocka_unit_test(test_trailing_backslash_is_rejected),
		cmocka_unit_test(test_root_user_is_rejected),
		cmocka_unit_test(test_uid_0_is_rejected),
		cmocka_unit_test(test_uid_0_with_leading_zeros_is_rejected),
		cmocka_unit_test(test_user_starting_with_dash_is_rejected),
		cmocka_unit_test(test_unknown_restart_policy_is_rejected),
		cmocka_unit_test(test_duration_with_unknown_unit_is_rejected),
		cmocka_unit_test(test_fractional_duration_is_rejected),
		cmocka_unit_test(test_zero_duration_is_rejected),
		cmocka_unit_test(test_duration_overflowing_32_bits_of_ms_is_rejected),
		cmocka_unit_test(test_restart_max_below_restart_sec_is_rejected),

		cmocka_unit_test(test_session_without_profile_is_rejected),
		cmocka_unit_test(test_session_naming_unknown_profile_is_rejected),
		cmocka_unit_test(test_session_naming_unknown_uplink_is_rejected),
		cmocka_unit_test(test_session_with_invalid_profile_name_is_rejected),
		cmocka_unit_test(test_session_with_invalid_uplink_name_is_rejected),

		cmocka_unit_test(test_first_error_in_file_order_wins),
		cmocka_unit_test(test_error_after_allocations_is_reported_and_freed),
		cmocka_unit_test(test_err_may_be_null),
		cmocka_unit_test(test_long_message_is_truncated_not_overflowed),

		cmocka_unit_test(test_load_reads_the_file_and_remembers_its_path),
		cmocka_unit_test(test_load_reports_errors_with_the_file_name),
		cmocka_unit_test(test_load_of_missing_file_is_enoent_with_strerror),
		cmocka_unit_test(test_load_of_directory_is_eisdir),
		cmocka_unit_test(test_load_rejects_nul_byte_with_its_line),

		cmocka_unit_test(test_ini_reports_type_name_key_value_and_lines),
		cmocka_unit_test(test_ini_callback_error_stops_parsing),
		cmocka_unit_test(test_ini_syntax_error_calls_error_once_and_stops),
		cmocka_unit_test(test_ini_without_error_callback_still_fails),
		cmocka_unit_test(test_metrics_listen_defaults_to_loopback_9577),
		cmocka_unit_test(test_metrics_listen_takes_ipv4_address_and_port),
		cmocka_unit_test(test_metrics_listen_takes_bracketed_ipv6_normalised),
		cmocka_unit_test(test_metrics_listen_empty_or_off_disables_the_listener),
		cmocka_unit_test(test_metrics_section_without_listen_keeps_the_default),
		cmocka_unit_test(test_parse_listen_accepts_only_numeric_address_and_port),
		cmocka_unit_test(test_metrics_listen_without_port_is_rejected),
		cmocka_unit_test(test_metrics_listen_with_unbracketed_ipv6_is_rejected),
		cmocka_unit_test(test_metrics_listen_given_twice_is_rejected),
		cmocka_unit_test(test_second_metrics_section_is_rejected),
		cmocka_unit_test(test_named_metrics_section_is_rejected),
		cmocka_unit_test(test_unknown_metrics_key_is_rejected),
		cmocka_unit_test(test_empty_value_stays_an_error_for_other_keys),
		cmocka_unit_test(test_no_backend_section_runs_standalone_with_default_state_dir),
		cmocka_unit_test(test_backend_section_fills_every_field),
		cmocka_unit_test(test_backend_needs_url),
		cmocka_unit_test(test_backend_url_must_be_websocket),
		cmocka_unit_test(test_backend_plain_ws_needs_insecure),
		cmocka_unit_test(test_backend_cert_without_key_is_rejected),
		cmocka_unit_test(test_backend_paths_must_be_absolute),
		cmocka_unit_test(test_outbox_max_must_be_positive),
		cmocka_unit_test(test_inbox_max_must_be_positive),
		cmocka_unit_test(test_outbox_session_max_must_be_a_number),
		cmocka_unit_test(test_inbox_max_and_outbox_session_max_are_read),
		cmocka_unit_test(test_state_dir_must_be_absolute),
		cmocka_unit_test(test_state_keys_are_paths),
		cmocka_unit_test(test_state_key_must_be_absolute),
		cmocka_unit_test(test_quota_keys_on_uplink_profile_and_session),
		cmocka_unit_test(test_no_quota_keys_means_no_quota),
		cmocka_unit_test(test_quota_with_decimal_unit_is_rejected),
		cmocka_unit_test(test_quota_malformed_size_is_rejected),
		cmocka_unit_test(test_quota_too_large_is_rejected),
		cmocka_unit_test(test_quota_zero_is_rejected),
		cmocka_unit_test(test_quota_action_unknown_is_rejected),
		cmocka_unit_test(test_quota_period_unknown_is_rejected),
		cmocka_unit_test(test_quota_period_bad_day_is_rejected),
		cmocka_unit_test(test_quota_action_without_quota_is_rejected),
		cmocka_unit_test(test_quota_period_without_quota_is_rejected),
		cmocka_unit_test(test_quota_given_twice_is_rejected),
		cmocka_unit_test(test_config_load_of_bad_quota_names_file_and_line),
		cmocka_unit_test(test_match_terms_accumulate_over_lines_and_commas),
		cmocka_unit_test(test_qmi_match_by_imei_and_iccid_is_accepted),
		cmocka_unit_test(test_qmi_match_and_device_exclude_each_other),
		cmocka_unit_test(test_qmi_match_and_interface_exclude_each_other),
		cmocka_unit_test(test_qmi_same_imei_twice_is_rejected),
		cmocka_unit_test(test_match_with_a_bad_mac_is_rejected_at_its_line),
		cmocka_unit_test(test_match_of_unknown_kind_is_rejected),
		cmocka_unit_test(test_match_imei_with_a_bad_check_digit_is_rejected),
		cmocka_unit_test(test_match_of_two_macs_is_rejected),
		cmocka_unit_test(test_match_and_interface_exclude_each_other),
		cmocka_unit_test(test_match_imei_on_netdev_is_rejected),
		cmocka_unit_test(test_one_identity_in_two_uplinks_is_rejected),
		cmocka_unit_test(test_find_session_by_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
