/* test_store_perms.c — the store keeps its secrets to root: state_dir 0700 whether made or found
 * looser, the database and its -wal and -shm files 0600 whatever the caller's umask. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/store.h"

static char base[64];

static mode_t mode_of(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void touch(const char *dir, const char *name, mode_t mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* One write, so the WAL and its index exist. */
static void write_one(struct store *st)
{
	uint64_t batch = 0;

	assert_int_equal(store_session_add(st, "s1", "p", "", &batch), 0);
	assert_int_equal(store_flush(st), 0);
}

static void new_store_under_umask_0(void **state)
{
	char dir[128];
	struct store *st = NULL;
	mode_t old = umask(0);

	snprintf(dir, sizeof(dir), "%s/new", base);
	assert_int_equal(store_open(dir, NULL, &st), 0);
	write_one(st);
	umask(old);
	assert_int_equal(mode_of(base, "new"), 0700);
	assert_int_equal(mode_of(dir, "cellmux.db"), 0600);
	assert_int_equal(mode_of(dir, "cellmux.db-wal"), 0600);
	assert_int_equal(mode_of(dir, "cellmux.db-shm"), 0600);
	store_free(st);
	/* and the umask is the caller's again */
	old = umask(022);
	assert_int_equal(old, 022);
}

static void loose_dir_and_files_are_tightened(void **state)
{
	char dir[128];
	struct store *st = NULL;

	snprintf(dir, sizeof(dir), "%s/old", base);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	/* a store a careless copy left world-readable: an empty file is a valid empty database */
	touch(dir, "cellmux.db", 0644);
	touch(dir, "cellmux.db-shm", 0666);
	assert_int_equal(store_open(dir, NULL, &st), 0);
	write_one(st);
	assert_int_equal(mode_of(base, "old"), 0700);
	assert_int_equal(mode_of(dir, "cellmux.db"), 0600);
	assert_int_equal(mode_of(dir, "cellmux.db-wal"), 0600);
	assert_int_equal(mode_of(dir, "cellmux.db-shm"), 0600);
	store_free(st);
}

static int setup(void **state)
{
	snprintf(base, sizeof(base), "/tmp/cellmux-store-perms.XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_store_under_umask_0),
		cmocka_unit_test(loose_dir_and_files_are_tightened),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
