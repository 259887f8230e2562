/* check_identity.c - keys, certificates, fingerprints and signed records. */
#define _GNU_SOURCE /* nftw */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fb/codec.h"
#include "fb/identity.h"
#include "fb/timeutil.h"
#include "check_main.h"
#include "testutil.h"


static void
setup(void)
{
	tu_mkdir("check_identity");
}

static void
teardown(void)
{
	tu_rmdir();
}

/* Runs a shell command in tu_dir and returns its first output line (static buffer). */
static const char *
run(const char *fmt, const char *arg)
{
	static char out[512];
	char cmd[1024];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "cd %s && ", tu_dir);
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), fmt, arg);
	out[0] = '\0';
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	if (fgets(out, sizeof(out), p) == NULL)
		out[0] = '\0';
	pclose(p);
	out[strcspn(out, "\r\n")] = '\0';
	return out;
}

START_TEST(test_identity_generate_names_email_in_san_and_cn)
{
	struct cm_identity *id = tu_identity("alice@example.com");
	struct cm_err e;

	ck_assert_str_eq(cm_identity_email(id), "alice@example.com");
	ck_assert_int_eq(cm_identity_save(id, tu_path("a.key"), tu_path("a.crt"), &e), 0);
	ck_assert_str_eq(run("certtool -i --infile a.crt | grep -c 'RFC822Name: alice@example.com'",
			     NULL),
			 "1");
	ck_assert_str_eq(run("certtool -i --infile a.crt | grep -c 'Subject: CN=alice@example.com'", NULL),
			 "1");
	cm_identity_free(id);
}
END_TEST

START_TEST(test_identity_generate_rejects_invalid_email)
{
	struct cm_err e;

	ck_assert_ptr_null(cm_identity_generate("not an email", 30, &e));
	ck_assert_str_eq(e.msg, "email: not a valid email address");
}
END_TEST

START_TEST(test_identity_save_load_round_trip_key_mode_0600)
{
	struct cm_identity *id = tu_identity("bob@example.org"), *back;
	struct cm_err e;
	struct stat st;

	ck_assert_int_eq(cm_identity_save(id, tu_path("b.key"), tu_path("b.crt"), &e), 0);
	ck_assert_int_eq(stat(tu_path("b.key"), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	back = cm_identity_load(tu_path("b.key"), tu_path("b.crt"), &e);
	ck_assert_msg(back != NULL, "%s", e.msg);
	ck_assert_str_eq(cm_cert_fingerprint(cm_identity_cert(back)),
			 cm_cert_fingerprint(cm_identity_cert(id)));
	cm_identity_free(back);
	cm_identity_free(id);
}
END_TEST

START_TEST(test_identity_load_rejects_key_of_another_cert)
{
	struct cm_identity *a = tu_identity("a@example.com"), *b = tu_identity("b@example.com");
	struct cm_err e;

	cm_identity_save(a, tu_path("a.key"), tu_path("a.crt"), &e);
	cm_identity_save(b, tu_path("b.key"), tu_path("b.crt"), &e);
	ck_assert_ptr_null(cm_identity_load(tu_path("a.key"), tu_path("b.crt"), &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "does not belong to"));
	cm_identity_free(a);
	cm_identity_free(b);
}
END_TEST

START_TEST(test_cert_fingerprint_matches_certtool)
{
	struct cm_identity *id = tu_identity("fp@example.com");
	struct cm_err e;
	const char *fp = cm_cert_fingerprint(cm_identity_cert(id));

	cm_identity_save(id, tu_path("fp.key"), tu_path("fp.crt"), &e);
	ck_assert_uint_eq(strlen(fp), CM_FINGERPRINT_LEN);
	for (const char *p = fp; *p; p++)
		ck_assert((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
	ck_assert_str_eq(run("certtool --fingerprint --hash sha256 --infile fp.crt | tr A-F a-f",
			     NULL),
			 fp);
	cm_identity_free(id);
}
END_TEST

START_TEST(test_cert_from_der_and_pem_agree)
{
	struct cm_identity *id = tu_identity("der@example.com");
	struct cm_err e;
	struct cm_cert *c;
	unsigned char der[4096];
	size_t len;
	FILE *f;

	cm_identity_save(id, tu_path("d.key"), tu_path("d.crt"), &e);
	run("certtool --certificate-info --infile d.crt --outder --outfile d.der >/dev/null", NULL);
	ck_assert_ptr_nonnull(f = fopen(tu_path("d.der"), "rb"));
	len = fread(der, 1, sizeof(der), f);
	fclose(f);
	ck_assert_ptr_nonnull(c = cm_cert_from_der(der, len, &e));
	ck_assert_str_eq(cm_cert_fingerprint(c), cm_cert_fingerprint(cm_identity_cert(id)));
	ck_assert_str_eq(cm_cert_email(c), "der@example.com");
	cm_cert_free(c);
	cm_identity_free(id);
}
END_TEST

START_TEST(test_cert_from_pem_rejects_garbage_and_oversize)
{
	struct cm_err e;
	char *big = malloc(CM_MAX_CERT_PEM + 2);

	ck_assert_ptr_null(cm_cert_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n", 33, &e));
	memset(big, 'A', CM_MAX_CERT_PEM + 1);
	big[CM_MAX_CERT_PEM + 1] = '\0';
	ck_assert_ptr_null(cm_cert_from_pem(big, CM_MAX_CERT_PEM + 1, &e));
	ck_assert_str_eq(e.msg, "certificate: empty or larger than 16384 bytes");
	free(big);
}
END_TEST

/* Makes a certtool CA in tu_dir (ca.key, ca.crt) and a leaf for email signed by it. */
static void
make_ca_and_leaf(const char *email)
{
	run("printf 'cn = Test CA\\nca\\ncert_signing_key\\nexpiration_days = 30\\n' > ca.tmpl"
	    " && certtool --generate-privkey --key-type ecdsa --outfile ca.key 2>/dev/null"
	    " && certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl"
	    " --outfile ca.crt 2>/dev/null%s",
	    "");
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "printf 'cn = %s\\nemail = %s\\ntls_www_client\\nexpiration_days = 30\\n' > leaf.tmpl"
		 " && certtool --generate-privkey --key-type ecdsa --outfile leaf.key 2>/dev/null"
		 " && certtool --generate-certificate --load-privkey leaf.key --load-ca-privkey"
		 " ca.key --load-ca-certificate ca.crt --template leaf.tmpl --outfile leaf.crt"
		 " 2>/dev/null%%s",
		 email, email);
	run(cmd, "");
}

START_TEST(test_cert_verify_ca_accepts_issued_rejects_self_signed)
{
	struct cm_identity *self = tu_identity("self@example.com"), *leaf;
	struct cm_err e;

	make_ca_and_leaf("leaf@example.com");
	leaf = cm_identity_load(tu_path("leaf.key"), tu_path("leaf.crt"), &e);
	ck_assert_msg(leaf != NULL, "%s", e.msg);
	ck_assert_str_eq(cm_identity_email(leaf), "leaf@example.com");
	ck_assert_msg(cm_cert_verify_ca(cm_identity_cert(leaf), tu_path("ca.crt"), &e) == 0, "%s",
		      e.msg);
	ck_assert_int_eq(cm_cert_verify_ca(cm_identity_cert(self), tu_path("ca.crt"), &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "not trusted"));
	cm_identity_free(self);
	cm_identity_free(leaf);
}
END_TEST

START_TEST(test_cert_email_from_cn_only_certificate)
{
	struct cm_cert *c;
	struct cm_err e;
	char pem[8192];
	size_t len;
	FILE *f;

	run("printf 'cn = cn-only@example.com\\nexpiration_days = 30\\n' > cn.tmpl"
	    " && certtool --generate-privkey --outfile cn.key 2>/dev/null"
	    " && certtool --generate-self-signed --load-privkey cn.key --template cn.tmpl"
	    " --outfile cn.crt 2>/dev/null%s",
	    "");
	ck_assert_ptr_nonnull(f = fopen(tu_path("cn.crt"), "r"));
	len = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	ck_assert_ptr_nonnull(c = cm_cert_from_pem(pem, len, &e));
	ck_assert_str_eq(cm_cert_email(c), "cn-only@example.com");
	cm_cert_free(c);
}
END_TEST

START_TEST(test_cert_verify_signature_good_and_tampered)
{
	struct cm_identity *id = tu_identity("sig@example.com"), *other = tu_identity("o@x.io");
	const char msg[] = "the bytes that were signed";
	char *sig, *other_sig, tampered[sizeof(msg)];
	struct cm_err e;

	ck_assert_int_eq(cm_identity_sign(id, msg, strlen(msg), &sig, &e), 0);
	ck_assert_int_eq(cm_cert_verify_signature(cm_identity_cert(id), msg, strlen(msg), sig, &e),
			 0);
	/* Every single changed byte of the data must fail. */
	for (size_t i = 0; i < strlen(msg); i++) {
		memcpy(tampered, msg, sizeof(msg));
		tampered[i] ^= 0x01;
		ck_assert_int_eq(cm_cert_verify_signature(cm_identity_cert(id), tampered,
							  strlen(msg), sig, &e),
				 -1);
	}
	ck_assert_int_eq(cm_identity_sign(other, msg, strlen(msg), &other_sig, &e), 0);
	ck_assert_int_eq(cm_cert_verify_signature(cm_identity_cert(id), msg, strlen(msg), other_sig,
						  &e),
			 -1);
	ck_assert_int_eq(cm_cert_verify_signature(cm_identity_cert(id), msg, strlen(msg),
						  "***not base64***", &e),
			 -1);
	free(sig);
	free(other_sig);
	cm_identity_free(id);
	cm_identity_free(other);
}
END_TEST

static void
fill_record(struct cm_peer_record *r, const char *email)
{
	memset(r, 0, sizeof(*r));
	r->email = strdup(email);
	r->peer_id = strdup("0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f");
	r->seq = 7;
	r->issued_at_ms = cm_time_wall_ms();
	r->is_broadcasting = true;
	r->port = 7443;
	cm_strlist_append(&r->socket_addresses, "192.0.2.4");
	cm_repolist_append(&r->repositories, "photos", NULL);
	r->capabilities = (struct cm_capabilities){8, false, 100};
}

START_TEST(test_record_sign_verify_and_pin_fingerprint)
{
	struct cm_identity *id = tu_identity("rec@example.com");
	struct cm_signed_record s;
	struct cm_peer_record r;
	char fp[CM_FINGERPRINT_LEN + 1];
	struct cm_err e;

	fill_record(&r, "rec@example.com");
	ck_assert_msg(cm_record_sign(&r, id, &s, &e) == 0, "%s", e.msg);
	ck_assert_msg(cm_record_verify(&s, fp, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(fp, cm_cert_fingerprint(cm_identity_cert(id)));
	cm_signed_record_clear(&s);
	cm_peer_record_clear(&r);
	cm_identity_free(id);
}
END_TEST

START_TEST(test_record_verify_fails_on_tampered_record)
{
	struct cm_identity *id = tu_identity("rec@example.com");
	struct cm_signed_record s, decoded;
	struct cm_peer_record r;
	struct cm_err e;
	json_t *j;

	fill_record(&r, "rec@example.com");
	ck_assert_int_eq(cm_record_sign(&r, id, &s, &e), 0);
	/* On the wire: raise seq after signing; the receiver's canonical text differs. */
	j = cm_signed_record_encode(&s);
	json_object_set_new(json_object_get(j, "record"), "seq", json_integer(8));
	ck_assert_int_eq(cm_signed_record_decode(j, &decoded, &e), 0);
	ck_assert_int_eq(cm_record_verify(&decoded, NULL, &e), -1);
	ck_assert_str_eq(e.msg, "signature: does not verify");
	cm_signed_record_clear(&decoded);
	json_decref(j);
	cm_signed_record_clear(&s);
	cm_peer_record_clear(&r);
	cm_identity_free(id);
}
END_TEST

START_TEST(test_record_sign_and_verify_refuse_other_email)
{
	struct cm_identity *id = tu_identity("rec@example.com"), *mallory;
	struct cm_signed_record s;
	struct cm_peer_record r;
	struct cm_err e;

	fill_record(&r, "someone-else@example.com");
	ck_assert_int_eq(cm_record_sign(&r, id, &s, &e), -1);
	/* A record signed by its owner but carrying another's certificate is refused too. */
	cm_peer_record_clear(&r);
	fill_record(&r, "rec@example.com");
	ck_assert_int_eq(cm_record_sign(&r, id, &s, &e), 0);
	mallory = tu_identity("mallory@example.com");
	free(s.public_certificate);
	s.public_certificate = strdup(cm_cert_pem(cm_identity_cert(mallory)));
	ck_assert_int_eq(cm_record_verify(&s, NULL, &e), -1);
	ck_assert_str_eq(e.msg, "record email is not the certificate's email");
	cm_signed_record_clear(&s);
	cm_peer_record_clear(&r);
	cm_identity_free(id);
	cm_identity_free(mallory);
}
END_TEST

/* Signs the same record text with a key of each type; _i: the key type. */
FB_LOOP_TEST(test_record_sign_verify_each_key_type, CM_KEY_P256, CM_KEY_ED25519 + 1)
{
	struct cm_err e;
	struct cm_identity *id = cm_identity_generate_as("rec@example.com", 30,
							 (enum cm_key_type)_i, &e);
	struct cm_signed_record s;
	struct cm_peer_record r;
	char fp[CM_FINGERPRINT_LEN + 1], key[256], crt[256];

	ck_assert_msg(id != NULL, "%s", e.msg);
	fill_record(&r, "rec@example.com");
	ck_assert_msg(cm_record_sign(&r, id, &s, &e) == 0, "%s", e.msg);
	ck_assert_msg(cm_record_verify(&s, fp, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(fp, cm_cert_fingerprint(cm_identity_cert(id)));
	/* The key and certificate survive a save and a load, and still sign. */
	snprintf(key, sizeof(key), "%s/k", tu_dir);
	snprintf(crt, sizeof(crt), "%s/c", tu_dir);
	ck_assert_int_eq(cm_identity_save(id, key, crt, &e), 0);
	cm_identity_free(id);
	ck_assert_ptr_nonnull(id = cm_identity_load(key, crt, &e));
	cm_signed_record_clear(&s);
	ck_assert_int_eq(cm_record_sign(&r, id, &s, &e), 0);
	ck_assert_int_eq(cm_record_verify(&s, NULL, &e), 0);
	cm_signed_record_clear(&s);
	cm_peer_record_clear(&r);
	cm_identity_free(id);
}
END_TEST

START_TEST(test_signature_of_the_other_key_type_is_refused)
{
	struct cm_err e;
	struct cm_identity *ec = cm_identity_generate_as("rec@example.com", 30, CM_KEY_P256, &e),
			   *ed = cm_identity_generate_as("rec@example.com", 30, CM_KEY_ED25519, &e);
	const char msg[] = "the bytes that were signed";
	char *ec_sig, *ed_sig;

	ck_assert_int_eq(cm_identity_sign(ec, msg, strlen(msg), &ec_sig, &e), 0);
	ck_assert_int_eq(cm_identity_sign(ed, msg, strlen(msg), &ed_sig, &e), 0);
	/* Same email, other key and algorithm: each refuses the other's signature. */
	ck_assert_int_eq(cm_cert_verify_signature(cm_identity_cert(ec), msg, strlen(msg), ed_sig, &e),
			 -1);
	ck_assert_int_eq(cm_cert_verify_signature(cm_identity_cert(ed), msg, strlen(msg), ec_sig, &e),
			 -1);
	ck_assert_int_eq(cm_cert_verify_signature(cm_identity_cert(ed), msg, strlen(msg), ed_sig, &e),
			 0);
	/* A tampered Ed25519 message fails as an ECDSA one does. */
	ck_assert_int_eq(cm_cert_verify_signature(cm_identity_cert(ed), msg, strlen(msg) - 1, ed_sig,
						  &e),
			 -1);
	free(ec_sig);
	free(ed_sig);
	cm_identity_free(ec);
	cm_identity_free(ed);
}
END_TEST


FB_CHECK_MAIN(.name = "identity", .setup = setup, .teardown = teardown, .timeout_s = 30)
