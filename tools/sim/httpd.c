/* httpd.c — the fake internet's servers, which `up` runs inside cmxsim-inet: a "what is my IP"
 * HTTP endpoint logging which egress address each session arrived from, and a TCP discard sink. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "tools/sim/sim.h"

#define REQ_MAX 8192
#define READ_TIMEOUT_MS 5000
/* After the response, the rest of what the client sent is read and dropped for a while: closing
 * with unread data makes the kernel send a RST, which can destroy the response in flight. */
#define DRAIN_MS 2000
#define SINK_IDLE_MS 5000 /* a stalled sender (a blocked quota) is logged soon */
#define CONNS_MAX 4000
#define SESSION_MAX 128
#define PATH_LOG_MAX 256

enum conn_state { C_READ, C_WRITE, C_DRAIN, C_SINK, C_DONE };

struct conn {
	int fd;
	enum conn_state state;
	long long deadline;
	char peer[INET6_ADDRSTRLEN];
	unsigned long long bytes; /* the sink's count */
	size_t len;
	size_t out_len, out_off;
	char out[768];
	char req[REQ_MAX + 1];
};

struct httpd {
	int http_fd, sink_fd;
	int log_fd, sink_log_fd;
	struct conn **conns;
	size_t n, max;
	struct pollfd *pfds;
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static long long unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Log fields are split on spaces by their readers: keep one token of printable ASCII. */
static void sanitize(char *dst, size_t size, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < size; i++)
		dst[i] = src[i] > 0x20 && src[i] < 0x7f ? src[i] : '_';
	dst[i] = '\0';
	if (i == 0)
		snprintf(dst, size, "-");
}

/* One write(2) per line on an O_APPEND file, so lines never interleave. */
static void log_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(int fd, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(fd, line, n) < 0)
		log_debug("writing log: %m");
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Error";
	}
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = C_DONE;
}

static void conn_write(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(c);
			return;
		}
		c->out_off += n;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = C_DRAIN;
	c->deadline = mono_ms() + DRAIN_MS;
}

static void respond(struct httpd *h, struct conn *c, int status, const char *body,
		    const char *method, const char *path, const char *session)
{
	char buf[256];

	if (!body) {
		snprintf(buf, sizeof(buf), "%d %s\n", status, reason(status));
		body = buf;
	}
	c->out_len = snprintf(c->out, sizeof(c->out),
			      "HTTP/1.1 %d %s\r\n"
			      "Content-Type: text/plain\r\n"
			      "Content-Length: %zu\r\n"
			      "%s"
			      "Connection: close\r\n"
			      "\r\n"
			      "%s",
			      status, reason(status), strlen(body),
			      status == 405 ? "Allow: GET\r\n" : "", body);
	if (c->out_len >= sizeof(c->out))
		c->out_len = sizeof(c->out) - 1;
	c->out_off = 0;
	c->state = C_WRITE;
	c->deadline = mono_ms() + READ_TIMEOUT_MS;
	log_line(h->log_fd, "%lld %s %s %s %d session=%s\n", unix_ms(), c->peer, method, path,
		 status, session);
	conn_write(c);
}

/* The X-Cellmux-Session value among the header lines starting at p, sanitized, or "-". */
static void find_session(const char *p, char *session, size_t size)
{
	static const char name[] = "X-Cellmux-Session:";

	snprintf(session, size, "-");
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0)
			return;
		if (len >= sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1)) {
			const char *v = p + sizeof(name) - 1, *end = p + len;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			sanitize(session, size, v, end - v);
			return;
		}
		if (!eol)
			return;
		p = eol + 1;
	}
}

static void handle_request(struct httpd *h, struct conn *c)
{
	static const char index_text[] =
	    "cellmux-sim: the fake internet. GET /ip answers with the address you came from.\n";
	char method[17], path[PATH_LOG_MAX], session[SESSION_MAX + 1], body[64];
	char *eol, *target, *version, *sp;
	size_t plen;

	eol = strpbrk(c->req, "\r\n");
	if (!eol) {
		respond(h, c, 400, NULL, "-", "-", "-");
		return;
	}
	find_session(eol + 1 + (eol[0] == '\r' && eol[1] == '\n'), session, sizeof(session));
	*eol = '\0';

	sp = strchr(c->req, ' ');
	target = sp ? sp + 1 : NULL;
	version = target ? strchr(target, ' ') : NULL;
	if (!sp || !version || strncmp(version + 1, "HTTP/1.", 7)) {
		respond(h, c, 400, NULL, "-", "-", session);
		return;
	}
	sanitize(method, sizeof(method), c->req, sp - c->req);
	sanitize(path, sizeof(path), target, version - target);
	if (strncmp(c->req, "GET ", 4)) {
		respond(h, c, 405, NULL, method, path, session);
		return;
	}
	plen = strcspn(target, "? ");
	if (plen == 3 && !strncmp(target, "/ip", 3)) {
		snprintf(body, sizeof(body), "%s\n", c->peer);
		respond(h, c, 200, body, method, path, session);
	} else if (plen == 1) {
		respond(h, c, 200, index_text, method, path, session);
	} else {
		respond(h, c, 404, NULL, method, path, session);
	}
}

static void conn_read(struct httpd *h, struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->req + c->len, REQ_MAX - c->len, 0);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(c);
			return;
		}
		if (n == 0) {
			/* A bare connect-and-close (a port check) is not a request worth a line. */
			if (c->len == 0)
				conn_close(c);
			else
				respond(h, c, 400, NULL, "-", "-", "-");
			return;
		}
		c->len += n;
		c->req[c->len] = '\0';
		if (memmem(c->req, c->len, "\r\n\r\n", 4) || memmem(c->req, c->len, "\n\n", 2)) {
			handle_request(h, c);
			return;
		}
		if (c->len == REQ_MAX) {
			respond(h, c, 431, NULL, "-", "-", "-");
			return;
		}
	}
}

static void sink_close(struct httpd *h, struct conn *c)
{
	log_line(h->sink_log_fd, "%lld %s sink bytes=%llu\n", unix_ms(), c->peer, c->bytes);
	conn_close(c);
}

static void sink_read(struct httpd *h, struct conn *c)
{
	static char scratch[65536];

	/* Bounded, so one fast sender cannot starve the other connections. */
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				sink_close(h, c);
			return;
		}
		if (n == 0) {
			sink_close(h, c);
			return;
		}
		c->bytes += n;
		c->deadline = mono_ms() + SINK_IDLE_MS;
	}
}

static void drain(struct conn *c)
{
	char scratch[4096];

	for (;;) {
		ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);

		if (n > 0)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
}

static void conn_event(struct httpd *h, struct conn *c, short revents, long long now)
{
	if (revents) {
		switch (c->state) {
		case C_READ:
			conn_read(h, c);
			break;
		case C_WRITE:
			conn_write(c);
			break;
		case C_DRAIN:
			drain(c);
			break;
		case C_SINK:
			sink_read(h, c);
			break;
		case C_DONE:
			break;
		}
	}
	if (c->state == C_DONE || now < c->deadline)
		return;
	switch (c->state) {
	case C_READ:
		respond(h, c, 408, NULL, "-", "-", "-");
		/* Still not written to a client that does not read: give up on it. */
		if (c->state == C_WRITE)
			conn_close(c);
		break;
	case C_SINK:
		sink_close(h, c);
		break;
	default:
		conn_close(c);
		break;
	}
}

static void accept_all(struct httpd *h, int lfd, bool sink)
{
	while (h->n < h->max) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		struct conn *c;
		int fd;

		fd = accept4(lfd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %m");
			return;
		}
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->state = sink ? C_SINK : C_READ;
		c->deadline = mono_ms() + (sink ? SINK_IDLE_MS : READ_TIMEOUT_MS);
		c->bytes = 0;
		c->len = 0;
		c->req[0] = '\0';
		if (sa.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, c->peer,
				  sizeof(c->peer));
		else
			inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, c->peer,
				  sizeof(c->peer));
		h->conns[h->n++] = c;
	}
}

static int serve(struct httpd *h)
{
	for (;;) {
		long long now = mono_ms(), next = now + 60000;
		size_t nl = 0, np, n;
		int r;

		/* At the limit the listeners rest and new clients wait in the backlog. */
		if (h->n < h->max) {
			h->pfds[nl++] = (struct pollfd){.fd = h->http_fd, .events = POLLIN};
			if (h->sink_fd >= 0)
				h->pfds[nl++] = (struct pollfd){.fd = h->sink_fd, .events = POLLIN};
		}
		np = nl;
		for (size_t i = 0; i < h->n; i++) {
			struct conn *c = h->conns[i];

			h->pfds[np++] = (struct pollfd){
			    .fd = c->fd, .events = c->state == C_WRITE ? POLLOUT : POLLIN};
			if (c->deadline < next)
				next = c->deadline;
		}
		r = poll(h->pfds, np, next > now ? (int)(next - now) : 0);
		if (r < 0 && errno != EINTR)
			return log_error_errno(negative_errno(), "poll: %m");
		now = mono_ms();

		n = h->n;
		for (size_t i = 0; i < n; i++)
			conn_event(h, h->conns[i], r > 0 ? h->pfds[nl + i].revents : 0, now);
		for (size_t i = 0; i < h->n;) {
			if (h->conns[i]->state == C_DONE) {
				free(h->conns[i]);
				h->conns[i] = h->conns[--h->n];
			} else {
				i++;
			}
		}
		for (size_t i = 0; r > 0 && i < nl; i++)
			if (h->pfds[i].revents)
				accept_all(h, h->pfds[i].fd, h->pfds[i].fd == h->sink_fd);
	}
}

static int listen_on(const char *spec, int *ret_fd)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	_cleanup_close_ int fd = -1;
	char host[64], *colon, *end;
	long port;
	int one = 1;

	snprintf(host, sizeof(host), "%s", spec);
	colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	sa.sin_port = htons((uint16_t)port);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	/* `down` then `up` must not wait out TIME_WAIT of the previous server. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return negative_errno();
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	if (listen(fd, 1024) < 0)
		return negative_errno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	return fd < 0 ? negative_errno() : fd;
}

/* As many connections as the fd limit allows, up to CONNS_MAX. */
static size_t conns_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 64)
		return 16;
	return rl.rlim_cur - 32 < CONNS_MAX ? rl.rlim_cur - 32 : CONNS_MAX;
}

static int daemonize(const char *pid_file)
{
	pid_t pid = fork();
	int null;

	if (pid < 0)
		return log_error_errno(negative_errno(), "fork: %m");
	if (pid > 0) {
		/* The pid file exists before `up` sees us exit, so it can read it right away. */
		int r = pid_file ? pidfile_write(pid_file, pid) : 0;

		if (r < 0) {
			log_error_errno(r, "writing %s: %m", pid_file);
			kill(pid, SIGKILL);
			_exit(1);
		}
		_exit(0);
	}
	setsid();
	if (chdir("/") < 0)
		return negative_errno();
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return negative_errno();
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	close(null);
	return 0;
}

static void usage_httpd(void)
{
	fprintf(stderr,
		"usage: cellmux-sim httpd --listen ADDR:PORT --log FILE [--sink ADDR:PORT]\n"
		"                         [--sink-log FILE] [--pid-file FILE] [--daemon]\n");
}

int cmd_httpd(int argc, char **argv)
{
	static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
					     {"log", required_argument, NULL, 'L'},
					     {"sink", required_argument, NULL, 's'},
					     {"sink-log", required_argument, NULL, 'S'},
					     {"pid-file", required_argument, NULL, 'p'},
					     {"daemon", no_argument, NULL, 'd'},
					     {}};
	const char *listen_spec = NULL, *log_path = NULL, *sink_spec = NULL, *sink_log = NULL;
	const char *pid_file = NULL;
	struct httpd h = {.http_fd = -1, .sink_fd = -1, .log_fd = -1, .sink_log_fd = -1};
	bool daemon = false;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen_spec = optarg;
			break;
		case 'L':
			log_path = optarg;
			break;
		case 's':
			sink_spec = optarg;
			break;
		case 'S':
			sink_log = optarg;
			break;
		case 'p':
			pid_file = optarg;
			break;
		case 'd':
			daemon = true;
			break;
		default:
			usage_httpd();
			return SIM_EXIT_USAGE;
		}
	}
	if (!listen_spec || !log_path || optind != argc) {
		usage_httpd();
		return SIM_EXIT_USAGE;
	}
	prctl(PR_SET_NAME, SIM_HTTPD_COMM);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	r = listen_on(listen_spec, &h.http_fd);
	if (r < 0) {
		log_error_errno(r, "listening on %s: %m", listen_spec);
		return r == -EINVAL ? SIM_EXIT_USAGE : 1;
	}
	if (sink_spec) {
		r = listen_on(sink_spec, &h.sink_fd);
		if (r < 0) {
			log_error_errno(r, "listening on %s: %m", sink_spec);
			return r == -EINVAL ? SIM_EXIT_USAGE : 1;
		}
	}
	h.log_fd = open_log(log_path);
	if (h.log_fd < 0) {
		log_error_errno(h.log_fd, "opening %s: %m", log_path);
		return 1;
	}
	h.sink_log_fd = sink_log ? open_log(sink_log) : h.log_fd;
	if (h.sink_log_fd < 0) {
		log_error_errno(h.sink_log_fd, "opening %s: %m", sink_log);
		return 1;
	}
	h.max = conns_limit();
	h.conns = calloc(h.max, sizeof(*h.conns));
	h.pfds = calloc(h.max + 2, sizeof(*h.pfds));
	if (!h.conns || !h.pfds) {
		log_error("out of memory");
		return 1;
	}

	if (daemon) {
		if (daemonize(pid_file) < 0)
			return 1;
	} else if (pid_file) {
		r = pidfile_write(pid_file, getpid());
		if (r < 0) {
			log_error_errno(r, "writing %s: %m", pid_file);
			return 1;
		}
	}
	log_info("httpd on %s%s%s, up to %zu connections", listen_spec,
		 sink_spec ? ", sink on " : "", sink_spec ? sink_spec : "", h.max);
	return serve(&h) < 0 ? 1 : 0;
}
