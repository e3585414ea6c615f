/* acct-driver.c — drives bpf/acct.h from the shell for tests/integration/test_acct.sh: every
 * invocation is a fresh acct_open() on the pinned maps, i.e. a daemon restart in miniature. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf/acct.h"
#include "bpf/quota_period.h"
#include "common/log.h"
#include "common/macro.h"

static const char *pin_dir = ACCT_PIN_DIR;

#define USAGE 1 /* run()'s "bad arguments": every error of the API is negative */

static int usage(void)
{
	fprintf(stderr,
		"usage: acct-driver [-p PIN_DIR] COMMAND ...\n"
		"  bpffs | probe | open\n"
		"  attach-session NAME CGROUP_DIR | detach-session NAME\n"
		"  attach-uplink NAME NETNS IFNAME | detach-uplink NAME NETNS IFNAME\n"
		"  read KIND NAME | forget KIND NAME          (KIND: session or uplink)\n"
		"  quota KIND NAME SIZE notify|block|none | quota-reset KIND NAME [USED]\n"
		"  quota-state KIND NAME | watch SECONDS\n");
	return 2;
}

static int parse_kind(const char *s, enum acct_kind *ret)
{
	if (!strcmp(s, "session"))
		*ret = ACCT_SESSION;
	else if (!strcmp(s, "uplink"))
		*ret = ACCT_UPLINK;
	else
		return -EINVAL;
	return 0;
}

static void print_counters(const struct acct_counters *c)
{
	printf("rx_bytes=%" PRIu64 " rx_packets=%" PRIu64 " tx_bytes=%" PRIu64
	       " tx_packets=%" PRIu64 " rx_dropped=%" PRIu64 " tx_dropped=%" PRIu64 "\n",
	       c->rx_bytes, c->rx_packets, c->tx_bytes, c->tx_packets, c->rx_dropped,
	       c->tx_dropped);
}

/* A namespace by name (/run/netns/NAME) or by path. */
static int open_netns(const char *s)
{
	char path[4096];
	int fd;

	if (strchr(s, '/'))
		snprintf(path, sizeof(path), "%s", s);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", s);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? negative_errno() : fd;
}

static void on_event(const struct acct_event *ev, void *userdata)
{
	printf("event %s %s used=%" PRIu64 " limit=%" PRIu64 " action=%s\n",
	       acct_kind_to_string(ev->kind), ev->name, ev->used_bytes, ev->limit_bytes,
	       acct_quota_action_to_string(ev->action));
	fflush(stdout);
}

static int watch(struct acct *a, int seconds)
{
	struct timespec end, now;
	int fd = acct_events_fd(a, on_event, NULL), r;

	if (fd < 0)
		return fd;
	/* Events already waiting in the ring buffer first. */
	r = acct_events_process(a);
	if (r < 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long ms;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return 0;
		r = poll(&p, 1, (int)ms);
		if (r < 0 && errno != EINTR)
			return negative_errno();
		if (r > 0) {
			r = acct_events_process(a);
			if (r < 0)
				return r;
		}
	}
}

static int run(struct acct *a, int argc, char **argv)
{
	const char *cmd = argv[0];
	struct acct_counters c;
	enum acct_kind kind = ACCT_SESSION;
	int r;

	if (!strcmp(cmd, "open") && argc == 1)
		return 0;
	if (!strcmp(cmd, "attach-session") && argc == 3)
		return acct_session_attach(a, argv[1], argv[2]);
	if (!strcmp(cmd, "detach-session") && argc == 2) {
		r = acct_session_detach(a, argv[1], &c);
		if (r >= 0)
			print_counters(&c);
		return r;
	}
	if ((!strcmp(cmd, "attach-uplink") || !strcmp(cmd, "detach-uplink")) && argc == 4) {
		_cleanup_close_ int nsfd = open_netns(argv[2]);

		if (nsfd < 0)
			return nsfd;
		if (!strcmp(cmd, "attach-uplink"))
			return acct_uplink_attach(a, argv[1], nsfd, argv[3]);
		r = acct_uplink_detach(a, argv[1], nsfd, argv[3], &c);
		if (r >= 0)
			print_counters(&c);
		return r;
	}
	if (!strcmp(cmd, "watch") && argc == 2)
		return watch(a, atoi(argv[1]));
	if (argc < 3 || parse_kind(argv[1], &kind) < 0)
		return USAGE;
	if (!strcmp(cmd, "read") && argc == 3) {
		r = acct_read(a, kind, argv[2], &c);
		if (r >= 0)
			print_counters(&c);
		return r;
	}
	if (!strcmp(cmd, "forget") && argc == 3)
		return acct_forget(a, kind, argv[2]);
	if (!strcmp(cmd, "quota") && argc == 5) {
		enum acct_quota_action action = ACCT_QUOTA_NONE;
		uint64_t limit = 0;

		if (strcmp(argv[4], "none") && acct_quota_action_from_string(argv[4], &action) < 0)
			return USAGE;
		if (quota_size_parse(argv[3], &limit) < 0)
			return USAGE;
		return acct_set_quota(a, kind, argv[2], limit, action);
	}
	if (!strcmp(cmd, "quota-reset") && (argc == 3 || argc == 4)) {
		uint64_t used = 0;

		if (argc == 4 && quota_size_parse(argv[3], &used) < 0)
			return USAGE;
		return acct_quota_reset(a, kind, argv[2], used);
	}
	if (!strcmp(cmd, "quota-state") && argc == 3) {
		struct acct_quota q;

		r = acct_quota_state(a, kind, argv[2], &q);
		if (r >= 0)
			printf("limit=%" PRIu64 " used=%" PRIu64 " action=%s over=%d\n",
			       q.limit_bytes, q.used_bytes, acct_quota_action_to_string(q.action),
			       q.over);
		return r;
	}
	return USAGE;
}

int main(int argc, char **argv)
{
	struct acct *a = NULL;
	char why[ACCT_WHY_MAX];
	int r;

	log_open("acct-driver");
	if (argc >= 3 && !strcmp(argv[1], "-p")) {
		pin_dir = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "bpffs")) {
		r = acct_bpffs_mount(pin_dir);
		if (r < 0) {
			fprintf(stderr, "acct-driver: mounting bpffs for %s: %s\n", pin_dir,
				strerror(-r));
			return 1;
		}
		printf("%s\n", r ? "mounted" : "present");
		return 0;
	}
	if (!strcmp(argv[1], "probe")) {
		r = acct_probe(pin_dir, why, sizeof(why));
		if (r < 0) {
			fprintf(stderr, "acct-driver: accounting unavailable: %s\n", why);
			return 1;
		}
		printf("ok\n");
		return 0;
	}
	r = acct_open(pin_dir, &a);
	if (r == -ENOTSUP || r == -EPERM) {
		/* What the daemon does: the probe names what is missing. */
		acct_probe(pin_dir, why, sizeof(why));
		fprintf(stderr, "acct-driver: accounting unavailable: %s\n", why);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "acct-driver: opening %s: %s\n", pin_dir, strerror(-r));
		return 1;
	}
	r = run(a, argc - 1, argv + 1);
	acct_close(a);
	if (r == USAGE) {
		fprintf(stderr, "acct-driver: %s: invalid arguments\n", argv[1]);
		return usage();
	}
	if (r < 0) {
		fprintf(stderr, "acct-driver: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	return 0;
}
