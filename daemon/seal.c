/* seal.c — AES-256-GCM sealing of worker state blobs (seal.h) with OpenSSL's EVP API, and the
 * key files they are sealed with. */
#include "daemon/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"

/* Room for 64 hex digits, a newline, and one byte more to see a file that is too long. */
#define KEY_FILE_MAX (2 * SEAL_KEY_LEN + 2)

void seal_key_set(struct seal_key *key, const uint8_t k[SEAL_KEY_LEN])
{
	memcpy(key->k, k, SEAL_KEY_LEN);
	key->set = true;
}

void seal_key_clear(struct seal_key *key)
{
	OPENSSL_cleanse(key, sizeof(*key));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int key_parse(const uint8_t *buf, size_t n, struct seal_key *ret)
{
	/* Exactly 32 bytes are raw, whatever they look like: a raw key may end in '\n'. */
	if (n == SEAL_KEY_LEN) {
		seal_key_set(ret, buf);
		return 0;
	}
	if (n == 2 * SEAL_KEY_LEN + 1 && buf[n - 1] == '\n')
		n--;
	if (n != 2 * SEAL_KEY_LEN)
		return -EINVAL;
	for (size_t i = 0; i < SEAL_KEY_LEN; i++) {
		int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			OPENSSL_cleanse(ret->k, sizeof(ret->k));
			return -EINVAL;
		}
		ret->k[i] = (uint8_t)(hi << 4 | lo);
	}
	ret->set = true;
	return 0;
}

int seal_key_load(const char *path, struct seal_key *ret)
{
	_cleanup_close_ int fd = -1;
	uint8_t buf[KEY_FILE_MAX];
	struct seal_key k = {0};
	struct stat st;
	size_t n = 0;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	/* Anyone who can read the key reads every blob; anyone who can write it chooses it. */
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077))
		return -EPERM;
	while (n < sizeof(buf)) {
		ssize_t m = read(fd, buf + n, sizeof(buf) - n);

		if (m < 0 && errno == EINTR)
			continue;
		if (m < 0) {
			r = negative_errno();
			OPENSSL_cleanse(buf, sizeof(buf));
			return r;
		}
		if (m == 0)
			break;
		n += (size_t)m;
	}
	r = key_parse(buf, n, &k);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (r < 0)
		return r;
	*ret = k;
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

/* "cellmux-state" NUL version NUL session: the name is the last field, so no two (version,
 * session) pairs make the same bytes. */
static int aad_make(uint8_t version, const char *session, uint8_t **ret, size_t *ret_len)
{
	static const char tag[] = "cellmux-state";
	size_t sl = strlen(session), len = sizeof(tag) + 2 + sl;
	uint8_t *a = malloc(len);

	if (!a)
		return -ENOMEM;
	memcpy(a, tag, sizeof(tag)); /* with its NUL */
	a[sizeof(tag)] = version;
	a[sizeof(tag) + 1] = 0;
	memcpy(a + sizeof(tag) + 2, session, sl);
	*ret = a;
	*ret_len = len;
	return 0;
}

static void ctx_freep(EVP_CIPHER_CTX **c)
{
	EVP_CIPHER_CTX_free(*c);
}

int seal_seal(const struct seal_key *key, const char *session, const void *in, size_t len,
	      uint8_t **ret, size_t *ret_len)
{
	_cleanup_(ctx_freep) EVP_CIPHER_CTX *c = NULL;
	_cleanup_free_ uint8_t *aad = NULL, *out = NULL;
	size_t aad_len, out_len = len + SEAL_OVERHEAD;
	uint8_t *nonce, *ct;
	int n, r;

	if (!key || !key->set)
		return -ENOKEY;
	if (!session || len > INT32_MAX - SEAL_OVERHEAD)
		return -EINVAL;
	r = aad_make(SEAL_VERSION, session, &aad, &aad_len);
	if (r < 0)
		return r;
	out = malloc(out_len);
	c = EVP_CIPHER_CTX_new();
	if (!out || !c)
		return -ENOMEM;
	out[0] = SEAL_VERSION;
	nonce = out + 1;
	ct = nonce + SEAL_NONCE_LEN;
	/* A random nonce per seal: with one key, 2^32 seals keep the chance of a repeat below
	 * 2^-32 (NIST SP 800-38D), far beyond what state puts reach. */
	if (RAND_bytes(nonce, SEAL_NONCE_LEN) != 1)
		return -EIO;
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, key->k, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
		return -EIO;
	if (len && EVP_EncryptUpdate(c, ct, &n, in, (int)len) != 1)
		return -EIO;
	if (EVP_EncryptFinal_ex(c, ct + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, ct + len) != 1)
		return -EIO;
	*ret = TAKE_PTR(out);
	*ret_len = out_len;
	return 0;
}

/* 0, or -EBADMSG when the tag does not verify; out is wiped then. */
static int open_with(const struct seal_key *key, const uint8_t *aad, size_t aad_len,
		     const uint8_t *in, size_t len, uint8_t *out)
{
	_cleanup_(ctx_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	const uint8_t *nonce = in + 1, *ct = nonce + SEAL_NONCE_LEN;
	size_t ct_len = len - SEAL_OVERHEAD;
	uint8_t tag[SEAL_TAG_LEN];
	int n;

	if (!c)
		return -ENOMEM;
	memcpy(tag, ct + ct_len, SEAL_TAG_LEN);
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(c, NULL, NULL, key->k, nonce) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
		return -EIO;
	if (ct_len && EVP_DecryptUpdate(c, out, &n, ct, (int)ct_len) != 1)
		goto bad;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) != 1)
		return -EIO;
	/* Only here is the tag checked: until then out holds plaintext nobody may see. */
	if (EVP_DecryptFinal_ex(c, out + ct_len, &n) != 1)
		goto bad;
	return 0;
bad:
	OPENSSL_cleanse(out, ct_len);
	return -EBADMSG;
}

int seal_open(const struct seal_keys *keys, const char *session, const void *in, size_t len,
	      uint8_t **ret, size_t *ret_len, bool *ret_previous)
{
	_cleanup_free_ uint8_t *aad = NULL;
	const uint8_t *b = in;
	size_t aad_len;
	uint8_t *out;
	int r = -EBADMSG;

	if (!keys || (!keys->current.set && !keys->previous.set))
		return -ENOKEY;
	if (!session || !in || len < SEAL_OVERHEAD || len > INT32_MAX)
		return -EBADMSG;
	if (b[0] != SEAL_VERSION)
		return -EPROTONOSUPPORT;
	r = aad_make(b[0], session, &aad, &aad_len);
	if (r < 0)
		return r;
	out = malloc(len - SEAL_OVERHEAD + 1);
	if (!out)
		return -ENOMEM;
	r = -EBADMSG;
	if (keys->current.set)
		r = open_with(&keys->current, aad, aad_len, b, len, out);
	if (r == 0) {
		if (ret_previous)
			*ret_previous = false;
	} else if (r == -EBADMSG && keys->previous.set) {
		r = open_with(&keys->previous, aad, aad_len, b, len, out);
		if (r == 0 && ret_previous)
			*ret_previous = true;
	}
	if (r < 0) {
		OPENSSL_cleanse(out, len - SEAL_OVERHEAD);
		free(out);
		return r;
	}
	*ret = out;
	*ret_len = len - SEAL_OVERHEAD;
	return 0;
}
