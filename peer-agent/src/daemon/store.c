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

#define PA_STORE_VERSION 1

static json_t *
time_json(int64_t ms)
{
	char buf[CM_RFC3339_LEN + 1];

	return cm_time_format_ms(ms, buf) == 0 ? json_string(buf) : NULL;
}

/* One peers[] item; NULL on failure. */
static json_t *
entry_json(const struct peertable_entry *e)
{
	static const char *const names[] = {"signed", "fingerprint", "discovered_at", "last_seen"};
	json_t *values[] = {cm_signed_record_encode(&e->rec), json_string(e->fingerprint),
			    time_json(e->discovered_at_ms), time_json(e->last_seen_ms)};
	json_t *o = json_object();
	bool ok = true;

	/* json_object_set_new takes the value even when it fails, so none leaks. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (json_object_set_new(o, names[i], values[i]) != 0)
			ok = false;
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
store_document(const struct peertable *t, int64_t now_ms)
{
	json_t *doc = json_object(), *peers = json_array();
	const struct peertable_entry *e;
	size_t cursor = 0;
	bool ok = json_object_set_new(doc, "version", json_integer(PA_STORE_VERSION)) == 0 &&
		  json_object_set_new(doc, "saved_at", time_json(now_ms)) == 0 &&
		  json_object_set(doc, "peers", peers) == 0;

	while (ok && (e = peertable_next(t, &cursor)) != NULL)
		ok = json_array_append_new(peers, entry_json(e)) == 0;
	json_decref(peers);
	if (!ok) {
		json_decref(doc);
		return NULL;
	}
	return doc;
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

static int
time_get(const json_t *obj, const char *key, int64_t *out_ms, struct cm_err *err)
{
	const char *s = json_string_value(json_object_get(obj, key));

	if (s == NULL || cm_time_parse_ms(s, strlen(s), out_ms) != 0) {
		cm_err_set(err, "%s: not an RFC 3339 time", key);
		return -1;
	}
	return 0;
}

/*
 * Restores one peers[] item, decoded and verified as strictly as if it came
 * from the network. Returns 1 when restored, 0 when the table declined it
 * (expired, superseded, full), or -1 with err set when the item is bad.
 */
static int
store_restore_entry(struct peertable *t, const json_t *item, int64_t now_ms, struct cm_err *err)
{
	struct cm_signed_record rec;
	char fingerprint[CM_FINGERPRINT_LEN + 1];
	const char *saved_fingerprint;
	int64_t discovered_ms, last_seen_ms;
	int rc = -1;

	if (!json_is_object(item)) {
		cm_err_set(err, "not an object");
		return -1;
	}
	if (cm_signed_record_decode(json_object_get(item, "signed"), &rec, err) != 0)
		return -1;
	saved_fingerprint = json_string_value(json_object_get(item, "fingerprint"));
	if (time_get(item, "discovered_at", &discovered_ms, err) != 0 ||
	    time_get(item, "last_seen", &last_seen_ms, err) != 0 ||
	    cm_record_verify(&rec, fingerprint, err) != 0)
		goto end;
	if (saved_fingerprint == NULL || strcmp(saved_fingerprint, fingerprint) != 0) {
		cm_err_set(err, "fingerprint: not the certificate's");
		goto end;
	}
	rc = peertable_restore(t, &rec, fingerprint, discovered_ms, last_seen_ms, now_ms) ==
			     PEERTABLE_INSERTED
		     ? 1
		     : 0;
end:
	cm_signed_record_clear(&rec);
	return rc;
}

int
pa_store_load(const char *path, struct peertable *t, int64_t now_ms, size_t *skipped)
{
	struct cm_err err = {0};
	json_t *doc = NULL, *peers, *item, *version;
	char *text = NULL;
	size_t len = 0, i, nskipped = 0, bad = 0;
	int restored = 0, rc = -1, r;

	if (skipped != NULL)
		*skipped = 0;
	if (cm_file_read(path, PA_STORE_MAX_BYTES, &text, &len, &err) != 0) {
		if (errno == ENOENT)
			return 0;
		log_warnx("%s: %s", __func__, err.msg);
		return -1;
	}
	if ((doc = cm_json_parse(text, len, PA_STORE_MAX_BYTES, &err)) == NULL) {
		log_warnx("%s: %s: %s", __func__, path, err.msg);
		goto end;
	}
	version = json_object_get(doc, "version");
	peers = json_object_get(doc, "peers");
	if (!json_is_integer(version) || json_integer_value(version) != PA_STORE_VERSION ||
	    !json_is_array(peers)) {
		log_warnx("%s: %s: not a version %d peer store", __func__, path,
			  PA_STORE_VERSION);
		goto end;
	}
	json_array_foreach(peers, i, item)
	{
		if ((r = store_restore_entry(t, item, now_ms, &err)) > 0) {
			restored++;
			continue;
		}
		nskipped++;
		/* The first reason diagnoses a damaged file; the count says the rest. */
		if (r < 0 && bad++ == 0)
			log_warnx("%s: %s: peers[%zu]: %s", __func__, path, i, err.msg);
	}
	if (bad > 1)
		log_warnx("%s: %s: %zu bad entries in all", __func__, path, bad);
	log_info("%s: %s: restored %d peers, skipped %zu", __func__, path, restored, nskipped);
	if (skipped != NULL)
		*skipped = nskipped;
	rc = restored;
end:
	json_decref(doc);
	free(text);
	return rc;
}
