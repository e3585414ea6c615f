/* test_identity.c — unit tests for sandbox/identity.c's dynamic uids: a name's uid is stable
 * (its state directory's owner is the record), a new name probes past uids taken by a live
 * session or owning another session's state directory, and the owners index the daemon keeps
 * gives the same answers as reading the directory. The range is cellmux's default, where this
 * host has no user or group. Owning directories needs root (chown). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
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

#include "daemon/config.h"
#include "sandbox/identity.h"
#include "unit_skip.h"

#define UID_LO CONFIG_DEFAULT_UID_MIN
#define UID_HI CONFIG_DEFAULT_UID_MAX

static char root[PATH_MAX];

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/cellmux-test-identity.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return identity_dir_remove(root);
}

static void make_owned(const char *name, uid_t uid)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chown(path, uid, uid), 0);
}

static uid_t dynamic(const char *name, const struct identity_owners *o, identity_taken_fn taken,
		     void *arg)
{
	struct identity id;

	assert_int_equal(identity_dynamic(root, name, UID_LO, UID_HI, o, taken, arg, &id), 0);
	assert_true(id.dynamic);
	assert_int_equal(id.gid, id.uid);
	assert_true(id.uid >= UID_LO && id.uid <= UID_HI);
	return id.uid;
}

static bool taken_one(uid_t uid, void *arg)
{
	return uid == *(uid_t *)arg;
}

static void test_owners_sorted_set(void **state)
{
	struct identity_owners o = { 0 };
	const uid_t in[] = { 500, 7, 900000, 7, 42, 500, 1 };

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		assert_int_equal(identity_owners_add(&o, in[i]), 0);
	assert_int_equal(o.n, 5);
	for (size_t i = 1; i < o.n; i++)
		assert_true(o.v[i - 1] < o.v[i]);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		assert_true(identity_owners_has(&o, in[i]));
	assert_false(identity_owners_has(&o, 8));
	assert_false(identity_owners_has(&o, 0));
	/* Enough to grow past the first allocation. */
	for (uid_t u = 10000; u < 10300; u++)
		assert_int_equal(identity_owners_add(&o, u), 0);
	assert_int_equal(o.n, 305);
	assert_true(identity_owners_has(&o, 10299));
	identity_owners_free(&o);
	assert_int_equal(o.n, 0);
	assert_false(identity_owners_has(&o, 7));
}

/* Without an index, with an index loaded from the directory, with one kept by adds: one answer. */
static void test_probe_past_owners(void **state)
{
	struct identity_owners loaded = { 0 }, kept = { 0 };
	uid_t first, second, again;

	(void)state;
	UNIT_REQUIRE(geteuid() == 0, "root (chown)");
	first = dynamic("alpha", NULL, NULL, NULL);
	/* Another name's directory owned by alpha's hashed uid: alpha, new, must go past it. */
	make_owned("beta", first);
	assert_int_equal(identity_owners_load(&loaded, root), 0);
	assert_true(identity_owners_has(&loaded, first));
	assert_int_equal(identity_owners_add(&kept, first), 0);
	second = dynamic("alpha", NULL, NULL, NULL);
	assert_int_not_equal(second, first);
	assert_int_equal(dynamic("alpha", &loaded, NULL, NULL), second);
	assert_int_equal(dynamic("alpha", &kept, NULL, NULL), second);
	/* alpha's own directory, once made, is its record: the same uid, whatever the index. */
	make_owned("alpha", second);
	assert_int_equal(identity_owners_add(&kept, second), 0);
	again = dynamic("alpha", &kept, NULL, NULL);
	assert_int_equal(again, second);
	assert_int_equal(dynamic("alpha", NULL, NULL, NULL), second);
	identity_owners_free(&loaded);
	identity_owners_free(&kept);
}

static void test_probe_past_taken(void **state)
{
	struct identity_owners o = { 0 };
	uid_t first, other;

	(void)state;
	first = dynamic("gamma", &o, NULL, NULL);
	other = dynamic("gamma", &o, taken_one, &first);
	assert_int_not_equal(other, first);
	identity_owners_free(&o);
}

static void test_load_missing_root(void **state)
{
	struct identity_owners o = { 0 };

	(void)state;
	assert_int_equal(identity_owners_load(&o, "/nonexistent/cellmux-test"), 0);
	assert_int_equal(o.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owners_sorted_set),
		cmocka_unit_test_setup_teardown(test_probe_past_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_past_taken, setup, teardown),
		cmocka_unit_test(test_load_missing_root),
	};

	return unit_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
