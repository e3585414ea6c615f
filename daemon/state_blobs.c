/* state_blobs.c — worker state blobs (state_blobs.h): seal, store, answer once committed.
 * Answers wait in one queue tagged with the batch their put joined and leave from the store's
 * commit listener; a get behind a pending put of the same session waits with it, so a worker
 * gets its answers in the order it asked. */
#include "daemon/state_blobs.h"

#include <errno.h>
#include <glib.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "daemon/daemon.h"
#include "daemon/seal.h"
#include "daemon/session.h"
#include "daemon/store.h"

struct pending_state {
	uint64_t batch;
	char session[CONFIG_NAME_MAX + 1];
	pid_t pid; /* of the process that asked: a successor gets no answer meant for it */
	int error;
	bool found;
	uint8_t *data; /* plaintext of a get, wiped when freed */
	size_t len;
};

struct state_blobs {
	struct daemon *d;
	struct store *st;
	struct seal_keys keys;
	GArray *pending; /* struct pending_state, in request order */
};

static void pending_clear(struct pending_state *p)
{
	if (p->data) {
		OPENSSL_cleanse(p->data, p->len);
		free(p->data);
	}
	p->data = NULL;
}

static void send_state(struct session *s, int error, bool found, const uint8_t *data, size_t len)
{
	Cellmux__Worker__DaemonMessage m = CELLMUX__WORKER__DAEMON_MESSAGE__INIT;
	Cellmux__Worker__State st = CELLMUX__WORKER__STATE__INIT;
	int r;

	if (s->ctl_fd < 0)
		return;
	st.error = error;
	st.found = found && !error;
	if (st.found && data && len) {
		st.data.data = (uint8_t *)data;
		st.data.len = len;
	}
	m.msg_case = CELLMUX__WORKER__DAEMON_MESSAGE__MSG_STATE;
	m.state = &st;
	r = worker_msg_send(s->ctl_fd, &m.base);
	if (r < 0)
		log_warn_errno(r, "session %s: sending its state answer: %m", s->name);
}

/* Answers now when nothing of this session waits and batch is durable; else queues behind. Takes
 * data (malloc'ed plaintext, may be NULL). */
static void answer(struct state_blobs *ss, struct session *s, uint64_t batch, int error, bool found,
		   uint8_t *data, size_t len)
{
	struct pending_state p = {
	    .batch = batch,
	    .pid = s->pid,
	    .error = error,
	    .found = found,
	    .data = data,
	    .len = len,
	};

	for (guint i = ss->pending->len; i-- > 0;) {
		struct pending_state *q = &g_array_index(ss->pending, struct pending_state, i);

		if (!strcmp(q->session, s->name) && q->pid == s->pid) {
			p.batch = MAX(p.batch, q->batch);
			break;
		}
	}
	if (p.batch <= store_committed(ss->st)) {
		send_state(s, error, found, data, len);
		pending_clear(&p);
		return;
	}
	snprintf(p.session, sizeof(p.session), "%s", s->name);
	g_array_append_val(ss->pending, p);
}

static void on_commit(void *userdata, uint64_t batch, int result)
{
	struct state_blobs *ss = userdata;

	for (guint i = 0; i < ss->pending->len;) {
		struct pending_state *p = &g_array_index(ss->pending, struct pending_state, i);
		struct session *s;

		if (p->batch > batch) {
			i++;
			continue;
		}
		s = daemon_find_session(ss->d, p->session);
		/* Rolled back: the put is not on disk; a get behind it saw what was not kept. */
		if (s && s->pid == p->pid)
			send_state(s, result < 0 ? EIO : p->error, p->found, p->data, p->len);
		pending_clear(p);
		g_array_remove_index(ss->pending, i);
	}
}

static const char *key_why(int r)
{
	if (r == -EPERM)
		return "must be a regular file owned by root, mode 0600 or 0400";
	if (r == -EINVAL)
		return "must hold 32 raw bytes or 64 hex digits";
	return NULL;
}

static int key_load(const char *what, const char *path, struct seal_key *k)
{
	int r = seal_key_load(path, k);
	const char *why = key_why(r);

	if (r == 0)
		return 0;
	if (why)
		log_error("%s %s: refused: the key file %s", what, path, why);
	else
		log_error_errno(r, "%s %s: %m", what, path);
	return r;
}

static int keys_load(const struct cfg_daemon *c, struct seal_keys *keys)
{
	_cleanup_free_ char *cred = NULL;
	const char *dir;
	int r;

	if (c->state_key[0]) {
		r = key_load("state_key=", c->state_key, &keys->current);
		if (r < 0)
			return r;
	} else if ((dir = getenv("CREDENTIALS_DIRECTORY")) && *dir) {
		if (asprintf(&cred, "%s/%s", dir, SEAL_CREDENTIAL) < 0)
			return -ENOMEM;
		if (access(cred, F_OK) == 0) {
			r = key_load("state key credential", cred, &keys->current);
			if (r < 0)
				return r;
		}
	}
	if (c->state_key_previous[0]) {
		r = key_load("state_key_previous=", c->state_key_previous, &keys->previous);
		if (r < 0)
			return r;
	}
	if (keys->current.set)
		log_info("state blobs: sealed with the key from %s%s", cred ? cred : c->state_key,
			 keys->previous.set ? ", the previous key opens older ones" : "");
	else
		log_info("state blobs: no state_key= and no %s credential: workers' state puts "
			 "are refused",
			 SEAL_CREDENTIAL);
	return 0;
}

int state_blobs_new(struct daemon *d, struct store *st, struct state_blobs **ret)
{
	struct state_blobs *ss;
	int r;

	if (!st)
		return -EINVAL;
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	ss->d = d;
	ss->st = st;
	r = keys_load(&d->cfg->daemon, &ss->keys);
	if (r < 0) {
		seal_key_clear(&ss->keys.current);
		seal_key_clear(&ss->keys.previous);
		free(ss);
		return r;
	}
	ss->pending = g_array_new(FALSE, FALSE, sizeof(struct pending_state));
	store_add_commit_listener(st, on_commit, ss);
	*ret = ss;
	return 0;
}

void state_blobs_free(struct state_blobs *ss)
{
	if (!ss)
		return;
	store_flush(ss->st);
	store_remove_commit_listener(ss->st, on_commit, ss);
	for (guint i = 0; i < ss->pending->len; i++)
		pending_clear(&g_array_index(ss->pending, struct pending_state, i));
	g_array_free(ss->pending, TRUE);
	seal_key_clear(&ss->keys.current);
	seal_key_clear(&ss->keys.previous);
	free(ss);
}

void state_blobs_put(struct session *s, const Cellmux__Worker__StatePut *p)
{
	struct state_blobs *ss = s->d->blobs;
	_cleanup_free_ uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	uint64_t batch = 0;
	int r;

	if (!ss)
		return;
	if (!ss->keys.current.set) {
		log_warn("session %s: state put refused: no state key (set state_key= or the %s "
			 "credential); nothing stored",
			 s->name, SEAL_CREDENTIAL);
		answer(ss, s, 0, ENOKEY, false, NULL, 0);
		return;
	}
	if (!p->data.len) {
		r = store_state_delete(ss->st, s->name, &batch);
	} else {
		r = seal_seal(&ss->keys.current, s->name, p->data.data, p->data.len, &sealed,
			      &sealed_len);
		if (r == 0)
			r = store_state_put(ss->st, s->name, sealed, sealed_len, &batch);
	}
	if (r < 0) {
		log_error_errno(r, "session %s: storing its state: %m", s->name);
		answer(ss, s, 0, EIO, false, NULL, 0);
		return;
	}
	answer(ss, s, batch, 0, p->data.len > 0, NULL, 0);
}

/* 0 with *ret (plaintext) or *found false; -EBADMSG/-EPROTONOSUPPORT: the blob does not open. */
static int state_open(struct state_blobs *ss, const char *session, const void *blob, size_t len,
		      uint8_t **ret, size_t *ret_len)
{
	bool previous = false;
	int r;

	r = seal_open(&ss->keys, session, blob, len, ret, ret_len, &previous);
	if (r < 0)
		return r;
	/* Rotation: what the previous key opened is sealed under the current one at once. */
	if (previous && ss->keys.current.set) {
		_cleanup_free_ uint8_t *again = NULL;
		size_t again_len;

		r = seal_seal(&ss->keys.current, session, *ret, *ret_len, &again, &again_len);
		if (r == 0)
			r = store_state_put(ss->st, session, again, again_len, NULL);
		if (r < 0)
			log_warn_errno(r, "session %s: sealing its state under the current key: %m",
				       session);
		else
			log_info("session %s: state sealed again under the current key", session);
	}
	return 0;
}

void state_blobs_get(struct session *s)
{
	struct state_blobs *ss = s->d->blobs;
	_cleanup_free_ void *blob = NULL;
	uint8_t *plain = NULL;
	size_t len = 0, plain_len = 0;
	int r;

	if (!ss)
		return;
	if (!ss->keys.current.set && !ss->keys.previous.set) {
		answer(ss, s, 0, ENOKEY, false, NULL, 0);
		return;
	}
	r = store_state_get(ss->st, s->name, &blob, &len);
	if (r == -ENOENT) {
		answer(ss, s, 0, 0, false, NULL, 0);
		return;
	}
	if (r < 0) {
		log_error_errno(r, "session %s: reading its state: %m", s->name);
		answer(ss, s, 0, EIO, false, NULL, 0);
		return;
	}
	/* Only what a put could have made: a larger one could not be answered in one packet. */
	r = len > WORKER_MSG_STATE_MAX + SEAL_OVERHEAD
		? -EBADMSG
		: state_open(ss, s->name, blob, len, &plain, &plain_len);
	if (r == -EBADMSG || r == -EPROTONOSUPPORT) {
		log_warn("session %s: stored state refused: it does not authenticate (altered on "
			 "disk, another session's, or sealed with a key this daemon does not have: "
			 "state_key=, state_key_previous=); kept, not handed out",
			 s->name);
		answer(ss, s, 0, EBADMSG, false, NULL, 0);
		return;
	}
	if (r < 0) {
		log_error_errno(r, "session %s: opening its state: %m", s->name);
		answer(ss, s, 0, EIO, false, NULL, 0);
		return;
	}
	answer(ss, s, 0, 0, true, plain, plain_len);
}

void state_blobs_forget(struct state_blobs *ss, const char *session)
{
	int r;

	if (!ss)
		return;
	r = store_state_delete(ss->st, session, NULL);
	if (r < 0)
		log_warn_errno(r, "session %s: deleting its state: %m", session);
}

struct sweep {
	struct state_blobs *ss;
	GPtrArray *gone, *reseal;
};

static int sweep_one(void *userdata, const char *session, const void *blob, size_t len)
{
	struct sweep *sw = userdata;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	bool previous = false;

	if (!daemon_find_session(sw->ss->d, session)) {
		g_ptr_array_add(sw->gone, g_strdup(session));
		return 0;
	}
	if (sw->ss->keys.previous.set && sw->ss->keys.current.set &&
	    seal_open(&sw->ss->keys, session, blob, len, &plain, &plain_len, &previous) == 0) {
		if (previous)
			g_ptr_array_add(sw->reseal, g_strdup(session));
		OPENSSL_cleanse(plain, plain_len);
		free(plain);
	}
	return 0;
}

void state_blobs_sweep(struct state_blobs *ss)
{
	struct sweep sw = {.ss = ss};
	int r;

	if (!ss)
		return;
	sw.gone = g_ptr_array_new_with_free_func(g_free);
	sw.reseal = g_ptr_array_new_with_free_func(g_free);
	/* The walk only reads; the writes follow it. */
	r = store_state_foreach(ss->st, sweep_one, &sw);
	if (r < 0)
		log_warn_errno(r, "state blobs: reading them: %m");
	for (guint i = 0; i < sw.gone->len; i++) {
		const char *name = g_ptr_array_index(sw.gone, i);

		log_info("session %s: gone, its state blob is deleted", name);
		state_blobs_forget(ss, name);
	}
	for (guint i = 0; i < sw.reseal->len; i++) {
		const char *name = g_ptr_array_index(sw.reseal, i);
		_cleanup_free_ void *blob = NULL;
		uint8_t *plain = NULL;
		size_t len = 0, plain_len = 0;

		if (store_state_get(ss->st, name, &blob, &len) == 0 &&
		    state_open(ss, name, blob, len, &plain, &plain_len) == 0) {
			OPENSSL_cleanse(plain, plain_len);
			free(plain);
		}
	}
	g_ptr_array_free(sw.gone, TRUE);
	g_ptr_array_free(sw.reseal, TRUE);
	store_flush(ss->st);
}
