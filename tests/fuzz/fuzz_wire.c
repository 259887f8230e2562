/*
 * fuzz_wire.c - libFuzzer target for the peer wire (torrent/wire.h): what a
 * hostile peer sends after connecting. The first two bytes pick the limits
 * (a bitfield's length, an extended payload's cap); then a handshake when
 * 68 bytes follow, then messages one after another as tr_wire_parse takes
 * them, each extended payload decoded as bencode the way BEP 9/10 messages
 * are. Besides what the sanitizers catch, it checks what a parsed message
 * promises: it lies within the bytes given, its data within the limits, a
 * block at most 16 KiB; a refusal says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fb/bencode.h"
#include "torrent/wire.h"
#include "fuzz.h"

static void
check_msg(const struct tr_msg *m, long used, const uint8_t *at, size_t left,
	  const struct tr_wire_limits *lim)
{
	if (used < 4 || (size_t)used > left || (size_t)used - 4 > tr_wire_max_len(lim))
		abort();
	if (m->data != NULL && (m->data < at || m->data + m->data_len > at + used))
		abort();
	switch (m->id) {
	case TR_MSG_PIECE:
		if (m->data_len > TR_WIRE_MAX_BLOCK)
			abort();
		break;
	case TR_MSG_REQUEST:
	case TR_MSG_CANCEL:
		if (m->length > TR_WIRE_MAX_BLOCK)
			abort();
		break;
	case TR_MSG_BITFIELD:
		if (lim->bitfield_len != 0 && m->data_len != lim->bitfield_len)
			abort();
		break;
	case TR_MSG_EXTENDED: {
		struct cm_blimits bl = {.max_bytes = m->data_len, .max_depth = 8, .max_values = 4096};
		struct cm_err err = {{0}};
		size_t dict_len = 0;
		struct cm_bdoc *d = cm_bdecode_prefix(m->data, m->data_len, &bl, &dict_len, &err);

		if (d == NULL)
			fuzz_check_refusal(-1, &err);
		else if (dict_len > m->data_len)
			abort();
		cm_bdoc_free(d);
		break;
	}
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tr_wire_limits lim = {0};
	size_t at = 2;

	if (size < 2)
		return 0;
	lim.bitfield_len = data[0] % 4 == 0 ? 0 : (uint32_t)data[0] * 4;
	lim.ext_max = data[1] % 2 == 0 ? 0 : (uint32_t)data[1] * 64;
	if (size - at >= TR_HANDSHAKE_LEN && (data[0] & 0x80) != 0) {
		struct tr_handshake h;
		struct cm_err err = {{0}};
		int rc = tr_wire_parse_handshake(data + at, &h, &err);

		fuzz_check_refusal(rc, &err);
		at += TR_HANDSHAKE_LEN;
	}
	while (at < size) {
		struct tr_msg m;
		struct cm_err err = {{0}};
		size_t need = 0;
		long used = tr_wire_parse(data + at, size - at, &lim, &m, &need, &err);

		if (used < 0) {
			fuzz_check_refusal(-1, &err);
			break;
		}
		if (used == 0)
			break;
		check_msg(&m, used, data + at, size - at, &lim);
		at += (size_t)used;
	}
	return 0;
}
