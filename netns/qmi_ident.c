/* qmi_ident.c — finding a driver=qmi uplink's modem by identity. A modem's port number
 * (/dev/cdc-wdmN) and interface name follow the order of enumeration, so after a reboot or a
 * replug into another port they name another modem; the IMEI and the SIM's ICCID do not.
 *
 * Asking a modem takes a QMI round trip or three. The ask runs to its end in a private main
 * context with a deadline, so the caller (hot-plug, in the daemon's loop) blocks a bounded time,
 * and only for ports sysfs could not rule out. It goes through qmi-proxy, as the driver does, so
 * it never takes the port from anyone. */
#include "netns/qmi_ident.h"

#include <dirent.h>
#include <errno.h>
#include <libqmi-glib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"

#define DEFAULT_PROXY "qmi-proxy"
#define DRAIN_MS 1000 /* after a cancel, libqmi's callbacks still have to run */

static const char *const port_classes[] = {"usbmisc", "usb"}; /* "usb": kernels before 3.6 */

int qmi_ident_netdev(const char *root, const char *port, char *ifname, size_t len)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d = NULL;
	int r = -ENODEV;

	if (strchr(port, '/'))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(port_classes) && !d; i++) {
		snprintf(dir, sizeof(dir), "%s/class/%s/%s/device/net", root, port_classes[i], port);
		d = opendir(dir);
	}
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (strlen(de->d_name) >= len) {
			r = -ENAMETOOLONG;
			break;
		}
		strcpy(ifname, de->d_name);
		r = 0;
		break;
	}
	if (d)
		closedir(d);
	return r;
}

/* ---- asking the modem ---- */

/* One ask: a chain of callbacks, each starting the next step. Heap-allocated and freed by
 * whoever sees it finish last, so a callback that runs after the caller gave up never touches
 * freed memory. */
struct ask {
	GCancellable *cancel;
	QmiDevice *dev;
	QmiClient *dms;
	bool want_iccid;
	int busy; /* 1 until the chain ends: qmi_ctx_wait()'s pending count */
	int err;
	unsigned timeout_s;
	struct ident_facts f;
};

static void ask_done(struct ask *a, int err)
{
	if (err && !a->err)
		a->err = err;
	a->busy = 0;
}

static void close_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	qmi_device_close_finish(QMI_DEVICE(src), res, NULL);
	ask_done(data, 0);
}

static void finish(struct ask *a, int err)
{
	if (err && !a->err)
		a->err = err;
	qmi_device_close_async(a->dev, 1, NULL, close_cb, a);
}

static void release_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct ask *a = data;

	qmi_device_release_client_finish(QMI_DEVICE(src), res, NULL);
	g_clear_object(&a->dms);
	finish(a, 0);
}

static void release(struct ask *a, int err)
{
	if (err && !a->err)
		a->err = err;
	qmi_device_release_client(a->dev, a->dms, QMI_DEVICE_RELEASE_CLIENT_FLAGS_RELEASE_CID, 1,
				  NULL, release_cb, a);
}

/* Our deadline (a cancel) and libqmi's own timeout race for a modem that never answers: both
 * are that modem's silence. */
static int err_of(GError *e)
{
	int r = e && (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
		      g_error_matches(e, QMI_CORE_ERROR, QMI_CORE_ERROR_TIMEOUT))
		    ? -ETIMEDOUT
		    : -EIO;

	if (e)
		g_error_free(e);
	return r;
}

static void iccid_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct ask *a = data;
	QmiMessageDmsUimGetIccidOutput *o;
	GError *e = NULL;
	const gchar *s;
	int r = 0;

	o = qmi_client_dms_uim_get_iccid_finish(QMI_CLIENT_DMS(src), res, &e);
	if (o && qmi_message_dms_uim_get_iccid_output_get_result(o, &e) &&
	    qmi_message_dms_uim_get_iccid_output_get_iccid(o, &s, NULL))
		snprintf(a->f.iccid, sizeof(a->f.iccid), "%s", s);
	else
		r = err_of(e); /* no SIM: the ICCID stays unknown, the IMEI still counts */
	if (o)
		qmi_message_dms_uim_get_iccid_output_unref(o);
	release(a, r == -ETIMEDOUT ? r : 0);
}

static void ids_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct ask *a = data;
	QmiMessageDmsGetIdsOutput *o;
	GError *e = NULL;
	const gchar *s;
	int r = 0;

	o = qmi_client_dms_get_ids_finish(QMI_CLIENT_DMS(src), res, &e);
	if (o && qmi_message_dms_get_ids_output_get_result(o, &e) &&
	    qmi_message_dms_get_ids_output_get_imei(o, &s, NULL))
		snprintf(a->f.imei, sizeof(a->f.imei), "%s", s);
	else
		r = err_of(e);
	if (o)
		qmi_message_dms_get_ids_output_unref(o);
	if (r == -ETIMEDOUT || !a->want_iccid) {
		release(a, r);
		return;
	}
	qmi_client_dms_uim_get_iccid(QMI_CLIENT_DMS(a->dms), NULL, a->timeout_s, a->cancel,
				     iccid_cb, a);
}

static void alloc_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct ask *a = data;
	GError *e = NULL;

	a->dms = qmi_device_allocate_client_finish(QMI_DEVICE(src), res, &e);
	if (!a->dms) {
		finish(a, err_of(e));
		return;
	}
	qmi_client_dms_get_ids(QMI_CLIENT_DMS(a->dms), NULL, a->timeout_s, a->cancel, ids_cb, a);
}

static void open_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct ask *a = data;
	GError *e = NULL;

	if (!qmi_device_open_finish(QMI_DEVICE(src), res, &e)) {
		ask_done(a, err_of(e));
		return;
	}
	qmi_device_allocate_client(a->dev, QMI_SERVICE_DMS, QMI_CID_NONE, a->timeout_s, a->cancel,
				   alloc_cb, a);
}

static void new_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct ask *a = data;
	GError *e = NULL;

	a->dev = qmi_device_new_finish(res, &e);
	if (!a->dev) {
		ask_done(a, err_of(e));
		return;
	}
	qmi_device_open(a->dev, QMI_DEVICE_OPEN_FLAGS_PROXY, a->timeout_s, a->cancel, open_cb, a);
}

/* libqmi would start qmi-proxy when nothing listens on the name: right for its own (it opens
 * the real port), useless for any other. */
bool qmi_proxy_listening(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	int fd, r;

	if (n + 1 >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path + 1, name, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	r = connect(fd, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
	close(fd);
	return r == 0;
}

static gboolean expire_cb(gpointer data)
{
	*(bool *)data = true;
	return G_SOURCE_REMOVE;
}

bool qmi_ctx_wait(GMainContext *ctx, const int *pending, unsigned ms)
{
	bool expired = false;
	GSource *t = g_timeout_source_new(ms);

	g_source_set_callback(t, expire_cb, &expired, NULL);
	g_source_attach(t, ctx);
	while (*pending > 0 && !expired)
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(t);
	g_source_unref(t);
	return *pending <= 0;
}

int qmi_ident_ask(const char *device, const char *proxy, bool iccid, unsigned timeout_ms,
		  struct ident_facts *f)
{
	GMainContext *ctx;
	struct ask *a;
	GFile *file;
	int r;

	if (proxy[0] && !qmi_proxy_listening(proxy))
		return -ENODEV;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->want_iccid = iccid;
	a->busy = 1;
	a->timeout_s = MAX(1u, (timeout_ms + 999) / 1000);
	a->cancel = g_cancellable_new();
	ctx = g_main_context_new();
	g_main_context_push_thread_default(ctx);
	file = g_file_new_for_path(device);
	g_async_initable_new_async(QMI_TYPE_DEVICE, G_PRIORITY_DEFAULT, a->cancel, new_cb, a,
				   QMI_DEVICE_FILE, file, QMI_DEVICE_NO_FILE_CHECK,
				   (gboolean)(proxy[0] != '\0'), QMI_DEVICE_PROXY_PATH,
				   proxy[0] ? proxy : DEFAULT_PROXY, NULL);
	g_object_unref(file);
	if (!qmi_ctx_wait(ctx, &a->busy, timeout_ms)) {
		g_cancellable_cancel(a->cancel);
		if (!qmi_ctx_wait(ctx, &a->busy, DRAIN_MS)) {
			/* libqmi still holds a: leave it to it rather than free it under it. */
			g_main_context_pop_thread_default(ctx);
			log_warn("%s: the modem did not answer, nor let go after a cancel", device);
			return -ETIMEDOUT;
		}
		a->err = -ETIMEDOUT;
	}
	g_main_context_pop_thread_default(ctx);
	r = a->err;
	if (!r) {
		memcpy(f->imei, a->f.imei, sizeof(f->imei));
		memcpy(f->iccid, a->f.iccid, sizeof(f->iccid));
	}
	g_clear_object(&a->dms);
	g_clear_object(&a->dev);
	g_object_unref(a->cancel);
	free(a);
	/* What is still queued there (a late reply's source) goes with the context. */
	while (g_main_context_iteration(ctx, FALSE))
		;
	g_main_context_unref(ctx);
	return r;
}

/* ---- finding the port ---- */

static bool wants(const struct ident_match *m, enum ident_kind k)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->t[i].kind == k)
			return true;
	return false;
}

/* The facts sysfs shows of port: its USB path, the data interface and that one's MAC. */
static void port_facts(const char *root, const char *cls, const char *port,
		       struct ident_facts *f, char *ifname, size_t len)
{
	struct ident_facts nf;

	memset(f, 0, sizeof(*f));
	ifname[0] = '\0';
	if (ident_usb_of_class(root, cls, port, f->usb, sizeof(f->usb)) < 0)
		f->usb[0] = '\0';
	if (qmi_ident_netdev(root, port, ifname, len) == 0 &&
	    ident_facts_sysfs(root, ifname, &nf) == 0)
		memcpy(f->mac, nf.mac, sizeof(f->mac));
}

/* Adds port's failed ask to why: "no answer from /dev/cdc-wdm0 within 2 s", then "..., from
 * /dev/cdc-wdm2 ..." for the next, or "/dev/cdc-wdm0: Input/output error". */
static void why_add(char *why, size_t wlen, const char *dev, int err, unsigned timeout_ms)
{
	size_t n = strlen(why);

	if (n + 1 >= wlen)
		return;
	if (err == -ETIMEDOUT)
		snprintf(why + n, wlen - n, "%sno answer from %s within %u s", n ? "; " : "", dev,
			 (timeout_ms + 999) / 1000);
	else
		snprintf(why + n, wlen - n, "%s%s: %s", n ? "; " : "", dev, strerror(-err));
}

static int port_filter(const struct dirent *de)
{
	return de->d_name[0] != '.' && !strncmp(de->d_name, "cdc-wdm", 7);
}

int qmi_ident_find(const char *root, const struct ident_match *m, const char *proxy,
		   unsigned timeout_ms, qmi_ident_taken_fn taken, void *data, char *device,
		   size_t dlen, char *ifname, size_t ilen, char *why, size_t wlen)
{
	bool modem_terms = wants(m, IDENT_IMEI) || wants(m, IDENT_ICCID);
	int r = -ENODEV;

	if (wlen)
		why[0] = '\0';

	for (size_t c = 0; c < ARRAY_SIZE(port_classes) && r == -ENODEV; c++) {
		struct dirent **names = NULL;
		char dir[PATH_MAX];
		int n;

		snprintf(dir, sizeof(dir), "%s/class/%s", root, port_classes[c]);
		n = scandir(dir, &names, port_filter, alphasort);
		for (int i = 0; i < n; i++) {
			char dev[sizeof("/dev/") + 256], ifn[16];
			struct ident_facts f;
			enum ident_verdict v;
			int q;

			snprintf(dev, sizeof(dev), "/dev/%s", names[i]->d_name);
			if (taken && taken(dev, data))
				continue;
			port_facts(root, port_classes[c], names[i]->d_name, &f, ifn, sizeof(ifn));
			v = ident_match_check(m, &f);
			if (v == IDENT_UNKNOWN && modem_terms) {
				q = qmi_ident_ask(dev, proxy, wants(m, IDENT_ICCID), timeout_ms, &f);
				if (q < 0) {
					log_debug("%s: asking the modem who it is: %s", dev,
						  strerror(-q));
					why_add(why, wlen, dev, q, timeout_ms);
				}
				v = q < 0 ? IDENT_NO : ident_match_check(m, &f);
			}
			if (v != IDENT_YES)
				continue;
			if (strlen(dev) >= dlen || strlen(ifn) >= ilen) {
				r = -ENAMETOOLONG;
				break;
			}
			strcpy(device, dev);
			strcpy(ifname, ifn);
			r = 0;
			break;
		}
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	return r;
}
