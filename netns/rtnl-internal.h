/* rtnl-internal.h — what link.c, addr.c and route.c share: building a request in the socket's
 * buffer and running it to its ack or dump end. Not for use outside netns/. */
#pragma once

#include <libmnl/libmnl.h>

#include "netns/netns.h"

/* A NETLINK_ROUTE socket created in the namespace nsfd names (-1: the caller's), close-on-exec
 * plus flags (SOCK_NONBLOCK), bound to the multicast groups (0: requests only). */
int rtnl_socket_in(int nsfd, int flags, unsigned int groups, struct mnl_socket **ret);
/* A fresh request header in nl's buffer: type, flags (NLM_F_REQUEST is added). */
struct nlmsghdr *rtnl_msg(struct rtnl *nl, uint16_t type, uint16_t flags);
/* Sends the request built with rtnl_msg() and reads replies until the ack, the error, or
 * NLMSG_DONE of a dump; cb (may be NULL) sees each data message. Returns 0 or -errno from
 * the kernel's NLMSG_ERROR. */
int rtnl_talk(struct rtnl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data);
