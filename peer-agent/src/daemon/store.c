/*
 * store.c - the peer table on disk (DIR/peers.json): atomic save, checked load.
 *
 * {"version":1,"saved_at":T,"peers":[{"signed":SignedRecord,"fingerprint":F,
 * "discovered_at":T,"last_seen":T}...],"pins":[{"email":E,"fingerprint":F,
 * "verified":B}...]}, times in RFC 3339 with milliseconds. The pins are saved
 * apart from the entries: an evicted peer's pin must outlive a restart.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/store.h"
#include "fb/codec.h"
#include "fb/identity.h"
#include "fb/log.h"
#include "fb/file.h"
#include "fb/timeutil.h"

/* One peers[] item, the entry borrowed (not copied) for the encoder; NULL on failure. */
static json_t *
entry_json(const struct peertable_entry *e)
{
	struct cm_store_entry se = {.rec = e->rec,
				    .fingerprint = (char *)e->fingerprint,
				    .discovered_at_ms = e->discovered_at_ms,
				    .last_seen_ms = e->last_seen_ms};

	return cm_store_entry_encode(&se);
}

/*
 * An upper bound of an entry's bytes in the file: the signed text twice (as an
 * object and escaped), the certificate escaped, the rest. Lets the document
 * stop growing once it would pass the cap, instead of being built whole first.
 */
static size_t
entry_file_bytes(const struct peertable_entry *e)
{
	const struct cm_signed_record *r = &e->rec;
	size_t n = 512;

	n += r->canonical != NULL ? 2 * strlen(r->canonical) : 0;
	n += r->public_certificate != NULL ? 2 * strlen(r->public_certificate) : 0;
	n += r->signature != NULL ? strlen(r->signature) : 0;
	return n;
}

#define PIN_FILE_BYTES (CM_MAX_EMAIL + CM_FINGERPRINT_LEN + 64)

/* The pins[] array; NULL on failure. Pins come first in the byte budget: they are small. */
static json_t *
pins_json(const struct peertable *t, size_t *budget)
{
	json_t *pins = json_array();
	struct cm_store_pin sp;
	const char *email, *fingerprint;
	size_t cursor = 0;

	while (pins != NULL && peertable_next_pin(t, &cursor, &email, &fingerprint, &sp.verified)) {
		sp.email = (char *)email;
		sp.fingerprint = (char *)fingerprint;
		if (*budget < PIN_FILE_BYTES || json_array_append_new(pins, cm_store_pin_encode(&sp)) != 0) {
			json_decref(pins);
			return NULL;
		}
		*budget -= PIN_FILE_BYTES;
	}
	return pins;
}

static json_t *
store_document(const struct peertable *t, int64_t now_ms, size_t max_bytes, size_t *left_out)
{
	struct cm_peer_store doc = {.version = CM_PEER_STORE_VERSION,
				    .saved_at_ms = now_ms,
				    .peers = json_array(),
				    .has_pins = true};
	const struct peertable_entry *e;
	size_t cursor = 0, budget = max_bytes > 1024 ? max_bytes - 1024 : 0;
	bool ok = doc.peers != NULL && (doc.pins = pins_json(t, &budget)) != NULL;
	json_t *j = NULL;

	*left_out = 0;
	while (ok && (e = peertable_next(t, &cursor)) != NULL) {
		size_t need = entry_file_bytes(e);

		if (need > budget) {
			(*left_out)++;
			continue;
		}
		budget -= need;
		ok = json_array_append_new(doc.peers, entry_json(e)) == 0;
	}
	if (ok)
		j = cm_peer_store_encode(&doc);
	json_decref(doc.peers);
	json_decref(doc.pins);
	return j;
}

int
pa_store_save(const char *path, const struct peertable *t, int64_t now_ms)
{
	return pa_store_save_max(path, t, now_ms, PA_STORE_MAX_BYTES);
}

int
pa_store_save_max(const char *path, const struct peertable *t, int64_t now_ms, size_t max_bytes)
{
	struct cm_err err;
	json_t *doc = NULL;
	char *text = NULL;
	size_t len, left_out;
	int rc = -1;

	if ((doc = store_document(t, now_ms, max_bytes, &left_out)) == NULL ||
	    (text = cm_json_dump(doc)) == NULL) {
		log_warnx("%s: %s: cannot encode the peer table", __func__, path);
		goto end;
	}
	if (left_out > 0)
		log_warnx("%s: %s: %zu entries left out: the file would pass %zu bytes", __func__,
			  path, left_out, max_bytes);
	/* Never write what pa_store_load would refuse to read back. */
	if ((len = strlen(text)) > max_bytes) {
		log_warnx("%s: %s: %zu bytes, over the limit of %zu", __func__, path, len,
			  max_bytes);
		goto end;
	}
	if (cm_file_write_atomic(path, text, len, 0600, &err) != 0) {
		log_warnx("%s: %s", __func__, err.msg);
		goto end;
	}
	rc = 0;
end:
	free(text);
	json_decref(doc);
	return rc;
}

/*
 * Restores one peers[] item, decoded and verified as strictly as if it came
 * from the network. Returns 1 when restored, 0 when the table declined it
 * (expired, superseded, full), or -1 with err set when the item is bad.
 */
static int
store_restore_entry(struct peertable *t, const json_t *item, int64_t now_ms, struct cm_err *err)
{
	struct cm_store_entry se;
	char fingerprint[CM_FINGERPRINT_LEN + 1];
	int rc = -1;

	if (cm_store_entry_decode(item, &se, err) != 0)
		return -1;
	if (cm_record_verify(&se.rec, fingerprint, err) != 0)
		goto end;
	if (strcmp(se.fingerprint, fingerprint) != 0) {
		cm_err_set(err, "fingerprint: not the certificate's");
		goto end;
	}
	switch (peertable_restore(t, &se.rec, fingerprint, se.discovered_at_ms, se.last_seen_ms,
				  now_ms)) {
	case PEERTABLE_INSERTED:
		rc = 1;
		break;
	case PEERTABLE_INVALID:
		cm_err_set(err, "signed: a silent record that carries addresses");
		break;
	default:
		rc = 0;
	}
end:
	cm_store_entry_clear(&se);
	return rc;
}

/* Restores the saved pins; a bad one is skipped. Returns how many were restored. */
static size_t
store_restore_pins(struct peertable *t, const json_t *pins, const char *path)
{
	struct cm_store_pin sp;
	struct cm_err err;
	const json_t *item;
	size_t i, n = 0, bad = 0;

	json_array_foreach(pins, i, item)
	{
		if (cm_store_pin_decode(item, &sp, &err) != 0) {
			if (bad++ == 0)
				log_warnx("%s: %s: pins[%zu]: %s", __func__, path, i, err.msg);
			continue;
		}
		if (peertable_pin(t, sp.email, sp.fingerprint,
				  sp.verified ? PEERTABLE_PIN_PROVEN : PEERTABLE_PIN_GOSSIP) == 0)
			n++;
		cm_store_pin_clear(&sp);
	}
	return n;
}

int
pa_store_load_text(const char *text, size_t len, const char *name, struct peertable *t,
		   int64_t now_ms, size_t *skipped)
{
	struct cm_err err = {0};
	struct cm_peer_store ps = {0};
	json_t *doc = NULL, *item;
	size_t i, nskipped = 0, bad = 0, npins = 0;
	int restored = 0, rc = -1, r;

	if (skipped != NULL)
		*skipped = 0;
	if ((doc = cm_json_parse(text, len, PA_STORE_MAX_BYTES, &err)) == NULL) {
		log_warnx("%s: %s: %s", __func__, name, err.msg);
		goto end;
	}
	if (cm_peer_store_decode(doc, &ps, &err) != 0) {
		log_warnx("%s: %s: not a version %d peer store", __func__, name,
			  CM_PEER_STORE_VERSION);
		goto end;
	}
	/* Pins first: an entry must match the pin its email had. */
	if (ps.has_pins)
		npins = store_restore_pins(t, ps.pins, name);
	json_array_foreach(ps.peers, i, item)
	{
		if ((r = store_restore_entry(t, item, now_ms, &err)) > 0) {
			restored++;
			continue;
		}
		nskipped++;
		/* The first reason diagnoses a damaged file; the count says the rest. */
		if (r < 0 && bad++ == 0)
			log_warnx("%s: %s: peers[%zu]: %s", __func__, name, i, err.msg);
	}
	if (bad > 1)
		log_warnx("%s: %s: %zu bad entries in all", __func__, name, bad);
	log_info("%s: %s: restored %d peers and %zu pins, skipped %zu", __func__, name, restored,
		 npins, nskipped);
	if (skipped != NULL)
		*skipped = nskipped;
	rc = restored;
end:
	cm_peer_store_clear(&ps);
	json_decref(doc);
	return rc;
}

int
pa_store_load(const char *path, struct peertable *t, int64_t now_ms, size_t *skipped)
{
	struct cm_err err = {0};
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (skipped != NULL)
		*skipped = 0;
	if (cm_file_read(path, PA_STORE_MAX_BYTES, &text, &len, &err) != 0) {
		if (errno == ENOENT)
			return 0;
		log_warnx("%s: %s", __func__, err.msg);
		return -1;
	}
	rc = pa_store_load_text(text, len, path, t, now_ms, skipped);
	free(text);
	return rc;
}
