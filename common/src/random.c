/* random.c - unpredictable bytes from GnuTLS, UUIDs from libuuid (see random.h). */
#include "fb/random.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <uuid/uuid.h>

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

void
cm_uuid_generate(char out[CM_UUID_TEXT_LEN + 1])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}
