/* health.c — an uplink's active checks: each round opens one socket per check inside the
 * uplink's namespace (setns on the calling thread, for the socket() call only) and drives it
 * non-blocking from the GLib loop, so a dead carrier never stalls the daemon. */
#include "daemon/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macro.h"
#include "netns/netns.h"

int health_check_parse(const char *spec, struct health_check *ret)
{
	struct health_check c = { 0 };
	char addr[64];
	const char *rest;
	unsigned long port;
	char *end;
	size_t n;

	if (!strncmp(spec, "tcp:", 4)) {
		c.kind = HEALTH_TCP;
		rest = strrchr(spec + 4, ':');
		if (!rest || (size_t)(rest - spec - 4) >= sizeof(addr))
			return -EINVAL;
		snprintf(addr, sizeof(addr), "%.*s", (int)(rest - spec - 4), spec + 4);
		errno = 0;
		port = strtoul(rest + 1, &end, 10);
		if (errno || end == rest + 1 || *end || port < 1 || port > 65535)
			return -EINVAL;
		c.port = (unsigned)port;
	} else if (!strncmp(spec, "http://", 7)) {
		c.kind = HEALTH_HTTP;
		c.port = 80;
		n = strcspn(spec + 7, ":/");
		if (n >= sizeof(addr) || n >= sizeof(c.host))
			return -EINVAL;
		snprintf(addr, sizeof(addr), "%.*s", (int)n, spec + 7);
		memcpy(c.host, addr, n + 1);
		rest = spec + 7 + n;
		if (*rest == ':') {
			errno = 0;
			port = strtoul(rest + 1, &end, 10);
			if (errno || end == rest + 1 || (*end && *end != '/') || port < 1 ||
			    port > 65535)
				return -EINVAL;
			c.port = (unsigned)port;
			rest = end;
		}
		if (!*rest)
			rest = "/";
		/* The path goes into a request line: nothing that could end or split it. */
		if (strlen(rest) >= sizeof(c.path) || strpbrk(rest, " \r\n\t"))
			return -EINVAL;
		strcpy(c.path, rest);
	} else if (!strncmp(spec, "dns:", 4)) {
		c.kind = HEALTH_DNS;
		rest = spec + 4;
		n = strlen(rest);
		if (!n || n >= sizeof(c.host) || rest[0] == '.' || strstr(rest, ".."))
			return -EINVAL;
		for (const char *q = rest; *q; q++)
			if (!g_ascii_isalnum(*q) && *q != '-' && *q != '.' && *q != '_')
				return -EINVAL;
		strcpy(c.host, rest);
		*ret = c;
		return 0;
	} else if (!strncmp(spec, "icmp:", 5)) {
		c.kind = HEALTH_ICMP;
		if (strlen(spec + 5) >= sizeof(addr))
			return -EINVAL;
		strcpy(addr, spec + 5);
	} else {
		return -EINVAL;
	}
	if (inet_pton(AF_INET, addr, &c.addr) != 1)
		return -EINVAL;
	*ret = c;
	return 0;
}

enum router_health health_next(enum router_health cur, bool pass, unsigned *fails, unsigned *oks,
			       unsigned fail, unsigned ok)
{
	if (pass) {
		*fails = 0;
		if (cur != ROUTER_FAILED)
			return ROUTER_HEALTHY;
		return ++*oks >= ok ? (*oks = 0, ROUTER_HEALTHY) : ROUTER_FAILED;
	}
	*oks = 0;
	if (cur == ROUTER_FAILED)
		return ROUTER_FAILED;
	return ++*fails >= fail ? ROUTER_FAILED : ROUTER_DEGRADED;
}

const char *health_to_string(enum router_health h)
{
	switch (h) {
	case ROUTER_HEALTHY:
		return "healthy";
	case ROUTER_DEGRADED:
		return "degraded";
	case ROUTER_FAILED:
		return "failed";
	}
	return "unknown";
}

struct probe {
	struct health *h;
	const struct health_check *c;
	int fd;
	guint watch;
	bool connected; /* http: the request is out, the answer is awaited */
	uint16_t id;    /* dns, icmp: to tell our answer from others */
};

struct health {
	const struct health_cfg *cfg;
	int nsfd;
	char *resolv;
	health_cb cb;
	void *userdata;
	guint timer;
	struct probe probes[HEALTH_CHECKS_MAX];
	size_t pending; /* probes of the current round not yet done */
	bool in_round, round_pass;
	enum router_health state;
	unsigned fails, oks;
	uint16_t seq;
	char reason[400];      /* of the current verdict */
	char last_error[400];  /* the latest failing check of this round */
};

static void probe_close(struct probe *p)
{
	if (p->watch)
		g_source_remove(p->watch);
	p->watch = 0;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void spec_str(const struct health_check *c, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &c->addr, a, sizeof(a));
	switch (c->kind) {
	case HEALTH_TCP:
		snprintf(buf, len, "tcp:%s:%u", a, c->port);
		break;
	case HEALTH_HTTP:
		snprintf(buf, len, "http://%s:%u%s", a, c->port, c->path);
		break;
	case HEALTH_DNS:
		snprintf(buf, len, "dns:%s", c->host);
		break;
	case HEALTH_ICMP:
		snprintf(buf, len, "icmp:%s", a);
		break;
	}
}

static void round_end(struct health *h)
{
	enum router_health next;

	for (size_t i = 0; i < h->cfg->n_checks; i++)
		probe_close(&h->probes[i]);
	if (!h->in_round)
		return;
	h->in_round = false;
	next = health_next(h->state, h->round_pass, &h->fails, &h->oks, h->cfg->fail, h->cfg->ok);
	if (next == h->state)
		return;
	if (next == ROUTER_HEALTHY)
		snprintf(h->reason, sizeof(h->reason), "checks pass");
	else
		snprintf(h->reason, sizeof(h->reason), "%s", h->last_error);
	h->state = next;
	h->cb(h->userdata, next, h->reason);
}

static void probe_done(struct probe *p, bool ok, const char *why)
{
	struct health *h = p->h;

	probe_close(p);
	if (ok) {
		h->round_pass = true;
		round_end(h);
		return;
	}
	if (why) {
		char s[256];

		spec_str(p->c, s, sizeof(s));
		snprintf(h->last_error, sizeof(h->last_error), "%s: %s", s, why);
	}
	if (h->pending && --h->pending == 0)
		round_end(h);
}

static gboolean on_probe_io(int fd, GIOCondition cond, gpointer data);

static void probe_watch(struct probe *p, GIOCondition cond)
{
	p->watch = g_unix_fd_add(p->fd, cond, on_probe_io, p);
}

static int dns_query(const char *name, uint16_t id, uint8_t *buf, size_t len)
{
	size_t n = 12;

	if (len < 12 + strlen(name) + 2 + 4)
		return -ENOBUFS;
	memset(buf, 0, 12);
	buf[0] = id >> 8;
	buf[1] = id & 0xff;
	buf[2] = 0x01; /* RD */
	buf[5] = 1;    /* QDCOUNT */
	for (const char *l = name; *l;) {
		size_t ll = strcspn(l, ".");

		if (ll == 0 || ll > 63)
			return -EINVAL;
		buf[n++] = (uint8_t)ll;
		memcpy(buf + n, l, ll);
		n += ll;
		l += ll;
		if (*l == '.')
			l++;
	}
	buf[n++] = 0;
	buf[n++] = 0, buf[n++] = 1; /* A */
	buf[n++] = 0, buf[n++] = 1; /* IN */
	return (int)n;
}

static uint16_t inet_csum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* The first nameserver of the uplink's resolv.conf: the one its sessions use. */
static int resolver_of(const char *path, struct in_addr *ret)
{
	char line[256];
	FILE *f = fopen(path, "re");
	int r = -ENOENT;

	if (!f)
		return negative_errno();
	while (r < 0 && fgets(line, sizeof(line), f)) {
		char a[64];

		if (sscanf(line, "nameserver %63s", a) == 1 && inet_pton(AF_INET, a, ret) == 1)
			r = 0;
	}
	fclose(f);
	return r;
}

static gboolean on_probe_io(int fd, GIOCondition cond, gpointer data)
{
	struct probe *p = data;
	const struct health_check *c = p->c;
	uint8_t buf[512];
	guint self = p->watch;
	ssize_t n;
	int err = 0;
	socklen_t elen = sizeof(err);

	if (c->kind == HEALTH_TCP || (c->kind == HEALTH_HTTP && !p->connected)) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err) {
			p->watch = 0;
			probe_done(p, false, strerror(err));
			return G_SOURCE_REMOVE;
		}
		if (c->kind == HEALTH_TCP) {
			p->watch = 0;
			probe_done(p, true, NULL);
			return G_SOURCE_REMOVE;
		}
		n = snprintf((char *)buf, sizeof(buf),
			     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: cellmux-health\r\n\r\n",
			     c->path, c->host);
		/* A fresh socket's send buffer takes this small request whole. */
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n) {
			p->watch = 0;
			probe_done(p, false, "sending the request failed");
			return G_SOURCE_REMOVE;
		}
		p->connected = true;
		p->watch = 0;
		probe_watch(p, G_IO_IN | G_IO_HUP | G_IO_ERR);
		return G_SOURCE_REMOVE;
	}
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return G_SOURCE_CONTINUE;
		p->watch = 0;
		if (n < 0) {
			probe_done(p, false, strerror(errno));
			return G_SOURCE_REMOVE;
		}
		switch (c->kind) {
		case HEALTH_HTTP:
			/* "HTTP/1.x NNN": any 2xx or 3xx answer counts; the rest is not read. */
			if (n >= 12 && !memcmp(buf, "HTTP/1.", 7) && (buf[9] == '2' || buf[9] == '3'))
				probe_done(p, true, NULL);
			else
				probe_done(p, false, n ? "not a 2xx/3xx answer" : "closed");
			return G_SOURCE_REMOVE;
		case HEALTH_DNS:
			if (n < 12 || (buf[0] << 8 | buf[1]) != p->id || !(buf[2] & 0x80)) {
				p->watch = self; /* not ours: keep reading */
				continue;
			}
			if ((buf[3] & 0x0f) == 0)
				probe_done(p, true, NULL);
			else
				probe_done(p, false, "the resolver answered with an error");
			return G_SOURCE_REMOVE;
		case HEALTH_ICMP: {
			/* A raw socket sees every ICMP packet of the namespace: find our reply. */
			size_t ihl = n > 0 ? (size_t)(buf[0] & 0x0f) * 4 : 0;
			struct icmphdr ic;

			if ((size_t)n >= ihl + sizeof(ic) && ihl >= 20) {
				memcpy(&ic, buf + ihl, sizeof(ic));
				if (ic.type == ICMP_ECHOREPLY && ntohs(ic.un.echo.id) == p->id) {
					probe_done(p, true, NULL);
					return G_SOURCE_REMOVE;
				}
			}
			p->watch = self;
			continue;
		}
		case HEALTH_TCP:
			break;
		}
		probe_done(p, false, "unexpected");
		return G_SOURCE_REMOVE;
	}
}

static int probe_open(struct health *h, struct probe *p)
{
	const struct health_check *c = p->c;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = c->addr };
	int type = SOCK_STREAM, proto = 0, saved, fd, r;
	uint8_t pkt[300];
	ssize_t len = 0;

	p->id = (uint16_t)(g_random_int() & 0xffff);
	if (c->kind == HEALTH_DNS) {
		r = resolver_of(h->resolv, &sa.sin_addr);
		if (r < 0)
			return r;
		sa.sin_port = htons(53);
		type = SOCK_DGRAM;
		len = dns_query(c->host, p->id, pkt, sizeof(pkt));
		if (len < 0)
			return (int)len;
	} else if (c->kind == HEALTH_ICMP) {
		struct icmphdr ic = { .type = ICMP_ECHO };

		type = SOCK_RAW;
		proto = IPPROTO_ICMP;
		ic.un.echo.id = htons(p->id);
		ic.un.echo.sequence = htons(++h->seq);
		memcpy(pkt, &ic, sizeof(ic));
		memcpy(pkt + sizeof(ic), "cellmux-health", 14);
		len = (ssize_t)sizeof(ic) + 14;
		ic.checksum = inet_csum(pkt, (size_t)len);
		memcpy(pkt, &ic, sizeof(ic));
	} else {
		sa.sin_port = htons((uint16_t)c->port);
	}
	/* Only socket() needs the namespace: the socket keeps it for its whole life. */
	r = ns_enter(h->nsfd, &saved);
	if (r < 0)
		return r;
	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	r = fd < 0 ? negative_errno() : 0;
	if (ns_leave(saved) < 0) {
		/* Cannot happen short of a kernel bug; the daemon must not go on in the wrong
		 * namespace. */
		abort();
	}
	if (r < 0)
		return r;
	p->fd = fd;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		return negative_errno();
	if (type == SOCK_STREAM) {
		probe_watch(p, G_IO_OUT | G_IO_HUP | G_IO_ERR);
		return 0;
	}
	if (send(fd, pkt, (size_t)len, 0) != len)
		return negative_errno();
	probe_watch(p, G_IO_IN | G_IO_ERR);
	return 0;
}

static gboolean on_tick(gpointer data)
{
	struct health *h = data;

	if (h->in_round) {
		/* A dead upstream usually drops silently: name a check that never answered. */
		for (size_t i = 0; i < h->cfg->n_checks; i++) {
			char spec[256];

			if (h->probes[i].fd < 0)
				continue;
			spec_str(h->probes[i].c, spec, sizeof(spec));
			snprintf(h->last_error, sizeof(h->last_error), "%s: no answer within %u ms",
				 spec, h->cfg->interval_ms);
		}
		round_end(h);
	}
	h->in_round = true;
	h->round_pass = false;
	h->pending = h->cfg->n_checks;
	snprintf(h->last_error, sizeof(h->last_error), "no check passed");
	for (size_t i = 0; i < h->cfg->n_checks && h->in_round; i++) {
		struct probe *p = &h->probes[i];
		int r;

		p->h = h;
		p->c = &h->cfg->checks[i];
		p->fd = -1;
		p->connected = false;
		r = probe_open(h, p);
		if (r < 0)
			probe_done(p, false, strerror(-r));
	}
	return G_SOURCE_CONTINUE;
}

int health_new(const struct health_cfg *cfg, int nsfd, const char *resolv, health_cb cb,
	       void *userdata, struct health **ret)
{
	struct health *h;

	if (!cfg->n_checks || cfg->n_checks > HEALTH_CHECKS_MAX || !cfg->interval_ms)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->resolv = strdup(resolv);
	if (!h->resolv) {
		free(h);
		return -ENOMEM;
	}
	for (size_t i = 0; i < HEALTH_CHECKS_MAX; i++)
		h->probes[i].fd = -1;
	h->cfg = cfg;
	h->nsfd = nsfd;
	h->cb = cb;
	h->userdata = userdata;
	/* Optimistic start, like mwan3's initial_state=online: sessions start at once and a dead
	 * uplink is failed after health_fail rounds. */
	h->state = ROUTER_HEALTHY;
	snprintf(h->reason, sizeof(h->reason), "not checked yet");
	h->timer = g_timeout_add(cfg->interval_ms, on_tick, h);
	on_tick(h);
	*ret = h;
	return 0;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < HEALTH_CHECKS_MAX; i++)
		probe_close(&h->probes[i]);
	if (h->timer)
		g_source_remove(h->timer);
	free(h->resolv);
	free(h);
}

enum router_health health_state(const struct health *h)
{
	return h ? h->state : ROUTER_HEALTHY;
}

const char *health_reason(const struct health *h)
{
	return h ? h->reason : "no checks configured";
}
