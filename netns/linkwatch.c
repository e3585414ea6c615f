/* linkwatch.c — a rtnetlink socket subscribed to link events (RTM_NEWLINK/RTM_DELLINK) of one
 * namespace: hot-plug watches the host for modems arriving and each uplink for its modem leaving.
 * Events only say "look again"; what changed is read back (sysfs, link_index()), so a lost
 * event (ENOBUFS) costs nothing but the same look. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "common/macro.h"
#include "netns/rtnl-internal.h"

struct linkwatch {
	struct mnl_socket *sock;
};

int linkwatch_open(int nsfd, struct linkwatch **ret)
{
	struct linkwatch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	r = rtnl_socket_in(nsfd, SOCK_NONBLOCK, RTMGRP_LINK, &w->sock);
	if (r < 0) {
		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

int linkwatch_fd(const struct linkwatch *w)
{
	return mnl_socket_get_fd(w->sock);
}

int linkwatch_drain(struct linkwatch *w)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int seen = 0;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(w->sock, buf, sizeof(buf));
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
		size_t left;

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return seen;
			if (errno == ENOBUFS)
				return 1; /* events were dropped: say "look again" */
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		left = (size_t)n;
		for (; mnl_nlmsg_ok(h, (int)left); h = mnl_nlmsg_next(h, (int *)&left))
			if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK)
				seen = 1;
	}
}

void linkwatch_free(struct linkwatch *w)
{
	if (!w)
		return;
	if (w->sock)
		mnl_socket_close(w->sock);
	free(w);
}
