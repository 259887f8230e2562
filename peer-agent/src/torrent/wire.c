/* wire.c - BEP 3 handshake and messages, encoded and parsed (see wire.h). */
#include "torrent/wire.h"

#include <string.h>

#define BITFIELD_CAP (64u * 1024)

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void
tr_wire_handshake(unsigned char out[TR_HANDSHAKE_LEN], const unsigned char info_hash[20],
                  const unsigned char peer_id[20], bool extended)
{
	out[0] = 19;
	memcpy(out + 1, TR_PROTOCOL, 19);
	memset(out + 20, 0, 8);
	if (extended)
		out[25] |= 0x10;
	memcpy(out + 28, info_hash, 20);
	memcpy(out + 48, peer_id, 20);
}

int
tr_wire_parse_handshake(const unsigned char in[TR_HANDSHAKE_LEN], struct tr_handshake *out,
                        struct cm_err *err)
{
	if (in[0] != 19 || memcmp(in + 1, TR_PROTOCOL, 19) != 0) {
		cm_err_set(err, "handshake: not the BitTorrent protocol");
		return -1;
	}
	memcpy(out->reserved, in + 20, 8);
	memcpy(out->info_hash, in + 28, 20);
	memcpy(out->peer_id, in + 48, 20);
	out->extended = (in[25] & 0x10) != 0;
	return 0;
}

uint32_t
tr_wire_max_len(const struct tr_wire_limits *lim)
{
	uint32_t m = 9 + TR_WIRE_MAX_BLOCK;
	uint32_t bf = lim->bitfield_len ? lim->bitfield_len : BITFIELD_CAP;
	uint32_t ext = lim->ext_max ? lim->ext_max : TR_EXT_MAX;

	if (1 + bf > m)
		m = 1 + bf;
	if (2 + ext > m)
		m = 2 + ext;
	return m;
}

/* The body length each fixed-size id must have; 0: variable. */
static uint32_t
fixed_len(int id)
{
	switch (id) {
	case TR_MSG_CHOKE:
	case TR_MSG_UNCHOKE:
	case TR_MSG_INTERESTED:
	case TR_MSG_NOT_INTERESTED:
		return 1;
	case TR_MSG_HAVE:
		return 5;
	case TR_MSG_REQUEST:
	case TR_MSG_CANCEL:
		return 13;
	case TR_MSG_PORT:
		return 3;
	default:
		return 0;
	}
}

static int
check_len(int id, uint32_t n, const struct tr_wire_limits *lim, struct cm_err *err)
{
	uint32_t f = fixed_len(id);
	uint32_t bf = lim->bitfield_len ? lim->bitfield_len : BITFIELD_CAP;
	uint32_t ext = lim->ext_max ? lim->ext_max : TR_EXT_MAX;

	switch (id) {
	case TR_MSG_BITFIELD:
		if (lim->bitfield_len ? n != 1 + bf : n > 1 + bf) {
			cm_err_set(err, "bitfield of %u bytes (want %s%u)", n - 1,
			           lim->bitfield_len ? "" : "at most ", bf);
			return -1;
		}
		return 0;
	case TR_MSG_PIECE:
		if (n < 9 || n > 9 + TR_WIRE_MAX_BLOCK) {
			cm_err_set(err, "piece message of %u bytes", n);
			return -1;
		}
		return 0;
	case TR_MSG_EXTENDED:
		if (n < 2 || n > 2 + ext) {
			cm_err_set(err, "extended message of %u bytes (at most %u)", n, 2 + ext);
			return -1;
		}
		return 0;
	default:
		if (f == 0) {
			cm_err_set(err, "unknown message id %d", id);
			return -1;
		}
		if (n != f) {
			cm_err_set(err, "message id %d of %u bytes (want %u)", id, n, f);
			return -1;
		}
		return 0;
	}
}

long
tr_wire_parse(const unsigned char *buf, size_t len, const struct tr_wire_limits *lim,
              struct tr_msg *out, size_t *need, struct cm_err *err)
{
	uint32_t n;
	const unsigned char *b;

	*need = 4;
	if (len < 4)
		return 0;
	n = get32(buf);
	memset(out, 0, sizeof(*out));
	if (n == 0) {
		out->id = TR_MSG_KEEPALIVE;
		return 4;
	}
	if (n > tr_wire_max_len(lim)) {
		cm_err_set(err, "message of %u bytes (at most %u)", n, tr_wire_max_len(lim));
		return -1;
	}
	if (len >= 5 && check_len(buf[4], n, lim, err) != 0)
		return -1;
	*need = 4 + (size_t)n;
	if (len < 4 + (size_t)n)
		return 0;
	out->id = buf[4];
	b = buf + 5;
	switch (out->id) {
	case TR_MSG_HAVE:
		out->index = get32(b);
		break;
	case TR_MSG_REQUEST:
	case TR_MSG_CANCEL:
		out->index = get32(b);
		out->begin = get32(b + 4);
		out->length = get32(b + 8);
		if (out->length == 0 || out->length > TR_WIRE_MAX_BLOCK) {
			cm_err_set(err, "request for a block of %u bytes", out->length);
			return -1;
		}
		break;
	case TR_MSG_PIECE:
		out->index = get32(b);
		out->begin = get32(b + 4);
		out->data = b + 8;
		out->data_len = n - 9;
		break;
	case TR_MSG_BITFIELD:
		out->data = b;
		out->data_len = n - 1;
		break;
	case TR_MSG_EXTENDED:
		out->ext_id = b[0];
		out->data = b + 1;
		out->data_len = n - 2;
		break;
	case TR_MSG_PORT:
		out->port = (uint16_t)(b[0] << 8 | b[1]);
		break;
	default:
		break;
	}
	return (long)(4 + n);
}

void
tr_wire_piece_fields(const unsigned char hdr[TR_MSG_HEADER], uint32_t *index, uint32_t *begin)
{
	*index = get32(hdr + 5);
	*begin = get32(hdr + 9);
}

size_t
tr_wire_prefix(unsigned char out[5], enum tr_msg_id id, uint32_t payload_len)
{
	put32(out, 1 + payload_len);
	out[4] = (unsigned char)id;
	return 5;
}

size_t
tr_wire_simple(unsigned char out[5], enum tr_msg_id id)
{
	return tr_wire_prefix(out, id, 0);
}

size_t
tr_wire_keepalive(unsigned char out[4])
{
	put32(out, 0);
	return 4;
}

size_t
tr_wire_have(unsigned char out[9], uint32_t index)
{
	tr_wire_prefix(out, TR_MSG_HAVE, 4);
	put32(out + 5, index);
	return 9;
}

size_t
tr_wire_request(unsigned char out[17], enum tr_msg_id id, uint32_t index, uint32_t begin,
                uint32_t length)
{
	tr_wire_prefix(out, id, 12);
	put32(out + 5, index);
	put32(out + 9, begin);
	put32(out + 13, length);
	return 17;
}

size_t
tr_wire_piece_header(unsigned char out[TR_MSG_HEADER], uint32_t index, uint32_t begin,
                     uint32_t data_len)
{
	tr_wire_prefix(out, TR_MSG_PIECE, 8 + data_len);
	put32(out + 5, index);
	put32(out + 9, begin);
	return TR_MSG_HEADER;
}

size_t
tr_wire_ext_prefix(unsigned char out[6], uint8_t ext_id, uint32_t payload_len)
{
	tr_wire_prefix(out, TR_MSG_EXTENDED, 1 + payload_len);
	out[5] = ext_id;
	return 6;
}

bool
tr_bitfield_spare_clear(const unsigned char *bf, uint32_t n)
{
	if ((n & 7) == 0)
		return true;
	return (bf[n >> 3] & (0xffu >> (n & 7))) == 0;
}
