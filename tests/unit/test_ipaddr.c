/* test_ipaddr.c — unit tests for netns/ipaddr.c: what parses, what is refused, how prefixes
 * format back, and which addresses a subnet contains. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netns/ipaddr.h"

static struct ip_prefix prefix(const char *s)
{
	struct ip_prefix p;

	assert_int_equal(ip_prefix_parse(s, &p), 0);
	return p;
}

static struct ip_prefix addr(const char *s)
{
	struct ip_prefix p;

	assert_int_equal(ip_addr_parse(s, &p), 0);
	return p;
}

static void test_prefix_parse_ipv4_keeps_host_bits_and_plen(void **state)
{
	struct ip_prefix p = prefix("192.0.2.17/24");
	char buf[IP_PREFIX_STRLEN];

	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.plen, 24);
	assert_string_equal(ip_prefix_fmt(&p, true, buf), "192.0.2.17/24");
	assert_string_equal(ip_prefix_fmt(&p, false, buf), "192.0.2.17");
}

static void test_prefix_parse_ipv6_formats_canonically(void **state)
{
	struct ip_prefix p = prefix("2001:0db8:0:0::1/64");
	char buf[IP_PREFIX_STRLEN];

	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(p.plen, 64);
	assert_string_equal(ip_prefix_fmt(&p, true, buf), "2001:db8::1/64");
}

static void test_prefix_parse_accepts_plen_bounds(void **state)
{
	assert_int_equal(prefix("0.0.0.0/0").plen, 0);
	assert_int_equal(prefix("10.0.0.1/32").plen, 32);
	assert_int_equal(prefix("::/0").plen, 0);
	assert_int_equal(prefix("::1/128").plen, 128);
}

static void test_prefix_parse_rejects_bad_input_without_writing(void **state)
{
	static const char *const bad[] = {
		"",		 "garbage",	"1.2.3.4/33", "::1/129",     "1.2.3",
		"1.2.3/8",	 "1.2.3.4",	"1.2.3.4/",   "/24",	     "1.2.3.4/-1",
		"1.2.3.4/+8",	 "1.2.3.4/ 8",	"1.2.3.4/8 ", " 1.2.3.4/8",  "1.2.3.4/0x8",
		"1.2.3.4/0008",	 "1.2.3.4/8/8", "256.1.1.1/8", "1.2.3.4/8a", "fe80::1%eth0/64",
		"2001:db8:::1/64",
	};
	struct ip_prefix p = { .family = 99 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ip_prefix_parse(bad[i], &p) != -EINVAL)
			fail_msg("ip_prefix_parse accepted '%s'", bad[i]);
		assert_int_equal(p.family, 99);
	}
	assert_int_equal(ip_prefix_parse(NULL, &p), -EINVAL);
}

static void test_addr_parse_gives_host_plen(void **state)
{
	assert_int_equal(addr("192.0.2.1").plen, 32);
	assert_int_equal(addr("192.0.2.1").family, AF_INET);
	assert_int_equal(addr("2001:db8::1").plen, 128);
	assert_int_equal(addr("2001:db8::1").family, AF_INET6);
	assert_int_equal(addr("::ffff:192.0.2.1").family, AF_INET6);
}

static void test_addr_parse_rejects_prefixes_and_garbage(void **state)
{
	static const char *const bad[] = { "", "garbage", "1.2.3", "1.2.3.4/32", "::1/128",
					   "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ", "::g" };
	struct ip_prefix p = { .family = 99 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ip_addr_parse(bad[i], &p) != -EINVAL)
			fail_msg("ip_addr_parse accepted '%s'", bad[i]);
		assert_int_equal(p.family, 99);
	}
	assert_int_equal(ip_addr_parse(NULL, &p), -EINVAL);
}

static void test_contains_checks_only_the_prefix_bits(void **state)
{
	struct ip_prefix net = prefix("10.1.2.3/23");

	assert_true(ip_prefix_contains(&net, &(struct ip_prefix){ 0 }) == false);
	assert_true(ip_prefix_contains(&net, &(struct ip_prefix){ .family = AF_INET6 }) == false);
	assert_true(ip_prefix_contains(&net, &(struct ip_prefix){ .family = AF_INET, .plen = 32,
								 .addr.v4.s_addr = 0 }) == false);

	struct ip_prefix in1 = addr("10.1.2.1"), in2 = addr("10.1.3.255"), out = addr("10.1.4.0");
	assert_true(ip_prefix_contains(&net, &in1));
	assert_true(ip_prefix_contains(&net, &in2));
	assert_false(ip_prefix_contains(&net, &out));
}

static void test_contains_handles_non_byte_aligned_ipv6(void **state)
{
	struct ip_prefix net = prefix("2001:db8:abcd:12::1/62");
	struct ip_prefix in = addr("2001:db8:abcd:13::99"), out = addr("2001:db8:abcd:14::1");

	assert_true(ip_prefix_contains(&net, &in));
	assert_false(ip_prefix_contains(&net, &out));
}

static void test_contains_rejects_family_mismatch_and_wider_prefix(void **state)
{
	struct ip_prefix v4 = prefix("0.0.0.0/0"), v6 = addr("::1");
	struct ip_prefix narrow = prefix("10.0.0.0/24"), wide = prefix("10.0.0.0/16");

	assert_false(ip_prefix_contains(&v4, &v6));
	assert_true(ip_prefix_contains(&v4, &narrow));
	assert_true(ip_prefix_contains(&wide, &narrow));
	assert_false(ip_prefix_contains(&narrow, &wide));
	assert_false(ip_prefix_contains(NULL, &v6));
}

static void test_zero_length_prefix_contains_every_address_of_its_family(void **state)
{
	struct ip_prefix any6 = prefix("::/0"), a = addr("2001:db8::1");

	assert_true(ip_prefix_contains(&any6, &a));
}

static void test_fmt_of_no_family_is_none(void **state)
{
	struct ip_prefix none = { 0 };
	char buf[IP_PREFIX_STRLEN];

	assert_string_equal(ip_prefix_fmt(&none, true, buf), "none");
}

static void test_fmt_fits_the_longest_ipv6_prefix(void **state)
{
	struct ip_prefix p = prefix("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128");
	char buf[IP_PREFIX_STRLEN];

	assert_string_equal(ip_prefix_fmt(&p, true, buf),
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	assert_int_equal(ip_prefix_addrlen(&p), 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_parse_ipv4_keeps_host_bits_and_plen),
		cmocka_unit_test(test_prefix_parse_ipv6_formats_canonically),
		cmocka_unit_test(test_prefix_parse_accepts_plen_bounds),
		cmocka_unit_test(test_prefix_parse_rejects_bad_input_without_writing),
		cmocka_unit_test(test_addr_parse_gives_host_plen),
		cmocka_unit_test(test_addr_parse_rejects_prefixes_and_garbage),
		cmocka_unit_test(test_contains_checks_only_the_prefix_bits),
		cmocka_unit_test(test_contains_handles_non_byte_aligned_ipv6),
		cmocka_unit_test(test_contains_rejects_family_mismatch_and_wider_prefix),
		cmocka_unit_test(test_zero_length_prefix_contains_every_address_of_its_family),
		cmocka_unit_test(test_fmt_of_no_family_is_none),
		cmocka_unit_test(test_fmt_fits_the_longest_ipv6_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
