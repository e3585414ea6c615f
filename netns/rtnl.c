/* rtnl.c — one NETLINK_ROUTE socket bound to a namespace, and the request/ack loop.
 * libmnl rather than libnl-route-3: cellmux issues a handful of fixed requests, and libmnl keeps
 * each one visible as the bytes the kernel gets (wireguard-tools' choice, and the admin socket's
 * library too), without libnl's object cache we would never use. */
#include "netns/rtnl-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "common/macro.h"

struct rtnl {
	struct mnl_socket *sock;
	unsigned int seq;
	unsigned int portid;
	/* One request and the replies to it; a dump may need many reads of this. */
	char buf[32768];
};

int rtnl_socket_in(int nsfd, int flags, unsigned int groups, struct mnl_socket **ret)
{
	struct mnl_socket *sock;
	int saved = -1, r;

	/* A netlink socket belongs to the namespace it was created in, for its whole life: enter
	 * it for the socket(2) only. */
	if (nsfd >= 0) {
		r = ns_enter(nsfd, &saved);
		if (r < 0)
			return r;
	}
	sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | flags);
	r = sock ? 0 : negative_errno();
	if (saved >= 0) {
		int q = ns_leave(saved);
		if (r == 0 && q < 0)
			r = q;
	}
	if (r == 0 && mnl_socket_bind(sock, groups, MNL_SOCKET_AUTOPID) < 0)
		r = negative_errno();
	if (r < 0) {
		if (sock)
			mnl_socket_close(sock);
		return r;
	}
	*ret = sock;
	return 0;
}

int rtnl_open(int nsfd, struct rtnl **ret)
{
	struct rtnl *nl;
	int r;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	r = rtnl_socket_in(nsfd, 0, 0, &nl->sock);
	if (r < 0) {
		free(nl);
		return r;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	*ret = nl;
	return 0;
}

void rtnl_close(struct rtnl *nl)
{
	if (!nl)
		return;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl);
}

struct nlmsghdr *rtnl_msg(struct rtnl *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(nl->buf);

	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++nl->seq;
	return h;
}

int rtnl_talk(struct rtnl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	unsigned int seq = req->nlmsg_seq;
	ssize_t n;
	int r;

	req->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
		return negative_errno();
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n < 0)
			return negative_errno();
		/* mnl_cb_run turns NLMSG_ERROR into -1/errno and stops at the ack (we always ask
		 * for one, even for a GET, so the reply can never outlive its request) or at
		 * NLMSG_DONE. */
		r = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, data);
		if (r < 0)
			return negative_errno();
		if (r == MNL_CB_STOP)
			return 0;
	}
}
