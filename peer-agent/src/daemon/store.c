/*
 * store.c - the peer table on disk (DIR/peers.json): atomic save, checked load.
 *
 * {"version":1,"saved_at":T,"peers":[{"signed":SignedRecord,"fingerprint":F,
 * "discovered_at":T,"last_seen":T}...]}, times in RFC 3339 with milliseconds.
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

static json_t *
store_document(const struct peertable *t, int64_t now_ms)
{
	struct cm_peer_store doc = {
		.version = CM_PEER_STORE_VERSION, .saved_at_ms = now_ms, .peers = json_array()};
	const struct peertable_entry *e;
	size_t cursor = 0;
	bool ok = doc.peers != NULL;
	json_t *j = NULL;

	while (ok && (e = peertable_next(t, &cursor)) != NULL)
		ok = json_array_append_new(doc.peers, entry_json(e)) == 0;
	if (ok)
		j = cm_peer_store_encode(&doc);
	json_decref(doc.peers);
	return j;
}

int
pa_store_save(const char *path, const struct peertable *t, int64_t now_ms)
{
	struct cm_err err;
	json_t *doc = NULL;
	char *text = NULL;
	size_t len;
	int rc = -1;

	if ((doc = store_document(t, now_ms)) == NULL || (text = cm_json_dump(doc)) == NULL) {
		log_warnx("%s: %s: cannot encode the peer table", __func__, path);
		goto end;
	}
	/* Never write what pa_store_load would refuse to read back. */
	if ((len = strlen(text)) > PA_STORE_MAX_BYTES) {
		log_warnx("%s: %s: %zu bytes, over the limit of %d", __func__, path, len,
			  PA_STORE_MAX_BYTES);
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
	rc = peertable_restore(t, &se.rec, fingerprint, se.discovered_at_ms, se.last_seen_ms,
			       now_ms) == PEERTABLE_INSERTED
		     ? 1
		     : 0;
end:
	cm_store_entry_clear(&se);
	return rc;
}

int
pa_store_load_text(const char *text, size_t len, const char *name, struct peertable *t,
		   int64_t now_ms, size_t *skipped)
{
	struct cm_err err = {0};
	struct cm_peer_store ps = {0};
	json_t *doc = NULL, *item;
	size_t i, nskipped = 0, bad = 0;
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
	log_info("%s: %s: restored %d peers, skipped %zu", __func__, name, restored, nskipped);
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
