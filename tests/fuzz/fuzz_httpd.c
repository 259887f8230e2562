/*
 * fuzz_httpd.c - libFuzzer target for the torrent HTTP port's parsers
 * (torrent/httpd_internal.h): any bytes as a request head, as a Range header
 * against a file size taken from the input, and as an /announce query; an
 * accepted announce then goes through the tracker's memory and its compact
 * answer. It checks what each promises: a refusal has a status we send and
 * says why, a range lies inside the file, a query's port is 1..65535 and its
 * numwant 0..TR_HTTPD_MAX_NUMWANT, the memory stays within its caps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "torrent/httpd_internal.h"
#include "fuzz.h"

#define MAX_TORRENTS 4
#define MAX_PER 8

static struct tr_trk *trk;

static void
check_head(const uint8_t *data, size_t size)
{
	struct tr_http_head hd;
	struct cm_err err = {{0}};
	int rc = tr_http_parse_head((const char *)data, size, &hd, &err);

	if (rc != 0 && rc != 400 && rc != 414 && rc != 431 && rc != 505)
		abort();
	fuzz_check_refusal(rc, &err);
	if (rc == 0 && (strlen(hd.target) == 0 || strlen(hd.target) >= TR_HTTPD_MAX_LINE))
		abort();
}

static void
check_range(const uint8_t *data, size_t size)
{
	char value[256];
	uint64_t file = 0, first = 0, len = 0;
	size_t n;

	if (size < 8)
		return;
	memcpy(&file, data, 8);
	file >>= (data[0] & 63); /* small sizes too */
	n = size - 8 < sizeof(value) - 1 ? size - 8 : sizeof(value) - 1;
	memcpy(value, data + 8, n);
	value[n] = '\0';
	if (tr_http_parse_range(value, file, &first, &len) == TR_RANGE_OK &&
	    (len == 0 || first >= file || len > file - first))
		abort();
}

static void
check_query(const uint8_t *data, size_t size)
{
	struct tr_announce_query q;
	struct cm_err err = {{0}};
	struct tr_peer_addr peers[MAX_PER];
	char *query = malloc(size + 1), *out;
	size_t n, len;
	int rc;

	if (query == NULL)
		return;
	memcpy(query, data, size);
	query[size] = '\0';
	rc = tr_announce_query_parse(query, &q, &err);
	fuzz_check_refusal(rc, &err);
	if (rc == 0) {
		if (q.port < 1 || q.port > 65535 || q.numwant < 0 || q.numwant > TR_HTTPD_MAX_NUMWANT ||
		    strlen(q.info_hash_hex) != TR_HEX_LEN)
			abort();
		tr_trk_announce(trk, q.info_hash_hex, "127.0.0.1", q.port, q.stopped, size, &err);
		tr_trk_expire(trk, (int64_t)size, 1000);
		n = tr_trk_peers(trk, q.info_hash_hex, peers, MAX_PER);
		if (n > MAX_PER || tr_trk_torrents(trk) > MAX_TORRENTS)
			abort();
		if (tr_announce_answer(1800, peers, n, &out, &len) != 0)
			abort();
		free(out);
	}
	free(query);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cm_hash_key key = {1, 2};

	if (trk == NULL && (trk = tr_trk_new(MAX_TORRENTS, MAX_PER, &key)) == NULL)
		abort();
	check_head(data, size);
	check_range(data, size);
	check_query(data, size);
	return 0;
}
