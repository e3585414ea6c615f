/* recovery.c — the recovery ladder's decisions (recovery.h): which step, when, and whether the
 * per-hour cap holds it back. No clock of its own: the caller passes the time. */
#include "router/recovery.h"

static int64_t backoff_ms(const struct recovery_cfg *c, unsigned rung)
{
	int64_t ms = c->after_ms;

	/* rung 0 waits after_ms, rung 1 twice that, rung 2 four times ... */
	for (unsigned i = 0; i < rung && ms < RECOVERY_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < RECOVERY_BACKOFF_MAX_MS ? ms : RECOVERY_BACKOFF_MAX_MS;
}

/* Forgets the steps older than an hour; the record is in time order. */
static void expire(struct recovery *r, int64_t now_ms)
{
	unsigned k = 0;

	while (k < r->n_recent && now_ms - r->recent[k] >= RECOVERY_HOUR_MS)
		k++;
	for (unsigned i = k; i < r->n_recent; i++)
		r->recent[i - k] = r->recent[i];
	r->n_recent -= k;
}

enum recovery_step recovery_next(struct recovery *r, const struct recovery_cfg *c, bool failed,
				 bool connected, int64_t now_ms, int64_t *wake_ms)
{
	unsigned cap = c->max_per_hour < RECOVERY_PER_HOUR_LIMIT ? c->max_per_hour
								 : RECOVERY_PER_HOUR_LIMIT;
	bool came_back = connected && !r->connected;
	enum recovery_step step;

	*wake_ms = INT64_MAX;
	expire(r, now_ms);
	r->capped = false;
	r->connected = connected;
	if (!failed || !c->after_ms || !cap) {
		r->failed = false;
		r->rung = 0;
		return RECOVERY_NONE;
	}
	if (!r->failed) {
		if (!connected)
			return RECOVERY_NONE; /* still coming up: the driver's own retries */
		r->failed = true;
		r->rung = 0;
		r->next_at_ms = now_ms + backoff_ms(c, 0);
	}
	if (!connected)
		return RECOVERY_NONE; /* the last step is under way; asked again once back */
	if (came_back && r->next_at_ms < now_ms + (int64_t)c->after_ms)
		r->next_at_ms = now_ms + c->after_ms; /* the checks judge the new data path first */
	if (now_ms < r->next_at_ms) {
		*wake_ms = r->next_at_ms;
		return RECOVERY_NONE;
	}
	if (r->n_recent >= cap) {
		/* The oldest step of the hour leaves the window then; the ladder resumes there. */
		r->capped = true;
		*wake_ms = r->recent[0] + RECOVERY_HOUR_MS;
		return RECOVERY_NONE;
	}
	step = r->rung == 0 || !c->can_reset ? RECOVERY_RECONNECT : RECOVERY_RESET;
	r->recent[r->n_recent++] = now_ms;
	r->rung++;
	r->next_at_ms = now_ms + backoff_ms(c, r->rung);
	r->last = step;
	r->taken[step]++;
	*wake_ms = r->next_at_ms;
	return step;
}

const char *recovery_step_to_string(enum recovery_step s)
{
	switch (s) {
	case RECOVERY_RECONNECT:
		return "reconnect";
	case RECOVERY_RESET:
		return "reset";
	case RECOVERY_NONE:
	case __RECOVERY_STEP_MAX:
		break;
	}
	return "none";
}
