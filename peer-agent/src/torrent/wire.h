/*
 * wire.h - the peer wire protocol's bytes (BEP 3, BEP 10's extended message):
 * the handshake and each message, encoded into small buffers and parsed from
 * a byte buffer with every length bounded. Pure: no sockets, no allocation.
 */
#ifndef TR_WIRE_H
#define TR_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"

#define TR_HANDSHAKE_LEN  68
#define TR_PROTOCOL       "BitTorrent protocol"
#define TR_MSG_HEADER     13 /* length, id, index, begin: a piece message before its data */
#define TR_EXT_MAX        (64u * 1024) /* bytes of an extended message's payload we take */
#define TR_WIRE_MAX_BLOCK 16384        /* bytes of data in a piece message, and of a request */

enum tr_msg_id {
	TR_MSG_KEEPALIVE = -1,
	TR_MSG_CHOKE = 0,
	TR_MSG_UNCHOKE = 1,
	TR_MSG_INTERESTED = 2,
	TR_MSG_NOT_INTERESTED = 3,
	TR_MSG_HAVE = 4,
	TR_MSG_BITFIELD = 5,
	TR_MSG_REQUEST = 6,
	TR_MSG_PIECE = 7,
	TR_MSG_CANCEL = 8,
	TR_MSG_PORT = 9,
	TR_MSG_EXTENDED = 20
};

struct tr_handshake {
	unsigned char reserved[8];
	unsigned char info_hash[20];
	unsigned char peer_id[20];
	bool extended; /* BEP 10: reserved[5] & 0x10 */
};

/* Writes our handshake (with the BEP 10 bit when extended). */
void tr_wire_handshake(unsigned char out[TR_HANDSHAKE_LEN], const unsigned char info_hash[20],
                       const unsigned char peer_id[20], bool extended);
/* Parses a handshake's 68 bytes. -1 with err when the protocol string is not BitTorrent's. */
int tr_wire_parse_handshake(const unsigned char in[TR_HANDSHAKE_LEN], struct tr_handshake *out,
                            struct cm_err *err);

/* One parsed message; data points into the parsed buffer. */
struct tr_msg {
	enum tr_msg_id id;
	uint32_t index, begin, length; /* have: index; request/cancel: all; piece: index, begin */
	const unsigned char *data;     /* bitfield, piece data, extended payload (after ext_id) */
	size_t data_len;
	uint8_t ext_id; /* extended: the extension's message id */
	uint16_t port;  /* port (DHT): ignored by us, parsed to be skipped */
};

/* What a message may carry; a larger one is an error, not a wait. */
struct tr_wire_limits {
	uint32_t
	    bitfield_len; /* bytes of a bitfield; 0: unknown yet (metadata missing), cap 64 KiB */
	uint32_t ext_max; /* bytes of an extended payload; 0: TR_EXT_MAX */
};

/* The body length (after the 4-byte prefix) a message may have at most under lim. */
uint32_t tr_wire_max_len(const struct tr_wire_limits *lim);

/*
 * Parses the message at the start of buf. Returns the bytes it takes (4 + its
 * length) with *out filled, 0 when buf does not hold it whole yet (*need gets
 * the bytes needed, when known), or -1 with err (too long, bad length for its
 * id, unknown id, a block over 16 KiB). Unknown ids are errors: a peer we
 * answered without them has no reason to send them.
 */
long tr_wire_parse(const unsigned char *buf, size_t len, const struct tr_wire_limits *lim,
                   struct tr_msg *out, size_t *need, struct cm_err *err);

/* A piece message's index and begin, from its 13-byte header. */
void tr_wire_piece_fields(const unsigned char hdr[TR_MSG_HEADER], uint32_t *index, uint32_t *begin);

/* Encoders: each writes the whole message (prefix included) and returns its length. */
size_t tr_wire_simple(unsigned char out[5], enum tr_msg_id id); /* choke..not interested */
size_t tr_wire_keepalive(unsigned char out[4]);
size_t tr_wire_have(unsigned char out[9], uint32_t index);
size_t tr_wire_request(unsigned char out[17], enum tr_msg_id id, uint32_t index, uint32_t begin,
                       uint32_t length); /* request or cancel */
/* A piece message's 13-byte header; the data follows it. */
size_t tr_wire_piece_header(unsigned char out[TR_MSG_HEADER], uint32_t index, uint32_t begin,
                            uint32_t data_len);
/* The 4-byte prefix and id of a message whose body (payload_len bytes) follows. */
size_t tr_wire_prefix(unsigned char out[5], enum tr_msg_id id, uint32_t payload_len);
/* The 6-byte prefix, id 20 and extension id of an extended message. */
size_t tr_wire_ext_prefix(unsigned char out[6], uint8_t ext_id, uint32_t payload_len);

/* Bitfields (BEP 3: high bit first). */
static inline bool
tr_bit_get(const unsigned char *bf, uint32_t i)
{
	return (bf[i >> 3] >> (7 - (i & 7))) & 1;
}
static inline void
tr_bit_set(unsigned char *bf, uint32_t i)
{
	bf[i >> 3] |= (unsigned char)(0x80 >> (i & 7));
}
/* Whether the spare bits past n pieces are zero (BEP 3 asks a peer to keep them so). */
bool tr_bitfield_spare_clear(const unsigned char *bf, uint32_t n);

#endif
