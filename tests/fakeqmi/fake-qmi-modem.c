/* fake-qmi-modem.c — a stand-in for qmi-proxy with fake modems behind it: speaks QMUX on abstract
 * unix sockets (real qmicli -p and cellmux's qmi driver both talk to it), and takes injections
 * (drop, new address, broken frames, vanish, mute) on a control socket. A test helper. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/netns.h"
#include "tests/fakeqmi/qmux.h"

#define MAX_MODEMS 64
#define MAX_CONNS 256
#define MAX_LISTEN 8
#define MAX_CIDS 32 /* per connection */
#define PROC_NAME "fake-qmi-modem"

/* QMI message ids the fake answers. */
enum {
	CTL_SET_INSTANCE_ID = 0x0020,
	CTL_GET_VERSION_INFO = 0x0021,
	CTL_ALLOCATE_CID = 0x0022,
	CTL_RELEASE_CID = 0x0023,
	CTL_SET_DATA_FORMAT = 0x0026,
	CTL_SYNC = 0x0027,
	CTL_INTERNAL_PROXY_OPEN = 0xff00,
	WDS_RESET = 0x0000,
	WDS_SET_EVENT_REPORT = 0x0001,
	WDS_START_NETWORK = 0x0020,
	WDS_STOP_NETWORK = 0x0021,
	WDS_PACKET_SERVICE_STATUS = 0x0022, /* request and indication */
	WDS_GET_CURRENT_SETTINGS = 0x002d,
	WDS_SET_IP_FAMILY = 0x004d,
	DMS_GET_IDS = 0x0025,
	DMS_UIM_VERIFY_PIN = 0x0028,
	DMS_UIM_GET_PIN_STATUS = 0x002b,
	DMS_GET_OPERATING_MODE = 0x002d,
	DMS_SET_OPERATING_MODE = 0x002e,
	DMS_UIM_GET_ICCID = 0x003c,
	DMS_UIM_GET_IMSI = 0x0043,
	NAS_REGISTER_INDICATIONS = 0x0003,
	NAS_GET_SIGNAL_STRENGTH = 0x0020,
	NAS_GET_SERVING_SYSTEM = 0x0024,
	NAS_GET_SIGNAL_INFO = 0x004f,
	WDA_SET_DATA_FORMAT = 0x0020,
	WDA_GET_DATA_FORMAT = 0x0021,
};

enum {
	ERR_NONE = 0,
	ERR_INTERNAL = 3,
	ERR_CLIENT_IDS_EXHAUSTED = 5,
	ERR_INVALID_CLIENT_ID = 7,
	ERR_INVALID_HANDLE = 9,
	ERR_INCORRECT_PIN = 12,
	ERR_CALL_FAILED = 14,
	ERR_OUT_OF_CALL = 15,
	ERR_MISSING_ARGUMENT = 17,
	ERR_NO_EFFECT = 26,
	ERR_INVALID_TRANSITION = 60,
	ERR_INVALID_SERVICE_TYPE = 31,
	ERR_INVALID_QMI_COMMAND = 71,
};

#define WDS_STATUS_DISCONNECTED 1
#define WDS_STATUS_CONNECTED 2
#define WDS_FAMILY_V4 4
#define WDS_FAMILY_V6 6
#define CALL_END_NO_SERVICE 3
#define CALL_END_CLIENT_END 2
#define RADIO_LTE 8
/* DMS operating modes */
#define MODE_ONLINE 0
#define MODE_LOW_POWER 1
#define MODE_OFFLINE 3
#define MODE_RESET 4
#define RESET_MS 1000 /* how long a reset modem is gone before it enumerates again */
#define LLP_802_3 1
#define LLP_RAW_IP 2

struct cid_ref {
	uint8_t service, cid;
	uint8_t family; /* WDS: what Set IP Family chose */
};

struct conn {
	int fd;
	int modem; /* -1 until the proxy open named a device */
	uint8_t *buf;
	size_t len;
	struct cid_ref cids[MAX_CIDS];
	size_t n_cids;
};

struct modem {
	char path[64];
	bool present;
	/* identity and radio */
	char imei[16], imsi[16], iccid[21], operator_name[32], pin[9];
	uint16_t mcc, mnc;
	int8_t rssi;
	int16_t rsrp;
	bool pin_verified;
	bool raw_ip; /* whether WDA accepts raw-ip */
	/* what the next (or the current) data session gets */
	struct in_addr addr, gw, dns[2];
	uint8_t plen;
	uint32_t mtu;
	unsigned fail_starts; /* so many Start Network requests fail before one succeeds */
	/* state */
	bool connected;
	uint32_t handle;
	struct conn *owner;
	uint8_t owner_cid;
	uint8_t next_cid[256];
	uint32_t llp;
	/* what the last Start Network asked for */
	char apn[101], user[65];
	int auth, family;
	unsigned starts, stops, drops, opens, refused;
	/* DMS operating mode; a reset takes the modem away (as a USB re-enumeration does) and
	 * brings it back online RESET_MS later */
	uint8_t mode;
	unsigned resets, offlines;
	bool reset_due;
	int64_t back_at_ms; /* 0: not resetting */
	/* A wedged modem: its port stays open and takes requests, and the services muted here
	 * answer none of them (nor indicate anything). qmi-proxy's own open is not the modem's
	 * to answer: the proxy opens the port without a QMI exchange and replies itself. */
	bool muted[256]; /* by QMI service */
	unsigned unanswered;
};

static struct modem modems[MAX_MODEMS];
static int n_modems = 3;
static struct conn *conns[MAX_CONNS];
static int listen_fds[MAX_LISTEN];
static int n_listen;
static int ctl_fd = -1;
static uint32_t next_handle = 0x12340001;

/* ---- modems ---- */

/* Luhn check digit, so IMEIs and ICCIDs look like what a modem reports. */
static char luhn(const char *digits)
{
	int sum = 0, n = (int)strlen(digits);

	for (int i = 0; i < n; i++) {
		int d = digits[n - 1 - i] - '0';
		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

static void modem_init(struct modem *m, int i)
{
	char d[20];

	*m = (struct modem){.present = true,
			    .raw_ip = true,
			    .plen = 24,
			    .mtu = 1500,
			    .mcc = 999,
			    .mnc = 99,
			    .rsrp = -95,
			    .llp = LLP_802_3,
			    .family = 0};
	snprintf(m->path, sizeof(m->path), "/dev/cdc-wdm%d", i);
	snprintf(d, sizeof(d), "35000000%06d", i % 1000000);
	snprintf(m->imei, sizeof(m->imei), "%.14s%c", d, luhn(d));
	snprintf(m->imsi, sizeof(m->imsi), "99999%010d", i);
	snprintf(d, sizeof(d), "899990000000%06d", i % 1000000);
	snprintf(m->iccid, sizeof(m->iccid), "%.18s%c", d, luhn(d));
	snprintf(m->operator_name, sizeof(m->operator_name), "Fake Carrier %d", i);
	m->rssi = (int8_t)(-60 - i);
	/* The sim's carrier i: subscriber 100.64.i.2/24 behind 100.64.i.1, which also resolves. */
	m->addr.s_addr = htonl(0x64400002u | (uint32_t)(i & 0xff) << 8);
	m->gw.s_addr = htonl(0x64400001u | (uint32_t)(i & 0xff) << 8);
	m->dns[0] = m->gw;
	for (int s = 0; s < 256; s++)
		m->next_cid[s] = 1;
}

/* A port number freed by an unplugged modem may be given to another one (as the kernel does):
 * the modem present there wins over one that left it. */
static int modem_by_path(const char *path)
{
	int gone = -1;

	for (int i = 0; i < n_modems; i++) {
		if (strcmp(modems[i].path, path))
			continue;
		if (modems[i].present)
			return i;
		if (gone < 0)
			gone = i;
	}
	return gone;
}

/* ---- connections ---- */

static void conn_send(struct conn *c, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_debug("conn %d: send: %m", c->fd);
			return; /* a dead peer is noticed on the next read */
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void send_frame(struct conn *c, struct qmux_builder *b)
{
	int n = qmux_build_end(b);

	if (n < 0) {
		log_error("frame too big to build");
		return;
	}
	conn_send(c, b->buf, (size_t)n);
}

static struct cid_ref *conn_cid(struct conn *c, uint8_t service, uint8_t cid)
{
	for (size_t i = 0; i < c->n_cids; i++)
		if (c->cids[i].service == service && c->cids[i].cid == cid)
			return &c->cids[i];
	return NULL;
}

static void indicate_status(struct modem *m, struct conn *c, uint8_t cid, uint8_t status,
			    bool reconf, uint16_t end_reason)
{
	static uint8_t buf[256];
	struct qmux_builder b;
	uint8_t st[2] = {status, reconf};

	if (m->muted[QMI_SVC_WDS])
		return; /* a wedged modem tells nothing either */
	qmux_build_begin(&b, buf, sizeof(buf), QMI_SVC_WDS, cid, QMI_SVC_FLAG_INDICATION, 0,
			 WDS_PACKET_SERVICE_STATUS);
	qmux_put_tlv(&b, 0x01, st, sizeof(st));
	if (status == WDS_STATUS_DISCONNECTED)
		qmux_put_u16(&b, 0x10, end_reason);
	qmux_put_u8(&b, 0x12, WDS_FAMILY_V4);
	send_frame(c, &b);
}

/* The call ends; the owner hears about it unless it is the one going away. */
static void call_end(struct modem *m, uint16_t reason, bool tell)
{
	if (!m->connected)
		return;
	m->connected = false;
	if (tell && m->owner)
		indicate_status(m, m->owner, m->owner_cid, WDS_STATUS_DISCONNECTED, false, reason);
	m->owner = NULL;
}

static void conn_close(int slot)
{
	struct conn *c = conns[slot];

	/* qmi-proxy disowns the CIDs of a client that goes away without releasing them; the
	 * modem keeps the call (qmicli --client-no-release-cid relies on it), now ownerless. */
	for (int i = 0; i < n_modems; i++)
		if (modems[i].owner == c)
			modems[i].owner = NULL;
	log_info("conn %d closed (modem %d)", c->fd, c->modem);
	close(c->fd);
	free(c->buf);
	free(c);
	conns[slot] = NULL;
}

static int conn_slot(struct conn *c)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i] == c)
			return i;
	return -1;
}

/* ---- requests ---- */

static void reply_begin(struct qmux_builder *b, uint8_t *buf, size_t size, const struct qmux_msg *q)
{
	uint8_t flags = q->service == QMI_SVC_CTL ? QMI_CTL_FLAG_RESPONSE : QMI_SVC_FLAG_RESPONSE;

	qmux_build_begin(b, buf, size, q->service, q->client, flags, q->txn, q->msg_id);
}

static void put_in_addr(struct qmux_builder *b, uint8_t type, struct in_addr a)
{
	/* QMI carries IPv4 addresses as a little-endian number: 1.2.3.4 is 0x01020304. */
	qmux_put_u32(b, type, ntohl(a.s_addr));
}

/* Returns false to close the connection, as qmi-proxy does when it cannot open a device. */
static bool handle_ctl(struct conn *c, const struct qmux_msg *q, struct qmux_builder *b)
{
	struct modem *m = c->modem >= 0 ? &modems[c->modem] : NULL;
	char path[256];
	uint8_t v[2];

	if (q->msg_id == CTL_INTERNAL_PROXY_OPEN) {
		int i;

		if (qmux_tlv_str(q, 0x01, path, sizeof(path)) < 0)
			return false;
		i = modem_by_path(path);
		if (i < 0 || !modems[i].present) {
			if (i >= 0)
				modems[i].refused++;
			log_info("conn %d: proxy open of %s: no such device", c->fd, path);
			return false;
		}
		c->modem = i;
		modems[i].opens++;
		log_info("conn %d: proxy open of %s", c->fd, path);
		qmux_put_result(b, ERR_NONE);
		return true;
	}
	if (!m)
		return false; /* qmi-proxy talks to nobody before the open */
	switch (q->msg_id) {
	case CTL_GET_VERSION_INFO: {
		static const uint8_t svcs[][3] = {
		    {QMI_SVC_CTL, 1, 5},  {QMI_SVC_WDS, 1, 67}, {QMI_SVC_DMS, 1, 14},
		    {QMI_SVC_NAS, 1, 25}, {QMI_SVC_WDA, 1, 16},
		};
		uint8_t list[1 + ARRAY_SIZE(svcs) * 5];

		list[0] = ARRAY_SIZE(svcs);
		for (size_t i = 0; i < ARRAY_SIZE(svcs); i++) {
			list[1 + i * 5] = svcs[i][0];
			qmux_le16(&list[2 + i * 5], svcs[i][1]);
			qmux_le16(&list[4 + i * 5], svcs[i][2]);
		}
		qmux_put_result(b, ERR_NONE);
		qmux_put_tlv(b, 0x01, list, sizeof(list));
		break;
	}
	case CTL_ALLOCATE_CID: {
		uint8_t svc;

		if (qmux_tlv_u8(q, 0x01, &svc) < 0) {
			qmux_put_result(b, ERR_MISSING_ARGUMENT);
			break;
		}
		if (svc != QMI_SVC_WDS && svc != QMI_SVC_DMS && svc != QMI_SVC_NAS &&
		    svc != QMI_SVC_WDA) {
			qmux_put_result(b, ERR_INVALID_SERVICE_TYPE);
			break;
		}
		if (c->n_cids >= MAX_CIDS || m->next_cid[svc] == 0xff) {
			qmux_put_result(b, ERR_CLIENT_IDS_EXHAUSTED);
			break;
		}
		c->cids[c->n_cids++] = (struct cid_ref){svc, m->next_cid[svc], WDS_FAMILY_V4};
		v[0] = svc;
		v[1] = m->next_cid[svc]++;
		qmux_put_result(b, ERR_NONE);
		qmux_put_tlv(b, 0x01, v, 2);
		break;
	}
	case CTL_RELEASE_CID: {
		const uint8_t *val;
		uint16_t n;
		struct cid_ref *r;

		if (qmux_tlv_get(q, 0x01, &val, &n) < 0 || n != 2) {
			qmux_put_result(b, ERR_MISSING_ARGUMENT);
			break;
		}
		r = conn_cid(c, val[0], val[1]);
		if (!r) {
			qmux_put_result(b, ERR_INVALID_CLIENT_ID);
			break;
		}
		if (m->owner == c && m->owner_cid == val[1] && val[0] == QMI_SVC_WDS)
			call_end(m, CALL_END_CLIENT_END, false);
		*r = c->cids[--c->n_cids];
		qmux_put_result(b, ERR_NONE);
		qmux_put_tlv(b, 0x01, val, 2);
		break;
	}
	case CTL_SET_DATA_FORMAT: {
		const uint8_t *val;
		uint16_t n, proto = LLP_802_3;

		if (qmux_tlv_get(q, 0x10, &val, &n) == 0 && n == 2)
			proto = qmux_get16(val);
		if (proto == LLP_RAW_IP && !m->raw_ip)
			proto = LLP_802_3;
		m->llp = proto;
		qmux_put_result(b, ERR_NONE);
		qmux_put_u16(b, 0x10, proto);
		break;
	}
	case CTL_SYNC:
		/* Sync releases every client of this connection, as the modem does for all. */
		if (m->owner == c)
			call_end(m, CALL_END_CLIENT_END, false);
		c->n_cids = 0;
		qmux_put_result(b, ERR_NONE);
		break;
	case CTL_SET_INSTANCE_ID:
		qmux_put_result(b, ERR_NONE);
		qmux_put_u16(b, 0x01, 0xff00);
		break;
	default:
		qmux_put_result(b, ERR_INVALID_QMI_COMMAND);
	}
	return true;
}

static void handle_wds(struct conn *c, struct modem *m, struct cid_ref *cl,
		       const struct qmux_msg *q, struct qmux_builder *b)
{
	uint8_t u8;
	uint32_t u32;

	switch (q->msg_id) {
	case WDS_RESET:
	case WDS_SET_EVENT_REPORT:
		qmux_put_result(b, ERR_NONE);
		break;
	case WDS_SET_IP_FAMILY:
		if (qmux_tlv_u8(q, 0x01, &u8) < 0) {
			qmux_put_result(b, ERR_MISSING_ARGUMENT);
			break;
		}
		cl->family = u8;
		qmux_put_result(b, ERR_NONE);
		break;
	case WDS_START_NETWORK:
		m->apn[0] = m->user[0] = '\0';
		qmux_tlv_str(q, 0x14, m->apn, sizeof(m->apn));
		qmux_tlv_str(q, 0x17, m->user, sizeof(m->user));
		m->auth = qmux_tlv_u8(q, 0x16, &u8) == 0 ? u8 : -1;
		m->family = qmux_tlv_u8(q, 0x19, &u8) == 0 ? u8 : cl->family;
		m->starts++;
		if (m->connected) {
			qmux_put_result(b, ERR_NO_EFFECT);
			break;
		}
		if (m->fail_starts > 0 || m->family == WDS_FAMILY_V6 || m->mode != MODE_ONLINE) {
			if (m->fail_starts > 0)
				m->fail_starts--;
			qmux_put_result(b, ERR_CALL_FAILED);
			qmux_put_u16(b, 0x10, CALL_END_NO_SERVICE);
			break;
		}
		m->connected = true;
		m->handle = next_handle++;
		m->owner = c;
		m->owner_cid = q->client;
		log_info("modem %s: connected, handle 0x%08x, apn '%s'", m->path, m->handle,
			 m->apn);
		qmux_put_result(b, ERR_NONE);
		qmux_put_u32(b, 0x01, m->handle);
		break;
	case WDS_STOP_NETWORK:
		if (qmux_tlv_u32(q, 0x01, &u32) < 0) {
			qmux_put_result(b, ERR_MISSING_ARGUMENT);
			break;
		}
		/* 0xffffffff is the global handle: whatever call is up, even one whose owner
		 * went away (a restarted daemon does not know the handle any more). */
		if (!m->connected || (u32 != m->handle && u32 != 0xffffffff)) {
			qmux_put_result(b, ERR_INVALID_HANDLE);
			break;
		}
		m->stops++;
		log_info("modem %s: stopped, handle 0x%08x", m->path, u32);
		qmux_put_result(b, ERR_NONE);
		/* The reply goes first; the modem's indication follows it, as on hardware. */
		send_frame(c, b);
		call_end(m, CALL_END_CLIENT_END, true);
		b->overflow = true; /* already sent */
		break;
	case WDS_PACKET_SERVICE_STATUS:
		qmux_put_result(b, ERR_NONE);
		qmux_put_u8(b, 0x01, m->connected ? WDS_STATUS_CONNECTED : WDS_STATUS_DISCONNECTED);
		break;
	case WDS_GET_CURRENT_SETTINGS: {
		struct in_addr mask = {htonl(m->plen ? ~0u << (32 - m->plen) : 0)};

		if (!m->connected) {
			qmux_put_result(b, ERR_OUT_OF_CALL);
			break;
		}
		qmux_put_result(b, ERR_NONE);
		qmux_put_str(b, 0x14, m->apn);
		put_in_addr(b, 0x15, m->dns[0]);
		if (m->dns[1].s_addr)
			put_in_addr(b, 0x16, m->dns[1]);
		put_in_addr(b, 0x1e, m->addr);
		put_in_addr(b, 0x20, m->gw);
		put_in_addr(b, 0x21, mask);
		qmux_put_u32(b, 0x29, m->mtu);
		qmux_put_u8(b, 0x2b, WDS_FAMILY_V4);
		break;
	}
	default:
		qmux_put_result(b, ERR_INVALID_QMI_COMMAND);
	}
}

static void handle_dms(struct modem *m, const struct qmux_msg *q, struct qmux_builder *b)
{
	switch (q->msg_id) {
	case DMS_GET_IDS:
		qmux_put_result(b, ERR_NONE);
		qmux_put_str(b, 0x10, "0");
		qmux_put_str(b, 0x11, m->imei);
		qmux_put_str(b, 0x13, "01");
		break;
	case DMS_UIM_GET_ICCID:
		qmux_put_result(b, ERR_NONE);
		qmux_put_str(b, 0x01, m->iccid);
		break;
	case DMS_UIM_GET_IMSI:
		if (m->pin[0] && !m->pin_verified) {
			qmux_put_result(b, ERR_INTERNAL); /* locked SIM: no IMSI */
			break;
		}
		qmux_put_result(b, ERR_NONE);
		qmux_put_str(b, 0x01, m->imsi);
		break;
	case DMS_UIM_GET_PIN_STATUS: {
		/* enabled-not-verified (1), enabled-verified (2) or disabled (3); 3 tries, 10 PUK
		 */
		uint8_t st[3] = {m->pin[0] ? (m->pin_verified ? 2 : 1) : 3, 3, 10};

		qmux_put_result(b, ERR_NONE);
		qmux_put_tlv(b, 0x11, st, sizeof(st));
		break;
	}
	case DMS_UIM_VERIFY_PIN: {
		const uint8_t *v;
		uint16_t n;
		uint8_t retries[2] = {3, 10};

		if (qmux_tlv_get(q, 0x01, &v, &n) < 0 || n < 2 || v[1] != n - 2) {
			qmux_put_result(b, ERR_MISSING_ARGUMENT);
			break;
		}
		if (strlen(m->pin) == v[1] && !memcmp(m->pin, v + 2, v[1])) {
			m->pin_verified = true;
			qmux_put_result(b, ERR_NONE);
		} else {
			retries[0] = 2;
			qmux_put_result(b, ERR_INCORRECT_PIN);
		}
		qmux_put_tlv(b, 0x10, retries, sizeof(retries));
		break;
	}
	case DMS_GET_OPERATING_MODE:
		qmux_put_result(b, ERR_NONE);
		qmux_put_u8(b, 0x01, m->mode);
		break;
	case DMS_SET_OPERATING_MODE: {
		uint8_t mode;

		if (qmux_tlv_u8(q, 0x01, &mode) < 0) {
			qmux_put_result(b, ERR_MISSING_ARGUMENT);
			break;
		}
		/* As on hardware: RF off ends the call; a reset is accepted only from offline,
		 * and the reply goes out before the modem drops off the bus (serve()). */
		if (mode == MODE_RESET && m->mode != MODE_OFFLINE) {
			qmux_put_result(b, ERR_INVALID_TRANSITION);
			break;
		}
		if (mode != MODE_ONLINE && mode != MODE_LOW_POWER && mode != MODE_OFFLINE &&
		    mode != MODE_RESET) {
			qmux_put_result(b, ERR_INVALID_TRANSITION);
			break;
		}
		if (mode == MODE_OFFLINE || mode == MODE_LOW_POWER) {
			call_end(m, CALL_END_NO_SERVICE, true);
			m->offlines++;
		}
		if (mode == MODE_RESET) {
			m->reset_due = true;
			m->resets++;
		}
		log_info("modem %s: operating mode %u -> %u", m->path, m->mode, mode);
		m->mode = mode;
		qmux_put_result(b, ERR_NONE);
		break;
	}
	default:
		qmux_put_result(b, ERR_INVALID_QMI_COMMAND);
	}
}

static void handle_nas(struct modem *m, const struct qmux_msg *q, struct qmux_builder *b)
{
	uint8_t v[64];

	switch (q->msg_id) {
	case NAS_REGISTER_INDICATIONS:
		qmux_put_result(b, ERR_NONE);
		break;
	case NAS_GET_SIGNAL_STRENGTH:
		qmux_put_result(b, ERR_NONE);
		v[0] = (uint8_t)m->rssi;
		v[1] = RADIO_LTE;
		qmux_put_tlv(b, 0x01, v, 2);
		v[0] = 1; /* RSSI list: one element, the value as a positive number of -dBm */
		v[1] = (uint8_t)-m->rssi;
		v[2] = RADIO_LTE;
		qmux_put_tlv(b, 0x11, v, 3);
		v[0] = (uint8_t)-9; /* RSRQ -9 dB on LTE */
		v[1] = RADIO_LTE;
		qmux_put_tlv(b, 0x16, v, 2);
		qmux_put_u16(b, 0x17, 120); /* LTE SNR 12.0 dB, in tenths */
		qmux_put_u16(b, 0x18, (uint16_t)m->rsrp);
		break;
	case NAS_GET_SIGNAL_INFO:
		qmux_put_result(b, ERR_NONE);
		v[0] = (uint8_t)m->rssi;
		v[1] = (uint8_t)-9;
		qmux_le16(&v[2], (uint16_t)m->rsrp);
		qmux_le16(&v[4], 120);
		qmux_put_tlv(b, 0x14, v, 6);
		break;
	case NAS_GET_SERVING_SYSTEM: {
		size_t len = strlen(m->operator_name);

		/* registered, CS and PS attached, 3GPP network, one radio interface: LTE */
		uint8_t ss[] = {1, 1, 1, 2, 1, RADIO_LTE};
		qmux_put_result(b, ERR_NONE);
		qmux_put_tlv(b, 0x01, ss, sizeof(ss));
		qmux_put_u8(b, 0x10, 1); /* roaming off */
		qmux_le16(&v[0], m->mcc);
		qmux_le16(&v[2], m->mnc);
		v[4] = (uint8_t)len;
		memcpy(&v[5], m->operator_name, len);
		qmux_put_tlv(b, 0x12, v, 5 + len);
		break;
	}
	default:
		qmux_put_result(b, ERR_INVALID_QMI_COMMAND);
	}
}

static void handle_wda(struct modem *m, const struct qmux_msg *q, struct qmux_builder *b)
{
	uint32_t llp;

	switch (q->msg_id) {
	case WDA_SET_DATA_FORMAT:
		if (qmux_tlv_u32(q, 0x11, &llp) == 0)
			m->llp = llp == LLP_RAW_IP && !m->raw_ip ? LLP_802_3 : llp;
		/* The answer is the format now in force, as for a get. */
		/* fall through */
	case WDA_GET_DATA_FORMAT:
		qmux_put_result(b, ERR_NONE);
		qmux_put_u8(b, 0x10, 0);
		qmux_put_u32(b, 0x11, m->llp);
		qmux_put_u32(b, 0x12, 0); /* no aggregation */
		qmux_put_u32(b, 0x13, 0);
		break;
	default:
		qmux_put_result(b, ERR_INVALID_QMI_COMMAND);
	}
}

/* Returns false when the connection must go. */
static bool handle(struct conn *c, const struct qmux_msg *q)
{
	static uint8_t buf[4096];
	struct qmux_builder b;
	struct cid_ref *cl;
	struct modem *m;

	if (q->qmux_flags & QMUX_FLAG_SERVICE)
		return true; /* not a request: a confused peer, ignore like a modem would */
	if (c->modem >= 0 && modems[c->modem].muted[q->service] &&
	    !(q->service == QMI_SVC_CTL && q->msg_id == CTL_INTERNAL_PROXY_OPEN)) {
		m = &modems[c->modem];
		m->unanswered++;
		log_info("modem %s: muted: no answer to service 0x%02x message 0x%04x", m->path,
			 q->service, q->msg_id);
		return true;
	}
	reply_begin(&b, buf, sizeof(buf), q);
	if (q->service == QMI_SVC_CTL) {
		if (!handle_ctl(c, q, &b))
			return false;
		send_frame(c, &b);
		return true;
	}
	if (c->modem < 0)
		return false;
	m = &modems[c->modem];
	cl = conn_cid(c, q->service, q->client);
	if (!cl) {
		qmux_put_result(&b, ERR_INVALID_CLIENT_ID);
		send_frame(c, &b);
		return true;
	}
	switch (q->service) {
	case QMI_SVC_WDS:
		handle_wds(c, m, cl, q, &b);
		break;
	case QMI_SVC_DMS:
		handle_dms(m, q, &b);
		break;
	case QMI_SVC_NAS:
		handle_nas(m, q, &b);
		break;
	case QMI_SVC_WDA:
		handle_wda(m, q, &b);
		break;
	default:
		qmux_put_result(&b, ERR_INVALID_SERVICE_TYPE);
	}
	if (!b.overflow)
		send_frame(c, &b);
	return true;
}

/* Reads what is there and answers every whole frame; returns false when the peer is gone. */
static bool conn_read(struct conn *c)
{
	ssize_t n;
	size_t off = 0;

	if (c->len == QMUX_FRAME_MAX) {
		log_warn("conn %d: buffer full without a frame; dropping it", c->fd);
		c->len = 0;
	}
	n = recv(c->fd, c->buf + c->len, QMUX_FRAME_MAX - c->len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	c->len += (size_t)n;
	while (off < c->len) {
		struct qmux_msg q;
		int r = qmux_parse(c->buf + off, c->len - off, &q);

		if (r == 0)
			break;
		if (r < 0) {
			size_t skip = qmux_resync(c->buf + off, c->len - off);
			log_warn("conn %d: bad frame, dropping %zu bytes", c->fd, skip);
			off += skip;
			continue;
		}
		if (!handle(c, &q)) {
			c->len = 0;
			return false;
		}
		off += (size_t)r;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return true;
}

/* ---- injections ---- */

static void for_each_conn(int modem, void (*fn)(struct conn *c))
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i] && conns[i]->modem == modem)
			fn(conns[i]);
}

static void inject_garbage(struct conn *c)
{
	uint8_t junk[64];

	/* No marker at the start: the receiver's framing is broken. */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(0x55 ^ i);
	conn_send(c, junk, sizeof(junk));
}

static void inject_truncated(struct conn *c)
{
	uint8_t buf[64];
	struct qmux_builder b;
	int n;

	/* A whole frame whose TLV claims more bytes than the frame holds. */
	qmux_build_begin(&b, buf, sizeof(buf), QMI_SVC_WDS, 1, QMI_SVC_FLAG_INDICATION, 0,
			 WDS_PACKET_SERVICE_STATUS);
	qmux_put_tlv(&b, 0x01, "\x01\x00", 2);
	n = qmux_build_end(&b);
	qmux_le16(&buf[n - 4], 200); /* the TLV's length, before its 2-byte value */
	conn_send(c, buf, (size_t)n);
}

static void inject_oversized(struct conn *c)
{
	static uint8_t buf[QMUX_FRAME_MAX];
	struct qmux_builder b;
	int n;

	/* The biggest frame QMUX can express, for a message nobody asked about. */
	qmux_build_begin(&b, buf, sizeof(buf), QMI_SVC_WDS, 0xff, QMI_SVC_FLAG_INDICATION, 0,
			 0x5555);
	memset(buf + b.len + 3, 0xa5, sizeof(buf) - b.len - 3);
	qmux_put_tlv(&b, 0x10, buf + b.len + 3, sizeof(buf) - b.len - 3);
	n = qmux_build_end(&b);
	if (n > 0)
		conn_send(c, buf, (size_t)n);
}

static void conn_drop(struct conn *c)
{
	int slot = conn_slot(c);

	if (slot >= 0)
		conn_close(slot);
}

static int parse_index(const char *s)
{
	char *end;
	long i;

	if (!s)
		return -1;
	errno = 0;
	i = strtol(s, &end, 10);
	if (errno || *end || end == s || i < 0 || i >= n_modems)
		return -1;
	return (int)i;
}

static const struct {
	const char *name;
	uint8_t svc;
} svc_names[] = {
    {"ctl", QMI_SVC_CTL}, {"wds", QMI_SVC_WDS}, {"dms", QMI_SVC_DMS},
    {"nas", QMI_SVC_NAS}, {"uim", QMI_SVC_UIM}, {"wda", QMI_SVC_WDA},
};

/* "all", the muted services' names ("dms,wds"), or "-" */
static const char *muted_fmt(const struct modem *m, char *buf, size_t size)
{
	size_t k = 0;

	if (memchr(m->muted, 0, sizeof(m->muted)) == NULL)
		return "all";
	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(svc_names); i++)
		if (m->muted[svc_names[i].svc] && k < size)
			k += (size_t)snprintf(buf + k, size - k, "%s%s", k ? "," : "",
					      svc_names[i].name);
	return buf[0] ? buf : "-";
}

/* mute I [all | SERVICE...]: more services muted; none named is all of them */
static int mute_parse(struct modem *m, int argc, char **argv)
{
	bool set[256] = {0};

	if (argc == 0 || (argc == 1 && !strcmp(argv[0], "all"))) {
		memset(m->muted, 1, sizeof(m->muted));
		return 0;
	}
	for (int k = 0; k < argc; k++) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(svc_names); i++)
			if (!strcmp(argv[k], svc_names[i].name))
				break;
		if (i == ARRAY_SIZE(svc_names))
			return -EINVAL;
		set[svc_names[i].svc] = true;
	}
	for (int s = 0; s < 256; s++)
		m->muted[s] |= set[s];
	return 0;
}

static void status_line(FILE *out, int i)
{
	struct modem *m = &modems[i];
	char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN], mu[64];
	int clients = 0;

	for (int k = 0; k < MAX_CONNS; k++)
		if (conns[k] && conns[k]->modem == i)
			clients++;
	inet_ntop(AF_INET, &m->addr, a, sizeof(a));
	inet_ntop(AF_INET, &m->gw, g, sizeof(g));
	fprintf(
	    out,
	    "modem %d path=%s present=%d connected=%d handle=0x%08x address=%s/%u gateway=%s "
	    "mtu=%u starts=%u stops=%u drops=%u opens=%u refused=%u connections=%d apn=%s auth=%d "
	    "user=%s family=%d llp=%u pin_verified=%d mode=%u resets=%u offlines=%u muted=%s "
	    "unanswered=%u\n",
	    i, m->path, m->present, m->connected, m->handle, a, m->plen, g, m->mtu, m->starts,
	    m->stops, m->drops, m->opens, m->refused, clients, m->apn[0] ? m->apn : "-", m->auth,
	    m->user[0] ? m->user : "-", m->family, m->llp, m->pin_verified, m->mode, m->resets,
	    m->offlines, muted_fmt(m, mu, sizeof(mu)), m->unanswered);
}

static int set_key(struct modem *m, const char *key, const char *val)
{
	char buf[64], *slash, *comma;
	long v;

	if (!strcmp(key, "address")) {
		snprintf(buf, sizeof(buf), "%s", val);
		slash = strchr(buf, '/');
		if (slash)
			*slash++ = '\0';
		if (inet_pton(AF_INET, buf, &m->addr) != 1)
			return -EINVAL;
		v = slash ? strtol(slash, NULL, 10) : 24;
		if (v < 1 || v > 32)
			return -EINVAL;
		m->plen = (uint8_t)v;
	} else if (!strcmp(key, "gateway")) {
		if (inet_pton(AF_INET, val, &m->gw) != 1)
			return -EINVAL;
	} else if (!strcmp(key, "dns")) {
		snprintf(buf, sizeof(buf), "%s", val);
		comma = strchr(buf, ',');
		if (comma)
			*comma++ = '\0';
		m->dns[1].s_addr = 0;
		if (inet_pton(AF_INET, buf, &m->dns[0]) != 1 ||
		    (comma && inet_pton(AF_INET, comma, &m->dns[1]) != 1))
			return -EINVAL;
	} else if (!strcmp(key, "mtu")) {
		m->mtu = (uint32_t)strtoul(val, NULL, 10);
	} else if (!strcmp(key, "signal")) {
		m->rssi = (int8_t)strtol(val, NULL, 10);
	} else if (!strcmp(key, "operator")) {
		snprintf(m->operator_name, sizeof(m->operator_name), "%s", val);
	} else if (!strcmp(key, "raw_ip")) {
		m->raw_ip = !strcmp(val, "1");
	} else if (!strcmp(key, "pin")) {
		snprintf(m->pin, sizeof(m->pin), "%s", val);
		m->pin_verified = false;
	} else if (!strcmp(key, "fail_starts")) {
		m->fail_starts = (unsigned)strtoul(val, NULL, 10);
	} else if (!strcmp(key, "path")) {
		snprintf(m->path, sizeof(m->path), "%s", val);
	} else {
		return -ENOENT;
	}
	return 0;
}

/* One command line; the answer ends with "ok" or "error: ...". */
static void ctl_command(char *line, FILE *out)
{
	char *argv[16], *save = NULL, *tok;
	int argc = 0, i;
	struct modem *m;

	for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < 16;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = tok;
	if (argc == 0) {
		fprintf(out, "error: empty command\n");
		return;
	}
	if (!strcmp(argv[0], "status") && argc == 1) {
		for (i = 0; i < n_modems; i++)
			status_line(out, i);
		fprintf(out, "ok\n");
		return;
	}
	i = parse_index(argc > 1 ? argv[1] : NULL);
	if (i < 0) {
		fprintf(out, "error: usage: COMMAND MODEM-INDEX [ARGS] (modems 0..%d)\n",
			n_modems - 1);
		return;
	}
	m = &modems[i];
	log_info("control: %s %d", argv[0], i);
	if (!strcmp(argv[0], "status")) {
		status_line(out, i);
	} else if (!strcmp(argv[0], "set")) {
		for (int k = 2; k < argc; k++) {
			char *eq = strchr(argv[k], '=');
			if (!eq) {
				fprintf(out, "error: want KEY=VALUE, not '%s'\n", argv[k]);
				return;
			}
			*eq = '\0';
			if (set_key(m, argv[k], eq + 1) < 0) {
				fprintf(out, "error: bad %s=%s\n", argv[k], eq + 1);
				return;
			}
		}
	} else if (!strcmp(argv[0], "disconnect")) {
		if (!m->connected) {
			fprintf(out, "error: modem %d has no data session\n", i);
			return;
		}
		m->drops++;
		call_end(m, CALL_END_NO_SERVICE, true);
	} else if (!strcmp(argv[0], "reconfigure")) {
		if (!m->connected || !m->owner) {
			fprintf(out, "error: modem %d has no data session\n", i);
			return;
		}
		indicate_status(m, m->owner, m->owner_cid, WDS_STATUS_CONNECTED, true, 0);
	} else if (!strcmp(argv[0], "garbage")) {
		for_each_conn(i, inject_garbage);
	} else if (!strcmp(argv[0], "truncated")) {
		for_each_conn(i, inject_truncated);
	} else if (!strcmp(argv[0], "oversized")) {
		for_each_conn(i, inject_oversized);
	} else if (!strcmp(argv[0], "vanish")) {
		m->present = false;
		call_end(m, CALL_END_NO_SERVICE, false);
		for_each_conn(i, conn_drop);
	} else if (!strcmp(argv[0], "return")) {
		m->present = true;
	} else if (!strcmp(argv[0], "mute")) {
		if (mute_parse(m, argc - 2, argv + 2) < 0) {
			fprintf(out, "error: mute I [all | ctl wds dms nas uim wda...]\n");
			return;
		}
	} else if (!strcmp(argv[0], "unmute")) {
		/* What was asked meanwhile stays unanswered, as after a real modem's hang. */
		memset(m->muted, 0, sizeof(m->muted));
	} else {
		fprintf(out, "error: unknown command '%s'\n", argv[0]);
		return;
	}
	fprintf(out, "ok\n");
}

static void ctl_accept(void)
{
	char line[1024];
	size_t len = 0;
	FILE *out;
	int fd = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* One short line per connection, from a local test: a blocking read with a timeout. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){.tv_sec = 2},
		   sizeof(struct timeval));
	while (len < sizeof(line) - 1) {
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = '\0';
	out = fdopen(fd, "w");
	if (!out) {
		close(fd);
		return;
	}
	ctl_command(line, out);
	fclose(out);
}

/* ---- sockets and the loop ---- */

static int listen_abstract(const char *spec)
{
	char name[108], *at;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, saved = -1, nsfd = -1, r;
	socklen_t len;

	snprintf(name, sizeof(name), "%s", spec);
	at = strchr(name, '@');
	if (at) {
		*at++ = '\0';
		nsfd = ns_open(at);
		if (nsfd < 0)
			return log_error_errno(nsfd, "opening namespace %s: %m", at);
		r = ns_enter(nsfd, &saved);
		close(nsfd);
		if (r < 0)
			return log_error_errno(r, "entering namespace %s: %m", at);
	}
	/* Abstract sockets belong to the network namespace the socket is made in. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	r = fd < 0 ? negative_errno() : 0;
	if (saved >= 0 && ns_leave(saved) < 0)
		abort();
	if (r < 0)
		return log_error_errno(r, "socket: %m");
	memcpy(sa.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 64) < 0) {
		r = log_error_errno(negative_errno(), "listening on @%s%s%s: %m", name,
				    at ? " in " : "", at ? at : "");
		close(fd);
		return r;
	}
	log_info("listening on @%s%s%s", name, at ? " in namespace " : "", at ? at : "");
	return fd;
}

static int listen_path(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	strcpy(sa.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		int r = negative_errno();
		close(fd);
		return r;
	}
	return fd;
}

static void conn_accept(int lfd)
{
	struct conn *c;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), slot;

	if (fd < 0)
		return;
	for (slot = 0; slot < MAX_CONNS && conns[slot]; slot++)
		;
	c = slot < MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
	if (c)
		c->buf = malloc(QMUX_FRAME_MAX);
	if (!c || !c->buf) {
		free(c);
		close(fd);
		return;
	}
	/* Writes block (briefly): replies are small and the peers read them at once. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){.tv_sec = 2},
		   sizeof(struct timeval));
	c->fd = fd;
	c->modem = -1;
	conns[slot] = c;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Resets in progress: a modem told to reset leaves (its clients cut off, its port gone) and
 * comes back online RESET_MS later. Returns the poll timeout until the next one is due. */
static int resets_tick(void)
{
	int64_t now = now_ms(), next = -1;

	for (int i = 0; i < n_modems; i++) {
		struct modem *m = &modems[i];

		if (m->reset_due) {
			m->reset_due = false;
			m->present = false;
			call_end(m, CALL_END_NO_SERVICE, false);
			for_each_conn(i, conn_drop);
			m->back_at_ms = now + RESET_MS;
			log_info("modem %s: resetting", m->path);
		}
		if (m->back_at_ms && now >= m->back_at_ms) {
			m->back_at_ms = 0;
			m->present = true;
			m->mode = MODE_ONLINE;
			log_info("modem %s: back after reset, online", m->path);
		}
		if (m->back_at_ms && (next < 0 || m->back_at_ms - now < next))
			next = m->back_at_ms - now;
	}
	return next < 0 ? -1 : (int)next;
}

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	quit = 1;
}

static int serve(void)
{
	struct pollfd pfd[MAX_LISTEN + 1 + MAX_CONNS];
	struct conn *polled[MAX_CONNS];

	while (!quit) {
		int n = 0, np;

		for (int i = 0; i < n_listen; i++)
			pfd[n++] = (struct pollfd){.fd = listen_fds[i], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = ctl_fd, .events = POLLIN};
		np = 0;
		for (int i = 0; i < MAX_CONNS; i++)
			if (conns[i]) {
				polled[np++] = conns[i];
				pfd[n++] = (struct pollfd){.fd = conns[i]->fd, .events = POLLIN};
			}
		if (poll(pfd, (nfds_t)n, resets_tick()) < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(negative_errno(), "poll: %m");
		}
		for (int i = 0; i < n_listen; i++)
			if (pfd[i].revents)
				conn_accept(listen_fds[i]);
		if (pfd[n_listen].revents)
			ctl_accept();
		for (int i = 0; i < np; i++) {
			struct pollfd *p = &pfd[n_listen + 1 + i];
			int slot = conn_slot(polled[i]);

			/* An injection may have closed it meanwhile. */
			if (slot < 0 || !p->revents)
				continue;
			if (!conn_read(polled[i]))
				conn_close(slot);
		}
	}
	return 0;
}

/* ---- client side of the control socket ---- */

static int ctl_send(const char *path, int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[4096], line[1024] = "";
	size_t len = 0;
	ssize_t n;
	int fd;

	for (int i = 0; i < argc; i++) {
		strncat(line, argv[i], sizeof(line) - strlen(line) - 2);
		strncat(line, i + 1 < argc ? " " : "\n", sizeof(line) - strlen(line) - 1);
	}
	if (strlen(path) >= sizeof(sa.sun_path))
		return 2;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "fake-qmi-modem: connecting to %s: %m\n", path);
		return 1;
	}
	if (write(fd, line, strlen(line)) < 0)
		return 1;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	fputs(buf, stdout);
	/* Success is an answer whose last line is "ok". */
	return len >= 3 && !strcmp(buf + len - 3, "ok\n") ? 0 : 1;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: fake-qmi-modem --ctl PATH [--modems N] [--listen NAME[@NETNS]]...\n"
	    "                      [--pid-file PATH] [--log PATH] [--daemon]\n"
	    "       fake-qmi-modem --ctl PATH COMMAND [MODEM] [ARGS]\n"
	    "Serves fake QMI modems /dev/cdc-wdm0..N-1 the way qmi-proxy serves real ones, on\n"
	    "abstract unix sockets (default @qmi-proxy), optionally made inside a named network\n"
	    "namespace. Modem i reports 100.64.i.2/24 via 100.64.i.1 (DNS too).\n"
	    "Commands: status [I] | set I KEY=VALUE... (address gateway dns mtu signal operator\n"
	    "raw_ip pin fail_starts path) | disconnect I | reconfigure I | garbage I |\n"
	    "truncated I | oversized I | vanish I | return I |\n"
	    "mute I [all|ctl|wds|dms|nas|uim|wda...] (the port stays open, reads requests and\n"
	    "answers none of those services'; the proxy's own open still is) | unmute I\n");
}

/* Forks away once the sockets listen, so whoever started us may connect at once. */
static int daemonize(const char *log_path)
{
	int pfd[2], fd;
	char c;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return negative_errno();
	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid > 0) {
		close(pfd[1]);
		_exit(read(pfd[0], &c, 1) == 1 ? 0 : 1);
	}
	close(pfd[0]);
	setsid();
	fd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		  0644);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	return pfd[1];
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"modems", required_argument, NULL, 'n'}, {"listen", required_argument, NULL, 'l'},
	    {"ctl", required_argument, NULL, 'c'},    {"pid-file", required_argument, NULL, 'p'},
	    {"log", required_argument, NULL, 'L'},    {"daemon", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},	      {},
	};
	const char *listen_specs[MAX_LISTEN], *ctl_path = NULL, *pid_file = NULL, *log_path = NULL;
	int n_specs = 0, opt, ready_fd = -1, r;
	bool daemon = false;

	log_open(PROC_NAME);
	while ((opt = getopt_long(argc, argv, "+n:l:c:p:L:dh", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			n_modems = atoi(optarg);
			if (n_modems < 1 || n_modems > MAX_MODEMS) {
				fprintf(stderr, "--modems: 1..%d\n", MAX_MODEMS);
				return 2;
			}
			break;
		case 'l':
			if (n_specs == MAX_LISTEN)
				return 2;
			listen_specs[n_specs++] = optarg;
			break;
		case 'c':
			ctl_path = optarg;
			break;
		case 'p':
			pid_file = optarg;
			break;
		case 'L':
			log_path = optarg;
			break;
		case 'd':
			daemon = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!ctl_path) {
		usage(stderr);
		return 2;
	}
	if (optind < argc)
		return ctl_send(ctl_path, argc - optind, argv + optind);
	if (n_specs == 0)
		listen_specs[n_specs++] = "qmi-proxy";

	for (int i = 0; i < n_modems; i++)
		modem_init(&modems[i], i);
	for (int i = 0; i < n_specs; i++) {
		r = listen_abstract(listen_specs[i]);
		if (r < 0)
			return 1;
		listen_fds[n_listen++] = r;
	}
	ctl_fd = listen_path(ctl_path);
	if (ctl_fd < 0) {
		log_error_errno(ctl_fd, "control socket %s: %m", ctl_path);
		return 1;
	}
	if (daemon) {
		ready_fd = daemonize(log_path);
		if (ready_fd < 0)
			return 1;
	}
	prctl(PR_SET_NAME, PROC_NAME);
	if (pid_file) {
		FILE *f = fopen(pid_file, "we");
		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &(struct sigaction){.sa_handler = on_signal}, NULL);
	sigaction(SIGINT, &(struct sigaction){.sa_handler = on_signal}, NULL);
	log_info("serving %d fake modem%s", n_modems, n_modems == 1 ? "" : "s");
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "r", 1);
		close(ready_fd);
	}
	r = serve();
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i])
			conn_close(i);
	unlink(ctl_path);
	if (pid_file)
		unlink(pid_file);
	return r < 0 ? 1 : 0;
}
