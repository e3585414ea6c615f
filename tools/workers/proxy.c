/* proxy.c — cellmux-proxy, a socket-activated worker: SOCKS5 (RFC 1928 CONNECT, RFC 1929 auth)
 * and HTTP proxying (CONNECT and plain-HTTP forwarding, Basic auth) out through its uplink. */
#include <ares.h>
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tools/workers/proxy_proto.h"

#define NAME "cellmux-proxy"
#define LISTEN_MAX 16
#define ADDRS_MAX 8
#define DNS_SOCKS_MAX 16
#define USERS_MAX 1024
/* Room for an HTTP head rewritten a little longer than it came (Connection: close). */
#define REWRITE_SLACK 64

enum ep_kind { EP_LISTENER, EP_CLIENT, EP_UPSTREAM, EP_DNS, EP_UDP_RELAY };

struct ep {
	enum ep_kind kind;
	int fd;
	struct conn *c;
	uint32_t events; /* what epoll watches now; 0 = not registered */
};

enum conn_state {
	ST_GREETING,  /* first bytes: SOCKS5 greeting or an HTTP request head */
	ST_AUTH,      /* SOCKS5 RFC 1929 sub-negotiation */
	ST_REQUEST,   /* SOCKS5 request */
	ST_HTTP_HEAD, /* HTTP head, until its empty line */
	ST_RESOLVING,
	ST_CONNECTING,
	ST_RELAY,
	ST_UDP, /* a UDP association: the TCP connection only keeps it alive */
};

struct conn {
	struct conn *prev, *next;
	struct ep cl, up;
	enum conn_state state;
	bool http, http_connect;
	/* client -> upstream; during the handshake it holds what the client sent */
	uint8_t *cbuf;
	size_t clen;
	uint8_t *ubuf; /* upstream -> client */
	size_t ulen;
	bool c_eof, u_eof, up_shut, cl_shut;
	bool dead; /* closed while a DNS query for it was out: its callback frees it */
	uint64_t deadline_ms;
	struct proxy_target target;
	struct sockaddr_storage addrs[ADDRS_MAX];
	socklen_t addr_lens[ADDRS_MAX];
	size_t n_addrs, next_addr;
	/* ST_UDP: where the client's datagrams come from (port 0 until the first one) */
	struct sockaddr_in udp_client;
};

struct user {
	char name[PROXY_CRED_MAX + 1];
	char *hash;
	char *good; /* the last password that verified: yescrypt costs ~20 ms, not per connection */
};

static struct {
	int epfd;
	struct ep listeners[LISTEN_MAX];
	size_t n_listeners;
	struct conn *conns;
	size_t n_conns, max_conns;
	size_t bufsize;
	unsigned handshake_ms, idle_ms;
	bool no_auth;
	struct user *users;
	size_t n_users;
	ares_channel dns;
	struct ep dns_eps[DNS_SOCKS_MAX];
	/* the UDP ASSOCIATE relay: a listen=udp: socket on the host side, shared by every
	 * association; -1 when the session has none (then UDP ASSOCIATE is refused) */
	struct ep relay;
	struct sockaddr_in relay_addr;
	volatile sig_atomic_t stop;
	uint64_t accepted, refused_cap, auth_failed;
} P;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void ep_watch(struct ep *e, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	if (e->fd < 0 || events == e->events)
		return;
	if (!events)
		epoll_ctl(P.epfd, EPOLL_CTL_DEL, e->fd, NULL);
	else
		epoll_ctl(P.epfd, e->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, e->fd, &ev);
	e->events = events;
}

static void ep_close(struct ep *e)
{
	if (e->fd < 0)
		return;
	ep_watch(e, 0);
	close(e->fd);
	e->fd = -1;
}

static void conn_free(struct conn *c)
{
	free(c->cbuf);
	free(c->ubuf);
	free(c);
}

static void conn_close(struct conn *c)
{
	ep_close(&c->cl);
	ep_close(&c->up);
	if (c->prev)
		c->prev->next = c->next;
	else
		P.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	P.n_conns--;
	if (c->state == ST_RESOLVING)
		c->dead = true;
	else
		conn_free(c);
}

/* Replies during the handshake are a few bytes on an idle socket: one send or give up. */
static void send_small(struct conn *c, const void *b, size_t n)
{
	ssize_t k = send(c->cl.fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (k != (ssize_t)n)
		c->c_eof = true;
}

static void http_error(struct conn *c, const char *status, const char *extra)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %s\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n", status,
			 extra ? extra : "");

	send_small(c, buf, (size_t)n);
	conn_close(c);
}

static void socks_fail(struct conn *c, int rep)
{
	uint8_t out[32];

	send_small(c, out, socks5_reply(out, rep, AF_INET, NULL, 0));
	conn_close(c);
}

static void fail_target(struct conn *c, int err)
{
	if (c->http) {
		http_error(c, err == ETIMEDOUT ? "504 Gateway Timeout" : "502 Bad Gateway", NULL);
		return;
	}
	socks_fail(c, err == ECONNREFUSED	 ? SOCKS5_REP_REFUSED
		      : err == ENETUNREACH	 ? SOCKS5_REP_NET_UNREACHABLE
		      : err == EHOSTUNREACH || err == ENOENT ? SOCKS5_REP_HOST_UNREACHABLE
		      : err == ETIMEDOUT	 ? SOCKS5_REP_TTL_EXPIRED
						 : SOCKS5_REP_FAILURE);
}

/* ---- authentication ---- */

static bool secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return !d;
}

static bool auth_ok(const char *user, const char *pass)
{
	static struct crypt_data cd;

	for (size_t i = 0; i < P.n_users; i++) {
		struct user *u = &P.users[i];
		const char *h;

		if (strcmp(u->name, user))
			continue;
		if (u->good && secret_equal(u->good, pass))
			return true;
		h = crypt_r(pass, u->hash, &cd);
		if (!h || h[0] == '*' || !secret_equal(h, u->hash))
			break;
		free(u->good);
		u->good = strdup(pass);
		return true;
	}
	P.auth_failed++;
	return false;
}

static int load_users(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int lineno = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *colon, *end;

		lineno++;
		end = line + strcspn(line, "\r\n");
		*end = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		colon = strchr(line, ':');
		if (!colon || colon == line || (size_t)(colon - line) > PROXY_CRED_MAX ||
		    P.n_users == USERS_MAX) {
			fprintf(stderr, NAME ": %s:%d: want USER:CRYPT-HASH\n", path, lineno);
			fclose(f);
			return -EINVAL;
		}
		*colon = '\0';
		/* A hash libxcrypt would not accept, or a legacy one (DES, MD5), is refused now
		 * rather than never matching later. */
		int cs = crypt_checksalt(colon + 1);
		if (cs != CRYPT_SALT_OK) {
			fprintf(stderr, NAME ": %s:%d: user %s: %s hash\n", path, lineno, line,
				cs == CRYPT_SALT_METHOD_LEGACY ? "a legacy (weak)" : "not a valid");
			fclose(f);
			return -EINVAL;
		}
		struct user *u = &P.users[P.n_users++];
		memcpy(u->name, line, (size_t)(colon - line) + 1); /* length checked above */
		u->hash = strdup(colon + 1);
		u->good = NULL;
		if (!u->hash) {
			fclose(f);
			return -ENOMEM;
		}
	}
	fclose(f);
	return 0;
}

/* ---- upstream ---- */

static void conn_update(struct conn *c);
static int flush(int to, uint8_t *buf, size_t *len);

static void start_connect(struct conn *c)
{
	while (c->next_addr < c->n_addrs) {
		const struct sockaddr_storage *sa = &c->addrs[c->next_addr];
		socklen_t len = c->addr_lens[c->next_addr++];
		int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			continue;
		if (connect(fd, (const struct sockaddr *)sa, len) < 0 && errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		c->up.fd = fd;
		c->up.events = 0;
		c->state = ST_CONNECTING;
		ep_watch(&c->up, EPOLLOUT);
		return;
	}
	fail_target(c, EHOSTUNREACH);
}

static void add_addr(struct conn *c, const struct sockaddr *sa, socklen_t len)
{
	if (c->n_addrs == ADDRS_MAX || len > sizeof(c->addrs[0]))
		return;
	memcpy(&c->addrs[c->n_addrs], sa, len);
	c->addr_lens[c->n_addrs++] = len;
}

static void resolved(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct conn *c = arg;

	if (c->dead) {
		ares_freeaddrinfo(res);
		conn_free(c);
		return;
	}
	if (status == ARES_SUCCESS && res)
		for (struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next)
			add_addr(c, n->ai_addr, (socklen_t)n->ai_addrlen);
	ares_freeaddrinfo(res);
	c->state = ST_CONNECTING;
	if (!c->n_addrs) {
		fail_target(c, status == ARES_ETIMEOUT ? ETIMEDOUT : ENOENT);
		return;
	}
	start_connect(c);
}

static void begin_target(struct conn *c)
{
	struct proxy_target *t = &c->target;

	if (t->atyp == SOCKS5_ATYP_IPV4) {
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(t->port) };

		memcpy(&in.sin_addr, t->addr, 4);
		add_addr(c, (struct sockaddr *)&in, sizeof(in));
		start_connect(c);
	} else if (t->atyp == SOCKS5_ATYP_IPV6) {
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(t->port) };

		memcpy(&in6.sin6_addr, t->addr, 16);
		add_addr(c, (struct sockaddr *)&in6, sizeof(in6));
		start_connect(c);
	} else {
		/* In the uplink's namespace with its resolv.conf: the host never sees the name. */
		struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC,
						     .ai_socktype = SOCK_STREAM };
		char port[8];

		snprintf(port, sizeof(port), "%u", t->port);
		c->state = ST_RESOLVING;
		ep_watch(&c->cl, 0); /* nothing read meanwhile: the handshake buffer is bounded */
		ares_getaddrinfo(P.dns, t->host, port, &hints, resolved, c);
	}
}

static void connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->up.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		ep_close(&c->up);
		if (c->next_addr < c->n_addrs) {
			start_connect(c);
			return;
		}
		fail_target(c, err);
		return;
	}
	c->ubuf = malloc(P.bufsize);
	if (!c->ubuf) {
		fail_target(c, ENOMEM);
		return;
	}
	if (c->http && c->http_connect) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

		send_small(c, ok, sizeof(ok) - 1);
	} else if (!c->http) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		uint8_t out[32];
		const uint8_t *a = NULL;
		uint16_t port = 0;

		if (getsockname(c->up.fd, (struct sockaddr *)&sa, &sl) == 0) {
			if (sa.ss_family == AF_INET) {
				a = (const uint8_t *)&((struct sockaddr_in *)&sa)->sin_addr;
				port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
			} else {
				a = (const uint8_t *)&((struct sockaddr_in6 *)&sa)->sin6_addr;
				port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
			}
		}
		send_small(c, out, socks5_reply(out, SOCKS5_REP_OK, sa.ss_family, a, port));
	}
	int one = 1;
	setsockopt(c->up.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = ST_RELAY;
	c->deadline_ms = now_ms() + P.idle_ms;
	if (c->c_eof) { /* the reply could not be sent */
		conn_close(c);
		return;
	}
	if (c->clen && flush(c->up.fd, c->cbuf, &c->clen) < 0) {
		conn_close(c);
		return;
	}
	conn_update(c);
}

/* ---- UDP ASSOCIATE (RFC 1928 section 7), IPv4 ---- */

static uint8_t dgram[65536];

static void udp_begin(struct conn *c)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	uint8_t out[32];

	/* Datagrams are taken only from the address that authenticated this association. */
	if (getpeername(c->cl.fd, (struct sockaddr *)&peer, &len) < 0 || peer.sin_family != AF_INET) {
		socks_fail(c, SOCKS5_REP_ATYP_UNSUPPORTED);
		return;
	}
	c->udp_client = peer;
	c->udp_client.sin_port = 0;
	if (c->target.atyp == SOCKS5_ATYP_IPV4 && c->target.port)
		c->udp_client.sin_port = htons(c->target.port);
	c->up.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->up.fd < 0) {
		socks_fail(c, SOCKS5_REP_FAILURE);
		return;
	}
	c->up.events = 0;
	send_small(c, out, socks5_reply(out, SOCKS5_REP_OK, AF_INET,
					(const uint8_t *)&P.relay_addr.sin_addr,
					ntohs(P.relay_addr.sin_port)));
	if (c->c_eof) {
		conn_close(c);
		return;
	}
	c->state = ST_UDP;
	c->deadline_ms = now_ms() + P.idle_ms;
	ep_watch(&c->cl, EPOLLIN);
	ep_watch(&c->up, EPOLLIN);
}

/* A client's datagram: RSV RSV FRAG ATYP DST.ADDR DST.PORT DATA. Fragments and names are
 * dropped (the RFC lets a relay drop what it does not implement). */
static bool on_relay(void)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	ssize_t n = recvfrom(P.relay.fd, dgram, sizeof(dgram), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &len);
	struct conn *c;

	if (n < 0)
		return false;
	if (n < 10 || from.sin_family != AF_INET)
		return true;
	for (c = P.conns; c; c = c->next)
		if (c->state == ST_UDP && c->udp_client.sin_addr.s_addr == from.sin_addr.s_addr &&
		    (!c->udp_client.sin_port || c->udp_client.sin_port == from.sin_port))
			break;
	if (!c || dgram[0] || dgram[1] || dgram[2] || dgram[3] != SOCKS5_ATYP_IPV4)
		return true;
	c->udp_client.sin_port = from.sin_port;
	struct sockaddr_in to = { .sin_family = AF_INET };
	memcpy(&to.sin_addr, dgram + 4, 4);
	memcpy(&to.sin_port, dgram + 8, 2);
	sendto(c->up.fd, dgram + 10, (size_t)n - 10, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
	c->deadline_ms = now_ms() + P.idle_ms;
	return true;
}

static void on_udp_upstream(struct conn *c)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	ssize_t n = recvfrom(c->up.fd, dgram + 10, sizeof(dgram) - 10, MSG_DONTWAIT,
			     (struct sockaddr *)&from, &len);

	if (n < 0 || from.sin_family != AF_INET || !c->udp_client.sin_port)
		return;
	dgram[0] = dgram[1] = dgram[2] = 0;
	dgram[3] = SOCKS5_ATYP_IPV4;
	memcpy(dgram + 4, &from.sin_addr, 4);
	memcpy(dgram + 8, &from.sin_port, 2);
	sendto(P.relay.fd, dgram, (size_t)n + 10, MSG_DONTWAIT, (struct sockaddr *)&c->udp_client,
	       sizeof(c->udp_client));
	c->deadline_ms = now_ms() + P.idle_ms;
}

/* ---- handshake ---- */

static void consume(struct conn *c, size_t n)
{
	memmove(c->cbuf, c->cbuf + n, c->clen - n);
	c->clen -= n;
}

static void http_head(struct conn *c)
{
	struct http_request req;
	int r = http_parse_request((const char *)c->cbuf, c->clen, &req);

	if (r == 0)
		return;
	if (r == -EMSGSIZE) {
		http_error(c, "431 Request Header Fields Too Large", NULL);
		return;
	}
	if (r == -EPROTONOSUPPORT) {
		http_error(c, "501 Not Implemented", NULL);
		return;
	}
	if (r < 0) {
		http_error(c, "400 Bad Request", NULL);
		return;
	}
	if (!P.no_auth && (!req.have_auth || !auth_ok(req.user, req.pass))) {
		http_error(c, "407 Proxy Authentication Required",
			   "Proxy-Authenticate: Basic realm=\"cellmux\"\r\n");
		return;
	}
	c->http_connect = req.connect;
	c->target = req.target;
	if (req.connect) {
		consume(c, req.head_len);
	} else {
		char out[PROXY_HTTP_HEAD_MAX + REWRITE_SLACK];
		size_t len;

		if (http_rewrite_head((const char *)c->cbuf, &req, out, sizeof(out), &len) < 0 ||
		    c->clen - req.head_len + len > P.bufsize + REWRITE_SLACK) {
			http_error(c, "431 Request Header Fields Too Large", NULL);
			return;
		}
		memmove(c->cbuf + len, c->cbuf + req.head_len, c->clen - req.head_len);
		memcpy(c->cbuf, out, len);
		c->clen = c->clen - req.head_len + len;
	}
	begin_target(c);
}

static void handshake(struct conn *c)
{
	for (;;) {
		int r, cmd;
		unsigned methods;
		char user[PROXY_CRED_MAX + 1], pass[PROXY_CRED_MAX + 1];

		switch (c->state) {
		case ST_GREETING:
			if (!c->clen)
				return;
			if (c->cbuf[0] != SOCKS5_VERSION) {
				c->http = true;
				c->state = ST_HTTP_HEAD;
				continue;
			}
			r = socks5_parse_greeting(c->cbuf, c->clen, &methods);
			if (r == 0)
				return;
			if (r < 0) {
				conn_close(c);
				return;
			}
			consume(c, (size_t)r);
			uint8_t choice[2] = { SOCKS5_VERSION, SOCKS5_AUTH_REFUSED };
			if (P.no_auth && (methods & 1u << SOCKS5_AUTH_NONE))
				choice[1] = SOCKS5_AUTH_NONE;
			else if (!P.no_auth && (methods & 1u << SOCKS5_AUTH_USERPASS))
				choice[1] = SOCKS5_AUTH_USERPASS;
			send_small(c, choice, 2);
			if (choice[1] == SOCKS5_AUTH_REFUSED || c->c_eof) {
				conn_close(c);
				return;
			}
			c->state = choice[1] == SOCKS5_AUTH_NONE ? ST_REQUEST : ST_AUTH;
			continue;
		case ST_AUTH:
			r = socks5_parse_auth(c->cbuf, c->clen, user, pass);
			if (r == 0)
				return;
			if (r < 0 || !auth_ok(user, pass)) {
				send_small(c, "\x01\x01", 2);
				conn_close(c);
				return;
			}
			consume(c, (size_t)r);
			send_small(c, "\x01\x00", 2);
			c->state = ST_REQUEST;
			continue;
		case ST_REQUEST:
			r = socks5_parse_request(c->cbuf, c->clen, &cmd, &c->target);
			if (r == 0)
				return;
			if (r == -EAFNOSUPPORT) {
				socks_fail(c, SOCKS5_REP_ATYP_UNSUPPORTED);
				return;
			}
			if (r < 0) {
				socks_fail(c, SOCKS5_REP_FAILURE);
				return;
			}
			if (cmd == SOCKS5_CMD_UDP_ASSOCIATE && P.relay.fd >= 0) {
				consume(c, (size_t)r);
				udp_begin(c);
				return;
			}
			if (cmd != SOCKS5_CMD_CONNECT) {
				socks_fail(c, SOCKS5_REP_CMD_UNSUPPORTED);
				return;
			}
			consume(c, (size_t)r);
			begin_target(c);
			return;
		case ST_HTTP_HEAD:
			http_head(c);
			return;
		default:
			return;
		}
	}
}

/* ---- relay ---- */

/* Which events each side needs now, from the buffers and the shutdowns. */
static void conn_update(struct conn *c)
{
	uint32_t cl = 0, up = 0;

	if (c->state == ST_RELAY) {
		if (!c->c_eof && c->clen < P.bufsize)
			cl |= EPOLLIN;
		if (c->ulen)
			cl |= EPOLLOUT;
		if (!c->u_eof && c->ulen < P.bufsize)
			up |= EPOLLIN;
		if (c->clen)
			up |= EPOLLOUT;
		/* Half-close: an EOF is passed on once what came before it is written. */
		if (c->c_eof && !c->clen && !c->up_shut) {
			shutdown(c->up.fd, SHUT_WR);
			c->up_shut = true;
		}
		if (c->u_eof && !c->ulen && !c->cl_shut) {
			shutdown(c->cl.fd, SHUT_WR);
			c->cl_shut = true;
		}
		if (c->up_shut && c->cl_shut) {
			conn_close(c);
			return;
		}
		ep_watch(&c->cl, cl);
		ep_watch(&c->up, up);
	} else if (c->state < ST_RESOLVING) {
		ep_watch(&c->cl, EPOLLIN);
	}
}

/* 1: progress, 0: would block, -1: the connection is gone. */
static int pump(int from, uint8_t *buf, size_t *len, size_t cap, bool *eof)
{
	ssize_t n = recv(from, buf + *len, cap - *len, MSG_DONTWAIT);

	if (n > 0) {
		*len += (size_t)n;
		return 1;
	}
	if (n == 0) {
		*eof = true;
		return 1;
	}
	return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

static int flush(int to, uint8_t *buf, size_t *len)
{
	ssize_t n = send(to, buf, *len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n > 0) {
		memmove(buf, buf + n, *len - (size_t)n);
		*len -= (size_t)n;
		return 1;
	}
	return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
}

static void on_client(struct conn *c, uint32_t ev)
{
	if (c->state < ST_RESOLVING) {
		if (!c->cbuf && !(c->cbuf = malloc(P.bufsize + REWRITE_SLACK))) {
			conn_close(c);
			return;
		}
		size_t cap = c->state == ST_HTTP_HEAD || c->state == ST_GREETING
				     ? (P.bufsize < PROXY_HTTP_HEAD_MAX ? P.bufsize : PROXY_HTTP_HEAD_MAX)
				     : 1024;
		bool eof = false;
		if (c->clen >= cap) {
			if (c->http)
				http_error(c, "431 Request Header Fields Too Large", NULL);
			else
				conn_close(c); /* no SOCKS5 message is this long */
			return;
		}
		int r = pump(c->cl.fd, c->cbuf, &c->clen, cap, &eof);
		if (r < 0 || eof) {
			/* a truncated handshake: nothing to answer */
			conn_close(c);
			return;
		}
		if (r > 0)
			handshake(c);
		return;
	}
	if (c->state == ST_UDP) {
		/* the association lasts as long as its TCP connection: anything but EOF is noise */
		if (recv(c->cl.fd, dgram, sizeof(dgram), MSG_DONTWAIT) == 0 ||
		    (ev & (EPOLLERR | EPOLLHUP)))
			conn_close(c);
		return;
	}
	if (c->state != ST_RELAY)
		return;
	if ((ev & EPOLLIN) && pump(c->cl.fd, c->cbuf, &c->clen, P.bufsize, &c->c_eof) < 0)
		goto gone;
	/* Written through at once: waiting for the other side's EPOLLOUT would cost an epoll
	 * round and two epoll_ctl calls per chunk (measured: a fifth of the throughput). */
	if (c->clen && flush(c->up.fd, c->cbuf, &c->clen) < 0)
		goto gone;
	if ((ev & EPOLLOUT) && c->ulen && flush(c->cl.fd, c->ubuf, &c->ulen) < 0)
		goto gone;
	if ((ev & (EPOLLERR | EPOLLHUP)) && !(ev & EPOLLIN))
		goto gone;
	c->deadline_ms = now_ms() + P.idle_ms;
	conn_update(c);
	return;
gone:
	conn_close(c);
}

static void on_upstream(struct conn *c, uint32_t ev)
{
	if (c->state == ST_CONNECTING) {
		connected(c);
		return;
	}
	if (c->state == ST_UDP) {
		on_udp_upstream(c);
		return;
	}
	if ((ev & EPOLLIN) && pump(c->up.fd, c->ubuf, &c->ulen, P.bufsize, &c->u_eof) < 0)
		goto gone;
	if (c->ulen && flush(c->cl.fd, c->ubuf, &c->ulen) < 0)
		goto gone;
	if ((ev & EPOLLOUT) && c->clen && flush(c->up.fd, c->cbuf, &c->clen) < 0)
		goto gone;
	if ((ev & (EPOLLERR | EPOLLHUP)) && !(ev & EPOLLIN))
		goto gone;
	c->deadline_ms = now_ms() + P.idle_ms;
	conn_update(c);
	return;
gone:
	conn_close(c);
}

static void on_accept(struct ep *l)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		if (P.n_conns >= P.max_conns) {
			/* Accept and close: the client learns at once, instead of waiting in a
			 * backlog that would hide the cap from it. */
			P.refused_cap++;
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->cl = (struct ep){ EP_CLIENT, fd, c, 0 };
		c->up = (struct ep){ EP_UPSTREAM, -1, c, 0 };
		c->state = ST_GREETING;
		c->deadline_ms = now_ms() + P.handshake_ms;
		c->next = P.conns;
		if (P.conns)
			P.conns->prev = c;
		P.conns = c;
		P.n_conns++;
		P.accepted++;
		ep_watch(&c->cl, EPOLLIN);
	}
}

static void expire(uint64_t now)
{
	for (struct conn *c = P.conns, *n; c; c = n) {
		n = c->next;
		if (now < c->deadline_ms)
			continue;
		if (c->http && c->state < ST_RELAY && c->state != ST_RESOLVING)
			http_error(c, "408 Request Timeout", NULL);
		else
			conn_close(c); /* a SOCKS5 client mid-handshake gets EOF; so does an idle relay */
	}
}

/* ---- DNS ---- */

static void dns_sock(void *data, ares_socket_t fd, int readable, int writable)
{
	struct ep *free_ep = NULL;

	for (size_t i = 0; i < DNS_SOCKS_MAX; i++) {
		struct ep *e = &P.dns_eps[i];

		if (e->fd == fd) {
			if (!readable && !writable) {
				ep_watch(e, 0);
				e->fd = -1;
			} else {
				ep_watch(e, (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0));
			}
			return;
		}
		if (e->fd < 0 && !free_ep)
			free_ep = e;
	}
	if (free_ep && (readable || writable)) {
		*free_ep = (struct ep){ EP_DNS, fd, NULL, 0 };
		ep_watch(free_ep, (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0));
	}
}

static int dns_open(void)
{
	struct ares_options o = { .sock_state_cb = dns_sock };
	int r;

	for (size_t i = 0; i < DNS_SOCKS_MAX; i++)
		P.dns_eps[i].fd = -1;
	r = ares_library_init(ARES_LIB_INIT_ALL);
	if (r == ARES_SUCCESS)
		r = ares_init_options(&P.dns, &o, ARES_OPT_SOCK_STATE_CB);
	return r == ARES_SUCCESS ? 0 : -EIO;
}

/* ---- start ---- */

static int add_listener(int fd)
{
	int acc = 0, type = 0;
	socklen_t len = sizeof(acc), tlen = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_DGRAM) {
		socklen_t al = sizeof(P.relay_addr);

		if (P.relay.fd >= 0 || getsockname(fd, (struct sockaddr *)&P.relay_addr, &al) < 0 ||
		    P.relay_addr.sin_family != AF_INET)
			return -EINVAL; /* one IPv4 relay socket */
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		P.relay = (struct ep){ EP_UDP_RELAY, fd, NULL, 0 };
		ep_watch(&P.relay, EPOLLIN);
		return 0;
	}
	if (P.n_listeners == LISTEN_MAX)
		return -E2BIG;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc)
		return -ENOTSOCK;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	P.listeners[P.n_listeners] = (struct ep){ EP_LISTENER, fd, NULL, 0 };
	ep_watch(&P.listeners[P.n_listeners++], EPOLLIN);
	return 0;
}

/* sd_listen_fds(3): the fds are ours only when LISTEN_PID names this process. */
static int take_listen_fds(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	char *end;
	long n;

	if (!fds)
		return 0;
	if (!pid || strtol(pid, &end, 10) != getpid() || *end) {
		fprintf(stderr, NAME ": LISTEN_PID=%s is not this process (%d)\n", pid ? pid : "",
			(int)getpid());
		return -ESRCH;
	}
	n = strtol(fds, &end, 10);
	if (*end || n < 0 || n > LISTEN_MAX)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		int r = add_listener(3 + i);

		if (r < 0) {
			fprintf(stderr, NAME ": fd %d is not a listening socket (or a second UDP one)\n",
				3 + i);
			return r;
		}
	}
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

/* --listen ADDR:PORT, for running without a daemon (the bench, ip netns exec). */
static int listen_on(const char *spec)
{
	struct sockaddr_storage ss = { 0 };
	char host[64];
	const char *colon = strrchr(spec, ':');
	int fd, one = 1;
	socklen_t len;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
		return -EINVAL;
	len = sizeof(*in);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return add_listener(fd);
}

/* --hash: a yescrypt line for the users file, the password read from stdin (not argv, which
 * other users can see in ps). */
static int hash_password(const char *user)
{
	static struct crypt_data cd;
	char pass[PROXY_CRED_MAX + 2], salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *h;

	if (!fgets(pass, sizeof(pass), stdin))
		return 1;
	pass[strcspn(pass, "\r\n")] = '\0';
	if (!pass[0] || strlen(pass) > PROXY_CRED_MAX || !crypt_gensalt_rn("$y$", 0, NULL, 0, salt,
									 sizeof(salt)))
		return 1;
	h = crypt_r(pass, salt, &cd);
	if (!h || h[0] == '*')
		return 1;
	printf("%s:%s\n", user, h);
	return 0;
}

static void on_signal(int sig)
{
	P.stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: " NAME " (--users FILE | --no-auth) [--listen ADDR:PORT] [--max-conns N]\n"
		"       [--handshake-timeout SEC] [--idle-timeout SEC] [--buffer BYTES]\n"
		"       " NAME " --hash USER   (password on stdin; prints a users-file line)\n"
		"Serves SOCKS5 and HTTP proxy clients on the sockets of LISTEN_FDS (or --listen).\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "users", required_argument, NULL, 'u' },
		{ "no-auth", no_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'l' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "handshake-timeout", required_argument, NULL, 'H' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "buffer", required_argument, NULL, 'b' },
		{ "hash", required_argument, NULL, 'x' },
		{ 0 },
	};
	const char *users = NULL, *listen_spec = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	int opt, r, n_fds;

	P.relay.fd = -1;
	P.max_conns = 1024;
	P.bufsize = 65536;
	P.handshake_ms = 10000;
	P.idle_ms = 300000;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'u': users = optarg; break;
		case 'n': P.no_auth = true; break;
		case 'l': listen_spec = optarg; break;
		case 'm': P.max_conns = strtoul(optarg, NULL, 10); break;
		case 'H': P.handshake_ms = (unsigned)(strtod(optarg, NULL) * 1000); break;
		case 'I': P.idle_ms = (unsigned)(strtod(optarg, NULL) * 1000); break;
		case 'b': P.bufsize = strtoul(optarg, NULL, 10); break;
		case 'x': return hash_password(optarg);
		default: usage();
		}
	}
	if (!users == !P.no_auth || !P.max_conns || P.bufsize < 1024 || P.bufsize > (1u << 24) ||
	    !P.handshake_ms || !P.idle_ms)
		usage();
	/* Two fds per connection: the soft limit (1024) would cap it below --max-conns. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	P.users = calloc(USERS_MAX, sizeof(*P.users));
	if (!P.users)
		return 1;
	if (users && (r = load_users(users)) < 0) {
		fprintf(stderr, NAME ": users file %s: %s\n", users, strerror(-r));
		return 1;
	}
	P.epfd = epoll_create1(EPOLL_CLOEXEC);
	n_fds = take_listen_fds();
	if (P.epfd < 0 || n_fds < 0)
		return 1;
	if (listen_spec && (r = listen_on(listen_spec)) < 0) {
		fprintf(stderr, NAME ": --listen %s: %s\n", listen_spec, strerror(-r));
		return 1;
	}
	if (!P.n_listeners) {
		fprintf(stderr, NAME ": no listening socket (LISTEN_FDS or --listen)\n");
		return 1;
	}
	if (dns_open() < 0) {
		fprintf(stderr, NAME ": resolver: cannot initialise c-ares\n");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* One line for the log (and the tests): what it serves, as the worker sees itself. */
	printf(NAME ": serving pid=%d listen_fds=%d listeners=%zu udp_relay=%s users=%zu auth=%s\n",
	       (int)getpid(), n_fds, P.n_listeners, P.relay.fd >= 0 ? "yes" : "no", P.n_users,
	       P.no_auth ? "none" : "password");
	fflush(stdout);

	uint64_t last_expire = now_ms();
	while (!P.stop) {
		struct epoll_event evs[256];
		struct timeval tv = { 1, 0 }, *tvp = ares_timeout(P.dns, &tv, &tv);
		int timeout = (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000) + 1;
		int n = epoll_wait(P.epfd, evs, 256, timeout);

		for (int i = 0; i < n; i++) {
			struct ep *e = evs[i].data.ptr;

			switch (e->kind) {
			case EP_LISTENER:
				on_accept(e);
				break;
			case EP_UDP_RELAY:
				for (int k = 0; k < 64 && on_relay(); k++) /* a burst per wakeup */
					;
				break;
			case EP_DNS:
				ares_process_fd(P.dns,
						evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? e->fd
												: ARES_SOCKET_BAD,
						evs[i].events & EPOLLOUT ? e->fd : ARES_SOCKET_BAD);
				break;
			case EP_CLIENT:
				/* a connection closed earlier in this batch has fd -1 */
				if (e->fd >= 0)
					on_client(e->c, evs[i].events);
				break;
			case EP_UPSTREAM:
				if (e->fd >= 0)
					on_upstream(e->c, evs[i].events);
				break;
			}
		}
		ares_process_fd(P.dns, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
		uint64_t now = now_ms();
		if (now - last_expire >= 250) {
			expire(now);
			last_expire = now;
		}
	}
	printf(NAME ": stopping: accepted=%llu refused_at_cap=%llu auth_failed=%llu\n",
	       (unsigned long long)P.accepted, (unsigned long long)P.refused_cap,
	       (unsigned long long)P.auth_failed);
	return 0;
}
