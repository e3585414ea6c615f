/* backend_msg.c — one protobuf message per WebSocket frame on the backend link, and the checks
 * each decoded frame passes: the daemon never looks at a field these have not bounded. */
#include "proto/backend_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "proto/pbc.h"
#include "proto/utf8.h"

/* The config's name rules (config_name_valid), repeated here so proto/ needs no daemon code. */
#define NAME_MAX_LEN 32
#define UPLINK_NAME_MAX_LEN 15

bool backend_msg_text_ok(const char *s, size_t max)
{
	return utf8_text_ok(s, max);
}

/* Session and profile names: [A-Za-z0-9_.-]{1,32}, not "." or "..". */
static bool name_ok(const char *s, bool may_be_empty)
{
	size_t n;

	if (!s || !*s)
		return may_be_empty;
	n = strnlen(s, NAME_MAX_LEN + 1);
	if (n > NAME_MAX_LEN || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static bool uplink_name_ok(const char *s, bool may_be_empty)
{
	size_t n;

	if (!s || !*s)
		return may_be_empty;
	n = strnlen(s, UPLINK_NAME_MAX_LEN + 1);
	if (n > UPLINK_NAME_MAX_LEN || s[0] == '_' || s[0] == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int backend_message_validate(const Cellmux__Backend__BackendMessage *m)
{
	switch (m->msg_case) {
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_WELCOME:
		return m->welcome && backend_msg_text_ok(m->welcome->backend, BACKEND_MSG_TEXT_MAX)
			   ? 0
			   : -EBADMSG;
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_ACK:
		return m->ack && m->ack->n_ids <= BACKEND_MSG_ACK_IDS_MAX ? 0 : -EBADMSG;
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_DELIVERY:
		return m->delivery && m->delivery->id && name_ok(m->delivery->session, false) &&
			       m->delivery->payload.len <= BACKEND_MSG_PAYLOAD_MAX
			   ? 0
			   : -EBADMSG;
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_START_SESSION:
		return m->start_session && name_ok(m->start_session->profile, false) &&
			       name_ok(m->start_session->name, true) &&
			       uplink_name_ok(m->start_session->uplink, true)
			   ? 0
			   : -EBADMSG;
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_STOP_SESSION:
		return m->stop_session && name_ok(m->stop_session->name, false) ? 0 : -EBADMSG;
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_UPLINK_ACTION:
		if (!m->uplink_action || !uplink_name_ok(m->uplink_action->uplink, false))
			return -EBADMSG;
		/* protobuf-c keeps an enum number it does not know as it came. */
		switch (m->uplink_action->action) {
		case CELLMUX__BACKEND__UPLINK_ACTION__ACTION__RECONNECT:
		case CELLMUX__BACKEND__UPLINK_ACTION__ACTION__DRAIN:
		case CELLMUX__BACKEND__UPLINK_ACTION__ACTION__UP:
		case CELLMUX__BACKEND__UPLINK_ACTION__ACTION__DOWN:
			return 0;
		default:
			return -EBADMSG;
		}
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_ERROR:
		return m->error && backend_msg_text_ok(m->error->message, BACKEND_MSG_TEXT_MAX)
			   ? 0
			   : -EBADMSG;
	default:
		return -EBADMSG;
	}
}

static bool uplink_ok(const Cellmux__Backend__Uplink *u)
{
	if (!u || !backend_msg_text_ok(u->name, BACKEND_MSG_TEXT_MAX) ||
	    !backend_msg_text_ok(u->state, BACKEND_MSG_TEXT_MAX) ||
	    !backend_msg_text_ok(u->driver, BACKEND_MSG_TEXT_MAX) || u->n_addresses > 64)
		return false;
	for (size_t i = 0; i < u->n_addresses; i++)
		if (!backend_msg_text_ok(u->addresses[i], BACKEND_MSG_TEXT_MAX))
			return false;
	if (u->n_gateways > 64 || u->n_dns > 64)
		return false;
	for (size_t i = 0; i < u->n_gateways; i++)
		if (!backend_msg_text_ok(u->gateways[i], BACKEND_MSG_TEXT_MAX))
			return false;
	for (size_t i = 0; i < u->n_dns; i++)
		if (!backend_msg_text_ok(u->dns[i], BACKEND_MSG_TEXT_MAX))
			return false;
	return true;
}

static bool session_ok(const Cellmux__Backend__Session *s)
{
	return s && backend_msg_text_ok(s->name, BACKEND_MSG_TEXT_MAX) &&
	       backend_msg_text_ok(s->profile, BACKEND_MSG_TEXT_MAX) &&
	       backend_msg_text_ok(s->uplink, BACKEND_MSG_TEXT_MAX) &&
	       backend_msg_text_ok(s->state, BACKEND_MSG_TEXT_MAX);
}

static bool event_ok(const Cellmux__Backend__Event *e)
{
	return e && name_ok(e->session, false) && e->payload.len <= BACKEND_MSG_PAYLOAD_MAX;
}

static int gateway_message_validate(const Cellmux__Backend__GatewayMessage *m)
{
	switch (m->msg_case) {
	case CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_HELLO:
		if (!m->hello || !backend_msg_text_ok(m->hello->gateway_id, BACKEND_MSG_TEXT_MAX) ||
		    !backend_msg_text_ok(m->hello->version, BACKEND_MSG_TEXT_MAX))
			return -EBADMSG;
		for (size_t i = 0; i < m->hello->n_uplinks; i++)
			if (!uplink_ok(m->hello->uplinks[i]))
				return -EBADMSG;
		for (size_t i = 0; i < m->hello->n_sessions; i++)
			if (!session_ok(m->hello->sessions[i]))
				return -EBADMSG;
		return 0;
	case CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_ACK:
		return m->ack && m->ack->n_ids <= BACKEND_MSG_ACK_IDS_MAX ? 0 : -EBADMSG;
	case CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_EVENT:
		return event_ok(m->event) ? 0 : -EBADMSG;
	case CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_EVENTS:
		if (!m->events || m->events->n_events > BACKEND_MSG_EVENTS_MAX)
			return -EBADMSG;
		for (size_t i = 0; i < m->events->n_events; i++)
			if (!event_ok(m->events->events[i]))
				return -EBADMSG;
		return 0;
	case CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_UPLINK_STATUS:
		return uplink_ok(m->uplink_status) ? 0 : -EBADMSG;
	case CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_SESSION_STATUS:
		return session_ok(m->session_status) ? 0 : -EBADMSG;
	case CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_USAGE:
		if (!m->usage)
			return -EBADMSG;
		for (size_t i = 0; i < m->usage->n_uplinks; i++)
			if (!m->usage->uplinks[i] ||
			    !backend_msg_text_ok(m->usage->uplinks[i]->name, BACKEND_MSG_TEXT_MAX))
				return -EBADMSG;
		for (size_t i = 0; i < m->usage->n_sessions; i++)
			if (!m->usage->sessions[i] ||
			    !backend_msg_text_ok(m->usage->sessions[i]->name, BACKEND_MSG_TEXT_MAX))
				return -EBADMSG;
		return 0;
	case CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_RESULT:
		return m->result && backend_msg_text_ok(m->result->message, BACKEND_MSG_TEXT_MAX) &&
			       backend_msg_text_ok(m->result->session, BACKEND_MSG_TEXT_MAX)
			   ? 0
			   : -EBADMSG;
	default:
		return -EBADMSG;
	}
}

int backend_msg_decode_backend(const uint8_t *buf, size_t len,
			       Cellmux__Backend__BackendMessage **ret)
{
	Cellmux__Backend__BackendMessage *m;
	int r;

	if (len > BACKEND_MSG_MAX)
		return -EMSGSIZE;
	/* An empty frame decodes to a message with nothing set: rejected below. */
	m = cellmux__backend__backend_message__unpack(NULL, len, buf);
	if (!m)
		return -EBADMSG;
	r = pbc_no_field_zero(&m->base) ? backend_message_validate(m) : -EBADMSG;
	if (r < 0) {
		backend_msg_free_backend(m);
		return r;
	}
	*ret = m;
	return 0;
}

int backend_msg_decode_gateway(const uint8_t *buf, size_t len,
			       Cellmux__Backend__GatewayMessage **ret)
{
	Cellmux__Backend__GatewayMessage *m;
	int r;

	if (len > BACKEND_MSG_MAX)
		return -EMSGSIZE;
	m = cellmux__backend__gateway_message__unpack(NULL, len, buf);
	if (!m)
		return -EBADMSG;
	r = pbc_no_field_zero(&m->base) ? gateway_message_validate(m) : -EBADMSG;
	if (r < 0) {
		backend_msg_free_gateway(m);
		return r;
	}
	*ret = m;
	return 0;
}

int backend_msg_encode(const ProtobufCMessage *m, size_t headroom, uint8_t **ret_buf,
		       size_t *ret_len)
{
	uint8_t *buf;
	size_t size;

	if (!m)
		return -EINVAL;
	size = protobuf_c_message_get_packed_size(m);
	if (size == 0)
		return -EINVAL;
	if (size > BACKEND_MSG_MAX)
		return -EMSGSIZE;
	buf = malloc(headroom + size);
	if (!buf)
		return -ENOMEM;
	if (protobuf_c_message_pack(m, buf + headroom) != size) {
		free(buf);
		return -EIO;
	}
	*ret_buf = buf;
	*ret_len = size;
	return 0;
}

void backend_msg_free_backend(Cellmux__Backend__BackendMessage *m)
{
	if (m)
		cellmux__backend__backend_message__free_unpacked(m, NULL);
}

void backend_msg_free_gateway(Cellmux__Backend__GatewayMessage *m)
{
	if (m)
		cellmux__backend__gateway_message__free_unpacked(m, NULL);
}
