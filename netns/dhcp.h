/* dhcp.h — DHCPv4 for uplinks whose modem hands out its address by DHCP (USB-ethernet "HiLink"
 * sticks): the message codec (pure, golden-tested) and a small client on the GLib main loop that
 * gets, renews and loses leases inside an uplink's namespace. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_CLIENT_PORT 68
#define DHCP_SERVER_PORT 67
#define DHCP_MIN_LEN 300  /* BOOTP's minimum; some servers drop shorter requests */
#define DHCP_MAX_LEN 1500 /* what we ask servers to stay under (option 57) */
#define DHCP_MAX_DNS 3
#define DHCP_INFINITE 0xffffffffu

enum dhcp_type {
	DHCP_DISCOVER = 1,
	DHCP_OFFER = 2,
	DHCP_REQUEST = 3,
	DHCP_DECLINE = 4,
	DHCP_ACK = 5,
	DHCP_NAK = 6,
	DHCP_RELEASE = 7,
};

/* What a client sends. Zero addresses are left out (or sent as 0.0.0.0 in ciaddr). */
struct dhcp_request {
	enum dhcp_type type;
	uint32_t xid;
	uint8_t mac[6];
	struct in_addr ciaddr;	  /* RENEWING, REBINDING, RELEASE */
	struct in_addr requested; /* option 50: SELECTING, INIT-REBOOT */
	struct in_addr server_id; /* option 54: SELECTING, RELEASE */
	bool broadcast;		  /* ask for broadcast replies: we have no address yet */
};

/* What a server answered. */
struct dhcp_reply {
	enum dhcp_type type;
	uint32_t xid;
	uint8_t chaddr[6];
	struct in_addr yiaddr, server_id, router;
	uint8_t plen; /* from option 1; 0 when absent */
	struct in_addr dns[DHCP_MAX_DNS];
	size_t n_dns;
	uint32_t lease_s, t1_s, t2_s; /* T1/T2 default to 1/2 and 7/8 of the lease */
	uint16_t mtu;		      /* 0 when absent */
};

/* Builds the BOOTP message with options into buf; returns its length or -ENOBUFS. */
int dhcp_build(const struct dhcp_request *rq, uint8_t *buf, size_t size);
/* Parses a server's message; -EBADMSG for anything malformed or not a BOOTREPLY with a DHCP
 * message type. Every option length is checked against the buffer. */
int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_reply *ret);

/* IPv4 + UDP around a payload (68 -> 67), checksums filled in; returns the length. */
int dhcp_udp_wrap(uint8_t *out, size_t size, const uint8_t *payload, size_t len, struct in_addr src,
		  struct in_addr dst);
/* The payload of an IPv4/UDP packet to port 68; -EBADMSG for a bad header or checksum, a
 * fragment or another port. udp_csum false skips the UDP checksum: a packet socket sees a
 * checksum-offloaded packet (veth, TP_STATUS_CSUMNOTREADY) before anything filled it in. */
int dhcp_udp_unwrap(const uint8_t *pkt, size_t len, bool udp_csum, const uint8_t **ret_payload,
		    size_t *ret_len);

/* ---- the client (dhcp_client.c) ---- */

enum dhcp_event {
	DHCP_EVENT_BOUND,   /* a lease: apply it */
	DHCP_EVENT_RENEWED, /* the same address, extended */
	DHCP_EVENT_LOST,    /* expired or refused (NAK): take the address away */
	DHCP_EVENT_STALLED, /* no lease, and none coming for now (no offer, a NAK, no ACK): the
			     * reason is dhcp_client_lost_reason(); the client keeps trying */
};

struct dhcp_client;
typedef void (*dhcp_event_fn)(struct dhcp_client *c, enum dhcp_event ev,
			      const struct dhcp_reply *lease, void *userdata);

/* Opens the client's sockets on ifname inside nsfd (any thread); nothing is sent yet. */
int dhcp_client_new(int nsfd, const char *ifname, dhcp_event_fn fn, void *userdata,
		    struct dhcp_client **ret);
/* Starts discovery from the default main context (safe from any thread). */
void dhcp_client_start(struct dhcp_client *c);
/* Forgets the lease (LOST if there was one) and discovers again at once. */
void dhcp_client_restart(struct dhcp_client *c);
/* Why the last lease was lost, or why none comes: "NAK from the server", "the lease expired",
 * "no offer after 3 DISCOVERs"...; NULL when it was dropped on request (dhcp_client_restart()). */
const char *dhcp_client_lost_reason(const struct dhcp_client *c);
/* Releases a held lease to the server and closes everything. NULL is a no-op. */
void dhcp_client_free(struct dhcp_client *c);
