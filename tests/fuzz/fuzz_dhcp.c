/* fuzz_dhcp.c — libFuzzer target for the DHCP client's wire parsers (netns/dhcp.c, included): any
 * packet from the modem's LAN is refused or parsed within its bounds, with T1 <= T2 <= lease. */
#include "netns/dhcp.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *payload;
	struct dhcp_reply r;
	size_t len;
	/* An exact-size copy, so ASan sees any read past the packet. */
	uint8_t *p = malloc(size ? size : 1);

	memcpy(p, data, size);
	/* As a whole IPv4/UDP packet, as the packet socket hands it over... */
	if (dhcp_udp_unwrap(p, size, size & 1, &payload, &len) == 0) {
		if (payload < p || payload + len > p + size)
			abort();
		dhcp_parse(payload, len, &r);
	}
	/* ...and as a bare BOOTP message. */
	if (dhcp_parse(p, size, &r) == 0) {
		if (r.n_dns > DHCP_MAX_DNS || r.plen > 32)
			abort();
		if (r.lease_s != DHCP_INFINITE && (r.t1_s > r.t2_s || r.t2_s > r.lease_s))
			abort();
	}
	free(p);
	return 0;
}
