/*
 * engine_records.c - the records the engine handles: the checks a received
 * record goes through, our own signed record and its announcement, and the
 * envelope ids already seen. Pure: no sockets, no clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/digest.h"
#include "fb/hash.h"
#include "fb/hex.h"
#include "core/engine_internal.h"

/* Seen ids */

/* The 128 bits of a UUID's hex digits (the codec checked its form); never {0, 0}. */
static void
uuid_key(const char *s, uint64_t key[2])
{
	char digits[32];
	unsigned char raw[16];
	size_t n = 0;

	for (; *s != '\0' && n < sizeof(digits); s++)
		if (*s != '-')
			digits[n++] = *s;
	key[0] = key[1] = 0;
	if (cm_hex_decode(digits, n, raw, sizeof(raw), NULL) == 0)
		for (int i = 0; i < 8; i++) {
			key[0] = key[0] << 8 | raw[i];
			key[1] = key[1] << 8 | raw[8 + i];
		}
	if (key[0] == 0 && key[1] == 0)
		key[1] = 1;
}

/* Keyed, since ids come from the network: nobody can send ids that share a probe chain. */
static size_t
idset_slot(const struct idset *s, const struct cm_hash_key *hk, const uint64_t key[2])
{
	size_t i = (size_t)(cm_siphash(hk, key, 2 * sizeof(*key)) & (s->cap - 1));

	while ((s->keys[i][0] != 0 || s->keys[i][1] != 0) &&
	       (s->keys[i][0] != key[0] || s->keys[i][1] != key[1]))
		i = (i + 1) & (s->cap - 1);
	return i;
}

static bool
idset_has(const struct idset *s, const struct cm_hash_key *hk, const uint64_t key[2])
{
	size_t i;

	if (s->cap == 0)
		return false;
	i = idset_slot(s, hk, key);
	return s->keys[i][0] != 0 || s->keys[i][1] != 0;
}

static int
idset_add(struct idset *s, const struct cm_hash_key *hk, const uint64_t key[2])
{
	size_t i;

	if ((s->len + 1) * 2 > s->cap) {
		struct idset bigger = {.cap = s->cap == 0 ? 64 : s->cap * 2};

		if ((bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys))) == NULL)
			return -1;
		for (size_t j = 0; j < s->cap; j++) {
			if (s->keys[j][0] != 0 || s->keys[j][1] != 0) {
				i = idset_slot(&bigger, hk, s->keys[j]);
				bigger.keys[i][0] = s->keys[j][0];
				bigger.keys[i][1] = s->keys[j][1];
				bigger.len++;
			}
		}
		free(s->keys);
		*s = bigger;
	}
	i = idset_slot(s, hk, key);
	if (s->keys[i][0] == 0 && s->keys[i][1] == 0) {
		s->keys[i][0] = key[0];
		s->keys[i][1] = key[1];
		s->len++;
	}
	return 0;
}

static void
idset_free(struct idset *s)
{
	free(s->keys);
	memset(s, 0, sizeof(*s));
}

/*
 * The key of id with an announced record's email and seq mixed in (keyed,
 * so nobody can aim another record at a genuine key); never {0, 0}.
 * email NULL: a frame that announces nothing.
 */
static void
seen_key(const struct engine *e, const char *id, const char *email, int64_t seq, uint64_t key[2])
{
	uuid_key(id, key);
	if (email != NULL) {
		size_t n = strnlen(email, CM_MAX_EMAIL);
		unsigned char buf[CM_MAX_EMAIL + 1 + 8];

		memcpy(buf, email, n);
		buf[n] = '\0';
		for (int i = 0; i < 8; i++)
			buf[n + 1 + (size_t)i] = (unsigned char)((uint64_t)seq >> (8 * i));
		key[0] ^= cm_siphash(&e->hash_key, buf, n + 1 + 8);
		if (key[0] == 0 && key[1] == 0)
			key[1] = 1;
	}
}

bool
eng_seen_has(const struct engine *e, const char *id, const char *email, int64_t seq)
{
	uint64_t key[2];

	seen_key(e, id, email, seq, key);
	return idset_has(&e->seen_cur, &e->hash_key, key) ||
	       idset_has(&e->seen_prev, &e->hash_key, key);
}

void
eng_seen_rotate_if_due(struct engine *e, int64_t now_ms)
{
	if (e->seen_cur.len * 2 < e->cfg.seen_max &&
	    now_ms - e->seen_started_ms < e->cfg.seen_max_age_ms / 2)
		return;
	idset_free(&e->seen_prev);
	e->seen_prev = e->seen_cur;
	memset(&e->seen_cur, 0, sizeof(e->seen_cur));
	e->seen_started_ms = now_ms;
}

void
eng_seen_add(struct engine *e, const char *id, const struct cm_signed_record *rec,
	     int64_t now_ms)
{
	uint64_t key[2];

	eng_seen_rotate_if_due(e, now_ms);
	seen_key(e, id, rec->record.email, rec->record.seq, key);
	idset_add(&e->seen_cur, &e->hash_key, key);
}

void
eng_seen_free(struct engine *e)
{
	idset_free(&e->seen_cur);
	idset_free(&e->seen_prev);
}

/* Verification */

/*
 * Checks a signed record and gives its certificate fingerprint. Without
 * signature checks (the simulator at scale) the fingerprint is the SHA-256
 * of the PEM text, still one per certificate.
 */
int
eng_verify_record(const struct engine *e, const struct cm_signed_record *rec,
		  char fp[CM_FINGERPRINT_LEN + 1])
{
	struct cm_err err;

	if (e->cfg.verify_signatures)
		return cm_record_verify(rec, fp, &err);
	if (rec->public_certificate == NULL)
		return -1;
	return cm_sha256_hex(rec->public_certificate, strlen(rec->public_certificate), fp);
}

int
engine_record_fingerprint(const struct engine *e, const struct cm_signed_record *rec,
			  char fp[CM_FINGERPRINT_LEN + 1])
{
	return eng_verify_record(e, rec, fp);
}

/*
 * The checks every received record goes through before it may touch the
 * table: cheap ones first, so a known record costs no signature check.
 * verified_fp, when not NULL, is the fingerprint of a signature already
 * checked (a hello's). Returns ENGINE_ACCEPTED with fp filled, or the
 * verdict that drops it.
 */
enum engine_verdict
eng_check_record(struct engine *e, const struct cm_signed_record *rec, int64_t now_ms,
		 const char *verified_fp, char fp[CM_FINGERPRINT_LEN + 1])
{
	const struct cm_peer_record *r = &rec->record;
	const struct peertable_entry *held;
	const char *pinned;

	if (r->issued_at_ms > now_ms + e->cfg.max_future_ms)
		return ENGINE_DROP_FUTURE;
	if (now_ms - r->issued_at_ms > e->cfg.expire_ms)
		return ENGINE_DROP_EXPIRED;
	/*
	 * Its signed text would carry the addresses (or the port a seeder or
	 * a relay listens on) wherever it is re-sent (forwards, answers,
	 * peers.json): refused whole, never stripped.
	 */
	if (!r->is_broadcasting &&
	    (r->socket_addresses.len > 0 || r->torrent_port != 0 || r->relay_port != 0))
		return ENGINE_DROP_RECORD_INVALID;
	if (e->has_self && strcmp(r->email, e->self.record.email) == 0)
		return ENGINE_DROP_OLD;
	held = peertable_get(e->table, r->email);
	if (held != NULL && r->seq <= held->rec.record.seq)
		return ENGINE_DROP_OLD;
	if (verified_fp != NULL)
		memcpy(fp, verified_fp, CM_FINGERPRINT_LEN + 1);
	else if (eng_verify_record(e, rec, fp) != 0)
		return ENGINE_DROP_SIGNATURE;
	pinned = peertable_pinned(e->table, r->email);
	if (pinned != NULL && strcmp(pinned, fp) != 0)
		return ENGINE_DROP_PIN;
	return ENGINE_ACCEPTED;
}

/*
 * Applies a checked record; hello: the neighbour whose hello it is, or NULL;
 * wanted: it answers our discovery and hosts what we asked for
 * (peertable_apply_answer).
 */
enum engine_verdict
eng_apply_record(struct engine *e, const struct cm_signed_record *rec, const char *fp,
		 const struct nb *hello, bool wanted, int64_t now_ms)
{
	enum peertable_result r =
		hello != NULL ? peertable_apply_hello(e->table, rec, fp, !hello->inbound, now_ms)
		: wanted      ? peertable_apply_answer(e->table, rec, fp, now_ms)
			      : peertable_apply(e->table, rec, fp, now_ms);

	switch (r) {
	case PEERTABLE_INSERTED:
	case PEERTABLE_REPLACED:
		e->stats.records_applied++;
		return ENGINE_ACCEPTED;
	case PEERTABLE_FULL:
		/* No room here, but the record is valid: others may keep it. */
		return ENGINE_ACCEPTED;
	case PEERTABLE_OLD:
	case PEERTABLE_SELF:
		return ENGINE_DROP_OLD;
	case PEERTABLE_EXPIRED:
		return ENGINE_DROP_EXPIRED;
	case PEERTABLE_PIN_MISMATCH:
		return ENGINE_DROP_PIN;
	case PEERTABLE_INVALID:
		e->stats.stripped_addresses++;
		return ENGINE_DROP_INVALID;
	case PEERTABLE_ERROR:
		break;
	}
	return ENGINE_DROP_LIMIT;
}

/* Our own record */

const struct cm_signed_record *
engine_self(const struct engine *e)
{
	return e->has_self ? &e->self : NULL;
}

/* Our certificates' PEM and signatures' base64 lengths (ECDSA P-256, see identity.c). */
#define SIM_CERT_PEM_LEN 583
#define SIM_SIGNATURE_LEN 96
#define SIM_FILLER "MIIBkTCCATegAwIBAgIUXk2sZ1+e3tLGj0n9kq3bYb0v7hAwCgYIKoZIzj0EAwIw"

/*
 * Signs rec as ours. Without an identity (the simulator with checks off) the
 * record carries a placeholder certificate naming the email (as long as a
 * real one) and no real signature; eng_verify_record then only fingerprints it.
 */
static int
sign_self(struct engine *e, const struct cm_peer_record *rec, struct cm_signed_record *out)
{
	struct cm_err err;
	json_t *j;
	char pem[CM_MAX_EMAIL + 1024], sig[SIM_SIGNATURE_LEN + 1];
	int n;

	if (e->id != NULL)
		return cm_record_sign(rec, e->id, out, &err);
	memset(out, 0, sizeof(*out));
	/* As long as our real ones, so the simulator counts real bytes. */
	n = snprintf(pem, sizeof(pem), "-----BEGIN CERTIFICATE-----\n%s\n", rec->email);
	while (n > 0 && (size_t)n + 26 + 2 < SIM_CERT_PEM_LEN && (size_t)n + 65 < sizeof(pem)) {
		int line = (int)(SIM_CERT_PEM_LEN - 26 - 1 - (size_t)n);

		n += snprintf(pem + n, sizeof(pem) - (size_t)n, "%.*s\n", line < 64 ? line : 64,
			      SIM_FILLER);
	}
	snprintf(pem + n, sizeof(pem) - (size_t)n, "-----END CERTIFICATE-----\n");
	memset(sig, 'A', SIM_SIGNATURE_LEN);
	sig[SIM_SIGNATURE_LEN] = '\0';
	j = cm_peer_record_encode(rec);
	if (j == NULL)
		return -1;
	out->canonical = cm_json_canonical(j, &err);
	json_decref(j);
	out->public_certificate = strdup(pem);
	out->signature = strdup(sig);
	if (out->canonical == NULL || out->public_certificate == NULL || out->signature == NULL ||
	    cm_peer_record_copy(&out->record, rec) != 0) {
		cm_signed_record_clear(out);
		return -1;
	}
	return 0;
}

/*
 * Re-signs our record with seq + 1 (at least now_ms, so it grows across
 * restarts). A record over CM_MAX_SIGNED_RECORD (many torrents and
 * repositories) is refused here: every receiver would refuse it.
 */
int
eng_resign_self(struct engine *e, const struct cm_peer_record *tmpl, int64_t now_ms)
{
	struct cm_peer_record rec;
	struct cm_signed_record signed_rec;
	int64_t seq = e->has_self ? e->self.record.seq + 1 : 0;
	size_t len = 0;
	char *text;

	if (cm_peer_record_copy(&rec, tmpl) != 0)
		return -1;
	if (seq < now_ms)
		seq = now_ms;
	rec.seq = seq;
	rec.issued_at_ms = now_ms;
	if (!rec.is_broadcasting) {
		cm_strlist_clear(&rec.socket_addresses);
		rec.port = 0;
		rec.torrent_port = 0;
		rec.relay_port = 0;
	}
	if (sign_self(e, &rec, &signed_rec) != 0) {
		cm_peer_record_clear(&rec);
		return -1;
	}
	cm_peer_record_clear(&rec);
	text = cm_json_dump_take(cm_signed_record_encode(&signed_rec), &len);
	if (text == NULL || len > CM_MAX_SIGNED_RECORD ||
	    eng_verify_record(e, &signed_rec, e->self_fp) != 0) {
		free(text);
		cm_signed_record_clear(&signed_rec);
		return -1;
	}
	cm_signed_record_clear(&e->self);
	e->self = signed_rec;
	e->has_self = true;
	free(e->self_text);
	e->self_text = text;
	return 0;
}

/*
 * Our announcement to every authenticated neighbour (or only to one: to != 0).
 * A refresh (with_cert false) leaves the certificate out: receivers verify it
 * with the one they hold, which more than halves the standing cost.
 */
int
eng_announce_self(struct engine *e, uint64_t to, bool with_cert, int64_t now_ms,
		  struct engine_rng *rng, struct engine_actions *out)
{
	struct cm_envelope env;
	char id[CM_UUID_TEXT_LEN + 1];
	char *frame;
	size_t len;

	eng_envelope_init(e, &env, CM_MSG_PEER_ANNOUNCEMENT, e->cfg.ttl, now_ms, rng, id);
	env.payload.announcement.origin = e->self;
	if (with_cert && e->self_text != NULL) {
		/* Our record is written out once, not for every hello. */
		frame = cm_announcement_text(&env, e->self_text, &len);
	} else {
		if (!with_cert)
			env.payload.announcement.origin.public_certificate = NULL;
		frame = eng_encode_frame(&env, &len);
	}
	if (frame == NULL)
		return -1;
	eng_seen_add(e, id, &e->self, now_ms);
	if (to != 0) {
		eng_queue_send(e, out, to, frame, len);
	} else {
		for (size_t i = 0; i < e->nnbs; i++)
			if (e->nbs[i].authed)
				eng_queue_send(e, out, e->nbs[i].id, frame, len);
	}
	free(frame);
	return 0;
}

int
engine_set_self(struct engine *e, const struct cm_peer_record *tmpl, int64_t now_ms,
		struct engine_rng *rng, struct engine_actions *out)
{
	char fp[CM_FINGERPRINT_LEN + 1];

	if (tmpl->email == NULL ||
	    (e->id != NULL && strcmp(tmpl->email, cm_identity_email(e->id)) != 0))
		return -1;
	if (eng_resign_self(e, tmpl, now_ms) != 0)
		return -1;
	/* Our position among repository keys: our certificate's (the simulator's placeholder's). */
	if (e->id != NULL)
		peertable_set_self_fingerprint(e->table, cm_cert_fingerprint(cm_identity_cert(e->id)));
	else if (eng_verify_record(e, &e->self, fp) == 0)
		peertable_set_self_fingerprint(e->table, fp);
	e->next_reannounce_ms = e->cfg.reannounce_ms > 0 ? now_ms + e->cfg.reannounce_ms : INT64_MAX;
	return eng_announce_self(e, 0, true, now_ms, rng, out);
}

int
engine_leave(struct engine *e, int64_t now_ms, struct engine_rng *rng, struct engine_actions *out)
{
	struct cm_peer_record tmpl;
	int rc;

	if (!e->has_self || cm_peer_record_copy(&tmpl, &e->self.record) != 0)
		return -1;
	tmpl.leaving = true;
	rc = eng_resign_self(e, &tmpl, now_ms);
	cm_peer_record_clear(&tmpl);
	return rc == 0 ? eng_announce_self(e, 0, true, now_ms, rng, out) : -1;
}
