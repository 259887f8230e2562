/*
 * codec.c - JSON encode and strict decode of every wire type (Jansson).
 *
 * Decoders walk the document with a path ("payload.origin.record.port") so
 * each error names the field that failed. They check every length against
 * fb/limits.h before copying anything, and ignore fields they do not know.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/timeutil.h"
#include "fb/validate.h"

/* Decoding context: where we are in the document, and where errors go. */
struct dctx {
	struct cm_err *err;
	char path[256];
	size_t len;
};

enum str_kind { STR_ANY, STR_EMAIL, STR_UUID, STR_IP, STR_REPO, STR_FINGERPRINT, STR_BASE64 };

static int
fail(struct dctx *c, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sets "path.key: message" (or "path[i]: message" when key is NULL) and returns -1. */
static int
fail(struct dctx *c, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key == NULL)
		cm_err_set(c->err, "%s: %s", c->len ? c->path : "document", msg);
	else
		cm_err_set(c->err, "%s%s%s: %s", c->path, c->len ? "." : "", key, msg);
	return -1;
}

/* Appends ".key" or "[i]" to the path; returns the old length for path_pop. */
static size_t
path_push_key(struct dctx *c, const char *key)
{
	size_t old = c->len;
	int n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "%s%s", c->len ? "." : "",
			 key);

	if (n > 0)
		c->len = strnlen(c->path, sizeof(c->path) - 1);
	return old;
}

static size_t
path_push_index(struct dctx *c, size_t i)
{
	size_t old = c->len;
	int n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "[%zu]", i);

	if (n > 0)
		c->len = strnlen(c->path, sizeof(c->path) - 1);
	return old;
}

static void
path_pop(struct dctx *c, size_t old)
{
	c->len = old;
	c->path[old] = '\0';
}

static const char *
json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* Looks up key; a missing required key is an error, a missing optional one gives *out = NULL. */
static int
get_field(struct dctx *c, const json_t *obj, const char *key, bool required, json_t **out)
{
	*out = json_object_get(obj, key);
	if (*out == NULL && required)
		return fail(c, key, "missing");
	return 0;
}

static int
get_object(struct dctx *c, const json_t *obj, const char *key, bool required, json_t **out)
{
	if (get_field(c, obj, key, required, out) != 0)
		return -1;
	if (*out != NULL && !json_is_object(*out))
		return fail(c, key, "expected an object, got %s", json_type_name(*out));
	return 0;
}

static int
get_array(struct dctx *c, const json_t *obj, const char *key, bool required, size_t max_len,
	  json_t **out)
{
	if (get_field(c, obj, key, required, out) != 0)
		return -1;
	if (*out == NULL)
		return 0;
	if (!json_is_array(*out))
		return fail(c, key, "expected an array, got %s", json_type_name(*out));
	if (json_array_size(*out) > max_len)
		return fail(c, key, "more than %zu entries", max_len);
	return 0;
}

/* Standard alphabet, padded, non-empty. */
static bool
valid_base64(const char *s, size_t len)
{
	size_t pad = 0;

	if (len == 0 || len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '=') {
			if (i < len - 2)
				return false;
			pad++;
		} else if (pad > 0 || !(isalnum((unsigned char)ch) || ch == '+' || ch == '/')) {
			return false;
		}
	}
	return true;
}

/* Checks one string value (already known to be a string) against its kind and cap. */
static int
check_string(struct dctx *c, const char *key, const json_t *v, size_t max_len, enum str_kind kind)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	if (len > max_len)
		return fail(c, key, "longer than %zu bytes", max_len);
	switch (kind) {
	case STR_ANY:
		return 0;
	case STR_EMAIL:
		return cm_valid_email(s, len) ? 0 : fail(c, key, "not a valid email address");
	case STR_UUID:
		return cm_valid_uuid(s, len) ? 0 : fail(c, key, "not a UUID");
	case STR_IP:
		return cm_valid_ip(s, len) ? 0 : fail(c, key, "not a usable IPv4 or IPv6 address");
	case STR_FINGERPRINT:
		return cm_valid_fingerprint(s, len)
			       ? 0
			       : fail(c, key, "not a SHA-256 fingerprint (64 lower-case hex digits)");
	case STR_BASE64:
		return valid_base64(s, len) ? 0 : fail(c, key, "not base64");
	case STR_REPO:
		return cm_valid_repo_name(s, len)
			       ? 0
			       : fail(c, key, "not a valid repository name (1-%d bytes, no control "
					      "characters or ',')",
				      CM_MAX_REPO_NAME);
	}
	return 0;
}

static int
get_string(struct dctx *c, const json_t *obj, const char *key, bool required, size_t max_len,
	   enum str_kind kind, char **out)
{
	json_t *v;

	*out = NULL;
	if (get_field(c, obj, key, required, &v) != 0)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return fail(c, key, "expected a string, got %s", json_type_name(v));
	if (check_string(c, key, v, max_len, kind) != 0)
		return -1;
	if ((*out = strdup(json_string_value(v))) == NULL)
		return fail(c, key, "out of memory");
	return 0;
}

/* An integer in [min, max]; *present (when given) tells whether it was there. */
static int
get_int(struct dctx *c, const json_t *obj, const char *key, bool required, int64_t min,
	int64_t max, int64_t *out, bool *present)
{
	json_t *v;

	if (present != NULL)
		*present = false;
	if (get_field(c, obj, key, required, &v) != 0)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return fail(c, key, "expected an integer, got %s", json_type_name(v));
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return fail(c, key, "out of range %lld..%lld", (long long)min, (long long)max);
	*out = json_integer_value(v);
	if (present != NULL)
		*present = true;
	return 0;
}

static int
get_bool(struct dctx *c, const json_t *obj, const char *key, bool required, bool *out)
{
	json_t *v;

	if (get_field(c, obj, key, required, &v) != 0)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return fail(c, key, "expected a boolean, got %s", json_type_name(v));
	*out = json_is_true(v);
	return 0;
}

/* A number (integer or real) in [0, 100]; null is allowed when nullable (present = false). */
static int
get_score(struct dctx *c, const json_t *obj, const char *key, bool required, bool nullable,
	  double *out, bool *present)
{
	json_t *v;
	double d;

	*present = false;
	if (get_field(c, obj, key, required, &v) != 0)
		return -1;
	if (v == NULL || (nullable && json_is_null(v)))
		return 0;
	if (!json_is_number(v))
		return fail(c, key, "expected a number, got %s", json_type_name(v));
	d = json_number_value(v);
	if (!(d >= 0.0 && d <= 100.0))
		return fail(c, key, "out of range 0..100");
	*out = d;
	*present = true;
	return 0;
}

static int
get_time(struct dctx *c, const json_t *obj, const char *key, bool required, int64_t *out)
{
	json_t *v;

	if (get_field(c, obj, key, required, &v) != 0)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return fail(c, key, "expected a string, got %s", json_type_name(v));
	if (cm_time_parse_ms(json_string_value(v), json_string_length(v), out) != 0)
		return fail(c, key, "not an RFC 3339 UTC time with milliseconds "
				    "(YYYY-MM-DDTHH:MM:SS.mmmZ)");
	return 0;
}

static int
get_strlist(struct dctx *c, const json_t *obj, const char *key, bool required, size_t max_entries,
	    size_t max_len, enum str_kind kind, struct cm_strlist *out)
{
	json_t *arr, *v;
	size_t i, mark;

	if (get_array(c, obj, key, required, max_entries, &arr) != 0)
		return -1;
	if (arr == NULL)
		return 0;
	mark = path_push_key(c, key);
	json_array_foreach(arr, i, v)
	{
		size_t m2 = path_push_index(c, i);
		if (!json_is_string(v)) {
			fail(c, NULL, "expected a string, got %s", json_type_name(v));
			goto err;
		}
		if (check_string(c, NULL, v, max_len, kind) != 0)
			goto err;
		if (cm_strlist_append(out, json_string_value(v)) != 0) {
			fail(c, NULL, "out of memory");
			goto err;
		}
		path_pop(c, m2);
	}
	path_pop(c, mark);
	return 0;
err:
	path_pop(c, mark);
	cm_strlist_clear(out);
	return -1;
}

static int
decode_repository(struct dctx *c, const json_t *v, struct cm_repolist *out)
{
	char *name = NULL, *description = NULL;
	int rc = -1;

	if (!json_is_object(v))
		return fail(c, NULL, "expected an object, got %s", json_type_name(v));
	if (get_string(c, v, "name", true, CM_MAX_REPO_NAME, STR_REPO, &name) != 0 ||
	    get_string(c, v, "description", false, CM_MAX_DESCRIPTION, STR_ANY, &description) != 0)
		goto end;
	if (cm_repolist_append(out, name, description) != 0) {
		fail(c, NULL, "out of memory");
		goto end;
	}
	rc = 0;
end:
	free(name);
	free(description);
	return rc;
}

static int
get_repolist(struct dctx *c, const json_t *obj, const char *key, bool required,
	     struct cm_repolist *out)
{
	json_t *arr, *v;
	size_t i, mark;

	if (get_array(c, obj, key, required, CM_MAX_REPOSITORIES, &arr) != 0)
		return -1;
	if (arr == NULL)
		return 0;
	mark = path_push_key(c, key);
	json_array_foreach(arr, i, v)
	{
		size_t m2 = path_push_index(c, i);
		if (decode_repository(c, v, out) != 0) {
			path_pop(c, mark);
			cm_repolist_clear(out);
			return -1;
		}
		path_pop(c, m2);
	}
	path_pop(c, mark);
	return 0;
}

/*
 * capabilities: in a signed record every field is required; in a registration
 * each may be left out and takes its default.
 */
static int
get_capabilities(struct dctx *c, const json_t *obj, bool required, bool fields_required,
		 struct cm_capabilities *out, bool *present)
{
	json_t *v;
	size_t mark;
	int rc;

	*out = (struct cm_capabilities){.max_peers = CM_CAPABILITIES_DEFAULT_MAX_PEERS};
	if (present != NULL)
		*present = false;
	if (get_object(c, obj, "capabilities", required, &v) != 0)
		return -1;
	if (v == NULL)
		return 0;
	mark = path_push_key(c, "capabilities");
	rc = get_int(c, v, "max_peers", fields_required, 1, CM_MAX_MAX_PEERS, &out->max_peers,
		     NULL) ||
	     get_bool(c, v, "supports_torrent", fields_required, &out->supports_torrent) ||
	     get_int(c, v, "bandwidth_estimate", fields_required, 0, CM_MAX_SAFE_INTEGER,
		     &out->bandwidth_estimate, NULL);
	path_pop(c, mark);
	if (rc == 0 && present != NULL)
		*present = true;
	return rc ? -1 : 0;
}

/* Port: required and 1..65535 when broadcasting; optional (0 = none) otherwise. */
static int
get_port(struct dctx *c, const json_t *obj, bool broadcasting, int *out)
{
	int64_t port = 0;

	if (get_int(c, obj, "port", broadcasting, 1, 65535, &port, NULL) != 0)
		return -1;
	*out = (int)port;
	return 0;
}

/* Runs a decoder body with a fresh context; returns its result. */
#define DCTX_INIT(err) {.err = (err), .path = "", .len = 0}

static int
require_object(struct dctx *c, const json_t *j)
{
	if (j == NULL || !json_is_object(j))
		return fail(c, NULL, "expected an object, got %s", j ? json_type_name(j) : "nothing");
	return 0;
}

static int
decode_register_request(struct dctx *c, const json_t *j, struct cm_register_request *out)
{
	out->is_broadcasting = true;
	if (require_object(c, j) != 0 ||
	    get_string(c, j, "email", true, CM_MAX_EMAIL, STR_EMAIL, &out->email) != 0 ||
	    get_string(c, j, "peer_id", false, CM_UUID_TEXT_LEN, STR_UUID, &out->peer_id) != 0 ||
	    get_bool(c, j, "is_broadcasting", false, &out->is_broadcasting) != 0 ||
	    get_strlist(c, j, "socket_addresses", false, CM_MAX_SOCKET_ADDRESSES, CM_MAX_ADDRESS,
			STR_IP, &out->socket_addresses) != 0 ||
	    get_port(c, j, out->is_broadcasting, &out->port) != 0 ||
	    get_repolist(c, j, "repositories", true, &out->repositories) != 0 ||
	    get_capabilities(c, j, false, false, &out->capabilities, &out->has_capabilities) != 0)
		return -1;
	if (!out->is_broadcasting && out->socket_addresses.len > 0)
		return fail(c, "socket_addresses", "must be empty when is_broadcasting is false");
	return 0;
}

int
cm_register_request_decode(const json_t *j, struct cm_register_request *out, struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (decode_register_request(&c, j, out) != 0) {
		cm_register_request_clear(out);
		return -1;
	}
	return 0;
}

int
cm_heartbeat_request_decode(const json_t *j, struct cm_heartbeat_request *out, struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (require_object(&c, j) != 0 ||
	    get_string(&c, j, "email", true, CM_MAX_EMAIL, STR_EMAIL, &out->email) != 0) {
		cm_heartbeat_request_clear(out);
		return -1;
	}
	return 0;
}

int
cm_feedback_request_decode(const json_t *j, struct cm_feedback_request *out, struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (require_object(&c, j) != 0 ||
	    get_string(&c, j, "email", true, CM_MAX_EMAIL, STR_EMAIL, &out->email) != 0 ||
	    get_int(&c, j, "latency_ms", true, 0, CM_MAX_LATENCY_MS, &out->latency_ms, NULL) !=
		    0) {
		cm_feedback_request_clear(out);
		return -1;
	}
	return 0;
}

static int
decode_bootstrap_peer(struct dctx *c, const json_t *j, struct cm_bootstrap_peer *out)
{
	if (require_object(c, j) != 0 ||
	    get_string(c, j, "email", true, CM_MAX_EMAIL, STR_EMAIL, &out->email) != 0 ||
	    get_string(c, j, "peer_id", true, CM_UUID_TEXT_LEN, STR_UUID, &out->peer_id) != 0 ||
	    get_strlist(c, j, "socket_addresses", true, CM_MAX_SOCKET_ADDRESSES, CM_MAX_ADDRESS,
			STR_IP, &out->socket_addresses) != 0 ||
	    get_port(c, j, out->socket_addresses.len > 0, &out->port) != 0 ||
	    get_repolist(c, j, "repositories", true, &out->repositories) != 0 ||
	    get_string(c, j, "public_certificate", true, CM_MAX_CERT_PEM, STR_ANY,
		       &out->public_certificate) != 0 ||
	    get_score(c, j, "availability_score", false, false, &out->availability_score,
		      &out->has_availability_score) != 0 ||
	    get_score(c, j, "performance_score", false, true, &out->performance_score,
		      &out->has_performance_score) != 0)
		return -1;
	return 0;
}

int
cm_bootstrap_peer_decode(const json_t *j, struct cm_bootstrap_peer *out, struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (decode_bootstrap_peer(&c, j, out) != 0) {
		cm_bootstrap_peer_clear(out);
		return -1;
	}
	return 0;
}

/* Decodes an array of bootstrap peers found at key (NULL: j itself is the array). */
static int
decode_bootstrap_peerlist(struct dctx *c, const json_t *arr, struct cm_bootstrap_peerlist *out)
{
	json_t *v;
	size_t i;

	if (arr == NULL || !json_is_array(arr))
		return fail(c, NULL, "expected an array, got %s",
			    arr ? json_type_name(arr) : "nothing");
	if (json_array_size(arr) > CM_MAX_BOOTSTRAP_PEERS)
		return fail(c, NULL, "more than %d entries", CM_MAX_BOOTSTRAP_PEERS);
	if ((out->items = calloc(json_array_size(arr) + 1, sizeof(*out->items))) == NULL)
		return fail(c, NULL, "out of memory");
	json_array_foreach(arr, i, v)
	{
		size_t mark = path_push_index(c, i);
		/* Count the entry first so a half-filled one is released with the rest. */
		out->len = i + 1;
		if (decode_bootstrap_peer(c, v, &out->items[i]) != 0)
			return -1;
		path_pop(c, mark);
	}
	return 0;
}

int
cm_bootstrap_peerlist_decode(const json_t *j, struct cm_bootstrap_peerlist *out,
			     struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (decode_bootstrap_peerlist(&c, j, out) != 0) {
		cm_bootstrap_peerlist_clear(out);
		return -1;
	}
	return 0;
}

static int
decode_register_response(struct dctx *c, const json_t *j, struct cm_register_response *out)
{
	json_t *peers;
	size_t mark;
	int rc;

	if (require_object(c, j) != 0 ||
	    get_string(c, j, "status", true, 64, STR_ANY, &out->status) != 0)
		return -1;
	if (strcmp(out->status, "registered") != 0)
		return fail(c, "status", "expected \"registered\"");
	if (get_string(c, j, "peer_id", true, CM_UUID_TEXT_LEN, STR_UUID, &out->peer_id) != 0 ||
	    get_time(c, j, "expires_at", true, &out->expires_at_ms) != 0 ||
	    get_int(c, j, "heartbeat_interval_s", true, 1, CM_MAX_HEARTBEAT_INTERVAL_S,
		    &out->heartbeat_interval_s, NULL) != 0 ||
	    get_field(c, j, "bootstrap_peers", true, &peers) != 0)
		return -1;
	mark = path_push_key(c, "bootstrap_peers");
	rc = decode_bootstrap_peerlist(c, peers, &out->bootstrap_peers);
	path_pop(c, mark);
	return rc;
}

int
cm_register_response_decode(const json_t *j, struct cm_register_response *out, struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (decode_register_response(&c, j, out) != 0) {
		cm_register_response_clear(out);
		return -1;
	}
	return 0;
}

static int get_enum(struct dctx *c, const json_t *obj, const char *key, bool required,
		    const char *(*name_of)(int), int first, int last, int *out);
static const char *status_name(int v);

static int
decode_admin_registration(struct dctx *c, const json_t *j, struct cm_admin_registration *out)
{
	int state = 0;

	if (decode_bootstrap_peer(c, j, &out->peer) != 0 ||
	    get_string(c, j, "fingerprint", true, CM_FINGERPRINT_LEN, STR_FINGERPRINT,
		       &out->fingerprint) != 0 ||
	    get_bool(c, j, "is_broadcasting", true, &out->is_broadcasting) != 0 ||
	    get_enum(c, j, "state", true, status_name, CM_PEER_ONLINE, CM_PEER_STALE, &state) != 0 ||
	    get_time(c, j, "registered_at", true, &out->registered_at_ms) != 0 ||
	    get_time(c, j, "last_heartbeat", true, &out->last_heartbeat_ms) != 0 ||
	    get_time(c, j, "expires_at", true, &out->expires_at_ms) != 0)
		return -1;
	out->state = (enum cm_peer_status)state;
	return 0;
}

int
cm_admin_registration_decode(const json_t *j, struct cm_admin_registration *out,
			     struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (decode_admin_registration(&c, j, out) != 0) {
		cm_bootstrap_peer_clear(&out->peer);
		free(out->fingerprint);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

int
cm_admin_registrationlist_decode(const json_t *j, struct cm_admin_registrationlist *out,
				 struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);
	json_t *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (j == NULL || !json_is_array(j))
		return fail(&c, NULL, "expected an array");
	if (json_array_size(j) > CM_MAX_ADMIN_ROWS)
		return fail(&c, NULL, "more than %d entries", CM_MAX_ADMIN_ROWS);
	if ((out->items = calloc(json_array_size(j) + 1, sizeof(*out->items))) == NULL)
		return fail(&c, NULL, "out of memory");
	json_array_foreach(j, i, v)
	{
		path_push_index(&c, i);
		out->len = i + 1;
		if (decode_admin_registration(&c, v, &out->items[i]) != 0) {
			cm_admin_registrationlist_clear(out);
			return -1;
		}
		path_pop(&c, 0);
	}
	return 0;
}

int
cm_whitelist_entry_decode(const json_t *j, struct cm_whitelist_entry *out, struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (require_object(&c, j) != 0 ||
	    get_string(&c, j, "fingerprint", true, CM_FINGERPRINT_LEN, STR_FINGERPRINT,
		       &out->fingerprint) != 0 ||
	    get_string(&c, j, "note", false, CM_MAX_NOTE, STR_ANY, &out->note) != 0) {
		cm_whitelist_entry_clear(out);
		return -1;
	}
	return 0;
}

static int
decode_peer_record(struct dctx *c, const json_t *j, struct cm_peer_record *out)
{
	if (require_object(c, j) != 0 ||
	    get_string(c, j, "email", true, CM_MAX_EMAIL, STR_EMAIL, &out->email) != 0 ||
	    get_string(c, j, "peer_id", true, CM_UUID_TEXT_LEN, STR_UUID, &out->peer_id) != 0 ||
	    get_int(c, j, "seq", true, 0, CM_MAX_SAFE_INTEGER, &out->seq, NULL) != 0 ||
	    get_time(c, j, "issued_at", true, &out->issued_at_ms) != 0 ||
	    get_bool(c, j, "is_broadcasting", true, &out->is_broadcasting) != 0 ||
	    get_bool(c, j, "is_bootstrap", true, &out->is_bootstrap) != 0 ||
	    get_bool(c, j, "leaving", true, &out->leaving) != 0 ||
	    get_strlist(c, j, "socket_addresses", false, CM_MAX_SOCKET_ADDRESSES, CM_MAX_ADDRESS,
			STR_IP, &out->socket_addresses) != 0 ||
	    get_port(c, j, out->is_broadcasting, &out->port) != 0 ||
	    get_repolist(c, j, "repositories", true, &out->repositories) != 0 ||
	    get_capabilities(c, j, true, true, &out->capabilities, NULL) != 0)
		return -1;
	return 0;
}

int
cm_peer_record_decode(const json_t *j, struct cm_peer_record *out, struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (decode_peer_record(&c, j, out) != 0) {
		cm_peer_record_clear(out);
		return -1;
	}
	return 0;
}

/*
 * cert_required is false only for an announcement's origin: a refresh may
 * leave the certificate out for receivers that hold it already.
 */
/* Length of s as JSON writes it compact, quotes included (Jansson's escapes). */
static size_t
string_size(const char *s, size_t len)
{
	size_t n = 2;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\' || ch == '\b' || ch == '\f' || ch == '\n' || ch == '\r' ||
		    ch == '\t')
			n += 2;
		else if (ch < 0x20)
			n += 6;
		else
			n++;
	}
	return n;
}

/*
 * What json_dumpb(j, NULL, 0, JSON_COMPACT) returns, without writing the text
 * out: the record size check runs on every received record. Stops counting
 * once past limit.
 */
static size_t
compact_size(const json_t *j, size_t limit)
{
	const char *key;
	json_t *v;
	size_t n, i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		n = 2 + (json_object_size(j) > 0 ? json_object_size(j) - 1 : 0);
		json_object_foreach((json_t *)j, key, v)
		{
			if (n > limit)
				break;
			n += string_size(key, strlen(key)) + 1 + compact_size(v, limit);
		}
		return n;
	case JSON_ARRAY:
		n = 2 + (json_array_size(j) > 0 ? json_array_size(j) - 1 : 0);
		json_array_foreach(j, i, v)
		{
			if (n > limit)
				break;
			n += compact_size(v, limit);
		}
		return n;
	case JSON_STRING:
		return string_size(json_string_value(j), json_string_length(j));
	case JSON_TRUE:
	case JSON_NULL:
		return 4;
	case JSON_FALSE:
		return 5;
	default:
		return json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	}
}

static int
decode_signed_record(struct dctx *c, const json_t *j, bool cert_required,
		     struct cm_signed_record *out)
{
	json_t *rec;
	struct cm_err cerr;
	size_t mark, size;
	int rc;

	if (require_object(c, j) != 0)
		return -1;
	size = compact_size(j, CM_MAX_SIGNED_RECORD + 1);
	if (size == 0 || size > CM_MAX_SIGNED_RECORD)
		return fail(c, NULL, "signed record larger than %d bytes", CM_MAX_SIGNED_RECORD);
	if (get_object(c, j, "record", true, &rec) != 0)
		return -1;
	mark = path_push_key(c, "record");
	rc = decode_peer_record(c, rec, &out->record);
	path_pop(c, mark);
	if (rc != 0 ||
	    get_string(c, j, "public_certificate", cert_required, CM_MAX_CERT_PEM, STR_ANY,
		       &out->public_certificate) != 0 ||
	    get_string(c, j, "signature", true, CM_MAX_SIGNATURE_B64, STR_ANY, &out->signature) !=
		    0)
		return -1;
	if ((out->canonical = cm_json_canonical(rec, &cerr)) == NULL)
		return fail(c, "record", "%s", cerr.msg);
	return 0;
}

int
cm_signed_record_decode(const json_t *j, struct cm_signed_record *out, struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (decode_signed_record(&c, j, true, out) != 0) {
		cm_signed_record_clear(out);
		return -1;
	}
	return 0;
}

static const char *
status_name(int v)
{
	return cm_peer_status_name((enum cm_peer_status)v);
}

/* Maps a wire string onto an enum through a name function; -1 when none matches. */
static int
get_enum(struct dctx *c, const json_t *obj, const char *key, bool required,
	 const char *(*name_of)(int), int first, int last, int *out)
{
	char *s;
	int rc = -1;

	if (get_string(c, obj, key, required, 64, STR_ANY, &s) != 0)
		return -1;
	if (s == NULL)
		return 0;
	for (int i = first; i <= last; i++) {
		if (name_of(i) != NULL && strcmp(name_of(i), s) == 0) {
			*out = i;
			rc = 0;
			break;
		}
	}
	if (rc != 0)
		fail(c, key, "unknown value \"%.64s\"", s);
	free(s);
	return rc;
}


static const char *
state_name(int v)
{
	return cm_peer_state_name((enum cm_peer_state)v);
}

static const char *
source_name(int v)
{
	return cm_peer_source_name((enum cm_peer_source)v);
}

static const char *
msg_type_name(int v)
{
	return cm_msg_type_name((enum cm_msg_type)v);
}

static int
decode_peer_info(struct dctx *c, const json_t *j, struct cm_peer_info *out)
{
	int status = 0, state = 0, source = CM_SOURCE_NONE;
	int64_t port = 0;
	bool has;

	if (require_object(c, j) != 0 ||
	    get_string(c, j, "email", true, CM_MAX_EMAIL, STR_EMAIL, &out->email) != 0 ||
	    get_string(c, j, "peer_id", true, CM_UUID_TEXT_LEN, STR_UUID, &out->peer_id) != 0 ||
	    get_string(c, j, "public_certificate", true, CM_MAX_CERT_PEM, STR_ANY,
		       &out->public_certificate) != 0 ||
	    get_strlist(c, j, "socket_addresses", true, CM_MAX_SOCKET_ADDRESSES, CM_MAX_ADDRESS,
			STR_IP, &out->socket_addresses) != 0 ||
	    get_int(c, j, "port", true, 0, 65535, &port, NULL) != 0 ||
	    get_bool(c, j, "is_broadcasting", true, &out->is_broadcasting) != 0 ||
	    get_bool(c, j, "is_bootstrap", true, &out->is_bootstrap) != 0 ||
	    get_enum(c, j, "peer_status", true, status_name, CM_PEER_ONLINE, CM_PEER_OFFLINE,
		     &status) != 0 ||
	    get_enum(c, j, "state", true, state_name, CM_STATE_DISCOVERED, CM_STATE_STALE,
		     &state) != 0 ||
	    get_repolist(c, j, "repositories", true, &out->repositories) != 0 ||
	    get_score(c, j, "availability_score", true, false, &out->availability_score, &has) ||
	    get_score(c, j, "performance_score", true, false, &out->performance_score, &has) ||
	    get_score(c, j, "score", true, false, &out->score, &has) ||
	    get_int(c, j, "bandwidth_estimate", true, 0, CM_MAX_SAFE_INTEGER,
		    &out->bandwidth_estimate, NULL) != 0 ||
	    get_time(c, j, "discovered_at", true, &out->discovered_at_ms) != 0 ||
	    get_time(c, j, "last_seen", true, &out->last_seen_ms) != 0 ||
	    get_time(c, j, "expires_at", true, &out->expires_at_ms) != 0 ||
	    get_int(c, j, "peer_count", true, 0, CM_MAX_SAFE_INTEGER, &out->peer_count, NULL) !=
		    0 ||
	    get_int(c, j, "gossip_received_count", true, 0, CM_MAX_SAFE_INTEGER,
		    &out->gossip_received_count, NULL) != 0 ||
	    get_enum(c, j, "source", false, source_name, CM_SOURCE_TABLE, CM_SOURCE_RELAY,
		     &source) != 0)
		return -1;
	out->port = (int)port;
	out->peer_status = (enum cm_peer_status)status;
	out->state = (enum cm_peer_state)state;
	out->source = (enum cm_peer_source)source;
	if (out->source != CM_SOURCE_NONE &&
	    get_int(c, j, "found_in_ms", true, 0, CM_MAX_SAFE_INTEGER, &out->found_in_ms, NULL) !=
		    0)
		return -1;
	return 0;
}

int
cm_peer_info_decode(const json_t *j, struct cm_peer_info *out, struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (decode_peer_info(&c, j, out) != 0) {
		cm_peer_info_clear(out);
		return -1;
	}
	return 0;
}

static int
decode_signed_recordlist(struct dctx *c, const json_t *obj, const char *key,
			 struct cm_signed_recordlist *out)
{
	json_t *arr, *v;
	size_t i, mark;

	if (get_array(c, obj, key, true, CM_MAX_LIST_PEERS, &arr) != 0)
		return -1;
	if ((out->items = calloc(json_array_size(arr) + 1, sizeof(*out->items))) == NULL)
		return fail(c, key, "out of memory");
	mark = path_push_key(c, key);
	json_array_foreach(arr, i, v)
	{
		size_t m2 = path_push_index(c, i);
		out->len = i + 1;
		if (decode_signed_record(c, v, true, &out->items[i]) != 0)
			return -1;
		path_pop(c, m2);
	}
	path_pop(c, mark);
	return 0;
}

static int
decode_digest(struct dctx *c, const json_t *p, struct cm_peer_request *out)
{
	struct cm_digest *d = &out->digest;
	json_t *dj;
	int64_t k = 0;
	size_t mark;
	int rc;

	if (get_object(c, p, "digest", false, &dj) != 0)
		return -1;
	if (dj == NULL)
		return 0;
	out->has_digest = true;
	mark = path_push_key(c, "digest");
	rc = get_int(c, dj, "since", true, 0, CM_MAX_SAFE_INTEGER, &d->since, NULL) ||
	     get_int(c, dj, "seed", true, 0, CM_MAX_SAFE_INTEGER, &d->seed, NULL) ||
	     get_int(c, dj, "k", true, 1, CM_MAX_BLOOM_K, &k, NULL) ||
	     get_string(c, dj, "bloom", true, (CM_MAX_BLOOM_BYTES + 2) / 3 * 4, STR_BASE64,
			&d->bloom) ||
	     get_time(c, dj, "issued_after", false, &d->issued_after_ms);
	d->k = (int)k;
	path_pop(c, mark);
	return rc ? -1 : 0;
}

static int
decode_payload(struct dctx *c, const json_t *p, struct cm_envelope *out)
{
	json_t *origin;
	size_t mark;
	int rc;

	switch (out->type) {
	case CM_MSG_PEER_ANNOUNCEMENT:
		if (get_object(c, p, "origin", true, &origin) != 0)
			return -1;
		mark = path_push_key(c, "origin");
		rc = decode_signed_record(c, origin, false, &out->payload.announcement.origin);
		path_pop(c, mark);
		return rc;
	case CM_MSG_PEER_REQUEST:
		if (get_strlist(c, p, "repositories", false, CM_MAX_REPOSITORIES, CM_MAX_REPO_NAME,
				STR_REPO, &out->payload.request.repositories) != 0)
			return -1;
		return decode_digest(c, p, &out->payload.request);
	case CM_MSG_PEER_LIST_RESPONSE:
		if (get_string(c, p, "request_id", true, CM_UUID_TEXT_LEN, STR_UUID,
			       &out->payload.list_response.request_id) != 0 ||
		    get_int(c, p, "version", false, 0, CM_MAX_SAFE_INTEGER,
			    &out->payload.list_response.version,
			    &out->payload.list_response.has_version) != 0)
			return -1;
		return decode_signed_recordlist(c, p, "peers", &out->payload.list_response.peers);
	case CM_MSG_HEARTBEAT:
		return get_bool(c, p, "is_alive", true, &out->payload.heartbeat.is_alive) ||
				       get_bool(c, p, "is_bootstrap", true,
						&out->payload.heartbeat.is_bootstrap) ||
				       get_int(c, p, "peer_count", true, 0, CM_MAX_SAFE_INTEGER,
					       &out->payload.heartbeat.peer_count, NULL)
			       ? -1
			       : 0;
	}
	return fail(c, NULL, "unknown message type");
}

static int
decode_envelope(struct dctx *c, const json_t *j, struct cm_envelope *out)
{
	json_t *sender, *payload;
	int64_t v = 0, ttl = 0;
	int type = 0;
	size_t mark;
	int rc;

	if (require_object(c, j) != 0 ||
	    get_int(c, j, "v", true, INT64_MIN, INT64_MAX, &v, NULL) != 0)
		return -1;
	if (v != CM_PROTOCOL_VERSION)
		return fail(c, "v", "unsupported protocol version %lld (this peer speaks %d)",
			    (long long)v, CM_PROTOCOL_VERSION);
	out->v = (int)v;
	if (get_string(c, j, "id", true, CM_UUID_TEXT_LEN, STR_UUID, &out->id) != 0 ||
	    get_enum(c, j, "type", true, msg_type_name, CM_MSG_PEER_ANNOUNCEMENT, CM_MSG_HEARTBEAT,
		     &type) != 0 ||
	    get_int(c, j, "ttl", true, 0, CM_MAX_TTL, &ttl, NULL) != 0 ||
	    get_time(c, j, "timestamp", true, &out->timestamp_ms) != 0 ||
	    get_object(c, j, "sender", true, &sender) != 0)
		return -1;
	out->type = (enum cm_msg_type)type;
	out->ttl = (int)ttl;
	mark = path_push_key(c, "sender");
	rc = get_string(c, sender, "email", true, CM_MAX_EMAIL, STR_EMAIL, &out->sender_email) ||
	     get_string(c, sender, "peer_id", true, CM_UUID_TEXT_LEN, STR_UUID,
			&out->sender_peer_id);
	path_pop(c, mark);
	if (rc != 0 || get_object(c, j, "payload", true, &payload) != 0)
		return -1;
	mark = path_push_key(c, "payload");
	rc = decode_payload(c, payload, out);
	path_pop(c, mark);
	return rc;
}

int
cm_envelope_decode(const json_t *j, struct cm_envelope *out, struct cm_err *err)
{
	struct dctx c = DCTX_INIT(err);

	memset(out, 0, sizeof(*out));
	if (decode_envelope(&c, j, out) != 0) {
		cm_envelope_clear(out);
		return -1;
	}
	return 0;
}

/*
 * Encoding. set() adds a member and records an allocation failure in *ok, so
 * each encoder checks once at the end instead of after every member.
 */
static void
set(json_t *obj, const char *key, json_t *v, bool *ok)
{
	if (v == NULL || obj == NULL || json_object_set_new(obj, key, v) != 0)
		*ok = false;
}

static void
append(json_t *arr, json_t *v, bool *ok)
{
	if (v == NULL || arr == NULL || json_array_append_new(arr, v) != 0)
		*ok = false;
}

static json_t *
finish(json_t *obj, bool ok)
{
	if (!ok) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *
time_json(int64_t ms)
{
	char buf[CM_RFC3339_LEN + 1];

	if (cm_time_format_ms(ms, buf) != 0)
		return NULL;
	return json_string(buf);
}

static json_t *
strlist_json(const struct cm_strlist *l)
{
	json_t *arr = json_array();
	bool ok = true;

	for (size_t i = 0; i < l->len; i++)
		append(arr, json_string(l->items[i]), &ok);
	return finish(arr, ok);
}

json_t *
cm_repository_encode(const struct cm_repository *r)
{
	json_t *o = json_object();
	bool ok = true;

	set(o, "name", json_string(r->name), &ok);
	if (r->description != NULL)
		set(o, "description", json_string(r->description), &ok);
	return finish(o, ok);
}

static json_t *
repolist_json(const struct cm_repolist *l)
{
	json_t *arr = json_array();
	bool ok = true;

	for (size_t i = 0; i < l->len; i++)
		append(arr, cm_repository_encode(&l->items[i]), &ok);
	return finish(arr, ok);
}

json_t *
cm_capabilities_encode(const struct cm_capabilities *c)
{
	return json_pack("{s:I, s:b, s:I}", "max_peers", (json_int_t)c->max_peers,
			 "supports_torrent", c->supports_torrent, "bandwidth_estimate",
			 (json_int_t)c->bandwidth_estimate);
}

json_t *
cm_register_request_encode(const struct cm_register_request *r)
{
	json_t *o = json_object();
	bool ok = true;

	set(o, "email", json_string(r->email), &ok);
	if (r->peer_id != NULL)
		set(o, "peer_id", json_string(r->peer_id), &ok);
	set(o, "socket_addresses", strlist_json(&r->socket_addresses), &ok);
	if (r->port != 0)
		set(o, "port", json_integer(r->port), &ok);
	set(o, "repositories", repolist_json(&r->repositories), &ok);
	set(o, "is_broadcasting", json_boolean(r->is_broadcasting), &ok);
	if (r->has_capabilities)
		set(o, "capabilities", cm_capabilities_encode(&r->capabilities), &ok);
	return finish(o, ok);
}

json_t *
cm_bootstrap_peer_encode(const struct cm_bootstrap_peer *p)
{
	json_t *o = json_object();
	bool ok = true;

	set(o, "email", json_string(p->email), &ok);
	set(o, "peer_id", json_string(p->peer_id), &ok);
	set(o, "socket_addresses", strlist_json(&p->socket_addresses), &ok);
	if (p->port != 0)
		set(o, "port", json_integer(p->port), &ok);
	set(o, "repositories", repolist_json(&p->repositories), &ok);
	set(o, "public_certificate", json_string(p->public_certificate), &ok);
	if (p->has_availability_score)
		set(o, "availability_score", json_real(p->availability_score), &ok);
	/* In discover answers performance_score is always written: null until feedback exists. */
	if (p->has_availability_score || p->has_performance_score)
		set(o, "performance_score",
		    p->has_performance_score ? json_real(p->performance_score) : json_null(), &ok);
	return finish(o, ok);
}

json_t *
cm_bootstrap_peerlist_encode(const struct cm_bootstrap_peerlist *l)
{
	json_t *arr = json_array();
	bool ok = true;

	for (size_t i = 0; i < l->len; i++)
		append(arr, cm_bootstrap_peer_encode(&l->items[i]), &ok);
	return finish(arr, ok);
}

json_t *
cm_register_response_encode(const struct cm_register_response *r)
{
	json_t *o = json_object();
	bool ok = true;

	set(o, "status", json_string(r->status != NULL ? r->status : "registered"), &ok);
	set(o, "peer_id", json_string(r->peer_id), &ok);
	set(o, "expires_at", time_json(r->expires_at_ms), &ok);
	set(o, "heartbeat_interval_s", json_integer(r->heartbeat_interval_s), &ok);
	set(o, "bootstrap_peers", cm_bootstrap_peerlist_encode(&r->bootstrap_peers), &ok);
	return finish(o, ok);
}

json_t *
cm_admin_registrationlist_encode(const struct cm_admin_registrationlist *l)
{
	json_t *arr = json_array();
	bool ok = true;

	for (size_t i = 0; i < l->len; i++) {
		const struct cm_admin_registration *a = &l->items[i];
		json_t *o = cm_bootstrap_peer_encode(&a->peer);
		set(o, "fingerprint", json_string(a->fingerprint), &ok);
		set(o, "is_broadcasting", json_boolean(a->is_broadcasting), &ok);
		set(o, "state", json_string(cm_peer_status_name(a->state)), &ok);
		set(o, "registered_at", time_json(a->registered_at_ms), &ok);
		set(o, "last_heartbeat", time_json(a->last_heartbeat_ms), &ok);
		set(o, "expires_at", time_json(a->expires_at_ms), &ok);
		append(arr, o, &ok);
	}
	return finish(arr, ok);
}

json_t *
cm_whitelist_entry_encode(const struct cm_whitelist_entry *w)
{
	json_t *o = json_object();
	bool ok = true;

	set(o, "fingerprint", json_string(w->fingerprint), &ok);
	if (w->note != NULL)
		set(o, "note", json_string(w->note), &ok);
	set(o, "added_at", time_json(w->added_at_ms), &ok);
	return finish(o, ok);
}

json_t *
cm_whitelist_encode(const struct cm_whitelist *l)
{
	json_t *arr = json_array();
	bool ok = true;

	for (size_t i = 0; i < l->len; i++)
		append(arr, cm_whitelist_entry_encode(&l->items[i]), &ok);
	return finish(arr, ok);
}

json_t *
cm_peer_record_encode(const struct cm_peer_record *r)
{
	json_t *o = json_object();
	bool ok = true;

	set(o, "email", json_string(r->email), &ok);
	set(o, "peer_id", json_string(r->peer_id), &ok);
	set(o, "seq", json_integer(r->seq), &ok);
	set(o, "issued_at", time_json(r->issued_at_ms), &ok);
	set(o, "is_broadcasting", json_boolean(r->is_broadcasting), &ok);
	set(o, "is_bootstrap", json_boolean(r->is_bootstrap), &ok);
	set(o, "leaving", json_boolean(r->leaving), &ok);
	/* The sharing rule: a silent peer's record never carries addresses. */
	if (r->is_broadcasting)
		set(o, "socket_addresses", strlist_json(&r->socket_addresses), &ok);
	if (r->port != 0)
		set(o, "port", json_integer(r->port), &ok);
	set(o, "repositories", repolist_json(&r->repositories), &ok);
	set(o, "capabilities", cm_capabilities_encode(&r->capabilities), &ok);
	return finish(o, ok);
}

json_t *
cm_signed_record_encode(const struct cm_signed_record *s)
{
	json_t *o = json_object(), *rec;
	bool ok = true;

	if (s->canonical != NULL)
		rec = json_loads(s->canonical, JSON_REJECT_DUPLICATES, NULL);
	else
		rec = cm_peer_record_encode(&s->record);
	set(o, "record", rec, &ok);
	if (s->public_certificate != NULL)
		set(o, "public_certificate", json_string(s->public_certificate), &ok);
	set(o, "signature", json_string(s->signature), &ok);
	return finish(o, ok);
}

json_t *
cm_peer_info_encode(const struct cm_peer_info *p)
{
	json_t *o = json_object();
	bool ok = true;

	set(o, "email", json_string(p->email), &ok);
	set(o, "peer_id", json_string(p->peer_id), &ok);
	set(o, "public_certificate", json_string(p->public_certificate), &ok);
	set(o, "socket_addresses", strlist_json(&p->socket_addresses), &ok);
	set(o, "port", json_integer(p->port), &ok);
	set(o, "is_broadcasting", json_boolean(p->is_broadcasting), &ok);
	set(o, "is_bootstrap", json_boolean(p->is_bootstrap), &ok);
	set(o, "peer_status", json_string(cm_peer_status_name(p->peer_status)), &ok);
	set(o, "state", json_string(cm_peer_state_name(p->state)), &ok);
	set(o, "repositories", repolist_json(&p->repositories), &ok);
	set(o, "availability_score", json_real(p->availability_score), &ok);
	set(o, "performance_score", json_real(p->performance_score), &ok);
	set(o, "score", json_real(p->score), &ok);
	set(o, "bandwidth_estimate", json_integer(p->bandwidth_estimate), &ok);
	set(o, "discovered_at", time_json(p->discovered_at_ms), &ok);
	set(o, "last_seen", time_json(p->last_seen_ms), &ok);
	set(o, "expires_at", time_json(p->expires_at_ms), &ok);
	set(o, "peer_count", json_integer(p->peer_count), &ok);
	set(o, "gossip_received_count", json_integer(p->gossip_received_count), &ok);
	if (p->source != CM_SOURCE_NONE) {
		set(o, "source", json_string(cm_peer_source_name(p->source)), &ok);
		set(o, "found_in_ms", json_integer(p->found_in_ms), &ok);
	}
	return finish(o, ok);
}

static json_t *
signed_recordlist_json(const struct cm_signed_recordlist *l)
{
	json_t *arr = json_array();
	bool ok = true;

	for (size_t i = 0; i < l->len; i++)
		append(arr, cm_signed_record_encode(&l->items[i]), &ok);
	return finish(arr, ok);
}

static json_t *
digest_json(const struct cm_digest *d)
{
	json_t *o = json_object();
	bool ok = true;

	set(o, "since", json_integer(d->since), &ok);
	set(o, "seed", json_integer(d->seed), &ok);
	set(o, "k", json_integer(d->k), &ok);
	set(o, "bloom", json_string(d->bloom != NULL ? d->bloom : ""), &ok);
	if (d->issued_after_ms > 0)
		set(o, "issued_after", time_json(d->issued_after_ms), &ok);
	return finish(o, ok);
}

static json_t *
payload_json(const struct cm_envelope *e)
{
	json_t *o = json_object();
	bool ok = true;

	switch (e->type) {
	case CM_MSG_PEER_ANNOUNCEMENT:
		set(o, "origin", cm_signed_record_encode(&e->payload.announcement.origin), &ok);
		break;
	case CM_MSG_PEER_REQUEST:
		set(o, "repositories", strlist_json(&e->payload.request.repositories), &ok);
		if (e->payload.request.has_digest)
			set(o, "digest", digest_json(&e->payload.request.digest), &ok);
		break;
	case CM_MSG_PEER_LIST_RESPONSE:
		set(o, "request_id", json_string(e->payload.list_response.request_id), &ok);
		set(o, "peers", signed_recordlist_json(&e->payload.list_response.peers), &ok);
		if (e->payload.list_response.has_version)
			set(o, "version", json_integer(e->payload.list_response.version), &ok);
		break;
	case CM_MSG_HEARTBEAT:
		set(o, "is_alive", json_boolean(e->payload.heartbeat.is_alive), &ok);
		set(o, "is_bootstrap", json_boolean(e->payload.heartbeat.is_bootstrap), &ok);
		set(o, "peer_count", json_integer(e->payload.heartbeat.peer_count), &ok);
		break;
	default:
		ok = false;
	}
	return finish(o, ok);
}

/* The envelope around payload (a new reference, taken even on failure). */
static json_t *
envelope_json(const struct cm_envelope *e, json_t *payload)
{
	json_t *o = json_object();
	bool ok = true;

	set(o, "v", json_integer(CM_PROTOCOL_VERSION), &ok);
	set(o, "id", json_string(e->id), &ok);
	set(o, "type", json_string(cm_msg_type_name(e->type)), &ok);
	set(o, "ttl", json_integer(e->ttl), &ok);
	set(o, "timestamp", time_json(e->timestamp_ms), &ok);
	set(o, "sender", json_pack("{s:s?, s:s?}", "email", e->sender_email, "peer_id",
				   e->sender_peer_id),
	    &ok);
	set(o, "payload", payload, &ok);
	return finish(o, ok);
}

json_t *
cm_envelope_encode(const struct cm_envelope *e)
{
	return envelope_json(e, payload_json(e));
}

json_t *
cm_announcement_encode(const struct cm_envelope *e, json_t *origin)
{
	json_t *p = json_object();

	if (p == NULL || json_object_set(p, "origin", origin) != 0) {
		json_decref(p);
		return NULL;
	}
	return envelope_json(e, p);
}

json_t *
cm_status_encode(const char *status, int64_t expires_at_ms)
{
	json_t *o = json_object();
	bool ok = true;

	set(o, "status", json_string(status), &ok);
	if (expires_at_ms >= 0)
		set(o, "expires_at", time_json(expires_at_ms), &ok);
	return finish(o, ok);
}

json_t *
cm_error_body_encode(const char *message, const char *code)
{
	return json_pack("{s:s, s:s}", "error", message, "code", code);
}

json_t *
cm_json_parse(const char *buf, size_t len, size_t limit_bytes, struct cm_err *err)
{
	json_error_t jerr;
	json_t *j;

	if (len > limit_bytes) {
		cm_err_set(err, "document: larger than %zu bytes", limit_bytes);
		return NULL;
	}
	if ((j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		cm_err_set(err, "document: invalid JSON at line %d column %d: %s", jerr.line,
			   jerr.column, jerr.text);
	return j;
}

char *
cm_json_dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT);
}

/* True when no real number appears anywhere under j. */
static bool
integers_only(const json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_REAL:
		return false;
	case JSON_OBJECT:
		json_object_foreach((json_t *)j, key, v)
		{
			if (!integers_only(v))
				return false;
		}
		return true;
	case JSON_ARRAY:
		json_array_foreach(j, i, v)
		{
			if (!integers_only(v))
				return false;
		}
		return true;
	default:
		return true;
	}
}

char *
cm_json_canonical(const json_t *j, struct cm_err *err)
{
	char *s;

	if (j == NULL || !integers_only(j)) {
		cm_err_set(err, "canonical JSON allows integers only");
		return NULL;
	}
	if ((s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		cm_err_set(err, "out of memory");
	return s;
}

int
cm_envelope_from_frame_tree(const char *buf, size_t len, struct cm_envelope *out, json_t **tree,
			    struct cm_err *err)
{
	json_t *j;

	memset(out, 0, sizeof(*out));
	*tree = NULL;
	if ((j = cm_json_parse(buf, len, CM_MAX_FRAME, err)) == NULL)
		return -1;
	if (cm_envelope_decode(j, out, err) != 0) {
		json_decref(j);
		return -1;
	}
	*tree = j;
	return 0;
}

int
cm_envelope_from_frame(const char *buf, size_t len, struct cm_envelope *out, struct cm_err *err)
{
	json_t *j;

	if (cm_envelope_from_frame_tree(buf, len, out, &j, err) != 0)
		return -1;
	json_decref(j);
	return 0;
}

int
cm_register_request_from_body(const char *buf, size_t len, struct cm_register_request *out,
			      struct cm_err *err)
{
	json_t *j;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((j = cm_json_parse(buf, len, CM_MAX_BODY, err)) == NULL)
		return -1;
	rc = cm_register_request_decode(j, out, err);
	json_decref(j);
	return rc;
}
