/*
 * fuzz_bencode.c - libFuzzer target for the bencode codec (fb/bencode.h) and
 * what reads it in the torrent room (torrent/metainfo.h): any bytes, as a
 * document, as a prefix (BEP 9), as a .torrent, as an info dictionary and as
 * a magnet link. Besides what the sanitizers catch, it checks what each
 * promises: a document accepted is canonical (encoding its tree gives the
 * input back); a prefix is a document of its own; a torrent accepted has its
 * pieces, files and paths as the checks say, and writes a .torrent that reads
 * back to the same info hash; a magnet accepted writes one that reads back.
 * The decoder's caps are set low here so inputs reach them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fb/bencode.h"
#include "fb/hex.h"
#include "torrent/metainfo.h"
#include "fuzz.h"

#define MAX_BYTES 65536

static const struct cm_blimits lim = {.max_bytes = MAX_BYTES, .max_depth = 16,
				      .max_values = 4096};

static void
check_document(const uint8_t *data, size_t size)
{
	struct cm_err err = {{0}};
	struct cm_bdoc *d = cm_bdecode(data, size, &lim, &err), *p;
	struct cm_benc e;
	char *out;
	size_t n, used = 0;

	fuzz_check_refusal(d == NULL ? -1 : 0, &err);
	if (d != NULL) {
		if (cm_bdoc_root(d)->raw_len != size)
			abort();
		cm_benc_init(&e, MAX_BYTES);
		cm_benc_value(&e, cm_bdoc_root(d));
		if (cm_benc_finish(&e, &out, &n) != 0 || n != size || memcmp(out, data, n) != 0)
			abort();
		free(out);
		cm_bdoc_free(d);
	}
	memset(&err, 0, sizeof(err));
	p = cm_bdecode_prefix(data, size, &lim, &used, &err);
	fuzz_check_refusal(p == NULL ? -1 : 0, &err);
	if (p != NULL) {
		if (used == 0 || used > size || cm_bdoc_root(p)->raw_len != used)
			abort();
		if ((d = cm_bdecode(data, used, &lim, &err)) == NULL)
			abort();
		cm_bdoc_free(d);
		cm_bdoc_free(p);
	}
}

/* A path no check should have let through: an empty, "." or ".." component, a backslash. */
static bool
bad_path(const char *path)
{
	if (strlen(path) > TR_MAX_PATH || strchr(path, '\\') != NULL)
		return true;
	for (const char *c = path;;) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return true;
		if (c[n] == '\0')
			return false;
		c += n + 1;
	}
}

/* What an accepted torrent promises. */
static void
check_meta(const struct tr_meta *m)
{
	struct tr_meta back;
	uint64_t sum = 0, off = 0;
	char *out;
	size_t n;

	if (m->piece_count == 0 || m->total_length == 0 || m->total_length > TR_MAX_TOTAL ||
	    m->piece_length < TR_MIN_PIECE || m->piece_length > TR_MAX_PIECE ||
	    (m->piece_length & (m->piece_length - 1)) != 0 || m->file_count == 0 ||
	    m->file_count > TR_MAX_FILES || bad_path(m->name) || strchr(m->name, '/') != NULL)
		abort();
	for (size_t i = 0; i < m->file_count; i++) {
		if (m->files[i].offset != off || bad_path(m->files[i].path))
			abort();
		off += m->files[i].length;
	}
	for (uint32_t i = 0; i < m->piece_count; i++) {
		uint32_t k = tr_meta_piece_size(m, i);

		if (k == 0 || k > m->piece_length)
			abort();
		sum += k;
	}
	if (sum != m->total_length || off != m->total_length ||
	    tr_meta_piece_size(m, m->piece_count) != 0)
		abort();
	if (m->trackers.len > TR_MAX_TRACKERS || m->web_seeds.len > TR_MAX_WEB_SEEDS)
		abort();
	if (tr_meta_to_torrent(m, &out, &n) != 0)
		abort();
	if (tr_meta_from_torrent(out, n, &back, NULL) != 0 ||
	    memcmp(back.info_hash, m->info_hash, TR_HASH_LEN) != 0 ||
	    back.trackers.len != m->trackers.len || back.web_seeds.len != m->web_seeds.len)
		abort();
	tr_meta_clear(&back);
	free(out);
}

static void
check_torrent(const uint8_t *data, size_t size)
{
	struct cm_err err = {{0}};
	struct tr_meta m;
	int rc = tr_meta_from_torrent(data, size, &m, &err);

	fuzz_check_refusal(rc, &err);
	if (rc == 0) {
		check_meta(&m);
		tr_meta_clear(&m);
	}
	memset(&err, 0, sizeof(err));
	rc = tr_meta_from_info(data, size, NULL, &m, &err);
	fuzz_check_refusal(rc, &err);
	if (rc == 0) {
		/* the hash it computed is the one it then asks for */
		struct tr_meta again;

		check_meta(&m);
		if (tr_meta_from_info(data, size, m.info_hash, &again, NULL) != 0)
			abort();
		tr_meta_clear(&again);
		tr_meta_clear(&m);
	}
}

static void
check_magnet(const uint8_t *data, size_t size)
{
	char *uri = malloc(size + 1), *again;
	struct cm_err err = {{0}};
	struct tr_magnet mg, back;
	struct tr_meta m = {0};
	int rc;

	memcpy(uri, data, size);
	uri[size] = '\0';
	rc = tr_magnet_parse(uri, &mg, &err);
	fuzz_check_refusal(rc, &err);
	if (rc == 0) {
		/* written from its parts, it reads back to the same */
		memcpy(m.info_hash, mg.info_hash, TR_HASH_LEN);
		cm_hex_encode(mg.info_hash, TR_HASH_LEN, m.info_hash_hex);
		m.name = mg.name;
		m.trackers = mg.trackers;
		m.web_seeds = mg.web_seeds;
		if ((again = tr_magnet_of(&m, &mg.peers)) != NULL) {
			if (tr_magnet_parse(again, &back, NULL) != 0 ||
			    memcmp(back.info_hash, mg.info_hash, TR_HASH_LEN) != 0 ||
			    (mg.name != NULL && (back.name == NULL || strcmp(back.name, mg.name))) ||
			    back.trackers.len != mg.trackers.len || back.peers.len != mg.peers.len ||
			    back.web_seeds.len != mg.web_seeds.len)
				abort();
			tr_magnet_clear(&back);
			free(again);
		}
		tr_magnet_clear(&mg);
	}
	free(uri);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_document(data, size);
	check_torrent(data, size);
	check_magnet(data, size);
	return 0;
}
