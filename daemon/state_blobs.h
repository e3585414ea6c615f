/* state_blobs.h — the per-session state blobs of worker.proto (StatePut, StateGet, State):
 * sealed with the daemon's state key (daemon/seal.h) into the store, answered in request order,
 * a put only once it is committed. One per daemon, owned by it. */
#pragma once

#include "proto/worker_msg.h"

struct daemon;
struct session;
struct store;
struct state_blobs;

/* Loads the keys: [daemon] state_key= (else the systemd credential SEAL_CREDENTIAL in
 * $CREDENTIALS_DIRECTORY, if there), state_key_previous=. A key that is configured (or a
 * credential that exists) but cannot be used fails the start, logged with the reason; no key at
 * all is allowed: puts are then refused (ENOKEY), nothing is stored in plaintext. */
int state_blobs_new(struct daemon *d, struct store *st, struct state_blobs **ret);
/* Commits what is pending (its answers go out), then frees. NULL is a no-op. */
void state_blobs_free(struct state_blobs *ss);

/* From session.c's control-socket dispatch. */
void state_blobs_put(struct session *s, const Cellmux__Worker__StatePut *p);
void state_blobs_get(struct session *s);
/* The session is removed for good: its blob goes. */
void state_blobs_forget(struct state_blobs *ss, const char *session);
/* Once start-up is done (every session there is exists): deletes the blobs of sessions that are
 * gone (removed while no daemon ran) and seals the ones the previous key opens under the
 * current key, so a rotation completes without waiting for every worker to put again. */
void state_blobs_sweep(struct state_blobs *ss);
