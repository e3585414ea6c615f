/* ipc.c — cellmuxctl's seam to cellmuxd: connect to the admin socket, send one request, read the
 * answer netlink-style (objects, then an ack, NLMSG_DONE or an NLMSG_ERROR) and say what failed. */
#include <ctype.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "tools/cellmuxctl/cellmuxctl.h"

/* Long enough for a stop that waits out a worker's grace period, or a reload bringing uplinks up;
 * a daemon that says nothing for this long is stuck. */
#define ANSWER_TIMEOUT_MS 120000

void request_start(struct request *q, uint8_t cmd, bool dump)
{
	uint16_t flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);

	/* Distinct per run, like netlink tools do, though one connection carries one request. */
	ctl_msg_start(&q->m, q->buf, sizeof(q->buf), flags, (uint32_t)time(NULL), cmd);
}

/* "Permission denied" -> "permission denied", as messages of command-line tools read. */
static void print_errno(const char *what, int error)
{
	char s[128];

	snprintf(s, sizeof(s), "%s", strerror(error));
	s[0] = (char)tolower((unsigned char)s[0]);
	fprintf(stderr, "%s: %s%s\n", program_name, what, s);
}

static int connect_daemon(const char *path, int *ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: socket path too long: %s\n", program_name, path);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %m\n", program_name);
		return negative_errno();
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr, "%s: cellmuxd is not running (no socket at %s)\n",
				program_name, path);
		else if (e == EACCES || e == EPERM)
			fprintf(stderr, "%s: permission denied (connecting to %s)\n", program_name,
				path);
		else
			fprintf(stderr, "%s: connecting to %s: %s\n", program_name, path,
				strerror(e));
		return -e;
	}
	*ret = TAKE_FD(fd);
	return 0;
}

enum step {
	STEP_MORE,
	STEP_DONE,
	STEP_FAILED,
};

static enum step answer_message(const struct nlmsghdr *nlh, uint32_t seq, object_fn fn, void *data,
				int *status)
{
	struct ctl_parsed p;
	struct ctl_err err = {};
	const char *msg;
	int error, k;

	/* seq 0: the daemon could not read our request (it echoes ours otherwise). */
	if (nlh->nlmsg_seq != seq && !(nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == 0))
		return STEP_MORE;
	switch (nlh->nlmsg_type) {
	case NLMSG_NOOP:
		return STEP_MORE;
	case NLMSG_DONE:
		*status = EXIT_OK;
		return STEP_DONE;
	case NLMSG_ERROR:
		if (ctl_msg_parse_error(nlh, &error, &msg) < 0)
			break;
		if (error == 0) {
			*status = EXIT_OK;
			return STEP_DONE;
		}
		if (msg) {
			fprintf(stderr, "%s: ", program_name);
			print_safe(stderr, msg);
			fputc('\n', stderr);
		} else {
			print_errno("", -error);
		}
		*status = EXIT_REFUSED;
		return STEP_DONE;
	case CTL_NLMSG_TYPE:
		k = ctl_msg_parse(nlh, nlh->nlmsg_len, CTL_DIR_ANSWER, &p, &err);
		if (k < 0) {
			fprintf(stderr, "%s: malformed answer from cellmuxd: %s\n", program_name,
				err.msg);
			*status = EXIT_REFUSED;
			return STEP_FAILED;
		}
		if (fn && fn(&p, data) < 0) {
			*status = EXIT_REFUSED;
			return STEP_FAILED;
		}
		return STEP_MORE;
	}
	fprintf(stderr, "%s: malformed answer from cellmuxd (message type %u)\n", program_name,
		nlh->nlmsg_type);
	*status = EXIT_REFUSED;
	return STEP_FAILED;
}

static int read_answer(int fd, uint32_t seq, object_fn fn, void *data)
{
	static uint32_t buf[CTL_MSG_MAX / sizeof(uint32_t)];
	int status = EXIT_REFUSED;
	bool reset = false;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		const struct nlmsghdr *nlh;
		ssize_t n;
		int len;

		n = poll(&pfd, 1, ANSWER_TIMEOUT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			fprintf(stderr, "%s: no answer from cellmuxd in %d s\n", program_name,
				ANSWER_TIMEOUT_MS / 1000);
			return EXIT_REFUSED;
		}
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		/* A daemon that closes with requests of ours unread makes the kernel report that
		 * first, before the answer it did send: read on once. */
		if (n < 0 && errno == ECONNRESET && !reset) {
			reset = true;
			continue;
		}
		if (n < 0) {
			print_errno("reading the answer: ", errno);
			return EXIT_REFUSED;
		}
		if (n == 0) {
			fprintf(stderr, "%s: cellmuxd closed the connection\n", program_name);
			return EXIT_REFUSED;
		}
		if ((size_t)n > sizeof(buf)) {
			fprintf(stderr, "%s: answer packet of %zd bytes, more than %d\n",
				program_name, n, CTL_MSG_MAX);
			return EXIT_REFUSED;
		}
		len = (int)n;
		for (nlh = (const void *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			switch (answer_message(nlh, seq, fn, data, &status)) {
			case STEP_MORE:
				continue;
			case STEP_DONE:
			case STEP_FAILED:
				return status;
			}
		}
		if (len > 0) {
			fprintf(stderr, "%s: malformed answer from cellmuxd (%d stray bytes)\n",
				program_name, len);
			return EXIT_REFUSED;
		}
	}
}

int ipc_call(const struct opts *o, struct request *q, object_fn fn, void *data)
{
	_cleanup_close_ int fd = -1;
	size_t len;
	ssize_t n;

	if (ctl_msg_finish(&q->m, &len) < 0) {
		fprintf(stderr, "%s: request too large\n", program_name);
		return EXIT_USAGE;
	}
	if (connect_daemon(o->socket, &fd) < 0)
		return EXIT_REFUSED;
	do
		n = send(fd, q->m.nlh, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		print_errno("sending the request: ", errno);
		return EXIT_REFUSED;
	}
	return read_answer(fd, q->m.nlh->nlmsg_seq, fn, data);
}
