/* state-worker.c — test_state_blobs.sh's worker: asks for its session's state blob at every
 * Welcome (the first, and the one a restarted daemon that adopted it sends), and puts MARKER
 * when nothing is stored (or no key is configured), never over a blob that was refused. Prints
 * what it sees, one line per answer, for the test to find in the daemon's log:
 * "cmx-state-welcome inc=N", "cmx-state-get found=F error=E data=D", "cmx-state-put error=E". */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/worker_msg.h"

static int fd;
/* What each answer in flight answers: 'G' or 'P', in request order (worker.proto). */
static char asked[64];
static size_t n_asked;

static void die(const char *what, int r)
{
	fprintf(stderr, "state-worker: %s: %s\n", what, strerror(-r));
	exit(1);
}

static void ask(char kind, const char *marker)
{
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__StateGet g = CELLMUX__WORKER__STATE_GET__INIT;
	Cellmux__Worker__StatePut p = CELLMUX__WORKER__STATE_PUT__INIT;
	int r;

	if (n_asked == sizeof(asked))
		die("too many questions", -ENOBUFS);
	if (kind == 'G') {
		m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_GET;
		m.state_get = &g;
	} else {
		p.data.data = (uint8_t *)marker;
		p.data.len = strlen(marker);
		m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_PUT;
		m.state_put = &p;
	}
	r = worker_msg_send(fd, &m.base);
	if (r < 0)
		die("send", r);
	asked[n_asked++] = kind;
}

int main(int argc, char **argv)
{
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__Hello h = CELLMUX__WORKER__HELLO__INIT;
	const char *env = getenv(WORKER_ENV_CONTROL_FD), *marker = argc > 1 ? argv[1] : NULL;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!env)
		die(WORKER_ENV_CONTROL_FD " is unset", -EINVAL);
	fd = atoi(env);
	h.worker = "state-worker";
	h.version = "0";
	h.pid = (uint32_t)getpid();
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO;
	m.hello = &h;
	r = worker_msg_send(fd, &m.base);
	if (r < 0)
		die("hello", r);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		Cellmux__Worker__DaemonMessage *dm = NULL;

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			die("poll", -errno);
		r = worker_msg_recv_daemon(fd, &dm);
		if (r == -EAGAIN)
			continue;
		if (r == -ECONNRESET)
			return 0;
		if (r < 0)
			die("recv", r);
		switch (dm->msg_case) {
		case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME:
			printf("cmx-state-welcome inc=%llu\n",
			       (unsigned long long)dm->welcome->incarnation);
			ask('G', NULL);
			break;
		case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STATE: {
			const Cellmux__Worker__State *st = dm->state;
			char kind = n_asked ? asked[0] : '?';

			if (n_asked)
				memmove(asked, asked + 1, --n_asked);
			if (kind == 'G') {
				printf("cmx-state-get found=%d error=%d data=%.*s\n", st->found,
				       st->error, (int)st->data.len, (const char *)st->data.data);
				if (marker && !st->found && st->error != EBADMSG)
					ask('P', marker);
			} else {
				printf("cmx-state-put error=%d\n", st->error);
			}
			break;
		}
		case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STOP:
			worker_msg_free_daemon(dm);
			return 0;
		default:
			break;
		}
		worker_msg_free_daemon(dm);
	}
}
