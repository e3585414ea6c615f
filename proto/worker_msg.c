/* worker_msg.c — one protobuf message per SOCK_SEQPACKET packet on the worker control socket, and
 * the checks every received message passes before either side looks at it. */
#include "proto/worker_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/macro.h"
#include "proto/pbc.h"
#include "proto/utf8.h"

size_t worker_msg_text_sanitize(char *s, size_t len)
{
	unsigned char *u = (unsigned char *)s;
	size_t i = 0, o = 0;

	while (i < len) {
		int r = u[i] ? utf8_char(u + i, len - i) : 0;

		if (r < 0)
			break;
		if (r == 0) {
			u[o++] = '?';
			i++;
			continue;
		}
		memmove(u + o, u + i, r);
		o += r;
		i += r;
	}
	s[o] = '\0';
	return o;
}

static bool address_ok(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	if (!s || strnlen(s, WORKER_MSG_ADDR_MAX + 1) > WORKER_MSG_ADDR_MAX)
		return false;
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int report_validate(const Cellmux__Worker__Report *r)
{
	if (!utf8_text_ok(r->url, WORKER_MSG_TEXT_MAX) || !utf8_text_ok(r->body, WORKER_MSG_BODY_MAX) ||
	    !utf8_text_ok(r->error, WORKER_MSG_TEXT_MAX) ||
	    !utf8_text_ok(r->resolved_name, WORKER_MSG_TEXT_MAX) ||
	    !utf8_text_ok(r->resolve_error, WORKER_MSG_TEXT_MAX))
		return -EBADMSG;
	/* No status at all, or any three-digit one: servers do send codes outside 100..599. */
	if (r->http_status < 0 || r->http_status > 999)
		return -EBADMSG;
	if (r->n_resolved_addresses > WORKER_MSG_ADDRS_MAX)
		return -EBADMSG;
	if (r->n_resolved_addresses > 0 && (!r->resolved_name || !r->resolved_name[0]))
		return -EBADMSG;
	for (size_t i = 0; i < r->n_resolved_addresses; i++)
		if (!address_ok(r->resolved_addresses[i]))
			return -EBADMSG;
	return 0;
}

static int worker_message_validate(const Cellmux__Worker__WorkerMessage *m)
{
	switch (m->msg_case) {
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO:
		if (!m->hello || !utf8_text_ok(m->hello->worker, WORKER_MSG_TEXT_MAX) ||
		    !utf8_text_ok(m->hello->version, WORKER_MSG_TEXT_MAX))
			return -EBADMSG;
		return 0;
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_REPORT:
		if (!m->report)
			return -EBADMSG;
		return report_validate(m->report);
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_EVENT:
		/* 0 is "no id": it could not be acked apart from nothing. */
		if (!m->event || !m->event->id || m->event->payload.len > WORKER_MSG_PAYLOAD_MAX)
			return -EBADMSG;
		return 0;
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_ACK:
		/* delivered is the daemon's confirmation; a worker has nothing to confirm. */
		if (!m->ack || m->ack->n_ids > WORKER_MSG_ACK_IDS_MAX || m->ack->n_delivered)
			return -EBADMSG;
		return 0;
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_PUT:
		if (!m->state_put || m->state_put->data.len > WORKER_MSG_STATE_MAX)
			return -EBADMSG;
		return 0;
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_GET:
		return m->state_get ? 0 : -EBADMSG;
	default:
		/* Nothing set, or a case a newer worker added (it arrives as an unknown field). */
		return -EBADMSG;
	}
}

static int daemon_message_validate(const Cellmux__Worker__DaemonMessage *m)
{
	switch (m->msg_case) {
	case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME:
		if (!m->welcome || !utf8_text_ok(m->welcome->session, WORKER_MSG_TEXT_MAX) ||
		    !utf8_text_ok(m->welcome->uplink, WORKER_MSG_TEXT_MAX))
			return -EBADMSG;
		return 0;
	case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STOP:
		return m->stop ? 0 : -EBADMSG;
	case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_DELIVERY:
		if (!m->delivery || !m->delivery->id ||
		    m->delivery->payload.len > WORKER_MSG_PAYLOAD_MAX)
			return -EBADMSG;
		return 0;
	case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_ACK:
		if (!m->ack || m->ack->n_ids > WORKER_MSG_ACK_IDS_MAX ||
		    m->ack->n_delivered > WORKER_MSG_ACK_IDS_MAX)
			return -EBADMSG;
		return 0;
	case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STATE:
		/* Data only with found and no error: a worker must never mistake a refusal for
		 * its state. */
		if (!m->state || m->state->data.len > WORKER_MSG_STATE_MAX || m->state->error < 0 ||
		    (m->state->data.len && (!m->state->found || m->state->error)))
			return -EBADMSG;
		return 0;
	default:
		return -EBADMSG;
	}
}

int worker_msg_send(int fd, const ProtobufCMessage *m)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t size;
	ssize_t n;

	if (fd < 0 || !m)
		return -EINVAL;
	size = protobuf_c_message_get_packed_size(m);
	if (size == 0)
		return -EINVAL;
	if (size > WORKER_MSG_MAX)
		return -EMSGSIZE;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	if (protobuf_c_message_pack(m, buf) != size)
		return -EIO;
	do
		n = send(fd, buf, size, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	/* A seqpacket send is all or nothing; anything else is a kernel we do not understand. */
	if ((size_t)n != size)
		return -EIO;
	return 0;
}

/* One packet into a fresh buffer. MSG_TRUNC makes recv() report the packet's real length, so an
 * oversized packet is detected (and, being a seqpacket, discarded whole) instead of being read
 * as a truncated message that might still decode. */
static int recv_packet(int fd, uint8_t **ret_buf, size_t *ret_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	ssize_t n;

	if (fd < 0)
		return -EINVAL;
	buf = malloc(WORKER_MSG_MAX);
	if (!buf)
		return -ENOMEM;
	do
		n = recv(fd, buf, WORKER_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	/* worker_msg_send() never sends an empty packet: zero bytes can only mean end-of-file. */
	if (n == 0)
		return -ECONNRESET;
	if ((size_t)n > WORKER_MSG_MAX)
		return -EMSGSIZE;
	*ret_buf = TAKE_PTR(buf);
	*ret_len = (size_t)n;
	return 0;
}

int worker_msg_recv_worker(int fd, Cellmux__Worker__WorkerMessage **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	Cellmux__Worker__WorkerMessage *m;
	size_t len;
	int r;

	r = recv_packet(fd, &buf, &len);
	if (r < 0)
		return r;
	m = cellmux__worker__worker_message__unpack(NULL, len, buf);
	if (!m)
		return -EBADMSG;
	r = pbc_no_field_zero(&m->base) ? worker_message_validate(m) : -EBADMSG;
	if (r < 0) {
		worker_msg_free_worker(m);
		return r;
	}
	*ret = m;
	return 0;
}

int worker_msg_recv_daemon(int fd, Cellmux__Worker__DaemonMessage **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	Cellmux__Worker__DaemonMessage *m;
	size_t len;
	int r;

	r = recv_packet(fd, &buf, &len);
	if (r < 0)
		return r;
	m = cellmux__worker__daemon_message__unpack(NULL, len, buf);
	if (!m)
		return -EBADMSG;
	r = pbc_no_field_zero(&m->base) ? daemon_message_validate(m) : -EBADMSG;
	if (r < 0) {
		worker_msg_free_daemon(m);
		return r;
	}
	*ret = m;
	return 0;
}

void worker_msg_free_worker(Cellmux__Worker__WorkerMessage *m)
{
	if (m)
		cellmux__worker__worker_message__free_unpacked(m, NULL);
}

void worker_msg_free_daemon(Cellmux__Worker__DaemonMessage *m)
{
	if (m)
		cellmux__worker__daemon_message__free_unpacked(m, NULL);
}
