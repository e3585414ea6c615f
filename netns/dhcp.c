/* dhcp.c — the DHCPv4 message codec and its IPv4/UDP framing (RFC 2131/2132): pure functions,
 * no sockets, so the bytes on the wire are unit-tested against captured messages. */
#include "netns/dhcp.h"

#include <errno.h>
#include <string.h>

#define BOOTREQUEST 1
#define BOOTREPLY 2
#define BOOTP_LEN 236
#define MAGIC 0x63825363u

enum {
	OPT_PAD = 0,
	OPT_SUBNET = 1,
	OPT_ROUTER = 3,
	OPT_DNS = 6,
	OPT_MTU = 26,
	OPT_REQUESTED = 50,
	OPT_LEASE = 51,
	OPT_OVERLOAD = 52,
	OPT_TYPE = 53,
	OPT_SERVER_ID = 54,
	OPT_PARAMS = 55,
	OPT_MAX_SIZE = 57,
	OPT_T1 = 58,
	OPT_T2 = 59,
	OPT_CLIENT_ID = 61,
	OPT_END = 255,
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static size_t put_opt(uint8_t *p, uint8_t code, const void *val, uint8_t len)
{
	p[0] = code;
	p[1] = len;
	memcpy(p + 2, val, len);
	return 2u + len;
}

int dhcp_build(const struct dhcp_request *rq, uint8_t *buf, size_t size)
{
	static const uint8_t params[] = {OPT_SUBNET, OPT_ROUTER,    OPT_DNS, OPT_MTU,
					 OPT_LEASE,  OPT_SERVER_ID, OPT_T1,  OPT_T2};
	uint8_t type = (uint8_t)rq->type, cid[7], mx[2];
	size_t n = BOOTP_LEN;

	/* Header, cookie, and at most 7 options of at most 2+9 bytes, then padding. */
	if (size < DHCP_MIN_LEN)
		return -ENOBUFS;
	memset(buf, 0, DHCP_MIN_LEN);
	buf[0] = BOOTREQUEST;
	buf[1] = 1; /* Ethernet */
	buf[2] = 6;
	put32(buf + 4, rq->xid);
	if (rq->broadcast)
		put16(buf + 10, 0x8000);
	memcpy(buf + 12, &rq->ciaddr, 4);
	memcpy(buf + 28, rq->mac, 6);
	put32(buf + n, MAGIC);
	n += 4;
	n += put_opt(buf + n, OPT_TYPE, &type, 1);
	/* RFC 2132 client identifier: hardware type 1 and the MAC, as dhclient and networkd. */
	cid[0] = 1;
	memcpy(cid + 1, rq->mac, 6);
	n += put_opt(buf + n, OPT_CLIENT_ID, cid, sizeof(cid));
	if (rq->requested.s_addr)
		n += put_opt(buf + n, OPT_REQUESTED, &rq->requested, 4);
	if (rq->server_id.s_addr)
		n += put_opt(buf + n, OPT_SERVER_ID, &rq->server_id, 4);
	if (rq->type != DHCP_RELEASE) {
		n += put_opt(buf + n, OPT_PARAMS, params, sizeof(params));
		put16(mx, DHCP_MAX_LEN);
		n += put_opt(buf + n, OPT_MAX_SIZE, mx, 2);
	}
	buf[n++] = OPT_END;
	return (int)(n < DHCP_MIN_LEN ? DHCP_MIN_LEN : n);
}

static uint8_t mask_plen(uint32_t m)
{
	uint8_t n = 0;

	while (n < 32 && (m & (0x80000000u >> n)))
		n++;
	/* A non-contiguous mask is nonsense: treat the address as a host route. */
	return (n ? 0xffffffffu << (32 - n) : 0) == m ? n : 32;
}

int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_reply *ret)
{
	struct dhcp_reply r = {0};
	bool t1 = false, t2 = false;
	size_t off;

	if (len < BOOTP_LEN + 4 || buf[0] != BOOTREPLY || buf[1] != 1 || buf[2] != 6 ||
	    get32(buf + BOOTP_LEN) != MAGIC)
		return -EBADMSG;
	r.xid = get32(buf + 4);
	memcpy(&r.yiaddr, buf + 16, 4);
	memcpy(r.chaddr, buf + 28, 6);
	/* Options in sname/file (overload, option 52) carry nothing a modem's server needs. */
	for (off = BOOTP_LEN + 4; off < len;) {
		uint8_t code = buf[off], olen;
		const uint8_t *v;

		if (code == OPT_PAD) {
			off++;
			continue;
		}
		if (code == OPT_END)
			break;
		if (len - off < 2 || (size_t)buf[off + 1] > len - off - 2)
			return -EBADMSG;
		olen = buf[off + 1];
		v = buf + off + 2;
		switch (code) {
		case OPT_TYPE:
			if (olen != 1)
				return -EBADMSG;
			r.type = v[0];
			break;
		case OPT_SUBNET:
			if (olen != 4)
				return -EBADMSG;
			r.plen = mask_plen(get32(v));
			break;
		case OPT_ROUTER: /* a list: the first one is the default gateway */
			if (olen < 4 || olen % 4)
				return -EBADMSG;
			memcpy(&r.router, v, 4);
			break;
		case OPT_DNS:
			if (olen < 4 || olen % 4)
				return -EBADMSG;
			for (size_t i = 0; i < olen / 4u && r.n_dns < DHCP_MAX_DNS; i++)
				memcpy(&r.dns[r.n_dns++], v + 4 * i, 4);
			break;
		case OPT_MTU:
			if (olen != 2)
				return -EBADMSG;
			r.mtu = get16(v);
			break;
		case OPT_SERVER_ID:
			if (olen != 4)
				return -EBADMSG;
			memcpy(&r.server_id, v, 4);
			break;
		case OPT_LEASE:
		case OPT_T1:
		case OPT_T2:
			if (olen != 4)
				return -EBADMSG;
			if (code == OPT_LEASE)
				r.lease_s = get32(v);
			else if (code == OPT_T1)
				r.t1_s = get32(v), t1 = true;
			else
				r.t2_s = get32(v), t2 = true;
			break;
		}
		off += 2u + olen;
	}
	if (r.type < DHCP_DISCOVER || r.type > DHCP_RELEASE)
		return -EBADMSG;
	if (r.lease_s != DHCP_INFINITE) {
		/* RFC 2131 4.4.5 defaults, and T1 <= T2 <= lease whatever the server said. */
		if (!t2 || r.t2_s > r.lease_s)
			r.t2_s = (uint32_t)((uint64_t)r.lease_s * 7 / 8);
		if (!t1 || r.t1_s > r.t2_s)
			r.t1_s = r.lease_s / 2 < r.t2_s ? r.lease_s / 2 : r.t2_s;
	} else {
		r.t1_s = r.t2_s = DHCP_INFINITE;
	}
	*ret = r;
	return 0;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* UDP's checksum covers a pseudo header of addresses, protocol and length. */
static uint16_t udp_csum(const uint8_t *ip, const uint8_t *udp, size_t udp_len)
{
	uint8_t pseudo[12];

	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16(pseudo + 10, (uint16_t)udp_len);
	return csum_fold(csum_add(csum_add(0, pseudo, sizeof(pseudo)), udp, udp_len));
}

int dhcp_udp_wrap(uint8_t *out, size_t size, const uint8_t *payload, size_t len, struct in_addr src,
		  struct in_addr dst)
{
	size_t total = 20 + 8 + len;
	uint8_t *udp = out + 20;
	uint16_t c;

	if (total > size || total > 0xffff)
		return -ENOBUFS;
	memset(out, 0, 28);
	out[0] = 0x45; /* IPv4, 5 words */
	out[1] = 0xc0; /* DSCP CS6, as for network control */
	put16(out + 2, (uint16_t)total);
	out[8] = 64; /* TTL */
	out[9] = 17; /* UDP */
	memcpy(out + 12, &src, 4);
	memcpy(out + 16, &dst, 4);
	put16(out + 10, csum_fold(csum_add(0, out, 20)));
	put16(udp, DHCP_CLIENT_PORT);
	put16(udp + 2, DHCP_SERVER_PORT);
	put16(udp + 4, (uint16_t)(8 + len));
	memcpy(udp + 8, payload, len);
	c = udp_csum(out, udp, 8 + len);
	put16(udp + 6, c ? c : 0xffff); /* 0 would mean "no checksum" */
	return (int)total;
}

int dhcp_udp_unwrap(const uint8_t *pkt, size_t len, bool check_udp, const uint8_t **ret_payload,
		    size_t *ret_len)
{
	size_t ihl, total, ulen;
	const uint8_t *udp;

	if (len < 20 || pkt[0] >> 4 != 4)
		return -EBADMSG;
	ihl = (size_t)(pkt[0] & 0xf) * 4;
	total = get16(pkt + 2);
	if (ihl < 20 || total < ihl + 8 || total > len || pkt[9] != 17)
		return -EBADMSG;
	if (get16(pkt + 6) & 0x3fff) /* MF set or an offset: a fragment */
		return -EBADMSG;
	if (csum_fold(csum_add(0, pkt, ihl)) != 0)
		return -EBADMSG;
	udp = pkt + ihl;
	ulen = get16(udp + 4);
	if (get16(udp + 2) != DHCP_CLIENT_PORT || ulen < 8 || ulen > total - ihl)
		return -EBADMSG;
	if (check_udp && get16(udp + 6) && udp_csum(pkt, udp, ulen) != 0)
		return -EBADMSG;
	*ret_payload = udp + 8;
	*ret_len = ulen - 8;
	return 0;
}
