/* metrics.c — the HTTP side of the metrics endpoint: our own listening socket, connections
 * adopted into libwebsockets (glib event lib, foreign loop), one rendered text per scrape. */
#include "daemon/metrics.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "common/log.h"
#include "common/macro.h"
#include "daemon/accounting.h"
#include "daemon/daemon.h"
#include "daemon/metrics_text.h"
#include "daemon/status.h"

/* Connections served at once: a quarter of RLIMIT_NOFILE, so scrapers cannot starve sessions
 * of descriptors, within these bounds. More wait in the kernel's backlog, not in our memory. */
#define MAX_CONNS_MIN 16
#define MAX_CONNS_MAX 1024
#define LISTEN_BACKLOG 1024
/* Accepts per wake-up, so a connection flood cannot hold the loop from sessions' events. */
#define ACCEPT_BURST 32
/* Out of descriptors (EMFILE and friends): accept would fail at once again; wait instead. */
#define ACCEPT_RETRY_MS 100
/* A request's headers must arrive within this (slowloris), and an idle keep-alive connection
 * closes after it; Prometheus reconnects per scrape if its interval is longer. */
#define HEADER_TIMEOUT_S 5
/* A response must be taken by the client within this, or the connection is closed. */
#define SEND_TIMEOUT_S 30
/* A body goes out in writes of this size, each costing a turn of the daemon's loop (which polls
 * every session's descriptors): a large text in a few turns. What the socket does not take of
 * a write, lws keeps, so a stuck reader holds at most one chunk (and MAX_SENDING bound those). */
#define WRITE_CHUNK (256 * 1024)
/* With this many /metrics bodies still being sent, a new scrape gets the newest text, if it is
 * this fresh, instead of rendering another: under a flood of scrapes or of slow readers that is
 * one render a second. */
#define SHARE_WHEN_SENDING 8
#define SHARE_MAX_AGE_US (1000 * 1000)
/* Bodies being sent at once; a scrape beyond is answered 503 (Prometheus never comes close). */
#define MAX_SENDING 32
#define SMALL_BODY_MAX 256
#define TRIM_AT_SIZE (128 * 1024)

struct metrics;

/* One rendered exposition, shared by the connections sending it. */
struct snapshot {
	struct metrics *m;
	unsigned refs;
	gint64 at_us; /* monotonic, when rendered */
	struct mbuf text;
};

/* libwebsockets' per-transaction user space: a /metrics body being sent. */
struct conn {
	struct snapshot *snap;
	const char *body;
	size_t len, off;
};

struct metrics {
	struct daemon *d;
	char where[64]; /* "127.0.0.1:9577", "[::1]:9577" */
	int listen_fd;
	guint accept_watch, retry_timer;
	bool accept_failing; /* warned once, until an accept works again */
	bool closing;
	unsigned n_conns, max_conns;
	struct lws_context *ctx;
	struct lws_vhost *vh;

	struct snapshot *latest; /* weak: cleared when its last reader releases it */
	unsigned sending;        /* connections holding a snapshot */
	unsigned snapshots;      /* alive */
	size_t size_hint;        /* length of the last text, to allocate once per scrape */
	struct mbuf spare;       /* the last freed text's buffer, for the next one */
	struct status_uplink *uplinks;
	size_t uplinks_cap;
	struct status_session *sessions;
	size_t sessions_cap;
	char lws_version[16];
	long clk_tck, page_size;
	int64_t boot_time_s; /* 0: unknown, no process_start_time_seconds */
	unsigned char *wbuf; /* LWS_PRE + WRITE_CHUNK: lws may write framing before the data */
};

/* ---- /proc/self ---- */

static int read_small_file(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, size - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = '\0';
	return 0;
}

static int64_t read_boot_time(void)
{
	char buf[8192];
	const char *p;

	if (read_small_file("/proc/stat", buf, sizeof(buf)) < 0)
		return 0;
	p = strstr(buf, "\nbtime ");
	return p ? strtoll(p + 7, NULL, 10) : 0;
}

static uint64_t count_open_fds(void)
{
	struct stat st;
	DIR *dir;
	struct dirent *e;
	uint64_t n = 0;

	/* Linux 6.2 and later give the count as the directory's size: one syscall, where reading
	 * the directory walks every descriptor (a tenth of a scrape at 1,024 sessions). Earlier
	 * kernels say 0, and a process always has one. */
	if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0)
		return (uint64_t)st.st_size;
	dir = opendir("/proc/self/fd");
	if (!dir)
		return 0;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n ? n - 1 : 0; /* not the one opendir() holds */
}

static int read_process(const struct metrics *m, struct metrics_process *p)
{
	unsigned long long utime, stime, start, vsize, rss;
	struct rlimit rl;
	char buf[1024];
	const char *s;
	int r;

	r = read_small_file("/proc/self/stat", buf, sizeof(buf));
	if (r < 0)
		return r;
	/* comm (field 2) may hold spaces and parentheses; fields count from its last ')'. */
	s = strrchr(buf, ')');
	if (!s || sscanf(s + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
			 "%*d %*d %llu %llu %llu",
			 &utime, &stime, &start, &vsize, &rss) != 5)
		return -EIO;
	*p = (struct metrics_process){
		.resident_bytes = rss * (unsigned long long)m->page_size,
		.virtual_bytes = vsize,
		.cpu_ms = (int64_t)((utime + stime) * 1000 / (unsigned long long)m->clk_tck),
		.start_time_ms = m->boot_time_s ? m->boot_time_s * 1000 +
					  (int64_t)(start * 1000 / (unsigned long long)m->clk_tck)
					: 0,
		.open_fds = count_open_fds(),
	};
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		p->max_fds = rl.rlim_cur;
	return 0;
}

/* ---- rendering ---- */

static void snapshot_unref(struct snapshot *s)
{
	struct metrics *m;
	size_t size;

	if (!s || --s->refs)
		return;
	m = s->m;
	if (m->latest == s)
		m->latest = NULL;
	size = s->text.cap;
	/* One text's buffer is kept for the next scrape: a fresh 1 MB one was faulted in page by
	 * page at every scrape of 1,024 sessions (a twentieth of its cost), to be trimmed away
	 * again. The others go. */
	if (!m->spare.data && !m->closing) {
		m->spare = s->text;
		size = 0;
	} else {
		mbuf_free(&s->text);
	}
	free(s);
	/* glibc keeps a freed text of this size in the heap (its mmap threshold grows with the
	 * sizes it sees), a few MiB after a burst of scrapes: hand the pages back once the
	 * last text is gone. */
	if (!--m->snapshots && size >= TRIM_AT_SIZE)
		malloc_trim(0);
}

/* Grows *arr to hold n elements; the arrays live as long as m, so a scrape does not allocate. */
static int ensure(void **arr, size_t *cap, size_t n, size_t size)
{
	void *a;

	if (n <= *cap)
		return 0;
	a = reallocarray(*arr, n, size);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = n;
	return 0;
}

static int render(struct metrics *m, struct snapshot **ret)
{
	size_t nu = status_n_uplinks(m->d), ns = status_n_sessions(m->d), ku = 0, ks = 0;
	const struct metrics_label build[] = { { "libwebsockets", m->lws_version } };
	gint64 t0 = g_get_monotonic_time();
	struct metrics_process proc;
	struct status_daemon ds;
	struct metrics_input in;
	struct snapshot *s;
	struct rlimit rl;
	uint64_t fds, spare = 0;
	int r;

	if (ensure((void **)&m->uplinks, &m->uplinks_cap, nu, sizeof(*m->uplinks)) < 0 ||
	    ensure((void **)&m->sessions, &m->sessions_cap, ns, sizeof(*m->sessions)) < 0)
		return -ENOMEM;
	status_daemon(m->d, &ds);
	dm_acct_snapshot_begin(m->d);
	for (size_t i = 0; i < nu; i++)
		ku += status_uplink(m->d, i, &m->uplinks[ku]) == 0;
	/* The exposition has a session's cgroup figures but nothing of its sandbox view (ids,
	 * capabilities, seccomp: `session show`): reading /proc for it was two thirds of a
	 * scrape's cost at 1,024 sessions, for nothing shown. Its cgroup files stay open between
	 * scrapes (up to six a worker), while the daemon holds under half its descriptor limit:
	 * never at the cost of a session's own or a scraper's connection. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (fds = count_open_fds()) < rl.rlim_cur / 2)
		spare = rl.rlim_cur / 2 - fds;
	for (size_t i = 0; i < ns; i++)
		ks += status_session(m->d, i, &m->sessions[ks]) == 0 &&
		      status_session_usage(m->d, i, &spare, &m->sessions[ks]) == 0;
	dm_acct_snapshot_end(m->d);
	in = (struct metrics_input){
		.daemon = &ds,
		.uplinks = m->uplinks,
		.n_uplinks = ku,
		.sessions = m->sessions,
		.n_sessions = ks,
		.process = read_process(m, &proc) == 0 ? &proc : NULL,
		.build_labels = build,
		.n_build_labels = ARRAY_SIZE(build),
	};

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->m = m;
	s->refs = 1;
	m->snapshots++;
	s->at_us = t0;
	s->text = m->spare;
	s->text.len = 0;
	s->text.failed = false;
	m->spare = (struct mbuf){ 0 };
	/* Last time's size plus room: one allocation, no copying as the text grows. */
	mbuf_reserve(&s->text, m->size_hint + m->size_hint / 8 + 4096);
	r = metrics_render(&in, &s->text);
	if (r < 0) {
		snapshot_unref(s);
		return r;
	}
	m->size_hint = s->text.len;
	log_debug("metrics: rendered %zu uplinks, %zu sessions, %zu bytes in %" G_GINT64_FORMAT
		  " us", ku, ks, s->text.len, g_get_monotonic_time() - t0);
	*ret = s;
	return 0;
}

/* ---- HTTP ---- */

static void conn_release(struct metrics *m, struct conn *c)
{
	if (!c)
		return;
	if (c->snap) {
		snapshot_unref(c->snap);
		m->sending--;
	}
	c->snap = NULL;
	c->body = NULL;
	c->len = c->off = 0;
}

static int write_headers(struct lws *wsi, unsigned status, const char *type, size_t len,
			 bool allow)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof(hdr) - 1;
	static const char allowed[] = "GET, HEAD";
	static const char no_store[] = "no-store";

	if (lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)no_store, sizeof(no_store) - 1, &p,
					end) ||
	    (allow && lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
						  (const unsigned char *)allowed,
						  sizeof(allowed) - 1, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	return 0;
}

/* A short body goes out with the headers, at once: a request that carries a body of its own
 * (a POST answered 405) has lws reading that body, and no writeable callback would come
 * before it ends. lws discards the unread body, keeping the connection usable. */
static int respond_small(struct lws *wsi, struct metrics *m, unsigned status, const char *type,
			 bool head, bool allow, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static int respond_small(struct lws *wsi, struct metrics *m, unsigned status, const char *type,
			 bool head, bool allow, const char *fmt, ...)
{
	unsigned char *body = m->wbuf + LWS_PRE;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf((char *)body, SMALL_BODY_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= SMALL_BODY_MAX || write_headers(wsi, status, type, (size_t)n, allow) < 0)
		return -1;
	if (!head && lws_write(wsi, body, (size_t)n, LWS_WRITE_HTTP_FINAL) != n)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int on_writeable(struct lws *wsi, struct metrics *m, struct conn *c);

/* The first chunk goes out at once (a small text needs no further loop turn), the rest from
 * the writeable callback. */
static int serve_metrics(struct lws *wsi, struct metrics *m, struct conn *c, bool head)
{
	struct snapshot *s;

	if (!head && m->sending >= MAX_SENDING)
		return respond_small(wsi, m, HTTP_STATUS_SERVICE_UNAVAILABLE,
				     "text/plain; charset=utf-8", false, false,
				     "too many scrapes in progress\n");
	if (m->latest && m->sending >= SHARE_WHEN_SENDING &&
	    g_get_monotonic_time() - m->latest->at_us < SHARE_MAX_AGE_US) {
		s = m->latest;
		s->refs++;
	} else if (render(m, &s) < 0) {
		log_warn("metrics: rendering failed: out of memory");
		return respond_small(wsi, m, HTTP_STATUS_INTERNAL_SERVER_ERROR,
				     "text/plain; charset=utf-8", head, false, "out of memory\n");
	} else {
		m->latest = s;
	}
	if (write_headers(wsi, HTTP_STATUS_OK, METRICS_CONTENT_TYPE, s->text.len, false) < 0) {
		snapshot_unref(s);
		return -1;
	}
	if (head) {
		snapshot_unref(s);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	c->snap = s;
	m->sending++;
	c->body = s->text.data;
	c->len = s->text.len;
	c->off = 0;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SEND_TIMEOUT_S);
	return on_writeable(wsi, m, c);
}

static int on_request(struct lws *wsi, struct metrics *m, struct conn *c, const char *path)
{
	char *uri;
	int uri_len, method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	bool head = method == LWSHUMETH_HEAD, get = method == LWSHUMETH_GET;
	bool is_metrics = !strcmp(path, "/metrics"), is_health = !strcmp(path, "/healthz");
	struct status_daemon ds;

	conn_release(m, c);
	/* 404 for what does not exist whatever the method, 405 (with Allow) for what does. */
	if (!is_metrics && !is_health)
		return respond_small(wsi, m, HTTP_STATUS_NOT_FOUND, "text/plain; charset=utf-8",
				     head, false, "not found\n");
	if (!get && !head)
		return respond_small(wsi, m, HTTP_STATUS_METHOD_NOT_ALLOWED,
				     "text/plain; charset=utf-8", false, true,
				     "method not allowed\n");
	if (is_metrics)
		return serve_metrics(wsi, m, c, head);
	status_daemon(m->d, &ds);
	return respond_small(wsi, m, HTTP_STATUS_OK, "application/json", head, false,
			     "{\"status\":\"ok\",\"uplinks_up\":%u,\"uplinks_total\":%u}",
			     ds.uplinks_up, ds.uplinks_total);
}

static int on_writeable(struct lws *wsi, struct metrics *m, struct conn *c)
{
	size_t n;
	bool final;

	if (!c || !c->body || c->off >= c->len)
		return 0; /* a stray wake-up after the response ended */
	n = c->len - c->off < WRITE_CHUNK ? c->len - c->off : WRITE_CHUNK;
	final = c->off + n == c->len;
	memcpy(m->wbuf + LWS_PRE, c->body + c->off, n);
	if (lws_write(wsi, m->wbuf + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
	    (int)n)
		return -1;
	c->off += n;
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	conn_release(m, c);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void accept_resume(struct metrics *m);

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	struct metrics *m = lws_context_user(lws_get_context(wsi));
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_WSI_CREATE:
		m->n_conns++;
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (m->n_conns)
			m->n_conns--;
		if (m->n_conns < m->max_conns)
			accept_resume(m);
		return 0;
	case LWS_CALLBACK_HTTP:
		return on_request(wsi, m, c, in ? in : "");
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_writeable(wsi, m, c);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		conn_release(m, c);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* tx_packet_size: lws hands the socket at most this per send (default: its 4 KiB service
 * buffer), keeping the rest for later loop iterations; a 1 MB text would take hundreds. */
static const struct lws_protocols protocols[] = {
	{ .name = "http",
	  .callback = on_lws,
	  .per_session_data_size = sizeof(struct conn),
	  .tx_packet_size = WRITE_CHUNK },
	{ 0 },
};

/* lws is a library here: its messages are debug detail under ours (STYLE.md). */
static void on_lws_log(int level, const char *line)
{
	log_debug("metrics: lws: %.*s", (int)strcspn(line, "\n"), line);
}

/* lws dlopen()s its glib event-loop plugin for each context and dlclose()s it as the context
 * goes. When that happens inside a GLib dispatch (metrics_free from the SIGTERM handler), GLib
 * still holds a reference to an lws source picked for that same dispatch and finalizes it
 * afterwards through the source's funcs, in the unmapped plugin: cellmuxd crashed on SIGTERM
 * right after start-up. Mapped for good, the plugin cannot go. */
static void pin_glib_plugin(void)
{
	void *h = dlopen(LWS_INSTALL_LIBDIR "/libwebsockets-evlib_glib.so",
			 RTLD_NOW | RTLD_NODELETE);

	/* Without it lws_create_context() fails below, and says why. */
	if (h)
		dlclose(h);
}

/* ---- listening ---- */

static gboolean on_accept_retry(gpointer data)
{
	struct metrics *m = data;

	m->retry_timer = 0;
	accept_resume(m);
	return G_SOURCE_REMOVE;
}

static gboolean on_listen_ready(gint fd, GIOCondition cond, gpointer data)
{
	struct metrics *m = data;

	for (int i = 0; i < ACCEPT_BURST; i++) {
		int c;

		if (m->n_conns >= m->max_conns) {
			/* Resumed by the next connection to close (WSI_DESTROY). */
			m->accept_watch = 0;
			return G_SOURCE_REMOVE;
		}
		c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return G_SOURCE_CONTINUE;
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (!m->accept_failing)
				log_warn("metrics: accepting on %s: %m; retrying every %d ms",
					 m->where, ACCEPT_RETRY_MS);
			m->accept_failing = true;
			m->accept_watch = 0;
			m->retry_timer = g_timeout_add(ACCEPT_RETRY_MS, on_accept_retry, m);
			return G_SOURCE_REMOVE;
		}
		m->accept_failing = false;
		/* Headers and body leave in separate writes: without this, Nagle holds the body
		 * for the client's delayed ACK, 40 ms per keep-alive request. */
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		/* On failure lws has closed c already. */
		if (!lws_adopt_socket_vhost(m->vh, c))
			log_debug("metrics: libwebsockets refused a connection");
	}
	return G_SOURCE_CONTINUE;
}

static void accept_resume(struct metrics *m)
{
	if (m->closing || m->accept_watch || m->retry_timer || m->listen_fd < 0)
		return;
	m->accept_watch = g_unix_fd_add(m->listen_fd, G_IO_IN, on_listen_ready, m);
}

/* Our own socket rather than lws's listener: exact errors for the log, [::] meaning IPv6 only,
 * and accept paused (not accept-and-close) when full or out of descriptors. */
static int listen_on(const struct cfg_metrics *cfg, int *ret)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} a = { 0 };
	socklen_t len;
	int one = 1;
	_cleanup_close_ int fd = socket(cfg->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return negative_errno();
	if (cfg->family == AF_INET6) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons((uint16_t)cfg->port);
		if (inet_pton(AF_INET6, cfg->address, &a.in6.sin6_addr) != 1)
			return -EINVAL;
		len = sizeof(a.in6);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
			return negative_errno();
	} else {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons((uint16_t)cfg->port);
		if (inet_pton(AF_INET, cfg->address, &a.in.sin_addr) != 1)
			return -EINVAL;
		len = sizeof(a.in);
	}
	/* A restarted daemon must not wait out the old connections' TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return negative_errno();
	if (bind(fd, &a.sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		return negative_errno();
	*ret = TAKE_FD(fd);
	return 0;
}

int metrics_new(struct daemon *d, const struct cfg_metrics *cfg, struct metrics **ret)
{
	struct lws_context_creation_info info = { 0 };
	void *loops[1] = { d->loop };
	struct metrics *m;
	struct rlimit rl;
	const char *v;
	int r;

	if (!cfg->enabled) {
		log_info("metrics: disabled (listen=off)");
		*ret = NULL;
		return 0;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return log_error_errno(-ENOMEM, "metrics: %m");
	m->d = d;
	m->listen_fd = -1;
	snprintf(m->where, sizeof(m->where), cfg->family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 cfg->address, cfg->port);
	m->clk_tck = sysconf(_SC_CLK_TCK);
	m->page_size = sysconf(_SC_PAGESIZE);
	if (m->clk_tck <= 0)
		m->clk_tck = 100;
	if (m->page_size <= 0)
		m->page_size = 4096;
	m->boot_time_s = read_boot_time();
	m->max_conns = MAX_CONNS_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 4 < MAX_CONNS_MAX)
		m->max_conns = rl.rlim_cur / 4 > MAX_CONNS_MIN ? (unsigned)(rl.rlim_cur / 4)
							 : MAX_CONNS_MIN;
	/* "4.1.6-" and the like: the numeric part is the version. */
	v = lws_get_library_version();
	snprintf(m->lws_version, sizeof(m->lws_version), "%.*s", (int)strspn(v, "0123456789."), v);
	m->wbuf = malloc(LWS_PRE + WRITE_CHUNK);
	if (!m->wbuf) {
		r = log_error_errno(-ENOMEM, "metrics: %m");
		goto fail;
	}

	r = listen_on(cfg, &m->listen_fd);
	if (r < 0) {
		log_error_errno(r, "metrics: cannot listen on %s: %m", m->where);
		goto fail;
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, on_lws_log);
	pin_glib_plugin();
	info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.foreign_loops = loops;
	info.user = m;
	/* Bounds lws's tables by our connection cap, not by RLIMIT_NOFILE (lws, pipe, spare). */
	info.fd_limit_per_thread = m->max_conns + 8;
	info.timeout_secs = HEADER_TIMEOUT_S;
	m->ctx = lws_create_context(&info);
	if (!m->ctx) {
		r = log_error_errno(-ENOMEM, "metrics: creating the libwebsockets context failed "
					     "(is libwebsockets-evlib-glib installed?)");
		goto fail;
	}
	memset(&info, 0, sizeof(info));
	info.vhost_name = "metrics";
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.keepalive_timeout = HEADER_TIMEOUT_S;
	info.timeout_secs_ah_idle = HEADER_TIMEOUT_S;
	info.server_string = "cellmuxd";
	m->vh = lws_create_vhost(m->ctx, &info);
	if (!m->vh) {
		r = log_error_errno(-ENOMEM, "metrics: creating the libwebsockets vhost failed");
		goto fail;
	}
	accept_resume(m);
	log_info("metrics: serving /metrics and /healthz on http://%s (%u connections at most)",
		 m->where, m->max_conns);
	*ret = m;
	return 0;
fail:
	metrics_free(m);
	return r;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	m->closing = true;
	if (m->accept_watch)
		g_source_remove(m->accept_watch);
	if (m->retry_timer)
		g_source_remove(m->retry_timer);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	/* Not inside an lws callback here, so the context goes at once, connections with it;
	 * their snapshots are released from the close callbacks. */
	if (m->ctx)
		lws_context_destroy(m->ctx);
	mbuf_free(&m->spare);
	free(m->uplinks);
	free(m->sessions);
	free(m->wbuf);
	free(m);
}
