/*
 * codec_relay.c - the table of the relay port's lines (docs/protocol.md
 * section 7): one object per line, its op naming which fields it needs.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "codec_table.h"
#include "fb/codec.h"

static const char *
relay_op_name(int v)
{
	return cm_relay_op_name((enum cm_relay_op)v);
}

static bool
is_circuit_id(const char *s)
{
	if (strlen(s) != CM_RELAY_CIRCUIT_LEN)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* What each op needs: the table says what each field may hold, this what must be there. */
static int
relay_msg_check(struct dctx *c, const json_t *j, void *obj)
{
	const struct cm_relay_msg *m = obj;
	bool circuit = false, from = false, to = false, service = false;

	(void)j;
	switch (m->op) {
	case CM_RELAY_RESERVED:
		if (!m->has_expires_in_s)
			return cm_codec_fail(c, "expires_in_s", "missing (required with reserved)");
		break;
	case CM_RELAY_CONNECT:
		to = service = true;
		break;
	case CM_RELAY_INVITE:
		circuit = from = service = true;
		break;
	case CM_RELAY_JOIN:
	case CM_RELAY_DECLINE:
		circuit = true;
		break;
	case CM_RELAY_ERROR:
		if (m->code == NULL)
			return cm_codec_fail(c, "code", "missing (required with error)");
		break;
	default:
		break;
	}
	if (to && m->to == NULL)
		return cm_codec_fail(c, "to", "missing (required with %s)", cm_relay_op_name(m->op));
	if (from && m->from == NULL)
		return cm_codec_fail(c, "from", "missing (required with %s)",
				     cm_relay_op_name(m->op));
	if (service && m->service == NULL)
		return cm_codec_fail(c, "service", "missing (required with %s)",
				     cm_relay_op_name(m->op));
	if (circuit && m->circuit == NULL)
		return cm_codec_fail(c, "circuit", "missing (required with %s)",
				     cm_relay_op_name(m->op));
	if (m->circuit != NULL && !is_circuit_id(m->circuit))
		return cm_codec_fail(c, "circuit", "not %d lower-case hex digits",
				     CM_RELAY_CIRCUIT_LEN);
	return 0;
}

static const struct cm_field relay_msg_fields[] = {
	ENUM(struct cm_relay_msg, "op", op, F_REQ | F_FIRST, relay_op_name, CM_RELAY_RESERVE,
	     CM_RELAY_ERROR),
	STR(struct cm_relay_msg, "to", to, 0, CM_MAX_EMAIL, STR_EMAIL),
	STR(struct cm_relay_msg, "from", from, 0, CM_MAX_EMAIL, STR_EMAIL),
	STR(struct cm_relay_msg, "circuit", circuit, 0, CM_RELAY_CIRCUIT_LEN, STR_ANY),
	STR(struct cm_relay_msg, "service", service, 0, CM_MAX_RELAY_SERVICE, STR_ANY),
	{.name = "expires_in_s", .kind = CK_INT, .flags = F_HAS,
	 CM_MEMBER(struct cm_relay_msg, expires_in_s), .min = 1, .max = CM_MAX_SAFE_INTEGER,
	 .has_off = offsetof(struct cm_relay_msg, has_expires_in_s)},
	STR(struct cm_relay_msg, "code", code, 0, CM_MAX_RELAY_CODE, STR_ANY),
	STR(struct cm_relay_msg, "reason", reason, 0, CM_MAX_RELAY_REASON, STR_ANY),
};
static TYPE(relay_msg_type, "relay-message", "relay-message.schema.json", struct cm_relay_msg,
	    relay_msg_fields, .check = relay_msg_check);

/* Every table here, for cm_codec_tables(). */
const struct cm_type *const cm_relay_types[] = {&relay_msg_type};
const size_t cm_relay_ntypes = CM_NFIELDS(cm_relay_types);

CM_OBJECT_CODEC(relay_msg, struct cm_relay_msg, relay_msg_type)
CM_DOC_CLEAR(relay_msg, struct cm_relay_msg, relay_msg_doc)

int
cm_relay_msg_from_text(const char *buf, size_t len, size_t limit, struct cm_relay_msg *out,
		       struct cm_err *err)
{
	return cm_codec_decode_text(&relay_msg_doc, buf, len, limit, out, err);
}

char *
cm_relay_msg_text(const struct cm_relay_msg *m)
{
	json_t *j = cm_relay_msg_encode(m);
	char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return text;
}
