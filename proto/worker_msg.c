/* worker_msg.c — one protobuf message per SOCK_SEQPACKET packet on the worker control socket, and
 * the checks every received message passes before either side looks at it. */
#include "proto/worker_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
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

/* 1..max bytes, each one of [a-z0-9_] or, with dash, '-' too: tokens a program can match on
 * and a Prometheus label carries without surprises. */
static bool token_ok(const char *s, size_t max, bool dash)
{
	size_t n = s ? strnlen(s, max + 1) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		      (dash && c == '-')))
			return false;
	}
	return true;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

const char *worker_status_check(const Cellmux__Worker__Status *st)
{
	if (!token_ok(st->state, WORKER_STATUS_STATE_MAX, true))
		return "Status.state is not 1..32 bytes of [a-z0-9_-]";
	if (!utf8_text_ok(st->message, WORKER_STATUS_MESSAGE_MAX))
		return "Status.message is longer than 256 bytes or not UTF-8";
	/* The message is what the log line shows: one line, no terminal escapes. */
	if (st->message && has_control(st->message))
		return "Status.message has a control character";
	if (st->n_fields > WORKER_STATUS_FIELDS_MAX)
		return "Status has more than 16 fields";
	for (size_t i = 0; i < st->n_fields; i++) {
		const Cellmux__Worker__Status__Field *f = st->fields[i];

		if (!f || !token_ok(f->key, WORKER_STATUS_KEY_MAX, false))
			return "Status.fields: a key is not 1..32 bytes of [a-z0-9_]";
		if (!utf8_text_ok(f->value, WORKER_STATUS_VALUE_MAX))
			return "Status.fields: a value is longer than 256 bytes or not UTF-8";
		/* Shown as a JSON object and looked up by key: one value per key. */
		for (size_t j = 0; j < i; j++)
			if (!strcmp(st->fields[j]->key, f->key))
				return "Status.fields: a key given twice";
	}
	return NULL;
}

void worker_status_copy(struct worker_status *out, const Cellmux__Worker__Status *st)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->state, sizeof(out->state), "%s", st->state);
	snprintf(out->message, sizeof(out->message), "%s", st->message ? st->message : "");
	for (size_t i = 0; i < st->n_fields && i < WORKER_STATUS_FIELDS_MAX; i++) {
		struct worker_status_field *f = &out->fields[out->n_fields++];

		snprintf(f->key, sizeof(f->key), "%s", st->fields[i]->key);
		snprintf(f->value, sizeof(f->value), "%s",
			 st->fields[i]->value ? st->fields[i]->value : "");
	}
	out->unix_time_ms = st->unix_time_ms;
}

static const char *worker_message_check(const Cellmux__Worker__WorkerMessage *m)
{
	switch (m->msg_case) {
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO:
		if (!m->hello || !utf8_text_ok(m->hello->worker, WORKER_MSG_TEXT_MAX) ||
		    !utf8_text_ok(m->hello->version, WORKER_MSG_TEXT_MAX))
			return "Hello: a string is too long or not UTF-8";
		return NULL;
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATUS:
		if (!m->status)
			return "Status missing";
		return worker_status_check(m->status);
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_EVENT:
		/* 0 is "no id": it could not be acked apart from nothing. */
		if (!m->event || !m->event->id)
			return "Event without an id";
		if (m->event->payload.len > WORKER_MSG_PAYLOAD_MAX)
			return "Event payload too large";
		return NULL;
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_ACK:
		/* delivered is the daemon's confirmation; a worker has nothing to confirm. */
		if (!m->ack || m->ack->n_ids > WORKER_MSG_ACK_IDS_MAX || m->ack->n_delivered)
			return "Ack with too many ids or with delivered ids";
		return NULL;
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_PUT:
		if (!m->state_put || m->state_put->data.len > WORKER_MSG_STATE_MAX)
			return "StatePut larger than WORKER_MSG_STATE_MAX";
		return NULL;
	case CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_GET:
		return m->state_get ? NULL : "StateGet without its message";
	default:
		/* Nothing set, or a case a newer worker added (it arrives as an unknown field), or
		 * the retired Report (2). */
		return "no known message set";
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

int worker_msg_recv_worker(int fd, Cellmux__Worker__WorkerMessage **ret, const char **ret_why)
{
	_cleanup_free_ uint8_t *buf = NULL;
	Cellmux__Worker__WorkerMessage *m;
	const char *why;
	size_t len;
	int r;

	r = recv_packet(fd, &buf, &len);
	if (r < 0)
		return r;
	m = cellmux__worker__worker_message__unpack(NULL, len, buf);
	if (!m) {
		if (ret_why)
			*ret_why = "does not decode";
		return -EBADMSG;
	}
	why = pbc_no_field_zero(&m->base) ? worker_message_check(m) : "field number 0";
	if (why) {
		if (ret_why)
			*ret_why = why;
		worker_msg_free_worker(m);
		return -EBADMSG;
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
