/* proxy_proto.c — see proxy_proto.h. Lengths come from the client and are checked against what
 * has arrived before any byte they cover is read. */
#include "tools/workers/proxy_proto.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int socks5_parse_greeting(const uint8_t *b, size_t n, unsigned *ret_methods)
{
	unsigned m = 0;

	if (n < 1)
		return 0;
	if (b[0] != SOCKS5_VERSION)
		return -EPROTO;
	if (n < 2)
		return 0;
	if (b[1] == 0)
		return -EPROTO;
	if (n < 2u + b[1])
		return 0;
	for (size_t i = 0; i < b[1]; i++)
		m |= b[2 + i] < 8 ? 1u << b[2 + i] : 1u << 8;
	*ret_methods = m;
	return 2 + b[1];
}

static int copy_field(const uint8_t *b, size_t len, char *out)
{
	if (len == 0 || memchr(b, '\0', len))
		return -EPROTO;
	memcpy(out, b, len);
	out[len] = '\0';
	return 0;
}

int socks5_parse_auth(const uint8_t *b, size_t n, char *user, char *pass)
{
	size_t ulen, plen;

	if (n < 1)
		return 0;
	if (b[0] != 1) /* the sub-negotiation's own version */
		return -EPROTO;
	if (n < 2)
		return 0;
	ulen = b[1];
	if (n < 2 + ulen + 1)
		return 0;
	plen = b[2 + ulen];
	if (n < 3 + ulen + plen)
		return 0;
	if (copy_field(b + 2, ulen, user) < 0 || copy_field(b + 3 + ulen, plen, pass) < 0)
		return -EPROTO;
	return (int)(3 + ulen + plen);
}

int socks5_parse_request(const uint8_t *b, size_t n, int *ret_cmd, struct proxy_target *t)
{
	size_t need;

	if (n < 4)
		return 0;
	if (b[0] != SOCKS5_VERSION || b[2] != 0)
		return -EPROTO;
	memset(t, 0, sizeof(*t));
	t->atyp = b[3];
	switch (b[3]) {
	case SOCKS5_ATYP_IPV4:
		need = 4 + 4 + 2;
		if (n < need)
			return 0;
		memcpy(t->addr, b + 4, 4);
		inet_ntop(AF_INET, t->addr, t->host, sizeof(t->host));
		break;
	case SOCKS5_ATYP_IPV6:
		need = 4 + 16 + 2;
		if (n < need)
			return 0;
		memcpy(t->addr, b + 4, 16);
		inet_ntop(AF_INET6, t->addr, t->host, sizeof(t->host));
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (n < 5)
			return 0;
		need = 4 + 1 + (size_t)b[4] + 2;
		if (n < need)
			return 0;
		if (b[4] == 0 || copy_field(b + 5, b[4], t->host) < 0)
			return -EPROTO;
		break;
	default:
		return -EAFNOSUPPORT;
	}
	t->port = (uint16_t)(b[need - 2] << 8 | b[need - 1]);
	*ret_cmd = b[1];
	return (int)need;
}

size_t socks5_reply(uint8_t *out, int rep, int family, const uint8_t *addr, uint16_t port)
{
	size_t alen = family == AF_INET6 ? 16 : 4;

	out[0] = SOCKS5_VERSION;
	out[1] = (uint8_t)rep;
	out[2] = 0;
	out[3] = family == AF_INET6 ? SOCKS5_ATYP_IPV6 : SOCKS5_ATYP_IPV4;
	if (addr)
		memcpy(out + 4, addr, alen);
	else
		memset(out + 4, 0, alen);
	out[4 + alen] = (uint8_t)(port >> 8);
	out[5 + alen] = (uint8_t)port;
	return 6 + alen;
}

/* ---- HTTP ---- */

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int http_parse_basic(const char *v, size_t n, char *user, char *pass)
{
	char dec[2 * PROXY_CRED_MAX + 2];
	size_t len = 0, i = 0;
	unsigned acc = 0;
	int bits = 0;
	const char *colon;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (n - i < 6 || strncasecmp(v + i, "basic ", 6))
		return -EPROTO;
	for (i += 6; i < n && v[i] == ' '; i++)
		;
	for (; i < n && v[i] != '='; i++) {
		int x = b64val((unsigned char)v[i]);

		if (x < 0)
			return -EPROTO;
		acc = acc << 6 | (unsigned)x;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len >= sizeof(dec) - 1)
				return -EPROTO;
			dec[len++] = (char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	for (; i < n && v[i] == '='; i++)
		;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i != n)
		return -EPROTO;
	dec[len] = '\0';
	if (memchr(dec, '\0', len))
		return -EPROTO;
	colon = memchr(dec, ':', len);
	if (!colon || colon == dec || (size_t)(colon - dec) > PROXY_CRED_MAX ||
	    len - (size_t)(colon - dec) - 1 > PROXY_CRED_MAX || (size_t)(colon - dec) + 1 == len)
		return -EPROTO;
	memcpy(user, dec, (size_t)(colon - dec));
	user[colon - dec] = '\0';
	strcpy(pass, colon + 1);
	return 0;
}

/* "host:port", "[v6]:port" or, when default_port, "host": the target's authority. */
static int parse_authority(const char *s, size_t n, int default_port, struct proxy_target *t)
{
	const char *host = s, *port = NULL;
	size_t hlen;

	memset(t, 0, sizeof(*t));
	if (n && s[0] == '[') {
		const char *end = memchr(s, ']', n);

		if (!end)
			return -EPROTO;
		host = s + 1;
		hlen = (size_t)(end - host);
		if (end + 1 < s + n) {
			if (end[1] != ':')
				return -EPROTO;
			port = end + 2;
		}
		t->atyp = SOCKS5_ATYP_IPV6;
	} else {
		const char *colon = memrchr(s, ':', n);

		hlen = colon ? (size_t)(colon - s) : n;
		port = colon ? colon + 1 : NULL;
		t->atyp = SOCKS5_ATYP_DOMAIN;
	}
	if (hlen == 0 || hlen > PROXY_HOST_MAX)
		return -EPROTO;
	memcpy(t->host, host, hlen);
	t->host[hlen] = '\0';
	for (size_t i = 0; i < hlen; i++)
		if (!isalnum((unsigned char)t->host[i]) && !strchr("-._:%", t->host[i]))
			return -EPROTO;
	if (t->atyp == SOCKS5_ATYP_IPV6 && inet_pton(AF_INET6, t->host, t->addr) != 1)
		return -EPROTO;
	if (t->atyp == SOCKS5_ATYP_DOMAIN && strchr(t->host, ':'))
		return -EPROTO;
	if (t->atyp == SOCKS5_ATYP_DOMAIN && inet_pton(AF_INET, t->host, t->addr) == 1)
		t->atyp = SOCKS5_ATYP_IPV4;
	if (port) {
		const char *end = s + n;
		unsigned long v = 0;

		if (port == end || end - port > 5)
			return -EPROTO;
		for (const char *p = port; p < end; p++) {
			if (!isdigit((unsigned char)*p))
				return -EPROTO;
			v = v * 10 + (unsigned long)(*p - '0');
		}
		if (v == 0 || v > 65535)
			return -EPROTO;
		t->port = (uint16_t)v;
	} else if (default_port) {
		t->port = (uint16_t)default_port;
	} else {
		return -EPROTO;
	}
	return 0;
}

/* The end of the head: the offset after "\r\n\r\n" or "\n\n", or 0. */
static size_t head_end(const char *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* One line of the head: [*pos, eol) without the CR; *pos moves past the LF. */
static size_t next_line(const char *b, size_t end, size_t *pos, size_t *ret_start)
{
	size_t s = *pos, e = s;

	while (e < end && b[e] != '\n')
		e++;
	*pos = e < end ? e + 1 : e;
	*ret_start = s;
	if (e > s && b[e - 1] == '\r')
		e--;
	return e - s;
}

int http_parse_request(const char *b, size_t n, struct http_request *ret)
{
	struct http_request r = { 0 };
	size_t end = head_end(b, n < PROXY_HTTP_HEAD_MAX ? n : PROXY_HTTP_HEAD_MAX);
	size_t pos = 0, ls, len;
	const char *sp1, *sp2, *line;
	bool have_host = false;

	if (!end)
		return n >= PROXY_HTTP_HEAD_MAX ? -EMSGSIZE : 0;
	if (memchr(b, '\0', end))
		return -EPROTO;
	len = next_line(b, end, &pos, &ls);
	line = b + ls;
	sp1 = memchr(line, ' ', len);
	if (!sp1 || sp1 == line || (size_t)(sp1 - line) >= sizeof(r.method))
		return -EPROTO;
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line));
	if (!sp2 || sp2 == sp1 + 1)
		return -EPROTO;
	memcpy(r.method, line, (size_t)(sp1 - line));
	for (const char *c = r.method; *c; c++)
		if (!isupper((unsigned char)*c))
			return -EPROTO;
	size_t vlen = len - (size_t)(sp2 + 1 - line);
	if (vlen != 8 || (memcmp(sp2 + 1, "HTTP/1.1", 8) && memcmp(sp2 + 1, "HTTP/1.0", 8)))
		return -EPROTO;
	memcpy(r.version, sp2 + 1, 8);
	const char *target = sp1 + 1;
	size_t tlen = (size_t)(sp2 - target);

	if (!strcmp(r.method, "CONNECT")) {
		r.connect = true;
		if (parse_authority(target, tlen, 0, &r.target) < 0)
			return -EPROTO;
		strcpy(r.path, "");
	} else {
		const char *auth, *slash;

		if (tlen < 7 || strncasecmp(target, "http://", 7))
			return -EPROTONOSUPPORT;
		auth = target + 7;
		slash = memchr(auth, '/', tlen - 7);
		size_t alen = slash ? (size_t)(slash - auth) : tlen - 7;
		/* userinfo in the URL is not ours to forward */
		if (memchr(auth, '@', alen) || parse_authority(auth, alen, 80, &r.target) < 0)
			return -EPROTO;
		size_t plen = slash ? tlen - 7 - alen : 1;
		if (plen >= sizeof(r.path))
			return -EMSGSIZE;
		if (slash)
			memcpy(r.path, slash, plen);
		else
			r.path[0] = '/';
		r.path[plen] = '\0';
		for (const char *c = r.path; *c; c++)
			if ((unsigned char)*c <= ' ' || *c == 0x7f)
				return -EPROTO;
	}
	/* headers */
	while (pos < end) {
		const char *colon;
		size_t hl = next_line(b, end, &pos, &ls);

		line = b + ls;
		if (hl == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t')
			return -EPROTO; /* obs-fold: a smuggling vector, RFC 9112 lets us refuse */
		colon = memchr(line, ':', hl);
		if (!colon || colon == line)
			return -EPROTO;
		size_t nlen = (size_t)(colon - line);
		for (size_t i = 0; i < nlen; i++)
			if (line[i] <= ' ' || line[i] == 0x7f)
				return -EPROTO;
		const char *v = colon + 1;
		size_t vl = hl - nlen - 1;
		if (nlen == 4 && !strncasecmp(line, "host", 4))
			have_host = true;
		if (nlen == 19 && !strncasecmp(line, "proxy-authorization", 19)) {
			if (r.have_auth || http_parse_basic(v, vl, r.user, r.pass) < 0)
				return -EPROTO;
			r.have_auth = true;
		}
	}
	if (!have_host && !strcmp(r.version, "HTTP/1.1") && !r.connect)
		return -EPROTO;
	r.head_len = end;
	*ret = r;
	return (int)end;
}

static bool header_dropped(const char *line, size_t len)
{
	static const char *const drop[] = { "proxy-authorization", "proxy-connection",
					    "connection", "keep-alive" };

	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		size_t k = strlen(drop[i]);

		if (len > k && line[k] == ':' && !strncasecmp(line, drop[i], k))
			return true;
	}
	return false;
}

int http_rewrite_head(const char *b, const struct http_request *req, char *out, size_t outlen,
		      size_t *ret_len)
{
	size_t pos = 0, ls, o;
	int n;

	n = snprintf(out, outlen, "%s %s %s\r\n", req->method, req->path, req->version);
	if (n < 0 || (size_t)n >= outlen)
		return -ENOBUFS;
	o = (size_t)n;
	next_line(b, req->head_len, &pos, &ls); /* the request line, rewritten above */
	while (pos < req->head_len) {
		size_t hl = next_line(b, req->head_len, &pos, &ls);

		if (hl == 0)
			break;
		if (header_dropped(b + ls, hl))
			continue;
		if (o + hl + 2 > outlen)
			return -ENOBUFS;
		memcpy(out + o, b + ls, hl);
		memcpy(out + o + hl, "\r\n", 2);
		o += hl + 2;
	}
	static const char tail[] = "Connection: close\r\n\r\n";
	if (o + sizeof(tail) - 1 > outlen)
		return -ENOBUFS;
	memcpy(out + o, tail, sizeof(tail) - 1);
	*ret_len = o + sizeof(tail) - 1;
	return 0;
}
