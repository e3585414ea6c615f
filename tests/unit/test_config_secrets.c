/* test_config_secrets.c — the config remembers where its secrets are (the first pin= or
 * password=) and where token_file= and state_dir= were written, so preflight's permission checks
 * can name FILE:LINE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "daemon/config.h"

static struct cmx_config *parse(const char *text)
{
	struct cmx_config *c = NULL;
	char err[CONFIG_ERR_MAX] = "";

	if (config_parse_string("t.conf", text, &c, err, sizeof(err)) < 0)
		fail_msg("config rejected: %s", err);
	return c;
}

#define QMI "[uplink q]\ndriver=qmi\ndevice=/dev/cdc-wdm0\n"

static void no_secret_no_line(void **state)
{
	struct cmx_config *c = parse(QMI "apn=internet\nusername=u\n");

	assert_int_equal(c->secret_line, 0);
	assert_null(c->secret_key);
	assert_int_equal(c->daemon.state_dir_line, 0);
	assert_int_equal(c->backend.token_file_line, 0);
	config_free(c);
}

static void pin_line_recorded(void **state)
{
	struct cmx_config *c = parse(QMI "apn=internet\npin=1234\n");

	assert_int_equal(c->secret_line, 5);
	assert_string_equal(c->secret_key, "pin");
	config_free(c);
}

static void first_secret_in_file_order(void **state)
{
	struct cmx_config *c = parse(QMI "username=u\npassword=hunter2\npin=1234\n"
				     "[uplink r]\ndriver=qmi\ndevice=/dev/cdc-wdm1\npin=0000\n");

	assert_int_equal(c->secret_line, 5);
	assert_string_equal(c->secret_key, "password");
	config_free(c);
}

static void token_file_and_state_dir_lines(void **state)
{
	struct cmx_config *c = parse("[daemon]\nstate_dir=/var/lib/cmx\n\n[backend]\n"
				     "url=wss://backend.test/gw\ntoken_file=/etc/cellmux/token\n");

	assert_int_equal(c->daemon.state_dir_line, 2);
	assert_int_equal(c->backend.token_file_line, 6);
	/* a token file is not a secret in the config itself */
	assert_int_equal(c->secret_line, 0);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_secret_no_line),
		cmocka_unit_test(pin_line_recorded),
		cmocka_unit_test(first_secret_in_file_order),
		cmocka_unit_test(token_file_and_state_dir_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
