/*
 * identity.h - keys, certificates and signatures (GnuTLS).
 *
 * An identity is an ECDSA P-256 key (or an Ed25519 one: cm_identity_generate_as)
 * and a certificate whose CN and rfc822Name SAN are the owner's email. A
 * fingerprint is the SHA-256 of the certificate's DER in lower-case hex.
 * Signatures are over raw bytes (the canonical JSON of a record) with the
 * certificate's key, base64 encoded: ECDSA with SHA-256, or Ed25519 (PureEdDSA).
 */
#ifndef FB_IDENTITY_H
#define FB_IDENTITY_H

#include <stddef.h>

#include "fb/err.h"
#include "fb/types.h"

struct cm_identity; /* private key + certificate */
struct cm_cert;     /* a parsed X.509 certificate */

/*
 * New key and self-signed certificate for email, valid from now - 1 h for
 * valid_days. NULL with err set on failure.
 */
struct cm_identity *cm_identity_generate(const char *email, unsigned valid_days,
					 struct cm_err *err);
enum cm_key_type { CM_KEY_P256, CM_KEY_ED25519 };
/* The same with a key of type (cm_identity_generate: CM_KEY_P256). */
struct cm_identity *cm_identity_generate_as(const char *email, unsigned valid_days,
					    enum cm_key_type type, struct cm_err *err);

/* Loads a PEM private key and a PEM certificate; checks that they belong together. */
struct cm_identity *cm_identity_load(const char *key_path, const char *cert_path,
				     struct cm_err *err);

/* Writes the key (mode 0600) and certificate (0644) as PEM. Returns 0 or -1. */
int cm_identity_save(const struct cm_identity *id, const char *key_path, const char *cert_path,
		     struct cm_err *err);

void cm_identity_free(struct cm_identity *id);

/* Borrowed views, valid while id lives. */
const struct cm_cert *cm_identity_cert(const struct cm_identity *id);
const char *cm_identity_email(const struct cm_identity *id);

/* Signs len bytes. *sig_b64 is a new string the caller frees. Returns 0 or -1. */
int cm_identity_sign(const struct cm_identity *id, const void *data, size_t len, char **sig_b64,
		     struct cm_err *err);

/* Parse a certificate; NULL with err set on failure. PEM input is capped at CM_MAX_CERT_PEM. */
struct cm_cert *cm_cert_from_pem(const char *pem, size_t len, struct cm_err *err);
struct cm_cert *cm_cert_from_der(const void *der, size_t len, struct cm_err *err);
void cm_cert_free(struct cm_cert *c);

/* Lower-case hex SHA-256 of the DER, valid while c lives. */
const char *cm_cert_fingerprint(const struct cm_cert *c);

/* The rfc822Name SAN, else the CN; NULL when neither is a valid email. Valid while c lives. */
const char *cm_cert_email(const struct cm_cert *c);

/* The certificate as PEM, valid while c lives. */
const char *cm_cert_pem(const struct cm_cert *c);

/* 0 when c chains to a CA in ca_file (PEM) and is within its validity; -1 with err set. */
int cm_cert_verify_ca(const struct cm_cert *c, const char *ca_file, struct cm_err *err);

/* 0 when sig_b64 is c's key's signature over the len bytes; -1 with err set. */
int cm_cert_verify_signature(const struct cm_cert *c, const void *data, size_t len,
			     const char *sig_b64, struct cm_err *err);

/*
 * Signs rec as id: fills out with a copy of rec, id's certificate, the
 * canonical JSON of the record and its signature. rec->email must be id's
 * email. Returns 0 or -1 (out left cleared).
 */
int cm_record_sign(const struct cm_peer_record *rec, const struct cm_identity *id,
		   struct cm_signed_record *out, struct cm_err *err);

/*
 * Checks a signed record: the certificate parses, its email is the record's
 * email, and the signature covers the record's canonical JSON. When
 * fingerprint_out is non-NULL it receives the certificate fingerprint
 * (CM_FINGERPRINT_LEN + 1 bytes) so the caller can pin it. Returns 0 or -1.
 */
int cm_record_verify(const struct cm_signed_record *s, char *fingerprint_out,
		     struct cm_err *err);

#endif
