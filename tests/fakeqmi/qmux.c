/* qmux.c — QMUX frame parsing and building for the fake QMI modem (see qmux.h). The modem side
 * of libqmi's qmi-message.c checks, so a frame the fake accepts is one libqmi would send. */
#include "tests/fakeqmi/qmux.h"

#include <errno.h>
#include <string.h>

static size_t hdr_len(uint8_t service)
{
	return service == QMI_SVC_CTL ? QMUX_CTL_HDR_LEN : QMUX_SVC_HDR_LEN;
}

int qmux_parse(const uint8_t *buf, size_t len, struct qmux_msg *ret)
{
	size_t frame, hl, tlv_len, off;
	const uint8_t *q;

	if (len == 0)
		return 0;
	if (buf[0] != QMUX_MARKER)
		return -EBADMSG;
	if (len < 3)
		return 0;
	frame = (size_t)qmux_get16(buf + 1) + 1;
	if (frame < QMUX_HDR_LEN + QMUX_CTL_HDR_LEN)
		return -EBADMSG;
	if (len < frame)
		return 0;
	hl = hdr_len(buf[4]);
	if (frame < QMUX_HDR_LEN + hl)
		return -EBADMSG;
	q = buf + QMUX_HDR_LEN;
	tlv_len = qmux_get16(q + hl - 2);
	if (QMUX_HDR_LEN + hl + tlv_len != frame)
		return -EBADMSG;
	/* Every TLV must lie inside the frame: a length from the wire is never trusted. */
	for (off = 0; off < tlv_len;) {
		if (tlv_len - off < 3)
			return -EBADMSG;
		size_t vlen = qmux_get16(q + hl + off + 1);
		if (vlen > tlv_len - off - 3)
			return -EBADMSG;
		off += 3 + vlen;
	}
	*ret = (struct qmux_msg){
	    .qmux_flags = buf[3],
	    .service = buf[4],
	    .client = buf[5],
	    .flags = q[0],
	    .txn = buf[4] == QMI_SVC_CTL ? q[1] : qmux_get16(q + 1),
	    .msg_id = qmux_get16(q + hl - 4),
	    .tlvs = q + hl,
	    .tlvs_len = tlv_len,
	};
	return (int)frame;
}

size_t qmux_resync(const uint8_t *buf, size_t len)
{
	const uint8_t *m;

	if (len <= 1)
		return len;
	m = memchr(buf + 1, QMUX_MARKER, len - 1);
	return m ? (size_t)(m - buf) : len;
}

int qmux_tlv_get(const struct qmux_msg *m, uint8_t type, const uint8_t **ret_val, uint16_t *ret_len)
{
	/* qmux_parse() checked the TLV chain, so the walk stays inside. */
	for (size_t off = 0; off + 3 <= m->tlvs_len;) {
		uint16_t vlen = qmux_get16(m->tlvs + off + 1);

		if (m->tlvs[off] == type) {
			*ret_val = m->tlvs + off + 3;
			*ret_len = vlen;
			return 0;
		}
		off += 3 + (size_t)vlen;
	}
	return -ENOENT;
}

int qmux_tlv_u8(const struct qmux_msg *m, uint8_t type, uint8_t *ret)
{
	const uint8_t *v;
	uint16_t n;
	int r = qmux_tlv_get(m, type, &v, &n);

	if (r < 0)
		return r;
	if (n != 1)
		return -EBADMSG;
	*ret = v[0];
	return 0;
}

int qmux_tlv_u32(const struct qmux_msg *m, uint8_t type, uint32_t *ret)
{
	const uint8_t *v;
	uint16_t n;
	int r = qmux_tlv_get(m, type, &v, &n);

	if (r < 0)
		return r;
	if (n != 4)
		return -EBADMSG;
	*ret = qmux_get32(v);
	return 0;
}

int qmux_tlv_str(const struct qmux_msg *m, uint8_t type, char *buf, size_t size)
{
	const uint8_t *v;
	uint16_t n;
	int r = qmux_tlv_get(m, type, &v, &n);

	if (r < 0)
		return r;
	if ((size_t)n >= size)
		return -ENOBUFS;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return 0;
}

static uint8_t *reserve(struct qmux_builder *b, size_t n)
{
	uint8_t *p;

	if (b->overflow || b->size - b->len < n) {
		b->overflow = true;
		return NULL;
	}
	p = b->buf + b->len;
	b->len += n;
	return p;
}

void qmux_build_begin(struct qmux_builder *b, uint8_t *buf, size_t size, uint8_t service,
		      uint8_t client, uint8_t flags, uint16_t txn, uint16_t msg_id)
{
	uint8_t *p;

	*b = (struct qmux_builder){.buf = buf, .size = size, .ctl = service == QMI_SVC_CTL};
	p = reserve(b, QMUX_HDR_LEN + hdr_len(service));
	if (!p)
		return;
	p[0] = QMUX_MARKER;
	p[3] = QMUX_FLAG_SERVICE;
	p[4] = service;
	p[5] = client;
	p[6] = flags;
	if (b->ctl) {
		p[7] = (uint8_t)txn;
		qmux_le16(p + 8, msg_id);
	} else {
		qmux_le16(p + 7, txn);
		qmux_le16(p + 9, msg_id);
	}
	b->tlv_start = b->len;
}

void qmux_put_tlv(struct qmux_builder *b, uint8_t type, const void *val, size_t len)
{
	uint8_t *p;

	if (len > 0xffff) {
		b->overflow = true;
		return;
	}
	p = reserve(b, 3 + len);
	if (!p)
		return;
	p[0] = type;
	qmux_le16(p + 1, (uint16_t)len);
	if (len)
		memcpy(p + 3, val, len);
}

void qmux_put_u8(struct qmux_builder *b, uint8_t type, uint8_t v)
{
	qmux_put_tlv(b, type, &v, 1);
}

void qmux_put_u16(struct qmux_builder *b, uint8_t type, uint16_t v)
{
	uint8_t p[2];

	qmux_le16(p, v);
	qmux_put_tlv(b, type, p, sizeof(p));
}

void qmux_put_u32(struct qmux_builder *b, uint8_t type, uint32_t v)
{
	uint8_t p[4];

	qmux_le32(p, v);
	qmux_put_tlv(b, type, p, sizeof(p));
}

void qmux_put_str(struct qmux_builder *b, uint8_t type, const char *s)
{
	qmux_put_tlv(b, type, s, strlen(s));
}

void qmux_put_result(struct qmux_builder *b, uint16_t error)
{
	uint8_t p[4];

	qmux_le16(p, error ? 1 : 0);
	qmux_le16(p + 2, error);
	qmux_put_tlv(b, QMI_TLV_RESULT, p, sizeof(p));
}

int qmux_build_end(struct qmux_builder *b)
{
	size_t hl = b->ctl ? QMUX_CTL_HDR_LEN : QMUX_SVC_HDR_LEN;

	if (b->overflow || b->len - 1 > 0xffff)
		return -EMSGSIZE;
	qmux_le16(b->buf + 1, (uint16_t)(b->len - 1));
	qmux_le16(b->buf + QMUX_HDR_LEN + hl - 2, (uint16_t)(b->len - b->tlv_start));
	return (int)b->len;
}
