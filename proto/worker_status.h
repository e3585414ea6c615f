/* worker_status.h — the bounds of a worker's Status (proto/worker.proto) and the copy of one the
 * daemon keeps: small enough to hold per session and to put in one admin reply whole. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Checked on receive (worker_msg.c); senders must stay within them. Byte counts, no NUL. */
#define WORKER_STATUS_STATE_MAX 32    /* 1.. bytes of [a-z0-9_-] */
#define WORKER_STATUS_MESSAGE_MAX 256 /* UTF-8, no control characters */
#define WORKER_STATUS_FIELDS_MAX 16
#define WORKER_STATUS_KEY_MAX 32      /* 1.. bytes of [a-z0-9_], unique within a Status */
#define WORKER_STATUS_VALUE_MAX 256   /* UTF-8, anything but NUL */

struct worker_status_field {
	char key[WORKER_STATUS_KEY_MAX + 1];
	char value[WORKER_STATUS_VALUE_MAX + 1];
};

struct worker_status {
	char state[WORKER_STATUS_STATE_MAX + 1];
	char message[WORKER_STATUS_MESSAGE_MAX + 1];
	struct worker_status_field fields[WORKER_STATUS_FIELDS_MAX];
	size_t n_fields;
	uint64_t unix_time_ms; /* the worker's; 0: it gave none */
};
