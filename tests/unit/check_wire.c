/* check_wire.c - the peer wire's handshake and messages, encoded and parsed with bounds. */
#include <check.h>
#include <string.h>

#include "torrent/wire.h"
#include "check_main.h"

static const struct tr_wire_limits lim100 = {13, 0}; /* a torrent of 100 pieces */

static long
parse(const unsigned char *b, size_t n, struct tr_msg *m, struct cm_err *err)
{
	size_t need;

	return tr_wire_parse(b, n, &lim100, m, &need, err);
}

START_TEST(test_handshake_round_trips_with_the_extension_bit)
{
	unsigned char ih[20], pid[20], buf[TR_HANDSHAKE_LEN];
	struct tr_handshake hs;

	memset(ih, 0xab, sizeof(ih));
	memset(pid, 0x11, sizeof(pid));
	tr_wire_handshake(buf, ih, pid, true);
	ck_assert_uint_eq(buf[25] & 0x10, 0x10);
	ck_assert_int_eq(tr_wire_parse_handshake(buf, &hs, NULL), 0);
	ck_assert(hs.extended);
	ck_assert_mem_eq(hs.info_hash, ih, 20);
	ck_assert_mem_eq(hs.peer_id, pid, 20);
}
END_TEST

START_TEST(test_handshake_of_another_protocol_is_refused)
{
	unsigned char buf[TR_HANDSHAKE_LEN] = {19};
	struct tr_handshake hs;
	struct cm_err err;

	memcpy(buf + 1, "BitTorrent protocoX", 19);
	ck_assert_int_eq(tr_wire_parse_handshake(buf, &hs, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "BitTorrent"));
}
END_TEST

START_TEST(test_request_round_trips)
{
	unsigned char b[17];
	struct tr_msg m;

	ck_assert_uint_eq(tr_wire_request(b, TR_MSG_REQUEST, 7, 16384, 16384), 17);
	ck_assert_int_eq(parse(b, sizeof(b), &m, NULL), 17);
	ck_assert_int_eq(m.id, TR_MSG_REQUEST);
	ck_assert_uint_eq(m.index, 7);
	ck_assert_uint_eq(m.begin, 16384);
	ck_assert_uint_eq(m.length, 16384);
}
END_TEST

START_TEST(test_a_partial_message_asks_for_more)
{
	unsigned char b[17];
	struct tr_msg m;
	size_t need;

	tr_wire_request(b, TR_MSG_REQUEST, 1, 0, 100);
	ck_assert_int_eq(tr_wire_parse(b, 10, &lim100, &m, &need, NULL), 0);
	ck_assert_uint_eq(need, 17);
	ck_assert_int_eq(tr_wire_parse(b, 3, &lim100, &m, &need, NULL), 0);
}
END_TEST

START_TEST(test_keepalive_is_four_zero_bytes)
{
	unsigned char b[4];
	struct tr_msg m;

	ck_assert_uint_eq(tr_wire_keepalive(b), 4);
	ck_assert_int_eq(parse(b, 4, &m, NULL), 4);
	ck_assert_int_eq(m.id, TR_MSG_KEEPALIVE);
}
END_TEST

START_TEST(test_request_for_a_block_over_16_kib_is_an_error)
{
	unsigned char b[17];
	struct tr_msg m;
	struct cm_err err;

	tr_wire_request(b, TR_MSG_REQUEST, 0, 0, 16385);
	ck_assert_int_eq(parse(b, sizeof(b), &m, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "16385"));
}
END_TEST

START_TEST(test_a_length_over_the_cap_is_refused_before_its_bytes_arrive)
{
	unsigned char b[5] = {0x00, 0x10, 0x00, 0x00, TR_MSG_PIECE};
	struct tr_msg m;
	struct cm_err err;

	ck_assert_int_eq(parse(b, sizeof(b), &m, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "bytes"));
}
END_TEST

START_TEST(test_piece_message_carries_its_data)
{
	unsigned char b[TR_MSG_HEADER + 3];
	struct tr_msg m;
	uint32_t idx, begin;

	tr_wire_piece_header(b, 3, 32768, 3);
	memcpy(b + TR_MSG_HEADER, "abc", 3);
	ck_assert_int_eq(parse(b, sizeof(b), &m, NULL), (long)sizeof(b));
	ck_assert_int_eq(m.id, TR_MSG_PIECE);
	ck_assert_uint_eq(m.index, 3);
	ck_assert_uint_eq(m.begin, 32768);
	ck_assert_uint_eq(m.data_len, 3);
	ck_assert_mem_eq(m.data, "abc", 3);
	tr_wire_piece_fields(b, &idx, &begin);
	ck_assert_uint_eq(idx, 3);
	ck_assert_uint_eq(begin, 32768);
}
END_TEST

START_TEST(test_bitfield_of_the_wrong_length_is_refused)
{
	unsigned char b[5 + 12];
	struct tr_msg m;
	struct cm_err err;

	tr_wire_prefix(b, TR_MSG_BITFIELD, 12);
	memset(b + 5, 0xff, 12);
	ck_assert_int_eq(parse(b, sizeof(b), &m, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "bitfield"));
}
END_TEST

START_TEST(test_unknown_message_id_is_an_error)
{
	unsigned char b[5] = {0, 0, 0, 1, 42};
	struct tr_msg m;
	struct cm_err err;

	ck_assert_int_eq(parse(b, sizeof(b), &m, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "42"));
}
END_TEST

START_TEST(test_fixed_size_message_of_another_size_is_an_error)
{
	unsigned char b[10] = {0, 0, 0, 6, TR_MSG_HAVE, 0, 0, 0, 1, 0};
	struct tr_msg m;

	ck_assert_int_eq(parse(b, sizeof(b), &m, NULL), -1);
}
END_TEST

START_TEST(test_extended_message_gives_its_id_and_payload)
{
	unsigned char b[6 + 2];
	struct tr_msg m;

	tr_wire_ext_prefix(b, 3, 2);
	memcpy(b + 6, "de", 2);
	ck_assert_int_eq(parse(b, sizeof(b), &m, NULL), (long)sizeof(b));
	ck_assert_int_eq(m.id, TR_MSG_EXTENDED);
	ck_assert_uint_eq(m.ext_id, 3);
	ck_assert_uint_eq(m.data_len, 2);
}
END_TEST

START_TEST(test_extended_message_over_its_cap_is_refused)
{
	unsigned char b[6];
	struct tr_msg m;
	struct tr_wire_limits lim = {13, 100};
	size_t need;

	tr_wire_ext_prefix(b, 1, 200);
	ck_assert_int_eq(tr_wire_parse(b, sizeof(b), &lim, &m, &need, NULL), -1);
}
END_TEST

START_TEST(test_spare_bits_of_a_bitfield_are_checked)
{
	unsigned char bf[2] = {0xff, 0x80};

	ck_assert(tr_bitfield_spare_clear(bf, 9));
	bf[1] = 0xc0;
	ck_assert(!tr_bitfield_spare_clear(bf, 9));
	ck_assert(tr_bit_get(bf, 9));
}
END_TEST

FB_CHECK_MAIN(.name = "wire")
