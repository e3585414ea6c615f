/* uplink_qmi.c — the qmi driver: a QMI modem's control port driven with libqmi-glib through
 * qmi-proxy; its data interface moved into the namespace once, the data session started, watched,
 * re-applied and brought back with backoff and jitter whenever the carrier or the device drops. */
#include <errno.h>
#include <fcntl.h>
#include <libqmi-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "netns/netns.h"
#include "netns/qmi_ident.h"
#include "netns/uplink-internal.h"

#define DEFAULT_PROXY "qmi-proxy"
#define OPEN_TIMEOUT_S 5
#define REQ_TIMEOUT_S 10
#define START_TIMEOUT_S 60 /* a network attach can take this long on a real carrier */
#define STOP_WAIT_MS 2000  /* down() waits this long for the modem to end the call */
#define FIRST_RETRY_MS 100 /* the first retry after a drop: at once, give or take jitter */
#define BACKOFF_MIN_MS 500 /* then 0.5 s, 1 s, 2 s ... */
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 30000 /* a session this old resets the backoff when it drops */
#define LINK_POLL_S 10	/* indications can be lost; a poll catches a silent drop */
#define RADIO_POLL_S 30
#define MAX_BEARERS 2 /* one WDS client per IP family */
#define MAX_EVENTS 8

struct qmi;

/* One data session: QMI needs a WDS client per IP family. */
struct bearer {
	struct qmi *q;
	int family; /* AF_INET, AF_INET6 */
	QmiClientWds *wds;
	gulong ind_id;
	guint32 handle;
	bool up;
	/* what is applied in the namespace, to take back when it changes or drops */
	struct ip_prefix addr, gw;
	struct ip_prefix dns[2];
	unsigned mtu;
};

struct qmi {
	struct uplink *u;
	/* libqmi attaches its sources to the thread-default context of the call. They all live in
	 * this private one, which a bridge source drives from the daemon's loop: down() can then
	 * wait for the modem's answer to Stop Network by iterating only this context, never
	 * re-entering the daemon. */
	GMainContext *ctx;
	GSource *bridge;
	GCancellable *cancel; /* the current attempt; cancelled and replaced on teardown */
	QmiDevice *dev;
	gulong removed_id;
	QmiClientDms *dms;
	QmiClientNas *nas;
	QmiClientWda *wda;
	struct bearer b[MAX_BEARERS];
	int n_b;
	int alloc_step; /* which client the allocation chain asks for next */
	int starting;	/* bearers whose Start Network is still out */
	GSource *retry, *link_poll, *radio_poll, *fail_src;
	char fail_why[160];
	unsigned backoff_ms; /* the next retry's delay; 0: a first, quick retry */
	gint64 connected_at;
	bool connected; /* at least one bearer applied */
	bool stopping;	/* down() runs: callbacks only finish, start nothing */
	bool raw_ip;	/* the modem agreed to raw-ip */
	bool raw_ip_knob;
	bool no_wda; /* learnt: this modem sets its data format through CTL */
	bool pin_refused;
	bool resetting; /* a modem reset is under way (qmi_reset()) */
	struct uplink_radio radio;
	bool radio_known;
	bool radio_logged;
	/* Events for the daemon, delivered from an idle on the default context, outside any
	 * libqmi callback: the daemon may do anything in its handler. */
	enum uplink_event events[MAX_EVENTS];
	int n_events;
	GSource *notify;
};

static void attempt_start(struct qmi *q);
static void attempt_fail(struct qmi *q, const char *what, const GError *err);

/* ---- the bridge: a GSource on the default context that runs q->ctx ---- */

struct bridge {
	GSource src;
	GMainContext *inner;
	GPollFD *fds;   /* registered with g_source_add_poll() */
	gint n_fds, alloc;
	GPollFD *query; /* the inner context's wishes this turn */
	gint query_alloc;
	gint max_prio;
	bool checked;
};

static gboolean bridge_prepare(GSource *s, gint *timeout)
{
	struct bridge *b = (struct bridge *)s;
	gboolean ready;
	gint n;

	/* Acquired once by the thread that runs the daemon's loop, and kept. */
	if (!g_main_context_is_owner(b->inner) && !g_main_context_acquire(b->inner)) {
		*timeout = 10;
		return FALSE;
	}
	ready = g_main_context_prepare(b->inner, &b->max_prio);
	while ((n = g_main_context_query(b->inner, b->max_prio, timeout, b->query,
					 b->query_alloc)) > b->query_alloc) {
		b->query_alloc = n;
		b->query = g_renew(GPollFD, b->query, n);
	}
	/* Touch the registered polls only when the set changed: every g_source_add_poll() and
	 * g_source_remove_poll() wakes the outer loop, which would then prepare again at once
	 * (measured: the daemon spun at 95% CPU with a QMI uplink). */
	bool same = n == b->n_fds;
	for (gint i = 0; same && i < n; i++)
		same = b->fds[i].fd == b->query[i].fd && b->fds[i].events == b->query[i].events;
	if (!same) {
		for (gint i = 0; i < b->n_fds; i++)
			g_source_remove_poll(s, &b->fds[i]);
		if (n > b->alloc) {
			b->alloc = n;
			b->fds = g_renew(GPollFD, b->fds, n);
		}
		memcpy(b->fds, b->query, (size_t)n * sizeof(*b->fds));
		b->n_fds = n;
		for (gint i = 0; i < n; i++)
			g_source_add_poll(s, &b->fds[i]);
	}
	for (gint i = 0; i < n; i++)
		b->fds[i].revents = 0;
	b->checked = false;
	if (ready)
		*timeout = 0;
	return ready;
}

static gboolean bridge_check(GSource *s)
{
	struct bridge *b = (struct bridge *)s;

	if (!g_main_context_is_owner(b->inner))
		return FALSE;
	b->checked = true;
	return g_main_context_check(b->inner, b->max_prio, b->fds, b->n_fds);
}

static gboolean bridge_dispatch(GSource *s, GSourceFunc cb, gpointer data)
{
	struct bridge *b = (struct bridge *)s;

	/* A source ready at prepare is dispatched without check: the inner loop needs both. */
	if (!b->checked)
		g_main_context_check(b->inner, b->max_prio, b->fds, b->n_fds);
	/* Whatever libqmi starts from these callbacks must land in the inner context too. */
	g_main_context_push_thread_default(b->inner);
	g_main_context_dispatch(b->inner);
	g_main_context_pop_thread_default(b->inner);
	return G_SOURCE_CONTINUE;
}

static void bridge_finalize(GSource *s)
{
	struct bridge *b = (struct bridge *)s;

	if (g_main_context_is_owner(b->inner))
		g_main_context_release(b->inner);
	g_main_context_unref(b->inner);
	g_free(b->fds);
	g_free(b->query);
}

static GSourceFuncs bridge_funcs = {
    .prepare = bridge_prepare,
    .check = bridge_check,
    .dispatch = bridge_dispatch,
    .finalize = bridge_finalize,
};

static GSource *bridge_new(GMainContext *inner)
{
	GSource *s = g_source_new(&bridge_funcs, sizeof(struct bridge));
	struct bridge *b = (struct bridge *)s;

	b->inner = g_main_context_ref(inner);
	g_source_set_name(s, "cellmux-qmi-bridge");
	return s;
}

/* A timer or idle in the private context; the caller owns the returned ref. */
static GSource *ctx_timeout(struct qmi *q, guint ms, GSourceFunc fn)
{
	GSource *s = ms ? g_timeout_source_new(ms) : g_idle_source_new();

	g_source_set_callback(s, fn, q, NULL);
	g_source_attach(s, q->ctx);
	return s;
}

static void source_clear(GSource **s)
{
	if (*s) {
		g_source_destroy(*s);
		g_source_unref(*s);
		*s = NULL;
	}
}

/* ---- libqmi's messages, routed into our logger ---- */

static void qmi_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
	/* libqmi warns about frames it throws away; an operator wants to see those. */
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		log_warn("libqmi: %s", msg);
	else
		log_debug("libqmi: %s", msg);
}

static void qmi_log_init(void)
{
	static gsize once;

	if (g_once_init_enter(&once)) {
		g_log_set_handler("Qmi", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
				  qmi_log, NULL);
		g_once_init_leave(&once, 1);
	}
}

/* ---- events for the daemon ---- */

static gboolean notify_cb(gpointer data)
{
	struct qmi *q = data;
	struct uplink *u = q->u;

	source_clear(&q->notify);
	/* Copied first: a handler may call back into us (reconnect), queueing more. */
	for (int i = 0; i < q->n_events; i++) {
		enum uplink_event ev = q->events[i];

		uplink_event(u, ev);
	}
	q->n_events = 0;
	return G_SOURCE_REMOVE;
}

static void notify(struct qmi *q, enum uplink_event ev)
{
	if (q->stopping)
		return;
	if (q->n_events == MAX_EVENTS) /* unreachable: events alternate and the idle drains */
		q->n_events--;
	q->events[q->n_events++] = ev;
	if (!q->notify) {
		q->notify = g_idle_source_new();
		g_source_set_callback(q->notify, notify_cb, q, NULL);
		g_source_attach(q->notify, NULL); /* the daemon's (default) context */
	}
}

/* ---- applying settings in the namespace ---- */

/* What the bearers have applied, as the uplink's live state (uplink_live()). */
static void publish(struct qmi *q, const struct ip_prefix *dns, size_t n_dns)
{
	struct ip_prefix addrs[MAX_BEARERS], gw4 = {0}, gw6 = {0};
	const struct uplink_params *p = &q->u->p;
	size_t n = 0;

	for (int i = 0; i < q->n_b; i++) {
		const struct bearer *b = &q->b[i];

		if (!b->up || !b->addr.family)
			continue;
		addrs[n++] = b->addr;
		if (b->family == AF_INET)
			gw4 = b->gw;
		else
			gw6 = b->gw;
	}
	uplink_live_set(q->u, addrs, n, &gw4, &gw6, n && p->n_dns ? p->dns : dns,
			n && p->n_dns ? p->n_dns : (n ? n_dns : 0));
}

static int apply_dns(struct qmi *q)
{
	struct ip_prefix dns[UPLINK_MAX_DNS];
	size_t n = 0;

	for (int i = 0; i < q->n_b; i++)
		for (int k = 0; k < 2 && n < UPLINK_MAX_DNS; k++)
			if (q->b[i].up && q->b[i].dns[k].family)
				dns[n++] = q->b[i].dns[k];
	/* The live state follows what is applied: every caller applies or takes back first. */
	publish(q, dns, n);
	/* The config's dns= wins over what the network says. */
	if (q->u->p.n_dns)
		return resolv_write(q->u->ns, q->u->p.dns, q->u->p.n_dns);
	return resolv_write(q->u->ns, dns, n);
}

/* Takes back what a bearer put in the namespace: the address may change on the next session. */
static void bearer_unapply(struct bearer *b, struct rtnl *nl, int idx)
{
	int r;

	if (b->gw.family || b->addr.family) {
		r = route_del_default(nl, idx, b->family);
		if (r < 0 && r != -ESRCH)
			log_debug("uplink %s: removing default route: %d", b->q->u->p.name, r);
	}
	if (b->addr.family) {
		r = addr_del(nl, idx, &b->addr);
		if (r < 0 && r != -EADDRNOTAVAIL)
			log_debug("uplink %s: removing address: %d", b->q->u->p.name, r);
	}
	b->addr = b->gw = (struct ip_prefix){0};
}

static int bearer_apply(struct bearer *b, const struct ip_prefix *addr, const struct ip_prefix *gw,
			const struct ip_prefix dns[2], unsigned mtu)
{
	struct qmi *q = b->q;
	struct rtnl *nl = NULL;
	char a[IP_PREFIX_STRLEN], g[IP_PREFIX_STRLEN];
	bool same;
	int idx, r;

	r = rtnl_open(q->u->nsfd, &nl);
	if (r < 0)
		return r;
	idx = link_index(nl, q->u->p.ifname);
	if (idx < 0) {
		r = idx;
		goto out;
	}
	same = b->addr.family && !memcmp(&b->addr, addr, sizeof(*addr)) &&
	       !memcmp(&b->gw, gw, sizeof(*gw));
	if (!same) {
		bearer_unapply(b, nl, idx);
		if (mtu && mtu != b->mtu && (r = link_set_mtu(nl, idx, mtu)) < 0)
			log_debug("uplink %s: MTU %u: %d", q->u->p.name, mtu, r);
		b->mtu = mtu;
		r = addr_add(nl, idx, addr);
		if (r < 0 && r != -EEXIST)
			goto out;
		b->addr = *addr;
		/* Through the gateway when it is on the subnet (802.3 mode needs ARP for it);
		 * on-link otherwise, which is what a raw-ip point-to-point link wants anyway. */
		r = route_add_default(nl, idx, b->family,
				      gw->family && ip_prefix_contains(addr, gw) ? gw : NULL);
		if (r < 0 && r != -EEXIST)
			goto out;
		b->gw = *gw;
		log_debug("uplink %s: %s via %s, MTU %u", q->u->p.name,
			  ip_prefix_fmt(addr, true, a),
			  gw->family ? ip_prefix_fmt(gw, false, g) : "-", mtu);
	}
	b->dns[0] = dns[0];
	b->dns[1] = dns[1];
	b->up = true;
	r = apply_dns(q);
out:
	rtnl_close(nl);
	return r;
}

static void unapply_all(struct qmi *q)
{
	struct rtnl *nl = NULL;
	int idx;

	if (rtnl_open(q->u->nsfd, &nl) < 0)
		return;
	idx = link_index(nl, q->u->p.ifname);
	for (int i = 0; i < q->n_b; i++) {
		if (idx > 0)
			bearer_unapply(&q->b[i], nl, idx);
		q->b[i].up = false;
		q->b[i].dns[0] = q->b[i].dns[1] = (struct ip_prefix){0};
	}
	rtnl_close(nl);
	apply_dns(q);
}

/* ---- attempts: open, clients, data format, start, watch; and their teardown ---- */

static bool cancelled(const GError *err)
{
	return g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void release_client(struct qmi *q, QmiClient *c)
{
	/* Releasing the CID is also what ends a call on modems that outlive their client. */
	if (q->dev && c)
		qmi_device_release_client(q->dev, c, QMI_DEVICE_RELEASE_CLIENT_FLAGS_RELEASE_CID,
					  REQ_TIMEOUT_S, NULL, NULL, NULL);
}

static void bearer_clear(struct qmi *q, struct bearer *b)
{
	if (b->wds) {
		if (b->ind_id)
			g_signal_handler_disconnect(b->wds, b->ind_id);
		release_client(q, QMI_CLIENT(b->wds));
		g_clear_object(&b->wds);
	}
	b->ind_id = 0;
	b->handle = 0;
}

/* Drops everything of the current attempt; the data path goes with it. */
static void attempt_teardown(struct qmi *q)
{
	bool was = q->connected;

	g_cancellable_cancel(q->cancel);
	g_object_unref(q->cancel);
	q->cancel = g_cancellable_new();
	source_clear(&q->link_poll);
	source_clear(&q->radio_poll);
	source_clear(&q->fail_src);
	for (int i = 0; i < q->n_b; i++)
		bearer_clear(q, &q->b[i]);
	release_client(q, QMI_CLIENT(q->dms));
	release_client(q, QMI_CLIENT(q->nas));
	release_client(q, QMI_CLIENT(q->wda));
	g_clear_object(&q->dms);
	g_clear_object(&q->nas);
	g_clear_object(&q->wda);
	if (q->dev) {
		if (q->removed_id)
			g_signal_handler_disconnect(q->dev, q->removed_id);
		q->removed_id = 0;
		/* The releases above hold their own references; the socket closes after them. */
		g_clear_object(&q->dev);
	}
	q->starting = 0;
	q->connected = false;
	q->resetting = false; /* its requests were cancelled above */
	unapply_all(q);
	if (was)
		notify(q, UPLINK_EVENT_DISCONNECTED);
}

static gboolean retry_cb(gpointer data)
{
	struct qmi *q = data;

	source_clear(&q->retry);
	attempt_start(q);
	return G_SOURCE_REMOVE;
}

static void schedule_retry(struct qmi *q)
{
	unsigned ms = q->backoff_ms;

	if (q->stopping || q->pin_refused)
		return;
	/* Jitter, so modems that dropped together (a cell outage) do not retry in step: the
	 * first retry within FIRST_RETRY_MS, later ones +-25% around a doubling delay. */
	if (ms == 0) {
		ms = (unsigned)g_random_int_range(0, FIRST_RETRY_MS + 1);
		q->backoff_ms = BACKOFF_MIN_MS;
	} else {
		ms = ms - ms / 4 + (unsigned)g_random_int_range(0, (gint32)(ms / 2 + 1));
		q->backoff_ms = MIN(q->backoff_ms * 2, BACKOFF_MAX_MS);
	}
	source_clear(&q->retry);
	q->retry = ctx_timeout(q, ms, retry_cb);
	log_debug("uplink %s: retrying in %u ms", q->u->p.name, ms);
}

static void attempt_fail(struct qmi *q, const char *what, const GError *err)
{
	if (q->stopping)
		return;
	log_debug("uplink %s: %s: %s", q->u->p.name, what, err ? err->message : "failed");
	if (err)
		uplink_live_error(q->u, "%s: %s", what, err->message);
	else
		uplink_live_error(q->u, "%s", what);
	if (q->connected && g_get_monotonic_time() - q->connected_at > STABLE_MS * 1000LL)
		q->backoff_ms = 0;
	attempt_teardown(q);
	schedule_retry(q);
}

static gboolean fail_cb(gpointer data)
{
	struct qmi *q = data;

	source_clear(&q->fail_src);
	attempt_fail(q, q->fail_why, NULL);
	return G_SOURCE_REMOVE;
}

/* From inside libqmi's signal emissions nothing is torn down: libqmi is walking its clients. */
static void fail_later(struct qmi *q, const char *why)
{
	/* A reset ends the call on purpose; reset_done() starts over once the modem answered. */
	if (q->fail_src || q->stopping || q->resetting)
		return;
	snprintf(q->fail_why, sizeof(q->fail_why), "%s", why);
	q->fail_src = ctx_timeout(q, 0, fail_cb);
}

static void on_device_removed(QmiDevice *dev, gpointer data)
{
	fail_later(data, "the control port went away");
}

/* -- radio and identity: read alongside, never in the way of the data path -- */

/* Once per modem, when identity and radio are all in: what uplink_radio_info() now returns. */
static void radio_note(struct qmi *q)
{
	const struct uplink_radio *r = &q->radio;

	q->radio_known = true;
	if (q->radio_logged || !r->imei[0] || !r->iccid[0] || !r->operator_name[0] ||
	    !r->signal_dbm)
		return;
	q->radio_logged = true;
	log_debug("uplink %s: modem IMEI %s, ICCID %s, IMSI %s, %s (%s), %s, %d dBm%s",
		  q->u->p.name, r->imei, r->iccid, r->imsi[0] ? r->imsi : "-", r->operator_name,
		  r->mcc_mnc, r->rat[0] ? r->rat : "-", r->signal_dbm,
		  r->roaming ? ", roaming" : "");
}

static void ids_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageDmsGetIdsOutput *o;
	struct qmi *q = data;
	const gchar *s;
	GError *err = NULL;

	o = qmi_client_dms_get_ids_finish(QMI_CLIENT_DMS(src), res, &err);
	if (o && qmi_message_dms_get_ids_output_get_result(o, &err) &&
	    qmi_message_dms_get_ids_output_get_imei(o, &s, NULL)) {
		snprintf(q->radio.imei, sizeof(q->radio.imei), "%s", s);
		radio_note(q);
	}
	if (err && !cancelled(err))
		log_debug("uplink %s: IMEI: %s", q->u->p.name, err->message);
	g_clear_error(&err);
	if (o)
		qmi_message_dms_get_ids_output_unref(o);
}

static void iccid_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageDmsUimGetIccidOutput *o;
	struct qmi *q = data;
	const gchar *s;
	GError *err = NULL;

	o = qmi_client_dms_uim_get_iccid_finish(QMI_CLIENT_DMS(src), res, &err);
	if (o && qmi_message_dms_uim_get_iccid_output_get_result(o, &err) &&
	    qmi_message_dms_uim_get_iccid_output_get_iccid(o, &s, NULL)) {
		snprintf(q->radio.iccid, sizeof(q->radio.iccid), "%s", s);
		radio_note(q);
	}
	if (err && !cancelled(err))
		log_debug("uplink %s: ICCID: %s", q->u->p.name, err->message);
	g_clear_error(&err);
	if (o)
		qmi_message_dms_uim_get_iccid_output_unref(o);
}

static void imsi_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageDmsUimGetImsiOutput *o;
	struct qmi *q = data;
	const gchar *s;
	GError *err = NULL;

	o = qmi_client_dms_uim_get_imsi_finish(QMI_CLIENT_DMS(src), res, &err);
	if (o && qmi_message_dms_uim_get_imsi_output_get_result(o, &err) &&
	    qmi_message_dms_uim_get_imsi_output_get_imsi(o, &s, NULL)) {
		snprintf(q->radio.imsi, sizeof(q->radio.imsi), "%s", s);
		radio_note(q);
	}
	if (err && !cancelled(err))
		log_debug("uplink %s: IMSI: %s", q->u->p.name, err->message);
	g_clear_error(&err);
	if (o)
		qmi_message_dms_uim_get_imsi_output_unref(o);
}

static void signal_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageNasGetSignalStrengthOutput *o;
	struct qmi *q = data;
	QmiNasRadioInterface iface;
	GError *err = NULL;
	gint8 dbm;

	o = qmi_client_nas_get_signal_strength_finish(QMI_CLIENT_NAS(src), res, &err);
	if (o && qmi_message_nas_get_signal_strength_output_get_result(o, &err) &&
	    qmi_message_nas_get_signal_strength_output_get_signal_strength(o, &dbm, &iface, NULL)) {
		q->radio.signal_dbm = dbm;
		radio_note(q);
	}
	if (err && !cancelled(err))
		log_debug("uplink %s: signal: %s", q->u->p.name, err->message);
	g_clear_error(&err);
	if (o)
		qmi_message_nas_get_signal_strength_output_unref(o);
}

static void serving_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageNasGetServingSystemOutput *o;
	struct qmi *q = data;
	QmiNasRegistrationState reg;
	QmiNasAttachState cs, ps;
	QmiNasNetworkType net;
	QmiNasRoamingIndicatorStatus roam;
	GArray *ifaces = NULL;
	const gchar *desc = NULL;
	guint16 mcc, mnc;
	GError *err = NULL;

	o = qmi_client_nas_get_serving_system_finish(QMI_CLIENT_NAS(src), res, &err);
	if (!o || !qmi_message_nas_get_serving_system_output_get_result(o, &err))
		goto out;
	if (qmi_message_nas_get_serving_system_output_get_serving_system(o, &reg, &cs, &ps, &net,
									 &ifaces, NULL)) {
		struct uplink_radio *r = &q->radio;

		r->registered = reg == QMI_NAS_REGISTRATION_STATE_REGISTERED;
		r->rat[0] = '\0';
		if (ifaces && ifaces->len) {
			const gchar *s = qmi_nas_radio_interface_get_string(
			    g_array_index(ifaces, QmiNasRadioInterface, 0));
			snprintf(r->rat, sizeof(r->rat), "%s", s ? s : "unknown");
		}
		radio_note(q);
	}
	if (qmi_message_nas_get_serving_system_output_get_roaming_indicator(o, &roam, NULL))
		q->radio.roaming = roam == QMI_NAS_ROAMING_INDICATOR_STATUS_ON;
	if (qmi_message_nas_get_serving_system_output_get_current_plmn(o, &mcc, &mnc, &desc,
								       NULL)) {
		/* A 2-digit MNC below 100 prints as two digits; 3-digit ones need the PCS flag,
		 * which not every modem sends: three digits when it is above 99. */
		snprintf(q->radio.mcc_mnc, sizeof(q->radio.mcc_mnc),
			 mnc > 99 ? "%03u%03u" : "%03u%02u", mcc % 1000, mnc % 1000);
		if (desc && *desc)
			snprintf(q->radio.operator_name, sizeof(q->radio.operator_name), "%s",
				 desc);
		else
			snprintf(q->radio.operator_name, sizeof(q->radio.operator_name), "%s",
				 q->radio.mcc_mnc);
		radio_note(q);
	}
out:
	if (err && !cancelled(err))
		log_debug("uplink %s: serving system: %s", q->u->p.name, err->message);
	g_clear_error(&err);
	if (o)
		qmi_message_nas_get_serving_system_output_unref(o);
}

static void radio_refresh(struct qmi *q)
{
	if (q->nas) {
		qmi_client_nas_get_signal_strength(q->nas, NULL, REQ_TIMEOUT_S, q->cancel,
						   signal_cb, q);
		qmi_client_nas_get_serving_system(q->nas, NULL, REQ_TIMEOUT_S, q->cancel,
						  serving_cb, q);
	}
}

static gboolean radio_poll_cb(gpointer data)
{
	radio_refresh(data);
	return G_SOURCE_CONTINUE;
}

static void identity_read(struct qmi *q)
{
	if (!q->dms)
		return;
	qmi_client_dms_get_ids(q->dms, NULL, REQ_TIMEOUT_S, q->cancel, ids_cb, q);
	qmi_client_dms_uim_get_iccid(q->dms, NULL, REQ_TIMEOUT_S, q->cancel, iccid_cb, q);
	qmi_client_dms_uim_get_imsi(q->dms, NULL, REQ_TIMEOUT_S, q->cancel, imsi_cb, q);
}

/* -- the data session -- */

static void settings_cb(GObject *src, GAsyncResult *res, gpointer data);

static void read_settings(struct bearer *b)
{
	QmiMessageWdsGetCurrentSettingsInput *in = qmi_message_wds_get_current_settings_input_new();

	qmi_message_wds_get_current_settings_input_set_requested_settings(
	    in,
	    QMI_WDS_REQUESTED_SETTINGS_DNS_ADDRESS | QMI_WDS_REQUESTED_SETTINGS_IP_ADDRESS |
		QMI_WDS_REQUESTED_SETTINGS_GATEWAY_INFO | QMI_WDS_REQUESTED_SETTINGS_MTU |
		QMI_WDS_REQUESTED_SETTINGS_IP_FAMILY,
	    NULL);
	qmi_client_wds_get_current_settings(b->wds, in, REQ_TIMEOUT_S, b->q->cancel, settings_cb,
					    b);
	qmi_message_wds_get_current_settings_input_unref(in);
}

static void v4(struct ip_prefix *p, guint32 host_order, uint8_t plen)
{
	*p = (struct ip_prefix){.family = AF_INET, .plen = plen};
	p->addr.v4.s_addr = htonl(host_order);
}

static void v6(struct ip_prefix *p, const GArray *words, uint8_t plen)
{
	*p = (struct ip_prefix){.family = AF_INET6, .plen = plen};
	for (guint i = 0; words && i < 8 && i < words->len; i++) {
		guint16 w = g_array_index(words, guint16, i);

		p->addr.v6.s6_addr[2 * i] = (uint8_t)(w >> 8);
		p->addr.v6.s6_addr[2 * i + 1] = (uint8_t)w;
	}
}

static int settings_parse(struct bearer *b, QmiMessageWdsGetCurrentSettingsOutput *o,
			  struct ip_prefix *addr, struct ip_prefix *gw, struct ip_prefix dns[2],
			  unsigned *mtu)
{
	guint32 a, m = 0, g, d, mt;
	GArray *arr = NULL;
	guint8 plen;

	*addr = *gw = dns[0] = dns[1] = (struct ip_prefix){0};
	*mtu = qmi_message_wds_get_current_settings_output_get_mtu(o, &mt, NULL) ? mt : 0;
	if (b->family == AF_INET) {
		if (!qmi_message_wds_get_current_settings_output_get_ipv4_address(o, &a, NULL))
			return -ENODATA;
		qmi_message_wds_get_current_settings_output_get_ipv4_gateway_subnet_mask(o, &m,
											 NULL);
		/* No mask, or a non-contiguous one: a host address, the route goes on-link. */
		plen = m && !(~m & (~m + 1)) ? (guint8)(32 - __builtin_ctz(m)) : 32;
		v4(addr, a, plen);
		if (qmi_message_wds_get_current_settings_output_get_ipv4_gateway_address(o, &g,
											 NULL))
			v4(gw, g, 32);
		if (qmi_message_wds_get_current_settings_output_get_primary_ipv4_dns_address(o, &d,
											     NULL))
			v4(&dns[0], d, 32);
		if (qmi_message_wds_get_current_settings_output_get_secondary_ipv4_dns_address(
			o, &d, NULL))
			v4(&dns[1], d, 32);
		return 0;
	}
	if (!qmi_message_wds_get_current_settings_output_get_ipv6_address(o, &arr, &plen, NULL))
		return -ENODATA;
	v6(addr, arr, plen > 128 ? 128 : plen);
	if (qmi_message_wds_get_current_settings_output_get_ipv6_gateway_address(o, &arr, &plen,
										 NULL))
		v6(gw, arr, 128);
	if (qmi_message_wds_get_current_settings_output_get_ipv6_primary_dns_address(o, &arr, NULL))
		v6(&dns[0], arr, 128);
	if (qmi_message_wds_get_current_settings_output_get_ipv6_secondary_dns_address(o, &arr,
										       NULL))
		v6(&dns[1], arr, 128);
	return 0;
}

static void link_poll_start(struct qmi *q);

static void settings_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageWdsGetCurrentSettingsOutput *o;
	struct bearer *b = data;
	struct qmi *q;
	struct ip_prefix addr, gw, dns[2];
	GError *err = NULL;
	unsigned mtu;
	int r;

	o = qmi_client_wds_get_current_settings_finish(QMI_CLIENT_WDS(src), res, &err);
	if (cancelled(err)) {
		g_error_free(err);
		return;
	}
	q = b->q;
	if (!o || !qmi_message_wds_get_current_settings_output_get_result(o, &err)) {
		attempt_fail(q, "reading the session's IP settings", err);
		goto out;
	}
	r = settings_parse(b, o, &addr, &gw, dns, &mtu);
	if (r == 0)
		r = bearer_apply(b, &addr, &gw, dns, mtu);
	if (r < 0) {
		log_debug("uplink %s: applying IP settings: %d", q->u->p.name, r);
		attempt_fail(q, "applying the session's IP settings", NULL);
		goto out;
	}
	if (!q->connected) {
		q->connected = true;
		q->connected_at = g_get_monotonic_time();
		link_poll_start(q);
		notify(q, UPLINK_EVENT_CONNECTED);
	}
out:
	g_clear_error(&err);
	if (o)
		qmi_message_wds_get_current_settings_output_unref(o);
}

static void bearer_dropped(struct bearer *b, const char *why)
{
	struct qmi *q = b->q;

	if (!b->handle)
		return;
	b->handle = 0;
	/* One family gone is the whole session gone: the kill switch has nothing half-up. */
	fail_later(q, why);
}

static void on_packet_status(QmiClientWds *wds, QmiIndicationWdsPacketServiceStatusOutput *o,
			     gpointer data)
{
	struct bearer *b = data;
	QmiWdsConnectionStatus st;
	QmiWdsCallEndReason reason = QMI_WDS_CALL_END_REASON_GENERIC_UNSPECIFIED;
	gboolean reconf = FALSE;
	char why[128];

	if (!qmi_indication_wds_packet_service_status_output_get_connection_status(o, &st, &reconf,
										   NULL))
		return;
	if (st == QMI_WDS_CONNECTION_STATUS_CONNECTED && reconf && b->up) {
		/* The network changed the session's settings (a new address): read them again. */
		read_settings(b);
		return;
	}
	if (st != QMI_WDS_CONNECTION_STATUS_DISCONNECTED)
		return;
	qmi_indication_wds_packet_service_status_output_get_call_end_reason(o, &reason, NULL);
	snprintf(why, sizeof(why), "the network ended the data session (%s)",
		 qmi_wds_call_end_reason_get_string(reason)
		     ? qmi_wds_call_end_reason_get_string(reason)
		     : "unknown reason");
	bearer_dropped(b, why);
}

static void status_poll_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageWdsGetPacketServiceStatusOutput *o;
	struct bearer *b = data;
	QmiWdsConnectionStatus st;
	GError *err = NULL;

	o = qmi_client_wds_get_packet_service_status_finish(QMI_CLIENT_WDS(src), res, &err);
	if (cancelled(err)) {
		g_error_free(err);
		return;
	}
	if (o && qmi_message_wds_get_packet_service_status_output_get_result(o, &err) &&
	    qmi_message_wds_get_packet_service_status_output_get_connection_status(o, &st, NULL) &&
	    st == QMI_WDS_CONNECTION_STATUS_DISCONNECTED)
		bearer_dropped(b, "the data session is gone (poll)");
	else if (err)
		log_debug("uplink %s: packet service status: %s", b->q->u->p.name, err->message);
	g_clear_error(&err);
	if (o)
		qmi_message_wds_get_packet_service_status_output_unref(o);
}

static gboolean link_poll_cb(gpointer data)
{
	struct qmi *q = data;

	for (int i = 0; i < q->n_b; i++)
		if (q->b[i].wds && q->b[i].handle)
			qmi_client_wds_get_packet_service_status(
			    q->b[i].wds, NULL, REQ_TIMEOUT_S, q->cancel, status_poll_cb, &q->b[i]);
	return G_SOURCE_CONTINUE;
}

static void link_poll_start(struct qmi *q)
{
	source_clear(&q->link_poll);
	q->link_poll = ctx_timeout(q, LINK_POLL_S * 1000, link_poll_cb);
	source_clear(&q->radio_poll);
	q->radio_poll = ctx_timeout(q, RADIO_POLL_S * 1000, radio_poll_cb);
}

static void start_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageWdsStartNetworkOutput *o;
	struct bearer *b = data;
	struct qmi *q;
	GError *err = NULL;

	o = qmi_client_wds_start_network_finish(QMI_CLIENT_WDS(src), res, &err);
	if (cancelled(err)) {
		g_error_free(err);
		return;
	}
	q = b->q;
	q->starting--;
	if (o && qmi_message_wds_start_network_output_get_result(o, &err)) {
		qmi_message_wds_start_network_output_get_packet_data_handle(o, &b->handle, NULL);
		read_settings(b);
	} else if (g_error_matches(err, QMI_PROTOCOL_ERROR, QMI_PROTOCOL_ERROR_NO_EFFECT)) {
		/* A call is up already (left by a daemon that was killed): take it over. The
		 * handle is unknown; the global one stops it. */
		b->handle = 0xffffffff;
		read_settings(b);
	} else {
		QmiWdsCallEndReason reason = 0;
		char why[160];

		if (o)
			qmi_message_wds_start_network_output_get_call_end_reason(o, &reason, NULL);
		snprintf(why, sizeof(why), "starting the %s data session (call end reason %s)",
			 b->family == AF_INET ? "IPv4" : "IPv6",
			 reason ? qmi_wds_call_end_reason_get_string(reason) : "none");
		/* ipv4v6: a family the network does not offer is not a failure of the other. */
		log_debug("uplink %s: %s: %s", q->u->p.name, why, err ? err->message : "");
		bearer_clear(q, b);
		if (q->starting == 0 && !q->b[0].handle && !q->b[1].handle)
			attempt_fail(q, why, err);
	}
	g_clear_error(&err);
	if (o)
		qmi_message_wds_start_network_output_unref(o);
}

static QmiWdsAuthentication auth_of(const struct uplink_params *p)
{
	switch (p->auth) {
	case UPLINK_AUTH_NONE:
		return QMI_WDS_AUTHENTICATION_NONE;
	case UPLINK_AUTH_PAP:
		return QMI_WDS_AUTHENTICATION_PAP;
	case UPLINK_AUTH_CHAP:
		return QMI_WDS_AUTHENTICATION_CHAP;
	case UPLINK_AUTH_BOTH:
		return QMI_WDS_AUTHENTICATION_PAP | QMI_WDS_AUTHENTICATION_CHAP;
	case UPLINK_AUTH_UNSET:
		break;
	}
	return p->username[0] ? QMI_WDS_AUTHENTICATION_PAP | QMI_WDS_AUTHENTICATION_CHAP
			      : QMI_WDS_AUTHENTICATION_NONE;
}

static void bearer_start(struct bearer *b)
{
	const struct uplink_params *p = &b->q->u->p;
	QmiMessageWdsStartNetworkInput *in = qmi_message_wds_start_network_input_new();

	if (p->apn[0])
		qmi_message_wds_start_network_input_set_apn(in, p->apn, NULL);
	qmi_message_wds_start_network_input_set_authentication_preference(in, auth_of(p), NULL);
	if (p->username[0])
		qmi_message_wds_start_network_input_set_username(in, p->username, NULL);
	if (p->password[0])
		qmi_message_wds_start_network_input_set_password(in, p->password, NULL);
	qmi_message_wds_start_network_input_set_ip_family_preference(
	    in, b->family == AF_INET ? QMI_WDS_IP_FAMILY_IPV4 : QMI_WDS_IP_FAMILY_IPV6, NULL);
	b->q->starting++;
	qmi_client_wds_start_network(b->wds, in, START_TIMEOUT_S, b->q->cancel, start_cb, b);
	qmi_message_wds_start_network_input_unref(in);
}

static void ip_family_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageWdsSetIpFamilyOutput *o;
	struct bearer *b = data;
	GError *err = NULL;

	o = qmi_client_wds_set_ip_family_finish(QMI_CLIENT_WDS(src), res, &err);
	if (cancelled(err)) {
		g_error_free(err);
		return;
	}
	/* Old firmware lacks Set IP Family; the Start Network preference still says it. */
	if (err || (o && !qmi_message_wds_set_ip_family_output_get_result(o, &err)))
		log_debug("uplink %s: set IP family: %s", b->q->u->p.name,
			  err ? err->message : "failed");
	g_clear_error(&err);
	if (o)
		qmi_message_wds_set_ip_family_output_unref(o);
	bearer_start(b);
}

static void network_start(struct qmi *q)
{
	for (int i = 0; i < q->n_b; i++) {
		struct bearer *b = &q->b[i];
		QmiMessageWdsSetIpFamilyInput *in;

		if (!b->wds)
			continue;
		b->ind_id = g_signal_connect(b->wds, "packet-service-status",
					     G_CALLBACK(on_packet_status), b);
		in = qmi_message_wds_set_ip_family_input_new();
		qmi_message_wds_set_ip_family_input_set_preference(
		    in, b->family == AF_INET ? QMI_WDS_IP_FAMILY_IPV4 : QMI_WDS_IP_FAMILY_IPV6,
		    NULL);
		qmi_client_wds_set_ip_family(b->wds, in, REQ_TIMEOUT_S, q->cancel, ip_family_cb, b);
		qmi_message_wds_set_ip_family_input_unref(in);
	}
}

/* -- data format: raw-ip where the modem agrees -- */

/* qmi_wwan's link mode must match the modem's. Its sysfs knob is only visible while the link is
 * in the host namespace, so a modem that refuses raw-ip (rare) costs a trip out and back. */
static int raw_ip_knob_set(struct uplink *u, bool on)
{
	char path[128];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "/sys/class/net/%s/qmi/raw_ip", u->p.ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (write(fd, on ? "Y" : "N", 1) != 1)
		return negative_errno();
	return 0;
}

static void format_done(struct qmi *q, bool raw_ip)
{
	if (q->raw_ip_knob && !raw_ip) {
		struct rtnl *nl = NULL, *host = NULL;
		int idx, r;

		r = rtnl_open(q->u->nsfd, &nl);
		idx = r < 0 ? r : link_index(nl, q->u->p.ifname);
		if (idx > 0 && (r = link_set_up(nl, idx, false)) == 0)
			r = link_set_netns(nl, idx, q->u->host_nsfd, NULL);
		if (r == 0 && (r = rtnl_open(-1, &host)) == 0) {
			idx = link_index(host, q->u->p.ifname);
			raw_ip_knob_set(q->u, false);
			r = idx < 0 ? idx : link_set_netns(host, idx, q->u->nsfd, NULL);
		}
		if (r == 0 && (idx = link_index(nl, q->u->p.ifname)) > 0)
			r = link_set_up(nl, idx, true);
		rtnl_close(host);
		rtnl_close(nl);
		/* Half-way, the link may be in the host: down() then finds nothing to return. */
		if (r < 0)
			log_debug("uplink %s: switching %s to 802.3: %d", q->u->p.name,
				  q->u->p.ifname, r);
		q->raw_ip_knob = false;
	}
	q->raw_ip = raw_ip;
	network_start(q);
}

static void wda_format_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageWdaSetDataFormatOutput *o;
	QmiWdaLinkLayerProtocol llp = QMI_WDA_LINK_LAYER_PROTOCOL_802_3;
	struct qmi *q = data;
	GError *err = NULL;

	o = qmi_client_wda_set_data_format_finish(QMI_CLIENT_WDA(src), res, &err);
	if (cancelled(err)) {
		g_error_free(err);
		return;
	}
	if (!o || !qmi_message_wda_set_data_format_output_get_result(o, &err)) {
		log_debug("uplink %s: WDA set data format: %s", q->u->p.name,
			  err ? err->message : "failed");
		g_clear_error(&err);
		if (o)
			qmi_message_wda_set_data_format_output_unref(o);
		q->no_wda = true;
		format_done(q, false);
		return;
	}
	qmi_message_wda_set_data_format_output_get_link_layer_protocol(o, &llp, NULL);
	qmi_message_wda_set_data_format_output_unref(o);
	format_done(q, llp == QMI_WDA_LINK_LAYER_PROTOCOL_RAW_IP);
}

static void data_format(struct qmi *q)
{
	QmiMessageWdaSetDataFormatInput *in;

	/* Without WDA the format is CTL's, which libqmi sets only while opening: 802.3, the
	 * one every such modem knows, from the next open on (open_flags()). */
	if (!q->wda) {
		q->no_wda = true;
		format_done(q, false);
		return;
	}
	in = qmi_message_wda_set_data_format_input_new();
	qmi_message_wda_set_data_format_input_set_link_layer_protocol(
	    in, QMI_WDA_LINK_LAYER_PROTOCOL_RAW_IP, NULL);
	qmi_client_wda_set_data_format(q->wda, in, REQ_TIMEOUT_S, q->cancel, wda_format_cb, q);
	qmi_message_wda_set_data_format_input_unref(in);
}

/* -- the SIM: PIN only when it asks, and only the configured one -- */

static void verify_pin_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageDmsUimVerifyPinOutput *o;
	struct qmi *q = data;
	GError *err = NULL;

	o = qmi_client_dms_uim_verify_pin_finish(QMI_CLIENT_DMS(src), res, &err);
	if (cancelled(err)) {
		g_error_free(err);
		return;
	}
	if (!o || !qmi_message_dms_uim_verify_pin_output_get_result(o, &err)) {
		/* A wrong PIN is never retried by itself: two more would block the SIM. Only a
		 * new config or an explicit reconnect tries again. */
		log_debug("uplink %s: SIM PIN refused: %s", q->u->p.name,
			  err ? err->message : "failed");
		q->pin_refused = true;
		attempt_fail(q, "the SIM PIN was refused", err);
	} else {
		identity_read(q); /* the IMSI is readable only now */
		data_format(q);
	}
	g_clear_error(&err);
	if (o)
		qmi_message_dms_uim_verify_pin_output_unref(o);
}

static void pin_status_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageDmsUimGetPinStatusOutput *o;
	QmiDmsUimPinStatus st = QMI_DMS_UIM_PIN_STATUS_DISABLED;
	struct qmi *q = data;
	guint8 tries, unblock;
	GError *err = NULL;

	o = qmi_client_dms_uim_get_pin_status_finish(QMI_CLIENT_DMS(src), res, &err);
	if (cancelled(err)) {
		g_error_free(err);
		return;
	}
	if (o && qmi_message_dms_uim_get_pin_status_output_get_result(o, NULL))
		qmi_message_dms_uim_get_pin_status_output_get_pin1_status(o, &st, &tries, &unblock,
									  NULL);
	g_clear_error(&err);
	if (o)
		qmi_message_dms_uim_get_pin_status_output_unref(o);
	if (st == QMI_DMS_UIM_PIN_STATUS_ENABLED_NOT_VERIFIED) {
		QmiMessageDmsUimVerifyPinInput *in;

		if (!q->u->p.pin[0]) {
			q->backoff_ms = BACKOFF_MAX_MS;
			attempt_fail(q, "the SIM wants a PIN and pin= is not set", NULL);
			return;
		}
		in = qmi_message_dms_uim_verify_pin_input_new();
		qmi_message_dms_uim_verify_pin_input_set_info(in, QMI_DMS_UIM_PIN_ID_PIN,
							      q->u->p.pin, NULL);
		qmi_client_dms_uim_verify_pin(q->dms, in, REQ_TIMEOUT_S, q->cancel, verify_pin_cb,
					      q);
		qmi_message_dms_uim_verify_pin_input_unref(in);
		return;
	}
	data_format(q);
}

static void clients_ready(struct qmi *q)
{
	identity_read(q);
	radio_refresh(q);
	if (q->dms && q->u->p.pin[0]) {
		qmi_client_dms_uim_get_pin_status(q->dms, NULL, REQ_TIMEOUT_S, q->cancel,
						  pin_status_cb, q);
		return;
	}
	data_format(q);
}

/* -- clients, one after the other: DMS, NAS, WDA (all optional), then a WDS per family -- */

static void alloc_next(struct qmi *q);

static void alloc_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct qmi *q = data;
	GError *err = NULL;
	QmiClient *c;
	int step;

	c = qmi_device_allocate_client_finish(QMI_DEVICE(src), res, &err);
	if (cancelled(err)) {
		g_error_free(err);
		if (c)
			g_object_unref(c);
		return;
	}
	step = q->alloc_step++;
	if (!c) {
		if (step >= 3) {
			attempt_fail(q, "allocating a WDS client", err);
			g_error_free(err);
			return;
		}
		log_debug("uplink %s: no client for service %d: %s", q->u->p.name, step,
			  err->message);
		g_error_free(err);
	} else if (step == 0) {
		q->dms = QMI_CLIENT_DMS(c);
	} else if (step == 1) {
		q->nas = QMI_CLIENT_NAS(c);
	} else if (step == 2) {
		q->wda = QMI_CLIENT_WDA(c);
	} else {
		q->b[step - 3].wds = QMI_CLIENT_WDS(c);
	}
	alloc_next(q);
}

static void alloc_next(struct qmi *q)
{
	static const QmiService services[] = {QMI_SERVICE_DMS, QMI_SERVICE_NAS, QMI_SERVICE_WDA};
	QmiService svc;

	if (q->alloc_step >= 3 + q->n_b) {
		clients_ready(q);
		return;
	}
	svc = q->alloc_step < 3 ? services[q->alloc_step] : QMI_SERVICE_WDS;
	qmi_device_allocate_client(q->dev, svc, QMI_CID_NONE, REQ_TIMEOUT_S, q->cancel, alloc_cb,
				   q);
}

static void open_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct qmi *q = data;
	GError *err = NULL;

	if (!qmi_device_open_finish(QMI_DEVICE(src), res, &err)) {
		if (!cancelled(err))
			attempt_fail(q, "opening the control port", err);
		g_error_free(err);
		return;
	}
	q->alloc_step = 0;
	alloc_next(q);
}

static void device_new_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct qmi *q = data;
	GError *err = NULL;
	QmiDevice *dev;

	dev = qmi_device_new_finish(res, &err);
	if (!dev) {
		if (!cancelled(err))
			attempt_fail(q, "creating the device", err);
		g_error_free(err);
		return;
	}
	q->dev = dev;
	q->removed_id =
	    g_signal_connect(dev, QMI_DEVICE_SIGNAL_REMOVED, G_CALLBACK(on_device_removed), q);
	qmi_device_open(dev,
			QMI_DEVICE_OPEN_FLAGS_PROXY |
			    (q->no_wda ? QMI_DEVICE_OPEN_FLAGS_NET_802_3 |
					     QMI_DEVICE_OPEN_FLAGS_NET_NO_QOS_HEADER
				       : 0),
			OPEN_TIMEOUT_S, q->cancel, open_cb, q);
}

static void attempt_start(struct qmi *q)
{
	const struct uplink_params *p = &q->u->p;
	GFile *file;

	if (q->stopping)
		return;
	/* A modem that vanished comes back as a new device node; until then, wait. */
	if (p->qmi_proxy[0] ? !qmi_proxy_listening(p->qmi_proxy) : access(p->device, F_OK) < 0) {
		attempt_fail(q, p->qmi_proxy[0] ? "the proxy is not there" : "no device node",
			     NULL);
		return;
	}
	file = g_file_new_for_path(p->device);
	g_async_initable_new_async(QMI_TYPE_DEVICE, G_PRIORITY_DEFAULT, q->cancel, device_new_cb, q,
				   QMI_DEVICE_FILE, file, QMI_DEVICE_NO_FILE_CHECK,
				   (gboolean)(p->qmi_proxy[0] != '\0'), QMI_DEVICE_PROXY_PATH,
				   p->qmi_proxy[0] ? p->qmi_proxy : DEFAULT_PROXY, NULL);
	g_object_unref(file);
}

static gboolean first_attempt_cb(gpointer data)
{
	struct qmi *q = data;

	source_clear(&q->retry);
	attempt_start(q);
	return G_SOURCE_REMOVE;
}

/* ---- the driver ---- */

static int qmi_prepare(struct uplink *u)
{
	if (u->p.ifname[0])
		return 0;
	const char *port = strrchr(u->p.device, '/');

	/* The data interface of a QMI port is the net device of the same USB interface. */
	return qmi_ident_netdev("/sys", port ? port + 1 : u->p.device, u->p.ifname,
				sizeof(u->p.ifname));
}

static void qmi_free(struct qmi *q)
{
	if (!q)
		return;
	source_clear(&q->notify);
	if (q->bridge) {
		g_source_destroy(q->bridge);
		g_source_unref(q->bridge);
	}
	if (q->cancel)
		g_object_unref(q->cancel);
	if (q->ctx)
		g_main_context_unref(q->ctx);
	free(q);
}

/* Runs in a worker thread at daemon start: only what needs no loop, the rest is deferred. */
static int qmi_up(struct uplink *u)
{
	struct qmi *q;
	int r;

	qmi_log_init();
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->u = u;
	q->backoff_ms = 0;
	q->n_b = u->p.ip_type == UPLINK_IP_V4V6 ? 2 : 1;
	q->b[0].family = u->p.ip_type == UPLINK_IP_V6 ? AF_INET6 : AF_INET;
	q->b[1].family = AF_INET6;
	for (int i = 0; i < MAX_BEARERS; i++)
		q->b[i].q = q;
	/* Before the move: the knob is only reachable while the link is in the host. */
	r = raw_ip_knob_set(u, true);
	q->raw_ip_knob = r == 0;
	if (r < 0 && r != -ENOENT)
		log_debug("uplink %s: raw_ip knob of %s: %d", u->p.name, u->p.ifname, r);
	r = uplink_link_adopt(u);
	if (r < 0) {
		free(q);
		return r;
	}
	q->ctx = g_main_context_new();
	q->cancel = g_cancellable_new();
	q->retry = ctx_timeout(q, 0, first_attempt_cb);
	q->bridge = bridge_new(q->ctx);
	u->drv_data = q;
	/* Last: from here on the daemon's loop may run our callbacks. */
	g_source_attach(q->bridge, NULL);
	return 0;
}

static void stop_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageWdsStopNetworkOutput *o;
	int *pending = data;
	GError *err = NULL;

	o = qmi_client_wds_stop_network_finish(QMI_CLIENT_WDS(src), res, &err);
	if (o && !qmi_message_wds_stop_network_output_get_result(o, &err))
		log_debug("stop network: %s", err->message);
	g_clear_error(&err);
	if (o)
		qmi_message_wds_stop_network_output_unref(o);
	(*pending)--;
}

static void release_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	int *pending = data;

	qmi_device_release_client_finish(QMI_DEVICE(src), res, NULL);
	(*pending)--;
}

/* Ends the call and releases every client, waiting for the modem's answers (bounded). */
static void session_release(struct qmi *q)
{
	int pending = 0;

	for (int i = 0; i < q->n_b; i++) {
		struct bearer *b = &q->b[i];
		QmiMessageWdsStopNetworkInput *in;

		if (!b->wds || !b->handle)
			continue;
		g_signal_handler_disconnect(b->wds, b->ind_id);
		b->ind_id = 0;
		in = qmi_message_wds_stop_network_input_new();
		qmi_message_wds_stop_network_input_set_packet_data_handle(in, b->handle, NULL);
		if (b->handle == 0xffffffff)
			qmi_message_wds_stop_network_input_set_disable_autoconnect(in, TRUE, NULL);
		pending++;
		qmi_client_wds_stop_network(b->wds, in, REQ_TIMEOUT_S, NULL, stop_cb, &pending);
		qmi_message_wds_stop_network_input_unref(in);
		b->handle = 0;
	}
	qmi_ctx_wait(q->ctx, &pending, STOP_WAIT_MS);
	QmiClient *clients[] = {QMI_CLIENT(q->dms), QMI_CLIENT(q->nas), QMI_CLIENT(q->wda),
				q->n_b > 0 ? QMI_CLIENT(q->b[0].wds) : NULL,
				q->n_b > 1 ? QMI_CLIENT(q->b[1].wds) : NULL};
	for (size_t i = 0; q->dev && i < ARRAY_SIZE(clients); i++)
		if (clients[i]) {
			pending++;
			qmi_device_release_client(q->dev, clients[i],
						  QMI_DEVICE_RELEASE_CLIENT_FLAGS_RELEASE_CID,
						  REQ_TIMEOUT_S, NULL, release_cb, &pending);
		}
	qmi_ctx_wait(q->ctx, &pending, STOP_WAIT_MS);
	for (int i = 0; i < q->n_b; i++) {
		if (q->b[i].wds && q->b[i].ind_id)
			g_signal_handler_disconnect(q->b[i].wds, q->b[i].ind_id);
		q->b[i].ind_id = 0;
		g_clear_object(&q->b[i].wds);
	}
	g_clear_object(&q->dms);
	g_clear_object(&q->nas);
	g_clear_object(&q->wda);
}

static void qmi_down(struct uplink *u)
{
	struct qmi *q = u->drv_data;

	if (q) {
		q->stopping = true;
		source_clear(&q->notify);
		source_clear(&q->retry);
		source_clear(&q->link_poll);
		source_clear(&q->radio_poll);
		source_clear(&q->fail_src);
		g_main_context_push_thread_default(q->ctx);
		g_cancellable_cancel(q->cancel);
		if (q->dev)
			session_release(q);
		if (q->dev) {
			if (q->removed_id)
				g_signal_handler_disconnect(q->dev, q->removed_id);
			g_clear_object(&q->dev);
		}
		/* Cancelled requests complete in the context: let them, so nothing is left
		 * holding the context (and nothing runs after q is gone). */
		while (g_main_context_iteration(q->ctx, FALSE))
			;
		g_main_context_pop_thread_default(q->ctx);
		qmi_free(q);
		u->drv_data = NULL;
		u->connected = false;
	}
	if (u->adopted)
		uplink_link_return(u);
}

static gboolean reconnect_cb(gpointer data)
{
	struct qmi *q = data;

	source_clear(&q->retry);
	q->backoff_ms = 0;
	q->pin_refused = false;
	/* Quiet while the modem ends the call: nothing of the old attempt may act meanwhile. */
	q->stopping = true;
	g_cancellable_cancel(q->cancel);
	if (q->dev)
		session_release(q);
	q->stopping = false;
	attempt_teardown(q);
	attempt_start(q);
	return G_SOURCE_REMOVE;
}

static int qmi_reconnect(struct uplink *u)
{
	struct qmi *q = u->drv_data;

	if (!q)
		return -ENOTCONN;
	/* In the private context, where libqmi calls must be made. */
	source_clear(&q->retry);
	q->retry = ctx_timeout(q, 0, reconnect_cb);
	return 0;
}

/* -- modem reset: DMS operating mode offline, then reset -- */

static void reset_done(struct qmi *q, const char *what, GError *err)
{
	q->resetting = false;
	if (err) {
		uplink_live_error(q->u, "resetting the modem: %s: %s", what, err->message);
		log_debug("uplink %s: reset: %s: %s", q->u->p.name, what, err->message);
	}
	/* The modem drops off the bus and enumerates again; until then opens fail and the
	 * usual backoff retries. Either way the old session is gone: start over. */
	q->backoff_ms = BACKOFF_MIN_MS;
	attempt_fail(q, err ? "the modem reset failed" : "the modem was reset", NULL);
}

static void mode_reset_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageDmsSetOperatingModeOutput *o;
	struct qmi *q = data;
	GError *err = NULL;

	o = qmi_client_dms_set_operating_mode_finish(QMI_CLIENT_DMS(src), res, &err);
	if (cancelled(err)) {
		g_error_free(err);
		return;
	}
	if (o)
		qmi_message_dms_set_operating_mode_output_get_result(o, &err);
	reset_done(q, "operating mode reset", err);
	g_clear_error(&err);
	if (o)
		qmi_message_dms_set_operating_mode_output_unref(o);
}

static void set_mode(struct qmi *q, QmiDmsOperatingMode mode, GAsyncReadyCallback cb)
{
	QmiMessageDmsSetOperatingModeInput *in = qmi_message_dms_set_operating_mode_input_new();

	qmi_message_dms_set_operating_mode_input_set_mode(in, mode, NULL);
	qmi_client_dms_set_operating_mode(q->dms, in, REQ_TIMEOUT_S, q->cancel, cb, q);
	qmi_message_dms_set_operating_mode_input_unref(in);
}

static void mode_offline_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	QmiMessageDmsSetOperatingModeOutput *o;
	struct qmi *q = data;
	GError *err = NULL;

	o = qmi_client_dms_set_operating_mode_finish(QMI_CLIENT_DMS(src), res, &err);
	if (cancelled(err)) {
		g_error_free(err);
		return;
	}
	if (o && qmi_message_dms_set_operating_mode_output_get_result(o, &err))
		set_mode(q, QMI_DMS_OPERATING_MODE_RESET, mode_reset_cb); /* only from offline */
	else
		reset_done(q, "operating mode offline", err);
	g_clear_error(&err);
	if (o)
		qmi_message_dms_set_operating_mode_output_unref(o);
}

static gboolean reset_cb(gpointer data)
{
	struct qmi *q = data;

	source_clear(&q->retry);
	if (!q->dms) {
		/* No DMS client: the attempt never got that far. A fresh start is all there is. */
		reset_done(q, "no DMS client", NULL);
		return G_SOURCE_REMOVE;
	}
	set_mode(q, QMI_DMS_OPERATING_MODE_OFFLINE, mode_offline_cb);
	return G_SOURCE_REMOVE;
}

static int qmi_reset(struct uplink *u)
{
	struct qmi *q = u->drv_data;

	if (!q)
		return -ENOTCONN;
	if (q->resetting)
		return -EALREADY;
	q->resetting = true;
	/* The modem answers through the session's clients, so no retry may tear them down
	 * first; the call ends when the radio goes offline. */
	source_clear(&q->retry);
	q->retry = ctx_timeout(q, 0, reset_cb);
	return 0;
}

static int qmi_radio(const struct uplink *u, struct uplink_radio *out)
{
	const struct qmi *q = u->drv_data;

	if (!q || !q->radio_known)
		return -EAGAIN;
	*out = q->radio;
	return 0;
}

const struct uplink_driver uplink_driver_qmi = {
    .name = "qmi",
    .prepare = qmi_prepare,
    .up = qmi_up,
    .down = qmi_down,
    .reconnect = qmi_reconnect,
    .reset = qmi_reset,
    .radio = qmi_radio,
};
