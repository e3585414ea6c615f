/* test_seal.c — state blobs sealed with AES-256-GCM (daemon/seal.c): a round trip, and every
 * way a blob that must not open is refused (a flipped byte anywhere, a wrong key, another
 * session's name, another version); the previous key opens during a rotation; key files are
 * refused unless root's and private. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/seal.h"
#include "tests/unit/unit_skip.h"

static const char plain[] = "cmx-secret-cursor=4711";

static void key_of(struct seal_key *k, uint8_t fill)
{
	uint8_t raw[SEAL_KEY_LEN];

	memset(raw, fill, sizeof(raw));
	raw[0] = 0x5a;
	seal_key_set(k, raw);
}

static void seal_plain(const struct seal_key *k, const char *session, uint8_t **b, size_t *n)
{
	assert_int_equal(seal_seal(k, session, plain, sizeof(plain), b, n), 0);
	assert_int_equal(*n, sizeof(plain) + SEAL_OVERHEAD);
}

static void test_round_trip(void **state)
{
	struct seal_keys keys = {0};
	uint8_t *b, *b2, *out = NULL;
	size_t n, n2, on = 0;
	bool prev = true;

	key_of(&keys.current, 1);
	seal_plain(&keys.current, "s1", &b, &n);
	/* No plaintext in the sealed bytes; a fresh nonce each time, so two seals differ. */
	assert_null(memmem(b, n, "cmx-secret", 10));
	seal_plain(&keys.current, "s1", &b2, &n2);
	assert_memory_not_equal(b + 1, b2 + 1, SEAL_NONCE_LEN);
	assert_int_equal(seal_open(&keys, "s1", b, n, &out, &on, &prev), 0);
	assert_int_equal(on, sizeof(plain));
	assert_memory_equal(out, plain, sizeof(plain));
	assert_false(prev);
	free(out);
	/* Empty plaintexts seal and open too. */
	free(b2);
	assert_int_equal(seal_seal(&keys.current, "s1", "", 0, &b2, &n2), 0);
	assert_int_equal(seal_open(&keys, "s1", b2, n2, &out, &on, NULL), 0);
	assert_int_equal(on, 0);
	free(out);
	free(b);
	free(b2);
}

static void test_every_flipped_byte_refused(void **state)
{
	struct seal_keys keys = {0};
	uint8_t *b, *out = NULL;
	size_t n, on = 0;

	key_of(&keys.current, 2);
	seal_plain(&keys.current, "s1", &b, &n);
	for (size_t i = 0; i < n; i++) {
		int r;

		b[i] ^= 0x01;
		r = seal_open(&keys, "s1", b, n, &out, &on, NULL);
		/* Byte 0 is the version: a different one is not ours to open. */
		assert_int_equal(r, i == 0 ? -EPROTONOSUPPORT : -EBADMSG);
		assert_null(out);
		b[i] ^= 0x01;
	}
	/* Cut short: the tag is gone. */
	assert_int_equal(seal_open(&keys, "s1", b, n - 1, &out, &on, NULL), -EBADMSG);
	assert_int_equal(seal_open(&keys, "s1", b, SEAL_OVERHEAD - 1, &out, &on, NULL), -EBADMSG);
	assert_null(out);
	free(b);
}

static void test_wrong_key_refused(void **state)
{
	struct seal_keys keys = {0}, other = {0};
	uint8_t *b, *out = NULL;
	size_t n, on = 0;

	key_of(&keys.current, 3);
	key_of(&other.current, 4);
	seal_plain(&keys.current, "s1", &b, &n);
	assert_int_equal(seal_open(&other, "s1", b, n, &out, &on, NULL), -EBADMSG);
	assert_null(out);
	/* No key at all: not a crash, a clear error. */
	memset(&other, 0, sizeof(other));
	assert_int_equal(seal_open(&other, "s1", b, n, &out, &on, NULL), -ENOKEY);
	assert_int_equal(seal_seal(&other.current, "s1", plain, 1, &out, &on), -ENOKEY);
	assert_null(out);
	free(b);
}

static void test_other_session_refused(void **state)
{
	struct seal_keys keys = {0};
	uint8_t *b, *out = NULL;
	size_t n, on = 0;

	key_of(&keys.current, 5);
	seal_plain(&keys.current, "s1", &b, &n);
	assert_int_equal(seal_open(&keys, "s2", b, n, &out, &on, NULL), -EBADMSG);
	assert_int_equal(seal_open(&keys, "s", b, n, &out, &on, NULL), -EBADMSG);
	assert_int_equal(seal_open(&keys, "s1x", b, n, &out, &on, NULL), -EBADMSG);
	assert_null(out);
	free(b);
}

static void test_previous_key_opens(void **state)
{
	struct seal_keys keys = {0};
	struct seal_key old;
	uint8_t *b, *out = NULL;
	size_t n, on = 0;
	bool prev = false;

	key_of(&old, 6);
	seal_plain(&old, "s1", &b, &n);
	/* Rotated: the new key is current, the old one previous. */
	key_of(&keys.current, 7);
	keys.previous = old;
	assert_int_equal(seal_open(&keys, "s1", b, n, &out, &on, &prev), 0);
	assert_true(prev);
	assert_memory_equal(out, plain, sizeof(plain));
	free(out);
	/* Without the previous key, the old blob no longer opens. */
	seal_key_clear(&keys.previous);
	assert_false(keys.previous.set);
	assert_int_equal(seal_open(&keys, "s1", b, n, &out, &on, &prev), -EBADMSG);
	free(b);
}

static char *key_file(const char *content, size_t len, mode_t mode)
{
	char *path = strdup("/tmp/test-seal-key.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void expect_load(const char *content, size_t len, mode_t mode, int want)
{
	struct seal_key k = {0};
	char *path = key_file(content, len, mode);

	assert_int_equal(seal_key_load(path, &k), want);
	assert_int_equal(k.set, want == 0);
	unlink(path);
	free(path);
}

static void test_key_files(void **state)
{
	static const char hex[] = "000102030405060708090a0b0c0d0e0f"
				  "101112131415161718191A1B1C1D1E1F\n";
	struct seal_key k = {0};
	char raw[SEAL_KEY_LEN];
	char *path;

	UNIT_REQUIRE(geteuid() == 0, "root (key files must be root's)");
	memset(raw, 'x', sizeof(raw));
	expect_load(raw, sizeof(raw), 0600, 0);
	expect_load(raw, sizeof(raw), 0400, 0);
	expect_load(hex, sizeof(hex) - 1, 0600, 0);
	expect_load(hex, sizeof(hex) - 2, 0600, 0); /* no newline */
	expect_load(raw, sizeof(raw), 0640, -EPERM);
	expect_load(raw, sizeof(raw), 0604, -EPERM);
	expect_load(raw, sizeof(raw) - 1, 0600, -EINVAL);
	expect_load(hex, sizeof(hex) - 3, 0600, -EINVAL);
	expect_load("zz", 2, 0600, -EINVAL);
	path = key_file(hex, sizeof(hex) - 1, 0600);
	assert_int_equal(seal_key_load(path, &k), 0);
	assert_int_equal(k.k[0], 0x00);
	assert_int_equal(k.k[26], 0x1a);
	assert_int_equal(k.k[31], 0x1f);
	/* Not root's: refused even when private. */
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(seal_key_load(path, &k), -EPERM);
	unlink(path);
	free(path);
	assert_int_equal(seal_key_load("/nonexistent/key", &k), -ENOENT);
	assert_int_equal(seal_key_load("/tmp", &k), -EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_every_flipped_byte_refused),
	    cmocka_unit_test(test_wrong_key_refused),
	    cmocka_unit_test(test_other_session_refused),
	    cmocka_unit_test(test_previous_key_opens),
	    cmocka_unit_test(test_key_files),
	};

	return unit_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
