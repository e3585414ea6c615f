/* ipaddr.h — IPv4/IPv6 addresses and prefixes as cellmux passes them around: parsed from the
 * config, handed to rtnetlink. Pure code, no kernel. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define IP_PREFIX_STRLEN (INET6_ADDRSTRLEN + 4)

struct ip_prefix {
	int family; /* AF_INET, AF_INET6, or 0 for "none" */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint8_t plen; /* 32 or 128 for a bare address */
};

/* "192.0.2.1/24", "2001:db8::1/64"; the prefix length is required. */
int ip_prefix_parse(const char *s, struct ip_prefix *ret);
/* "192.0.2.1", "2001:db8::1": a host address, plen 32 or 128. */
int ip_addr_parse(const char *s, struct ip_prefix *ret);
/* Whether addr lies inside the subnet of p (both same family). */
bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_prefix *addr);
/* "a.b.c.d/n", or "a.b.c.d" when with_plen is false. */
const char *ip_prefix_fmt(const struct ip_prefix *p, bool with_plen, char buf[IP_PREFIX_STRLEN]);
static inline int ip_prefix_addrlen(const struct ip_prefix *p)
{
	return p->family == AF_INET6 ? 16 : 4;
}
