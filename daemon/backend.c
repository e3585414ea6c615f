/* backend.c — the backend WebSocket client of backend.h on libwebsockets' glib event library:
 * connect, TLS verification with readable refusals, token, Hello/Welcome, framing, reconnect. */
#include "daemon/backend.h"

#include <errno.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/version.h"

#define BACKEND_TOKEN_MAX 4096
#define BACKEND_BAD_FRAMES_MAX 100 /* per connection, then the link is dropped */

enum link_state {
	LINK_IDLE,	 /* waiting for the reconnect timer */
	LINK_CONNECTING, /* TCP, TLS, HTTP upgrade */
	LINK_HELLO,	 /* WebSocket open, Hello sent, waiting for Welcome */
	LINK_UP,
};

struct frame {
	size_t len;
	uint8_t *buf; /* LWS_PRE headroom, then len bytes */
};

struct backend_link {
	struct lws_context *ctx;
	struct lws *wsi;
	const struct backend_link_ops *ops;
	void *userdata;
	enum link_state state;
	char url[512], host[256], path[512];
	int port;
	bool tls, insecure;
	char token_file[256];
	char gateway_id[64];
	GQueue tx; /* struct frame * */
	uint8_t *rx;
	size_t rx_len;
	bool rx_oversized;
	unsigned bad_frames;
	unsigned failures; /* consecutive, for the backoff */
	unsigned reconnects;
	guint retry_timer;
	char tls_error[256]; /* the verifier's reason, for the connection error line */
	bool freeing;
};

static const lws_retry_bo_t idle_policy = {
    .secs_since_valid_ping = BACKEND_PING_S,
    .secs_since_valid_hangup = BACKEND_HANGUP_S,
};

static void frame_free(gpointer p)
{
	struct frame *f = p;

	free(f->buf);
	free(f);
}

static void lws_log_to_ours(int level, const char *line)
{
	char buf[512];
	size_t n = strnlen(line, sizeof(buf) - 1);

	memcpy(buf, line, n);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	log_emit(level & LLL_ERR ? LOG_WARNING : LOG_DEBUG, "lws: %s", buf);
}

/* First line of token_file, read at every connect so a rotated token is used without restart. */
static int read_token(const struct backend_link *l, char *out, size_t size)
{
	_cleanup_fclose_ FILE *f = NULL;

	out[0] = '\0';
	if (!l->token_file[0])
		return 0;
	f = fopen(l->token_file, "re");
	if (!f)
		return negative_errno();
	if (!fgets(out, (int)size, f))
		return -ENODATA;
	out[strcspn(out, "\r\n")] = '\0';
	return out[0] ? 0 : -ENODATA;
}

static void schedule_reconnect(struct backend_link *l);

static void link_lost(struct backend_link *l, const char *why)
{
	bool was_up = l->state == LINK_UP;

	l->wsi = NULL;
	g_queue_clear_full(&l->tx, frame_free);
	free(l->rx);
	l->rx = NULL;
	l->rx_len = 0;
	if (l->freeing)
		return;
	if (why)
		log_warn("backend: %s", why);
	if (was_up || l->state == LINK_HELLO)
		l->ops->down(l->userdata);
	schedule_reconnect(l);
}

static int send_now(struct backend_link *l)
{
	/* lws buffers a partial write itself; stop at a full socket and wait for writable. */
	for (int i = 0; i < 64 && !g_queue_is_empty(&l->tx); i++) {
		struct frame *f = g_queue_pop_head(&l->tx);
		int n = lws_write(l->wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_BINARY);

		frame_free(f);
		if (n < 0)
			return -EIO;
		if (lws_send_pipe_choked(l->wsi))
			break;
	}
	if (!g_queue_is_empty(&l->tx))
		lws_callback_on_writable(l->wsi);
	else if (l->state == LINK_UP)
		l->ops->drained(l->userdata);
	return 0;
}

static void frame_received(struct backend_link *l, const uint8_t *buf, size_t len)
{
	Cellmux__Backend__BackendMessage *m = NULL;
	int r = backend_msg_decode_backend(buf, len, &m);

	if (r < 0) {
		Cellmux__Backend__GatewayMessage gm = CELLMUX__BACKEND__GATEWAY_MESSAGE__INIT;
		Cellmux__Backend__Result res = CELLMUX__BACKEND__RESULT__INIT;

		l->bad_frames++;
		log_warn("backend: bad frame of %zu bytes refused (%s)", len, strerror(-r));
		res.code = EBADMSG;
		res.message = "frame does not decode or breaks a rule of backend.proto";
		gm.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_RESULT;
		gm.result = &res;
		if (l->state == LINK_UP)
			backend_link_send(l, &gm.base);
		return;
	}
	if (l->state == LINK_HELLO) {
		if (m->msg_case != CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_WELCOME) {
			l->bad_frames = BACKEND_BAD_FRAMES_MAX;
			log_warn("backend: first frame is not Welcome (case %d), closing",
				 (int)m->msg_case);
		} else {
			lws_set_timeout(l->wsi, NO_PENDING_TIMEOUT, 0);
			l->state = LINK_UP;
			l->failures = 0;
			log_info("backend: link up to %s (%s)", l->url,
				 m->welcome->backend[0] ? m->welcome->backend : "backend");
			l->ops->up(l->userdata);
		}
	} else if (m->msg_case != CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_WELCOME) {
		l->ops->message(l->userdata, m);
	}
	backend_msg_free_backend(m);
}

static int on_receive(struct backend_link *l, const void *in, size_t len)
{
	if (lws_is_first_fragment(l->wsi)) {
		l->rx_len = 0;
		l->rx_oversized = false;
	}
	if (!l->rx_oversized && l->rx_len + len > BACKEND_MSG_MAX) {
		/* Cannot be skipped without reading it whole; the link is the cheaper loss. */
		l->rx_oversized = true;
		log_warn("backend: frame larger than %d bytes, closing the link", BACKEND_MSG_MAX);
		lws_close_reason(l->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
		return -1;
	}
	if (!l->rx) {
		l->rx = malloc(BACKEND_MSG_MAX);
		if (!l->rx)
			return -1;
	}
	memcpy(l->rx + l->rx_len, in, len);
	l->rx_len += len;
	if (!lws_is_final_fragment(l->wsi) || lws_remaining_packet_payload(l->wsi))
		return 0;
	if (lws_frame_is_binary(l->wsi))
		frame_received(l, l->rx, l->rx_len);
	else
		log_warn("backend: text frame refused, the protocol is binary");
	l->rx_len = 0;
	if (l->bad_frames >= BACKEND_BAD_FRAMES_MAX) {
		lws_close_reason(l->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
		return -1;
	}
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct backend_link *l = lws_context_user(lws_get_context(wsi));
	char buf[600];

	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION: {
		X509_STORE_CTX *x = user;
		int err = X509_STORE_CTX_get_error(x);

		/* OpenSSL decides; this only keeps its reason for the log line. */
		if (!len && err != X509_V_OK && !l->tls_error[0]) {
			X509 *cert = X509_STORE_CTX_get_current_cert(x);
			char subject[200] = "?";

			if (cert)
				X509_NAME_oneline(X509_get_subject_name(cert), subject,
						  sizeof(subject));
			snprintf(l->tls_error, sizeof(l->tls_error), "%s (certificate %s)",
				 X509_verify_cert_error_string(err), subject);
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;
		char token[BACKEND_TOKEN_MAX], value[BACKEND_TOKEN_MAX + 16];
		int r = read_token(l, token, sizeof(token));

		if (r < 0) {
			log_error_errno(r, "backend: reading token_file %s: %m", l->token_file);
			return -1;
		}
		if (!token[0])
			return 0;
		snprintf(value, sizeof(value), "Bearer %s", token);
		explicit_bzero(token, sizeof(token));
		r = lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
						 (unsigned char *)value, (int)strlen(value), p,
						 end);
		explicit_bzero(value, sizeof(value));
		return r ? -1 : 0;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		unsigned status = wsi ? lws_http_client_http_response(wsi) : 0;

		if (l->tls_error[0])
			snprintf(buf, sizeof(buf), "TLS handshake with %s:%d refused: %s", l->host,
				 l->port, l->tls_error);
		else if (status == 401 || status == 403)
			snprintf(buf, sizeof(buf),
				 "%s refused the connection: HTTP %u, the token was not accepted",
				 l->url, status);
		else if (status)
			snprintf(buf, sizeof(buf), "%s refused the upgrade: HTTP %u", l->url,
				 status);
		else
			snprintf(buf, sizeof(buf), "connecting to %s failed: %s", l->url,
				 in ? (const char *)in : "unknown error");
		l->tls_error[0] = '\0';
		link_lost(l, buf);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		l->state = LINK_HELLO;
		l->bad_frames = 0;
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, BACKEND_WELCOME_S);
		log_info("backend: connected to %s, sending hello as %s", l->url, l->gateway_id);
		l->ops->connected(l->userdata);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(l, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return send_now(l) < 0 ? -1 : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const uint8_t *b = in;
			log_warn("backend: the backend closed the link (code %u%s%.*s)",
				 (unsigned)(b[0] << 8 | b[1]), len > 2 ? ": " : "", (int)(len - 2),
				 (const char *)b + 2);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		link_lost(l, l->state == LINK_UP ? "link closed" : "link closed before Welcome");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
    {BACKEND_SUBPROTOCOL, callback, 0, 64 * 1024, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void connect_now(struct backend_link *l)
{
	struct lws_client_connect_info ci = {0};

	l->state = LINK_CONNECTING;
	l->tls_error[0] = '\0';
	ci.context = l->ctx;
	ci.address = l->host;
	ci.port = l->port;
	ci.path = l->path;
	ci.host = l->host;
	ci.origin = l->host;
	ci.protocol = BACKEND_SUBPROTOCOL;
	ci.retry_and_idle_policy = &idle_policy;
	ci.pwsi = &l->wsi;
	if (l->tls) {
		ci.ssl_connection = LCCSCF_USE_SSL;
		if (l->insecure)
			ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_ALLOW_EXPIRED |
					     LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
					     LCCSCF_ALLOW_INSECURE;
	}
	if (l->insecure)
		log_warn("backend: insecure=yes: the server's certificate and name are NOT "
			 "checked (tests only)");
	log_debug("backend: connecting to %s", l->url);
	if (!lws_client_connect_via_info(&ci)) {
		/* lws reported CONNECTION_ERROR already when it could; make sure a retry comes. */
		l->wsi = NULL;
		if (l->state == LINK_CONNECTING && !l->retry_timer)
			link_lost(l, "connect could not be started");
	}
}

static gboolean retry_due(gpointer data)
{
	struct backend_link *l = data;

	l->retry_timer = 0;
	l->reconnects++;
	connect_now(l);
	return G_SOURCE_REMOVE;
}

static void schedule_reconnect(struct backend_link *l)
{
	unsigned long long d = BACKEND_RETRY_FIRST_MS;
	unsigned delay;

	l->state = LINK_IDLE;
	if (l->retry_timer)
		return;
	for (unsigned i = 0; i < l->failures && d < BACKEND_RETRY_MAX_MS; i++)
		d *= 2;
	if (d > BACKEND_RETRY_MAX_MS)
		d = BACKEND_RETRY_MAX_MS;
	delay = (unsigned)d - g_random_int_range(0, (gint32)(d / 2) + 1);
	l->failures++;
	log_info("backend: reconnecting in %u ms", delay);
	l->retry_timer = g_timeout_add(delay, retry_due, l);
}

static int parse_url(struct backend_link *l, const char *url)
{
	char copy[512];
	const char *prot, *ads, *path;
	int port;

	snprintf(l->url, sizeof(l->url), "%s", url);
	snprintf(copy, sizeof(copy), "%s", url);
	if (lws_parse_uri(copy, &prot, &ads, &port, &path))
		return -EINVAL;
	if (!strcmp(prot, "wss"))
		l->tls = true;
	else if (strcmp(prot, "ws"))
		return -EINVAL;
	snprintf(l->host, sizeof(l->host), "%s", ads);
	snprintf(l->path, sizeof(l->path), "/%s", path);
	l->port = port;
	return l->host[0] ? 0 : -EINVAL;
}

int backend_link_new(const struct cfg_backend *cfg, GMainLoop *loop,
		     const struct backend_link_ops *ops, void *userdata, struct backend_link **ret)
{
	struct lws_context_creation_info info = {0};
	void *loops[] = {loop};
	struct backend_link *l;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	g_queue_init(&l->tx);
	l->ops = ops;
	l->userdata = userdata;
	l->insecure = cfg->insecure;
	snprintf(l->token_file, sizeof(l->token_file), "%s", cfg->token_file);
	if (cfg->gateway_id[0])
		snprintf(l->gateway_id, sizeof(l->gateway_id), "%s", cfg->gateway_id);
	else if (gethostname(l->gateway_id, sizeof(l->gateway_id) - 1) < 0)
		snprintf(l->gateway_id, sizeof(l->gateway_id), "gateway");
	r = parse_url(l, cfg->url);
	if (r < 0) {
		log_error("backend: cannot parse url=%s", cfg->url);
		free(l);
		return r;
	}
	/* Process-wide in lws: errors and warnings only, into our log. */
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.foreign_loops = loops;
	info.user = l;
	info.fd_limit_per_thread = 16;
	info.timeout_secs = 15;
	info.connect_timeout_secs = 10;
	if (cfg->ca[0])
		info.client_ssl_ca_filepath = cfg->ca;
	if (cfg->cert[0]) {
		info.client_ssl_cert_filepath = cfg->cert;
		info.client_ssl_private_key_filepath = cfg->key;
	}
	l->ctx = lws_create_context(&info);
	if (!l->ctx) {
		log_error("backend: creating the lws context failed (CA %s, cert %s)",
			  cfg->ca[0] ? cfg->ca : "system", cfg->cert[0] ? cfg->cert : "none");
		free(l);
		return -EIO;
	}
	connect_now(l);
	*ret = l;
	return 0;
}

void backend_link_free(struct backend_link *l)
{
	if (!l)
		return;
	l->freeing = true;
	if (l->retry_timer)
		g_source_remove(l->retry_timer);
	lws_context_destroy(l->ctx);
	g_queue_clear_full(&l->tx, frame_free);
	free(l->rx);
	free(l);
}

int backend_link_send(struct backend_link *l, const ProtobufCMessage *m)
{
	struct frame *f;
	int r;

	if (!l->wsi || (l->state != LINK_HELLO && l->state != LINK_UP))
		return -ENOTCONN;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	r = backend_msg_encode(m, LWS_PRE, &f->buf, &f->len);
	if (r < 0) {
		free(f);
		return r;
	}
	g_queue_push_tail(&l->tx, f);
	lws_callback_on_writable(l->wsi);
	return 0;
}

bool backend_link_is_up(const struct backend_link *l)
{
	return l && l->state == LINK_UP;
}

size_t backend_link_queued(const struct backend_link *l)
{
	return l ? g_queue_get_length((GQueue *)&l->tx) : 0;
}

unsigned backend_link_reconnects(const struct backend_link *l)
{
	return l ? l->reconnects : 0;
}

const char *backend_link_gateway_id(const struct backend_link *l)
{
	return l->gateway_id;
}
