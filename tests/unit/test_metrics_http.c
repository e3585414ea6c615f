/* test_metrics_http.c — daemon/metrics.c over loopback without root: the HTTP surface (status
 * codes, headers, HEAD, keep-alive), start-up errors, and freeing it from inside a dispatch. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "daemon/metrics.h"

struct fixture {
	struct daemon *d; /* a daemon with no uplinks and no sessions: all status needs */
	struct cfg_metrics cfg;
};

static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->d = calloc(1, sizeof(*f->d));
	f->d->loop = g_main_loop_new(NULL, FALSE);
	f->cfg = (struct cfg_metrics){ .enabled = true, .family = AF_INET, .address = "127.0.0.1",
				       .port = free_port() };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	metrics_free(f->d->metrics);
	/* Whatever the test left ready runs now, against freed state if it was wrong. */
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_main_loop_unref(f->d->loop);
	free(f->d);
	free(f);
	return 0;
}

static int connect_to(const struct fixture *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->cfg.port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	/* Loopback completes at once or with EINPROGRESS; the loop below finishes it. */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		assert_int_equal(errno, EINPROGRESS);
	return fd;
}

/* Runs the daemon's loop until the server closes fd or `want` bytes came; returns them. */
static char *exchange(int fd, const char *request, size_t want)
{
	size_t len = 0, cap = 1 << 20, sent = 0, n_req = strlen(request);
	char *buf = malloc(cap + 1);
	gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

	assert_non_null(buf);
	while (g_get_monotonic_time() < deadline) {
		ssize_t n;

		if (sent < n_req) {
			n = send(fd, request + sent, n_req - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
		}
		g_main_context_iteration(NULL, FALSE);
		n = recv(fd, buf + len, cap - len, 0);
		if (n > 0)
			len += (size_t)n;
		if (n == 0 || (want && len >= want))
			break;
		if (n < 0 && errno != EAGAIN)
			break;
		g_usleep(200);
	}
	buf[len] = '\0';
	return buf;
}

static char *request(const struct fixture *f, const char *req)
{
	int fd = connect_to(f);
	char *r = exchange(fd, req, 0);

	close(fd);
	return r;
}

static void start(struct fixture *f)
{
	assert_int_equal(metrics_new(f->d, &f->cfg, &f->d->metrics), 0);
	assert_non_null(f->d->metrics);
}

static void test_healthz_is_200_json_with_uplink_counts(void **state)
{
	struct fixture *f = *state;
	char *r;

	start(f);
	r = request(f, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_true(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17));
	assert_non_null(strstr(r, "\r\ncontent-type: application/json\r\n"));
	assert_non_null(strstr(r, "\r\ncontent-length: 48\r\n"));
	assert_non_null(
		strstr(r, "\r\n\r\n{\"status\":\"ok\",\"uplinks_up\":0,\"uplinks_total\":0}"));
	free(r);
}

static void test_metrics_is_the_text_format_with_its_content_type(void **state)
{
	struct fixture *f = *state;
	char *r, *body;

	start(f);
	r = request(f, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_true(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17));
	assert_non_null(
		strstr(r, "\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	body = strstr(r, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	assert_true(!strncmp(body, "# HELP cellmux_build_info ", 26));
	assert_non_null(strstr(body, "\n# TYPE process_open_fds gauge\nprocess_open_fds "));
	/* content-length is the body's length */
	assert_int_equal(strtoul(strstr(r, "content-length: ") + 16, NULL, 10), strlen(body));
	free(r);
}

/* HEAD and GET pipelined on one connection: a body after HEAD would show before the second
 * status line. */
static void test_head_has_gets_headers_and_no_body(void **state)
{
	struct fixture *f = *state;
	char *r, *second;

	start(f);
	r = request(f, "HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n"
		       "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_true(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17));
	assert_non_null(strstr(r, "text/plain; version=0.0.4"));
	assert_true(strtoul(strstr(r, "content-length: ") + 16, NULL, 10) > 1000);
	second = strstr(r, "\r\n\r\n");
	assert_non_null(second);
	assert_true(!strncmp(second + 4, "HTTP/1.1 200 OK\r\n", 17));
	assert_non_null(strstr(second, "\"uplinks_total\":0}"));
	free(r);
}

static void test_unknown_path_is_404_whatever_the_method(void **state)
{
	struct fixture *f = *state;
	char *r;

	start(f);
	r = request(f, "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_true(!strncmp(r, "HTTP/1.1 404 ", 13));
	free(r);
	r = request(f, "DELETE /metrics/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_true(!strncmp(r, "HTTP/1.1 404 ", 13));
	free(r);
}

static void test_other_methods_are_405_with_allow_and_keep_the_connection(void **state)
{
	struct fixture *f = *state;
	char *r, *second;

	start(f);
	/* The body of the POST is read and dropped: the next request on the connection works. */
	r = request(f, "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
		       "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_true(!strncmp(r, "HTTP/1.1 405 Method Not Allowed\r\n", 33));
	assert_non_null(strstr(r, "\r\nallow: GET, HEAD\r\n"));
	second = strstr(r, "method not allowed\n");
	assert_non_null(second);
	assert_true(!strncmp(second + 19, "HTTP/1.1 200 OK\r\n", 17));
	free(r);
}

static void test_a_taken_port_fails_with_eaddrinuse(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->cfg.port) };
	struct metrics *sentinel = (struct metrics *)&sentinel, *m = sentinel;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(metrics_new(f->d, &f->cfg, &m), -EADDRINUSE);
	assert_ptr_equal(m, sentinel); /* *ret is written only on success */
	close(fd);
}

static void test_disabled_listens_nowhere(void **state)
{
	struct fixture *f = *state;
	struct metrics *m = (struct metrics *)&m;

	f->cfg.enabled = false;
	assert_int_equal(metrics_new(f->d, &f->cfg, &m), 0);
	assert_null(m);
}

static void test_ipv6_loopback_serves(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd;
	char *r;

	f->cfg.family = AF_INET6;
	strcpy(f->cfg.address, "::1");
	start(f);
	a.sin6_port = htons((uint16_t)f->cfg.port);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		assert_int_equal(errno, EINPROGRESS);
	r = exchange(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
	assert_true(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17));
	free(r);
	close(fd);
}

/* The daemon frees metrics from its SIGTERM handler, a GLib dispatch. If a connection's source
 * is ready in that same dispatch, GLib finalizes it after the handler returns; lws must not have
 * unmapped the code that source points to by then (it did: a crash at shutdown). */
static int free_pipe[2];
static gboolean free_from_dispatch(gint fd, GIOCondition cond, gpointer data)
{
	struct daemon *d = data;
	char c;

	assert_int_equal(read(fd, &c, 1), 1);
	metrics_free(d->metrics);
	d->metrics = NULL;
	return G_SOURCE_REMOVE;
}

/* In a child: a crash there (it was SIGSEGV) fails this test cleanly, where in-process it
 * would unwind out of GLib's dispatch with the context locked and hang the next test. */
static void free_inside_dispatch(struct fixture *f)
{
	int fd;

	assert_int_equal(pipe2(free_pipe, O_CLOEXEC), 0);
	/* Attached before the connection's source, so dispatched first in the same round. */
	g_unix_fd_add(free_pipe[0], G_IO_IN, free_from_dispatch, f->d);
	start(f);
	fd = connect_to(f);
	for (int i = 0; i < 50; i++) { /* accepted and adopted */
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	assert_int_equal(send(fd, "GET /hea", 8, MSG_NOSIGNAL), 8);
	assert_int_equal(write(free_pipe[1], "x", 1), 1);
	g_usleep(20000);
	g_main_context_iteration(NULL, FALSE);
	assert_null(f->d->metrics);
	g_main_context_iteration(NULL, FALSE);
	close(fd);
}

static void test_freeing_inside_a_dispatch_with_a_connection_ready_is_safe(void **state)
{
	int status = 0;
	pid_t pid = fork(), r = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka's handlers would turn a crash into a jump out of GLib, and a hang. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		free_inside_dispatch(*state);
		_exit(0);
	}
	for (int i = 0; i < 1000 && r == 0; i++) { /* 10 s */
		r = waitpid(pid, &status, WNOHANG);
		if (r == 0)
			g_usleep(10000);
	}
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("freeing metrics inside a dispatch hung");
	}
	if (WIFSIGNALED(status))
		fail_msg("freeing metrics inside a dispatch killed the process: %s",
			 strsignal(WTERMSIG(status)));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_healthz_is_200_json_with_uplink_counts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_metrics_is_the_text_format_with_its_content_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_has_gets_headers_and_no_body, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_path_is_404_whatever_the_method, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_other_methods_are_405_with_allow_and_keep_the_connection, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_a_taken_port_fails_with_eaddrinuse, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disabled_listens_nowhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_loopback_serves, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_freeing_inside_a_dispatch_with_a_connection_ready_is_safe, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
