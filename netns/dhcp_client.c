/* dhcp_client.c — a DHCPv4 client for one interface inside an uplink namespace, on the default
 * GLib main context: INIT, SELECTING, REQUESTING, BOUND, RENEWING, REBINDING (RFC 2131). A
 * packet socket sends and receives everything, so nothing depends on the address it is getting
 * or on the egress table; a bound UDP socket on port 68 only keeps the kernel from answering
 * unicast replies with port-unreachable. */
#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/dhcp.h"
#include "netns/netns.h"

#define RETRANSMIT_MIN_MS 1000
#define RETRANSMIT_MAX_MS 32000
#define REQUEST_TRIES 4	  /* REQUESTING gives up and discovers again after these */
#define NO_OFFER_TRIES 3  /* DISCOVERs unanswered (1 + 2 + 4 s) before it is said */
#define RENEW_MIN_MS 1000 /* RFC 2131 says 60 s; short test leases need less */

enum state { INIT, SELECTING, REQUESTING, BOUND, RENEWING, REBINDING };

struct dhcp_client {
	char ifname[IFNAMSIZ];
	int ifindex;
	uint8_t mac[6];
	uint8_t server_mac[6]; /* where unicast renewals go */
	int pfd, ufd;
	GSource *watch, *timer;
	enum state st;
	uint32_t xid;
	unsigned tries, delay_ms;
	struct dhcp_reply offer, lease;
	bool have_lease;
	gint64 bound_at; /* monotonic µs when the lease was (re)acknowledged */
	const char *lost_why; /* a static string, see dhcp_client_lost_reason() */
	dhcp_event_fn fn;
	void *userdata;
};

static void enter(struct dhcp_client *c, enum state st);

static void timer_clear(struct dhcp_client *c)
{
	if (c->timer) {
		g_source_destroy(c->timer);
		g_source_unref(c->timer);
		c->timer = NULL;
	}
}

static void timer_arm(struct dhcp_client *c, guint ms, GSourceFunc fn)
{
	timer_clear(c);
	c->timer = g_timeout_source_new(ms);
	g_source_set_callback(c->timer, fn, c, NULL);
	g_source_attach(c->timer, NULL); /* the default context, whichever thread we are on */
}

/* Retransmission: 1 s, 2 s, 4 s ... 32 s, each +-25% so a fleet does not send in step. */
static guint next_delay(struct dhcp_client *c)
{
	guint ms = c->delay_ms;

	c->delay_ms = MIN(c->delay_ms * 2, RETRANSMIT_MAX_MS);
	return ms - ms / 4 + (guint)g_random_int_range(0, (gint32)(ms / 2 + 1));
}

static int send_msg(struct dhcp_client *c, enum dhcp_type type, bool unicast)
{
	struct dhcp_request rq = {.type = type, .xid = c->xid, .broadcast = true};
	uint8_t msg[DHCP_MAX_LEN], pkt[DHCP_MAX_LEN + 28];
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_IP),
	    .sll_ifindex = c->ifindex,
	    .sll_halen = 6,
	};
	struct in_addr src = {0}, dst = {htonl(INADDR_BROADCAST)};
	int n;

	memcpy(rq.mac, c->mac, 6);
	switch (c->st) {
	case REQUESTING: /* SELECTING's answer: name the offer and its server */
		rq.requested = c->offer.yiaddr;
		rq.server_id = c->offer.server_id;
		break;
	case RENEWING:
	case REBINDING:
	case BOUND: /* a RELEASE */
		rq.ciaddr = src = c->lease.yiaddr;
		rq.broadcast = false;
		if (type == DHCP_RELEASE)
			rq.server_id = c->lease.server_id;
		break;
	default:
		break;
	}
	n = dhcp_build(&rq, msg, sizeof(msg));
	if (n < 0)
		return n;
	if (unicast && c->lease.server_id.s_addr) {
		dst = c->lease.server_id;
		memcpy(sll.sll_addr, c->server_mac, 6);
	} else {
		memset(sll.sll_addr, 0xff, 6);
	}
	n = dhcp_udp_wrap(pkt, sizeof(pkt), msg, (size_t)n, src, dst);
	if (n < 0)
		return n;
	if (sendto(c->pfd, pkt, (size_t)n, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return log_debug_errno(negative_errno(), "dhcp %s: send: %m", c->ifname);
	return 0;
}

static gboolean retransmit_cb(gpointer data);

static void lost(struct dhcp_client *c, const char *why)
{
	bool had = c->have_lease;

	c->have_lease = false;
	c->lost_why = why;
	if (had)
		c->fn(c, DHCP_EVENT_LOST, &c->lease, c->userdata);
	else if (why) /* refused before there was a lease: said all the same */
		c->fn(c, DHCP_EVENT_STALLED, NULL, c->userdata);
}

static guint ms_until(const struct dhcp_client *c, uint32_t s)
{
	gint64 due = c->bound_at + (gint64)s * G_USEC_PER_SEC, now = g_get_monotonic_time();

	return due > now ? (guint)MIN((due - now + 999) / 1000, G_MAXUINT32 / 2) : 0;
}

static gboolean lease_timer_cb(gpointer data)
{
	struct dhcp_client *c = data;

	timer_clear(c);
	if (c->lease.lease_s != DHCP_INFINITE && ms_until(c, c->lease.lease_s) == 0) {
		log_debug("dhcp %s: lease expired", c->ifname);
		lost(c, "the lease expired");
		enter(c, SELECTING);
	} else if (c->st == BOUND) {
		enter(c, RENEWING);
	} else if (c->st == RENEWING && ms_until(c, c->lease.t2_s) == 0) {
		enter(c, REBINDING);
	} else {
		retransmit_cb(c);
	}
	return G_SOURCE_REMOVE;
}

/* RENEWING and REBINDING resend at half the time left to the next deadline (RFC 2131 4.4.5). */
static void renew_arm(struct dhcp_client *c)
{
	uint32_t deadline = c->st == RENEWING ? c->lease.t2_s : c->lease.lease_s;
	guint left = ms_until(c, deadline);

	timer_arm(c, MIN(left, MAX(left / 2, RENEW_MIN_MS)), lease_timer_cb);
}

static gboolean retransmit_cb(gpointer data)
{
	struct dhcp_client *c = data;

	timer_clear(c);
	switch (c->st) {
	case SELECTING:
		/* A modem whose server never answers would leave the uplink "connecting" with
		 * nothing said: the operator gets the reason, once per round of discovery. */
		if (c->tries++ == NO_OFFER_TRIES) /* SELECTING holds no lease: a STALLED */
			lost(c, "no offer after " G_STRINGIFY(NO_OFFER_TRIES) " DISCOVERs");
		send_msg(c, DHCP_DISCOVER, false);
		timer_arm(c, next_delay(c), retransmit_cb);
		break;
	case REQUESTING:
		if (++c->tries > REQUEST_TRIES) {
			lost(c, "no ACK to " G_STRINGIFY(REQUEST_TRIES) " REQUESTs"); /* none held */
			enter(c, SELECTING);
			break;
		}
		send_msg(c, DHCP_REQUEST, false);
		timer_arm(c, next_delay(c), retransmit_cb);
		break;
	case RENEWING:
	case REBINDING:
		send_msg(c, DHCP_REQUEST, c->st == RENEWING);
		renew_arm(c);
		break;
	default:
		break;
	}
	return G_SOURCE_REMOVE;
}

static void enter(struct dhcp_client *c, enum state st)
{
	c->st = st;
	c->tries = 0;
	c->delay_ms = RETRANSMIT_MIN_MS;
	switch (st) {
	case SELECTING:
		c->xid = g_random_int();
		retransmit_cb(c);
		break;
	case REQUESTING:
	case RENEWING:
	case REBINDING:
		if (st != REQUESTING)
			c->xid = g_random_int();
		log_debug("dhcp %s: %s", c->ifname,
			  st == REQUESTING ? "requesting"
			  : st == RENEWING ? "renewing"
					   : "rebinding");
		retransmit_cb(c);
		break;
	case BOUND:
		if (c->lease.t1_s != DHCP_INFINITE)
			timer_arm(c, ms_until(c, c->lease.t1_s), lease_timer_cb);
		else
			timer_clear(c);
		break;
	case INIT:
		timer_clear(c);
		break;
	}
}

static void on_reply(struct dhcp_client *c, const struct dhcp_reply *r, const uint8_t *from)
{
	char a[INET_ADDRSTRLEN];

	if (r->xid != c->xid || memcmp(r->chaddr, c->mac, 6))
		return; /* someone else's conversation */
	switch (c->st) {
	case SELECTING:
		if (r->type != DHCP_OFFER || !r->yiaddr.s_addr || !r->server_id.s_addr)
			return;
		c->offer = *r;
		enter(c, REQUESTING);
		return;
	case REQUESTING:
	case RENEWING:
	case REBINDING:
		break;
	default:
		return;
	}
	if (r->type == DHCP_NAK) {
		log_debug("dhcp %s: NAK from the server", c->ifname);
		lost(c, "NAK from the server");
		enter(c, SELECTING);
		return;
	}
	if (r->type != DHCP_ACK || !r->yiaddr.s_addr)
		return;
	if (c->have_lease && r->yiaddr.s_addr != c->lease.yiaddr.s_addr)
		lost(c, "the server gave another address"); /* a new address is a new lease */
	c->lease = *r;
	if (!c->lease.server_id.s_addr)
		c->lease.server_id = c->st == REQUESTING ? c->offer.server_id : c->lease.server_id;
	memcpy(c->server_mac, from, 6);
	c->bound_at = g_get_monotonic_time();
	log_debug("dhcp %s: %s %s for %us", c->ifname, c->have_lease ? "renewed" : "bound to",
		  inet_ntop(AF_INET, &r->yiaddr, a, sizeof(a)), r->lease_s);
	enter(c, BOUND);
	if (c->have_lease) {
		c->fn(c, DHCP_EVENT_RENEWED, &c->lease, c->userdata);
	} else {
		c->have_lease = true;
		c->fn(c, DHCP_EVENT_BOUND, &c->lease, c->userdata);
	}
}

static gboolean readable_cb(gint fd, GIOCondition cond, gpointer data)
{
	struct dhcp_client *c = data;
	uint8_t pkt[2048];
	struct sockaddr_ll from;
	union {
		struct cmsghdr h;
		uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} ctl;

	/* Drain what is there; each packet is judged on its own. */
	for (int i = 0; i < 16; i++) {
		struct iovec iov = {pkt, sizeof(pkt)};
		struct msghdr mh = {.msg_name = &from,
				    .msg_namelen = sizeof(from),
				    .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = &ctl,
				    .msg_controllen = sizeof(ctl)};
		bool csum_ready = true;
		const uint8_t *payload;
		struct dhcp_reply r;
		struct cmsghdr *cm;
		size_t plen;
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			break;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_PACKET && cm->cmsg_type == PACKET_AUXDATA &&
			    cm->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata))) {
				struct tpacket_auxdata aux;

				memcpy(&aux, CMSG_DATA(cm), sizeof(aux));
				csum_ready = !(aux.tp_status & TP_STATUS_CSUMNOTREADY);
			}
		if (dhcp_udp_unwrap(pkt, (size_t)n, csum_ready, &payload, &plen) < 0 ||
		    dhcp_parse(payload, plen, &r) < 0) {
			log_debug("dhcp %s: ignoring a malformed packet", c->ifname);
			continue;
		}
		on_reply(c, &r, from.sll_addr);
	}
	return G_SOURCE_CONTINUE;
}

/* Only UDP to port 68, unfragmented: the kernel drops the rest before we wake up. */
static int attach_filter(int fd)
{
	static struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),		/* IP protocol */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 6),	/* UDP? */
	    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),		/* flags + fragment offset */
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0), /* a later fragment: drop */
	    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),		/* X = IP header length */
	    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),		/* UDP destination port */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DHCP_CLIENT_PORT, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, 0xffff),
	    BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {.len = ARRAY_SIZE(code), .filter = code};

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return negative_errno();
	return 0;
}

static int open_sockets(struct dhcp_client *c)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP)};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(DHCP_CLIENT_PORT)};
	struct ifreq ifr = {0};
	int one = 1, small = 1;

	c->pfd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_IP));
	if (c->pfd < 0)
		return negative_errno();
	/* Filter before bind, so no stray packet queues up in between. */
	if (attach_filter(c->pfd) < 0)
		return negative_errno();
	/* Tells which packets carry a checksum still to be computed (offload, veth). */
	if (setsockopt(c->pfd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0)
		return negative_errno();
	strcpy(ifr.ifr_name, c->ifname);
	if (ioctl(c->pfd, SIOCGIFINDEX, &ifr) < 0)
		return negative_errno();
	c->ifindex = ifr.ifr_ifindex;
	if (ioctl(c->pfd, SIOCGIFHWADDR, &ifr) < 0)
		return negative_errno();
	memcpy(c->mac, ifr.ifr_hwaddr.sa_data, 6);
	sll.sll_ifindex = c->ifindex;
	if (bind(c->pfd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return negative_errno();
	c->ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->ufd < 0)
		return negative_errno();
	setsockopt(c->ufd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(c->ufd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (setsockopt(c->ufd, SOL_SOCKET, SO_BINDTODEVICE, c->ifname, strlen(c->ifname)) < 0 ||
	    bind(c->ufd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return negative_errno();
	return 0;
}

int dhcp_client_new(int nsfd, const char *ifname, dhcp_event_fn fn, void *userdata,
		    struct dhcp_client **ret)
{
	struct dhcp_client *c;
	int saved = -1, r, q;

	if (strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pfd = c->ufd = -1;
	strcpy(c->ifname, ifname);
	c->fn = fn;
	c->userdata = userdata;
	/* Sockets belong to the namespace they are made in, whatever thread uses them later. */
	r = ns_enter(nsfd, &saved);
	if (r < 0)
		goto fail;
	r = open_sockets(c);
	q = ns_leave(saved);
	if (q < 0)
		abort(); /* this thread would run on in the wrong namespace */
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	dhcp_client_free(c);
	return r;
}

static gboolean start_cb(gpointer data)
{
	struct dhcp_client *c = data;

	timer_clear(c);
	c->watch = g_unix_fd_source_new(c->pfd, G_IO_IN);
	g_source_set_callback(c->watch, G_SOURCE_FUNC(readable_cb), c, NULL);
	g_source_attach(c->watch, NULL);
	enter(c, SELECTING);
	return G_SOURCE_REMOVE;
}

void dhcp_client_start(struct dhcp_client *c)
{
	/* Deferred to the loop: up() runs in a worker thread, and the first answers must find
	 * the daemon's event handler in place. */
	timer_arm(c, 0, start_cb);
}

void dhcp_client_restart(struct dhcp_client *c)
{
	if (!c->watch)
		return; /* not started yet: it is about to discover anyway */
	lost(c, NULL); /* asked for: not an error */
	enter(c, SELECTING);
}

const char *dhcp_client_lost_reason(const struct dhcp_client *c)
{
	return c->lost_why;
}

void dhcp_client_free(struct dhcp_client *c)
{
	if (!c)
		return;
	if (c->have_lease && (c->st == BOUND || c->st == RENEWING || c->st == REBINDING)) {
		c->xid = g_random_int();
		send_msg(c, DHCP_RELEASE, true);
	}
	timer_clear(c);
	if (c->watch) {
		g_source_destroy(c->watch);
		g_source_unref(c->watch);
	}
	if (c->pfd >= 0)
		close(c->pfd);
	if (c->ufd >= 0)
		close(c->ufd);
	free(c);
}
