/*
 * identity.c - keys, certificates and signatures with GnuTLS.
 *
 * A struct cm_cert caches what callers ask for again and again (fingerprint,
 * email, PEM) at parse time, so the hot paths (every request, every gossip
 * record) do no repeated work.
 */
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fb/base64.h"
#include "fb/codec.h"
#include "fb/file.h"
#include "fb/hex.h"
#include "fb/identity.h"
#include "fb/limits.h"
#include "fb/validate.h"

#define MAX_KEY_PEM (16 * 1024)

struct cm_cert {
	gnutls_x509_crt_t crt;
	char fingerprint[CM_FINGERPRINT_LEN + 1];
	char *email; /* NULL when the certificate names no valid email */
	char *pem;
};

struct cm_identity {
	gnutls_privkey_t key;
	struct cm_cert *cert;
};

/* GnuTLS keeps its own reference count; the constructor pairs with the destructor. */
__attribute__((constructor)) static void
identity_global_init(void)
{
	gnutls_global_init();
}

__attribute__((destructor)) static void
identity_global_deinit(void)
{
	gnutls_global_deinit();
}

/*
 * The hash a signature of pk goes with: SHA-256 for ECDSA (and any other key
 * a certificate may hold), SHA-512 for Ed25519, whose PureEdDSA signs the
 * message itself and which GnuTLS names with the hash it uses inside.
 */
static gnutls_digest_algorithm_t
sign_digest(gnutls_pk_algorithm_t pk)
{
	return pk == GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_DIG_SHA512 : GNUTLS_DIG_SHA256;
}

void
cm_cert_free(struct cm_cert *c)
{
	if (c == NULL)
		return;
	gnutls_x509_crt_deinit(c->crt);
	free(c->email);
	free(c->pem);
	free(c);
}

/* The rfc822Name SAN if there is one, else the CN; NULL unless a valid email. */
static char *
cert_email(gnutls_x509_crt_t crt)
{
	char buf[CM_MAX_EMAIL + 2];
	size_t len;
	unsigned int critical;

	for (unsigned int i = 0;; i++) {
		len = sizeof(buf);
		int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &len, &critical);
		if (type < 0)
			break;
		if (type == GNUTLS_SAN_RFC822NAME)
			return cm_valid_email(buf, len) ? strndup(buf, len) : NULL;
	}
	len = sizeof(buf);
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &len) < 0)
		return NULL;
	return cm_valid_email(buf, len) ? strndup(buf, len) : NULL;
}

/* Fills the cached views of a freshly imported certificate. */
static struct cm_cert *
cert_finish(gnutls_x509_crt_t crt, struct cm_err *err)
{
	struct cm_cert *c = calloc(1, sizeof(*c));
	unsigned char digest[32];
	size_t dlen = sizeof(digest);
	gnutls_datum_t pem = {NULL, 0};

	if (c == NULL) {
		gnutls_x509_crt_deinit(crt);
		cm_err_set(err, "out of memory");
		return NULL;
	}
	c->crt = crt;
	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, digest, &dlen) < 0 ||
	    dlen != sizeof(digest) || gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem) < 0) {
		cm_err_set(err, "certificate: cannot export");
		cm_cert_free(c);
		return NULL;
	}
	cm_hex_encode(digest, dlen, c->fingerprint);
	c->pem = strndup((const char *)pem.data, pem.size);
	gnutls_free(pem.data);
	c->email = cert_email(crt);
	if (c->pem == NULL) {
		cm_err_set(err, "out of memory");
		cm_cert_free(c);
		return NULL;
	}
	return c;
}

static struct cm_cert *
cert_import(const void *data, size_t len, gnutls_x509_crt_fmt_t fmt, struct cm_err *err)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = {(unsigned char *)data, (unsigned int)len};
	int rc;

	if (data == NULL || len == 0 || len > CM_MAX_CERT_PEM) {
		cm_err_set(err, "certificate: empty or larger than %d bytes", CM_MAX_CERT_PEM);
		return NULL;
	}
	if (gnutls_x509_crt_init(&crt) < 0) {
		cm_err_set(err, "out of memory");
		return NULL;
	}
	if ((rc = gnutls_x509_crt_import(crt, &d, fmt)) < 0) {
		cm_err_set(err, "certificate: %s", gnutls_strerror(rc));
		gnutls_x509_crt_deinit(crt);
		return NULL;
	}
	return cert_finish(crt, err);
}

struct cm_cert *
cm_cert_from_pem(const char *pem, size_t len, struct cm_err *err)
{
	return cert_import(pem, len, GNUTLS_X509_FMT_PEM, err);
}

struct cm_cert *
cm_cert_from_der(const void *der, size_t len, struct cm_err *err)
{
	return cert_import(der, len, GNUTLS_X509_FMT_DER, err);
}

const char *
cm_cert_fingerprint(const struct cm_cert *c)
{
	return c->fingerprint;
}

const char *
cm_cert_email(const struct cm_cert *c)
{
	return c->email;
}

const char *
cm_cert_pem(const struct cm_cert *c)
{
	return c->pem;
}

int
cm_cert_verify_ca(const struct cm_cert *c, const char *ca_file, struct cm_err *err)
{
	gnutls_x509_trust_list_t tl;
	unsigned int status = 0;
	int rc = -1;

	if (gnutls_x509_trust_list_init(&tl, 0) < 0) {
		cm_err_set(err, "out of memory");
		return -1;
	}
	if (gnutls_x509_trust_list_add_trust_file(tl, ca_file, NULL, GNUTLS_X509_FMT_PEM, 0, 0) <=
	    0) {
		cm_err_set(err, "%s: no CA certificate could be read", ca_file);
		goto end;
	}
	if (gnutls_x509_trust_list_verify_crt2(tl, (gnutls_x509_crt_t *)&c->crt, 1, NULL, 0, 0,
					       &status, NULL) < 0 ||
	    status != 0) {
		gnutls_datum_t why = {NULL, 0};
		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0);
		cm_err_set(err, "certificate not trusted: %s", why.data ? (char *)why.data : "?");
		gnutls_free(why.data);
		goto end;
	}
	rc = 0;
end:
	gnutls_x509_trust_list_deinit(tl, 1);
	return rc;
}

int
cm_cert_verify_signature(const struct cm_cert *c, const void *data, size_t len,
			 const char *sig_b64, struct cm_err *err)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t sig = {NULL, 0}, msg = {(unsigned char *)data, (unsigned int)len};
	gnutls_sign_algorithm_t algo;
	unsigned char *raw;
	size_t raw_len;
	int rc = -1, pk;

	if (sig_b64 == NULL || strlen(sig_b64) == 0 || strlen(sig_b64) > CM_MAX_SIGNATURE_B64) {
		cm_err_set(err, "signature: empty or longer than %d bytes", CM_MAX_SIGNATURE_B64);
		return -1;
	}
	if (cm_base64_decode(sig_b64, strlen(sig_b64), &raw, &raw_len, NULL) != 0) {
		cm_err_set(err, "signature: not base64");
		return -1;
	}
	sig = (gnutls_datum_t){raw, (unsigned int)raw_len};
	pk = gnutls_x509_crt_get_pk_algorithm(c->crt, NULL);
	algo = gnutls_pk_to_sign((gnutls_pk_algorithm_t)pk, sign_digest((gnutls_pk_algorithm_t)pk));
	if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_x509(pub, c->crt, 0) < 0) {
		cm_err_set(err, "certificate: unusable public key");
		goto end;
	}
	if (algo == GNUTLS_SIGN_UNKNOWN || gnutls_pubkey_verify_data2(pub, algo, 0, &msg, &sig) < 0) {
		cm_err_set(err, "signature: does not verify");
		goto end;
	}
	rc = 0;
end:
	gnutls_pubkey_deinit(pub);
	free(raw);
	return rc;
}

void
cm_identity_free(struct cm_identity *id)
{
	if (id == NULL)
		return;
	gnutls_privkey_deinit(id->key);
	cm_cert_free(id->cert);
	free(id);
}

const struct cm_cert *
cm_identity_cert(const struct cm_identity *id)
{
	return id->cert;
}

const char *
cm_identity_email(const struct cm_identity *id)
{
	return id->cert->email;
}

/* Builds the self-signed certificate of a new identity. */
static int
self_sign(gnutls_x509_crt_t crt, gnutls_x509_privkey_t xkey, const char *email,
	  unsigned valid_days, struct cm_err *err)
{
	gnutls_digest_algorithm_t dig =
		sign_digest((gnutls_pk_algorithm_t)gnutls_x509_privkey_get_pk_algorithm(xkey));
	unsigned char serial[16];
	time_t now = time(NULL);
	int rc;

	gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive INTEGER */
	if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)valid_days * 86400)) <
		    0 ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, email,
						strlen(email))) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_RFC822NAME, email,
						       strlen(email), GNUTLS_FSAN_SET)) < 0 ||
	    (rc = gnutls_x509_crt_set_key(crt, xkey)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (rc = gnutls_x509_crt_sign2(crt, crt, xkey, dig, 0)) < 0) {
		cm_err_set(err, "certificate: %s", gnutls_strerror(rc));
		return -1;
	}
	return 0;
}

struct cm_identity *
cm_identity_generate(const char *email, unsigned valid_days, struct cm_err *err)
{
	return cm_identity_generate_as(email, valid_days, CM_KEY_P256, err);
}

struct cm_identity *
cm_identity_generate_as(const char *email, unsigned valid_days, enum cm_key_type type,
			struct cm_err *err)
{
	gnutls_pk_algorithm_t pk = type == CM_KEY_ED25519 ? GNUTLS_PK_EDDSA_ED25519 : GNUTLS_PK_ECDSA;
	gnutls_ecc_curve_t curve =
		type == CM_KEY_ED25519 ? GNUTLS_ECC_CURVE_ED25519 : GNUTLS_ECC_CURVE_SECP256R1;
	struct cm_identity *id = NULL;
	gnutls_x509_privkey_t xkey = NULL;
	gnutls_x509_crt_t crt = NULL;
	int rc;

	if (email == NULL || !cm_valid_email(email, strlen(email))) {
		cm_err_set(err, "email: not a valid email address");
		return NULL;
	}
	if ((id = calloc(1, sizeof(*id))) == NULL || gnutls_x509_privkey_init(&xkey) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0 || gnutls_privkey_init(&id->key) < 0) {
		cm_err_set(err, "out of memory");
		goto fail;
	}
	if ((rc = gnutls_x509_privkey_generate2(xkey, pk, GNUTLS_CURVE_TO_BITS(curve), 0, NULL,
						0)) < 0) {
		cm_err_set(err, "key generation: %s", gnutls_strerror(rc));
		goto fail;
	}
	if (self_sign(crt, xkey, email, valid_days, err) != 0)
		goto fail;
	/* cert_finish takes crt over, even when it fails. */
	id->cert = cert_finish(crt, err);
	crt = NULL;
	if (id->cert == NULL)
		goto fail;
	if (gnutls_privkey_import_x509(id->key, xkey, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
		cm_err_set(err, "key import failed");
		goto fail;
	}
	return id;
fail:
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(xkey);
	cm_identity_free(id);
	return NULL;
}

/* Reads a whole non-empty file of at most max bytes into a datum the caller frees with free(). */
static int
read_file(const char *path, size_t max, gnutls_datum_t *out, struct cm_err *err)
{
	char *buf;
	size_t len;

	if (cm_file_read(path, max, &buf, &len, err) != 0)
		return -1;
	if (len == 0) {
		free(buf);
		cm_err_set(err, "%s: empty", path);
		return -1;
	}
	*out = (gnutls_datum_t){(unsigned char *)buf, (unsigned int)len};
	return 0;
}

/* True when key is the private half of crt's public key. */
static bool
key_matches_cert(gnutls_privkey_t key, gnutls_x509_crt_t crt)
{
	unsigned char a[64], b[64];
	size_t alen = sizeof(a), blen = sizeof(b);
	gnutls_pubkey_t pub;
	bool same = false;

	if (gnutls_pubkey_init(&pub) < 0)
		return false;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
	    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &alen) == 0 &&
	    gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, b, &blen) == 0)
		same = alen == blen && memcmp(a, b, alen) == 0;
	gnutls_pubkey_deinit(pub);
	return same;
}

struct cm_identity *
cm_identity_load(const char *key_path, const char *cert_path, struct cm_err *err)
{
	struct cm_identity *id = calloc(1, sizeof(*id));
	gnutls_datum_t key = {NULL, 0}, cert = {NULL, 0};
	int rc;

	if (id == NULL || gnutls_privkey_init(&id->key) < 0) {
		cm_err_set(err, "out of memory");
		goto fail;
	}
	if (read_file(key_path, MAX_KEY_PEM, &key, err) != 0 ||
	    read_file(cert_path, CM_MAX_CERT_PEM, &cert, err) != 0)
		goto fail;
	if ((rc = gnutls_privkey_import_x509_raw(id->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) <
	    0) {
		cm_err_set(err, "%s: %s", key_path, gnutls_strerror(rc));
		goto fail;
	}
	if ((id->cert = cm_cert_from_pem((const char *)cert.data, cert.size, err)) == NULL)
		goto fail;
	if (!key_matches_cert(id->key, id->cert->crt)) {
		cm_err_set(err, "%s does not belong to %s", key_path, cert_path);
		goto fail;
	}
	free(key.data);
	free(cert.data);
	return id;
fail:
	if (key.data != NULL)
		explicit_bzero(key.data, key.size);
	free(key.data);
	free(cert.data);
	cm_identity_free(id);
	return NULL;
}

int
cm_identity_save(const struct cm_identity *id, const char *key_path, const char *cert_path,
		 struct cm_err *err)
{
	gnutls_x509_privkey_t xkey = NULL;
	gnutls_datum_t pem = {NULL, 0};
	int rc = -1;

	if (gnutls_privkey_export_x509(id->key, &xkey) < 0 ||
	    gnutls_x509_privkey_export2_pkcs8(xkey, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					      &pem) < 0) {
		cm_err_set(err, "cannot export the private key");
		goto end;
	}
	if (cm_file_write_atomic(key_path, pem.data, pem.size, 0600, err) != 0 ||
	    cm_file_write_atomic(cert_path, id->cert->pem, strlen(id->cert->pem), 0644, err) != 0)
		goto end;
	rc = 0;
end:
	if (pem.data != NULL) {
		explicit_bzero(pem.data, pem.size);
		gnutls_free(pem.data);
	}
	gnutls_x509_privkey_deinit(xkey);
	return rc;
}

int
cm_identity_sign(const struct cm_identity *id, const void *data, size_t len, char **sig_b64,
		 struct cm_err *err)
{
	gnutls_datum_t msg = {(unsigned char *)data, (unsigned int)len}, sig = {NULL, 0};
	int rc;

	*sig_b64 = NULL;
	if ((rc = gnutls_privkey_sign_data(
		     id->key,
		     sign_digest((gnutls_pk_algorithm_t)gnutls_privkey_get_pk_algorithm(id->key, NULL)),
		     0, &msg, &sig)) < 0) {
		cm_err_set(err, "sign: %s", gnutls_strerror(rc));
		return -1;
	}
	*sig_b64 = cm_base64_encode(sig.data, sig.size);
	gnutls_free(sig.data);
	if (*sig_b64 == NULL) {
		cm_err_set(err, "out of memory");
		return -1;
	}
	return 0;
}

int
cm_record_sign(const struct cm_peer_record *rec, const struct cm_identity *id,
	       struct cm_signed_record *out, struct cm_err *err)
{
	struct cm_signed_record tmp = {.record = *rec};
	json_t *j;

	memset(out, 0, sizeof(*out));
	if (rec->email == NULL || id->cert->email == NULL || strcmp(rec->email, id->cert->email)) {
		cm_err_set(err, "record email is not the identity's email");
		return -1;
	}
	/* Copy the record first so out owns everything, then add what signing makes. */
	tmp.public_certificate = id->cert->pem;
	if (cm_signed_record_copy(out, &tmp) != 0) {
		cm_err_set(err, "out of memory");
		return -1;
	}
	if ((j = cm_peer_record_encode(&out->record)) == NULL ||
	    (out->canonical = cm_json_canonical(j, err)) == NULL ||
	    cm_identity_sign(id, out->canonical, strlen(out->canonical), &out->signature, err) !=
		    0) {
		json_decref(j);
		cm_signed_record_clear(out);
		return -1;
	}
	json_decref(j);
	return 0;
}

int
cm_record_verify(const struct cm_signed_record *s, char *fingerprint_out, struct cm_err *err)
{
	struct cm_cert *c;
	char *canonical = s->canonical;
	json_t *j = NULL;
	int rc = -1;

	if (s->public_certificate == NULL ||
	    (c = cm_cert_from_pem(s->public_certificate, strlen(s->public_certificate), err)) ==
		    NULL)
		return -1;
	if (c->email == NULL || s->record.email == NULL || strcmp(c->email, s->record.email)) {
		cm_err_set(err, "record email is not the certificate's email");
		goto end;
	}
	/* A record built here and never encoded: sign over what it would be sent as. */
	if (canonical == NULL &&
	    ((j = cm_peer_record_encode(&s->record)) == NULL ||
	     (canonical = cm_json_canonical(j, err)) == NULL))
		goto end;
	if (cm_cert_verify_signature(c, canonical, strlen(canonical), s->signature, err) != 0)
		goto end;
	if (fingerprint_out != NULL)
		memcpy(fingerprint_out, c->fingerprint, CM_FINGERPRINT_LEN + 1);
	rc = 0;
end:
	if (canonical != s->canonical)
		free(canonical);
	json_decref(j);
	cm_cert_free(c);
	return rc;
}
