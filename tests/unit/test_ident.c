/* test_ident.c — unit tests for netns/ident.c: which match= terms parse and which are refused,
 * how terms combine (all must hold), and where a device's USB port path is read from sysfs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns/ident.h"

static struct ident_term term(const char *s)
{
	struct ident_term t;
	const char *why = NULL;

	assert_int_equal(ident_term_parse(s, &t, &why), 0);
	return t;
}

static void refused(const char *s, const char *why_has)
{
	struct ident_term t;
	const char *why = NULL;

	assert_int_equal(ident_term_parse(s, &t, &why), -EINVAL);
	assert_non_null(why);
	assert_non_null(strstr(why, why_has));
}

static struct ident_match match_of(const char *a, const char *b)
{
	struct ident_match m = {0};
	struct ident_term t;

	t = term(a);
	assert_int_equal(ident_match_add(&m, &t), 0);
	if (b) {
		t = term(b);
		assert_int_equal(ident_match_add(&m, &t), 0);
	}
	return m;
}

static void test_terms_parse_and_normalise(void **state)
{
	struct ident_term t = term("mac:02:C3:4D:00:00:0A");

	assert_int_equal(t.kind, IDENT_MAC);
	assert_string_equal(t.value, "02:c3:4d:00:00:0a");
	t = term("usb:1-1.2");
	assert_int_equal(t.kind, IDENT_USB);
	assert_string_equal(t.value, "1-1.2");
	t = term("usb:2-1.4.3");
	assert_string_equal(t.value, "2-1.4.3");
	/* The fake modem's modem 0: 35000000000000 and its Luhn digit. */
	t = term("imei:350000000000006");
	assert_int_equal(t.kind, IDENT_IMEI);
	t = term("iccid:8999900000000000004");
	assert_int_equal(t.kind, IDENT_ICCID);
	assert_string_equal(t.value, "8999900000000000004");
}

static void test_bad_terms_are_refused_with_a_reason(void **state)
{
	refused("02:c3:4d:00:00:0a", "KIND:VALUE");
	refused("serial:1234", "KIND:VALUE");
	refused("MAC:02:c3:4d:00:00:0a", "KIND:VALUE");
	refused("mac:02:c3:4d:00:00", "six hex bytes");
	refused("mac:02-c3-4d-00-00-0a", "six hex bytes");
	refused("mac:02:c3:4d:00:00:0g", "six hex bytes");
	refused("usb:1-", "BUS-PORT");
	refused("usb:1-1.", "BUS-PORT");
	refused("usb:usb1", "BUS-PORT");
	refused("usb:1-1.2:1.4", "BUS-PORT"); /* an interface, not the device */
	refused("imei:350000000000009", "Luhn");   /* wrong check digit */
	refused("imei:35000000000000", "15 digits"); /* 14 */
	refused("imei:35000000000000x", "15 digits");
	refused("iccid:89999", "18 to 22");
	refused("iccid:8999900000000000004F", "18 to 22");
}

static void test_a_kind_may_appear_once(void **state)
{
	struct ident_match m = match_of("mac:02:00:00:00:00:01", NULL);
	struct ident_term t = term("mac:02:00:00:00:00:02");

	assert_int_equal(ident_match_add(&m, &t), -EEXIST);
	t = term("usb:1-1");
	assert_int_equal(ident_match_add(&m, &t), 0);
	assert_int_equal(m.n, 2);
}

static void test_every_term_must_hold(void **state)
{
	struct ident_match m = match_of("mac:02:00:00:00:00:01", "usb:1-1.2");
	struct ident_facts f = {.mac = "02:00:00:00:00:01", .usb = "1-1.2"};

	assert_int_equal(ident_match_check(&m, &f), IDENT_YES);
	/* Same modem, other port: no. */
	strcpy(f.usb, "1-1.3");
	assert_int_equal(ident_match_check(&m, &f), IDENT_NO);
	/* Other modem, same port: no. */
	strcpy(f.usb, "1-1.2");
	strcpy(f.mac, "02:00:00:00:00:02");
	assert_int_equal(ident_match_check(&m, &f), IDENT_NO);
	/* Upper case from some other source still matches. */
	m = match_of("mac:02:00:00:00:00:0a", NULL);
	strcpy(f.mac, "02:00:00:00:00:0A");
	assert_int_equal(ident_match_check(&m, &f), IDENT_YES);
}

static void test_missing_facts_are_unknown_unless_another_says_no(void **state)
{
	struct ident_match m = match_of("usb:1-1.2", "imei:350000000000006");
	struct ident_facts f = {.usb = "1-1.2"};

	assert_true(ident_match_needs_modem(&m));
	assert_int_equal(ident_match_check(&m, &f), IDENT_UNKNOWN);
	strcpy(f.usb, "1-1.4");
	assert_int_equal(ident_match_check(&m, &f), IDENT_NO);
	strcpy(f.usb, "1-1.2");
	strcpy(f.imei, "350000000000016");
	assert_int_equal(ident_match_check(&m, &f), IDENT_NO);
	strcpy(f.imei, "350000000000006");
	assert_int_equal(ident_match_check(&m, &f), IDENT_YES);
	/* A device without a MAC never matches mac:. */
	m = match_of("mac:02:00:00:00:00:01", NULL);
	assert_false(ident_match_needs_modem(&m));
	memset(&f, 0, sizeof(f));
	assert_int_equal(ident_match_check(&m, &f), IDENT_UNKNOWN);
	/* An empty match matches nothing. */
	m = (struct ident_match){0};
	assert_int_equal(ident_match_check(&m, &f), IDENT_NO);
}

static void test_format_lists_the_terms(void **state)
{
	struct ident_match m = match_of("usb:1-1.2", "mac:02:00:00:00:00:01");
	char buf[128];

	assert_string_equal(ident_match_fmt(&m, buf, sizeof(buf)),
			    "usb:1-1.2,mac:02:00:00:00:00:01");
}

static void test_usb_path_is_the_device_of_the_interface(void **state)
{
	char out[32];

	assert_int_equal(ident_usb_path_of("/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/"
					   "1-1.2:1.4",
					   out, sizeof(out)),
			 0);
	assert_string_equal(out, "1-1.2");
	assert_int_equal(ident_usb_path_of("/sys/devices/pci0000:00/0000:00:14.0/usb2/2-3", out,
					   sizeof(out)),
			 0);
	assert_string_equal(out, "2-3");
	/* PCI (a built-in card) and virtual devices are not on USB. */
	assert_int_equal(ident_usb_path_of("/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0",
					   out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(ident_usb_path_of("/sys/devices/virtual/net/veth0", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(ident_usb_path_of("/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2",
					   out, 4),
			 -ENAMETOOLONG);
}

static void test_luhn_digit(void **state)
{
	assert_int_equal(ident_luhn("35000000000000"), '6');
	assert_int_equal(ident_luhn("49015420323751"), '8'); /* the GSMA's example IMEI */
}

/* A sysfs tree of our own: net/wwan0 on USB 1-1.2 (interface 1.4), net/veth0 virtual. */
static void mkpath(const char *root, const char *rel)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", root, rel);
	assert_int_equal(system(cmd), 0);
}

static void put(const char *root, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_facts_from_sysfs(void **state)
{
	char root[] = "/tmp/test_ident.XXXXXX", link[512], cmd[600];
	struct ident_facts f;

	assert_non_null(mkdtemp(root));
	mkpath(root, "devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.4/net/wwan0");
	mkpath(root, "devices/virtual/net/veth0");
	mkpath(root, "class/net");
	put(root, "devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.4/net/wwan0/address",
	    "02:C3:4D:00:00:01\n");
	put(root, "devices/virtual/net/veth0/address", "02:c3:4d:00:00:02\n");
	snprintf(link, sizeof(link), "%s/class/net/wwan0", root);
	assert_int_equal(symlink("../../devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.4/"
				 "net/wwan0",
				 link),
			 0);
	snprintf(link, sizeof(link), "%s/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.4/"
		 "net/wwan0/device", root);
	assert_int_equal(symlink("../../../1-1.2:1.4", link), 0);
	snprintf(link, sizeof(link), "%s/class/net/veth0", root);
	assert_int_equal(symlink("../../devices/virtual/net/veth0", link), 0);

	assert_int_equal(ident_facts_sysfs(root, "wwan0", &f), 0);
	assert_string_equal(f.mac, "02:c3:4d:00:00:01");
	assert_string_equal(f.usb, "1-1.2");
	assert_int_equal(ident_facts_sysfs(root, "veth0", &f), 0);
	assert_string_equal(f.mac, "02:c3:4d:00:00:02");
	assert_string_equal(f.usb, "");
	assert_int_equal(ident_facts_sysfs(root, "nosuch0", &f), -ENOENT);
	{
		struct ident_match m = match_of("mac:02:c3:4d:00:00:02", NULL);
		char ifname[16] = "";

		assert_int_equal(ident_find_netdev(root, &m, ifname, sizeof(ifname)), 0);
		assert_string_equal(ifname, "veth0");
		m = match_of("usb:1-1.2", NULL);
		assert_int_equal(ident_find_netdev(root, &m, ifname, sizeof(ifname)), 0);
		assert_string_equal(ifname, "wwan0");
		m = match_of("usb:1-1.2", "mac:02:c3:4d:00:00:02");
		assert_int_equal(ident_find_netdev(root, &m, ifname, sizeof(ifname)), -ENODEV);
	}
	assert_int_equal(ident_facts_sysfs(root, "../x", &f), -EINVAL);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terms_parse_and_normalise),
		cmocka_unit_test(test_bad_terms_are_refused_with_a_reason),
		cmocka_unit_test(test_a_kind_may_appear_once),
		cmocka_unit_test(test_every_term_must_hold),
		cmocka_unit_test(test_missing_facts_are_unknown_unless_another_says_no),
		cmocka_unit_test(test_format_lists_the_terms),
		cmocka_unit_test(test_usb_path_is_the_device_of_the_interface),
		cmocka_unit_test(test_luhn_digit),
		cmocka_unit_test(test_facts_from_sysfs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
