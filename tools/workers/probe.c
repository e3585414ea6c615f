/* probe.c — cellmux-probe, the example session worker: every few seconds it fetches a URL (and
 * optionally resolves a name) from inside its uplink and sends each round's outcome to cellmuxd as
 * a Status: state "ok" or "failed", a one-line message, the HTTP details as fields. The control
 * protocol is libcellmux-worker's (worker/cellmux-worker.h); the poll loop is the probe's own. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "proto/worker_msg.h"
#include "worker/cellmux-worker.h"

#define PROBE_NAME "cellmux-probe"
#define PROBE_VERSION "0.1"
#define DEFAULT_URL "http://198.18.0.1/ip"
#define DEFAULT_INTERVAL 5.0
#define DEFAULT_TIMEOUT 10.0
#define SECONDS_MAX 86400.0
#define LOG_BODY_MAX 80 /* escaped body bytes in the per-round log line */
#define PROBE_BODY_MAX 4096 /* body bytes kept; a Status carries the first WORKER_STATUS_VALUE_MAX */
#define PROBE_ADDRS_MAX 64  /* addresses kept of one lookup */

struct probe {
	const char *url;
	const char *resolve; /* NULL: no lookup */
	double interval;     /* seconds between round starts */
	double timeout;      /* seconds for one whole HTTP fetch */
	unsigned long count; /* rounds before exiting; 0 = forever */

	struct cmxw *w; /* NULL: standalone, rounds go to stdout */
	int sig_fd;
	char *session; /* NULL when unknown */
	char *uplink;
	bool stop;
	int fatal; /* a -errno met where it could not be returned, e.g. in a curl callback */
	uint64_t seq;
};

struct round {
	uint64_t unix_time_ms;
	char addr_buf[PROBE_ADDRS_MAX][INET6_ADDRSTRLEN];
	char *addrs[PROBE_ADDRS_MAX];
	size_t n_addrs;
	char resolve_error[256];

	long status;
	char body[PROBE_BODY_MAX + 1];
	size_t body_len;
	bool body_cut; /* more body came than we keep, so the transfer was cut short */
	char error[CURL_ERROR_SIZE];
	uint64_t latency_us;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROBE_NAME " [OPTIONS]\n"
		"Fetch a URL every few seconds and send each round's status to cellmuxd, or print it\n"
		"on stdout when " WORKER_ENV_CONTROL_FD " is unset.\n"
		"\n"
		"  --url URL        http(s) URL to GET (default " DEFAULT_URL ")\n"
		"  --interval SECS  time between round starts (default 5)\n"
		"  --resolve NAME   also look NAME up through /etc/resolv.conf each round\n"
		"  --count N        exit after N rounds; 0 = run until stopped (default 0)\n"
		"  --timeout SECS   limit for one fetch (default 10)\n"
		"  -h, --help       show this help\n"
		"\n"
		"Only the first %d bytes of a body are kept; a longer transfer is cut there,\n"
		"which spares a metered uplink.\n",
		PROBE_BODY_MAX);
}

static uint64_t now_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int parse_seconds(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > SECONDS_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_count(const char *s, unsigned long *ret)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* What we put in a Status must pass the daemon's checks, so refuse it here, with a message. */
static bool text_fits(const char *s, size_t max)
{
	size_t len = strlen(s);
	_cleanup_free_ char *copy = NULL;

	if (len > max)
		return false;
	copy = strdup(s);
	return copy && worker_msg_text_sanitize(copy, len) == len && !strcmp(copy, s);
}

/* An HTTP header value must not smuggle in CR/LF or other controls. */
static bool header_safe(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 256)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* s quoted with controls, backslash and the quote character escaped; cut with "..." to fit. */
static void escape_into(char *out, size_t size, const char *s, char quote)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char rep[8];
		size_t n;

		if (c == '\n')
			n = (size_t)snprintf(rep, sizeof(rep), "\\n");
		else if (c == '\r')
			n = (size_t)snprintf(rep, sizeof(rep), "\\r");
		else if (c == '\t')
			n = (size_t)snprintf(rep, sizeof(rep), "\\t");
		else if (c == '\\' || c == (unsigned char)quote)
			n = (size_t)snprintf(rep, sizeof(rep), "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			n = (size_t)snprintf(rep, sizeof(rep), "\\x%02x", c);
		else
			n = (size_t)snprintf(rep, sizeof(rep), "%c", c);
		/* Keep room for "..." unless this is the last character and it fits exactly. */
		if (o + n + (s[1] ? 3 : 0) >= size) {
			snprintf(out + o, size - o, "...");
			return;
		}
		memcpy(out + o, rep, n);
		o += n;
	}
	out[o] = '\0';
}

static int set_text(char **dst, const char *s)
{
	char *copy = NULL;

	if (s && *s) {
		copy = strdup(s);
		if (!copy)
			return -ENOMEM;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

static void on_welcome(struct cmxw *w, const struct cmxw_welcome *wl, void *userdata)
{
	struct probe *p = userdata;
	const char *session = wl->session ?: "";
	int r;

	/* The daemon is the authority on names; the environment was only a first guess. */
	if (session[0] && !header_safe(session)) {
		log_warn("welcome: session name unfit for a header, ignoring it");
	} else {
		r = set_text(&p->session, session);
		if (r < 0)
			goto fail;
	}
	r = set_text(&p->uplink, wl->uplink);
	if (r < 0)
		goto fail;
	log_info("welcome: session '%s' on uplink '%s'", p->session ?: "", p->uplink ?: "");
	return;
fail:
	p->fatal = log_error_errno(r, "cannot handle a daemon message: %m");
}

static void on_stop(struct cmxw *w, void *userdata)
{
	struct probe *p = userdata;

	log_info("daemon asked to stop");
	p->stop = true;
}

/* A broken message is dropped with a warning: the daemon's next message may well be the Stop we
 * must not miss. */
static void on_bad_message(struct cmxw *w, int error, void *userdata)
{
	log_warn_errno(error, "dropped a bad message from the daemon: %m");
}

static bool daemon_gone(int r)
{
	return r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN;
}

/* Reads what the daemon sent; the library calls back for each message. */
static int read_control(struct probe *p)
{
	int r;

	r = cmxw_dispatch(p->w);
	if (daemon_gone(r)) {
		log_info("daemon closed the control socket, exiting");
		p->stop = true;
		return 0;
	}
	if (r < 0)
		return log_error_errno(r, "cannot read the control socket: %m");
	return p->fatal;
}

static int read_signal(struct probe *p)
{
	struct signalfd_siginfo si;
	ssize_t n;

	n = read(p->sig_fd, &si, sizeof(si));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		return log_error_errno(negative_errno(), "signalfd: %m");
	if (n == sizeof(si)) {
		log_info("%s, exiting", strsignal((int)si.ssi_signo));
		p->stop = true;
	}
	return 0;
}

/* Waits up to timeout_ms (0: just looks) for a signal or a daemon message and acts on it. */
static int probe_poll(struct probe *p, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = p->sig_fd, .events = POLLIN },
		{ .fd = p->w ? cmxw_fd(p->w) : -1, .events = POLLIN }, /* poll() skips a negative fd */
	};
	int lib_ms = p->w ? cmxw_timeout_ms(p->w) : -1, r;

	/* The library's timed work (none while the probe sends no events) comes due too. */
	if (lib_ms >= 0 && (timeout_ms < 0 || lib_ms < timeout_ms))
		timeout_ms = lib_ms;
	r = poll(pfd, ARRAY_SIZE(pfd), timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : log_error_errno(negative_errno(), "poll: %m");
	if (pfd[0].revents) {
		r = read_signal(p);
		if (r < 0)
			return r;
	}
	/* POLLHUP/POLLERR as well: the read then reports the closed socket. */
	if (p->w && (pfd[1].revents || cmxw_timeout_ms(p->w) == 0) && !p->stop) {
		r = read_control(p);
		if (r < 0)
			return r;
	}
	return 0;
}

static int wait_until(struct probe *p, uint64_t deadline_us)
{
	while (!p->stop) {
		uint64_t now = now_us(CLOCK_MONOTONIC);
		int r;

		if (now >= deadline_us)
			return 0;
		r = probe_poll(p, (int)((deadline_us - now + 999) / 1000));
		if (r < 0)
			return r;
	}
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct round *rd = userdata;
	size_t n = size * nmemb, room = PROBE_BODY_MAX - rd->body_len;

	memcpy(rd->body + rd->body_len, data, n < room ? n : room);
	if (n > room) {
		rd->body_len = PROBE_BODY_MAX;
		rd->body_cut = true;
		return 0; /* ends the transfer with CURLE_WRITE_ERROR */
	}
	rd->body_len += n;
	return n;
}

/* libcurl calls this often while a transfer runs, so a Stop or SIGTERM cuts a slow fetch short
 * instead of waiting out --timeout. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct probe *p = userdata;
	int r;

	r = probe_poll(p, 0);
	if (r < 0)
		p->fatal = r;
	return p->stop || p->fatal < 0;
}

static void round_resolve(struct probe *p, struct round *rd)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int r;

	r = getaddrinfo(p->resolve, NULL, &hints, &res);
	if (r != 0) {
		snprintf(rd->resolve_error, sizeof(rd->resolve_error), "%s",
			 r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		worker_msg_text_sanitize(rd->resolve_error, strlen(rd->resolve_error));
		return;
	}
	for (struct addrinfo *ai = res; ai && rd->n_addrs < PROBE_ADDRS_MAX;
	     ai = ai->ai_next) {
		char *a = rd->addr_buf[rd->n_addrs];
		const void *src;
		bool dup = false;

		if (ai->ai_family == AF_INET)
			src = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			src = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (!inet_ntop(ai->ai_family, src, a, INET6_ADDRSTRLEN))
			continue;
		for (size_t i = 0; i < rd->n_addrs; i++)
			dup = dup || !strcmp(rd->addrs[i], a);
		if (!dup)
			rd->addrs[rd->n_addrs++] = a;
	}
	freeaddrinfo(res);
}

static int round_fetch(struct probe *p, struct round *rd)
{
	struct curl_slist *headers = NULL;
	char header[300];
	CURLcode c;
	CURL *curl;
	uint64_t t0;
	int r = 0;

	/* A fresh handle per round: no connection or DNS cache carried over, so every round
	 * measures what a new client would see, even after the session moved to another uplink. */
	curl = curl_easy_init();
	if (!curl)
		return -ENOMEM;
	if (p->session) {
		snprintf(header, sizeof(header), "X-Cellmux-Session: %s", p->session);
		headers = curl_slist_append(NULL, header);
		if (!headers) {
			r = -ENOMEM;
			goto out;
		}
	}
	c = curl_easy_setopt(curl, CURLOPT_URL, p->url);
	if (!c)
		c = curl_easy_setopt(curl, CURLOPT_USERAGENT, PROBE_NAME "/" PROBE_VERSION);
	if (!c)
		c = curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (!c) /* no SIGALRM games around the resolver; we own the signal mask */
		c = curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (!c)
		c = curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(p->timeout * 1000));
#if LIBCURL_VERSION_NUM >= 0x075500
	if (!c)
		c = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	if (!c)
		c = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	if (!c)
		c = curl_easy_setopt(curl, CURLOPT_WRITEDATA, rd);
	if (!c)
		c = curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	if (!c)
		c = curl_easy_setopt(curl, CURLOPT_XFERINFODATA, p);
	if (!c)
		c = curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	if (!c)
		c = curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, rd->error);
	if (c) {
		log_error("cannot set up libcurl: %s", curl_easy_strerror(c));
		r = c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
		goto out;
	}

	t0 = now_us(CLOCK_MONOTONIC);
	c = curl_easy_perform(curl);
	rd->latency_us = now_us(CLOCK_MONOTONIC) - t0;
	if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &rd->status) != CURLE_OK ||
	    rd->status < 0 || rd->status > 999)
		rd->status = 0;

	if (c == CURLE_WRITE_ERROR && rd->body_cut)
		c = CURLE_OK; /* we cut it ourselves once the body we keep was full */
	if (c == CURLE_OK)
		rd->error[0] = '\0';
	else if (!rd->error[0])
		snprintf(rd->error, sizeof(rd->error), "%s", curl_easy_strerror(c));
	worker_msg_text_sanitize(rd->error, strlen(rd->error));

	rd->body_len = worker_msg_text_sanitize(rd->body, rd->body_len);
	while (rd->body_len > 0 &&
	       (rd->body[rd->body_len - 1] == '\n' || rd->body[rd->body_len - 1] == '\r'))
		rd->body[--rd->body_len] = '\0';
out:
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return r;
}

static void round_log(const struct probe *p, const struct round *rd)
{
	char body[LOG_BODY_MAX + 1], dns[512] = "";

	if (p->resolve) {
		size_t o = (size_t)snprintf(dns, sizeof(dns), "; %s ->", p->resolve);

		if (rd->resolve_error[0] && o < sizeof(dns))
			snprintf(dns + o, sizeof(dns) - o, " error: %s", rd->resolve_error);
		for (size_t i = 0; i < rd->n_addrs && o < sizeof(dns); i++)
			o += (size_t)snprintf(dns + o, sizeof(dns) - o, " %s", rd->addrs[i]);
	}
	if (rd->error[0]) {
		log_warn("GET %s -> %s%s", p->url, rd->error, dns);
		return;
	}
	escape_into(body, sizeof(body), rd->body, '\'');
	log_info("GET %s -> %ld '%s' (%.1f ms)%s", p->url, rd->status, body,
		 rd->latency_us / 1000.0, dns);
}

static void print_quoted(const char *key, const char *s)
{
	/* Worst case every byte becomes \xHH. */
	static char buf[4 * PROBE_BODY_MAX + 4];

	escape_into(buf, sizeof(buf), s, '"');
	printf(" %s=\"%s\"", key, buf);
}

/* Standalone output: one logfmt line per round, for operators and scripts. */
static void round_print(const struct probe *p, const struct round *rd)
{
	printf("seq=%" PRIu64 " time_ms=%" PRIu64, p->seq, rd->unix_time_ms);
	print_quoted("url", p->url);
	printf(" status=%ld latency_us=%" PRIu64, rd->status, rd->latency_us);
	print_quoted("body", rd->body);
	if (rd->error[0])
		print_quoted("error", rd->error);
	if (p->resolve) {
		print_quoted("resolve", p->resolve);
		printf(" addresses=");
		for (size_t i = 0; i < rd->n_addrs; i++)
			printf("%s%s", i ? "," : "", rd->addrs[i]);
		if (rd->resolve_error[0])
			print_quoted("resolve_error", rd->resolve_error);
	}
	printf("\n");
	fflush(stdout);
}

/* The first bytes of src (valid UTF-8) that fit a Status value, cut on a character boundary. */
static void fit(char *dst, const char *src)
{
	size_t n = strnlen(src, CMXW_STATUS_VALUE_MAX);

	memcpy(dst, src, n);
	worker_msg_text_sanitize(dst, n);
}

struct status_buf {
	struct cmxw_field fields[CMXW_STATUS_FIELDS_MAX];
	char value[CMXW_STATUS_FIELDS_MAX][CMXW_STATUS_VALUE_MAX + 1];
	size_t n;
};

/* Keys are ours and fewer than CMXW_STATUS_FIELDS_MAX; an empty value is left out. */
static void add_field(struct status_buf *sb, const char *key, const char *value)
{
	if (!value[0] || sb->n >= CMXW_STATUS_FIELDS_MAX)
		return;
	fit(sb->value[sb->n], value);
	sb->fields[sb->n].key = key;
	sb->fields[sb->n].value = sb->value[sb->n];
	sb->n++;
}

/* The message goes into the daemon's log line: no control characters. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* No answer, a refusal (4xx, 5xx) or a failed lookup: the uplink did not do what we asked. */
static bool round_failed(const struct round *rd)
{
	return rd->error[0] || rd->resolve_error[0] || rd->status < 200 || rd->status >= 400;
}

static int round_send(const struct probe *p, struct round *rd)
{
	_cleanup_free_ struct status_buf *sb = calloc(1, sizeof(*sb));
	/* Room for the longest message we write; what is sent is cut to the bound below. */
	char message[1024], num[32], addrs[CMXW_STATUS_VALUE_MAX + 1];
	size_t o = 0;

	if (!sb)
		return -ENOMEM;
	if (rd->error[0])
		snprintf(message, sizeof(message), "GET failed: %s", rd->error);
	else if (rd->resolve_error[0])
		snprintf(message, sizeof(message), "HTTP %ld in %.1f ms; lookup of %s failed: %s",
			 rd->status, rd->latency_us / 1000.0, p->resolve, rd->resolve_error);
	else
		snprintf(message, sizeof(message), "HTTP %ld in %.1f ms", rd->status,
			 rd->latency_us / 1000.0);
	/* Cut to the bound on a character boundary. */
	worker_msg_text_sanitize(message, strnlen(message, CMXW_STATUS_MESSAGE_MAX));
	one_line(message);

	snprintf(num, sizeof(num), "%" PRIu64, p->seq);
	add_field(sb, "round", num);
	add_field(sb, "url", p->url);
	snprintf(num, sizeof(num), "%ld", rd->status);
	add_field(sb, "http_status", num);
	snprintf(num, sizeof(num), "%" PRIu64, rd->latency_us);
	add_field(sb, "latency_us", num);
	add_field(sb, "error", rd->error);
	add_field(sb, "body", rd->body);
	if (p->resolve) {
		/* Whole addresses only, as many as fit one value. */
		addrs[0] = '\0';
		for (size_t i = 0; i < rd->n_addrs; i++) {
			size_t n = strlen(rd->addrs[i]) + (i ? 1 : 0);

			if (o + n > CMXW_STATUS_VALUE_MAX)
				break;
			o += (size_t)snprintf(addrs + o, sizeof(addrs) - o, "%s%s", i ? "," : "",
					      rd->addrs[i]);
		}
		add_field(sb, "resolved_name", p->resolve);
		add_field(sb, "resolved_addresses", addrs);
		add_field(sb, "resolve_error", rd->resolve_error);
	}

	return cmxw_status_at(p->w, rd->unix_time_ms, round_failed(rd) ? "failed" : "ok", message,
			      sb->fields, sb->n);
}

static int probe_round(struct probe *p)
{
	_cleanup_free_ struct round *rd = NULL;
	int r;

	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return log_error_errno(-ENOMEM, "cannot start a round: %m");
	rd->unix_time_ms = now_us(CLOCK_REALTIME) / 1000;
	p->seq++;

	if (p->resolve)
		round_resolve(p, rd);
	r = round_fetch(p, rd);
	if (r < 0)
		return log_error_errno(r, "cannot fetch %s: %m", p->url);
	if (p->fatal < 0)
		return p->fatal;
	if (p->stop)
		return 0; /* the fetch was cut short for it: not a round worth reporting */

	round_log(p, rd);
	if (!p->w) {
		round_print(p, rd);
		return 0;
	}
	r = round_send(p, rd);
	if (daemon_gone(r)) {
		log_info("daemon closed the control socket, exiting");
		p->stop = true;
		return 0;
	}
	if (r < 0)
		return log_error_errno(r, "cannot send the status of round %" PRIu64 ": %m", p->seq);
	return 0;
}

static int send_hello(struct probe *p)
{
	int r;

	r = cmxw_hello(p->w, PROBE_NAME, PROBE_VERSION);
	if (daemon_gone(r)) {
		log_info("daemon closed the control socket, exiting");
		p->stop = true;
		return 0;
	}
	if (r < 0)
		return log_error_errno(r, "cannot send hello: %m");
	return 0;
}

/* The inherited control socket: must be what the daemon promises, a SOCK_SEQPACKET socket. */
static int control_fd_from_env(int *ret)
{
	const char *e = getenv(WORKER_ENV_CONTROL_FD);
	int type, fd;
	socklen_t len = sizeof(type);
	char *end;
	long v;

	if (!e) {
		*ret = -1;
		return 0;
	}
	errno = 0;
	v = strtol(e, &end, 10);
	if (errno || end == e || *end || v < 0 || v > INT_MAX) {
		log_error("%s='%s' is not a file descriptor number", WORKER_ENV_CONTROL_FD, e);
		return -EINVAL;
	}
	fd = (int)v;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return log_error_errno(negative_errno(), "%s=%d: %m", WORKER_ENV_CONTROL_FD, fd);
	if (type != SOCK_SEQPACKET) {
		log_error("%s=%d is not a SOCK_SEQPACKET socket", WORKER_ENV_CONTROL_FD, fd);
		return -ENOTSOCK;
	}
	/* Nothing we might start should inherit the daemon's line. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return log_error_errno(negative_errno(), "%s=%d: %m", WORKER_ENV_CONTROL_FD, fd);
	*ret = fd;
	return 0;
}

static int parse_args(struct probe *p, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "interval", required_argument, NULL, 'i' },
		{ "resolve", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
		switch (c) {
		case 'u':
			/* It travels as a Status field value, whole. */
			if (!text_fits(optarg, WORKER_STATUS_VALUE_MAX) || !*optarg) {
				log_error("--url: not a UTF-8 string of 1 to %d bytes",
					  WORKER_STATUS_VALUE_MAX);
				return -EINVAL;
			}
			p->url = optarg;
			break;
		case 'i':
			if (parse_seconds(optarg, &p->interval) < 0) {
				log_error("--interval '%s': want seconds, > 0 and <= %.0f", optarg,
					  SECONDS_MAX);
				return -EINVAL;
			}
			break;
		case 't':
			if (parse_seconds(optarg, &p->timeout) < 0 || p->timeout < 0.001) {
				log_error("--timeout '%s': want seconds, >= 0.001 and <= %.0f",
					  optarg, SECONDS_MAX);
				return -EINVAL;
			}
			break;
		case 'r':
			/* It travels as a Status field value, whole. */
			if (!text_fits(optarg, WORKER_STATUS_VALUE_MAX) || !*optarg) {
				log_error("--resolve: not a UTF-8 string of 1 to %d bytes",
					  WORKER_STATUS_VALUE_MAX);
				return -EINVAL;
			}
			p->resolve = optarg;
			break;
		case 'c':
			if (parse_count(optarg, &p->count) < 0) {
				log_error("--count '%s': want a number of rounds, 0 = forever",
					  optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int probe_setup(struct probe *p)
{
	static const struct cmxw_callbacks cb = {
		.on_welcome = on_welcome,
		.on_stop = on_stop,
		.on_bad_message = on_bad_message,
	};
	const char *session = getenv(WORKER_ENV_SESSION), *uplink = getenv(WORKER_ENV_UPLINK);
	sigset_t mask;
	int r, fd = -1;

	/* Signals arrive on a signalfd next to the control socket, so one poll() waits for both
	 * without a race; libcurl's resolver threads inherit the blocked mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(negative_errno(), "sigprocmask: %m");
	p->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (p->sig_fd < 0)
		return log_error_errno(negative_errno(), "signalfd: %m");

	/* The probe's own checks, not cmxw_open_env(): they say what is wrong, and set CLOEXEC. */
	r = control_fd_from_env(&fd);
	if (r < 0)
		return r;
	if (fd >= 0) {
		r = cmxw_open_fd(fd, &cb, p, &p->w);
		if (r < 0) {
			close(fd);
			return log_error_errno(r, "%s=%d: %m", WORKER_ENV_CONTROL_FD, fd);
		}
	}
	if (session && !header_safe(session)) {
		log_warn("%s has characters unfit for a header, not sending it",
			 WORKER_ENV_SESSION);
		session = NULL;
	}
	if (set_text(&p->session, session) < 0 || set_text(&p->uplink, uplink) < 0)
		return log_error_errno(-ENOMEM, "%m");
	return 0;
}

int main(int argc, char **argv)
{
	struct probe p = {
		.url = DEFAULT_URL,
		.interval = DEFAULT_INTERVAL,
		.timeout = DEFAULT_TIMEOUT,
		.sig_fd = -1,
	};
	uint64_t next;
	CURLcode c;
	int r;

	log_open(PROBE_NAME);
	if (parse_args(&p, argc, argv) < 0)
		return EXIT_FAILURE;
	r = probe_setup(&p);
	if (r < 0)
		goto out;
	c = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (c) {
		log_error("cannot initialise libcurl: %s", curl_easy_strerror(c));
		r = -EIO;
		goto out;
	}
	log_info("probing %s every %gs%s%s, %s", p.url, p.interval,
		 p.session ? " for session " : "", p.session ?: "",
		 p.w ? "reporting to cellmuxd" : "standalone");

	if (p.w) {
		r = send_hello(&p);
		if (r < 0)
			goto out_curl;
	}
	next = now_us(CLOCK_MONOTONIC);
	while (!p.stop) {
		r = probe_round(&p);
		if (r < 0 || p.stop)
			break;
		if (p.count && p.seq >= p.count)
			break;
		/* Fixed cadence from the first round; after an overrun the next starts at once. */
		next += (uint64_t)(p.interval * 1e6);
		if (next < now_us(CLOCK_MONOTONIC))
			next = now_us(CLOCK_MONOTONIC);
		r = wait_until(&p, next);
		if (r < 0)
			break;
	}
out_curl:
	curl_global_cleanup();
out:
	free(p.session);
	free(p.uplink);
	if (p.sig_fd >= 0)
		close(p.sig_fd);
	cmxw_close(p.w);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
