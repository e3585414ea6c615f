/* fuzz_proxy_proto.c — libFuzzer target for cellmux-proxy's request parsers
 * (tools/workers/proxy_proto.c, included): the first byte picks the parser, the rest is the
 * client's bytes; every result must stay inside the input and the bounds the proxy relies on. */
#include "tools/workers/proxy_proto.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_target(const struct proxy_target *t)
{
	if (strlen(t->host) > PROXY_HOST_MAX || !t->host[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char user[PROXY_CRED_MAX + 1], pass[PROXY_CRED_MAX + 1];
	struct proxy_target t;
	struct http_request req;
	unsigned methods;
	int r, cmd;

	if (size < 1)
		return 0;
	const uint8_t *b = data + 1;
	size_t n = size - 1;

	/* Copied to an exact-size heap buffer, so ASan sees any read past what the client sent. */
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return 0;
	memcpy(buf, b, n);
	switch (data[0] % 5) {
	case 0:
		r = socks5_parse_greeting(buf, n, &methods);
		if (r > (int)n || (r > 0 && r < 3))
			abort();
		break;
	case 1:
		r = socks5_parse_auth(buf, n, user, pass);
		if (r > (int)n || (r > 0 && (!user[0] || !pass[0] || strlen(user) > PROXY_CRED_MAX ||
					     strlen(pass) > PROXY_CRED_MAX)))
			abort();
		break;
	case 2:
		r = socks5_parse_request(buf, n, &cmd, &t);
		if (r > (int)n)
			abort();
		if (r > 0)
			check_target(&t);
		break;
	case 3:
	case 4: {
		char out[PROXY_HTTP_HEAD_MAX + 64];
		size_t len;

		r = http_parse_request((const char *)buf, n, &req);
		if (r > (int)n || r > PROXY_HTTP_HEAD_MAX)
			abort();
		if (r <= 0)
			break;
		check_target(&req.target);
		if (req.head_len != (size_t)r || req.path[0] != (req.connect ? '\0' : '/'))
			abort();
		if (!req.connect && http_rewrite_head((const char *)buf, &req, out, sizeof(out), &len) == 0) {
			/* the forwarded head never carries the client's proxy credentials */
			if (len > sizeof(out) || memmem(out, len, "\nProxy-Authorization:", 21) ||
			    memcmp(out + len - 4, "\r\n\r\n", 4))
				abort();
		}
		break;
	}
	}
	free(buf);
	return 0;
}
