/* ipaddr.c — parsing, formatting and subnet tests for struct ip_prefix (see ipaddr.h).
 * inet_pton() owns the address syntax, so we accept exactly what iproute2 and glibc accept. */
#include "netns/ipaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* len bytes of s as a bare address; inet_pton() needs a terminated copy. */
static int parse_addr(const char *s, size_t len, struct ip_prefix *ret)
{
	struct ip_prefix p = { 0 };
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';

	if (inet_pton(AF_INET, buf, &p.addr.v4) == 1) {
		p.family = AF_INET;
		p.plen = 32;
	} else if (inet_pton(AF_INET6, buf, &p.addr.v6) == 1) {
		p.family = AF_INET6;
		p.plen = 128;
	} else {
		return -EINVAL;
	}
	*ret = p;
	return 0;
}

int ip_prefix_parse(const char *s, struct ip_prefix *ret)
{
	struct ip_prefix p;
	const char *slash;
	unsigned plen = 0;
	int r;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	r = parse_addr(s, (size_t)(slash - s), &p);
	if (r < 0)
		return r;

	/* Digits only: strtoul() would take signs, spaces and "0x". Three digits cover /128. */
	const char *d = slash + 1;
	size_t n = strspn(d, "0123456789");
	if (n == 0 || n > 3 || d[n] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		plen = plen * 10 + (unsigned)(d[i] - '0');
	if (plen > p.plen)
		return -EINVAL;

	p.plen = (uint8_t)plen;
	*ret = p;
	return 0;
}

int ip_addr_parse(const char *s, struct ip_prefix *ret)
{
	if (!s)
		return -EINVAL;
	return parse_addr(s, strlen(s), ret);
}

bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_prefix *addr)
{
	const uint8_t *a, *b;
	unsigned full, rest;

	if (!p || !addr || p->family == 0 || p->family != addr->family)
		return false;
	if (p->plen > ip_prefix_addrlen(p) * 8 || addr->plen < p->plen)
		return false;

	a = (const uint8_t *)&p->addr;
	b = (const uint8_t *)&addr->addr;
	full = p->plen / 8;
	rest = p->plen % 8;
	if (memcmp(a, b, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		return (a[full] & mask) == (b[full] & mask);
	}
	return true;
}

const char *ip_prefix_fmt(const struct ip_prefix *p, bool with_plen, char buf[IP_PREFIX_STRLEN])
{
	size_t len;

	/* family 0 is a legitimate value ("no gateway"), so it formats rather than fails. */
	if (!p || (p->family != AF_INET && p->family != AF_INET6)) {
		snprintf(buf, IP_PREFIX_STRLEN, "none");
		return buf;
	}
	if (!inet_ntop(p->family, &p->addr, buf, INET6_ADDRSTRLEN)) {
		snprintf(buf, IP_PREFIX_STRLEN, "?");
		return buf;
	}
	if (with_plen) {
		len = strlen(buf);
		snprintf(buf + len, IP_PREFIX_STRLEN - len, "/%u", (unsigned)p->plen);
	}
	return buf;
}
