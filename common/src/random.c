/* random.c - unpredictable bytes from GnuTLS (see random.h). */
#include "fb/random.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "fb/log.h"

int
cm_random_bytes(void *buf, size_t len)
{
	int rc = gnutls_rnd(GNUTLS_RND_KEY, buf, len);

	if (rc != 0) {
		log_errx("%s: %s", __func__, gnutls_strerror(rc));
		return -1;
	}
	return 0;
}

int
cm_random_hash_key(struct cm_hash_key *key)
{
	return cm_random_bytes(key, sizeof(*key));
}
