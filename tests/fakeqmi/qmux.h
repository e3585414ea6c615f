/* qmux.h — QMUX framing as a modem speaks it (marker, QMUX header, QMI header, TLVs): parse one
 * frame from a byte stream, build replies and indications. Pure code, shared by the fake QMI
 * modem and its unit test; every length from the wire is checked before use. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QMUX_MARKER 0x01
#define QMUX_HDR_LEN 6		    /* marker, length (2), flags, service, client */
#define QMUX_CTL_HDR_LEN 6	    /* flags, transaction (1), message (2), TLV length (2) */
#define QMUX_SVC_HDR_LEN 7	    /* flags, transaction (2), message (2), TLV length (2) */
#define QMUX_FRAME_MAX (1 + 0xffff) /* the QMUX length field is 16 bits, marker not counted */

#define QMUX_FLAG_SERVICE 0x80 /* QMUX header: sent by the modem */

/* QMI header flags: CTL uses its own values. */
#define QMI_CTL_FLAG_RESPONSE 0x01
#define QMI_CTL_FLAG_INDICATION 0x02
#define QMI_SVC_FLAG_RESPONSE 0x02
#define QMI_SVC_FLAG_INDICATION 0x04

#define QMI_TLV_RESULT 0x02

enum qmi_service_id {
	QMI_SVC_CTL = 0x00,
	QMI_SVC_WDS = 0x01,
	QMI_SVC_DMS = 0x02,
	QMI_SVC_NAS = 0x03,
	QMI_SVC_UIM = 0x0b,
	QMI_SVC_WDA = 0x1a,
};

struct qmux_msg {
	uint8_t qmux_flags;
	uint8_t service;
	uint8_t client;
	uint8_t flags; /* QMI header flags */
	uint16_t txn;  /* 8 bits for CTL */
	uint16_t msg_id;
	const uint8_t *tlvs; /* points into the parsed buffer */
	size_t tlvs_len;
};

/* Parses the frame at the start of buf. Returns its length (> 0) when a whole, consistent frame
 * is there, 0 when more bytes are needed, -EBADMSG when buf does not start with a marker or the
 * frame's lengths disagree (the caller drops that many bytes: see qmux_resync()). */
int qmux_parse(const uint8_t *buf, size_t len, struct qmux_msg *ret);
/* How many bytes to drop after -EBADMSG so parsing can go on: up to the next marker byte, or
 * everything. Never 0 for len > 0. */
size_t qmux_resync(const uint8_t *buf, size_t len);

/* The value of TLV type in m; -ENOENT if absent. */
int qmux_tlv_get(const struct qmux_msg *m, uint8_t type, const uint8_t **ret_val,
		 uint16_t *ret_len);
/* Fixed-size little-endian TLV values: -ENOENT if absent, -EBADMSG if the length is wrong. */
int qmux_tlv_u8(const struct qmux_msg *m, uint8_t type, uint8_t *ret);
int qmux_tlv_u32(const struct qmux_msg *m, uint8_t type, uint32_t *ret);
/* A string TLV (the whole value, no length prefix) into buf, NUL-terminated; -ENOBUFS when it
 * does not fit. */
int qmux_tlv_str(const struct qmux_msg *m, uint8_t type, char *buf, size_t size);

/* Builds one frame in a caller-owned buffer. Errors stick: after an overflow every put is a
 * no-op and qmux_build_end() returns -EMSGSIZE. */
struct qmux_builder {
	uint8_t *buf;
	size_t size, len;
	size_t tlv_start;
	bool ctl, overflow;
};

void qmux_build_begin(struct qmux_builder *b, uint8_t *buf, size_t size, uint8_t service,
		      uint8_t client, uint8_t flags, uint16_t txn, uint16_t msg_id);
void qmux_put_tlv(struct qmux_builder *b, uint8_t type, const void *val, size_t len);
void qmux_put_u8(struct qmux_builder *b, uint8_t type, uint8_t v);
void qmux_put_u16(struct qmux_builder *b, uint8_t type, uint16_t v);
void qmux_put_u32(struct qmux_builder *b, uint8_t type, uint32_t v);
void qmux_put_str(struct qmux_builder *b, uint8_t type, const char *s);
/* The mandatory result TLV 0x02: status 0 success / 1 failure, and a QMI error code. */
void qmux_put_result(struct qmux_builder *b, uint16_t error);
/* Fills in the lengths; returns the frame length or -EMSGSIZE. */
int qmux_build_end(struct qmux_builder *b);

/* Little-endian helpers for building sequence TLVs by hand. */
static inline void qmux_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void qmux_le32(uint8_t *p, uint32_t v)
{
	qmux_le16(p, (uint16_t)v);
	qmux_le16(p + 2, (uint16_t)(v >> 16));
}

static inline uint16_t qmux_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t qmux_get32(const uint8_t *p)
{
	return (uint32_t)qmux_get16(p) | (uint32_t)qmux_get16(p + 2) << 16;
}
