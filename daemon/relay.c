/* relay.c — the delivery rules of relay.h. Nothing is acknowledged before the store batch that
 * holds it has committed: acks wait in queues tagged with their batch number and leave from the
 * store's commit listener. In-memory state is only a cursor per reader (what was sent on this
 * connection, to this worker process; router/delivery.h has the workers' rules): after a
 * restart or reconnect everything unacked is simply sent again and the receiver's dedup
 * absorbs it. */
#include "daemon/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/version.h"
#include "daemon/accounting.h"
#include "daemon/backend.h"
#include "daemon/daemon.h"
#include "daemon/session.h"
#include "daemon/status.h"
#include "daemon/store.h"
#include "router/delivery.h"
#include "router/router.h"

/* Frames queued on the link before the pump waits for it to drain, and events per frame. */
#define RELAY_LINK_QUEUE_MAX 8
#define RELAY_FRAME_EVENTS 256
/* Deliveries sent to one worker and not yet acked. */
#define RELAY_WORKER_WINDOW 128
#define RELAY_STATUS_MS 1000

/* Per session: the worker process we talk to and how far its deliveries went. */
struct relay_worker {
	struct delivery_worker dl;
	uint64_t pump_batch; /* in pump_due: its deliveries are all visible once this commits */
	unsigned pump_gen;   /* the last pump_due() pass that found the session */
	char status[96]; /* last SessionStatus sent: "state/pid/uplink" */
};

struct pending_ack {
	uint64_t batch;
	uint64_t id;
	uint64_t incarnation; /* worker acks: the process it is for */
	bool delivered;       /* worker acks: confirms the worker's ack of delivery id */
	char session[CONFIG_NAME_MAX + 1];
};

struct pending_result {
	uint64_t batch;
	uint64_t request_id;
	char session[CONFIG_NAME_MAX + 1];
};

struct relay {
	struct daemon *d;
	struct store *st;
	struct backend_link *link;
	uint64_t sent_upto; /* outbox seq sent on this connection */
	uint64_t inbox_seq_at_start;
	unsigned inbox_refused; /* deliveries refused since the inbox was last found full */
	GArray *backend_acks;	   /* struct pending_ack: deliveries to ack to the backend */
	GArray *worker_acks;	   /* struct pending_ack: events to ack, delivery acks to confirm */
	GArray *results;	   /* struct pending_result: requests answered once recorded */
	GHashTable *workers;	   /* session name -> struct relay_worker */
	GHashTable *ours;	   /* names of sessions the backend started */
	GHashTable *uplink_status; /* uplink name -> last state sent */
	/* Names of sessions with deliveries that may not have reached their worker yet: new
	 * in the inbox, or refused by a full socket. Only these are pumped after a commit, so a
	 * commit of events costs nothing per session (one inbox query per session was most of an
	 * event's price at 1,024 sessions). */
	GHashTable *pump_due;
	unsigned pump_gen;
	guint status_timer, usage_timer, retry_timer;
};

static int64_t now_ms(void)
{
	return g_get_real_time() / 1000;
}

static struct relay_worker *worker_of(struct relay *r, const char *name)
{
	struct relay_worker *w = g_hash_table_lookup(r->workers, name);

	if (!w) {
		w = g_new0(struct relay_worker, 1);
		delivery_worker_init(&w->dl, RELAY_WORKER_WINDOW);
		g_hash_table_insert(r->workers, g_strdup(name), w);
	}
	return w;
}

static void send_to_backend(struct relay *r, Cellmux__Backend__GatewayMessage *m)
{
	int e = backend_link_send(r->link, &m->base);

	if (e < 0 && e != -ENOTCONN)
		log_warn_errno(e, "backend: sending a frame: %m");
}

static void send_result(struct relay *r, uint64_t request_id, int code, const char *msg,
			const char *session)
{
	Cellmux__Backend__GatewayMessage m = CELLMUX__BACKEND__GATEWAY_MESSAGE__INIT;
	Cellmux__Backend__Result res = CELLMUX__BACKEND__RESULT__INIT;

	res.request_id = request_id;
	res.code = code;
	res.message = (char *)(msg ? msg : "");
	res.session = (char *)(session ? session : "");
	m.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_RESULT;
	m.result = &res;
	send_to_backend(r, &m);
}

/* ---- worker side ---- */

/* delivered: ids are deliveries whose ack from the worker is on disk, not events. */
static void worker_send_ack(struct session *s, uint64_t *ids, size_t n, int error, bool delivered)
{
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__Ack ack = CELLMUX__WORKER__ACK__INIT;
	int e;

	if (s->ctl_fd < 0 || !n)
		return;
	if (delivered) {
		ack.delivered = ids;
		ack.n_delivered = n;
	} else {
		ack.ids = ids;
		ack.n_ids = n;
		ack.error = error;
	}
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_ACK;
	m.ack = &ack;
	e = worker_msg_send(s->ctl_fd, &m.base);
	if (e < 0)
		log_warn_errno(e, "session %s: sending an ack to the worker: %m", s->name);
}

struct pump_ctx {
	struct relay *r;
	struct session *s;
	struct relay_worker *w;
	int err;
};

static int pump_one_delivery(void *userdata, const struct store_delivery *dl)
{
	struct pump_ctx *c = userdata;
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__Delivery del = CELLMUX__WORKER__DELIVERY__INIT;

	del.id = dl->id;
	del.payload.data = (uint8_t *)dl->payload;
	del.payload.len = dl->len;
	del.redelivered = delivery_redelivered(&c->w->dl, dl->seq, c->r->inbox_seq_at_start);
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_DELIVERY;
	m.delivery = &del;
	c->err = worker_msg_send(c->s->ctl_fd, &m.base);
	if (c->err < 0)
		return 1;
	delivery_sent(&c->w->dl, dl->seq);
	return 0;
}

static gboolean retry_pump(gpointer data);

/* batch: the store batch that makes the session's new deliveries visible (0: they are). */
static void pump_mark(struct relay *r, const char *name, uint64_t batch)
{
	struct relay_worker *w = worker_of(r, name);

	if (g_hash_table_contains(r->pump_due, name))
		w->pump_batch = MAX(w->pump_batch, batch);
	else {
		w->pump_batch = batch;
		g_hash_table_add(r->pump_due, g_strdup(name));
	}
}

static void pump_worker(struct relay *r, struct session *s)
{
	struct relay_worker *w = worker_of(r, s->name);
	struct pump_ctx c = {r, s, w, 0};
	unsigned room = delivery_room(&w->dl, s->incarnation);

	/* Only to the process that said Hello: a new one starts from the first unacked. */
	if (s->ctl_fd < 0 || !room)
		return;
	store_deliveries_foreach(r->st, s->name, delivery_cursor(&w->dl), room, pump_one_delivery,
				 &c);
	if (c.err == -EAGAIN) {
		pump_mark(r, s->name, 0);
		if (!r->retry_timer)
			r->retry_timer = g_timeout_add(20, retry_pump, r);
	} else if (c.err < 0) {
		log_warn_errno(c.err, "session %s: sending a delivery: %m", s->name);
	}
}

/* The sessions in pump_due, once batch has committed. Pumping one early does no harm: the store
 * lists committed deliveries only; it stays due until its last batch is in. */
static void pump_due(struct relay *r, uint64_t batch)
{
	guint due = g_hash_table_size(r->pump_due), seen = 0;
	GHashTableIter it;
	gpointer name;

	if (!due)
		return;
	/* By the daemon's list: what is due holds names, and a session may be gone. */
	r->pump_gen++;
	for (size_t i = 0; i < r->d->n_sessions; i++) {
		struct session *s = r->d->sessions[i];
		struct relay_worker *w;

		if (!g_hash_table_contains(r->pump_due, s->name))
			continue;
		w = worker_of(r, s->name);
		w->pump_gen = r->pump_gen;
		seen++;
		if (w->pump_batch <= batch)
			g_hash_table_remove(r->pump_due, s->name);
		pump_worker(r, s); /* marks it again if its socket is full */
	}
	if (seen == due)
		return;
	/* Sessions removed with deliveries still due: their worker asks again at its hello. */
	g_hash_table_iter_init(&it, r->pump_due);
	while (g_hash_table_iter_next(&it, &name, NULL))
		if (worker_of(r, name)->pump_gen != r->pump_gen)
			g_hash_table_iter_remove(&it);
}

static gboolean retry_pump(gpointer data)
{
	struct relay *r = data;

	r->retry_timer = 0;
	pump_due(r, store_committed(r->st));
	return G_SOURCE_REMOVE;
}

void relay_worker_hello(struct relay *r, struct session *s)
{
	struct relay_worker *w;

	if (!r)
		return;
	w = worker_of(r, s->name);
	delivery_worker_hello(&w->dl, s->incarnation);
	pump_worker(r, s);
}

int relay_session_spawning(struct relay *r, struct session *s)
{
	uint64_t inc = 0;
	int e;

	s->incarnation = 0;
	if (!r)
		return 0;
	e = store_incarnation_next(r->st, s->name, &inc);
	if (e < 0)
		return log_error_errno(e, "session %s: recording the worker's incarnation: %m",
				       s->name);
	s->incarnation = inc;
	return 0;
}

int relay_session_adopting(struct relay *r, struct session *s)
{
	int e;

	s->incarnation = 0;
	if (!r)
		return 0;
	e = store_incarnation_current(r->st, s->name, &s->incarnation);
	if (e < 0)
		return log_error_errno(e, "session %s: reading the worker's incarnation: %m",
				       s->name);
	return 0;
}

void relay_worker_event(struct relay *r, struct session *s, const Cellmux__Worker__Event *ev)
{
	uint64_t id = ev->id, batch = 0;
	struct pending_ack pa = {0};
	int e;

	if (!r) {
		worker_send_ack(s, &id, 1, ENOTCONN, false);
		return;
	}
	/* The share follows the sessions there are now; computing it is cheaper than tracking. */
	store_set_outbox_session_max(r->st,
				     router_outbox_share(store_outbox_max(r->st),
							 (unsigned)r->d->n_sessions,
							 r->d->cfg->daemon.outbox_session_max));
	/* Keyed on the process's incarnation: a restarted worker's id 1 is a new event. */
	e = store_event_add(r->st, s->name, ev->session_unique ? 0 : s->incarnation, ev->id,
			    ev->payload.data, ev->payload.len, &batch);
	if (e == -ENOSPC || e == -EDQUOT) {
		if (e == -ENOSPC)
			log_warn("session %s: outbox full (%u events), event %llu refused", s->name,
				 store_outbox_max(r->st), (unsigned long long)id);
		else
			log_warn("session %s: its share of the outbox is full (%u events), event "
				 "%llu refused", s->name, store_outbox_session_count(r->st, s->name),
				 (unsigned long long)id);
		worker_send_ack(s, &id, 1, ENOSPC, false);
		return;
	}
	if (e < 0 && e != -EALREADY) {
		log_error_errno(e, "session %s: storing event %llu: %m", s->name,
				(unsigned long long)id);
		worker_send_ack(s, &id, 1, -e, false);
		return;
	}
	/* A duplicate is acked too, but only once what it duplicates is surely on disk. Already
	 * committed (a duplicate, or a write that filled its batch and flushed it): ack now. */
	pa.batch = batch;
	pa.id = id;
	pa.incarnation = s->incarnation;
	snprintf(pa.session, sizeof(pa.session), "%s", s->name);
	if (batch <= store_committed(r->st)) {
		worker_send_ack(s, &id, 1, 0, false);
		return;
	}
	g_array_append_val(r->worker_acks, pa);
}

void relay_worker_ack(struct relay *r, struct session *s, const Cellmux__Worker__Ack *ack)
{
	struct relay_worker *w;

	if (!r)
		return;
	w = worker_of(r, s->name);
	for (size_t i = 0; i < ack->n_ids; i++) {
		struct pending_ack pa = {
			.id = ack->ids[i], .incarnation = s->incarnation, .delivered = true
		};
		int e = store_delivery_done(r->st, ack->ids[i], &pa.batch);
		if (e < 0) {
			log_warn_errno(e, "session %s: recording delivery %llu as done: %m",
				       s->name, (unsigned long long)ack->ids[i]);
			continue;
		}
		/* Confirmed once on disk: only then is it surely never given to a successor. */
		snprintf(pa.session, sizeof(pa.session), "%s", s->name);
		if (pa.batch <= store_committed(r->st))
			worker_send_ack(s, &pa.id, 1, 0, true);
		else
			g_array_append_val(r->worker_acks, pa);
	}
	delivery_acked(&w->dl, ack->n_ids);
	pump_worker(r, s);
}

/* ---- backend side ---- */

/* Events of one frame, copied out of the store's rows (valid only during the callback). */
struct event_batch {
	Cellmux__Backend__Event ev[RELAY_FRAME_EVENTS];
	Cellmux__Backend__Event *evp[RELAY_FRAME_EVENTS];
	size_t n, bytes;
	uint64_t last_seq;
};

static int batch_one_event(void *userdata, const struct store_event *e)
{
	struct event_batch *b = userdata;
	Cellmux__Backend__Event *ev = &b->ev[b->n];

	cellmux__backend__event__init(ev);
	ev->id = e->seq;
	ev->session = g_strdup(e->session);
	ev->event_id = e->event_id;
	ev->incarnation = e->incarnation;
	ev->payload.data = g_memdup2(e->payload, e->len);
	ev->payload.len = e->len;
	ev->unix_time_ms = (uint64_t)e->at_ms;
	b->evp[b->n++] = ev;
	b->bytes += e->len + strlen(e->session) + 32;
	b->last_seq = e->seq;
	/* Room for one more payload of the largest size within the frame cap? */
	return b->n >= RELAY_FRAME_EVENTS ||
	       b->bytes + BACKEND_MSG_PAYLOAD_MAX + 64 > BACKEND_MSG_MAX;
}

static void pump_backend(struct relay *r)
{
	struct event_batch *b;

	if (!backend_link_is_up(r->link))
		return;
	b = g_new(struct event_batch, 1);
	/* Several events per frame: one TLS record and one write() carry them all. */
	while (backend_link_queued(r->link) < RELAY_LINK_QUEUE_MAX) {
		Cellmux__Backend__GatewayMessage m = CELLMUX__BACKEND__GATEWAY_MESSAGE__INIT;
		Cellmux__Backend__Events evs = CELLMUX__BACKEND__EVENTS__INIT;
		int e;

		b->n = b->bytes = 0;
		e = store_events_foreach(r->st, r->sent_upto, RELAY_FRAME_EVENTS, batch_one_event,
					 b);
		if (e <= 0)
			break;
		evs.events = b->evp;
		evs.n_events = b->n;
		m.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_EVENTS;
		m.events = &evs;
		e = backend_link_send(r->link, &m.base);
		for (size_t i = 0; i < b->n; i++) {
			g_free(b->ev[i].session);
			g_free(b->ev[i].payload.data);
		}
		if (e < 0) {
			log_warn_errno(e, "backend: sending %zu events: %m", b->n);
			break;
		}
		r->sent_upto = b->last_seq;
	}
	g_free(b);
}

static void on_commit(void *userdata, uint64_t batch, int result)
{
	struct relay *r = userdata;
	guint i;

	/* Acks to the backend for deliveries now on disk, in one frame per 8192 ids. */
	if (result == 0 && r->backend_acks->len) {
		Cellmux__Backend__GatewayMessage m = CELLMUX__BACKEND__GATEWAY_MESSAGE__INIT;
		Cellmux__Backend__Ack ack = CELLMUX__BACKEND__ACK__INIT;
		uint64_t *ids = g_new(uint64_t, r->backend_acks->len);
		size_t n = 0;

		for (i = 0; i < r->backend_acks->len; i++) {
			struct pending_ack *pa =
			    &g_array_index(r->backend_acks, struct pending_ack, i);
			if (pa->batch > batch)
				break;
			ids[n++] = pa->id;
		}
		for (size_t off = 0; off < n; off += BACKEND_MSG_ACK_IDS_MAX) {
			ack.ids = ids + off;
			ack.n_ids = MIN(n - off, (size_t)BACKEND_MSG_ACK_IDS_MAX);
			m.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_ACK;
			m.ack = &ack;
			send_to_backend(r, &m);
		}
		g_array_remove_range(r->backend_acks, 0, (guint)n);
		g_free(ids);
	} else if (result < 0) {
		/* Rolled back: nothing of it is acked; the senders resend, the store dedups. */
		g_array_set_size(r->backend_acks, 0);
	}

	/* Acks to workers, one packet per run of the same process and kind. A confirmation of
	 * a delivery ack that was rolled back is not sent: that delivery is still in the inbox. */
	for (i = 0; i < r->worker_acks->len;) {
		struct pending_ack *pa = &g_array_index(r->worker_acks, struct pending_ack, i);
		struct session *s;
		uint64_t ids[WORKER_MSG_ACK_IDS_MAX];
		size_t n = 0;
		guint j = i;

		if (pa->batch > batch)
			break;
		for (; j < r->worker_acks->len && n < WORKER_MSG_ACK_IDS_MAX; j++) {
			struct pending_ack *q =
			    &g_array_index(r->worker_acks, struct pending_ack, j);
			if (q->batch > batch || strcmp(q->session, pa->session) ||
			    q->incarnation != pa->incarnation || q->delivered != pa->delivered)
				break;
			ids[n++] = q->id;
		}
		s = daemon_find_session(r->d, pa->session);
		if (s && s->incarnation == pa->incarnation && (result == 0 || !pa->delivered))
			worker_send_ack(s, ids, n, result == 0 ? 0 : EIO, pa->delivered);
		i = j;
	}
	g_array_remove_range(r->worker_acks, 0, i);

	for (i = 0; i < r->results->len; i++) {
		struct pending_result *pr = &g_array_index(r->results, struct pending_result, i);
		if (pr->batch > batch)
			break;
		send_result(r, pr->request_id, result == 0 ? 0 : EIO,
			    result == 0 ? "" : "recording it failed", pr->session);
	}
	g_array_remove_range(r->results, 0, i);

	if (result == 0) {
		pump_backend(r);
		pump_due(r, batch);
	}
}

static void queue_result(struct relay *r, uint64_t batch, uint64_t request_id, const char *session)
{
	struct pending_result pr = {.batch = batch, .request_id = request_id};

	snprintf(pr.session, sizeof(pr.session), "%s", session);
	g_array_append_val(r->results, pr);
}

static void on_delivery(struct relay *r, const Cellmux__Backend__Delivery *dl)
{
	struct pending_ack pa = {.id = dl->id};
	char msg[128];
	int e;

	if (!daemon_find_session(r->d, dl->session)) {
		snprintf(msg, sizeof(msg), "no session '%s'", dl->session);
		log_warn("backend: delivery %llu refused: %s", (unsigned long long)dl->id, msg);
		send_result(r, dl->id, ENOENT, msg, dl->session);
		return;
	}
	e = store_delivery_add(r->st, dl->id, dl->session, dl->payload.data, dl->payload.len,
			       &pa.batch);
	if (e == -ENOSPC) {
		/* Not kept: the backend holds it and sends it again later. Logged once per spell. */
		snprintf(msg, sizeof(msg), "inbox full (%u deliveries), send it again later",
			 store_inbox_max(r->st));
		if (!r->inbox_refused++)
			log_warn("backend: delivery %llu refused: %s", (unsigned long long)dl->id,
				 msg);
		send_result(r, dl->id, ENOSPC, msg, dl->session);
		return;
	}
	if (r->inbox_refused) {
		log_info("backend: inbox has room again (%u deliveries refused meanwhile)",
			 r->inbox_refused);
		r->inbox_refused = 0;
	}
	if (e < 0 && e != -EALREADY) {
		log_error_errno(e, "backend: storing delivery %llu: %m",
				(unsigned long long)dl->id);
		send_result(r, dl->id, -e, "storing it failed", dl->session);
		return;
	}
	/* Its worker gets it once the batch holding it has committed. */
	pump_mark(r, dl->session, pa.batch);
	if (pa.batch <= store_committed(r->st)) {
		Cellmux__Backend__GatewayMessage m = CELLMUX__BACKEND__GATEWAY_MESSAGE__INIT;
		Cellmux__Backend__Ack ack = CELLMUX__BACKEND__ACK__INIT;
		uint64_t id = dl->id;

		ack.ids = &id;
		ack.n_ids = 1;
		m.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_ACK;
		m.ack = &ack;
		send_to_backend(r, &m);
		return;
	}
	g_array_append_val(r->backend_acks, pa);
}

static void on_backend_ack(struct relay *r, const Cellmux__Backend__Ack *ack)
{
	for (size_t i = 0; i < ack->n_ids; i++) {
		int e = store_event_acked(r->st, ack->ids[i]);
		if (e < 0)
			log_warn_errno(e, "backend: recording ack of %llu: %m",
				       (unsigned long long)ack->ids[i]);
	}
	pump_backend(r);
}

static void on_start_session(struct relay *r, const Cellmux__Backend__StartSession *ss)
{
	char err[256] = "";
	struct session *s = NULL;
	uint64_t batch = 0;
	int e;

	e = daemon_session_start(r->d, ss->profile, ss->uplink[0] ? ss->uplink : NULL,
				 ss->name[0] ? ss->name : NULL, &s, err, sizeof(err));
	if (e < 0) {
		log_warn("backend: start of a '%s' session refused: %s", ss->profile, err);
		send_result(r, ss->id, -e, err, ss->name);
		return;
	}
	log_info("backend: started session %s (profile %s)", s->name, ss->profile);
	g_hash_table_add(r->ours, g_strdup(s->name));
	e = store_session_add(r->st, s->name, ss->profile, ss->uplink, &batch);
	if (e < 0) {
		send_result(r, ss->id, -e, "started, but recording it failed", s->name);
		return;
	}
	queue_result(r, batch, ss->id, s->name);
}

static void on_stop_session(struct relay *r, const Cellmux__Backend__StopSession *ss)
{
	uint64_t batch = 0;
	int e = daemon_session_stop(r->d, ss->name);

	if (e < 0) {
		send_result(r, ss->id, -e, "no such session", ss->name);
		return;
	}
	log_info("backend: stopping session %s", ss->name);
	g_hash_table_remove(r->ours, ss->name);
	e = store_session_remove(r->st, ss->name, &batch);
	if (e < 0) {
		send_result(r, ss->id, -e, "stopped, but recording it failed", ss->name);
		return;
	}
	queue_result(r, batch, ss->id, ss->name);
}

static void on_uplink_action(struct relay *r, const Cellmux__Backend__UplinkAction *ua)
{
	static const enum uplink_action map[] = {
	    [CELLMUX__BACKEND__UPLINK_ACTION__ACTION__RECONNECT] = UPLINK_ACTION_RECONNECT,
	    [CELLMUX__BACKEND__UPLINK_ACTION__ACTION__DRAIN] = UPLINK_ACTION_DRAIN,
	    [CELLMUX__BACKEND__UPLINK_ACTION__ACTION__UP] = UPLINK_ACTION_UP,
	    [CELLMUX__BACKEND__UPLINK_ACTION__ACTION__DOWN] = UPLINK_ACTION_DOWN,
	};
	char err[256] = "";
	int e;

	/* backend_msg.c admitted only the four known actions. */
	log_info("backend: uplink %s: action %d", ua->uplink, (int)ua->action);
	e = daemon_uplink_action(r->d, ua->uplink, map[ua->action], err, sizeof(err));
	send_result(r, ua->id, e < 0 ? -e : 0, err, NULL);
}

static void on_message(void *userdata, const Cellmux__Backend__BackendMessage *m)
{
	struct relay *r = userdata;

	switch (m->msg_case) {
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_ACK:
		on_backend_ack(r, m->ack);
		break;
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_DELIVERY:
		on_delivery(r, m->delivery);
		break;
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_START_SESSION:
		on_start_session(r, m->start_session);
		break;
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_STOP_SESSION:
		on_stop_session(r, m->stop_session);
		break;
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_UPLINK_ACTION:
		on_uplink_action(r, m->uplink_action);
		break;
	case CELLMUX__BACKEND__BACKEND_MESSAGE__MSG_ERROR:
		log_warn("backend: error from the backend: %d %s", m->error->code,
			 m->error->message);
		break;
	default:
		break;
	}
}

/* ---- status ---- */

/* The string arrays an Uplink message points into, next to the status it was filled from. */
struct uplink_ptrs {
	char *addrs[STATUS_MAX_ADDRS], *gws[2], *dns[3];
};

static void fill_uplink(Cellmux__Backend__Uplink *u, const struct status_uplink *su,
			struct uplink_ptrs *ptrs)
{
	char **addrs = ptrs->addrs;

	u->name = (char *)su->name;
	u->state = (char *)su->state;
	u->driver = (char *)(su->driver ? su->driver : "");
	u->capacity = su->capacity;
	u->sessions = su->sessions;
	u->health = (char *)(su->health ? su->health : "");
	u->health_reason = (char *)(su->health_reason ? su->health_reason : "");
	for (size_t k = 0; k < su->n_addresses && k < STATUS_MAX_ADDRS; k++)
		addrs[k] = (char *)su->addresses[k];
	u->addresses = addrs;
	u->n_addresses = MIN(su->n_addresses, (size_t)STATUS_MAX_ADDRS);
	for (size_t k = 0; k < su->n_gateways && k < G_N_ELEMENTS(ptrs->gws); k++)
		ptrs->gws[u->n_gateways++] = (char *)su->gateways[k];
	u->gateways = ptrs->gws;
	for (size_t k = 0; k < su->n_dns && k < G_N_ELEMENTS(ptrs->dns); k++)
		ptrs->dns[u->n_dns++] = (char *)su->dns[k];
	u->dns = ptrs->dns;
	u->last_error = (char *)(su->last_error ? su->last_error : "");
	u->recovery = (char *)su->recovery;
	u->recoveries = su->recoveries[RECOVERY_RECONNECT] + su->recoveries[RECOVERY_RESET];
}

/* What makes an uplink's status news to the backend: its state, health, first address (a
 * new lease or QMI settings under a live session) and recovery steps. */
static char *status_key(const struct status_uplink *su)
{
	return g_strdup_printf("%s/%s/%s/%u/%u", su->state, su->health ? su->health : "",
			       su->n_addresses ? su->addresses[0] : "",
			       su->recoveries[RECOVERY_RECONNECT], su->recoveries[RECOVERY_RESET]);
}

static void fill_session(struct relay *r, Cellmux__Backend__Session *s,
			 const struct status_session *ss)
{
	s->name = (char *)ss->name;
	s->profile = (char *)ss->profile;
	s->uplink = (char *)(ss->uplink ? ss->uplink : "");
	s->state = (char *)ss->state;
	s->pid = (uint32_t)ss->pid;
	s->restarts = ss->restarts;
	s->from_backend = g_hash_table_contains(r->ours, ss->name);
}

static void session_status_key(const struct status_session *ss, char *out, size_t size)
{
	snprintf(out, size, "%s/%d/%s", ss->state, ss->pid, ss->uplink ? ss->uplink : "");
}

static void on_connected(void *userdata)
{
	struct relay *r = userdata;
	Cellmux__Backend__GatewayMessage m = CELLMUX__BACKEND__GATEWAY_MESSAGE__INIT;
	Cellmux__Backend__Hello h = CELLMUX__BACKEND__HELLO__INIT;
	size_t nu = status_n_uplinks(r->d), ns = status_n_sessions(r->d);
	struct status_uplink *su = g_new0(struct status_uplink, nu + 1);
	struct status_session *ss = g_new0(struct status_session, ns + 1);
	Cellmux__Backend__Uplink *u = g_new0(Cellmux__Backend__Uplink, nu + 1);
	Cellmux__Backend__Uplink **up = g_new0(Cellmux__Backend__Uplink *, nu + 1);
	Cellmux__Backend__Session *s = g_new0(Cellmux__Backend__Session, ns + 1);
	Cellmux__Backend__Session **sp = g_new0(Cellmux__Backend__Session *, ns + 1);
	struct uplink_ptrs *addrs = g_new0(struct uplink_ptrs, nu + 1);

	h.gateway_id = (char *)backend_link_gateway_id(r->link);
	h.version = CELLMUX_VERSION;
	h.protocol = BACKEND_PROTOCOL_VERSION;
	h.outbox = store_outbox_count(r->st);
	for (size_t i = 0; i < nu; i++) {
		cellmux__backend__uplink__init(&u[i]);
		if (status_uplink(r->d, i, &su[i]) < 0)
			break;
		fill_uplink(&u[i], &su[i], &addrs[i]);
		up[h.n_uplinks++] = &u[i];
		g_hash_table_insert(r->uplink_status, g_strdup(su[i].name), status_key(&su[i]));
	}
	for (size_t i = 0; i < ns; i++) {
		struct relay_worker *w;

		cellmux__backend__session__init(&s[i]);
		if (status_session_state(r->d, i, &ss[i]) < 0)
			break;
		fill_session(r, &s[i], &ss[i]);
		sp[h.n_sessions++] = &s[i];
		w = worker_of(r, ss[i].name);
		session_status_key(&ss[i], w->status, sizeof(w->status));
	}
	h.uplinks = up;
	h.sessions = sp;
	m.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_HELLO;
	m.hello = &h;
	send_to_backend(r, &m);
	g_free(addrs);
	g_free(sp);
	g_free(s);
	g_free(up);
	g_free(u);
	g_free(ss);
	g_free(su);
}

static void on_up(void *userdata)
{
	struct relay *r = userdata;

	/* Everything the backend has not acked goes again, in order; it drops what it has. */
	r->sent_upto = 0;
	pump_backend(r);
}

static void on_down(void *userdata)
{
	struct relay *r = userdata;

	/* Acks owed to the backend are moot: it resends those deliveries and gets them then. */
	g_array_set_size(r->backend_acks, 0);
}

static void on_drained(void *userdata)
{
	pump_backend(userdata);
}

static const struct backend_link_ops link_ops = {
    .connected = on_connected,
    .up = on_up,
    .down = on_down,
    .message = on_message,
    .drained = on_drained,
};

/* Sessions that went away (stopped by the backend, an admin or a reload) are reported once as
 * "removed"; one the backend started but someone else stopped is forgotten by the store too, so
 * it does not come back at the next start. */
static void forget_gone_sessions(struct relay *r)
{
	Cellmux__Backend__GatewayMessage m = CELLMUX__BACKEND__GATEWAY_MESSAGE__INIT;
	GHashTableIter it;
	gpointer key, value;

	g_hash_table_iter_init(&it, r->workers);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		Cellmux__Backend__Session s = CELLMUX__BACKEND__SESSION__INIT;
		const char *name = key;

		if (daemon_find_session(r->d, name))
			continue;
		if (g_hash_table_contains(r->ours, name)) {
			log_info("session %s (started by the backend) is gone, forgetting it", name);
			store_session_remove(r->st, name, NULL);
			g_hash_table_remove(r->ours, name);
		}
		s.name = (char *)name;
		s.state = "removed";
		m.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_SESSION_STATUS;
		m.session_status = &s;
		send_to_backend(r, &m);
		g_hash_table_iter_remove(&it);
	}
}

/* Status changes are found by comparing with what was sent: no hooks into the daemon's code. */
static gboolean status_tick(gpointer data)
{
	struct relay *r = data;
	Cellmux__Backend__GatewayMessage m = CELLMUX__BACKEND__GATEWAY_MESSAGE__INIT;

	if (!backend_link_is_up(r->link))
		return G_SOURCE_CONTINUE;
	for (size_t i = 0; i < status_n_uplinks(r->d); i++) {
		struct status_uplink su;
		Cellmux__Backend__Uplink u = CELLMUX__BACKEND__UPLINK__INIT;
		struct uplink_ptrs addrs = { 0 };
		const char *last;

		if (status_uplink(r->d, i, &su) < 0)
			break;
		/* A change of health is news to the backend as much as one of state. */
		g_autofree char *now = status_key(&su);
		last = g_hash_table_lookup(r->uplink_status, su.name);
		if (last && !strcmp(last, now))
			continue;
		g_hash_table_insert(r->uplink_status, g_strdup(su.name), g_steal_pointer(&now));
		fill_uplink(&u, &su, &addrs);
		m.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_UPLINK_STATUS;
		m.uplink_status = &u;
		send_to_backend(r, &m);
	}
	forget_gone_sessions(r);
	for (size_t i = 0; i < status_n_sessions(r->d); i++) {
		struct status_session ss;
		Cellmux__Backend__Session s = CELLMUX__BACKEND__SESSION__INIT;
		struct relay_worker *w;
		char key[96];

		/* State only: a change of it is what is sent, and counters go in usage reports. */
		if (status_session_state(r->d, i, &ss) < 0)
			break;
		w = worker_of(r, ss.name);
		session_status_key(&ss, key, sizeof(key));
		if (!strcmp(key, w->status))
			continue;
		snprintf(w->status, sizeof(w->status), "%s", key);
		fill_session(r, &s, &ss);
		m.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_SESSION_STATUS;
		m.session_status = &s;
		send_to_backend(r, &m);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean usage_tick(gpointer data)
{
	struct relay *r = data;
	Cellmux__Backend__GatewayMessage m = CELLMUX__BACKEND__GATEWAY_MESSAGE__INIT;
	Cellmux__Backend__Usage usage = CELLMUX__BACKEND__USAGE__INIT;
	size_t nu = status_n_uplinks(r->d), ns = status_n_sessions(r->d);
	Cellmux__Backend__UplinkUsage *uu = g_new0(Cellmux__Backend__UplinkUsage, nu + 1);
	Cellmux__Backend__UplinkUsage **up = g_new0(Cellmux__Backend__UplinkUsage *, nu + 1);
	Cellmux__Backend__SessionUsage *su = g_new0(Cellmux__Backend__SessionUsage, ns + 1);
	Cellmux__Backend__SessionUsage **sp = g_new0(Cellmux__Backend__SessionUsage *, ns + 1);
	struct status_uplink *stu = g_new0(struct status_uplink, nu + 1);
	struct status_session *sts = g_new0(struct status_session, ns + 1);

	if (!backend_link_is_up(r->link))
		goto out;
	usage.unix_time_ms = (uint64_t)now_ms();
	/* Every counter of one report from one read of each map, not lookups per name. */
	dm_acct_snapshot_begin(r->d);
	for (size_t i = 0; i < nu && status_uplink(r->d, i, &stu[i]) == 0; i++) {
		cellmux__backend__uplink_usage__init(&uu[i]);
		uu[i].name = (char *)stu[i].name;
		uu[i].rx_bytes = stu[i].rx_bytes;
		uu[i].tx_bytes = stu[i].tx_bytes;
		uu[i].rx_packets = stu[i].rx_packets;
		uu[i].tx_packets = stu[i].tx_packets;
		/* Removed sessions' last bytes stay in the report (the store's sums). */
		if (stu[i].removed_valid) {
			uu[i].removed_sessions = stu[i].removed_sessions;
			uu[i].removed_rx_bytes = stu[i].removed_rx_bytes;
			uu[i].removed_tx_bytes = stu[i].removed_tx_bytes;
			uu[i].removed_rx_packets = stu[i].removed_rx_packets;
			uu[i].removed_tx_packets = stu[i].removed_tx_packets;
		}
		up[usage.n_uplinks++] = &uu[i];
	}
	for (size_t i = 0; i < ns && status_session(r->d, i, &sts[i]) == 0; i++) {
		cellmux__backend__session_usage__init(&su[i]);
		su[i].name = (char *)sts[i].name;
		su[i].rx_bytes = sts[i].rx_bytes;
		su[i].tx_bytes = sts[i].tx_bytes;
		su[i].rx_packets = sts[i].rx_packets;
		su[i].tx_packets = sts[i].tx_packets;
		sp[usage.n_sessions++] = &su[i];
	}
	dm_acct_snapshot_end(r->d);
	usage.uplinks = up;
	usage.sessions = sp;
	m.msg_case = CELLMUX__BACKEND__GATEWAY_MESSAGE__MSG_USAGE;
	m.usage = &usage;
	send_to_backend(r, &m);
out:
	g_free(sts);
	g_free(stu);
	g_free(sp);
	g_free(su);
	g_free(up);
	g_free(uu);
	return G_SOURCE_CONTINUE;
}

void relay_status(const struct relay *r, struct relay_status *out)
{
	*out = (struct relay_status){ 0 };
	if (!r)
		return;
	out->up = backend_link_is_up(r->link);
	out->outbox = store_outbox_count(r->st);
	out->inbox = store_inbox_count(r->st);
	out->reconnects = backend_link_reconnects(r->link);
}

/* ---- life cycle ---- */

struct restore {
	char name[CONFIG_NAME_MAX + 1], profile[CONFIG_NAME_MAX + 1], uplink[64];
};

static int collect_session(void *userdata, const struct store_session *ss)
{
	GArray *a = userdata;
	struct restore rs;

	if (ss->origin != STORE_SESSION_BACKEND)
		return 0; /* an admin's: adhoc.c restores those */
	snprintf(rs.name, sizeof(rs.name), "%s", ss->name);
	snprintf(rs.profile, sizeof(rs.profile), "%s", ss->profile);
	snprintf(rs.uplink, sizeof(rs.uplink), "%s", ss->uplink);
	g_array_append_val(a, rs);
	return 0;
}

void relay_restore_sessions(struct relay *r)
{
	GArray *a;

	if (!r)
		return;
	a = g_array_new(FALSE, TRUE, sizeof(struct restore));
	store_sessions_foreach(r->st, collect_session, a);
	for (guint i = 0; i < a->len; i++) {
		struct restore *rs = &g_array_index(a, struct restore, i);
		char err[256] = "";
		int e;

		e = daemon_session_start(r->d, rs->profile, rs->uplink[0] ? rs->uplink : NULL,
					 rs->name, NULL, err, sizeof(err));
		if (e < 0 && e != -EEXIST) {
			/* Kept: the profile or uplink may come back with a config reload. */
			log_warn("session %s (started by the backend) not restored: %s", rs->name,
				 err);
			continue;
		}
		g_hash_table_add(r->ours, g_strdup(rs->name));
		log_info("session %s (started by the backend) restored", rs->name);
	}
	g_array_free(a, TRUE);
}

int relay_new(struct daemon *d, struct relay **ret)
{
	const struct cmx_config *c = d->cfg;
	struct store_params sp = {
		.outbox_max = c->daemon.outbox_max,
		.inbox_max = c->daemon.inbox_max,
		.use_timer = true,
	};
	struct relay *r;
	int e;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->d = d;
	r->backend_acks = g_array_new(FALSE, FALSE, sizeof(struct pending_ack));
	r->worker_acks = g_array_new(FALSE, FALSE, sizeof(struct pending_ack));
	r->results = g_array_new(FALSE, FALSE, sizeof(struct pending_result));
	r->workers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->ours = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	r->uplink_status = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->pump_due = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	e = store_open(c->daemon.state_dir, &sp, &r->st);
	if (e < 0) {
		log_error_errno(e, "opening the store in %s: %m", c->daemon.state_dir);
		goto fail;
	}
	store_add_commit_listener(r->st, on_commit, r);
	log_info("store %s/%s: %u events for the backend, %u deliveries for workers",
		 c->daemon.state_dir, STORE_DB_NAME, store_outbox_count(r->st),
		 store_inbox_count(r->st));
	/* Everything in the inbox now may have reached a worker of a killed daemon. */
	r->inbox_seq_at_start = store_inbox_last_seq(r->st);
	e = backend_link_new(&c->backend, d->loop, &link_ops, r, &r->link);
	if (e < 0)
		goto fail;
	r->status_timer = g_timeout_add(RELAY_STATUS_MS, status_tick, r);
	r->usage_timer = g_timeout_add(d->cfg->backend.usage_interval_ms, usage_tick, r);
	*ret = r;
	return 0;
fail:
	relay_free(r);
	return e;
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	if (r->status_timer)
		g_source_remove(r->status_timer);
	if (r->usage_timer)
		g_source_remove(r->usage_timer);
	if (r->retry_timer)
		g_source_remove(r->retry_timer);
	backend_link_free(r->link);
	r->link = NULL;
	if (r->st) {
		store_remove_commit_listener(r->st, on_commit, r);
		store_free(r->st);
	}
	g_array_free(r->backend_acks, TRUE);
	g_array_free(r->worker_acks, TRUE);
	g_array_free(r->results, TRUE);
	g_hash_table_destroy(r->workers);
	g_hash_table_destroy(r->ours);
	g_hash_table_destroy(r->uplink_status);
	g_hash_table_destroy(r->pump_due);
	free(r);
}

struct store *relay_store(struct relay *r)
{
	return r ? r->st : NULL;
}
