/* proxy_proto.h — the request parsers of cellmux-proxy: SOCKS5 (RFC 1928, RFC 1929) and HTTP
 * proxy request heads (CONNECT and absolute-form requests, Basic auth). Pure code on buffers, no
 * I/O, so unit tests and tests/fuzz/fuzz_proxy_proto.c reach every branch.
 * Every parser returns the bytes consumed (> 0), 0 when it needs more input, or -errno. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_HOST_MAX 255   /* a SOCKS5 domain name is at most 255 bytes */
#define PROXY_CRED_MAX 255   /* RFC 1929: user and password, 1-255 bytes each */
#define PROXY_HTTP_HEAD_MAX 8192 /* a longer request head is refused (431) */

enum {
	SOCKS5_VERSION = 5,
	SOCKS5_AUTH_NONE = 0x00,
	SOCKS5_AUTH_USERPASS = 0x02,
	SOCKS5_AUTH_REFUSED = 0xff,
	SOCKS5_CMD_CONNECT = 1,
	SOCKS5_CMD_BIND = 2,
	SOCKS5_CMD_UDP_ASSOCIATE = 3,
	SOCKS5_ATYP_IPV4 = 1,
	SOCKS5_ATYP_DOMAIN = 3,
	SOCKS5_ATYP_IPV6 = 4,
	/* replies */
	SOCKS5_REP_OK = 0,
	SOCKS5_REP_FAILURE = 1,
	SOCKS5_REP_NOT_ALLOWED = 2,
	SOCKS5_REP_NET_UNREACHABLE = 3,
	SOCKS5_REP_HOST_UNREACHABLE = 4,
	SOCKS5_REP_REFUSED = 5,
	SOCKS5_REP_TTL_EXPIRED = 6,
	SOCKS5_REP_CMD_UNSUPPORTED = 7,
	SOCKS5_REP_ATYP_UNSUPPORTED = 8,
};

struct proxy_target {
	int atyp;                      /* SOCKS5_ATYP_*; HTTP: DOMAIN, or IPV4/IPV6 for literals */
	char host[PROXY_HOST_MAX + 1]; /* a name, or the literal address in text */
	uint8_t addr[16];              /* IPV4 (4 bytes) or IPV6 */
	uint16_t port;
};

/* Greeting: VER NMETHODS METHODS. *ret_methods gets a bit per offered method 0..7 (bit 8 set
 * when any other is offered). -EPROTO for a version other than 5 or no methods. */
int socks5_parse_greeting(const uint8_t *b, size_t n, unsigned *ret_methods);
/* RFC 1929: VER(1) ULEN UNAME PLEN PASSWD, each 1-255 bytes; NULs refused. */
int socks5_parse_auth(const uint8_t *b, size_t n, char *user, char *pass);
/* Request: VER CMD RSV ATYP DST.ADDR DST.PORT. *ret_cmd is the command as sent (the caller
 * refuses those it does not do); -EAFNOSUPPORT for an unknown ATYP, -EPROTO otherwise. */
int socks5_parse_request(const uint8_t *b, size_t n, int *ret_cmd, struct proxy_target *t);
/* A reply with the bound address: writes at most 22 bytes to out, returns the length. */
size_t socks5_reply(uint8_t *out, int rep, int family, const uint8_t *addr, uint16_t port);

struct http_request {
	char method[16];
	bool connect;                 /* CONNECT host:port */
	struct proxy_target target;
	char path[2048];              /* origin-form of an absolute-form target ("/" at least) */
	char version[9];              /* "HTTP/1.0" or "HTTP/1.1" */
	bool have_auth;               /* a Proxy-Authorization: Basic header decoded */
	char user[PROXY_CRED_MAX + 1];
	char pass[PROXY_CRED_MAX + 1];
	size_t head_len;              /* request line + headers + the empty line */
};

/* Parses a request head once its empty line has arrived (0 before; -EMSGSIZE past
 * PROXY_HTTP_HEAD_MAX without one). Only "http://" absolute targets and CONNECT authorities
 * are proxied: -EPROTONOSUPPORT for other schemes or origin-form, -EPROTO for a malformed
 * head (bare LF accepted, NUL, obs-fold and a missing Host refused). */
int http_parse_request(const char *b, size_t n, struct http_request *ret);
/* The head to send upstream for a forwarded (non-CONNECT) request: origin-form request line,
 * the client's headers without Proxy-Authorization, Proxy-Connection and Connection, then
 * "Connection: close" (one request per upstream connection). -ENOBUFS if out is too small. */
int http_rewrite_head(const char *b, const struct http_request *req, char *out, size_t outlen,
		      size_t *ret_len);
/* Decodes "Basic BASE64(user:pass)"; -EPROTO when malformed or a part is too long. */
int http_parse_basic(const char *v, size_t n, char *user, char *pass);
