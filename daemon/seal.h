/* seal.h — worker state blobs encrypted and authenticated at rest: AES-256-GCM (OpenSSL EVP), a
 * fresh random 96-bit nonce per seal, the session's name and the format version bound in as AAD.
 *
 * A sealed blob: version (1 byte, SEAL_VERSION) | nonce (12) | ciphertext (as long as the
 * plaintext) | tag (16). The AAD is "cellmux-state" NUL version NUL session: a blob copied to
 * another session's row, or rewritten to claim another version, does not open.
 *
 * Keys: 32 bytes from a file that is root's and not readable by group or others (0600 or
 * 0400), holding either the 32 raw bytes or 64 hex digits (a trailing newline is allowed). The
 * daemon seals with the current key and opens with the current, then the previous one (key
 * rotation, see cellmux.conf(5)). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN 32
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_VERSION 1
#define SEAL_OVERHEAD (1 + SEAL_NONCE_LEN + SEAL_TAG_LEN)
/* The systemd credential the daemon looks for when state_key= is not set. */
#define SEAL_CREDENTIAL "cellmux-state-key"

struct seal_key {
	bool set;
	uint8_t k[SEAL_KEY_LEN];
};

struct seal_keys {
	struct seal_key current, previous;
};

/* Reads a key file. -ENOENT: no such file; -EPERM: not a regular file, not root's, or readable
 * or writable by group or others; -EINVAL: neither 32 bytes nor 64 hex digits. The checks are
 * made on the opened file (fstat), not on the path. */
int seal_key_load(const char *path, struct seal_key *ret);
/* Takes raw key bytes (tests, tools). */
void seal_key_set(struct seal_key *key, const uint8_t k[SEAL_KEY_LEN]);
/* Wipes a key (OPENSSL_cleanse): keys never stay in freed memory. */
void seal_key_clear(struct seal_key *key);

/* Seals len bytes for session under key into *ret (malloc'ed, *ret_len = len + SEAL_OVERHEAD).
 * -ENOKEY: key not set; -EIO: OpenSSL failed (no randomness, no cipher). */
int seal_seal(const struct seal_key *key, const char *session, const void *in, size_t len,
	      uint8_t **ret, size_t *ret_len);
/* Opens a sealed blob of session with keys->current, then keys->previous. *ret is malloc'ed
 * (one byte even for an empty plaintext), *ret_len its length; *ret_previous (may be NULL) says
 * the previous key opened it (the caller seals it again under the current one). -ENOKEY: no key
 * set; -EBADMSG: too short, or no key authenticates it (altered, another session's, a key the
 * daemon does not have); -EPROTONOSUPPORT: a version this daemon does not know. Nothing is
 * written on failure: unauthenticated plaintext never leaves this function. */
int seal_open(const struct seal_keys *keys, const char *session, const void *in, size_t len,
	      uint8_t **ret, size_t *ret_len, bool *ret_previous);
