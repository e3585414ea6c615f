/* cmxw.c — libcellmux-worker (cellmux-worker.h): the worker's half of proto/worker.proto, with
 * the bookkeeping that makes it exactly-once across daemon restarts: unacked events are kept and
 * sent again, handed deliveries are remembered until the daemon confirms their ack, state
 * requests are kept in order until answered. */
#include "worker/cellmux-worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "proto/worker_msg.h"
#include "proto/utf8.h"

_Static_assert(CMXW_PAYLOAD_MAX == WORKER_MSG_PAYLOAD_MAX, "payload bound out of step");
_Static_assert(CMXW_STATE_MAX == WORKER_MSG_STATE_MAX, "state bound out of step");
_Static_assert(CMXW_STATUS_STATE_MAX == WORKER_STATUS_STATE_MAX &&
		       CMXW_STATUS_MESSAGE_MAX == WORKER_STATUS_MESSAGE_MAX &&
		       CMXW_STATUS_FIELDS_MAX == WORKER_STATUS_FIELDS_MAX &&
		       CMXW_STATUS_KEY_MAX == WORKER_STATUS_KEY_MAX &&
		       CMXW_STATUS_VALUE_MAX == WORKER_STATUS_VALUE_MAX,
	       "status bounds out of step");

#define NONE UINT32_MAX
/* Packets read by one cmxw_dispatch(): a flooding daemon cannot starve the program. */
#define DISPATCH_BUDGET 256
/* A send the socket refused for room (a non-blocking fd) is tried again this soon. */
#define AGAIN_MS 20

/* id -> slot index; ids are never 0, so 0 marks a free entry. Linear probing with
 * backward-shift deletion: no tombstones to pile up under churn. */
struct idtab {
	uint64_t *keys;
	uint32_t *vals;
	size_t mask;
};

struct ev {
	uint64_t id;
	uint8_t *data;
	size_t len;
	bool session_unique;
	bool waiting; /* refused or not sent: goes again from the retry timer */
	bool sent;    /* once at least: later sends count as resends */
	uint32_t prev, next; /* submission order, for resends; next also links the free list */
};

enum { D_HANDED = 1, D_ACKED, D_ACK_UNSENT };

struct dl {
	uint64_t id;
	uint8_t state;
	uint32_t prev, next; /* arrival order, for forgetting the oldest */
};

struct list {
	uint32_t head, tail, n;
};

/* A StatePut or StateGet waiting for its answer; answers come in request order. */
struct sreq {
	bool put;
	bool sent; /* false: waits for room on the socket, or for a resend */
	bool once; /* sent at least once: later sends count as resends */
	uint8_t *data; /* a put's blob, NULL when empty */
	size_t len;
};

struct cmxw {
	int fd;
	struct cmxw_callbacks cb;
	void *userdata;
	char *session, *uplink;
	uint64_t incarnation;
	unsigned welcomes;
	bool hello_sent, stopping;

	unsigned window;
	struct ev *evs;
	struct idtab ev_ids;
	struct list ev_list;
	uint32_t ev_free;
	uint64_t next_auto_id;

	struct dl dls[CMXW_DELIVERIES_MAX];
	struct idtab dl_ids;
	struct list dl_list;
	uint32_t dl_free;

	struct sreq sreqs[CMXW_STATE_PENDING_MAX]; /* ring, oldest at sreq_head */
	unsigned sreq_head, sreq_n;

	int64_t retry_at_ms; /* 0: nothing timed */
	struct cmxw_stats stats;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- id table ------------------------------------------------------------------------------ */

static int idtab_init(struct idtab *t, size_t max)
{
	size_t cap = 16;

	while (cap < 2 * max)
		cap <<= 1;
	t->keys = calloc(cap, sizeof(*t->keys));
	t->vals = calloc(cap, sizeof(*t->vals));
	if (!t->keys || !t->vals) {
		free(t->keys);
		free(t->vals);
		return -ENOMEM;
	}
	t->mask = cap - 1;
	return 0;
}

static void idtab_done(struct idtab *t)
{
	free(t->keys);
	free(t->vals);
	t->keys = NULL;
	t->vals = NULL;
}

static size_t idtab_home(const struct idtab *t, uint64_t key)
{
	return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & t->mask;
}

static uint32_t idtab_get(const struct idtab *t, uint64_t key)
{
	/* 0 marks a free entry: an Ack from the wire may still list it. */
	if (!key)
		return NONE;
	for (size_t i = idtab_home(t, key);; i = (i + 1) & t->mask) {
		if (t->keys[i] == key)
			return t->vals[i];
		if (!t->keys[i])
			return NONE;
	}
}

/* The caller keeps the table at most half full and key absent. */
static void idtab_put(struct idtab *t, uint64_t key, uint32_t val)
{
	size_t i = idtab_home(t, key);

	while (t->keys[i])
		i = (i + 1) & t->mask;
	t->keys[i] = key;
	t->vals[i] = val;
}

static void idtab_del(struct idtab *t, uint64_t key)
{
	size_t i = idtab_home(t, key);

	while (t->keys[i] != key) {
		if (!t->keys[i])
			return;
		i = (i + 1) & t->mask;
	}
	/* Pull later entries of the run back over the hole unless that would put one before
	 * its home. */
	for (size_t j = (i + 1) & t->mask; t->keys[j]; j = (j + 1) & t->mask) {
		size_t h = idtab_home(t, t->keys[j]);

		if (((j - h) & t->mask) >= ((j - i) & t->mask)) {
			t->keys[i] = t->keys[j];
			t->vals[i] = t->vals[j];
			i = j;
		}
	}
	t->keys[i] = 0;
}

/* --- ordered slot lists (events and deliveries share the shape) ------------------------------- */

#define LIST_APPEND(arr, l, idx)                                                           \
	do {                                                                               \
		(arr)[idx].prev = (l)->tail;                                               \
		(arr)[idx].next = NONE;                                                    \
		if ((l)->tail != NONE)                                                     \
			(arr)[(l)->tail].next = (idx);                                     \
		else                                                                       \
			(l)->head = (idx);                                                 \
		(l)->tail = (idx);                                                         \
		(l)->n++;                                                                  \
	} while (0)

#define LIST_UNLINK(arr, l, idx)                                                           \
	do {                                                                               \
		if ((arr)[idx].prev != NONE)                                               \
			(arr)[(arr)[idx].prev].next = (arr)[idx].next;                     \
		else                                                                       \
			(l)->head = (arr)[idx].next;                                       \
		if ((arr)[idx].next != NONE)                                               \
			(arr)[(arr)[idx].next].prev = (arr)[idx].prev;                     \
		else                                                                       \
			(l)->tail = (arr)[idx].prev;                                       \
		(l)->n--;                                                                  \
	} while (0)

static void schedule(struct cmxw *w, int64_t in_ms)
{
	int64_t at = now_ms() + in_ms;

	if (!w->retry_at_ms || at < w->retry_at_ms)
		w->retry_at_ms = at;
}

/* --- sending --------------------------------------------------------------------------------- */

static bool is_again(int r)
{
	return r == -EAGAIN || r == -EWOULDBLOCK;
}

static int send_event(struct cmxw *w, struct ev *e)
{
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__Event ev = CELLMUX__WORKER__EVENT__INIT;
	int r;

	ev.id = e->id;
	ev.session_unique = e->session_unique;
	ev.payload.data = e->data;
	ev.payload.len = e->len;
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_EVENT;
	m.event = &ev;
	r = worker_msg_send(w->fd, &m.base);
	if (is_again(r)) {
		e->waiting = true;
		schedule(w, AGAIN_MS);
		return 0;
	}
	if (r < 0)
		return r;
	e->waiting = false;
	w->stats.events_sent++;
	if (e->sent)
		w->stats.events_resent++;
	e->sent = true;
	return 0;
}

/* An ack the socket had no room for is remembered as D_ACK_UNSENT and goes from the timer. */
static int send_delivery_acks(struct cmxw *w, const uint64_t *ids, size_t n)
{
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__Ack ack = CELLMUX__WORKER__ACK__INIT;
	int r;

	if (!n)
		return 0;
	ack.ids = (uint64_t *)ids;
	ack.n_ids = n;
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_ACK;
	m.ack = &ack;
	r = worker_msg_send(w->fd, &m.base);
	if (!is_again(r))
		return r;
	for (size_t i = 0; i < n; i++) {
		uint32_t s = idtab_get(&w->dl_ids, ids[i]);

		if (s != NONE)
			w->dls[s].state = D_ACK_UNSENT;
	}
	schedule(w, AGAIN_MS);
	return 0;
}

/* Acks of deliveries that had no room (ACK_UNSENT), in batches. */
static int send_unsent_acks(struct cmxw *w)
{
	uint64_t ids[WORKER_MSG_ACK_IDS_MAX] = { 0 };
	size_t n = 0;
	int r;

	for (uint32_t s = w->dl_list.head; s != NONE; s = w->dls[s].next) {
		if (w->dls[s].state != D_ACK_UNSENT)
			continue;
		w->dls[s].state = D_ACKED;
		ids[n++] = w->dls[s].id;
		if (n == ARRAY_SIZE(ids)) {
			r = send_delivery_acks(w, ids, n);
			if (r < 0)
				return r;
			n = 0;
		}
	}
	return send_delivery_acks(w, ids, n);
}

/* --- public: lifetime ---------------------------------------------------------------------- */

static int check_socket(int fd)
{
	int type;
	socklen_t len = sizeof(type);

	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return negative_errno();
	return type == SOCK_SEQPACKET ? 0 : -ENOTSOCK;
}

static int alloc_events(struct cmxw *w, unsigned window)
{
	struct ev *evs = calloc(window, sizeof(*evs));
	struct idtab t;
	int r;

	if (!evs)
		return -ENOMEM;
	r = idtab_init(&t, window);
	if (r < 0) {
		free(evs);
		return r;
	}
	free(w->evs);
	idtab_done(&w->ev_ids);
	w->evs = evs;
	w->ev_ids = t;
	w->window = window;
	w->ev_list = (struct list){ NONE, NONE, 0 };
	for (unsigned i = 0; i < window; i++)
		evs[i].next = i + 1 < window ? i + 1 : NONE;
	w->ev_free = 0;
	return 0;
}

int cmxw_open_fd(int fd, const struct cmxw_callbacks *cb, void *userdata, struct cmxw **ret)
{
	struct cmxw *w;
	int r;

	if (!ret)
		return -EINVAL;
	r = check_socket(fd);
	if (r < 0)
		return r;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	if (cb)
		w->cb = *cb;
	w->userdata = userdata;
	w->next_auto_id = CMXW_AUTO_ID_BASE;
	r = alloc_events(w, CMXW_WINDOW_DEFAULT);
	if (r >= 0)
		r = idtab_init(&w->dl_ids, CMXW_DELIVERIES_MAX);
	if (r < 0) {
		w->fd = -1; /* not ours on failure */
		cmxw_close(w);
		return r;
	}
	w->dl_list = (struct list){ NONE, NONE, 0 };
	for (unsigned i = 0; i < CMXW_DELIVERIES_MAX; i++)
		w->dls[i].next = i + 1 < CMXW_DELIVERIES_MAX ? i + 1 : NONE;
	w->dl_free = 0;
	*ret = w;
	return 0;
}

int cmxw_open_env(const struct cmxw_callbacks *cb, void *userdata, struct cmxw **ret)
{
	const char *env = getenv(WORKER_ENV_CONTROL_FD), *s;
	struct cmxw *w;
	char *end;
	long fd;
	int r;

	if (!env || !*env)
		return -ENOENT;
	errno = 0;
	fd = strtol(env, &end, 10);
	if (errno || *end || fd < 0 || fd > INT32_MAX)
		return -EBADF;
	r = cmxw_open_fd((int)fd, cb, userdata, &w);
	if (r < 0)
		return r;
	if (((s = getenv(WORKER_ENV_SESSION)) && !(w->session = strdup(s))) ||
	    ((s = getenv(WORKER_ENV_UPLINK)) && !(w->uplink = strdup(s)))) {
		w->fd = -1;
		cmxw_close(w);
		return -ENOMEM;
	}
	*ret = w;
	return 0;
}

void cmxw_close(struct cmxw *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	for (uint32_t i = w->ev_list.head; i != NONE; i = w->evs[i].next)
		free(w->evs[i].data);
	free(w->evs);
	for (unsigned i = 0; i < w->sreq_n; i++)
		free(w->sreqs[(w->sreq_head + i) % CMXW_STATE_PENDING_MAX].data);
	idtab_done(&w->ev_ids);
	idtab_done(&w->dl_ids);
	free(w->session);
	free(w->uplink);
	free(w);
}

int cmxw_set_window(struct cmxw *w, unsigned window)
{
	if (!w || !window || window > CMXW_WINDOW_MAX)
		return -EINVAL;
	if (w->ev_list.n)
		return -EBUSY;
	return alloc_events(w, window);
}

int cmxw_hello(struct cmxw *w, const char *name, const char *version)
{
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__Hello h = CELLMUX__WORKER__HELLO__INIT;
	int r;

	if (!w || !name || !version)
		return -EINVAL;
	/* The daemon rejects the whole message otherwise: say so here, where it can be fixed. */
	if (!utf8_text_ok(name, WORKER_MSG_TEXT_MAX) || !utf8_text_ok(version, WORKER_MSG_TEXT_MAX))
		return -EINVAL;
	if (w->hello_sent)
		return -EALREADY;
	h.worker = (char *)name;
	h.version = (char *)version;
	h.pid = (uint32_t)getpid();
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_HELLO;
	m.hello = &h;
	r = worker_msg_send(w->fd, &m.base);
	if (r < 0)
		return r;
	w->hello_sent = true;
	return 0;
}

/* --- public: events and deliveries ----------------------------------------------------------- */

static void event_drop(struct cmxw *w, uint32_t s)
{
	idtab_del(&w->ev_ids, w->evs[s].id);
	LIST_UNLINK(w->evs, &w->ev_list, s);
	free(w->evs[s].data);
	w->evs[s] = (struct ev){ .next = w->ev_free };
	w->ev_free = s;
}

int cmxw_event(struct cmxw *w, uint64_t id, const void *payload, size_t len, unsigned flags,
	       uint64_t *ret_id)
{
	bool su = flags & CMXW_SESSION_UNIQUE;
	uint32_t s;
	int r;

	if (!w || (len && !payload) || (flags & ~(unsigned)CMXW_SESSION_UNIQUE) || (!id && su))
		return -EINVAL;
	if (len > CMXW_PAYLOAD_MAX)
		return -EMSGSIZE;
	if (!w->hello_sent)
		return -ENOTCONN;
	if (!id) {
		/* 2^63 ids before a wrap: not in this universe. */
		id = ++w->next_auto_id;
	} else if (idtab_get(&w->ev_ids, id) != NONE) {
		return -EEXIST;
	}
	if (w->ev_free == NONE)
		return -ENOBUFS;
	s = w->ev_free;
	w->ev_free = w->evs[s].next;
	w->evs[s] = (struct ev){ .id = id, .len = len, .session_unique = su };
	if (len) {
		w->evs[s].data = malloc(len);
		if (!w->evs[s].data) {
			w->evs[s].next = w->ev_free;
			w->ev_free = s;
			return -ENOMEM;
		}
		memcpy(w->evs[s].data, payload, len);
	}
	idtab_put(&w->ev_ids, id, s);
	LIST_APPEND(w->evs, &w->ev_list, s);
	r = send_event(w, &w->evs[s]);
	if (r < 0) {
		/* Not taken: the caller still has it and decides. */
		event_drop(w, s);
		return r;
	}
	if (ret_id)
		*ret_id = id;
	return 0;
}

int cmxw_ack_deliveries(struct cmxw *w, const uint64_t *ids, size_t n)
{
	uint64_t out[WORKER_MSG_ACK_IDS_MAX] = { 0 };
	size_t k = 0;
	int r;

	if (!w || (n && !ids))
		return -EINVAL;
	if (n > ARRAY_SIZE(out))
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		uint32_t s = idtab_get(&w->dl_ids, ids[i]);

		if (s == NONE || w->dls[s].state != D_HANDED)
			continue;
		w->dls[s].state = D_ACKED;
		out[k++] = ids[i];
	}
	r = send_delivery_acks(w, out, k);
	if (r < 0) {
		/* Not sent: handed again is what the program may expect, and a retry works. */
		for (size_t i = 0; i < k; i++)
			w->dls[idtab_get(&w->dl_ids, out[i])].state = D_HANDED;
		return r;
	}
	return (int)k;
}

int cmxw_ack_delivery(struct cmxw *w, uint64_t id)
{
	uint32_t s;
	int r;

	if (!w)
		return -EINVAL;
	s = idtab_get(&w->dl_ids, id);
	if (s == NONE)
		return -ENOENT;
	if (w->dls[s].state != D_HANDED)
		return -EALREADY;
	r = cmxw_ack_deliveries(w, &id, 1);
	return r < 0 ? r : 0;
}

/* --- public: status ------------------------------------------------------------------------ */

int cmxw_status_at(struct cmxw *w, uint64_t unix_time_ms, const char *state, const char *message,
		   const struct cmxw_field *fields, size_t n)
{
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__Status st = CELLMUX__WORKER__STATUS__INIT;
	Cellmux__Worker__Status__Field f[CMXW_STATUS_FIELDS_MAX];
	Cellmux__Worker__Status__Field *fp[CMXW_STATUS_FIELDS_MAX];

	if (!w || n > CMXW_STATUS_FIELDS_MAX || (n && !fields))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		cellmux__worker__status__field__init(&f[i]);
		f[i].key = (char *)fields[i].key;
		f[i].value = (char *)(fields[i].value ? fields[i].value : "");
		fp[i] = &f[i];
	}
	st.state = (char *)state;
	st.message = (char *)(message ? message : "");
	st.fields = fp;
	st.n_fields = n;
	st.unix_time_ms = unix_time_ms;
	/* The daemon's own check: what passes here is never refused there. */
	if (worker_status_check(&st))
		return -EINVAL;
	if (!w->hello_sent)
		return -ENOTCONN;
	m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATUS;
	m.status = &st;
	return worker_msg_send(w->fd, &m.base);
}

int cmxw_status(struct cmxw *w, const char *state, const char *message,
		const struct cmxw_field *fields, size_t n)
{
	return cmxw_status_at(w, 0, state, message, fields, n);
}

/* --- public: state blobs ---------------------------------------------------------------------- */

static struct sreq *sreq_at(struct cmxw *w, unsigned i)
{
	return &w->sreqs[(w->sreq_head + i) % CMXW_STATE_PENDING_MAX];
}

static int send_sreq(struct cmxw *w, struct sreq *q)
{
	Cellmux__Worker__WorkerMessage m = CELLMUX__WORKER__WORKER_MESSAGE__INIT;
	Cellmux__Worker__StatePut put = CELLMUX__WORKER__STATE_PUT__INIT;
	Cellmux__Worker__StateGet get = CELLMUX__WORKER__STATE_GET__INIT;

	if (q->put) {
		put.data.data = q->data;
		put.data.len = q->len;
		m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_PUT;
		m.state_put = &put;
	} else {
		m.msg_case = CELLMUX__WORKER__WORKER_MESSAGE__MSG_STATE_GET;
		m.state_get = &get;
	}
	return worker_msg_send(w->fd, &m.base);
}

/* Sends the requests not sent yet, oldest first; stops at the first the socket has no room
 * for, as the answers must come in the order the program asked. */
static int send_sreqs(struct cmxw *w)
{
	for (unsigned i = 0; i < w->sreq_n; i++) {
		struct sreq *q = sreq_at(w, i);
		int r;

		if (q->sent)
			continue;
		r = send_sreq(w, q);
		if (is_again(r)) {
			schedule(w, AGAIN_MS);
			return 0;
		}
		if (r < 0)
			return r;
		q->sent = true;
		w->stats.states_sent++;
		if (q->once)
			w->stats.states_resent++;
		q->once = true;
	}
	return 0;
}

static int state_request(struct cmxw *w, bool put, const void *data, size_t len)
{
	struct sreq *q;
	bool behind;
	int r;

	if (!w || (len && !data))
		return -EINVAL;
	if (len > CMXW_STATE_MAX)
		return -EMSGSIZE;
	if (!w->hello_sent)
		return -ENOTCONN;
	if (w->sreq_n == CMXW_STATE_PENDING_MAX)
		return -ENOBUFS;
	/* Behind one that waits for room: it goes from the timer, after that one. */
	behind = w->sreq_n && !sreq_at(w, w->sreq_n - 1)->sent;
	q = sreq_at(w, w->sreq_n);
	*q = (struct sreq){ .put = put, .len = len };
	if (len) {
		q->data = malloc(len);
		if (!q->data)
			return -ENOMEM;
		memcpy(q->data, data, len);
	}
	if (!behind) {
		r = send_sreq(w, q);
		if (is_again(r)) {
			schedule(w, AGAIN_MS);
		} else if (r < 0) {
			/* Not taken: not answered either. */
			free(q->data);
			*q = (struct sreq){ 0 };
			return r;
		} else {
			q->sent = q->once = true;
			w->stats.states_sent++;
		}
	}
	w->sreq_n++;
	return 0;
}

int cmxw_state_put(struct cmxw *w, const void *data, size_t len)
{
	return state_request(w, true, data, len);
}

int cmxw_state_get(struct cmxw *w)
{
	return state_request(w, false, NULL, 0);
}

size_t cmxw_state_pending(const struct cmxw *w)
{
	return w ? w->sreq_n : 0;
}

/* --- dispatch ------------------------------------------------------------------------------ */

static int replace_str(char **dst, const char *src)
{
	char *s = strdup(src ? src : "");

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* After the first Welcome, a restarted daemon has adopted us: what the dead one read but did
 * not commit is gone, so every event without an Ack goes again with its id (one it did commit
 * is dropped and acked again). Acks the socket had no room for go too. */
static int on_welcome(struct cmxw *w, const Cellmux__Worker__Welcome *m)
{
	struct cmxw_welcome info = { 0 };
	int r;

	r = replace_str(&w->session, m->session);
	if (r >= 0)
		r = replace_str(&w->uplink, m->uplink);
	if (r < 0)
		return r;
	w->incarnation = m->incarnation;
	if (w->welcomes++ > 0) {
		for (uint32_t s = w->ev_list.head; s != NONE; s = w->evs[s].next) {
			r = send_event(w, &w->evs[s]);
			if (r < 0)
				return r;
			info.resent++;
		}
		r = send_unsent_acks(w);
		if (r < 0)
			return r;
		/* Unanswered state requests too, in order (see cmxw_state_put in the header). */
		for (unsigned i = 0; i < w->sreq_n; i++)
			sreq_at(w, i)->sent = false;
		r = send_sreqs(w);
		if (r < 0)
			return r;
	}
	info.session = w->session;
	info.uplink = w->uplink;
	info.incarnation = w->incarnation;
	info.again = w->welcomes - 1;
	if (w->cb.on_welcome)
		w->cb.on_welcome(w, &info, w->userdata);
	return 0;
}

/* Room for one more delivery: forget the oldest one already acked; the daemon confirms within
 * its window, so this only drops what a confirmation was lost for. */
static uint32_t delivery_slot(struct cmxw *w)
{
	uint32_t s;

	if (w->dl_free == NONE) {
		/* Not one in the program's hands, nor one whose ack still waits for room. */
		for (s = w->dl_list.head; s != NONE && w->dls[s].state != D_ACKED; s = w->dls[s].next)
			;
		if (s == NONE)
			return NONE;
		idtab_del(&w->dl_ids, w->dls[s].id);
		LIST_UNLINK(w->dls, &w->dl_list, s);
		w->dls[s].next = NONE;
		w->dl_free = s;
		w->stats.forgotten++;
	}
	s = w->dl_free;
	w->dl_free = w->dls[s].next;
	return s;
}

static int on_delivery(struct cmxw *w, const Cellmux__Worker__Delivery *d)
{
	uint32_t s = idtab_get(&w->dl_ids, d->id);
	int r;

	w->stats.deliveries++;
	if (s != NONE) {
		/* Handed before (a restarted daemon sends what it cannot know was handled). */
		bool acked = w->dls[s].state != D_HANDED;

		w->stats.duplicates++;
		if (w->dls[s].state == D_ACKED) {
			r = send_delivery_acks(w, &d->id, 1);
			if (r < 0)
				return r;
		}
		if (w->cb.on_duplicate)
			w->cb.on_duplicate(w, d->id, d->redelivered, acked, w->userdata);
		return 0;
	}
	s = delivery_slot(w);
	if (s == NONE) {
		/* CMXW_DELIVERIES_MAX handed and none acked: the program holds them all. Not
		 * handed, not acked: a later daemon or process gets it again. */
		w->stats.bad_messages++;
		if (w->cb.on_bad_message)
			w->cb.on_bad_message(w, -ENOBUFS, w->userdata);
		return 0;
	}
	w->dls[s] = (struct dl){ .id = d->id, .state = D_HANDED };
	idtab_put(&w->dl_ids, d->id, s);
	LIST_APPEND(w->dls, &w->dl_list, s);
	if (w->cb.on_delivery)
		w->cb.on_delivery(w, d->id, d->payload.data, d->payload.len, d->redelivered,
				  w->userdata);
	return 0;
}

static void on_ack(struct cmxw *w, const Cellmux__Worker__Ack *a)
{
	uint64_t acked[WORKER_MSG_ACK_IDS_MAX];
	size_t n = 0;

	/* Confirmed deliveries first: from now on no process of the session gets them again. */
	for (size_t i = 0; i < a->n_delivered; i++) {
		uint32_t s = idtab_get(&w->dl_ids, a->delivered[i]);

		if (s != NONE && w->dls[s].state != D_HANDED) {
			idtab_del(&w->dl_ids, w->dls[s].id);
			LIST_UNLINK(w->dls, &w->dl_list, s);
			w->dls[s].next = w->dl_free;
			w->dl_free = s;
		}
		if (w->cb.on_delivered)
			w->cb.on_delivered(w, a->delivered[i], w->userdata);
	}
	for (size_t i = 0; i < a->n_ids; i++) {
		uint32_t s = idtab_get(&w->ev_ids, a->ids[i]);

		if (s == NONE)
			continue; /* acked again after a resend, or never ours */
		if (a->error) {
			/* Outbox full, no backend link, a failed commit: keep it, try later. */
			w->stats.events_refused++;
			w->evs[s].waiting = true;
			continue;
		}
		event_drop(w, s);
		acked[n++] = a->ids[i];
	}
	if (a->error && a->n_ids)
		schedule(w, CMXW_RETRY_MS);
	if (n && w->cb.on_events_acked)
		w->cb.on_events_acked(w, acked, n, w->userdata);
}

/* Pairs the answer with the oldest request: the daemon answers in request order. */
static void on_state(struct cmxw *w, const Cellmux__Worker__State *st)
{
	struct sreq q;

	if (!w->sreq_n || !sreq_at(w, 0)->once) {
		/* The second answer to a request resent after an adoption (see the header), or
		 * one before the oldest request ever left (they leave in order). */
		w->stats.states_stray++;
		return;
	}
	q = *sreq_at(w, 0);
	*sreq_at(w, 0) = (struct sreq){ 0 };
	w->sreq_head = (w->sreq_head + 1) % CMXW_STATE_PENDING_MAX;
	w->sreq_n--;
	free(q.data);
	if (!w->cb.on_state)
		return;
	/* worker_msg_recv_daemon() let data through only with found and no error; a put's
	 * answer carries none. */
	if (q.put || !st->found || st->error)
		w->cb.on_state(w, -st->error, st->found && !st->error, NULL, 0, q.put, w->userdata);
	else
		w->cb.on_state(w, 0, true, st->data.len ? st->data.data : NULL, st->data.len, false,
			       w->userdata);
}

static int handle(struct cmxw *w, const Cellmux__Worker__DaemonMessage *m)
{
	switch (m->msg_case) {
	case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_WELCOME:
		return on_welcome(w, m->welcome);
	case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_DELIVERY:
		return on_delivery(w, m->delivery);
	case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_ACK:
		on_ack(w, m->ack);
		return 0;
	case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STOP:
		w->stopping = true;
		if (w->cb.on_stop)
			w->cb.on_stop(w, w->userdata);
		return 0;
	case CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STATE:
		on_state(w, m->state);
		return 0;
	default:
		/* worker_msg_recv_daemon() lets no other case through. */
		return 0;
	}
}

static int run_timers(struct cmxw *w)
{
	int r;

	if (!w->retry_at_ms || now_ms() < w->retry_at_ms)
		return 0;
	w->retry_at_ms = 0;
	for (uint32_t s = w->ev_list.head; s != NONE; s = w->evs[s].next) {
		if (!w->evs[s].waiting)
			continue;
		r = send_event(w, &w->evs[s]);
		if (r < 0)
			return r;
	}
	r = send_sreqs(w);
	if (r < 0)
		return r;
	return send_unsent_acks(w);
}

int cmxw_dispatch(struct cmxw *w)
{
	int r;

	if (!w)
		return -EINVAL;
	for (int i = 0; i < DISPATCH_BUDGET; i++) {
		Cellmux__Worker__DaemonMessage *m = NULL;

		r = worker_msg_recv_daemon(w->fd, &m);
		if (is_again(r))
			break;
		if (r == -EBADMSG || r == -EMSGSIZE) {
			/* One bad packet is dropped whole; the next one is read. */
			w->stats.bad_messages++;
			if (w->cb.on_bad_message)
				w->cb.on_bad_message(w, r, w->userdata);
			continue;
		}
		if (r < 0)
			return r;
		r = handle(w, m);
		worker_msg_free_daemon(m);
		if (r < 0)
			return r;
	}
	return run_timers(w);
}

/* --- public: accessors ------------------------------------------------------------------------ */

int cmxw_fd(const struct cmxw *w)
{
	return w ? w->fd : -EINVAL;
}

int cmxw_timeout_ms(const struct cmxw *w)
{
	int64_t left;

	if (!w || !w->retry_at_ms)
		return -1;
	left = w->retry_at_ms - now_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

bool cmxw_stopping(const struct cmxw *w)
{
	return w && w->stopping;
}

const char *cmxw_session(const struct cmxw *w)
{
	return w ? w->session : NULL;
}

const char *cmxw_uplink(const struct cmxw *w)
{
	return w ? w->uplink : NULL;
}

uint64_t cmxw_incarnation(const struct cmxw *w)
{
	return w ? w->incarnation : 0;
}

void cmxw_get_stats(const struct cmxw *w, struct cmxw_stats *ret)
{
	*ret = w->stats;
	ret->unacked = w->ev_list.n;
	ret->states_pending = w->sreq_n;
}
